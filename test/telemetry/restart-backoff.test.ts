// telemetry/restart-backoff.ts: the wait before a crashed telemetry thread starts again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RestartBackoff } from '../../telemetry/restart-backoff.js';

test('doubles from min to max while threads die young, and starts from min again after a stable run', () => {
  const backoff = new RestartBackoff(1_000, 30_000, 60_000);
  assert.deepEqual(
    [5, 5, 5, 5, 5, 5, 5].map((ranMs) => backoff.delayMs(ranMs)),
    [1_000, 2_000, 4_000, 8_000, 16_000, 30_000, 30_000],
  );
  assert.equal(backoff.delayMs(59_999), 30_000, 'not yet stable');
  assert.equal(backoff.delayMs(60_000), 1_000, 'a thread that ran a minute resets it');
  assert.equal(backoff.delayMs(0), 2_000, 'a failed start (ran 0 ms) keeps doubling');
});
