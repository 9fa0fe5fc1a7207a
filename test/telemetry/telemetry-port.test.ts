// The telemetry hand-over between the bank's transaction thread and the telemetry thread
// (telemetry/telemetry-port.ts, telemetry-outlet.ts, broker-telemetry.ts; ARCHITECTURE.md
// decision 22): the envelope spliced from a string is the one JSON.stringify makes; a
// PortTelemetry over a real MessageChannel delivers in order with the bank's timestamps, in
// one postMessage per event-loop turn, drops and counts past its in-flight bound and once the
// other side is gone, and its close() flushes, waits for the outlet's close and never hangs;
// BrokerTelemetry publishes into a real embedded broker in order (retained before plain), with
// its online status first and its offline status on close, and bounds what waits behind a
// retained publish.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MessageChannel } from 'node:worker_threads';
import { startEmbeddedBroker, type LocalPacket } from '../../telemetry/broker.js';
import { BrokerTelemetry } from '../../telemetry/broker-telemetry.js';
import { Envelope, type TelemetryOutlet, type TelemetryStats } from '../../telemetry/telemetry-outlet.js';
import { PortTelemetry, serveTelemetryPort, TELEMETRY_STATS_REPORT_MS } from '../../telemetry/telemetry-port.js';
import { startTelemetryThread } from '../../telemetry/telemetry-thread.js';
import { topics } from '../../protocol/telemetry.js';
import { recordMqtt } from '../helpers/mqtt-recorder.js';
import { waitUntil, pause } from '../helpers/wait.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** An outlet that records what it is sent; close() resolves when the test says so. */
class RecordingOutlet implements TelemetryOutlet {
  readonly sent: { topic: string; payloadJson: string; tsMs: number; retain: boolean }[] = [];
  closeCalls = 0;
  sentAtClose = -1;
  private finishClose: (() => void) | null = null;
  readonly closeHeld: boolean;

  constructor(options: { holdClose?: boolean } = {}) {
    this.closeHeld = options.holdClose === true;
  }

  send(topic: string, payloadJson: string, tsMs: number, retain: boolean): void {
    this.sent.push({ topic, payloadJson, tsMs, retain });
  }

  stats(): TelemetryStats {
    return { published: this.sent.length, dropped: 0, queued: 0, connected: true };
  }

  close(): Promise<void> {
    this.closeCalls += 1;
    this.sentAtClose = this.sent.length;
    if (!this.closeHeld) return Promise.resolve();
    return new Promise((resolve) => (this.finishClose = resolve));
  }

  releaseClose(): void {
    this.finishClose?.();
  }
}

test('the envelope spliced into the payload string is the one JSON.stringify makes, with seq counting per envelope', () => {
  const envelope = new Envelope();
  const tsMs = Date.UTC(2026, 10, 28, 15, 30, 0, 123);
  const payloads: object[] = [
    { kioskId: 'k-01', amountCents: 100, user: 'al***', outcome: 'ok' },
    {},
    { nested: { list: [1, 'two', null], quote: 'a "quoted" \\ string' }, unicode: 'café ✓' },
  ];
  for (const [index, payload] of payloads.entries()) {
    const wrapped = envelope.wrap(JSON.stringify(payload), tsMs);
    assert.equal(wrapped, JSON.stringify({ v: 1, ts: new Date(tsMs).toISOString(), seq: index + 1, ...payload }));
  }
  assert.equal(
    envelope.wrapObject({ status: 'online' }, tsMs),
    JSON.stringify({ v: 1, ts: new Date(tsMs).toISOString(), seq: 4, status: 'online' }),
  );
  for (const notAnObject of ['[1,2]', '"text"', '42', 'null', '']) {
    assert.throws(() => envelope.wrap(notAnObject, tsMs), TypeError, notAnObject);
  }
  assert.equal(
    (JSON.parse(envelope.wrap('{"a":1}', tsMs)) as { seq: number }).seq,
    5,
    'a refused payload takes no sequence number',
  );
});

test('a PortTelemetry hands every message over in order with the bank-side timestamp, the messages of a hand-over interval in one postMessage', async (t) => {
  const { port1, port2 } = new MessageChannel();
  const outlet = new RecordingOutlet();
  let batches = 0;
  port2.on('message', (request: { type: string }) => {
    if (request.type === 'batch') batches += 1;
  });
  serveTelemetryPort(port2, outlet, 5);
  let nowMs = 1_000;
  const sink = new PortTelemetry(port1, { nowMs: () => nowMs, handoverMs: 50 });
  t.after(() => sink.close());

  for (let index = 0; index < 50; index += 1) {
    nowMs += 1;
    sink.publish(`atm/v1/test/${index % 2 === 0 ? 'even' : 'odd'}`, { index }, { retain: index === 7 });
  }
  await nextTurn();
  for (let index = 50; index < 60; index += 1) sink.publish('atm/v1/test/second', { index });
  await waitUntil(() => outlet.sent.length === 60, 'all 60 messages at the outlet');
  assert.equal(batches, 1, 'two turns within one interval, one batch');
  assert.deepEqual(
    outlet.sent.map((m) => (JSON.parse(m.payloadJson) as { index: number }).index),
    Array.from({ length: 60 }, (_, index) => index),
  );
  assert.equal(outlet.sent[0]?.tsMs, 1_001);
  assert.equal(outlet.sent[49]?.tsMs, 1_050);
  assert.deepEqual(
    outlet.sent.filter((m) => m.retain).map((m) => m.topic),
    ['atm/v1/test/odd'],
  );
  await waitUntil(() => sink.stats().published === 60 && sink.stats().queued === 0, 'the stats report');
  assert.deepEqual(sink.stats(), { published: 60, dropped: 0, queued: 0, connected: true });
  sink.publish('atm/v1/test/later', { index: 60 });
  await waitUntil(() => outlet.sent.length === 61, 'a message of a later interval');
  assert.equal(batches, 2);
});

test('a full batch goes at once, without waiting for its interval; close() sends the rest', async () => {
  const { port1, port2 } = new MessageChannel();
  const outlet = new RecordingOutlet();
  const batchSizes: number[] = [];
  port2.on('message', (request: { type: string; count?: number }) => {
    if (request.type === 'batch') batchSizes.push(request.count ?? -1);
  });
  serveTelemetryPort(port2, outlet, 5);
  const sink = new PortTelemetry(port1, { handoverMs: 60_000, batchMessagesMax: 16 });
  for (let index = 0; index < 40; index += 1)
    sink.publish('atm/v1/test/full', { index, text: 'with \u0000 and "quotes"' });
  await waitUntil(() => outlet.sent.length === 32, 'two full batches');
  assert.deepEqual(batchSizes, [16, 16]);
  assert.equal(sink.stats().queued >= 8, true, 'the other 8 wait for their interval');
  await sink.close();
  assert.deepEqual(batchSizes, [16, 16, 8]);
  assert.deepEqual(
    outlet.sent.map((m) => JSON.parse(m.payloadJson) as unknown),
    Array.from({ length: 40 }, (_, index) => ({ index, text: 'with \u0000 and "quotes"' })),
    'a NUL inside a payload survives the NUL-separated batch (JSON escapes it)',
  );
});

test('past its in-flight bound a PortTelemetry drops and counts; a payload JSON cannot hold is dropped, not thrown', async (t) => {
  const { port1, port2 } = new MessageChannel();
  t.after(() => port2.close());
  // Nobody serves port2: what is handed over is never taken, as with a stuck telemetry thread.
  const sink = new PortTelemetry(port1, { inFlightMessagesMax: 10 });
  for (let index = 0; index < 25; index += 1) sink.publish('atm/v1/test/stuck', { index });
  assert.deepEqual(sink.stats(), { published: 0, dropped: 15, queued: 10, connected: false });
  await nextTurn();
  sink.publish('atm/v1/test/stuck', { index: 25 });
  assert.equal(sink.stats().dropped, 16, 'handed over and not taken still counts against the bound');
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  assert.doesNotThrow(() => sink.publish('atm/v1/test/cyclic', cyclic));
  assert.doesNotThrow(() => sink.publish('atm/v1/test/bigint', { value: 1n }));
  assert.equal(sink.stats().dropped, 18);
  // close() with nobody to answer gives up after its bound; the test does not wait for it.
  port2.close();
  await sink.close();
});

test('once the other side is gone, publish drops and counts, and close() returns at once', async () => {
  const { port1, port2 } = new MessageChannel();
  const outlet = new RecordingOutlet();
  serveTelemetryPort(port2, outlet, 5);
  const sink = new PortTelemetry(port1);
  sink.publish('atm/v1/test/before', { index: 0 });
  await waitUntil(() => outlet.sent.length === 1 && sink.stats().connected, 'the first message and a stats report');
  port2.close(); // as when the telemetry thread dies
  await waitUntil(() => !sink.stats().connected, 'the sink to see the port close');
  for (let index = 1; index <= 5; index += 1) sink.publish('atm/v1/test/after', { index });
  assert.equal(sink.stats().dropped, 5);
  assert.equal(outlet.sent.length, 1);
  const startedMs = Date.now();
  await sink.close();
  assert.ok(Date.now() - startedMs < 1_000, 'close() does not wait for a side that is gone');
  assert.equal(outlet.closeCalls, 0);
});

test("close() sends what this turn published, then waits for the outlet's close (its offline status), once however often called", async () => {
  const { port1, port2 } = new MessageChannel();
  const outlet = new RecordingOutlet({ holdClose: true });
  serveTelemetryPort(port2, outlet, TELEMETRY_STATS_REPORT_MS);
  const sink = new PortTelemetry(port1);
  for (let index = 0; index < 5; index += 1) sink.publish('atm/v1/test/last', { index });
  let closed = false;
  const closing = Promise.all([sink.close(), sink.close()]).then(() => (closed = true));
  await waitUntil(() => outlet.closeCalls === 1, "the outlet's close");
  assert.equal(outlet.sentAtClose, 5, 'the outlet got every message before its close');
  await pause(2 * TELEMETRY_STATS_REPORT_MS);
  assert.equal(closed, false, 'close() waits while the outlet is still closing');
  outlet.releaseClose();
  await closing;
  assert.equal(outlet.closeCalls, 1);
  sink.publish('atm/v1/test/too-late', { index: 5 });
  assert.equal(outlet.sent.length, 5);
  assert.equal(sink.stats().dropped, 1, 'a publish after close is dropped and counted');
});

test('BrokerTelemetry publishes into the embedded broker in order: online status first, retained before plain, offline status on close', async (t) => {
  const operator = { username: 'ops-port', password: 'operator secret 42' };
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    checkOperator: async (name, password) => name === operator.username && password === operator.password,
  });
  t.after(() => broker.close());
  const watcher = await recordMqtt(`mqtt://127.0.0.1:${broker.port}`, '#', operator);
  t.after(() => watcher.client.endAsync(true));
  const outlet = new BrokerTelemetry(broker, { hostId: 'port-host', nowMs: () => Date.UTC(2026, 10, 28) });
  const online = await watcher.waitFor((m) => m.topic === topics.bankStatus('port-host'));
  assert.equal(online.payload.status, 'online');
  assert.equal(online.payload.ts, '2026-11-28T00:00:00.000Z');

  const tsMs = Date.UTC(2026, 10, 28, 12);
  for (let index = 0; index < 20; index += 1) {
    outlet.send(`atm/v1/test/retained-${index % 3}`, JSON.stringify({ index }), tsMs, true);
    outlet.send('atm/v1/test/plain', JSON.stringify({ index }), tsMs, false);
  }
  await watcher.waitFor((m) => m.topic === 'atm/v1/test/plain' && m.payload.index === 19);
  const order = watcher.received
    .filter((m) => m.topic.startsWith('atm/v1/test/'))
    .map((m) => `${m.topic.endsWith('plain') ? 'p' : 'r'}${m.payload.index as number}`);
  assert.deepEqual(order, Array.from({ length: 20 }, (_, index) => [`r${index}`, `p${index}`]).flat());
  const seqs = watcher.received.filter((m) => m.topic.startsWith('atm/v1/')).map((m) => m.payload.seq);
  assert.deepEqual(
    seqs,
    Array.from({ length: 41 }, (_, index) => index + 1),
    'one sequence per outlet, status included',
  );
  assert.ok(
    watcher.received
      .filter((m) => m.topic.startsWith('atm/v1/test/'))
      .every((m) => m.payload.ts === '2026-11-28T12:00:00.000Z'),
  );

  await outlet.close();
  const offline = await watcher.waitFor(
    (m) => m.topic === topics.bankStatus('port-host') && m.payload.status === 'offline',
  );
  assert.equal(offline.payload.reason, 'shutdown');
  outlet.send('atm/v1/test/plain', JSON.stringify({ index: 20 }), tsMs, false);
  assert.deepEqual(outlet.stats(), { published: 42, dropped: 1, queued: 0, connected: false });
  await outlet.close(); // a second close is a no-op

  // Retained across a new subscription: the last status is the offline one.
  const late = await recordMqtt(`mqtt://127.0.0.1:${broker.port}`, topics.bankStatus('port-host'), operator);
  t.after(() => late.client.endAsync(true));
  const retained = await late.waitFor(() => true);
  assert.equal(retained.retain, true);
  assert.equal(retained.payload.status, 'offline');
});

test('behind a retained publish the broker has not finished, BrokerTelemetry holds at most its bound, drops the rest, and goes on when it finishes', () => {
  const published: LocalPacket[] = [];
  const pending: ((error?: Error) => void)[] = [];
  const broker = {
    publish(packet: LocalPacket, done: (error?: Error) => void): void {
      published.push(packet);
      if (packet.retain) pending.push(done);
      else done();
    },
  };
  const outlet = new BrokerTelemetry(broker, { hostId: 'held', queueMessagesMax: 3, retainedStallMs: 60_000 });
  assert.equal(published.length, 1, 'the retained online status is in the broker');
  for (let index = 0; index < 5; index += 1) outlet.send('atm/v1/test/plain', JSON.stringify({ index }), 0, false);
  assert.equal(published.length, 1, 'plain messages wait behind the retained one');
  assert.deepEqual(
    outlet.stats(),
    { published: 0, dropped: 2, queued: 3, connected: true },
    'published counts what the broker has finished',
  );
  pending.shift()?.();
  assert.deepEqual(
    published.slice(1).map((p) => (JSON.parse(p.payload.toString('utf8')) as { index: number }).index),
    [0, 1, 2],
  );
  assert.deepEqual(outlet.stats(), { published: 4, dropped: 2, queued: 0, connected: true });
  // A publish the broker fails is dropped, not published.
  const failing = new BrokerTelemetry(
    { publish: (_packet, done) => done(new Error('broker closed')) },
    { hostId: 'failing' },
  );
  failing.send('atm/v1/test/plain', '{}', 0, false);
  assert.deepEqual(failing.stats(), { published: 0, dropped: 2, queued: 0, connected: true });
});

test('a retained publish the broker never finishes holds the rest for retainedStallMs only', async () => {
  const published: LocalPacket[] = [];
  const outlet = new BrokerTelemetry(
    {
      publish(packet, done) {
        published.push(packet);
        if (!packet.retain) done();
      },
    },
    { hostId: 'stalled', retainedStallMs: 20 },
  );
  outlet.send('atm/v1/test/plain', '{"index":0}', 0, false);
  assert.equal(published.length, 1);
  await waitUntil(() => published.length === 2, 'the stall cap to release the queue');
  assert.equal(outlet.stats().queued, 0);
});

test('a telemetry thread that dies is restarted after a backoff; its drops are counted meanwhile and reported by the new client', async (t) => {
  const operator = { username: 'ops-restart', password: 'operator secret 43' };
  const bankLogin = { username: 'atm-bank-restart', password: 'per-run-secret' };
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    bankCredentials: bankLogin,
    checkOperator: async (name, password) => name === operator.username && password === operator.password,
  });
  t.after(() => broker.close());
  const watcher = await recordMqtt(`mqtt://127.0.0.1:${broker.port}`, 'atm/v1/#', operator);
  t.after(() => watcher.client.endAsync(true));
  const exits: string[] = [];
  const thread = startTelemetryThread({
    url: `mqtt://127.0.0.1:${broker.port}`,
    hostId: 'restart',
    ...bankLogin,
    restartMsMin: 200,
    onUnexpectedExit: (reason) => exits.push(reason),
  });
  t.after(() => thread.close());
  await waitUntil(() => thread.stats().connected, 'the first thread to connect');
  thread.publish('atm/v1/events/deposit', { index: 1 });
  await watcher.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.index === 1);

  await thread.terminate(); // as a crash would
  await waitUntil(() => exits.length === 1, 'the exit report');
  for (let index = 2; index <= 4; index += 1) thread.publish('atm/v1/events/deposit', { index });
  assert.equal(thread.stats().dropped, 3, 'published while no thread runs: dropped and counted');
  assert.equal(thread.stats().connected, false);

  await waitUntil(() => thread.starts() === 2 && thread.stats().connected, 'the restarted thread to connect');
  const online = await watcher.waitFor(
    (m) => m.topic === topics.bankStatus('restart') && m.payload.status === 'online' && m.payload.dropped === 3,
  );
  assert.equal(online.payload.droppedTotal, 3);
  thread.publish('atm/v1/events/deposit', { index: 5 });
  await watcher.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.index === 5);
  assert.deepEqual(exits.length, 1);
  // Counts continue across threads: 2 (status, event 1) + 2 (status, event 5), once reported.
  await waitUntil(
    () => thread.stats().queued === 0 && thread.stats().published >= 4,
    `counts to continue across threads (${JSON.stringify(thread.stats())})`,
  );
  assert.equal(thread.stats().dropped, 3);
});
