// The bank's side of a revoked kiosk (TOPICS.md, kiosk status `revoked`): the telemetry
// observer with a recording sink, no broker. Revoking publishes the kiosk's last status as
// `revoked` (retained) so dashboards drop it; what the revoked kiosk still does puts nothing
// back; provisioning it again lists it again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TelemetryObserver } from '../../telemetry/telemetry-observer.js';
import type { TelemetrySink } from '../../telemetry/telemetry.js';
import type { KioskStatus } from '../../protocol/telemetry.js';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');

function observed(): { observer: TelemetryObserver; statuses: () => [string, string][] } {
  const published: { topic: string; payload: Record<string, unknown>; retain: boolean }[] = [];
  const sink: TelemetrySink = {
    publish: (topic, payload, options) =>
      void published.push({ topic, payload: payload as Record<string, unknown>, retain: options?.retain === true }),
    close: async () => undefined,
    stats: () => ({ published: published.length, dropped: 0, queued: 0, connected: true }),
  };
  const observer = new TelemetryObserver({ sink, nowMs: () => T0 });
  const statuses = (): [string, string][] => {
    const taken = published.splice(0).filter((m) => /\/kiosk\/[^/]+\/status$/.test(m.topic));
    assert.ok(
      taken.every((m) => m.retain),
      'kiosk statuses are retained',
    );
    return taken.map((m) => [String(m.payload.kioskId), String(m.payload.status)]);
  };
  return { observer, statuses };
}

const retained = (kioskId: string, status: KioskStatus['status']): KioskStatus => ({
  kioskId,
  status,
  lastSeen: new Date(T0 - 60_000).toISOString(),
  devices: null,
  cassettes: null,
  cashLevel: 'unknown',
});

test('at start: a kiosk revoked while the bank was down is published revoked; one provisioned again is published offline', () => {
  const { observer, statuses } = observed();
  observer.start(
    ['kiosk-01', 'kiosk-05'],
    [
      retained('kiosk-01', 'offline'),
      retained('kiosk-03', 'offline'),
      retained('kiosk-04', 'revoked'),
      retained('kiosk-05', 'revoked'),
    ],
  );
  assert.deepEqual(statuses(), [
    ['kiosk-03', 'revoked'],
    ['kiosk-05', 'offline'],
  ]);
});

test('revoked while running: published revoked once; its last session closing or reporting puts nothing back; provisioned again it is offline', () => {
  const { observer, statuses } = observed();
  observer.start(['kiosk-01', 'kiosk-02'], []);
  observer.session({ kioskId: 'kiosk-02', remote: 'r', state: 'open' });
  assert.deepEqual(statuses(), [['kiosk-02', 'online']]);
  observer.setFleet(['kiosk-01']);
  assert.deepEqual(statuses(), [['kiosk-02', 'revoked']]);
  observer.action({
    kioskId: 'kiosk-02',
    remote: 'r',
    action: 'balance',
    outcome: 'KIOSK_REVOKED',
    username: null,
    latencyMs: 1,
  });
  observer.device({
    kioskId: 'kiosk-02',
    remote: 'r',
    keypad: 'online',
    display: 'online',
    dispenser: 'online',
    cassettes: [],
  });
  observer.session({ kioskId: 'kiosk-02', remote: 'r', state: 'closed', wasOpen: true });
  observer.setFleet(['kiosk-01']);
  observer.republishRetained();
  assert.deepEqual(statuses(), []);
  observer.setFleet(['kiosk-01', 'kiosk-02']);
  assert.deepEqual(statuses(), [['kiosk-02', 'offline']]);
});
