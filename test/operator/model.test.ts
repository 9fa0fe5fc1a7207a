// The operator dashboard's reducer, panels and wiring without a broker or a terminal: messages go
// in through the ManualFeed (parsed exactly as the MQTT feed parses them), time is a number.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ALERT_KINDS, DEVICE_STATES, DeclineCode, SessionCloseReason } from '../../protocol/index.js';
import {
  ManualFeed,
  alertKindWords,
  alertsPanel,
  barRows,
  cashLevelWords,
  chartPanel,
  currentTps,
  deviceStateWords,
  eventsPanel,
  headerLine,
  initialState,
  kiosksPanel,
  layoutFor,
  lineText,
  outcomeTone,
  outcomeWords,
  reduce,
  runDashboard,
  securityReasonWords,
  sortedAlerts,
  totalsPanel,
  viewKeyOf,
  visibleLog,
  type DashboardInput,
  type DashboardLimits,
  type DashboardState,
  type DashboardView,
  type ViewKey,
} from '../../operator/index.js';
import { repoRoot } from '../helpers/paths.js';

const T0 = Date.parse('2026-11-28T10:00:00.000Z');
const iso = (ms: number): string => new Date(ms).toISOString();

/** A dashboard driven through a ManualFeed, with a clock the test moves. */
function harness(limits: Partial<DashboardLimits> = {}) {
  let nowMs = T0;
  let state = initialState('mqtt://127.0.0.1:1883', nowMs, limits);
  const feed = new ManualFeed(() => nowMs);
  feed.start((input) => (state = reduce(state, input)));
  let seq = 0;
  const envelope = (atMs = nowMs, seqOverride?: number) => ({ v: 1, ts: iso(atMs), seq: seqOverride ?? ++seq });
  return {
    feed,
    get state(): DashboardState {
      return state;
    },
    envelope,
    advance(ms: number): void {
      nowMs += ms;
      state = reduce(state, { type: 'tick', nowMs });
    },
    key(key: Extract<DashboardInput, { type: 'key' }>['key']): void {
      state = reduce(state, { type: 'key', key });
    },
    kiosk(kioskId: string, status: 'online' | 'offline', env = envelope(), extra: object = {}): void {
      feed.message(`atm/v1/kiosk/${kioskId}/status`, {
        ...env,
        kioskId,
        status,
        lastSeen: env.ts,
        devices: { keypad: 'online', display: 'online', dispenser: 'online' },
        cassettes: null,
        cashLevel: 'ok',
        ...extra,
      });
    },
    event(action: string, outcome = 'ok', amountCents: number | null = null): void {
      feed.message(`atm/v1/events/${action}`, {
        ...envelope(),
        kioskId: 'kiosk-01',
        user: 'de***',
        action,
        outcome,
        amountCents,
        latencyMs: 4,
      });
    },
    alert(alertId: string, state: 'raised' | 'cleared', since = iso(T0), env = envelope()): void {
      feed.message('atm/v1/alerts', {
        ...env,
        alertId,
        kind: 'security',
        state,
        severity: 'critical',
        kioskId: 'kiosk-01',
        reason: 'BAD_MAC',
        count: 1,
        since,
      });
    },
    bank(status: 'online' | 'offline', reason?: string): void {
      feed.message('atm/v1/bank/bank-01/status', {
        ...envelope(),
        status,
        ...(reason !== undefined ? { reason } : {}),
      });
    },
    metrics(tps: Record<string, number>, env = envelope()): void {
      feed.message('atm/v1/metrics', {
        ...env,
        intervalMs: 5_000,
        tps,
        requests: 10,
        p50Ms: 3,
        p99Ms: 9,
        sessionsOpen: 1,
        loginsFailed: 0,
        telemetryDropped: 2,
      });
    },
  };
}

describe('operator model', () => {
  test('a stale retained kiosk status that arrives late does not replace the newer one', () => {
    const h = harness();
    h.kiosk('kiosk-01', 'online', h.envelope(T0 + 2_000, 7));
    h.kiosk('kiosk-01', 'offline', h.envelope(T0 + 1_000, 3)); // older ts
    h.kiosk('kiosk-01', 'offline', h.envelope(T0 + 2_000, 6)); // same ts, lower seq
    assert.equal(h.state.kiosks.get('kiosk-01')?.status, 'online');
    assert.equal(h.state.ignored.stale, 2);
    h.kiosk('kiosk-01', 'offline', h.envelope(T0 + 2_000, 8));
    assert.equal(h.state.kiosks.get('kiosk-01')?.status, 'offline');
  });

  test("a kiosk's last-seen time follows the bank's answers to it, not only its status messages", () => {
    const h = harness();
    h.kiosk('kiosk-01', 'online', h.envelope(T0));
    h.advance(30_000);
    h.event('deposit', 'ok', 2_500);
    assert.equal(h.state.kiosks.get('kiosk-01')?.lastSeen, iso(T0 + 30_000));
    h.event('balance');
    h.kiosk('kiosk-01', 'online', h.envelope(T0 + 1_000)); // an older status never moves it back
    assert.equal(h.state.kiosks.get('kiosk-01')?.lastSeen, iso(T0 + 30_000));
  });

  test('a raised alert stays until acknowledged; a cleared one stays, shown as cleared, until acknowledged', () => {
    const h = harness();
    h.feed.connection('online');
    h.alert('security:kiosk-01:BAD_MAC', 'raised');
    h.alert('kiosk-offline:kiosk-02', 'raised');
    h.advance(60_000);
    assert.equal(h.state.alerts.length, 2);
    h.alert('security:kiosk-01:BAD_MAC', 'cleared');
    const cleared = h.state.alerts.find((a) => a.alertId === 'security:kiosk-01:BAD_MAC');
    assert.equal(cleared?.state, 'cleared');
    assert.match(
      lineText(alertsPanel(h.state, 5).lines[1] ?? []),
      /\d\d:\d\d CRIT cleared kiosk-01 tampered record \(security\)$/,
    );
    // ↓ selects the cleared one (raised first in the panel), a acknowledges only it.
    h.key('down');
    h.key('ack');
    assert.deepEqual(
      h.state.alerts.map((a) => a.alertId),
      ['kiosk-offline:kiosk-02'],
    );
    h.key('ackAll');
    assert.equal(h.state.alerts.length, 0);
    assert.equal(h.state.totals.alertsRaised, 2);
    assert.equal(lineText(alertsPanel(h.state, 5).lines[0] ?? []), 'no alerts');
  });

  test('the retained active-alerts snapshot adds what we missed, never what was acknowledged, and clears what it no longer lists', () => {
    const h = harness();
    const since = iso(T0 - 60_000);
    const listed = (alertId: string) => ({
      alertId,
      kind: 'low-cash',
      severity: 'warning',
      kioskId: 'kiosk-01',
      reason: 'cassette 1 low',
      count: 1,
      since,
    });
    h.feed.message('atm/v1/alerts/active', {
      ...h.envelope(),
      alerts: [listed('low-cash:kiosk-01'), listed('low-cash:kiosk-03')],
    });
    assert.equal(h.state.alerts.length, 2);
    h.key('ack'); // the selected (first) one
    const left = h.state.alerts[0]?.alertId;
    h.feed.message('atm/v1/alerts/active', {
      ...h.envelope(),
      alerts: [listed('low-cash:kiosk-01'), listed('low-cash:kiosk-03')],
    });
    assert.equal(h.state.alerts.length, 1, 'an acknowledged occurrence does not come back with the next snapshot');
    h.feed.message('atm/v1/alerts/active', { ...h.envelope(), alerts: [] });
    assert.equal(h.state.alerts[0]?.alertId, left);
    assert.equal(h.state.alerts[0]?.state, 'cleared');
  });

  test('losing the broker connection marks the bank unknown and the kiosks stale; the retained copies restore them on reconnect', () => {
    const h = harness();
    h.feed.connection('online');
    const bankStatus = { ...h.envelope(), status: 'online' };
    h.feed.message('atm/v1/bank/bank-01/status', bankStatus);
    const kioskEnvelope = h.envelope();
    h.kiosk('kiosk-01', 'online', kioskEnvelope);
    assert.match(lineText(headerLine(h.state)), /bank-01 online/);
    h.feed.connection('offline', 'ECONNREFUSED');
    assert.equal(h.state.banks.get('bank-01')?.status, 'unknown');
    assert.equal(h.state.kiosks.get('kiosk-01')?.stale, true);
    assert.match(lineText(headerLine(h.state)), /lost, reconnecting… \(ECONNREFUSED\).*bank-01 unknown/);
    assert.match(lineText(kiosksPanel(h.state, 5).lines[1] ?? []), /kiosk-01 +unknown/);
    assert.match(lineText(eventsPanel(h.state, 5).lines.at(-1) ?? []), /broker connection lost: ECONNREFUSED/);
    // The same broker re-delivers the same retained messages: they are the truth again.
    h.feed.connection('online');
    h.feed.message('atm/v1/bank/bank-01/status', bankStatus);
    h.kiosk('kiosk-01', 'online', kioskEnvelope);
    assert.equal(h.state.banks.get('bank-01')?.status, 'online');
    assert.equal(h.state.kiosks.get('kiosk-01')?.stale, false);
  });

  test('the bank going offline (last will) is shown, and its kiosks become unknown', () => {
    const h = harness();
    h.bank('online');
    h.kiosk('kiosk-01', 'online');
    h.bank('offline', 'lost');
    assert.equal(h.state.banks.get('bank-01')?.status, 'offline');
    assert.equal(h.state.kiosks.get('kiosk-01')?.stale, true);
    assert.match(lineText(eventsPanel(h.state, 5).lines.at(-1) ?? []), /bank bank-01 offline \(connection lost\)/);
  });

  test('the event log keeps the newest eventsMax lines; pause freezes what is shown while lines keep arriving', () => {
    const h = harness({ eventsMax: 5 });
    for (let index = 0; index < 12; index += 1) h.event('deposit', 'ok', 100 + index);
    assert.equal(h.state.log.entries.length, 5);
    assert.match(
      lineText(visibleLog(h.state).at(-1) === undefined ? [] : (eventsPanel(h.state, 5).lines.at(-1) ?? [])),
      /deposit 1\.11 ok/,
    );
    h.key('pause');
    h.event('deposit', 'ok', 999);
    h.event('deposit', 'ok', 998);
    const panel = eventsPanel(h.state, 5);
    assert.match(panel.label, /PAUSED, 2 new/);
    assert.ok(!panel.lines.some((shown) => lineText(shown).includes('9.99')));
    h.key('pause');
    assert.match(lineText(eventsPanel(h.state, 5).lines.at(-1) ?? []), /deposit 9\.98 ok/);
    assert.equal(h.state.totals.depositsCount, 14, 'totals count every event, paused or not, kept or not');
    // PgUp scrolls back (and stays on the same lines as new ones arrive); PgDn returns to the tail.
    h.key('logOlder');
    assert.match(eventsPanel(h.state, 2).label, /4 lines back/);
    h.event('deposit', 'ok', 997);
    assert.match(
      eventsPanel(h.state, 2).label,
      /4 lines back/,
      'at the bound the kept window slides, the offset cannot grow past it',
    );
    h.key('logNewer');
    assert.equal(h.state.log.offset, 0);
  });

  test('tps comes from the metrics messages, and is counted from events when there are none', () => {
    const fromMetrics = harness();
    fromMetrics.metrics({ deposit: 2.5, login: 1.5 });
    assert.equal(fromMetrics.state.rates.source, 'metrics');
    assert.equal(currentTps(fromMetrics.state.rates, fromMetrics.state.nowMs), 4);
    assert.equal(fromMetrics.state.telemetryDropped, 2);
    fromMetrics.metrics({ deposit: 99 }, fromMetrics.envelope(T0 - 10_000)); // late, older
    assert.equal(currentTps(fromMetrics.state.rates, fromMetrics.state.nowMs), 4);
    assert.match(lineText(chartPanel(fromMetrics.state, 30, 5).lines[0] ?? []), /now 4\.0\/s peak 4\.0 p99 9ms/);

    const fromEvents = harness();
    for (let index = 0; index < 3; index += 1) fromEvents.event('deposit', 'ok', 100);
    fromEvents.advance(1_000);
    assert.equal(fromEvents.state.rates.source, 'events');
    assert.equal(currentTps(fromEvents.state.rates, fromEvents.state.nowMs), 3);
    fromEvents.advance(5_000);
    assert.equal(currentTps(fromEvents.state.rates, fromEvents.state.nowMs), 0, 'quiet seconds read as zero');
    fromEvents.advance(10 * 60_000);
    assert.equal(fromEvents.state.rates.samples.length <= 2, true, 'samples older than the window are dropped');
  });

  test('malformed messages are counted and ignored: bad JSON, wrong topic, missing fields, an unmasked user', () => {
    const h = harness();
    h.feed.message('atm/v1/events/deposit', '{not json');
    h.feed.message('atm/v2/metrics', { ...h.envelope() });
    h.feed.message('atm/v1/kiosk/kiosk-01/status', { ...h.envelope(), kioskId: 'kiosk-01', status: 'online' }); // the old shape
    h.feed.message('atm/v1/events/deposit', {
      ...h.envelope(),
      kioskId: 'kiosk-01',
      user: 'dennis',
      action: 'deposit',
      outcome: 'ok',
      amountCents: 1,
      latencyMs: 1,
    });
    h.feed.message('atm/v1/alerts', { ...h.envelope(), type: 'security', reason: 'BAD_MAC', kioskId: null }); // the old shape
    assert.equal(h.state.ignored.malformed, 5);
    assert.equal(h.state.kiosks.size, 0);
    assert.equal(h.state.totals.requests, 0);
    assert.match(lineText(totalsPanel(h.state).lines[4] ?? []), /dropped -  malformed 5/);
  });

  test('totals: requests, declines, deposits and posted withdrawals in cents, failed logins', () => {
    const h = harness();
    h.event('login');
    h.event('login', 'AUTH_FAILED');
    h.event('deposit', 'ok', 2_500);
    h.event('deposit', 'LIMIT_EXCEEDED', 9_999_999);
    h.event('withdraw.hold', 'ok', 5_000);
    h.event('withdraw.post', 'ok', 4_000);
    assert.deepEqual(h.state.totals, {
      requests: 6,
      declines: 2,
      deviceReports: 0,
      depositsCount: 1,
      depositsCents: 2_500,
      withdrawalsCount: 1,
      withdrawalsCents: 4_000,
      loginsFailed: 1,
      alertsRaised: 0,
    });
    assert.deepEqual(totalsPanel(h.state).lines.slice(0, 3).map(lineText), [
      'requests 6   declines 2',
      'deposits 1 = 25.00',
      'withdrawals 1 = 40.00',
    ]);
  });

  test('kiosks, banks and alerts beyond their bound are counted, not kept', () => {
    const h = harness({ kiosksMax: 2, alertsMax: 2 });
    for (const id of ['kiosk-01', 'kiosk-02', 'kiosk-03']) h.kiosk(id, 'online');
    assert.equal(h.state.kiosks.size, 2);
    for (const id of ['a:1', 'a:2', 'a:3']) h.alert(id, 'raised');
    assert.equal(h.state.alerts.length, 2);
    assert.equal(h.state.ignored.overflow, 2);
  });

  test('outcomes are toned: ok green, declines yellow, security and errors red', () => {
    assert.equal(outcomeTone('ok'), 'ok');
    assert.equal(outcomeTone('INSUFFICIENT_FUNDS'), 'decline');
    assert.equal(outcomeTone('AUTH_FAILED'), 'decline');
    assert.equal(outcomeTone('ACCOUNT_LOCKED'), 'bad');
    assert.equal(outcomeTone('INTERNAL'), 'bad');
    assert.equal(outcomeTone('SOMETHING_NEW'), 'bad');
  });
});

describe('operator view text', () => {
  test('before the first connection every panel says it is waiting for the broker, and the log where it is connecting', () => {
    const state = initialState('mqtt://127.0.0.1:1883', T0);
    assert.match(lineText(headerLine(state)), /mqtt:\/\/127\.0\.0\.1:1883 waiting for the broker…/);
    for (const panel of [kiosksPanel(state, 5), alertsPanel(state, 5), chartPanel(state, 30, 5)]) {
      assert.equal(lineText(panel.lines[0] ?? []), 'waiting for the broker…');
    }
    assert.equal(lineText(eventsPanel(state, 5).lines[0] ?? []), 'connecting to the broker at mqtt://127.0.0.1:1883…');
  });

  test('the header keeps the bank status visible at 80 columns, dropping the title, the scheme and the reason first', () => {
    const h = harness();
    h.feed.connection('online');
    h.bank('online');
    h.feed.connection('offline', 'a rather long reason for the connection to have been lost');
    const header = lineText(headerLine(h.state, 80));
    assert.ok(header.length <= 80, header);
    assert.match(header, /^ 127\.0\.0\.1:1883 lost, reconnecting… │ bank-01 unknown │ \d\d:\d\d:\d\d$/);
  });

  test('the 80×24 layout tiles the screen; larger screens give the extra rows to the event log', () => {
    const small = layoutFor(80, 24);
    assert.equal(small.kiosks.width + small.chart.width, 80);
    assert.equal(small.events.top + small.events.height, 23);
    assert.equal(small.help.top, 23);
    const large = layoutFor(160, 50);
    assert.equal(large.events.top + large.events.height, 49);
    assert.ok(large.events.height > small.events.height);
  });

  test('bars grow from the bottom in eighths; the tallest column fills the chart', () => {
    assert.deepEqual(barRows([0, 1, 8], 1), [' ▁█']);
    assert.deepEqual(barRows([0, 1, 2, 4], 2), ['   █', ' ▄██']);
  });

  test('alerts panel lists raised before cleared, critical first', () => {
    const h = harness();
    h.feed.message('atm/v1/alerts', {
      ...h.envelope(),
      alertId: 'low-cash:k1',
      kind: 'low-cash',
      state: 'raised',
      severity: 'warning',
      kioskId: 'k1',
      reason: 'low',
      count: 1,
      since: iso(T0),
    });
    h.alert('security:kiosk-01:BAD_MAC', 'raised');
    h.alert('security:kiosk-01:REPLAY', 'raised');
    h.alert('security:kiosk-01:REPLAY', 'cleared');
    assert.deepEqual(
      sortedAlerts(h.state.alerts).map((a) => a.alertId),
      ['security:kiosk-01:BAD_MAC', 'low-cash:k1', 'security:kiosk-01:REPLAY'],
    );
  });

  test('alerts at 80 columns say what is wrong in words and money, and wrap rather than lose it', () => {
    const h = harness();
    const width = layoutFor(80, 24).alerts.width - 2;
    h.kiosk('kiosk-01', 'online', h.envelope(), {
      cassettes: [{ denominationCents: 2_000, count: 2 }],
      cashLevel: 'low',
    });
    const raise = (
      alertId: string,
      kind: string,
      severity: string,
      kioskId: string | null,
      reason: string,
      count = 1,
    ) =>
      h.feed.message('atm/v1/alerts', {
        ...h.envelope(),
        alertId,
        kind,
        state: 'raised',
        severity,
        kioskId,
        reason,
        count,
        since: iso(T0),
      });
    raise('low-cash:kiosk-01:2000', 'low-cash', 'warning', 'kiosk-01', '2 notes of 2000 cents left (below 20)');
    raise('device-fault:kiosk-01:dispenser', 'device-fault', 'critical', 'kiosk-01', 'dispenser hardwareError');
    raise(
      'security:kiosk-lobby-west-02:REPLAYED_HELLO',
      'security',
      'critical',
      'kiosk-lobby-west-02',
      'REPLAYED_HELLO',
      12,
    );
    raise('kiosk-offline:kiosk-02', 'kiosk-offline', 'critical', 'kiosk-02', 'no session for 60 s or more');
    const shown = alertsPanel(h.state, 10, width).lines.map(lineText);
    const text = shown.join('\n');
    assert.ok(
      shown.every((row) => row.length <= width),
      `every row fits ${width} columns:\n${text}`,
    );
    assert.match(text, /kiosk-01 low cash: 40\.00 left/);
    assert.match(text, /kiosk-01 dispenser hardware fault/);
    assert.match(
      text,
      /kiosk-lobby-west-02 replayed\s+handshake ×12/,
      'a long kiosk id wraps the line instead of cutting the reason',
    );
    assert.match(text, /kiosk-02 offline/);
    assert.doesNotMatch(text, /cents|hardwareError|REPLAYED_HELLO|[a-z]-[a-z]+\)/, 'no cents and no raw names');
    // The selection stays in view when it is the last alert and rows are short.
    for (let i = 0; i < 3; i++) h.key('down');
    const two = alertsPanel(h.state, 2, width).lines.map(lineText);
    assert.match(two.join('\n'), /▶ \d\d:\d\d WARN kiosk-01 low cash: 40\.00 left/);
  });

  test('a kiosk whose devices do not fit its row at 80 columns lists them on the next line, not cut', () => {
    const h = harness();
    const width = layoutFor(80, 24).kiosks.width - 2;
    h.kiosk('kiosk-01', 'online', h.envelope(), {
      devices: { keypad: 'fraudAttempt', display: 'online', dispenser: 'hardwareError' },
    });
    h.kiosk('kiosk-02', 'online');
    h.kiosk('kiosk-03', 'online');
    const shown = kiosksPanel(h.state, 5, width).lines.map(lineText);
    assert.ok(
      shown.every((row) => row.length <= width),
      shown.join('\n'),
    );
    assert.match(shown.join('\n'), /keypad tampering suspected,\s+dispenser\s+hardware fault/);
    assert.equal(shown.length, 5, 'within the rows given');
    assert.match(shown.at(-1) ?? '', /… 2 more/);
  });

  test('an event line too long for the log at 80 columns wraps onto the next line instead of losing its end', () => {
    const h = harness();
    const width = layoutFor(80, 24).events.width - 2;
    h.event('withdraw.hold', 'LIMIT_EXCEEDED', 99_999_999);
    const shown = eventsPanel(h.state, 5, width).lines.map(lineText);
    assert.equal(shown.length, 2, shown.join('\n'));
    assert.ok(shown.every((row) => row.length <= width));
    assert.match(shown.join(' '), /declined: amount exceeds(\s+)the(\s+)limit 4ms$/);
  });

  test('every device state, cash level, alert kind, security reason and decline code is shown in words', () => {
    for (const state of DEVICE_STATES) assert.doesNotMatch(deviceStateWords(state), /[a-z][A-Z]/, state);
    for (const level of ['ok', 'low', 'empty', 'unknown'] as const) assert.ok(cashLevelWords(level).length > 0);
    for (const kind of ALERT_KINDS) assert.doesNotMatch(alertKindWords(kind), /-/, kind);
    for (const code of [...Object.values(SessionCloseReason), 'ACCOUNT_LOCKED', 'KIOSK_REVOKED', 'OTHER'])
      assert.doesNotMatch(securityReasonWords(code), /[A-Z]{2}|[A-Z]_/, code);
    for (const code of Object.values(DeclineCode)) assert.doesNotMatch(outcomeWords(code), /[A-Z]{2}|[A-Z]_/, code);
    const h = harness();
    h.kiosk('kiosk-01', 'online', h.envelope(), {
      devices: { keypad: 'fraudAttempt', display: 'noDevice', dispenser: 'deviceBusy' },
      cashLevel: 'unknown',
    });
    h.event('withdraw.hold', 'LIMIT_EXCEEDED', 99_999_999);
    h.feed.message('atm/v1/events/device.report', {
      ...h.envelope(),
      kioskId: 'kiosk-01',
      user: '-',
      action: 'device.report',
      outcome: 'ok',
      amountCents: null,
      latencyMs: 1,
      devices: { keypad: 'online', display: 'online', dispenser: 'hardwareError' },
    });
    h.alert('security:kiosk-01:BAD_MAC', 'raised');
    const screen = [...kiosksPanel(h.state, 5).lines, ...eventsPanel(h.state, 10).lines].map(lineText).join('\n');
    assert.match(screen, /keypad tampering suspected, display missing, dispenser busy/);
    assert.match(screen, /withdrawal hold 999999\.99 declined: amount exceeds the limit/);
    assert.match(screen, /device report: dispenser hardware fault/);
    assert.match(screen, /ALERT raised CRIT security kiosk-01 tampered record/);
    assert.doesNotMatch(screen, /fraudAttempt|noDevice|deviceBusy|hardwareError|LIMIT_EXCEEDED|BAD_MAC|withdraw\.hold/);
  });

  test('terminal keys map to dashboard keys', () => {
    assert.equal(viewKeyOf('q', { name: 'q' }), 'quit');
    assert.equal(viewKeyOf(undefined, { name: 'c', ctrl: true }), 'quit');
    assert.equal(viewKeyOf('a', { name: 'a' }), 'ack');
    assert.equal(viewKeyOf('A', { name: 'a', shift: true }), 'ackAll');
    assert.equal(viewKeyOf(undefined, { name: 'up' }), 'up');
    assert.equal(viewKeyOf('x', { name: 'x' }), null);
  });
});

describe('operator imports', () => {
  test('operator/ never imports bank/: what it shares with the bank comes through protocol/', () => {
    const dir = path.join(repoRoot, 'operator');
    const offenders = fs
      .readdirSync(dir)
      .filter((name) => name.endsWith('.ts'))
      .flatMap((name) =>
        [...fs.readFileSync(path.join(dir, name), 'utf8').matchAll(/from '(\.\.\/bank\/[^']*)'/g)].map(
          (match) => `${name}: ${match[1]}`,
        ),
      );
    assert.deepEqual(offenders, []);
  });
});

describe('runDashboard wiring', () => {
  class RecordingView implements DashboardView {
    rendered: DashboardState[] = [];
    listener: ((key: ViewKey) => void) | null = null;
    render(state: DashboardState): void {
      this.rendered.push(state);
    }
    onKey(listener: (key: ViewKey) => void): void {
      this.listener = listener;
    }
    destroy(): void {
      // nothing to free
    }
  }

  test('q quits with code 0 and stops the feed', async () => {
    const feed = new ManualFeed();
    const view = new RecordingView();
    const running = runDashboard({ feed, view, brokerUrl: 'mqtt://x' });
    feed.connection('online');
    view.listener?.('quit');
    assert.deepEqual(await running, { code: 0 });
    assert.equal(feed.stopped, true);
    assert.equal(view.rendered.at(-1)?.connection.state, 'online');
  });

  test('a broker that cannot be reached: each new reason is logged once with the URL, and quitting says it was never reached', async () => {
    const feed = new ManualFeed();
    const view = new RecordingView();
    const running = runDashboard({ feed, view, brokerUrl: 'mqtts://broker.example:8883' });
    feed.connection('offline', 'ENOTFOUND');
    feed.connection('connecting', 'ENOTFOUND');
    feed.connection('offline', 'ENOTFOUND');
    feed.connection('offline', 'connack timeout');
    const notes = visibleLog(view.rendered.at(-1) as DashboardState).map((entry) =>
      entry.kind === 'note' ? entry.text : '',
    );
    // Quit first, so that a failed assertion does not leave the dashboard's clock running.
    view.listener?.('quit');
    assert.deepEqual(notes, [
      'cannot reach the broker at mqtts://broker.example:8883: host name not found (ENOTFOUND); retrying',
      'cannot reach the broker at mqtts://broker.example:8883: no answer (connack timeout); retrying',
    ]);
    assert.deepEqual(await running, {
      code: 0,
      message: 'the broker at mqtts://broker.example:8883 was never reached: no answer (connack timeout)',
    });
  });

  test('refused credentials end the dashboard with code 1 and the reason', async () => {
    const feed = new ManualFeed();
    const running = runDashboard({ feed, view: new RecordingView(), brokerUrl: 'mqtt://127.0.0.1:1883' });
    feed.connection('refused', 'bad username or password');
    assert.deepEqual(await running, { code: 1, message: 'refused: bad username or password (mqtt://127.0.0.1:1883)' });
  });
});
