// Live sessions through the mutating proxy at a small scale (issue 15, item 3): ~100 sessions of
// an honest kiosk against a real bank, one mutation each. runMutationProxy asserts the rules
// per session (see mutation-proxy.ts); this checks that it ran what was asked and that every
// kind of mutation, every outcome and the lost-answer path were exercised.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzSeed } from './fuzz-core.js';
import { LINK_MUTATIONS, runMutationProxy } from './mutation-proxy.js';

const SESSIONS = 100;
const seed = fuzzSeed();

test(`100 live sessions, one mutation each: typed failures or correct answers, money moved once (seed ${seed})`, async (t) => {
  const counts = await runMutationProxy({ sessions: SESSIONS, seed });
  t.diagnostic(JSON.stringify(counts));
  assert.equal(counts.sessions, SESSIONS);
  assert.equal(
    Object.values(counts.byMutation).reduce((sum, count) => sum + count, 0),
    SESSIONS,
  );
  for (const mutation of LINK_MUTATIONS) assert.ok(counts.byMutation[mutation] > 0, `no '${mutation}' session`);
  assert.equal(counts.completed + counts.closed, SESSIONS);
  assert.ok(counts.completed > 0 && counts.closed > 0, 'both outcomes happen');
  assert.equal(
    counts.acknowledged + counts.appliedUnacknowledged + counts.appliedByRepeat,
    SESSIONS,
    'each deposit applied once',
  );
  assert.ok(counts.balanceCentsTotal > 0);
  assert.ok(counts.bankConnectionsMax > 0);
});
