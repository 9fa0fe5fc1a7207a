// The operator's model fed by real telemetry: a real bank with its embedded broker serves a
// kiosk's session over loopback, a `#` subscriber records what the bank publishes, and every
// recorded message goes through parseTelemetry and the dashboard's reducer exactly as the MQTT
// feed would send it. What the operator reads is then checked against what really happened.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { addOperator } from '../bank/index.js';
import { eventsPanel, initialState, lineText, reduce, totalsPanel, type DashboardState } from '../operator/index.js';
import { parseTelemetry, topics } from '../protocol/telemetry.js';
import { startTestBank, type TestBank } from './helpers/bank.js';
import { recordMqtt, type Recorder } from './helpers/mqtt-recorder.js';

const OPERATOR = 'ops';
const OPERATOR_PASSWORD = 'operator secret 42';
const CASSETTES = [{ denominationCents: 2_000, count: 50 }];

/** What the dashboard shows after every message recorded so far, in order. */
function dashboardOf(recorder: Recorder): DashboardState {
  let state = initialState('mqtt://127.0.0.1', Date.now());
  state = reduce(state, { type: 'connection', state: 'online', reason: null, atMs: Date.now() });
  for (const received of recorder.received) {
    const message = parseTelemetry(received.topic, received.text);
    assert.ok(message !== null, `the bank's own message parses: ${received.topic} ${received.text}`);
    state = reduce(state, { type: 'telemetry', message, atMs: Date.now() });
  }
  return state;
}

describe('the operator model on a real bank’s telemetry', { concurrency: 1, timeout: 60_000 }, () => {
  let bank: TestBank;
  let recorder: Recorder;

  before(async () => {
    bank = await startTestBank({ mqtt: { mode: 'embedded', port: 0 } });
    addOperator(bank.dataDir, OPERATOR, await bcrypt.hash(OPERATOR_PASSWORD, 4));
    recorder = await recordMqtt(`mqtt://127.0.0.1:${bank.host.mqttPort}`, 'atm/v1/#', { username: OPERATOR, password: OPERATOR_PASSWORD });
  });
  after(async () => {
    await recorder?.client.endAsync(true);
    await bank?.cleanup();
  });

  test('one withdrawal (with the two device reports the kiosk sends around it) and one real decline: device reports are counted apart, never as requests or declines', async () => {
    const connection = await bank.loginAs('walker');
    try {
      assert.ok((await connection.request({ op: 'deposit', txnId: 'op-dep-0001', amountCents: 10_000 })).ok);
      // What the kiosk does around a withdrawal: the dispenser reports busy, then online again.
      assert.ok((await connection.request({ op: 'device.report', keypad: 'online', display: 'online', dispenser: 'deviceBusy', cassettes: CASSETTES })).ok);
      assert.ok((await connection.request({ op: 'withdraw.hold', txnId: 'op-wd-0001', amountCents: 4_000 })).ok);
      assert.ok((await connection.request({ op: 'withdraw.post', txnId: 'op-wd-0001', dispensedCents: 4_000 })).ok);
      assert.ok((await connection.request({ op: 'device.report', keypad: 'online', display: 'online', dispenser: 'online', cassettes: CASSETTES })).ok);
      const declined = await connection.request({ op: 'withdraw.hold', txnId: 'op-wd-0002', amountCents: 9_000 });
      assert.equal(declined.ok, false);
    } finally {
      connection.close();
    }
    await recorder.waitFor((m) => m.topic === topics.event('withdraw.hold') && m.payload.outcome !== 'ok');
    const state = dashboardOf(recorder);
    // register, login, deposit, hold, post, the declined hold.
    assert.equal(state.totals.requests, 6);
    assert.equal(state.totals.declines, 1);
    assert.equal(state.totals.deviceReports, 2);
    assert.equal(state.totals.withdrawalsCount, 1);
    assert.equal(state.totals.withdrawalsCents, 4_000);
    const totals = totalsPanel(state).lines.map(lineText);
    assert.match(totals[0] ?? '', /^requests 6 +declines 1$/);
    assert.ok(totals.some((text) => /device reports 2/.test(text)), totals.join('\n'));
    // The log says what the devices did, in words, and does not tone it as a decline.
    const log = eventsPanel(state, 20).lines;
    const reports = log.filter((shown) => /device report/.test(lineText(shown)));
    assert.equal(reports.length, 2, log.map(lineText).join('\n'));
    assert.match(lineText(reports[0] ?? []), /dispenser busy/);
    assert.ok(reports.every((shown) => shown.every((segment) => segment.tone !== 'decline' && segment.tone !== 'bad')));
  });
});
