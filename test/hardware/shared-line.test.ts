// The pieces the serial and firmata links share: user counting with a bounded wait for the
// line, the reconnect backoff, the line lifecycle built from them, and the silence watch. Time
// is a manual clock; nothing sleeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff } from '../../protocol/index.js';
import { LineLifecycle, LineUsers, watchSilence, type SerialTimers } from '../../hardware/shared-line.js';

class ManualTimers implements SerialTimers {
  private now = 0;
  private readonly due: { atMs: number; callback: () => void }[] = [];
  nowMs(): number {
    return this.now;
  }
  schedule(delayMs: number, callback: () => void): () => void {
    const entry = { atMs: this.now + delayMs, callback };
    this.due.push(entry);
    return () => {
      const index = this.due.indexOf(entry);
      if (index >= 0) this.due.splice(index, 1);
    };
  }
  advance(ms: number): void {
    this.now += ms;
    for (const entry of this.due.filter((e) => e.atMs <= this.now)) {
      this.due.splice(this.due.indexOf(entry), 1);
      entry.callback();
    }
  }
  get pending(): number {
    return this.due.length;
  }
}

test('the last of several users is the one told to close the line', () => {
  const users = new LineUsers(new ManualTimers(), 1_000);
  void users.add(true);
  void users.add(true);
  assert.equal(users.remove(), false);
  assert.equal(users.remove(), true);
  assert.equal(users.remove(), false, 'a close too many is ignored, not a negative count');
});

test('a user waits for the line to settle, or openWaitMs at most, and its timer is cancelled either way', async () => {
  const timers = new ManualTimers();
  const users = new LineUsers(timers, 1_000);
  let first = false;
  let second = false;
  void users.add(false).then(() => (first = true));
  users.settled();
  await Promise.resolve();
  assert.equal(first, true);
  assert.equal(timers.pending, 0);
  void users.add(false).then(() => (second = true));
  timers.advance(999);
  await Promise.resolve();
  assert.equal(second, false);
  timers.advance(1);
  await Promise.resolve();
  assert.equal(second, true);
});

test('backoff doubles from its minimum to its maximum and starts again after reset', () => {
  const backoff = new Backoff(250, 2_000);
  assert.equal(backoff.first, true);
  assert.deepEqual(
    [1, 2, 3, 4, 5].map(() => backoff.nextDelayMs()),
    [250, 500, 1_000, 2_000, 2_000],
  );
  assert.equal(backoff.first, false);
  for (let index = 0; index < 100; index += 1)
    assert.equal(backoff.nextDelayMs(), 2_000, 'no overflow after many retries');
  backoff.reset();
  assert.equal(backoff.nextDelayMs(), 250);
});

test('the backoff refuses negative or infinite delays (a programmer error); a minimum above the maximum is waited once', () => {
  assert.throws(() => new Backoff(-1, 100), /assertion failed: backoff -1\.\.100 ms/);
  assert.throws(() => new Backoff(100, Number.POSITIVE_INFINITY), /assertion failed/);
  const longFirst = new Backoff(500, 100);
  assert.deepEqual([longFirst.nextDelayMs(), longFirst.nextDelayMs()], [500, 100]);
  const fixed = new Backoff(100, 100);
  assert.deepEqual([fixed.nextDelayMs(), fixed.nextDelayMs()], [100, 100]);
});

test('the lifecycle: the first user connects, a loss retries with backoff and stales the old generation, the last user closes', async () => {
  const timers = new ManualTimers();
  const line = new LineLifecycle<'connecting'>(timers, {
    openWaitMs: 1_000,
    reconnectDelayMsMin: 100,
    reconnectDelayMsMax: 400,
  });
  const announced: boolean[] = [];
  line.onOnline((online) => announced.push(online));
  let connects = 0;
  let generation = 0;
  const connect = (): void => {
    connects += 1;
    generation = line.begin('connecting');
  };
  let firstOpened = false;
  void line.acquire(connect).then(() => (firstOpened = true));
  void line.acquire(connect);
  assert.equal(connects, 1, 'only the first user starts the line');
  assert.equal(line.phase, 'connecting');

  // Two failures before the board answers: 100 ms, then 200 ms; only the first of the run is worth a log line.
  const firstGeneration = generation;
  const failure = line.lost(() => undefined, connect);
  assert.deepEqual(failure, { wasOnline: false, delayMs: 100, firstRetry: true });
  assert.equal(line.isCurrent(firstGeneration), false, 'callbacks of the lost attempt are stale');
  timers.advance(100);
  assert.equal(connects, 2);
  assert.deepEqual(
    line.lost(() => undefined, connect),
    { wasOnline: false, delayMs: 200, firstRetry: false },
  );
  timers.advance(200);
  assert.equal(connects, 3);

  line.cameOnline();
  assert.equal(firstOpened, false, 'open() waiters go when the link has announced, not before');
  line.announceOnline();
  await new Promise(setImmediate); // acquire() is async: its await and then() take a few microtasks
  assert.equal(firstOpened, true);
  assert.deepEqual(announced, [true]);

  // A loss while online: teardown runs before offline is announced; the backoff starts over.
  const order: string[] = [];
  line.onOnline(() => order.push('announced'));
  const lost = line.lost((wasOnline) => order.push(`teardown ${String(wasOnline)}`), connect);
  assert.deepEqual(lost, { wasOnline: true, delayMs: 100, firstRetry: true });
  assert.deepEqual(order, ['teardown true', 'announced']);

  // The last user closes: the pending retry is cancelled, nothing reconnects.
  assert.equal(
    line.release(() => assert.fail('not the last user')),
    false,
  );
  let tornDown = false;
  assert.equal(
    line.release(() => (tornDown = true)),
    true,
  );
  assert.equal(tornDown, true);
  assert.equal(line.phase, 'closed');
  timers.advance(10_000);
  assert.equal(connects, 3, 'a closed line does not retry');
  assert.deepEqual(announced, [true, false], 'offline was announced once, on the loss');
});

test('the silence watch calls onSilent once after silenceMs without a byte, and stops quietly when inactive', () => {
  const timers = new ManualTimers();
  let heardMs = 0;
  let active = true;
  const silent: number[] = [];
  const alive: number[] = [];
  const watch = {
    silenceMs: 1_000,
    checkMs: 250,
    lastHeardMs: () => heardMs,
    active: () => active,
    onSilent: (silentMs: number) => silent.push(silentMs),
    onAlive: (nowMs: number) => alive.push(nowMs),
  };
  watchSilence(timers, watch);
  timers.advance(250);
  heardMs = 250; // a byte arrived
  timers.advance(250);
  timers.advance(250);
  timers.advance(250);
  assert.deepEqual(silent, [], 'heard at 250 ms: not silent before 1250 ms');
  assert.deepEqual(alive, [250, 500, 750, 1_000]);
  timers.advance(250);
  assert.deepEqual(silent, [1_000]);
  timers.advance(5_000);
  assert.equal(silent.length, 1, 'told once');

  const quiet: number[] = [];
  const cancel = watchSilence(timers, { ...watch, onSilent: (ms) => quiet.push(ms) });
  active = false;
  timers.advance(5_000);
  assert.deepEqual(quiet, [], 'an inactive watch ends without a word');
  active = true;
  cancel();
  timers.advance(5_000);
  assert.deepEqual(quiet, []);
});
