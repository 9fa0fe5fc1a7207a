// Pure ledger decisions: an account and a request in, a new account or a decline out.
// No I/O and no clock reads here (time is a parameter), so every rule is unit-testable and
// the service can hold a lock only around the read-decide-write sequence.
import { AMOUNT_CENTS_MAX, assert, isValidAmountCents } from '../protocol/index.js';
import { DeclineCode } from '../protocol/index.js';
import { PASSWORD_BYTES_MAX, PASSWORD_BYTES_MIN, USERNAME_PATTERN, type LimitDetail } from '../protocol/index.js';
import type { Account, TxnRecord } from './types.js';

export interface LedgerLimits {
  depositCentsMax: number;
  withdrawalCentsMax: number;
  withdrawalCentsMaxDaily: number;
  balanceCentsMax: number; // keeps every sum far inside 2^53
}

export const DEFAULT_LIMITS: LedgerLimits = {
  depositCentsMax: 10_000_00,
  withdrawalCentsMax: 1_000_00,
  withdrawalCentsMaxDaily: 2_000_00,
  balanceCentsMax: AMOUNT_CENTS_MAX,
};

/** A LIMIT_EXCEEDED decline says which limit ([ATM-4.10]), so the customer knows what is possible. */
export type Decision = { ok: true; account: Account } | { ok: false; code: DeclineCode; limit?: LimitDetail };

const overLimit = (limit: LimitDetail): Decision => ({ ok: false, code: DeclineCode.LIMIT_EXCEEDED, limit });

/** Case-folds; null when the name breaks the rules (3-32 of a-z 0-9 . _ -). */
export function normalizeUsername(raw: string): string | null {
  // ASCII only before folding: toLowerCase maps some non-ASCII letters (U+212A KELVIN SIGN) to ASCII.
  if (!/^[\x20-\x7e]*$/.test(raw)) return null;
  const folded = raw.toLowerCase();
  return USERNAME_PATTERN.test(folded) ? folded : null;
}

/** bcrypt hashes at most 72 bytes and stops at NUL, so both are refused rather than ignored. */
export function passwordInvalid(password: string): string | null {
  const bytes = Buffer.byteLength(password, 'utf8');
  if (bytes < PASSWORD_BYTES_MIN || bytes > PASSWORD_BYTES_MAX)
    return `password must be ${PASSWORD_BYTES_MIN}-${PASSWORD_BYTES_MAX} bytes`;
  if (password.includes('\0')) return 'password must not contain NUL';
  return null;
}

export function utcDay(nowMs: number): string {
  return new Date(nowMs).toISOString().slice(0, 10);
}

export function availableCents(account: Account): number {
  return account.balanceCents - account.heldCents;
}

function withdrawnToday(account: Account, nowMs: number): number {
  return account.withdrawnDay === utcDay(nowMs) ? account.withdrawnTodayCents : 0;
}

export function newAccount(username: string, passwordHash: string, nowMs: number): Account {
  return {
    username,
    passwordHash,
    balanceCents: 0,
    heldCents: 0,
    failedLogins: 0,
    lockedUntilMs: 0,
    withdrawnDay: utcDay(nowMs),
    withdrawnTodayCents: 0,
    createdAtMs: nowMs,
  };
}

export function decideDeposit(account: Account, amountCents: unknown, limits: LedgerLimits): Decision {
  assertAccountValid(account, 'deposit');
  if (!isValidAmountCents(amountCents)) return { ok: false, code: DeclineCode.INVALID_AMOUNT };
  if (amountCents > limits.depositCentsMax) return overLimit({ kind: 'deposit', limitCents: limits.depositCentsMax });
  if (account.balanceCents + amountCents > limits.balanceCentsMax) {
    return overLimit({
      kind: 'balance',
      limitCents: limits.balanceCentsMax,
      leftCents: Math.max(0, limits.balanceCentsMax - account.balanceCents),
    });
  }
  return { ok: true, account: { ...account, balanceCents: account.balanceCents + amountCents } };
}

/** Phase one of a withdrawal: reserve the amount; it counts against today's limit at once. */
export function decideHold(account: Account, amountCents: unknown, limits: LedgerLimits, nowMs: number): Decision {
  assertAccountValid(account, 'hold');
  if (!isValidAmountCents(amountCents)) return { ok: false, code: DeclineCode.INVALID_AMOUNT };
  const today = withdrawnToday(account, nowMs);
  const leftTodayCents = Math.max(0, limits.withdrawalCentsMaxDaily - today);
  // Over the per-withdrawal limit: still say what today allows, so the customer can pick an amount.
  if (amountCents > limits.withdrawalCentsMax)
    return overLimit({ kind: 'withdrawal', limitCents: limits.withdrawalCentsMax, leftCents: leftTodayCents });
  if (amountCents > availableCents(account)) return { ok: false, code: DeclineCode.INSUFFICIENT_FUNDS };
  if (today + amountCents > limits.withdrawalCentsMaxDaily) {
    return overLimit({
      kind: 'withdrawalDaily',
      limitCents: limits.withdrawalCentsMaxDaily,
      leftCents: leftTodayCents,
    });
  }
  return {
    ok: true,
    account: {
      ...account,
      heldCents: account.heldCents + amountCents,
      withdrawnDay: utcDay(nowMs),
      withdrawnTodayCents: today + amountCents,
    },
  };
}

/** Phase two: debit exactly what was dispensed, release the rest of the hold. */
export function decidePost(account: Account, hold: TxnRecord, dispensedCents: unknown, nowMs: number): Decision {
  assertHoldCovered(account, hold, 'post');
  if (!isValidAmountCents(dispensedCents) || dispensedCents > hold.amountCents)
    return { ok: false, code: DeclineCode.INVALID_AMOUNT };
  const released = hold.amountCents - dispensedCents;
  return {
    ok: true,
    account: {
      ...account,
      balanceCents: account.balanceCents - dispensedCents,
      heldCents: account.heldCents - hold.amountCents,
      withdrawnTodayCents: refundToday(account, hold, released, nowMs),
    },
  };
}

/** Phase two on a fault (or timeout): release the whole hold; nothing is debited. */
export function decideVoid(account: Account, hold: TxnRecord, nowMs: number): Account {
  assertHoldCovered(account, hold, 'void');
  return {
    ...account,
    heldCents: account.heldCents - hold.amountCents,
    withdrawnTodayCents: refundToday(account, hold, hold.amountCents, nowMs),
  };
}

/** Money not dispensed no longer counts toward today's limit, if the hold was made today. */
function refundToday(account: Account, hold: TxnRecord, releasedCents: number, nowMs: number): number {
  const sameDay = utcDay(hold.createdAtMs) === account.withdrawnDay && account.withdrawnDay === utcDay(nowMs);
  return sameDay ? Math.max(0, account.withdrawnTodayCents - releasedCents) : account.withdrawnTodayCents;
}

/**
 * Invariant checked on both paths (before commit, after read): never negative, never over-held.
 * A reason rather than a throw, so a test or a tool can ask; the bank asserts it.
 */
export function accountInvariantViolation(account: Account): string | null {
  if (!Number.isSafeInteger(account.balanceCents) || account.balanceCents < 0) return `balance ${account.balanceCents}`;
  if (!Number.isSafeInteger(account.heldCents) || account.heldCents < 0) return `held ${account.heldCents}`;
  if (account.heldCents > account.balanceCents) return `held ${account.heldCents} > balance ${account.balanceCents}`;
  return null;
}

/**
 * [paired assertion] The account invariant, asserted when a batch is built and when an account
 * is read back: a violation means our own code or our own store is wrong, and serving on from
 * such a ledger could pay out money that is not there, so the process stops (ARCHITECTURE.md decision 29).
 */
export function assertAccountValid(account: Account, where: string): void {
  const violation = accountInvariantViolation(account);
  assert(violation === null, `ledger invariant (${where}) of ${account.username}: ${violation}`);
}

/** An open hold is part of its account's heldCents, so settling it can never make that negative. */
function assertHoldCovered(account: Account, hold: TxnRecord, where: string): void {
  assertAccountValid(account, where);
  assert(hold.username === account.username, `${where} of ${hold.txnId}: hold of another account`);
  assert(hold.state === 'held', `${where} of ${hold.txnId}: hold in state ${hold.state}`);
  assert(
    isValidAmountCents(hold.amountCents) && hold.amountCents <= account.heldCents,
    `${where} of ${hold.txnId}: hold ${hold.amountCents} not within held ${account.heldCents}`,
  );
}

/**
 * A transaction record about to be written moves a safe positive amount, and never more than
 * it names: the schema and the decisions refuse anything else first, so this is a bug.
 */
export function assertTxnValid(txn: TxnRecord): void {
  assert(isValidAmountCents(txn.amountCents), `txn ${txn.txnId}: amount ${txn.amountCents}`);
  assert(
    Number.isSafeInteger(txn.postedCents) && txn.postedCents >= 0 && txn.postedCents <= txn.amountCents,
    `txn ${txn.txnId}: posted ${txn.postedCents} of ${txn.amountCents}`,
  );
}
