// Telemetry (issue 5, TOPICS.md): the sink's bounded queue and drop counting, the embedded
// broker's authentication, authorisation, retained persistence and WebSocket listener, TLS to
// an external broker, and what the bank publishes: events, kiosk statuses with devices and
// cash, alerts with hysteresis, metrics. Time-driven alerts run on a FakeClock with explicit
// ticks. One `#` subscriber per broker records the whole file; the last test checks that none
// of it leaks a secret or a balance and that every message passes parseTelemetry.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { Aedes } from 'aedes';
import bcrypt from 'bcrypt';
import { startEmbeddedBroker } from '../../telemetry/broker.js';
import { addOperator, auditKeyRaw, initKeystore, loadKeystore } from '../../bank/key-store.js';
import { connectMqttAsync, type MqttClientLike } from '../../protocol/index.js';
import { RetainedFile } from '../../telemetry/retained-store.js';
import {
  MqttTelemetry,
  TELEMETRY_FLUSH_SLICE_MESSAGES,
  TELEMETRY_QUEUE_MESSAGES_MAX,
  TELEMETRY_SOCKET_BYTES_MAX,
  TELEMETRY_CLOSE_MS_MAX,
} from '../../telemetry/telemetry.js';
import { BankConnection } from '../../protocol/index.js';
import { parseTelemetry, topics } from '../../protocol/telemetry.js';
import { reportDevices } from '../helpers/kiosk-requests.js';
import { startTestBank, TEST_PASSWORD, makeTempDir, type TestBank, type TestKiosk } from '../helpers/bank.js';
import { runAtm, startBankProcess } from '../helpers/cli.js';
import { FakeClock } from '../helpers/clock.js';
import { fieldNames, recordMqtt, type Received, type Recorder } from '../helpers/mqtt-recorder.js';
import { waitUntil, pause } from '../helpers/wait.js';
import { startProxy } from '../helpers/proxy.js';

const OPERATOR = 'ops-alice';
const OPERATOR_PASSWORD = 'operator secret 42';
const OPERATOR_LOGIN = { username: OPERATOR, password: OPERATOR_PASSWORD };

/** Everything any `#` subscriber saw in this file, and what must never appear in it. */
const everything: Received[] = [];
const secrets: string[] = [TEST_PASSWORD, OPERATOR_PASSWORD];
const fullUsernames: string[] = [];
const balancesCents: number[] = [];
const clients: MqttClientLike[] = [];

async function watch(port: number, filters: string | string[], login = OPERATOR_LOGIN): Promise<Recorder> {
  const recorder = await recordMqtt(`mqtt://127.0.0.1:${port}`, filters, login);
  clients.push(recorder.client);
  return recorder;
}

/** A `#` subscriber whose messages all go to the file-wide scan. */
async function watchAll(url: string, login: { username?: string; password?: string }): Promise<Recorder> {
  const recorder = await recordMqtt(url, '#', login);
  clients.push(recorder.client);
  recorder.client.on('message', () => everything.push(recorder.received.at(-1) as Received));
  return recorder;
}

function rememberSecrets(bank: TestBank, kiosks: TestKiosk[]): void {
  const keystore = loadKeystore(bank.dataDir);
  const raw = auditKeyRaw(keystore);
  secrets.push(
    keystore.auditKey,
    raw.toString('hex'),
    raw.toString('base64'),
    ...kiosks.map((k) => k.psk.toString('hex')),
  );
}

async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return address.port;
}

after(async () => {
  await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
});

test('the sink queues up to its bound while the broker is down, drops and counts the rest, and reports the count on reconnect', async () => {
  const port = await freePort();
  const bankCredentials = { username: 'atm-bank-test', password: 'per-run-secret' };
  const sink = new MqttTelemetry({
    url: `mqtt://127.0.0.1:${port}`,
    hostId: 'test',
    ...bankCredentials,
    queueMessagesMax: 5,
    reconnectMsMin: 20,
    reconnectMsMax: 80,
  });
  for (let index = 0; index < 8; index += 1) sink.publish(topics.event('test'), { index });
  assert.deepEqual(sink.stats(), { published: 0, dropped: 3, queued: 5, connected: false });
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port,
    bankCredentials,
    checkOperator: async (name, password) => name === OPERATOR && password === OPERATOR_PASSWORD,
  });
  const status = await watch(port, topics.bankStatus('test'));
  try {
    const online = await status.waitFor((m) => m.payload.status === 'online');
    assert.equal(online.payload.dropped, 3);
    assert.equal(online.payload.v, 1);
    assert.equal(typeof online.payload.seq, 'number');
    assert.equal(sink.stats().queued, 0);
    assert.equal(sink.stats().dropped, 3);
    assert.equal(sink.stats().connected, true);
    assert.equal(sink.stats().published >= 6, true); // the status and the five queued messages
  } finally {
    await sink.close();
    await broker.close();
  }
});

test('a broker that is connected but stops reading: the socket holds at most TELEMETRY_SOCKET_BYTES_MAX, the queue its bound, the rest is dropped and counted; all of it goes once it reads again', async (t) => {
  // A raw TCP "broker": answers CONNECT with CONNACK, then stops reading until told.
  let brokerSocket: net.Socket | null = null;
  let receivedBytes = 0;
  const stalled = net.createServer((socket) => {
    brokerSocket = socket;
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00])); // CONNACK, accepted
      socket.pause();
      socket.on('data', (chunk: Buffer) => (receivedBytes += chunk.length));
    });
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await sink.close();
    brokerSocket?.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });
  const warnings: string[] = [];
  const onWarning = (warning: Error): void => void warnings.push(warning.name);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const sink = new MqttTelemetry({
    url: `mqtt://127.0.0.1:${(stalled.address() as net.AddressInfo).port}`,
    hostId: 'stalled',
    username: 'bank',
    password: 'x',
    reconnectMsMin: 20,
    reconnectMsMax: 40,
  });
  const socketBytes = (): number =>
    (sink as unknown as { client: { stream: net.Socket } }).client.stream.writableLength;
  const deadline = Date.now() + 5_000;
  while (!sink.stats().connected && Date.now() < deadline) await pause(5);
  assert.equal(sink.stats().connected, true);
  const filler = 'x'.repeat(2_000);
  let socketBytesMax = 0;
  let calls = 0;
  // 40 MB: far more than the loopback socket buffers take, so the socket's own buffer fills.
  for (let turn = 0; turn < 100 && sink.stats().dropped === 0; turn += 1) {
    for (let index = 0; index < 200; index += 1, calls += 1)
      sink.publish('atm/v1/test/stalled', { turn, index, filler });
    socketBytesMax = Math.max(socketBytesMax, socketBytes());
    await new Promise((resolve) => setImmediate(resolve));
  }
  const stalledStats = sink.stats();
  assert.ok(stalledStats.dropped > 0, `the bank kept going and dropped (${JSON.stringify(stalledStats)})`);
  // Full but for what the socket's 'drain' events let out between two turns (at most a slice each).
  assert.ok(
    stalledStats.queued >= TELEMETRY_QUEUE_MESSAGES_MAX - 2 * TELEMETRY_FLUSH_SLICE_MESSAGES &&
      stalledStats.queued <= TELEMETRY_QUEUE_MESSAGES_MAX,
    `queued ${stalledStats.queued}`,
  );
  assert.ok(socketBytesMax <= TELEMETRY_SOCKET_BYTES_MAX + 4_096, `the socket held ${socketBytesMax} bytes at most`);
  assert.equal(stalledStats.connected, true, 'a slow broker is not a dead one');

  (brokerSocket as net.Socket | null)?.resume();
  const drained = Date.now() + 10_000;
  while (sink.stats().queued > 0 && Date.now() < drained) await pause(10);
  assert.equal(sink.stats().queued, 0, 'the queue went out once the broker read again');
  // Everything is accounted for: each message (and the online status) published or dropped.
  await waitUntil(() => sink.stats().published + sink.stats().dropped === calls + 1, 'the last writes to be taken');
  assert.ok(receivedBytes > 0);
  assert.deepEqual(
    warnings.filter((name) => name === 'MaxListenersExceededWarning'),
    [],
    'no listener per blocked write',
  );
});

test('close() with a broker that has stopped reading returns within TELEMETRY_CLOSE_MS_MAX (the bank never hangs on shutdown)', async (t) => {
  const sockets: net.Socket[] = [];
  const stalled = net.createServer((socket) => {
    sockets.push(socket);
    socket.once('data', () => {
      socket.write(Buffer.from([0x20, 0x02, 0x00, 0x00]));
      socket.pause();
    });
  });
  await new Promise<void>((resolve) => stalled.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => stalled.close(() => resolve()));
  });
  const sink = new MqttTelemetry({
    url: `mqtt://127.0.0.1:${(stalled.address() as net.AddressInfo).port}`,
    hostId: 'stalled-close',
    username: 'bank',
    password: 'x',
  });
  const deadline = Date.now() + 5_000;
  while (!sink.stats().connected && Date.now() < deadline) await pause(5);
  const filler = 'x'.repeat(2_000);
  // Until the kernel's buffers are full and the socket's own holds its bound (~64 KiB leave per turn).
  const socketBytes = (): number =>
    (sink as unknown as { client: { stream: net.Socket } }).client.stream.writableLength;
  for (let turn = 0; turn < 2_000 && socketBytes() < TELEMETRY_SOCKET_BYTES_MAX; turn += 1) {
    for (let index = 0; index < 50; index += 1) sink.publish('atm/v1/test/stalled', { turn, index, filler });
    await new Promise((resolve) => setImmediate(resolve));
  }
  assert.ok(socketBytes() >= TELEMETRY_SOCKET_BYTES_MAX, `the socket is backed up (${socketBytes()} bytes)`);
  const startedMs = Date.now();
  await sink.close();
  const tookMs = Date.now() - startedMs;
  assert.ok(
    tookMs >= TELEMETRY_CLOSE_MS_MAX - 50 && tookMs < TELEMETRY_CLOSE_MS_MAX + 2_000,
    `close() took ${tookMs} ms`,
  );
});

test('a full queue is sent after reconnect in slices, in order and complete, so requests interleave with the backlog', async () => {
  const port = await freePort();
  const bankCredentials = { username: 'atm-bank-slices', password: 'per-run-secret' };
  const sink = new MqttTelemetry({
    url: `mqtt://127.0.0.1:${port}`,
    hostId: 'slices',
    ...bankCredentials,
    reconnectMsMin: 20,
    reconnectMsMax: 40,
  });
  for (let index = 0; index < TELEMETRY_QUEUE_MESSAGES_MAX; index += 1) sink.publish('atm/v1/test/backlog', { index });
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port,
    bankCredentials,
    checkOperator: async (name, password) => name === OPERATOR && password === OPERATOR_PASSWORD,
  });
  const watcher = await watch(port, 'atm/v1/test/backlog');
  try {
    // Polled once per event-loop turn: in the turn the client connects, one slice has gone out.
    while (!sink.stats().connected) await new Promise((resolve) => setImmediate(resolve));
    const queued = sink.stats().queued;
    assert.ok(
      queued > 0 && queued >= TELEMETRY_QUEUE_MESSAGES_MAX - 2 * TELEMETRY_FLUSH_SLICE_MESSAGES,
      `queued ${queued} in the turn after connecting`,
    );
    await watcher.waitFor((m) => m.payload.index === TELEMETRY_QUEUE_MESSAGES_MAX - 1);
    const indexes = watcher.received.map((m) => m.payload.index as number);
    assert.deepEqual(
      indexes,
      Array.from({ length: TELEMETRY_QUEUE_MESSAGES_MAX }, (_, index) => index),
    );
    assert.equal(sink.stats().dropped, 0);
  } finally {
    await sink.close();
    await broker.close();
  }
});

test('the retained file keeps nothing and writes nothing after close', async () => {
  const dir = makeTempDir('atm-retained-');
  try {
    const file = RetainedFile.load(path.join(dir, 'mqtt', 'retained.json'), { flushMs: 5 });
    file.set('atm/v1/kiosk/kiosk-01/status', Buffer.from('{"status":"online"}'), 0);
    await file.close();
    fs.rmSync(dir, { recursive: true, force: true });
    file.set('atm/v1/bank/b/status', Buffer.from('{"status":"offline"}'), 0);
    await pause(30);
    assert.equal(fs.existsSync(dir), false, 'a late retained message must not recreate a removed data dir');
    assert.deepEqual(
      file.list().map((m) => m.topic),
      ['atm/v1/kiosk/kiosk-01/status'],
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the embedded broker delivers a retained publish followed at once by a plain one to a `#` subscriber, in order', async () => {
  const bankCredentials = { username: 'atm-bank-order', password: 'per-run-secret' };
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    bankCredentials,
    checkOperator: async (name, password) => name === OPERATOR && password === OPERATOR_PASSWORD,
  });
  const sink = new MqttTelemetry({ url: `mqtt://127.0.0.1:${broker.port}`, hostId: 'order', ...bankCredentials });
  const watcher = await watch(broker.port, '#');
  try {
    await watcher.waitFor((m) => m.topic === topics.bankStatus('order'));
    // aedes stores a retained message before delivering it; a plain one overtook it and the
    // subscriber then dropped the retained one as "older" (moscajs/aedes#994).
    for (let index = 0; index < 20; index += 1) {
      sink.publish(`atm/v1/test/retained-${index % 3}`, { index }, { retain: true });
      sink.publish('atm/v1/test/plain', { index });
    }
    await watcher.waitFor((m) => m.topic === 'atm/v1/test/plain' && m.payload.index === 19);
    const order = watcher.received
      .filter((m) => m.topic.startsWith('atm/v1/test/'))
      .map((m) => `${m.topic.endsWith('plain') ? 'p' : 'r'}${m.payload.index as number}`);
    assert.deepEqual(order, Array.from({ length: 20 }, (_, index) => [`r${index}`, `p${index}`]).flat());
  } finally {
    await sink.close();
    await broker.close();
  }
});

describe('a bank with the embedded broker (FakeClock, explicit ticks)', () => {
  const clock = new FakeClock();
  const OFFLINE_ALERT_MS = 10_000;
  let bank: TestBank;
  let mqttPort: number;
  let all: Recorder;

  /** Published after everything before it, by the same client: once it arrives, they have. */
  const barrier = async (): Promise<void> => {
    const from = all.received.length;
    bank.host.telemetry.publishMetrics();
    await all.waitFor((m) => m.topic === topics.metrics, from);
  };
  const alertsOf = (alertId: string, from = 0): Received[] =>
    all.received.slice(from).filter((m) => m.topic === topics.alerts && m.payload.alertId === alertId);
  const statusFrom = (
    kioskId: string,
    from: number,
    match: (p: Record<string, unknown>) => boolean,
  ): Promise<Received> => all.waitFor((m) => m.topic === topics.kioskStatus(kioskId) && match(m.payload), from);

  before(async () => {
    bank = await startTestBank({
      nowMs: clock.nowMs,
      mqtt: { mode: 'embedded', port: 0 },
      alertTickMs: 0,
      metricsIntervalMs: 0,
      kioskOfflineAlertMs: OFFLINE_ALERT_MS,
      securityQuietMs: 60_000,
      lowCashCount: 20,
    });
    addOperator(bank.dataDir, OPERATOR, await bcrypt.hash(OPERATOR_PASSWORD, 4));
    assert.ok(bank.host.telemetry.mqttPort !== null);
    mqttPort = bank.host.telemetry.mqttPort;
    rememberSecrets(bank, [bank.kiosk]);
    all = await watchAll(`mqtt://127.0.0.1:${mqttPort}`, OPERATOR_LOGIN);
  });
  after(async () => {
    await bank.cleanup();
  });

  test('at start the bank publishes an empty retained alert snapshot (replacing any earlier one)', async () => {
    const active = await all.waitFor((m) => m.topic === topics.alertsActive);
    assert.deepEqual(active.payload.alerts, []);
    const late = await watch(mqttPort, topics.alertsActive);
    const retained = await late.waitFor(() => true);
    assert.equal(retained.retain, true);
    assert.equal(retained.text, active.text);
  });

  test('a deposit becomes an atm/v1/events/deposit message with a masked user and no balance', async () => {
    fullUsernames.push('depositor-one');
    const events = await watch(mqttPort, 'atm/v1/events/#');
    const connection = await bank.loginAs('depositor-one');
    await connection.request({ op: 'deposit', txnId: 'tm-dep-0001', amountCents: 2500 });
    const message = await events.waitFor((m) => m.topic === topics.event('deposit'));
    connection.close();
    assert.equal(message.payload.user, 'de***');
    assert.equal(message.payload.kioskId, bank.kiosk.kioskId);
    assert.equal(message.payload.amountCents, 2500);
    assert.equal(message.payload.outcome, 'ok');
    assert.deepEqual(
      fieldNames(message.payload).filter((key) => /balance/i.test(key)),
      [],
    );
  });

  test('kiosk status is retained: online during a session, offline after it, with its last-seen time', async () => {
    const connection = await bank.connect();
    const during = await watch(mqttPort, topics.kioskStatus(bank.kiosk.kioskId));
    // An earlier test's statuses can still be on their way (retained, or its session's close):
    // the barrier makes sure everything published so far has reached `all`, whose last status
    // for this kiosk is then this session's 'online'.
    await barrier();
    const online = all.received.filter((m) => m.topic === topics.kioskStatus(bank.kiosk.kioskId)).at(-1);
    assert.equal(online?.payload.status, 'online');
    const onlineHere = await during.waitFor((m) => m.payload.seq === online.payload.seq);
    connection.close();
    const offline = await during.waitFor(
      (m) => m.payload.status === 'offline',
      during.received.indexOf(onlineHere) + 1,
    );
    assert.equal(offline.payload.lastSeen, new Date(clock.ms).toISOString());
    const late = await watch(mqttPort, topics.kioskStatus(bank.kiosk.kioskId));
    const retained = await late.waitFor((m) => m.retain);
    const seen = JSON.stringify({
      during: during.received.map((m) => [m.payload.status, m.payload.seq, m.retain]),
      late: late.received.map((m) => [m.payload.status, m.payload.seq, m.retain]),
    });
    assert.equal(retained.payload.status, 'offline', seen);
    assert.equal(retained.payload.seq, offline.payload.seq, seen);
  });

  test('a subscriber with wrong credentials is refused; an operator cannot subscribe to $SYS', async () => {
    await assert.rejects(
      connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        protocolVersion: 4,
        username: OPERATOR,
        password: 'wrong',
        reconnectPeriod: 0,
      }),
    );
    await assert.rejects(
      connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, {
        protocolVersion: 4,
        username: 'nobody',
        password: OPERATOR_PASSWORD,
        reconnectPeriod: 0,
      }),
    );
    const client = await connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      protocolVersion: 4,
      ...OPERATOR_LOGIN,
      reconnectPeriod: 0,
    });
    clients.push(client);
    await assert.rejects(client.subscribeAsync('$SYS/#'), /Subscribe error/);
    await assert.rejects(client.subscribeAsync('$denied/#'), /Subscribe error/);
    assert.equal(client.connected, true);
  });

  test('an admin operator (`atm keys add-operator --admin`) reads $SYS, and still cannot publish', async () => {
    const admin = { username: 'ops-admin', password: 'admin secret 4242' };
    addOperator(bank.dataDir, admin.username, await bcrypt.hash(admin.password, 4), Date.now(), { admin: true });
    const sys = await recordMqtt(`mqtt://127.0.0.1:${mqttPort}`, '$SYS/#', admin);
    clients.push(sys.client);
    // aedes announces every new client on $SYS/<broker id>/new/clients.
    const newcomer = await connectMqttAsync(`mqtt://127.0.0.1:${mqttPort}`, {
      protocolVersion: 4,
      ...OPERATOR_LOGIN,
      clientId: 'sys-newcomer',
      reconnectPeriod: 0,
    });
    clients.push(newcomer);
    const announced = await sys.waitFor(
      (m) => m.topic.startsWith('$SYS/') && m.topic.endsWith('/new/clients') && m.text === 'sys-newcomer',
    );
    assert.ok(announced);
    const from = all.received.length;
    await sys.client.publishAsync(topics.alerts, JSON.stringify({ forged: true }), { qos: 1, retain: false });
    await barrier();
    assert.deepEqual(
      all.received.slice(from).filter((m) => m.text.includes('forged')),
      [],
    );
    assert.equal(sys.client.connected, true);
  });

  test('an operator cannot publish into atm/v1/#, and is not disconnected for trying', async () => {
    const forger = await watch(mqttPort, topics.alerts);
    let reconnects = 0;
    forger.client.on('close', () => (reconnects += 1));
    await forger.client.publishAsync(topics.event('deposit'), JSON.stringify({ forged: true }), {
      qos: 1,
      retain: true,
    });
    await barrier();
    assert.equal(
      all.received.some((m) => m.payload.forged === true),
      false,
    );
    assert.equal(forger.client.connected, true);
    assert.equal(reconnects, 0);
    const late = await watch(mqttPort, topics.event('deposit'));
    await late.client.publishAsync('atm/v1/none', '{}', { qos: 1, retain: false }); // a round trip: retained messages precede its ack
    assert.equal(late.received.length, 0);
  });

  test('a device report reaches the retained kiosk status (devices, cassettes, cash level) and raises then clears device-fault and low-cash', async () => {
    const kioskId = bank.kiosk.kioskId;
    const from = all.received.length;
    const connection = await bank.connect();
    const cassettes = [
      { denominationCents: 2000, count: 5 },
      { denominationCents: 5000, count: 300 },
    ];
    assert.ok(await reportDevices(connection, { dispenser: 'hardwareError' }, cassettes));
    const faulty = await statusFrom(
      kioskId,
      from,
      (p) => p.devices !== null && (p.devices as Record<string, unknown>).dispenser === 'hardwareError',
    );
    assert.equal(faulty.retain, false);
    assert.deepEqual(faulty.payload.cassettes, cassettes);
    assert.equal(faulty.payload.cashLevel, 'low');
    assert.equal(faulty.payload.status, 'online');
    const fault = await all.waitFor(
      (m) => m.topic === topics.alerts && m.payload.alertId === `device-fault:${kioskId}:dispenser`,
      from,
    );
    assert.deepEqual(
      [fault.payload.state, fault.payload.kind, fault.payload.severity, fault.payload.kioskId],
      ['raised', 'device-fault', 'critical', kioskId],
    );
    await all.waitFor(
      (m) => m.topic === topics.alertsActive && JSON.stringify(m.payload.alerts).includes(`low-cash:${kioskId}:2000`),
      from,
    );

    // The same report again changes nothing an operator sees: no status, no alert.
    const repeatFrom = all.received.length;
    await reportDevices(connection, { dispenser: 'hardwareError' }, cassettes);
    await barrier();
    assert.deepEqual(
      all.received
        .slice(repeatFrom)
        .filter((m) => m.topic !== topics.metrics)
        .map((m) => m.topic),
      [],
    );

    const refilled = [
      { denominationCents: 2000, count: 400 },
      { denominationCents: 5000, count: 300 },
    ];
    const fixedFrom = all.received.length;
    await reportDevices(connection, { dispenser: 'online' }, refilled);
    const fixed = await statusFrom(kioskId, fixedFrom, (p) => p.cashLevel === 'ok');
    assert.deepEqual(fixed.payload.devices, { keypad: 'online', display: 'online', dispenser: 'online' });
    await all.waitFor(
      (m) =>
        m.topic === topics.alerts && m.payload.alertId === `low-cash:${kioskId}:2000` && m.payload.state === 'cleared',
      fixedFrom,
    );
    await all.waitFor(
      (m) =>
        m.topic === topics.alerts &&
        m.payload.alertId === `device-fault:${kioskId}:dispenser` &&
        m.payload.state === 'cleared',
      fixedFrom,
    );
    connection.close();
    await barrier();
    assert.equal(alertsOf(`device-fault:${kioskId}:dispenser`, from).length, 2, 'one raise, one clear');
    assert.equal(alertsOf(`low-cash:${kioskId}:2000`, from).length, 2, 'one raise, one clear');
  });

  test('a kiosk whose link flaps raises nothing; offline past the threshold raises exactly one alert, and its return exactly one clear', async () => {
    const flapper = bank.addKiosk('kiosk-flap');
    rememberSecrets(bank, [flapper]);
    const alertId = 'kiosk-offline:kiosk-flap';
    const from = all.received.length;
    bank.host.telemetry.tick(); // picks up the new kiosk from the keystore: its offline clock starts now
    const session = async (): Promise<BankConnection> => {
      const mark = all.received.length;
      const connection = await bank.connect({ kioskId: flapper.kioskId, psk: flapper.psk });
      await statusFrom('kiosk-flap', mark, (p) => p.status === 'online');
      return connection;
    };
    const end = async (connection: BankConnection): Promise<void> => {
      const mark = all.received.length;
      connection.close();
      await statusFrom('kiosk-flap', mark, (p) => p.status === 'offline');
    };

    // Flapping: down for 5 s at a time, three times.
    let connection = await session();
    for (let flap = 0; flap < 3; flap += 1) {
      await end(connection);
      clock.advance(5_000);
      bank.host.telemetry.tick();
      connection = await session();
      bank.host.telemetry.tick();
    }
    await barrier();
    assert.deepEqual(alertsOf(alertId, from), [], 'a flapping link raises nothing');

    // Down past the threshold, with ticks all along: one raise.
    await end(connection);
    for (let second = 1; second <= 15; second += 1) {
      clock.advance(1_000);
      bank.host.telemetry.tick();
    }
    await barrier();
    const raised = alertsOf(alertId, from);
    assert.equal(raised.length, 1);
    assert.deepEqual(
      [raised[0]?.payload.state, raised[0]?.payload.kind, raised[0]?.payload.severity],
      ['raised', 'kiosk-offline', 'critical'],
    );
    const snapshot = all.received.filter((m) => m.topic === topics.alertsActive).at(-1);
    assert.ok(JSON.stringify(snapshot?.payload.alerts).includes(alertId));

    // Back: one clear, with the raise's alertId and since.
    connection = await session();
    bank.host.telemetry.tick();
    await end(connection);
    bank.host.telemetry.tick();
    await barrier();
    const both = alertsOf(alertId, from);
    assert.deepEqual(
      both.map((m) => m.payload.state),
      ['raised', 'cleared'],
    );
    assert.equal(both[1]?.payload.since, both[0]?.payload.since);
  });

  test('metrics: after deposits, the interval carries tps for deposit, request counts and latency percentiles', async () => {
    const closing = all.received.length;
    bank.host.telemetry.publishMetrics(); // closes the interval so far
    // Its message must have arrived before `from` is taken: telemetry crosses threads in batches.
    await all.waitFor((m) => m.topic === topics.metrics, closing);
    fullUsernames.push('metrics-user');
    const connection = await bank.loginAs('metrics-user');
    for (let index = 0; index < 10; index += 1)
      await connection.request({
        op: 'deposit',
        txnId: `tm-met-${String(index).padStart(4, '0')}`,
        amountCents: 100 + index,
      });
    const from = all.received.length;
    clock.advance(5_000);
    bank.host.telemetry.publishMetrics();
    const metrics = await all.waitFor((m) => m.topic === topics.metrics, from);
    connection.close();
    assert.equal(metrics.payload.intervalMs, 5_000);
    assert.deepEqual(metrics.payload.tps, { register: 0.2, login: 0.2, deposit: 2 });
    assert.equal(metrics.payload.requests, 12);
    assert.equal(typeof metrics.payload.p50Ms, 'number');
    assert.equal(typeof metrics.payload.p99Ms, 'number');
    assert.ok((metrics.payload.sessionsOpen as number) >= 1);
    assert.equal(metrics.payload.loginsFailed, 0);
    assert.equal(metrics.retain, false);
  });

  test('records with a bad MAC (tampered by a proxy) raise one security alert; the repeat only counts up', async () => {
    const kioskId = bank.kiosk.kioskId;
    const alertId = `security:${kioskId}:BAD_MAC`;
    const from = all.received.length;
    // Frames to the bank: m1, m3, then the first request record, whose last (tag) byte is flipped.
    const proxy = await startProxy(bank.host.port, (frame) => {
      if (frame.direction !== 'toBank' || frame.index !== 2) return [frame.bytes];
      const bytes = Buffer.from(frame.bytes);
      bytes[bytes.length - 1] = (bytes[bytes.length - 1] as number) ^ 0x01;
      return [bytes];
    });
    try {
      for (let attempt = 0; attempt < 2; attempt += 1) {
        const connection = await BankConnection.connect({
          host: '127.0.0.1',
          port: proxy.port,
          kioskId,
          psk: bank.kiosk.psk,
          nowMs: clock.nowMs,
          requestTimeoutMs: 5_000,
        });
        await assert.rejects(connection.request({ op: 'ping' }));
        await proxy.links.at(-1)?.bankClosed;
      }
    } finally {
      await proxy.close();
    }
    await all.waitFor((m) => m.topic === topics.alerts && m.payload.alertId === alertId, from);
    bank.host.telemetry.tick(); // the count reaches the snapshot at the next tick
    const countOf = (m: Received): unknown =>
      (m.payload.alerts as Record<string, unknown>[]).find((alert) => alert.alertId === alertId)?.count;
    const snapshot = await all.waitFor((m) => m.topic === topics.alertsActive && countOf(m) === 2, from);
    await barrier();
    const raised = alertsOf(alertId, from);
    assert.equal(raised.length, 1);
    assert.deepEqual(
      [raised[0]?.payload.state, raised[0]?.payload.severity, raised[0]?.payload.reason, raised[0]?.payload.count],
      ['raised', 'critical', 'BAD_MAC', 1],
    );
    assert.equal(snapshot.retain, false, 'a live subscriber sees the snapshot as published');

    // Quiet for the quiet period: one clear, carrying the final count.
    clock.advance(60_000);
    bank.host.telemetry.tick();
    const cleared = await all.waitFor(
      (m) => m.topic === topics.alerts && m.payload.alertId === alertId && m.payload.state === 'cleared',
      from,
    );
    assert.equal(cleared.payload.count, 2);
  });

  test('five wrong passwords lock the account: one ACCOUNT_LOCKED security alert, and the failed logins in metrics', async () => {
    fullUsernames.push('locked-out-user');
    const from = all.received.length;
    const setup = await bank.loginAs('locked-out-user');
    setup.close();
    bank.host.telemetry.publishMetrics();
    const connection = await bank.connect();
    for (let attempt = 0; attempt < 6; attempt += 1)
      await connection.request({ op: 'login', username: 'locked-out-user', password: 'wrong password!' });
    connection.close();
    const alertId = `security:${bank.kiosk.kioskId}:ACCOUNT_LOCKED`;
    await all.waitFor((m) => m.topic === topics.alerts && m.payload.alertId === alertId, from);
    clock.advance(1_000);
    const metricsFrom = all.received.length;
    bank.host.telemetry.publishMetrics();
    const metrics = await all.waitFor((m) => m.topic === topics.metrics, metricsFrom);
    assert.equal(metrics.payload.loginsFailed, 6);
    assert.equal(alertsOf(alertId, from).length, 1, 'the lockout and the try on the locked account: one alert');
  });

  test('nothing published in a whole session contains the password, the PSK, the full username or a balance', async () => {
    const username = 'secretive-user-name';
    fullUsernames.push(username);
    const from = all.received.length;
    const connection = await bank.loginAs(username);
    await connection.request({ op: 'deposit', txnId: 'tm-dep-0003', amountCents: 12_345 });
    const balance = await connection.request({ op: 'balance' });
    assert.ok(balance.ok && balance.balanceCents === 12_345);
    await connection.request({ op: 'withdraw.hold', txnId: 'tm-wd-0001', amountCents: 4_000 });
    const posted = await connection.request({ op: 'withdraw.post', txnId: 'tm-wd-0001', dispensedCents: 4_000 });
    assert.ok(posted.ok && posted.balanceCents === 8_345);
    balancesCents.push(8_345);
    await connection.request({ op: 'logout' });
    await all.waitFor((m) => m.topic === topics.event('logout'), from);
    connection.close();
    await statusFrom(bank.kiosk.kioskId, from, (p) => p.status === 'offline');
    assert.ok(all.received.slice(from).some((m) => m.topic === topics.event('withdraw.post')));
  });
});

describe('retained messages survive a restart of the embedded broker; MQTT over WebSocket', () => {
  let bank: TestBank;

  before(async () => {
    bank = await startTestBank({
      mqtt: { mode: 'embedded', port: 0, wsPort: 0 },
      alertTickMs: 0,
      metricsIntervalMs: 0,
    });
    addOperator(bank.dataDir, OPERATOR, await bcrypt.hash(OPERATOR_PASSWORD, 4));
    rememberSecrets(bank, [bank.kiosk]);
  });
  after(async () => {
    await bank.cleanup();
  });

  test('a kiosk status published before a restart reaches a new subscriber after it, over TCP and over ws://', async () => {
    const kioskId = bank.kiosk.kioskId;
    const first = await watchAll(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, OPERATOR_LOGIN);
    const connection = await bank.connect();
    const cassettes = [{ denominationCents: 2000, count: 0 }];
    await reportDevices(connection, { display: 'noDevice', dispenser: 'online' }, cassettes);
    connection.close();
    const published = await first.waitFor(
      (m) => m.topic === topics.kioskStatus(kioskId) && m.payload.status === 'offline',
    );
    assert.equal(published.payload.cashLevel, 'empty');

    await bank.restart();
    assert.ok(bank.host.telemetry.mqttPort !== null && bank.host.telemetry.mqttWsPort !== null);
    assert.ok(fs.existsSync(path.join(bank.dataDir, 'mqtt', 'retained.json')));
    const overTcp = await watchAll(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, OPERATOR_LOGIN);
    const restored = await overTcp.waitFor((m) => m.topic === topics.kioskStatus(kioskId));
    assert.equal(restored.retain, true);
    assert.equal(restored.text, published.text, 'the very message of the first run, not a new one');

    const overWs = await recordMqtt(`ws://127.0.0.1:${bank.host.telemetry.mqttWsPort}`, 'atm/v1/#', OPERATOR_LOGIN);
    clients.push(overWs.client);
    const viaWs = await overWs.waitFor((m) => m.topic === topics.kioskStatus(kioskId));
    assert.equal(viaWs.text, published.text);
    const bankStatus = await overWs.waitFor((m) => m.topic.startsWith('atm/v1/bank/') && m.payload.status === 'online');
    assert.equal(bankStatus.retain, true);
    await assert.rejects(
      connectMqttAsync(`ws://127.0.0.1:${bank.host.telemetry.mqttWsPort}`, {
        protocolVersion: 4,
        username: OPERATOR,
        password: 'wrong',
        reconnectPeriod: 0,
      }),
    );
    // The first run's device alerts are gone with it; the new snapshot says so.
    await overTcp.waitFor(
      (m) => m.topic === topics.alertsActive && Array.isArray(m.payload.alerts) && m.payload.alerts.length === 0,
    );
  });

  test('a kiosk the last run left "online" (a crash) is republished offline at start, keeping its last-seen time, devices and cash', async () => {
    const kioskId = bank.kiosk.kioskId;
    await bank.stop();
    const file = path.join(bank.dataDir, 'mqtt', 'retained.json');
    const stored = JSON.parse(fs.readFileSync(file, 'utf8')) as {
      v: 1;
      messages: { topic: string; qos: number; payload: string }[];
    };
    const entry = stored.messages.find((message) => message.topic === topics.kioskStatus(kioskId));
    assert.ok(entry !== undefined);
    const before = JSON.parse(entry.payload) as Record<string, unknown>;
    entry.payload = JSON.stringify({ ...before, status: 'online' });
    fs.writeFileSync(file, JSON.stringify(stored));
    await bank.restart();
    const watcher = await watchAll(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, OPERATOR_LOGIN);
    const offline = await watcher.waitFor(
      (m) => m.topic === topics.kioskStatus(kioskId) && m.payload.status === 'offline',
    );
    assert.deepEqual({ ...offline.payload, v: 0, ts: '', seq: 0 }, { ...before, v: 0, ts: '', seq: 0 });
  });
});

describe('an external broker over TLS (mqtts://, the broker certificate verified against --mqtt-ca)', () => {
  let dir: string;
  let cert: Buffer;
  let broker: Aedes;
  let server: tls.Server;
  let port: number;

  before(async () => {
    dir = makeTempDir('atm-tls-');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-keyout',
        path.join(dir, 'key.pem'),
        '-out',
        path.join(dir, 'cert.pem'),
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    cert = fs.readFileSync(path.join(dir, 'cert.pem'));
    broker = await Aedes.createBroker();
    server = tls.createServer({ key: fs.readFileSync(path.join(dir, 'key.pem')), cert }, (socket) =>
      broker.handle(socket),
    );
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as net.AddressInfo).port;
  });
  after(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('with the CA the sink connects and publishes; without it the broker certificate is refused', async () => {
    const refused = new Promise<void>((resolve) => server.once('tlsClientError', () => resolve()));
    const untrusting = new MqttTelemetry({
      url: `mqtts://127.0.0.1:${port}`,
      hostId: 'tls-untrusting',
      reconnectMsMin: 60_000,
    });
    await refused;
    assert.equal(untrusting.stats().connected, false);
    await untrusting.close();

    const online = new Promise<string>((resolve) =>
      broker.on(
        'publish',
        (packet) => packet.topic === topics.bankStatus('tls-bank') && resolve(packet.payload.toString()),
      ),
    );
    const sink = new MqttTelemetry({ url: `mqtts://127.0.0.1:${port}`, hostId: 'tls-bank', tls: { ca: cert } });
    try {
      const payload = await online;
      assert.notEqual(parseTelemetry(topics.bankStatus('tls-bank'), payload), null);
      assert.equal((JSON.parse(payload) as { status: string }).status, 'online');
    } finally {
      await sink.close();
    }
  });
});

describe('atm bank and the telemetry broker port (real processes)', () => {
  test('tests get a free broker port; a taken one makes `atm bank` exit 1 with one line naming the fixes', async (t) => {
    const root = makeTempDir('atm-cli-mqtt-');
    // `atm bank` never creates a keystore; each bank folder is set up as `atm keys init` would.
    for (const name of ['one', 'two']) initKeystore(path.join(root, name));
    const running = await startBankProcess(path.join(root, 'one'));
    // One hook, in this order: after hooks run in the order added, and removing the folder of a
    // bank that is still writing to it fails (ENOTEMPTY) and would leave the bank running.
    t.after(async () => {
      await running.kill();
      fs.rmSync(root, { recursive: true, force: true });
    });
    assert.ok(running.mqttPort !== null && running.mqttPort > 0);
    const taken = await runAtm([
      'bank',
      '--data',
      path.join(root, 'two'),
      '--port',
      '0',
      '--bcrypt-cost',
      '4',
      '--mqtt-port',
      String(running.mqttPort),
    ]);
    assert.equal(taken.code, 1, taken.stderr);
    assert.equal(taken.stdout.includes('listening on'), false, 'it refuses before serving kiosks');
    const lines = taken.stderr.trim().split('\n');
    assert.equal(lines.length, 1, taken.stderr);
    assert.match(
      lines[0] as string,
      new RegExp(
        `127\\.0\\.0\\.1:${running.mqttPort} is in use: .*--mqtt mqtt://127\\.0\\.0\\.1:${running.mqttPort}.*--mqtt-port N.*--no-mqtt`,
      ),
    );
    const misuse = await runAtm(['bank', '--data', path.join(root, 'three'), '--mqtt-ca', 'ca.pem']);
    assert.equal(misuse.code, 2);
    assert.match(misuse.stderr, /--mqtt-ca goes with --mqtt URL/);
  });
});

test('across this whole file: every message passes parseTelemetry and none carries a secret, a full username or a balance', () => {
  assert.ok(everything.length > 50, `only ${everything.length} messages recorded`);
  const topicsSeen = new Set(everything.map((m) => parseTelemetry(m.topic, m.text)?.topic));
  for (const kind of ['bank-status', 'kiosk-status', 'event', 'metrics', 'alert', 'alerts-active'])
    assert.ok(topicsSeen.has(kind as never), `no ${kind} message seen`);
  for (const message of everything) {
    assert.notEqual(
      parseTelemetry(message.topic, message.text),
      null,
      `rejected by parseTelemetry: ${message.topic} ${message.text}`,
    );
    for (const secret of [...secrets, ...fullUsernames])
      assert.ok(!message.text.includes(secret), `${message.topic} leaks ${secret.slice(0, 4)}…: ${message.text}`);
    assert.deepEqual(
      fieldNames(message.payload).filter((key) => /balance/i.test(key)),
      [],
      `${message.topic} has a balance field: ${message.text}`,
    );
    for (const balance of balancesCents)
      assert.ok(!message.text.includes(String(balance)), `${message.topic} carries a balance: ${message.text}`);
  }
});
