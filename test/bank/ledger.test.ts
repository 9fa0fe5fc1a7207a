// The pure rules of bank/ledger.ts: no I/O, no clock reads, so every rule is tested here
// directly with an account value and an explicit time. [DESIGN §4] Accounts, Transactions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  DEFAULT_LIMITS,
  accountInvariantViolation,
  assertAccountValid,
  availableCents,
  decideDeposit,
  decideHold,
  decidePost,
  decideVoid,
  newAccount,
  normalizeUsername,
  passwordInvalid,
  utcDay,
  type Decision,
  type LedgerLimits,
} from '../../bank/ledger.js';
import type { Account, TxnRecord } from '../../bank/types.js';
import { AssertionError } from '../../protocol/assert.js';

const NOON_MS = Date.UTC(2026, 10, 27, 12, 0, 0);
const DAY_MS = 24 * 60 * 60_000;

function account(fields: Partial<Account> = {}): Account {
  return { ...newAccount('austin', '$2b$04$not-a-real-hash', NOON_MS), ...fields };
}

function hold(amountCents: number, createdAtMs = NOON_MS): TxnRecord {
  return {
    txnId: 'txn-00000001',
    kind: 'withdraw',
    username: 'austin',
    kioskId: 'kiosk-01',
    amountCents,
    postedCents: 0,
    state: 'held',
    createdAtMs,
    holdExpiresAtMs: createdAtMs + 5 * 60_000,
    response: {
      ok: true,
      txnId: 'txn-00000001',
      heldCents: amountCents,
      holdExpiresAt: new Date(createdAtMs + 5 * 60_000).toISOString(),
    },
  };
}

function accepted(decision: Decision): Account {
  assert.ok(decision.ok, `expected acceptance, got ${decision.ok ? '' : decision.code}`);
  return decision.account;
}

function declined(decision: Decision): string {
  assert.ok(!decision.ok, 'expected a decline');
  return decision.code;
}

// Amounts that are not integer cents > 0 within range, whatever their JSON type.
const BAD_AMOUNTS: unknown[] = [
  0,
  -1,
  -15000,
  1.5,
  0.01,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.NEGATIVE_INFINITY,
  2 ** 53 + 2,
  '100',
  null,
  undefined,
  true,
  {},
];

test('normalizeUsername case-folds and accepts names of 3 to 32 chars of a-z 0-9 . _ -', () => {
  assert.equal(normalizeUsername('Austin'), 'austin');
  assert.equal(normalizeUsername('AUSTIN.o_k-9'), 'austin.o_k-9');
  assert.equal(normalizeUsername('abc'), 'abc');
  assert.equal(normalizeUsername('a'.repeat(32)), 'a'.repeat(32));
  assert.equal(normalizeUsername('A'.repeat(32)), 'a'.repeat(32));
});

test('normalizeUsername refuses 2 and 33 chars and any character outside a-z 0-9 . _ -', () => {
  assert.equal(normalizeUsername(''), null);
  assert.equal(normalizeUsername('ab'), null);
  assert.equal(normalizeUsername('a'.repeat(33)), null);
  for (const bad of [
    'aus tin',
    'austin!',
    'aus/tin',
    'aus\\tin',
    'añstin',
    'aus\ntin',
    'austin\n',
    ' austin',
    'aus@tin',
    'aus+tin',
    'ausтin',
    'aus\0tin',
    'İstanbul',
  ]) {
    assert.equal(normalizeUsername(bad), null, JSON.stringify(bad));
  }
});

test('passwordInvalid counts UTF-8 bytes: 7 and 73 refused, 8 and 72 accepted', () => {
  assert.notEqual(passwordInvalid('a'.repeat(7)), null);
  assert.equal(passwordInvalid('a'.repeat(8)), null);
  assert.equal(passwordInvalid('a'.repeat(72)), null);
  assert.notEqual(passwordInvalid('a'.repeat(73)), null);
  assert.notEqual(passwordInvalid(''), null);
});

test('passwordInvalid measures multibyte characters in bytes, not chars', () => {
  // é is 2 bytes, € is 3, 😀 is 4 (a surrogate pair: 2 UTF-16 units).
  assert.equal(passwordInvalid('é'.repeat(4)), null, '4 chars, 8 bytes');
  assert.notEqual(passwordInvalid('é'.repeat(3) + 'a'), null, '4 chars, 7 bytes');
  assert.equal(passwordInvalid('é'.repeat(36)), null, '36 chars, 72 bytes');
  assert.notEqual(passwordInvalid('é'.repeat(36) + 'a'), null, '37 chars, 73 bytes');
  assert.equal(passwordInvalid('€'.repeat(24)), null, '24 chars, 72 bytes');
  assert.notEqual(passwordInvalid('€'.repeat(25)), null, '25 chars, 75 bytes: bcrypt would ignore the tail');
  assert.equal(passwordInvalid('😀'.repeat(18)), null, '72 bytes');
  assert.notEqual(passwordInvalid('😀'.repeat(18) + 'a'), null, '73 bytes');
  assert.notEqual(passwordInvalid('😀'.repeat(19)), null, '38 UTF-16 units, 76 bytes');
});

test('passwordInvalid refuses a NUL anywhere because bcrypt would stop there', () => {
  assert.match(passwordInvalid('abcdefg\0h') ?? '', /NUL/);
  assert.match(passwordInvalid('\0abcdefgh') ?? '', /NUL/);
  assert.match(passwordInvalid('abcdefgh\0') ?? '', /NUL/);
  assert.equal(passwordInvalid('abcdefgh'), null);
});

test('utcDay is the UTC calendar day, rolling over exactly at UTC midnight', () => {
  const midnight = Date.UTC(2026, 10, 28, 0, 0, 0);
  assert.equal(utcDay(midnight - 1), '2026-11-27');
  assert.equal(utcDay(midnight), '2026-11-28');
});

test('decideDeposit credits the balance and leaves the input account untouched', () => {
  const before = account({ balanceCents: 1000 });
  const after = accepted(decideDeposit(before, 15000, DEFAULT_LIMITS));
  assert.equal(after.balanceCents, 16000);
  assert.equal(after.heldCents, 0);
  assert.equal(before.balanceCents, 1000, 'decisions are pure');
});

test('decideDeposit refuses every amount that is not integer cents > 0 with INVALID_AMOUNT', () => {
  for (const amount of BAD_AMOUNTS) {
    assert.equal(declined(decideDeposit(account(), amount, DEFAULT_LIMITS)), 'INVALID_AMOUNT', String(amount));
  }
});

test('decideDeposit enforces the per-deposit limit and the balance ceiling', () => {
  const limits: LedgerLimits = { ...DEFAULT_LIMITS, depositCentsMax: 5000, balanceCentsMax: 20000 };
  assert.equal(accepted(decideDeposit(account(), 5000, limits)).balanceCents, 5000);
  assert.equal(declined(decideDeposit(account(), 5001, limits)), 'LIMIT_EXCEEDED');
  assert.equal(accepted(decideDeposit(account({ balanceCents: 15000 }), 5000, limits)).balanceCents, 20000);
  assert.equal(declined(decideDeposit(account({ balanceCents: 15001 }), 5000, limits)), 'LIMIT_EXCEEDED');
});

test("decideHold reserves the amount: balance unchanged, held and today's total grow", () => {
  const after = accepted(decideHold(account({ balanceCents: 15000 }), 5000, DEFAULT_LIMITS, NOON_MS));
  assert.equal(after.balanceCents, 15000);
  assert.equal(after.heldCents, 5000);
  assert.equal(availableCents(after), 10000);
  assert.equal(after.withdrawnTodayCents, 5000);
  assert.equal(after.withdrawnDay, utcDay(NOON_MS));
});

test('decideHold refuses bad amounts with INVALID_AMOUNT', () => {
  for (const amount of BAD_AMOUNTS) {
    assert.equal(
      declined(decideHold(account({ balanceCents: 100000 }), amount, DEFAULT_LIMITS, NOON_MS)),
      'INVALID_AMOUNT',
      String(amount),
    );
  }
});

test('decideHold never lets holds exceed the available balance', () => {
  const limits = DEFAULT_LIMITS;
  assert.equal(accepted(decideHold(account({ balanceCents: 10000 }), 10000, limits, NOON_MS)).heldCents, 10000);
  assert.equal(declined(decideHold(account({ balanceCents: 10000 }), 10001, limits, NOON_MS)), 'INSUFFICIENT_FUNDS');
  // Money already held is not available a second time.
  const partlyHeld = account({ balanceCents: 10000, heldCents: 6000, withdrawnTodayCents: 6000 });
  assert.equal(declined(decideHold(partlyHeld, 4001, limits, NOON_MS)), 'INSUFFICIENT_FUNDS');
  assert.equal(accepted(decideHold(partlyHeld, 4000, limits, NOON_MS)).heldCents, 10000);
  assert.equal(declined(decideHold(account({ balanceCents: 0 }), 1, limits, NOON_MS)), 'INSUFFICIENT_FUNDS');
});

test('decideHold enforces the per-withdrawal limit at its exact boundary', () => {
  const limits: LedgerLimits = { ...DEFAULT_LIMITS, withdrawalCentsMax: 5000 };
  const rich = account({ balanceCents: 1_000_000 });
  assert.equal(accepted(decideHold(rich, 5000, limits, NOON_MS)).heldCents, 5000);
  assert.equal(declined(decideHold(rich, 5001, limits, NOON_MS)), 'LIMIT_EXCEEDED');
});

test('decideHold enforces the daily limit across holds of the same UTC day', () => {
  const limits: LedgerLimits = { ...DEFAULT_LIMITS, withdrawalCentsMax: 10000, withdrawalCentsMaxDaily: 15000 };
  let state = account({ balanceCents: 1_000_000 });
  state = accepted(decideHold(state, 10000, limits, NOON_MS));
  assert.equal(declined(decideHold(state, 5001, limits, NOON_MS + 60_000)), 'LIMIT_EXCEEDED');
  state = accepted(decideHold(state, 5000, limits, NOON_MS + 60_000));
  assert.equal(state.withdrawnTodayCents, 15000);
  assert.equal(declined(decideHold(state, 1, limits, NOON_MS + 120_000)), 'LIMIT_EXCEEDED');
});

test('decideHold starts a fresh daily total on the next UTC day', () => {
  const limits: LedgerLimits = { ...DEFAULT_LIMITS, withdrawalCentsMaxDaily: 15000 };
  const lateMs = Date.UTC(2026, 10, 27, 23, 59, 59, 999);
  const exhausted = account({ balanceCents: 1_000_000, withdrawnDay: utcDay(lateMs), withdrawnTodayCents: 15000 });
  assert.equal(declined(decideHold(exhausted, 1, limits, lateMs)), 'LIMIT_EXCEEDED');
  const nextDay = accepted(decideHold(exhausted, 10000, limits, lateMs + 1));
  assert.equal(nextDay.withdrawnDay, '2026-11-28');
  assert.equal(nextDay.withdrawnTodayCents, 10000, "yesterday's total is not carried over");
  // A total left from days ago counts for nothing either.
  const stale = account({
    balanceCents: 1_000_000,
    withdrawnDay: utcDay(NOON_MS - 5 * DAY_MS),
    withdrawnTodayCents: 15000,
  });
  assert.equal(accepted(decideHold(stale, 15000, limits, NOON_MS)).withdrawnTodayCents, 15000);
});

test('decidePost of the full hold debits it and clears it', () => {
  const held = accepted(decideHold(account({ balanceCents: 15000 }), 5000, DEFAULT_LIMITS, NOON_MS));
  const posted = accepted(decidePost(held, hold(5000), 5000, NOON_MS + 1000));
  assert.equal(posted.balanceCents, 10000);
  assert.equal(posted.heldCents, 0);
  assert.equal(posted.withdrawnTodayCents, 5000);
});

test('decidePost of a partial dispense debits exactly that and releases the rest', () => {
  const held = accepted(decideHold(account({ balanceCents: 20000 }), 10000, DEFAULT_LIMITS, NOON_MS));
  assert.equal(availableCents(held), 10000);
  const posted = accepted(decidePost(held, hold(10000), 6000, NOON_MS + 1000));
  assert.equal(posted.balanceCents, 14000);
  assert.equal(posted.heldCents, 0);
  assert.equal(availableCents(posted), 14000);
  assert.equal(posted.withdrawnTodayCents, 6000, 'the 4000 not dispensed no longer counts toward today');
});

test('decidePost leaves other open holds held', () => {
  // Two holds open (3000 and 5000); posting the 5000 one leaves the 3000 reserved.
  const state = account({ balanceCents: 20000, heldCents: 8000, withdrawnTodayCents: 8000 });
  const posted = accepted(decidePost(state, hold(5000), 5000, NOON_MS));
  assert.equal(posted.heldCents, 3000);
  assert.equal(posted.balanceCents, 15000);
});

test('decidePost refuses more than was held, zero and non-integers with INVALID_AMOUNT', () => {
  const held = accepted(decideHold(account({ balanceCents: 20000 }), 10000, DEFAULT_LIMITS, NOON_MS));
  for (const dispensed of [10001, 0, -1, 1.5, Number.NaN, '6000']) {
    assert.equal(declined(decidePost(held, hold(10000), dispensed, NOON_MS)), 'INVALID_AMOUNT', String(dispensed));
  }
});

test("decidePost on a later UTC day than the hold does not refund the new day's total", () => {
  const held = account({
    balanceCents: 20000,
    heldCents: 10000,
    withdrawnDay: utcDay(NOON_MS),
    withdrawnTodayCents: 10000,
  });
  const nextDayMs = NOON_MS + DAY_MS;
  const posted = accepted(decidePost(held, hold(10000, NOON_MS), 6000, nextDayMs));
  assert.equal(posted.balanceCents, 14000);
  assert.equal(posted.heldCents, 0);
  assert.equal(posted.withdrawnTodayCents, 10000, "refunds only apply while the hold's day is still today");
});

test("decideVoid releases the whole hold, debits nothing and refunds today's total", () => {
  const held = accepted(decideHold(account({ balanceCents: 15000 }), 5000, DEFAULT_LIMITS, NOON_MS));
  const voided = decideVoid(held, hold(5000), NOON_MS + 1000);
  assert.equal(voided.balanceCents, 15000);
  assert.equal(voided.heldCents, 0);
  assert.equal(availableCents(voided), 15000);
  assert.equal(voided.withdrawnTodayCents, 0);
});

test("decideVoid the next day releases the hold but keeps the new day's total", () => {
  const held = account({
    balanceCents: 15000,
    heldCents: 5000,
    withdrawnDay: utcDay(NOON_MS),
    withdrawnTodayCents: 5000,
  });
  const voided = decideVoid(held, hold(5000, NOON_MS), NOON_MS + DAY_MS);
  assert.equal(voided.heldCents, 0);
  assert.equal(voided.balanceCents, 15000);
  assert.equal(voided.withdrawnTodayCents, 5000);
});

test('accountInvariantViolation accepts sound accounts and names each broken one', () => {
  assert.equal(accountInvariantViolation(account()), null);
  assert.equal(accountInvariantViolation(account({ balanceCents: 100, heldCents: 100 })), null);
  assert.match(accountInvariantViolation(account({ balanceCents: -1 })) ?? '', /balance -1/);
  assert.match(accountInvariantViolation(account({ balanceCents: 1.5 })) ?? '', /balance/);
  assert.match(accountInvariantViolation(account({ balanceCents: Number.NaN })) ?? '', /balance/);
  assert.match(accountInvariantViolation(account({ balanceCents: 2 ** 53 })) ?? '', /balance/);
  assert.match(accountInvariantViolation(account({ balanceCents: 100, heldCents: -1 })) ?? '', /held -1/);
  assert.match(accountInvariantViolation(account({ balanceCents: 100, heldCents: 0.5 })) ?? '', /held/);
  assert.match(
    accountInvariantViolation(account({ balanceCents: 100, heldCents: 101 })) ?? '',
    /held 101 > balance 100/,
  );
});

test('a hold, then a post of the hold, never breaks the invariant on any path', () => {
  // Every accepted decision from a sound account yields a sound account.
  const limits = DEFAULT_LIMITS;
  let state = account({ balanceCents: 0 });
  state = accepted(decideDeposit(state, 15000, limits));
  for (const amount of [5000, 3000, 7001, 7000, 1]) {
    const decision = decideHold(state, amount, limits, NOON_MS);
    if (!decision.ok) continue;
    assert.equal(accountInvariantViolation(decision.account), null);
    const posted = accepted(decidePost(decision.account, hold(amount), amount, NOON_MS));
    assert.equal(accountInvariantViolation(posted), null);
    state = posted;
  }
  assert.equal(state.balanceCents, 0, '5000 + 3000 + 7000 posted, 7001 and 1 refused once funds ran out');
});

test('every decision asserts its account first: a corrupted account is a crash, never a decline', () => {
  const corrupted = [
    account({ balanceCents: 100, heldCents: 101 }),
    account({ balanceCents: -1 }),
    account({ balanceCents: 0.5 }),
  ];
  for (const broken of corrupted) {
    const label = JSON.stringify({ balanceCents: broken.balanceCents, heldCents: broken.heldCents });
    assert.throws(() => decideDeposit(broken, 100, DEFAULT_LIMITS), AssertionError, label);
    assert.throws(() => decideHold(broken, 100, DEFAULT_LIMITS, NOON_MS), AssertionError, label);
    assert.throws(() => decidePost(broken, hold(100), 100, NOON_MS), AssertionError, label);
    assert.throws(() => decideVoid(broken, hold(100), NOON_MS), AssertionError, label);
  }
  assert.throws(
    () => assertAccountValid(account({ balanceCents: 100, heldCents: 101 }), 'on read'),
    /^AssertionError: assertion failed: ledger invariant \(on read\) of austin: held 101 > balance 100$/,
  );
});

test('settling asserts the hold is within the account: held, of this account, inside heldCents', () => {
  const held = account({ balanceCents: 10000, heldCents: 5000 });
  // More held than the account has on hold: the hold or the account was corrupted.
  assert.throws(() => decidePost(held, hold(6000), 100, NOON_MS), /hold 6000 not within held 5000/);
  assert.throws(() => decideVoid(held, hold(6000), NOON_MS), /hold 6000 not within held 5000/);
  assert.throws(() => decideVoid(held, { ...hold(100), username: 'bob' }, NOON_MS), /hold of another account/);
  assert.throws(() => decideVoid(held, { ...hold(100), state: 'voided' }, NOON_MS), /hold in state voided/);
  assert.throws(() => decidePost(held, { ...hold(100), amountCents: 0 }, 0, NOON_MS), AssertionError);
  // The same account and a hold it covers settle normally.
  assert.equal(accepted(decidePost(held, hold(5000), 5000, NOON_MS)).heldCents, 0);
});
