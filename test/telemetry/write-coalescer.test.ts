// telemetry/write-coalescer.ts: a batch of the bank's publishes leaves the embedded broker in one
// write per subscriber instead of one per message. First the mechanism against real
// mqtt-packet encoding delivered the way aedes delivers (a setImmediate per packet), then the
// real embedded broker with a real subscriber over loopback, counting the writes its socket
// to that subscriber makes.
import assert from 'node:assert/strict';
import net from 'node:net';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import mqttPacket from 'mqtt-packet';
import { startEmbeddedBroker } from '../../telemetry/broker.js';
import { WriteCoalescer } from '../../telemetry/write-coalescer.js';
import { recordMqtt } from '../helpers/mqtt-recorder.js';

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/** A stream that counts the writes that reach its destination (what a socket turns into syscalls). */
function countingStream(): { stream: Writable; writes: () => number; bytes: () => number } {
  let writes = 0;
  let bytes = 0;
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      writes += 1;
      bytes += chunk.length;
      done();
    },
    writev(chunks, done) {
      writes += 1;
      for (const { chunk } of chunks) bytes += (chunk as Buffer).length;
      done();
    },
  });
  return { stream, writes: () => writes, bytes: () => bytes };
}

/** What aedes does per delivered QoS 0 packet: a setImmediate, then mqtt-packet's corked write. */
function deliverLikeAedes(stream: Writable, index: number): void {
  setImmediate(() =>
    mqttPacket.writeToStream(
      {
        cmd: 'publish',
        topic: 'atm/v1/events/deposit',
        payload: Buffer.from(`{"index":${index}}`),
        qos: 0,
        retain: false,
        dup: false,
      },
      stream,
    ),
  );
}

test('without the coalescer each delivery is a write of its own; with it the batch is one write, sent by the end of the turn', async () => {
  const plain = countingStream();
  for (let index = 0; index < 30; index += 1) deliverLikeAedes(plain.stream, index);
  await nextTurn();
  await nextTurn();
  assert.equal(plain.writes(), 30, 'the cost the coalescer removes');

  const held = countingStream();
  const coalescer = new WriteCoalescer(() => [held.stream]);
  for (let index = 0; index < 30; index += 1) {
    coalescer.hold();
    deliverLikeAedes(held.stream, index);
  }
  assert.equal(coalescer.holding(), true);
  await nextTurn();
  await nextTurn();
  assert.equal(held.writes(), 1, 'one write for the batch');
  assert.equal(held.bytes(), plain.bytes(), 'the same bytes');
  assert.equal(coalescer.holding(), false, 'nothing is held past the turn');
});

test('a connection closed while held is skipped; one that joined after the cork is never corked', async () => {
  const closing = countingStream();
  const connections: Writable[] = [closing.stream];
  const coalescer = new WriteCoalescer(() => connections);
  coalescer.hold();
  const late = countingStream();
  connections.push(late.stream);
  closing.stream.destroy();
  late.stream.write(Buffer.from('x'));
  await nextTurn();
  assert.equal(late.writes(), 1, 'the late connection wrote at once');
  assert.equal(late.stream.writableCorked, 0);
  await nextTurn();
  assert.equal(coalescer.holding(), false);
  // A second batch corks both again.
  coalescer.hold();
  assert.equal(late.stream.writableCorked, 1);
  await nextTurn();
  await nextTurn();
  assert.equal(late.stream.writableCorked, 0);
});

test('the embedded broker sends a batch of in-process publishes to a subscriber in one or two writes, in order', async (t) => {
  const operator = { username: 'ops-coalesce', password: 'operator secret 44' };
  const broker = await startEmbeddedBroker({
    host: '127.0.0.1',
    port: 0,
    checkOperator: async (name, password) => name === operator.username && password === operator.password,
  });
  t.after(() => broker.close());
  const watcher = await recordMqtt(`mqtt://127.0.0.1:${broker.port}`, 'atm/v1/#', operator);
  t.after(() => watcher.client.endAsync(true));
  const subscriberPort = (watcher.client.stream as net.Socket).localPort;

  // Count the writes of the broker's socket to this subscriber (its remote port is the subscriber's).
  let writes = 0;
  const proto = net.Socket.prototype as unknown as {
    _write: (...args: unknown[]) => void;
    _writev: (...args: unknown[]) => void;
  };
  const { _write: write, _writev: writev } = proto;
  proto._write = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === subscriberPort) writes += 1;
    write.apply(this, args);
  };
  proto._writev = function (this: net.Socket, ...args: unknown[]) {
    if (this.remotePort === subscriberPort) writes += 1;
    writev.apply(this, args);
  };
  t.after(() => Object.assign(proto, { _write: write, _writev: writev }));

  const count = 40;
  for (let index = 0; index < count; index += 1)
    broker.publish(
      { topic: 'atm/v1/events/deposit', payload: Buffer.from(JSON.stringify({ index })), retain: false },
      () => undefined,
    );
  await watcher.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.index === count - 1);
  const indexes = watcher.received.filter((m) => m.topic === 'atm/v1/events/deposit').map((m) => m.payload.index);
  assert.deepEqual(
    indexes,
    Array.from({ length: count }, (_, index) => index),
  );
  assert.ok(writes >= 1 && writes <= 2, `${writes} writes for ${count} messages`);
});
