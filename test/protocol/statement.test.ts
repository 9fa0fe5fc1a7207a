// [ATM-4.13, ATM-4.14] The two account operations at the boundary: parseRequest takes
// `statement` and `password.change` with exactly their fields (a malformed password field maps
// to WEAK_PASSWORD, as register's does), and parseResponseTo holds a statement approval to its
// promise: at most STATEMENT_TXNS_MAX entries of exactly their fields, newest first.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { badRequestCode } from '../../bank/server-limits.js';
import { parseRequest } from '../../protocol/messages.js';
import { parseResponseTo } from '../../protocol/responses.js';
import { STATEMENT_TXNS_MAX, statementTxnsInvalid, type StatementTxn } from '../../protocol/statement.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');
const T0_MS = Date.UTC(2026, 10, 27, 12, 0, 0);

function entry(index: number, fields: Partial<StatementTxn> = {}): StatementTxn {
  return {
    txnId: `txn-${String(index).padStart(8, '0')}`,
    kind: index % 2 === 0 ? 'deposit' : 'withdraw',
    amountCents: 100 + index,
    state: 'posted',
    atMs: T0_MS - index * 1_000,
    ...fields,
  };
}

test('[ATM-4.13] statement and [ATM-4.14] password.change parse with exactly their fields', () => {
  const statement = parseRequest(json({ id: 4, op: 'statement' }));
  assert.deepEqual(statement, { ok: true, request: { id: 4, op: 'statement' } });
  const change = { id: 5, op: 'password.change', oldPassword: 'correct horse', newPassword: 'battery staple' };
  assert.deepEqual(parseRequest(json(change)), { ok: true, request: change });
  for (const extra of [
    { id: 4, op: 'statement', limit: 50 },
    { ...change, password: 'x' },
  ]) {
    const parsed = parseRequest(json(extra));
    assert.ok(!parsed.ok && parsed.reason.startsWith('unknown field'), JSON.stringify(extra));
  }
});

test('[ATM-4.6] a password.change whose password fields are missing or malformed is WEAK_PASSWORD; the id is echoed', () => {
  const base = { id: 7, op: 'password.change', oldPassword: 'correct horse', newPassword: 'battery staple' };
  const cases: Record<string, unknown>[] = [
    { ...base, oldPassword: undefined },
    { ...base, newPassword: undefined },
    { ...base, oldPassword: 12345678 },
    { ...base, newPassword: null },
    { ...base, newPassword: 'p'.repeat(1025) },
    { ...base, oldPassword: ['correct horse'] },
  ];
  for (const request of cases) {
    const parsed = parseRequest(json(request));
    assert.ok(!parsed.ok, JSON.stringify(request));
    assert.equal(parsed.id, 7);
    assert.equal(parsed.kind, 'password');
    assert.equal(badRequestCode(parsed), 'WEAK_PASSWORD');
  }
});

test('[ATM-4.13] a statement of up to STATEMENT_TXNS_MAX entries, newest first, is taken; an empty one too', () => {
  assert.equal(STATEMENT_TXNS_MAX, 10);
  const full = Array.from({ length: STATEMENT_TXNS_MAX }, (_, index) => entry(index));
  for (const transactions of [[], full, [entry(0), entry(1, { atMs: T0_MS })]]) {
    const parsed = parseResponseTo('statement', json({ id: 1, ok: true, transactions }));
    assert.ok(parsed.ok, parsed.ok ? '' : parsed.reason);
    assert.deepEqual(parsed.response, { id: 1, ok: true, transactions });
  }
  assert.ok(parseResponseTo('password.change', json({ id: 2, ok: true })).ok);
});

test('[ATM-4.13] a statement with too many entries, one out of order or one malformed is refused', () => {
  const cases: [string, unknown][] = [
    ['missing', undefined],
    ['not an array', { 0: entry(0) }],
    ['eleven entries', Array.from({ length: STATEMENT_TXNS_MAX + 1 }, (_, index) => entry(index))],
    ['oldest first', [entry(1), entry(0)]],
    ['an extra field', [{ ...entry(0), balanceCents: 5 }]],
    ['a missing field', [(({ atMs: _atMs, ...rest }) => rest)(entry(0))]],
    ['a txnId that is no txnId', [entry(0, { txnId: 'a b' })]],
    ['an unknown kind', [{ ...entry(0), kind: 'transfer' }]],
    ['zero cents', [entry(0, { amountCents: 0 })]],
    ['fractional cents', [entry(0, { amountCents: 1.5 })]],
    ['cents as a string', [{ ...entry(0), amountCents: '100' }]],
    ['a hold', [{ ...entry(0), state: 'held' }]],
    ['a negative time', [entry(0, { atMs: -1 })]],
    ['a time as ISO text', [{ ...entry(0), atMs: new Date(T0_MS).toISOString() }]],
    ['null in the list', [null]],
  ];
  for (const [what, transactions] of cases) {
    const parsed = parseResponseTo('statement', json({ id: 1, ok: true, transactions }));
    assert.ok(!parsed.ok && parsed.reason.includes('transactions'), what);
    if (transactions !== undefined) assert.notEqual(statementTxnsInvalid(transactions), null, what);
  }
  assert.equal(statementTxnsInvalid([entry(0), entry(1)]), null);
  assert.equal(statementTxnsInvalid([entry(1), entry(0)]), 'entry 1 is out of order');
});
