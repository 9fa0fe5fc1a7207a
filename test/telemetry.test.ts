// Telemetry (issue 5): the sink's bounded queue and drop counting, the embedded broker's
// authentication and authorisation, and what the bank publishes (never a secret or balance).
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import bcrypt from 'bcrypt';
import { startEmbeddedBroker } from '../bank/broker.js';
import { addOperator } from '../bank/key-store.js';
import { connectMqttAsync, type MqttClientLike } from '../bank/mqtt-client.js';
import { MqttTelemetry } from '../bank/telemetry.js';
import { startTestBank, TEST_PASSWORD, type TestBank } from './helpers/bank.js';

const OPERATOR = 'ops-alice';
const OPERATOR_PASSWORD = 'operator secret 42';
const WAIT_MS = 5_000;

interface Received {
  topic: string;
  text: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

/** An mqtt.js subscriber that records every message and can wait for one matching a predicate. */
async function subscriber(port: number, filter: string, username = OPERATOR, password = OPERATOR_PASSWORD) {
  const client = await connectMqttAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, username, password, reconnectPeriod: 0 });
  const received: Received[] = [];
  const waiters: { match: (m: Received) => boolean; resolve: (m: Received) => void }[] = [];
  client.on('message', (topic, buffer, packet) => {
    const text = buffer.toString('utf8');
    const message = { topic, text, payload: JSON.parse(text) as Record<string, unknown>, retain: packet.retain };
    received.push(message);
    for (const waiter of [...waiters]) {
      if (waiter.match(message)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve(message);
      }
    }
  });
  await client.subscribeAsync(filter, { qos: 0 });
  const waitFor = (match: (m: Received) => boolean): Promise<Received> => {
    const seen = received.find(match);
    if (seen !== undefined) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no matching message on ${filter} within ${WAIT_MS} ms`)), WAIT_MS);
      waiters.push({ match, resolve: (m) => (clearTimeout(timer), resolve(m)) });
    });
  };
  return { client, received, waitFor };
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  await new Promise<void>((resolve) => server.close(() => resolve()));
  assert.ok(typeof address === 'object' && address !== null);
  return address.port;
}

test('the sink queues up to its bound while the broker is down, drops and counts the rest, and reports the count on reconnect', async () => {
  const port = await freePort();
  const bankCredentials = { username: 'atm-bank-test', password: 'per-run-secret' };
  const sink = new MqttTelemetry({ url: `mqtt://127.0.0.1:${port}`, hostId: 'test', ...bankCredentials, queueMessagesMax: 5, reconnectMsMin: 20, reconnectMsMax: 80 });
  for (let index = 0; index < 8; index += 1) sink.publish('atm/v1/events/test', { index });
  assert.deepEqual(sink.stats(), { published: 0, dropped: 3, queued: 5 });
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port, bankCredentials, checkOperator: async (name, password) => name === OPERATOR && password === OPERATOR_PASSWORD });
  const status = await subscriber(port, 'atm/v1/bank/test/status');
  try {
    const online = await status.waitFor((m) => m.payload.status === 'online');
    assert.equal(online.payload.dropped, 3);
    assert.equal(online.payload.v, 1);
    assert.equal(typeof online.payload.seq, 'number');
    assert.equal(sink.stats().queued, 0);
    assert.equal(sink.stats().dropped, 3);
    assert.equal(sink.stats().published >= 6, true); // the status and the five queued messages
  } finally {
    await status.client.endAsync();
    await sink.close();
    await broker.close();
  }
});

describe('a bank with the embedded broker', () => {
  let bank: TestBank;
  let mqttPort: number;
  const opened: MqttClientLike[] = [];
  const watch = async (filter: string, username?: string, password?: string) => {
    const s = await subscriber(mqttPort, filter, username, password);
    opened.push(s.client);
    return s;
  };

  before(async () => {
    bank = await startTestBank({ mqtt: { mode: 'embedded', port: 0 } });
    addOperator(bank.dataDir, OPERATOR, await bcrypt.hash(OPERATOR_PASSWORD, 4));
    assert.ok(bank.host.mqttPort !== null);
    mqttPort = bank.host.mqttPort;
  });
  after(async () => {
    await Promise.all(opened.map((client) => client.endAsync(true)));
    await bank.cleanup();
  });

  test('a deposit becomes an atm/v1/events/deposit message with a masked user and no balance', async () => {
    const events = await watch('atm/v1/events/#');
    const connection = await bank.loginAs('depositor-one');
    await connection.request({ op: 'deposit', txnId: 'tm-dep-0001', amountCents: 2500 });
    const message = await events.waitFor((m) => m.topic === 'atm/v1/events/deposit');
    connection.close();
    assert.equal(message.payload.user, 'de***');
    assert.equal(message.payload.kioskId, bank.kiosk.kioskId);
    assert.equal(message.payload.amountCents, 2500);
    assert.equal(message.payload.outcome, 'ok');
    assert.ok(!Object.keys(message.payload).some((key) => /balance/i.test(key)));
  });

  test('kiosk status is retained: online during a session, offline after it', async () => {
    const connection = await bank.connect();
    const during = await watch(`atm/v1/kiosk/${bank.kiosk.kioskId}/status`);
    await during.waitFor((m) => m.payload.status === 'online');
    connection.close();
    await during.waitFor((m) => m.payload.status === 'offline');
    const late = await watch(`atm/v1/kiosk/${bank.kiosk.kioskId}/status`);
    const retained = await late.waitFor(() => true);
    assert.equal(retained.retain, true);
    assert.equal(retained.payload.status, 'offline');
  });

  test('a subscriber with wrong credentials is refused', async () => {
    await assert.rejects(connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, username: OPERATOR, password: 'wrong', reconnectPeriod: 0 }));
    await assert.rejects(connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, username: 'nobody', password: OPERATOR_PASSWORD, reconnectPeriod: 0 }));
  });

  test('an operator cannot subscribe to $SYS', async () => {
    const client = await connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, { protocolVersion: 4, username: OPERATOR, password: OPERATOR_PASSWORD, reconnectPeriod: 0 });
    opened.push(client);
    await assert.rejects(client.subscribeAsync('$SYS/#'), /Subscribe error/);
    await assert.rejects(client.subscribeAsync('$denied/#'), /Subscribe error/);
    assert.equal(client.connected, true);
  });

  test('an operator cannot publish into atm/v1/#, and is not disconnected for trying', async () => {
    const second = await watch('atm/v1/events/#');
    const forger = await subscriber(mqttPort, 'atm/v1/alerts');
    opened.push(forger.client);
    let reconnects = 0;
    forger.client.on('close', () => (reconnects += 1));
    await forger.client.publishAsync('atm/v1/events/deposit', JSON.stringify({ forged: true }), { qos: 1, retain: true });
    // A real bank event published after the forgery: once it arrives, the forgery would have too.
    const connection = await bank.loginAs('marker-user');
    await connection.request({ op: 'deposit', txnId: 'tm-dep-0002', amountCents: 100 });
    await second.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.user === 'ma***');
    connection.close();
    assert.equal(second.received.some((m) => m.payload.forged === true), false);
    assert.equal(forger.client.connected, true);
    assert.equal(reconnects, 0);
    const late = await watch('atm/v1/events/deposit');
    await late.client.publishAsync('atm/v1/none', '{}', { qos: 1, retain: false }); // a round trip: retained messages precede its ack
    assert.equal(late.received.length, 0);
  });

  test('nothing published during a whole session contains the password, the PSK, the full username or a balance', async () => {
    const everything = await watch('#');
    const username = 'secretive-user-name';
    const connection = await bank.loginAs(username);
    await connection.request({ op: 'deposit', txnId: 'tm-dep-0003', amountCents: 12_345 });
    await connection.request({ op: 'balance' });
    await connection.request({ op: 'withdraw.hold', txnId: 'tm-wd-0001', amountCents: 4_000 });
    await connection.request({ op: 'withdraw.post', txnId: 'tm-wd-0001', dispensedCents: 4_000 });
    await connection.request({ op: 'logout' });
    await everything.waitFor((m) => m.topic === 'atm/v1/events/logout');
    connection.close();
    await everything.waitFor((m) => m.topic.startsWith('atm/v1/kiosk/') && m.payload.status === 'offline' && !m.retain);
    assert.ok(everything.received.some((m) => m.topic === 'atm/v1/events/withdraw.post'));
    const psk = bank.kiosk.psk.toString('hex');
    for (const message of everything.received) {
      for (const secret of [TEST_PASSWORD, psk, username]) assert.ok(!message.text.includes(secret), `${message.topic} leaks a secret`);
      assert.ok(!Object.keys(message.payload).some((key) => /balance/i.test(key)), `${message.topic} has a balance field: ${message.text}`);
      assert.ok(!message.text.includes('8345'), `${message.topic} carries the balance: ${message.text}`);
    }
  });
});
