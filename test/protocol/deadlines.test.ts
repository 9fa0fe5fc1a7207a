// The channel's named deadlines on real timers (node's mock timers do not model refresh()):
// re-arming the same deadline postpones it, a different one replaces it, and an expired or
// disarmed deadline is gone. Delays are generous so a loaded machine cannot fake a pass or fail.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Deadlines } from '../../protocol/deadlines.js';
import type { SessionCloseReason } from '../../protocol/index.js';
import { pause, waitUntil } from '../helpers/wait.js';

const DELAY_MS = 400;
const TIMEOUT: SessionCloseReason = 'TIMEOUT';

function deadlines(): { deadlines: Deadlines; expired: string[] } {
  const expired: string[] = [];
  return { deadlines: new Deadlines((reason, detail) => expired.push(`${reason} ${detail}`)), expired };
}

test('re-arming the same deadline postpones it; left alone it expires once, with its reason, and is gone', async (t) => {
  const { deadlines: timers, expired } = deadlines();
  t.after(() => timers.clear());
  const startedMs = performance.now();
  timers.arm('idle', DELAY_MS, TIMEOUT, 'idle');
  // Activity every 50 ms for 2.5 × the delay: without the re-arm it would have expired twice.
  while (performance.now() - startedMs < 2.5 * DELAY_MS) {
    await pause(50);
    timers.arm('idle', DELAY_MS, TIMEOUT, 'idle');
  }
  assert.deepEqual(expired, [], 'kept alive by activity');
  assert.equal(timers.has('idle'), true);
  const quietFromMs = performance.now();
  await waitUntil(() => expired.length > 0, 'the idle deadline to expire', 5_000);
  assert.ok(performance.now() - quietFromMs >= DELAY_MS - 20, 'a full delay after the last activity');
  assert.deepEqual(expired, ['TIMEOUT idle']);
  assert.equal(timers.has('idle'), false, 'an expired deadline is not armed');
});

test('arming with another delay replaces the deadline; disarm and clear stop it', async (t) => {
  const { deadlines: timers, expired } = deadlines();
  t.after(() => timers.clear());
  timers.arm('read', 60_000, TIMEOUT, 'record read deadline');
  timers.arm('read', 50, TIMEOUT, 'record read deadline'); // shorter: a new timer, not the old one refreshed
  timers.arm('idle', 50, TIMEOUT, 'idle');
  timers.disarm('idle');
  await waitUntil(() => expired.length > 0, 'the read deadline to expire', 5_000);
  await pause(200);
  assert.deepEqual(expired, ['TIMEOUT record read deadline'], 'the 50 ms read deadline, and not the disarmed idle one');
  timers.arm('lifetime', 50, 'LIFETIME', 'session lifetime reached');
  timers.clear();
  timers.arm('handshake', 50, TIMEOUT, 'handshake deadline');
  await waitUntil(() => expired.length > 1, 'the handshake deadline to expire', 5_000);
  await pause(200);
  assert.deepEqual(
    expired,
    ['TIMEOUT record read deadline', 'TIMEOUT handshake deadline'],
    'cleared: no lifetime expiry',
  );
});
