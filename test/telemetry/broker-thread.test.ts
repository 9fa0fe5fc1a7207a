// The embedded broker on its own thread (telemetry/broker-thread.ts, ARCHITECTURE.md decision 20):
// a started bank's broker runs off the main thread and still routes the bank's telemetry to an
// operator who was added after the start (the thread reads the keystore itself); a thread that
// dies leaves the bank serving, says so once, and the sink drops and counts what it cannot hand over;
// a new thread takes over after a backoff on the same port, with the retained state, reports the
// gap's drops and gets the bank's current retained state again; a port in use still reaches
// the caller as EADDRINUSE; close() is idempotent and frees the port; retained payloads come
// back across the thread boundary as Buffers.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { test } from 'node:test';
import { threadId } from 'node:worker_threads';
import bcrypt from 'bcrypt';
import { startBrokerWorker } from '../../telemetry/broker-thread.js';
import { addOperator, initKeystore, silentObserver, type BankObserver } from '../../bank/index.js';
import { topics } from '../../protocol/telemetry.js';
import { startTestBank, makeTempDir } from '../helpers/bank.js';
import { recordMqtt } from '../helpers/mqtt-recorder.js';
import { waitUntil } from '../helpers/wait.js';

const OPERATOR = { username: 'ops-thread', password: 'operator secret 42' };
const bankCredentials = { username: 'atm-bank-thread', password: 'per-run-secret' };
const hostId = 'thread-host';

test('a bank runs its embedded broker off the main thread, and keeps serving deposits when that thread dies', async (t) => {
  const infoLines: string[] = [];
  const observer: BankObserver = { ...silentObserver, info: (line) => infoLines.push(line) };
  // No restart within this test (the next one restarts): the thread stays dead while it runs.
  const bank = await startTestBank({
    mqtt: { mode: 'embedded', port: 0, restartMsMin: 60_000 },
    observer,
    alertTickMs: 0,
    metricsIntervalMs: 0,
  });
  t.after(() => bank.cleanup());
  const thread = bank.host.telemetry.broker;
  assert.ok(thread !== null && bank.host.telemetry.mqttPort !== null);
  assert.notEqual(thread.threadId, threadId, 'the broker reports a thread other than this (main) one');
  assert.equal(thread.running(), true);

  // Added after the start: the thread's own keystore view must see it.
  addOperator(bank.dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, 4));
  const events = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/events/#', OPERATOR);
  t.after(() => events.client.endAsync(true));
  const connection = await bank.loginAs('thread-user');
  t.after(() => connection.close());
  assert.equal((await connection.request({ op: 'deposit', txnId: 'bt-dep-0001', amountCents: 100 })).ok, true);
  await events.waitFor((m) => m.topic === topics.event('deposit'));

  await thread.terminate(); // as a crash would: no close()
  assert.equal(thread.running(), false);
  await waitUntil(() => !bank.host.telemetry.stats().connected, 'the sink to notice the broker is gone');
  for (let index = 2; index <= 6; index += 1) {
    const reply = await connection.request({ op: 'deposit', txnId: `bt-dep-000${index}`, amountCents: 100 });
    assert.equal(reply.ok, true, JSON.stringify(reply));
  }
  const balance = await connection.request({ op: 'balance' });
  assert.ok(balance.ok && balance.balanceCents === 600);
  const stats = bank.host.telemetry.stats();
  assert.ok(stats.dropped >= 5, `the deposit events are dropped and counted (${JSON.stringify(stats)})`);
  assert.equal(stats.connected, false);
  await waitUntil(() => infoLines.some((line) => line.includes('broker thread stopped')), 'the log line');
  assert.equal(infoLines.filter((line) => line.includes('broker thread stopped')).length, 1);
});

test("a dead broker thread is restarted on the same port after a backoff: retained state kept, the gap's drops reported, telemetry flowing again", async (t) => {
  const dataDir = makeTempDir('atm-broker-thread-');
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  initKeystore(dataDir);
  addOperator(dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, 4));
  const exits: string[] = [];
  let restarts = 0;
  const thread = await startBrokerWorker({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    hostId,
    persistRetained: true,
    restartMsMin: 300,
    onUnexpectedExit: (reason) => exits.push(reason),
    onRestarted: () => (restarts += 1),
  });
  t.after(() => thread.close());
  const url = `mqtt://127.0.0.1:${thread.port}`;
  const before = await recordMqtt(url, 'atm/v1/#', OPERATOR);
  t.after(() => before.client.endAsync(true));
  thread.telemetry.publish('atm/v1/test/retained', { kept: 'across the restart' }, { retain: true });
  await before.waitFor((m) => m.topic === 'atm/v1/test/retained');
  // The broker writes its retained file at most once a second: the restart reads what it flushed.
  await waitUntil(
    () =>
      fs.existsSync(path.join(dataDir, 'mqtt', 'retained.json')) &&
      fs.readFileSync(path.join(dataDir, 'mqtt', 'retained.json'), 'utf8').includes('atm/v1/test/retained'),
    'the retained file',
    5_000,
  );
  const firstThreadId = thread.threadId;

  await thread.terminate(); // as a crash would
  await waitUntil(() => !thread.telemetry.stats().connected, 'the sink to notice the broker is gone');
  for (let index = 1; index <= 3; index += 1) thread.telemetry.publish('atm/v1/events/deposit', { index });
  assert.equal(thread.telemetry.stats().dropped, 3, 'published while no thread runs: dropped and counted');
  assert.equal(exits.length, 1);

  await waitUntil(() => thread.running() && thread.starts() === 2, 'the restart', 10_000);
  assert.equal(restarts, 1);
  assert.notEqual(thread.threadId, firstThreadId, 'a new thread');
  const after = await recordMqtt(url, 'atm/v1/#', OPERATOR); // the same port as before
  t.after(() => after.client.endAsync(true));
  const kept = await after.waitFor((m) => m.topic === 'atm/v1/test/retained');
  assert.deepEqual([kept.retain, (kept.payload as { kept?: string }).kept], [true, 'across the restart']);
  const online = await after.waitFor((m) => m.topic === topics.bankStatus(hostId));
  assert.deepEqual(
    [online.payload.status, online.payload.dropped, online.payload.droppedTotal],
    ['online', 3, 3],
    'the new thread reports the gap',
  );
  thread.telemetry.publish('atm/v1/events/deposit', { index: 4 });
  await after.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.index === 4);
  await waitUntil(
    () => thread.telemetry.stats().connected && thread.telemetry.stats().dropped === 3,
    'the counts continued',
  );

  await thread.close();
  assert.equal(thread.running(), false);
  assert.equal(exits.length, 1, 'a close is not a crash');
});

test('a bank republishes its kiosk statuses into a restarted broker and logs the restart', async (t) => {
  const infoLines: string[] = [];
  const observer: BankObserver = { ...silentObserver, info: (line) => infoLines.push(line) };
  const bank = await startTestBank({
    mqtt: { mode: 'embedded', port: 0, restartMsMin: 200 },
    observer,
    alertTickMs: 0,
    metricsIntervalMs: 0,
  });
  t.after(() => bank.cleanup());
  addOperator(bank.dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, 4));
  const connection = await bank.loginAs('restart-user');
  t.after(() => connection.close());
  const thread = bank.host.telemetry.broker;
  assert.ok(thread !== null);
  await thread.terminate(); // as a crash would
  // What the dead thread had not flushed yet is lost; here, all of it.
  fs.rmSync(path.join(bank.dataDir, 'mqtt', 'retained.json'), { force: true });
  await waitUntil(() => thread.running() && thread.starts() === 2, 'the restart', 10_000);
  const watcher = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/#', OPERATOR);
  t.after(() => watcher.client.endAsync(true));
  await watcher.waitFor((m) => m.topic === topics.kioskStatus(bank.kiosk.kioskId) && m.payload.status === 'online');
  // Republished retained: a dashboard that connects now gets it from the broker.
  const late = await recordMqtt(`mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}`, 'atm/v1/#', OPERATOR);
  t.after(() => late.client.endAsync(true));
  const status = await late.waitFor((m) => m.topic === topics.kioskStatus(bank.kiosk.kioskId));
  assert.deepEqual([status.retain, status.payload.status], [true, 'online']);
  await late.waitFor((m) => m.topic === topics.alertsActive && m.retain);
  assert.ok(
    infoLines.some((line) => line.includes('broker thread restarted')),
    infoLines.join(' | '),
  );
  assert.equal((await connection.request({ op: 'deposit', txnId: 'bt-restart-01', amountCents: 100 })).ok, true);
  await watcher.waitFor((m) => m.topic === topics.event('deposit'));
});

test('a broker thread reports a port in use as EADDRINUSE with the port; close() is idempotent and frees its port', async (t) => {
  const dataDir = makeTempDir('atm-broker-thread-');
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  initKeystore(dataDir);
  const taken = net.createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  const takenPort = (taken.address() as net.AddressInfo).port;
  try {
    await assert.rejects(
      startBrokerWorker({
        host: '127.0.0.1',
        port: takenPort,
        dataDir,
        hostId,
        bankCredentials,
        persistRetained: false,
      }),
      (error: NodeJS.ErrnoException & { port?: number }) => {
        assert.equal(error.code, 'EADDRINUSE');
        assert.equal(error.port, takenPort);
        return true;
      },
    );
  } finally {
    await new Promise<void>((resolve) => taken.close(() => resolve()));
  }

  let unexpected = 0;
  const broker = await startBrokerWorker({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    hostId,
    bankCredentials,
    persistRetained: false,
    onUnexpectedExit: () => (unexpected += 1),
  });
  await Promise.all([broker.close(), broker.close()]);
  await broker.close();
  assert.equal(broker.running(), false);
  assert.equal(unexpected, 0, 'a close is not a crash');
  const again = net.createServer();
  await new Promise<void>((resolve, reject) => again.once('error', reject).listen(broker.port, '127.0.0.1', resolve));
  await new Promise<void>((resolve) => again.close(() => resolve()));
});

test('retained messages loaded by the broker thread come back as Buffers, byte for byte', async (t) => {
  const dataDir = makeTempDir('atm-broker-thread-');
  t.after(() => fs.rmSync(dataDir, { recursive: true, force: true }));
  initKeystore(dataDir);
  const payload = JSON.stringify({ v: 1, text: 'déjà vu ✓' });
  fs.mkdirSync(path.join(dataDir, 'mqtt'));
  fs.writeFileSync(
    path.join(dataDir, 'mqtt', 'retained.json'),
    JSON.stringify({ v: 1, messages: [{ topic: 'atm/v1/test', qos: 0, payload }] }),
  );
  const broker = await startBrokerWorker({
    host: '127.0.0.1',
    port: 0,
    dataDir,
    hostId,
    bankCredentials,
    persistRetained: true,
  });
  await broker.close();
  assert.equal(broker.retainedLoadError, null);
  assert.equal(broker.loaded.length, 1);
  const [message] = broker.loaded;
  assert.ok(message !== undefined && Buffer.isBuffer(message.payload));
  assert.deepEqual(
    { topic: message.topic, qos: message.qos, text: message.payload.toString('utf8') },
    { topic: 'atm/v1/test', qos: 0, text: payload },
  );
});
