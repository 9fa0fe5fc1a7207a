// Faults of the world and hostile load, short forms (RELIABILITY.md has the long figures):
// a really full disk under a real bank, and slowloris plus a garbage-handshake flood while
// honest kiosks transact. Nothing here asserts a speed: latency figures are the torture run's.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runDiskFull } from './disk-full.js';
import { runSlowloris } from './slowloris.js';

test('disk full during commits (a real tmpfs): refused with INTERNAL, nothing acknowledged lost, service back when space is, audit and ledger agree after a restart', async (t) => {
  const result = await runDiskFull();
  if (result.skipped !== null) {
    t.skip(result.skipped);
    return;
  }
  t.diagnostic(JSON.stringify(result));
  assert.deepEqual(result.violations, []);
  assert.ok((result.whileFull.INTERNAL ?? 0) > 0);
});

/** The bank's RSS may grow with the flood, within this: the limits (pending handshakes, connections) bound it. */
const BANK_RSS_MIB_MAX = 300;

test('slowloris and a handshake flood: honest sessions lose no request, the bank closes the attackers and its memory stays bounded', async (t) => {
  const result = await runSlowloris({
    slowConnections: 500,
    floodConnections: 4,
    honestSessions: 8,
    thinkMs: 20,
    seconds: 3,
    seed: 1,
  });
  t.diagnostic(JSON.stringify(result));
  assert.equal(result.honestFailures, 0);
  assert.ok(result.honestRequests > 0);
  assert.ok(result.attacker.closedByBank > 0, 'the bank closes slow and bad peers');
  assert.ok(result.bankRssMiB.peak < BANK_RSS_MIB_MAX, `bank RSS ${result.bankRssMiB.peak} MiB`);
});
