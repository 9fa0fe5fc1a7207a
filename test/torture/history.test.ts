// The history checker on hand-written histories (each anomaly it must find, and concurrent
// histories it must accept), then on a live concurrent run against a real bank.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkHistory } from './history.js';
import { runHistory } from './history-run.js';
import type { HistoryOp } from './workload.js';

type Op = Partial<HistoryOp> & Pick<HistoryOp, 'op' | 'startMs' | 'endMs'>;

/** One account's history; each op ok unless it says otherwise. */
function history(...ops: Op[]): HistoryOp[] {
  return ops.map((op) => ({ session: 0, username: 'alice', retry: false, outcome: 'ok', ...op }));
}

const anomalies = (ops: HistoryOp[]): string[] => checkHistory(ops).anomalies.map((anomaly) => anomaly.why);

test('a sequential history that follows the rules has a linearisation', () => {
  const report = checkHistory(
    history(
      { op: 'deposit', txnId: 'dep-00001', amountCents: 500, balanceCents: 500, startMs: 0, endMs: 1 },
      { op: 'hold', txnId: 'wd-000001', amountCents: 200, startMs: 2, endMs: 3 },
      { op: 'balance', balanceCents: 300, startMs: 4, endMs: 5 },
      { op: 'post', txnId: 'wd-000001', amountCents: 150, holdCents: 200, balanceCents: 350, startMs: 6, endMs: 7 },
      {
        op: 'hold',
        txnId: 'wd-000002',
        amountCents: 400,
        outcome: 'declined',
        code: 'INSUFFICIENT_FUNDS',
        startMs: 8,
        endMs: 9,
      },
      { op: 'deposit', txnId: 'dep-00001', amountCents: 500, retry: true, balanceCents: 500, startMs: 10, endMs: 11 },
      { op: 'balance', balanceCents: 350, startMs: 12, endMs: 13 },
    ),
  );
  assert.deepEqual(report.anomalies, []);
  assert.equal(report.operations, 7);
});

test('overlapping requests may take effect in either order: the checker finds the one that fits', () => {
  // B started later but took effect first: only the order B, A explains both answers.
  const report = checkHistory(
    history(
      { op: 'deposit', txnId: 'dep-0000a', amountCents: 100, balanceCents: 150, startMs: 0, endMs: 10 },
      { op: 'deposit', txnId: 'dep-0000b', amountCents: 50, balanceCents: 50, startMs: 1, endMs: 9 },
      { op: 'balance', balanceCents: 150, startMs: 11, endMs: 12 },
    ),
  );
  assert.deepEqual(report.anomalies, []);
  assert.ok(report.steps > 3, 'it had to try the other order');
});

test('a stale read is an anomaly: a balance read after a deposit ended must see it', () => {
  const found = anomalies(
    history(
      { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 5 },
      { op: 'balance', balanceCents: 0, startMs: 6, endMs: 7 },
    ),
  );
  assert.equal(found.length, 1);
  assert.match(found[0] ?? '', /balance the answer ok balance 0/);
});

test('a lost update is an anomaly: the second deposit reports a balance without the first', () => {
  assert.equal(
    anomalies(
      history(
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 5 },
        { op: 'deposit', txnId: 'dep-00002', amountCents: 50, balanceCents: 50, startMs: 6, endMs: 7 },
      ),
    ).length,
    1,
  );
});

test('a retried id applied twice is an anomaly', () => {
  assert.equal(
    anomalies(
      history(
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 1 },
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, retry: true, balanceCents: 100, startMs: 2, endMs: 3 },
        { op: 'balance', balanceCents: 200, startMs: 4, endMs: 5 },
      ),
    ).length,
    1,
  );
});

test('a decline the state does not justify, or one that moved money, is an anomaly', () => {
  // Funds were there: INSUFFICIENT_FUNDS is a wrong answer.
  assert.equal(
    anomalies(
      history(
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 1 },
        {
          op: 'hold',
          txnId: 'wd-000001',
          amountCents: 50,
          outcome: 'declined',
          code: 'INSUFFICIENT_FUNDS',
          startMs: 2,
          endMs: 3,
        },
      ),
    ).length,
    1,
  );
  // A justified decline that nonetheless held the money shows in the next read.
  assert.equal(
    anomalies(
      history(
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 1 },
        {
          op: 'hold',
          txnId: 'wd-000001',
          amountCents: 150,
          outcome: 'declined',
          code: 'INSUFFICIENT_FUNDS',
          startMs: 2,
          endMs: 3,
        },
        { op: 'balance', balanceCents: 0, startMs: 4, endMs: 5 },
      ),
    ).length,
    1,
  );
});

test('a post of a hold that was never placed, and a request with no answer, are anomalies', () => {
  assert.equal(
    anomalies(
      history(
        { op: 'deposit', txnId: 'dep-00001', amountCents: 100, balanceCents: 100, startMs: 0, endMs: 1 },
        { op: 'post', txnId: 'wd-000009', amountCents: 40, holdCents: 40, balanceCents: 60, startMs: 2, endMs: 3 },
      ),
    ).length,
    1,
  );
  const unanswered = anomalies(
    history({ op: 'balance', outcome: 'unknown', startMs: 0, endMs: Number.POSITIVE_INFINITY }),
  );
  assert.match(unanswered[0] ?? '', /no answer/);
});

test('a live run: 16 sessions on 8 accounts against a real bank have a linearisation', async (t) => {
  const result = await runHistory({ sessions: 16, accounts: 8, operations: 1_500, seed: 11 });
  t.diagnostic(`${result.operations} operations in ${result.runSeconds} s, checked in ${result.checkSeconds} s`);
  assert.deepEqual(result.sessionsRefused, []);
  assert.ok(result.operations >= 1_500);
  assert.deepEqual(result.anomalies, []);
});
