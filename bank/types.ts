// The bank's durable records. Amounts are integer cents; times are epoch milliseconds.
import type { StoredResponse } from '../protocol/index.js';

export interface Account {
  username: string;
  passwordHash: string; // bcrypt
  balanceCents: number; // ledger balance, holds not subtracted
  heldCents: number; // sum of open withdrawal holds
  failedLogins: number;
  lockedUntilMs: number; // 0: not locked
  withdrawnDay: string; // UTC day (YYYY-MM-DD) that withdrawnTodayCents counts
  withdrawnTodayCents: number;
  createdAtMs: number;
}

export type TxnKind = 'deposit' | 'withdraw';
export type TxnState = 'posted' | 'held' | 'voided' | 'declined';

/** Idempotency and two-phase state of one kiosk-created transaction id. */
export interface TxnRecord {
  txnId: string;
  kind: TxnKind;
  username: string;
  kioskId: string;
  amountCents: number; // requested (deposit) or held (withdraw)
  postedCents: number; // what actually moved
  state: TxnState;
  createdAtMs: number;
  holdExpiresAtMs?: number;
  settledAtMs?: number;
  /** The first answer, returned again (with the new request id) to a repeat of this id. */
  response: StoredResponse<'deposit' | 'withdraw.hold'>;
  /** The answer to the post or void that settled a hold. */
  settleResponse?: StoredResponse<'withdraw.post' | 'withdraw.void'>;
}

import type { AuditHead, AuditToken } from '../protocol/index.js';

export { AUDIT_GENESIS_HASH, EMPTY_AUDIT_HEAD, type AuditHead, type AuditToken } from '../protocol/index.js';

/** Everything one request (or one group commit) changes, written as one atomic synced batch. */
export interface LedgerBatch {
  accounts: Account[];
  txns: TxnRecord[];
  openHoldsAdded: string[]; // txn ids
  openHoldsRemoved: string[];
  auditTokens: AuditToken[];
  auditHead: AuditHead | null; // null: unchanged
  auditTokensPrunedThrough: number; // tokens with seq <= this are in audit.log already; 0 = none
}

export function emptyBatch(): LedgerBatch {
  return {
    accounts: [],
    txns: [],
    openHoldsAdded: [],
    openHoldsRemoved: [],
    auditTokens: [],
    auditHead: null,
    auditTokensPrunedThrough: 0,
  };
}

/** Later batches win for the same key; audit tokens keep their order. */
export function mergeBatches(batches: LedgerBatch[]): LedgerBatch {
  const merged = emptyBatch();
  const accounts = new Map<string, Account>();
  const txns = new Map<string, TxnRecord>();
  for (const batch of batches) {
    for (const account of batch.accounts) accounts.set(account.username, account);
    for (const txn of batch.txns) txns.set(txn.txnId, txn);
    merged.openHoldsAdded.push(...batch.openHoldsAdded);
    merged.openHoldsRemoved.push(...batch.openHoldsRemoved);
    merged.auditTokens.push(...batch.auditTokens);
    if (batch.auditHead !== null) merged.auditHead = batch.auditHead;
    merged.auditTokensPrunedThrough = Math.max(merged.auditTokensPrunedThrough, batch.auditTokensPrunedThrough);
  }
  merged.accounts = [...accounts.values()];
  merged.txns = [...txns.values()];
  const removed = new Set(merged.openHoldsRemoved);
  merged.openHoldsAdded = merged.openHoldsAdded.filter((txnId) => !removed.has(txnId));
  return merged;
}

/** When a transaction's money moved: a withdrawal when it was posted, a deposit when it was made. */
export function txnMovedAtMs(txn: TxnRecord): number {
  return txn.settledAtMs ?? txn.createdAtMs;
}

/**
 * The order of an account's statement: the latest to move first; one instant's in descending
 * txnId (byte order), which is the order of LevelDB's index keys and PostgreSQL's C collation.
 */
export function newestMovedFirst(a: TxnRecord, b: TxnRecord): number {
  const byTime = txnMovedAtMs(b) - txnMovedAtMs(a);
  if (byTime !== 0) return byTime;
  return a.txnId < b.txnId ? 1 : a.txnId > b.txnId ? -1 : 0;
}
