// [Seam] The ledger store. LevelDB is the embedded default (level-store.ts); the memory
// store is the fake for fast unit tests. Both run one contract suite (test/bank/store.test.ts).
import { assert } from '../protocol/index.js';
import type { Account, AuditHead, AuditToken, LedgerBatch, TxnRecord } from './types.js';
import { EMPTY_AUDIT_HEAD, newestMovedFirst } from './types.js';

/** The most posted transactions one listRecentPostedTxns call may ask for. */
export const RECENT_TXNS_LIMIT_MAX = 100;

/**
 * Contract for implementers:
 * - commit(batch) is atomic (all or nothing) and durable (synced to disk) when it resolves;
 *   it rejects with an Error on any I/O failure (disk full, closed store) and then has
 *   written nothing. Commits never run concurrently: the caller serialises them.
 * - reads see every commit that has resolved.
 * - open holds are an index of txn ids in state 'held', for the expiry sweeper.
 * - listRecentPostedTxns reads a per-account index of posted transactions (money that moved),
 *   kept in the same atomic commit as the transaction records, never a scan of all of them.
 * - audit tokens are the encrypted audit records not yet confirmed in audit.log; they let
 *   a restart repair the log after a crash.
 */
export interface LedgerStore {
  /**
   * True when the store keeps every audit record for good (PostgreSQL: the database is the
   * audit log), so auditTokensPrunedThrough is ignored; false or absent: tokens are pruned.
   */
  readonly keepsAuditRecords?: boolean;
  getAccount(username: string): Promise<Account | null>;
  getTxn(txnId: string): Promise<TxnRecord | null>;
  listOpenHolds(): Promise<string[]>;
  /**
   * The account's transactions in state 'posted', newest first by when they moved
   * (txnMovedAtMs; ties in descending txnId byte order, as newestMovedFirst), at most `limit`
   * (1 ..= RECENT_TXNS_LIMIT_MAX; anything else is a programmer error). [] for an unknown name.
   */
  listRecentPostedTxns(username: string, limit: number): Promise<TxnRecord[]>;
  getAuditHead(): Promise<AuditHead>;
  listAuditTokensAfter(seq: number): Promise<AuditToken[]>;
  commit(batch: LedgerBatch): Promise<void>;
  close(): Promise<void>;
}

/** The fake: same contract, in memory, with a fault knob for disk-full tests. */
export class MemoryLedgerStore implements LedgerStore {
  private readonly accounts = new Map<string, Account>();
  private readonly txns = new Map<string, TxnRecord>();
  private readonly openHolds = new Set<string>();
  private readonly auditTokens = new Map<number, string>();
  private auditHead: AuditHead = EMPTY_AUDIT_HEAD;
  /** Test power: the next commits fail as a full disk would. */
  failCommits = false;
  commits = 0;

  getAccount(username: string): Promise<Account | null> {
    const account = this.accounts.get(username);
    return Promise.resolve(account === undefined ? null : structuredClone(account));
  }
  getTxn(txnId: string): Promise<TxnRecord | null> {
    const txn = this.txns.get(txnId);
    return Promise.resolve(txn === undefined ? null : structuredClone(txn));
  }
  listOpenHolds(): Promise<string[]> {
    return Promise.resolve([...this.openHolds]);
  }
  listRecentPostedTxns(username: string, limit: number): Promise<TxnRecord[]> {
    assertRecentLimit(limit);
    // A scan is fine for the fake; the real stores read their index.
    const posted = [...this.txns.values()].filter((txn) => txn.username === username && txn.state === 'posted');
    return Promise.resolve(
      posted
        .sort(newestMovedFirst)
        .slice(0, limit)
        .map((txn) => structuredClone(txn)),
    );
  }
  getAuditHead(): Promise<AuditHead> {
    return Promise.resolve({ ...this.auditHead });
  }
  listAuditTokensAfter(seq: number): Promise<AuditToken[]> {
    const after = [...this.auditTokens.entries()]
      .filter(([s]) => s > seq)
      .sort((a, b) => a[0] - b[0])
      .map(([s, token]) => ({ seq: s, token }));
    return Promise.resolve(after);
  }
  commit(batch: LedgerBatch): Promise<void> {
    if (this.failCommits) return Promise.reject(new Error('ENOSPC: no space left on device (simulated)'));
    this.commits += 1;
    for (const account of batch.accounts) this.accounts.set(account.username, structuredClone(account));
    for (const txn of batch.txns) this.txns.set(txn.txnId, structuredClone(txn));
    for (const txnId of batch.openHoldsAdded) this.openHolds.add(txnId);
    for (const txnId of batch.openHoldsRemoved) this.openHolds.delete(txnId);
    for (const { seq, token } of batch.auditTokens) this.auditTokens.set(seq, token);
    for (const seq of this.auditTokens.keys()) if (seq <= batch.auditTokensPrunedThrough) this.auditTokens.delete(seq);
    if (batch.auditHead !== null) this.auditHead = { ...batch.auditHead };
    return Promise.resolve();
  }
  close(): Promise<void> {
    return Promise.resolve(); // nothing to release
  }
}

export function assertRecentLimit(limit: number): void {
  assert(
    Number.isSafeInteger(limit) && limit >= 1 && limit <= RECENT_TXNS_LIMIT_MAX,
    `recent transactions limit ${limit} outside 1..${RECENT_TXNS_LIMIT_MAX}`,
  );
}

/**
 * [Seam] Per-key serialisation of a handler's read, decision and durable write. In one process
 * the in-process KeyedMutex (mutex.ts) is enough; hosts sharing a database take a database lock
 * under it as well (pg-store.ts). fn runs with every key held; nested calls may add keys.
 */
export interface LockManager {
  withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T>;
  readonly keysHeld: number;
}
