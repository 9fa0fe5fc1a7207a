// telemetry/relay-sink.ts: the bank's sink across telemetry-thread restarts.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RelaySink } from '../../telemetry/relay-sink.js';
import type { TelemetryStats } from '../../telemetry/telemetry-outlet.js';
import type { TelemetrySink } from '../../telemetry/telemetry.js';

/** A thread's sink that starts from the counts it is given and counts what it is sent as published. */
function threadSink(countsBefore: {
  published: number;
  dropped: number;
}): TelemetrySink & { sent: string[]; closed: boolean } {
  const sent: string[] = [];
  const sink = {
    sent,
    closed: false,
    publish: (topic: string) => void sent.push(topic),
    stats: (): TelemetryStats => ({
      published: countsBefore.published + sent.length,
      dropped: countsBefore.dropped,
      queued: 0,
      connected: true,
    }),
    close: async () => void (sink.closed = true),
  };
  return sink;
}

test('forwards to the current sink, drops and counts while none runs, and a new sink continues the counts', async () => {
  const relay = new RelaySink();
  const first = threadSink(relay.countsForNext());
  relay.attach(first);
  relay.publish('a', {});
  relay.publish('b', {});
  assert.deepEqual(first.sent, ['a', 'b']);

  relay.detach(); // the thread died
  relay.publish('c', {});
  relay.publish('d', {});
  assert.deepEqual(relay.stats(), { published: 2, dropped: 2, queued: 0, connected: false });

  const counts = relay.countsForNext(); // the new thread starts from these
  assert.deepEqual(counts, { published: 2, dropped: 2 });
  relay.publish('e', {}); // dropped while the new thread starts: still counted here
  const second = threadSink(counts);
  relay.attach(second);
  assert.deepEqual(relay.stats(), { published: 2, dropped: 3, queued: 0, connected: true });
  relay.publish('f', {});
  assert.deepEqual(second.sent, ['f']);

  await relay.close();
  assert.equal(second.closed, true);
  relay.publish('g', {});
  assert.equal(relay.stats().dropped, 4, 'after close: dropped and counted');
});
