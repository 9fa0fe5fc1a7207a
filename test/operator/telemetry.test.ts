// The operator's model fed by real telemetry: a real bank with its embedded broker serves a
// kiosk's session over loopback, a `#` subscriber records what the bank publishes, and every
// recorded message goes through parseTelemetry and the dashboard's reducer exactly as the MQTT
// feed would send it. What the operator reads is then checked against what really happened.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { addOperator, revokeKiosk } from '../../bank/index.js';
import {
  eventsPanel,
  initialState,
  kiosksPanel,
  lineText,
  reduce,
  totalsPanel,
  type DashboardState,
} from '../../operator/index.js';
import { parseTelemetry, topics } from '../../protocol/telemetry.js';
import { withdrawAsKiosk } from '../helpers/kiosk-requests.js';
import { startTestBank, type TestBank } from '../helpers/bank.js';
import { recordMqtt, type Recorder } from '../helpers/mqtt-recorder.js';

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
    recorder = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/#', {
      username: OPERATOR,
      password: OPERATOR_PASSWORD,
    });
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await recorder?.client.endAsync(true);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await bank?.cleanup();
  });

  test('one withdrawal (with the two device reports the kiosk sends around it) and one real decline: device reports are counted apart, never as requests or declines', async () => {
    const connection = await bank.loginAs('walker');
    try {
      assert.ok((await connection.request({ op: 'deposit', txnId: 'op-dep-0001', amountCents: 10_000 })).ok);
      // What the kiosk does around a withdrawal: the dispenser reports busy, then online again.
      await withdrawAsKiosk(connection, 'op-wd-0001', 4_000, CASSETTES);
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
    assert.ok(
      totals.some((text) => text.includes('device reports 2')),
      totals.join('\n'),
    );
    // The log says what the devices did, in words, and does not tone it as a decline.
    const log = eventsPanel(state, 20).lines;
    const reports = log.filter((shown) => lineText(shown).includes('device report'));
    assert.equal(reports.length, 2, log.map(lineText).join('\n'));
    assert.match(lineText(reports[0] ?? []), /dispenser busy/);
    assert.ok(reports.every((shown) => shown.every((segment) => segment.tone !== 'decline' && segment.tone !== 'bad')));
  });

  test('a kiosk whose key is revoked leaves the kiosk list, for a dashboard watching and for one that connects later', async () => {
    const kiosk = bank.addKiosk('kiosk-02');
    const connection = await bank.connect({ kioskId: kiosk.kioskId, psk: kiosk.psk });
    await recorder.waitFor((m) => m.topic === topics.kioskStatus('kiosk-02') && m.payload.status === 'online');
    assert.ok(kiosksPanel(dashboardOf(recorder), 10).lines.some((shown) => lineText(shown).startsWith('kiosk-02 ')));
    connection.close();
    const from = recorder.received.length;
    revokeKiosk(bank.dataDir, 'kiosk-02');
    // The bank notices at its next alert tick (it re-reads the keystore when the file changes).
    await recorder.waitFor((m) => m.topic === topics.kioskStatus('kiosk-02') && m.payload.status === 'revoked', from);
    const watching = kiosksPanel(dashboardOf(recorder), 10).lines.map(lineText);
    assert.ok(!watching.some((text) => text.includes('kiosk-02')), watching.join('\n'));
    assert.match(watching.join('\n'), /kiosk-01 /);
    // A dashboard that starts now gets the retained statuses: the revoked kiosk is not among them.
    const late = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/kiosk/+/status', {
      username: OPERATOR,
      password: OPERATOR_PASSWORD,
    });
    try {
      await late.waitFor((m) => m.topic === topics.kioskStatus('kiosk-02'));
      const fresh = kiosksPanel(dashboardOf(late), 10);
      assert.ok(
        !fresh.lines.some((shown) => lineText(shown).includes('kiosk-02')),
        fresh.lines.map(lineText).join('\n'),
      );
      assert.match(fresh.label, /\/1 online/);
    } finally {
      await late.client.endAsync(true);
    }
  });

  test('a kiosk revoked while the bank was down leaves the list once the bank is back', async () => {
    const kiosk = bank.addKiosk('kiosk-03');
    const from = recorder.received.length;
    const connection = await bank.connect({ kioskId: kiosk.kioskId, psk: kiosk.psk });
    await recorder.waitFor((m) => m.topic === topics.kioskStatus('kiosk-03') && m.payload.status === 'online', from);
    connection.close();
    await recorder.waitFor((m) => m.topic === topics.kioskStatus('kiosk-03') && m.payload.status === 'offline', from);
    const mqttPort = bank.host.telemetry.mqttPort;
    await recorder.client.endAsync(true);
    await bank.stop();
    revokeKiosk(bank.dataDir, 'kiosk-03');
    await bank.restart({ mqtt: { mode: 'embedded', port: mqttPort ?? 0 } });
    recorder = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/#', {
      username: OPERATOR,
      password: OPERATOR_PASSWORD,
    });
    await recorder.waitFor((m) => m.topic === topics.kioskStatus('kiosk-03') && m.payload.status === 'revoked');
    const shown = kiosksPanel(dashboardOf(recorder), 10).lines.map(lineText);
    assert.ok(!shown.some((text) => text.includes('kiosk-03')), shown.join('\n'));
    assert.ok(
      shown.some((text) => text.startsWith('kiosk-01 ')),
      shown.join('\n'),
    );
  });
});
