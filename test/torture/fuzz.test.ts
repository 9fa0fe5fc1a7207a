// The torture suite's fuzzers at a small scale (issue 15, item 3): each runs what it was asked,
// finds nothing in the code as it is, reports its seed when a property fails, and the record
// fuzzer catches the planted stale-record-seq bug (in a child process: ATM_TEST_FAULTS is read
// when protocol/ loads). Replay any failure with ATM_FUZZ_SEED=<seed> from its message.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { FUZZ_SEED_ENV, FuzzFailure, checkProperty, fuzzSeed } from './fuzz-core.js';
import { RECORD_MUTATIONS, runAllFuzz, runFrameFuzz, runHandshakeFuzz, runMessageFuzz, runRecordFuzz } from './fuzz.js';
import { PLANTED_RECORD_BUG, runFuzzChild } from './fuzz-part.js';

const seed = fuzzSeed();

test(`[ATM-1] frame decoder: valid streams however chunked, hostile bytes refused (seed ${seed})`, () => {
  const counts = runFrameFuzz({ runs: 600, seed });
  assert.equal(counts.runs, 600);
  assert.equal(counts.accepted + counts.rejected, counts.frames);
  assert.ok(counts.accepted > counts.runs, 'valid streams of several frames came out');
  assert.ok(counts.rejected > 0, 'hostile streams were refused');
});

test(`[ATM-2] handshake: no side opens without the PSK, whatever it is sent (seed ${seed})`, () => {
  const counts = runHandshakeFuzz({ runs: 200, seed });
  assert.equal(counts.runs, 200);
  assert.equal(counts.hostRuns + counts.kioskRuns, 200);
  assert.equal(counts.opened, 0);
  assert.ok(counts.messages >= counts.runs);
  assert.ok(counts.refused > counts.runs / 2, 'most runs end in a refusal');
});

test(`[ATM-3] record layer: every attack refused, no state changed, the session over (seed ${seed})`, () => {
  const counts = runRecordFuzz({ runs: 500, seed });
  assert.equal(counts.runs, 500);
  assert.equal(
    Object.values(counts.byMutation).reduce((sum, count) => sum + count, 0),
    500,
  );
  for (const kind of RECORD_MUTATIONS) assert.ok(counts.byMutation[kind] > 0, `no '${kind}' run`);
  assert.ok(counts.channelRuns > 0);
  // Each run: the attacked record and the genuine one after it are both refused.
  assert.equal(counts.rejected, 2 * counts.runs);
  assert.equal(counts.accepted + counts.rejected, counts.records);
});

test(`[ATM-4] messages: both parsers take exactly what PROTOCOL.md allows (seed ${seed})`, () => {
  const counts = runMessageFuzz({ runs: 600, seed });
  assert.equal(counts.runs, 600);
  assert.equal(counts.accepted + counts.refused, counts.requests + counts.responses);
  assert.ok(counts.accepted > 0 && counts.refused > 0);
  assert.ok(counts.amountsDecided > 0, 'some amounts reached the ledger decision');
});

test('runAllFuzz scales every fuzzer with one seed and sums the frames', () => {
  const counts = runAllFuzz({ runs: 200, seed });
  assert.equal(counts.seed, seed);
  assert.equal(counts.frame.runs, 200);
  assert.ok(counts.handshake.runs > 0 && counts.record.runs > 0 && counts.messages.runs > 0);
  assert.equal(counts.frames, counts.frame.frames + counts.handshake.messages + counts.record.records);
});

test('a failing property reports its seed and counterexample, and the seed replays it', () => {
  const failing = fc.property(fc.nat(), (value) => value < 1000);
  const failure = (): FuzzFailure => {
    try {
      checkProperty('below 1000', failing, 500, 4242);
    } catch (error) {
      assert.ok(error instanceof FuzzFailure);
      return error;
    }
    assert.fail('the property should have failed');
  };
  const first = failure();
  assert.equal(first.seed, 4242);
  assert.match(first.message, new RegExp(`${FUZZ_SEED_ENV}=4242`));
  assert.match(first.message, /Counterexample: \[1000\]/);
  assert.equal(failure().counterexamplePath, first.counterexamplePath, 'the same seed, the same failure');
  const saved = process.env[FUZZ_SEED_ENV];
  process.env[FUZZ_SEED_ENV] = '4242';
  try {
    assert.equal(fuzzSeed(), 4242);
    assert.equal(fuzzSeed(7), 7, 'an explicit seed wins');
  } finally {
    if (saved === undefined) delete process.env.ATM_FUZZ_SEED;
    else process.env[FUZZ_SEED_ENV] = saved;
  }
});

test(`the record fuzzer catches the planted ${PLANTED_RECORD_BUG} bug, and passes without it`, async () => {
  const args = ['record', '--runs', '300', '--seed', String(seed)];
  const [planted, clean] = await Promise.all([
    runFuzzChild(args, { ATM_TEST_FAULTS: `plant=${PLANTED_RECORD_BUG}` }),
    runFuzzChild(args),
  ]);
  assert.equal(planted.exitCode, 1, `with the plant: exit ${planted.exitCode}\n${planted.stderr}`);
  assert.match(planted.stderr, /Counterexample: /);
  assert.match(planted.stderr, new RegExp(`${FUZZ_SEED_ENV}=${seed}`));
  assert.match(planted.stderr, /the record layer accepted a '(stale|replay|resealStale)' record/);
  assert.equal(clean.exitCode, 0, `without the plant: exit ${clean.exitCode}\n${clean.stderr}`);
  const report = JSON.parse(clean.stdout) as { counts: { runs: number } };
  assert.equal(report.counts.runs, 300);
});
