// The pieces the serial and firmata links share: user counting with a bounded wait for the
// line, and the reconnect backoff. Time is a manual clock; nothing sleeps.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Backoff, LineUsers, type SerialTimers } from '../../hardware/shared-line.js';

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
