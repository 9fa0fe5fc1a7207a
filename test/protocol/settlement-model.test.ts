// [issue 15, item 5] The settlement protocol's SPIN model (protocol/settlement.pml): the intended
// protocol keeps P1-P4 in every reachable state of the model's bounds, exhaustively, and SPIN
// finds every planted protocol bug, and the two places today's code differs from the intended
// protocol, each with a trail whose story goes to the diagnostics. test/torture/spin.ts runs it.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  SETTLEMENT_VARIANTS,
  runSpinModel,
  spinMissingReason,
  spinSummary,
  type SpinResult,
  type SpinRunOptions,
} from '../torture/spin.js';

const missing = spinMissingReason();
const skip = missing ?? false;
const TRAIL_LINES_SHOWN = 12;

/** A run in a temp dir that the test removes when it ends. */
function check(t: TestContext, options: Omit<SpinRunOptions, 'dir'>): Promise<SpinResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settlement-spin-'));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return runSpinModel({ ...options, dir });
}

function assertExhaustive(result: SpinResult): void {
  assert.equal(result.errors, 0, `SPIN found a violation:\n${(result.story ?? []).join('\n')}\n${result.report}`);
  assert.ok(result.statesStored > 0, result.report);
  assert.ok(result.complete, `the search was not exhaustive:\n${result.report}`);
  assert.ok(result.depthReached < result.depthMax, `depth ${result.depthReached} reached -m${result.depthMax}`);
}

test(
  'the intended settlement protocol keeps P1, P2, P3, P4 and the ledger in every reachable state (safety)',
  { skip },
  async (t) => {
    const result = await check(t, { mode: 'safety' });
    t.diagnostic(spinSummary(result));
    assertExhaustive(result);
  },
);

test(
  'no hold is stuck forever: the LTL claim no_stuck_hold holds under weak fairness (liveness)',
  { skip },
  async (t) => {
    const result = await check(t, { mode: 'liveness' });
    t.diagnostic(spinSummary(result));
    assertExhaustive(result);
    assert.match(result.report, /never claim\s+\+ \(no_stuck_hold\)/);
    assert.match(result.report, /acceptance\s+cycles\s+\+ \(fairness enabled\)/);
  },
);

for (const { variant, kind, what, violates } of SETTLEMENT_VARIANTS) {
  test(`SPIN finds ${kind} ${variant}: ${what}`, { skip }, async (t) => {
    const result = await check(t, { variant });
    t.diagnostic(spinSummary(result));
    assert.ok(result.errors >= 1, `SPIN found nothing:\n${result.report}`);
    assert.ok(result.trailFile !== undefined && fs.existsSync(result.trailFile), 'pan wrote no trail');
    const story = result.story ?? [];
    t.diagnostic("the trail's story (the model's printfs):");
    for (const line of story) t.diagnostic(`  ${line}`);
    const replay = (result.trail ?? '').split('\n');
    t.diagnostic(`spin -t -p, the first ${TRAIL_LINES_SHOWN} of its ${replay.length} lines:`);
    for (const line of replay.slice(0, TRAIL_LINES_SHOWN)) t.diagnostic(`  ${line.replaceAll('\t', ' ')}`);
    assert.ok(
      story.some((line) => line.startsWith(violates)),
      `the trail does not end in ${violates}:\n${story.join('\n')}`,
    );
  });
}

test('P4 needs the sweeper: without it the liveness claim fails with an acceptance cycle', { skip }, async (t) => {
  const result = await check(t, { variant: 'BUG_NO_SWEEPER', mode: 'liveness', ignoreAssertions: true });
  t.diagnostic(spinSummary(result));
  assert.ok(result.errors >= 1, result.report);
  assert.match(result.report, /acceptance cycle/);
  assert.ok(result.trailFile !== undefined && fs.existsSync(result.trailFile), 'pan wrote no trail');
  for (const line of result.story ?? []) t.diagnostic(`  ${line}`);
});
