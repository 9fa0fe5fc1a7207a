// The crash loop's short form (RELIABILITY.md has the long one), and each planted bug it or the
// durability trace must catch. Every run here starts and kills its own `atm bank` processes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import { DEFAULT_CRASH_POINTS, runCrashLoop } from './crash-loop.js';
import { runDurabilityTrace } from './durability.js';

const SEED = 20261206;

test('crash loop, short: SIGKILLs under load from outside and at fault points lose nothing acknowledged and break no invariant', async (t) => {
  const result = await runCrashLoop({
    rounds: 3,
    sessions: 8,
    accounts: 4,
    seed: SEED,
    crashPoints: DEFAULT_CRASH_POINTS,
    roundMsMax: 1_000,
  });
  t.diagnostic(JSON.stringify({ ...result, violations: result.violations.length }));
  assert.deepEqual(result.violations, []);
  const kills = result.kills.fromOutside + Object.values(result.kills.atFaultPoint).reduce((a, b) => a + b, 0);
  assert.ok(kills >= 3, `${kills} kills in 3 rounds`);
  assert.ok(result.acknowledged > 0);
});

for (const bug of ['skip-account-lock', 'post-without-hold'] as const) {
  test(`planted bug ${bug}: the crash loop catches it`, async (t) => {
    const result = await runCrashLoop({
      rounds: 10,
      sessions: 8,
      accounts: 2,
      seed: SEED,
      crashPoints: '',
      plant: [bug],
      roundMsMax: 1_000,
      stopAtFirstViolation: true,
    });
    t.diagnostic(result.violations.slice(0, 3).join(' | '));
    assert.ok(result.violations.length > 0, `${bug} went unnoticed for ${result.rounds} rounds`);
  });
}

test('planted bug deposit-new-id (the kiosk side: a lost deposit retried under a new id): the crash loop catches it', () => {
  // planted() is read from the environment at load, so the kiosks run in a child process
  // (scripts/torture.mjs turns --plant into ATM_TEST_FAULTS before loading them).
  const run = spawnSync(
    process.execPath,
    [
      path.join(repoRoot, 'scripts', 'torture.mjs'),
      'crash',
      '--rounds',
      '20',
      '--seed',
      String(SEED),
      '--plant',
      'deposit-new-id',
    ],
    { encoding: 'utf8', timeout: 120_000 },
  );
  assert.equal(run.status, 1, `${run.stdout}${run.stderr}`);
  assert.match(run.stdout, /the kiosk was told it failed, but the ledger credited it/, `${run.stdout}${run.stderr}`);
});

test('planted bug skip-fsync: the strace durability check catches it, and passes without it', async (t) => {
  const honest = await runDurabilityTrace({ sessions: 4, requestsPerSession: 40, seed: SEED });
  if (honest.skipped !== null) {
    t.skip(honest.skipped);
    return;
  }
  assert.deepEqual(honest.violations, []);
  assert.ok(honest.ledgerLogSyncs >= honest.commitsWritten && honest.commitsWritten > 0);
  const planted = await runDurabilityTrace({ sessions: 4, requestsPerSession: 40, seed: SEED, plant: ['skip-fsync'] });
  t.diagnostic(
    `honest: ${honest.commitsWritten} commits, ${honest.ledgerLogSyncs} log syncs; planted: ${planted.ledgerLogSyncs}`,
  );
  assert.equal(planted.violations.length, 1);
});
