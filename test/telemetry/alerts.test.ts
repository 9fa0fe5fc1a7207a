// The alert engine (DESIGN §6 "hysteresis and de-duplication"), driven with injected times:
// no sockets, no timers, no sleeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AlertEngine } from '../../telemetry/alerts.js';
import type { AlertPayload } from '../../protocol/telemetry.js';
import { ACTIVE_ALERTS_MAX, parseTelemetry } from '../../protocol/telemetry.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const ONLINE = { keypad: 'online', display: 'online', dispenser: 'online' } as const;
const FULL = [
  { denominationCents: 2000, count: 500 },
  { denominationCents: 5000, count: 200 },
];

/** Every transition must be a valid atm/v1/alerts payload once the sink adds the envelope. */
function checked(transitions: AlertPayload[]): AlertPayload[] {
  for (const alert of transitions) {
    const body = JSON.stringify({ v: 1, ts: new Date(T0).toISOString(), seq: 1, ...alert });
    assert.notEqual(parseTelemetry('atm/v1/alerts', body), null, `rejected: ${body}`);
  }
  return transitions;
}

test('a kiosk whose link flaps for 5 s raises nothing', () => {
  const engine = new AlertEngine({ kioskOfflineAlertMs: 60_000 });
  const all: AlertPayload[] = [];
  all.push(...engine.sessionOpened('kiosk-01', T0));
  for (let second = 0; second < 10; second += 1) {
    const at = T0 + second * 30_000;
    all.push(
      ...engine.sessionClosed('kiosk-01', at),
      ...engine.tick(at + 2_500),
      ...engine.sessionOpened('kiosk-01', at + 5_000),
      ...engine.tick(at + 6_000),
    );
  }
  assert.deepEqual(all, []);
  assert.deepEqual(engine.active().alerts, []);
});

test('a kiosk offline past the threshold raises exactly one alert, and exactly one clear when it is back', () => {
  const engine = new AlertEngine({ kioskOfflineAlertMs: 60_000 });
  engine.sessionOpened('kiosk-01', T0);
  engine.sessionOpened('kiosk-01', T0 + 10);
  assert.deepEqual(engine.sessionClosed('kiosk-01', T0 + 1_000), []);
  assert.deepEqual(engine.tick(T0 + 200_000), [], 'one of two sessions still open');
  engine.sessionClosed('kiosk-01', T0 + 200_000);
  assert.deepEqual(engine.tick(T0 + 259_999), []);
  const raised = checked(engine.tick(T0 + 260_000));
  assert.equal(raised.length, 1);
  assert.deepEqual(
    { ...raised[0], reason: '' },
    {
      alertId: 'kiosk-offline:kiosk-01',
      kind: 'kiosk-offline',
      state: 'raised',
      severity: 'critical',
      kioskId: 'kiosk-01',
      reason: '',
      count: 1,
      since: new Date(T0 + 200_000).toISOString(),
    },
  );
  for (let minute = 1; minute <= 10; minute += 1) assert.deepEqual(engine.tick(T0 + 260_000 + minute * 60_000), []);
  assert.equal(engine.active().alerts.length, 1);
  const cleared = checked(engine.sessionOpened('kiosk-01', T0 + 900_000));
  assert.deepEqual(
    cleared.map((a) => [a.alertId, a.state, a.since]),
    [['kiosk-offline:kiosk-01', 'cleared', new Date(T0 + 200_000).toISOString()]],
  );
  assert.deepEqual(engine.sessionOpened('kiosk-01', T0 + 900_001), []);
  assert.deepEqual(engine.active().alerts, []);
});

test('a provisioned kiosk that never connects is offline after the threshold; a revoked one is forgotten and its alert cleared', () => {
  const engine = new AlertEngine({ kioskOfflineAlertMs: 30_000 });
  assert.deepEqual(engine.setFleet(['kiosk-01', 'kiosk-02'], T0), []);
  engine.sessionOpened('kiosk-01', T0 + 1_000);
  const raised = engine.tick(T0 + 30_000);
  assert.deepEqual(
    raised.map((a) => a.alertId),
    ['kiosk-offline:kiosk-02'],
  );
  const cleared = engine.setFleet(['kiosk-01'], T0 + 40_000);
  assert.deepEqual(
    cleared.map((a) => [a.alertId, a.state]),
    [['kiosk-offline:kiosk-02', 'cleared']],
  );
  assert.deepEqual(engine.tick(T0 + 500_000), []);
  assert.equal(engine.stats().kiosks, 1);
});

test('repeated MAC failures raise one alert whose count grows, cleared after the quiet period', () => {
  const engine = new AlertEngine({ securityQuietMs: 300_000 });
  const raised = checked(engine.security('kiosk-01', 'BAD_MAC', T0));
  assert.equal(raised.length, 1);
  assert.equal(raised[0]?.alertId, 'security:kiosk-01:BAD_MAC');
  assert.equal(raised[0].severity, 'critical');
  for (let n = 1; n < 7; n += 1) assert.deepEqual(engine.security('kiosk-01', 'BAD_MAC', T0 + n * 10_000), []);
  assert.equal(engine.takeChanged(), true);
  assert.equal(engine.takeChanged(), false);
  assert.equal(engine.active().alerts[0]?.count, 7);
  assert.deepEqual(engine.tick(T0 + 60_000 + 299_999), [], 'quiet period counts from the last repeat');
  const cleared = checked(engine.tick(T0 + 60_000 + 300_000));
  assert.deepEqual(
    cleared.map((a) => [a.alertId, a.state, a.count]),
    [['security:kiosk-01:BAD_MAC', 'cleared', 7]],
  );
  // A new occurrence after the clear is a new condition: raised again.
  assert.equal(engine.security('kiosk-01', 'BAD_MAC', T0 + 1_000_000).length, 1);
});

test('security alerts are per kiosk and reason; an unidentified kiosk is "-"; lockouts are warnings', () => {
  const engine = new AlertEngine();
  const raised = [
    ...engine.security(null, 'HANDSHAKE', T0),
    ...engine.security('kiosk-01', 'REPLAYED_HELLO', T0),
    ...engine.loginLocked('kiosk-01', T0),
    ...engine.security('kiosk-01', 'no such reason!', T0),
  ];
  checked(raised);
  assert.deepEqual(
    raised.map((a) => [a.alertId, a.kioskId, a.severity]),
    [
      ['security:-:HANDSHAKE', null, 'critical'],
      ['security:kiosk-01:REPLAYED_HELLO', 'kiosk-01', 'critical'],
      ['security:kiosk-01:ACCOUNT_LOCKED', 'kiosk-01', 'warning'],
      ['security:kiosk-01:OTHER', 'kiosk-01', 'warning'],
    ],
  );
});

test('the cash-in module and the printer raise device faults like the others; absent or noDevice, nothing', () => {
  const engine = new AlertEngine();
  assert.deepEqual(engine.deviceReport('kiosk-01', { ...ONLINE, cashIn: 'noDevice' }, FULL, T0), []);
  const raised = checked(
    engine.deviceReport('kiosk-01', { ...ONLINE, cashIn: 'hardwareError', printer: 'offline' }, FULL, T0 + 1_000),
  );
  assert.deepEqual(
    raised.map((a) => [a.alertId, a.state, a.reason]),
    [
      ['device-fault:kiosk-01:cashIn', 'raised', 'cashIn hardwareError'],
      ['device-fault:kiosk-01:printer', 'raised', 'printer offline'],
    ],
  );
  assert.deepEqual(
    engine
      .deviceReport('kiosk-01', { ...ONLINE, cashIn: 'deviceBusy', printer: 'online' }, FULL, T0 + 2_000)
      .map((a) => [a.alertId, a.state]),
    [
      ['device-fault:kiosk-01:cashIn', 'cleared'],
      ['device-fault:kiosk-01:printer', 'cleared'],
    ],
  );
});

test('a device fault is raised once per device while it lasts and cleared when the device is online again', () => {
  const engine = new AlertEngine();
  assert.deepEqual(engine.deviceReport('kiosk-01', ONLINE, FULL, T0), []);
  const raised = checked(engine.deviceReport('kiosk-01', { ...ONLINE, dispenser: 'hardwareError' }, FULL, T0 + 1_000));
  assert.deepEqual(
    raised.map((a) => [a.alertId, a.state, a.severity, a.reason]),
    [['device-fault:kiosk-01:dispenser', 'raised', 'critical', 'dispenser hardwareError']],
  );
  assert.deepEqual(engine.deviceReport('kiosk-01', { ...ONLINE, dispenser: 'hardwareError' }, FULL, T0 + 2_000), []);
  assert.deepEqual(
    engine.deviceReport('kiosk-01', { ...ONLINE, dispenser: 'offline' }, FULL, T0 + 3_000),
    [],
    'still the same fault',
  );
  assert.equal(engine.active().alerts[0]?.reason, 'dispenser offline');
  assert.deepEqual(
    engine.deviceReport('kiosk-01', { ...ONLINE, dispenser: 'deviceBusy' }, FULL, T0 + 4_000).map((a) => a.state),
    ['cleared'],
    'busy dispensing is working',
  );
  const keypad = engine.deviceReport('kiosk-01', { ...ONLINE, keypad: 'userError' }, FULL, T0 + 5_000);
  assert.deepEqual(
    keypad.map((a) => [a.alertId, a.severity]),
    [['device-fault:kiosk-01:keypad', 'warning']],
  );
  assert.deepEqual(
    engine.deviceReport('kiosk-01', ONLINE, FULL, T0 + 6_000).map((a) => [a.alertId, a.state]),
    [['device-fault:kiosk-01:keypad', 'cleared']],
  );
});

test('low cash is per cassette: raised below the threshold (critical at 0), cleared when refilled or taken out', () => {
  const engine = new AlertEngine({ lowCashCount: 20 });
  const low = checked(
    engine.deviceReport(
      'kiosk-01',
      ONLINE,
      [
        { denominationCents: 2000, count: 19 },
        { denominationCents: 5000, count: 20 },
      ],
      T0,
    ),
  );
  assert.deepEqual(
    low.map((a) => [a.alertId, a.severity]),
    [['low-cash:kiosk-01:2000', 'warning']],
  );
  const empty = engine.deviceReport(
    'kiosk-01',
    ONLINE,
    [
      { denominationCents: 2000, count: 0 },
      { denominationCents: 5000, count: 20 },
    ],
    T0 + 1_000,
  );
  assert.deepEqual(empty, [], 'one condition, raised once');
  assert.equal(engine.active().alerts[0]?.severity, 'critical');
  const refilled = engine.deviceReport('kiosk-01', ONLINE, FULL, T0 + 2_000);
  assert.deepEqual(
    refilled.map((a) => [a.alertId, a.state]),
    [['low-cash:kiosk-01:2000', 'cleared']],
  );
  engine.deviceReport('kiosk-01', ONLINE, [{ denominationCents: 5000, count: 3 }], T0 + 3_000);
  const removed = engine.deviceReport('kiosk-01', ONLINE, [{ denominationCents: 2000, count: 400 }], T0 + 4_000);
  assert.deepEqual(
    removed.map((a) => [a.alertId, a.state]),
    [['low-cash:kiosk-01:5000', 'cleared']],
  );
});

test('telemetry dropped: raised with the count, counted up, cleared after a quiet period', () => {
  const engine = new AlertEngine({ droppedQuietMs: 60_000 });
  assert.deepEqual(engine.telemetryDropped(0, T0), []);
  const raised = checked(engine.telemetryDropped(12, T0));
  assert.deepEqual(
    raised.map((a) => [a.alertId, a.kind, a.count]),
    [['telemetry-dropped', 'telemetry-dropped', 12]],
  );
  assert.deepEqual(engine.telemetryDropped(12, T0 + 1_000), []);
  assert.deepEqual(engine.telemetryDropped(15, T0 + 10_000), []);
  assert.deepEqual(engine.tick(T0 + 69_999), []);
  assert.deepEqual(
    engine.tick(T0 + 70_000).map((a) => [a.state, a.count]),
    [['cleared', 15]],
  );
});

test('bounded: past conditionsMax a new condition is refused and counted; the snapshot keeps the newest ACTIVE_ALERTS_MAX', () => {
  const engine = new AlertEngine({ conditionsMax: 150 });
  for (let index = 0; index < 200; index += 1) engine.security(`kiosk-${index}`, 'BAD_MAC', T0 + index);
  assert.equal(engine.stats().conditions, 150);
  assert.equal(engine.stats().conditionsRefused, 50);
  const snapshot = engine.active();
  assert.equal(snapshot.alerts.length, ACTIVE_ALERTS_MAX);
  assert.equal(snapshot.alerts[0]?.kioskId, 'kiosk-149', 'newest first');
  const body = JSON.stringify({ v: 1, ts: new Date(T0).toISOString(), seq: 1, ...snapshot });
  assert.notEqual(parseTelemetry('atm/v1/alerts/active', body), null);
  // Clearing frees room for the next condition.
  assert.equal(engine.tick(T0 + 10_000_000).length, 150);
  assert.equal(engine.security('kiosk-200', 'BAD_MAC', T0 + 10_000_001).length, 1);
});
