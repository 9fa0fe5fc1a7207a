// The only file that touches the LevelDB handle. Keys are namespaced strings; values JSON.
//   acct!<username>  txn!<txnId>  hold!<txnId>  audit!<seq, 12 digits>  meta!auditHead
//   meta!auditPrunedThrough (tokens at or below it are in audit.log: gone, whatever is left on disk)
//   posted!<username>!<moved-at ms, 15 digits>!<txnId>  the statement's index (listRecentPostedTxns)
//   meta!layout (LAYOUT_VERSION once the posted index is complete; absent in a ledger made before it)
import { Level } from 'level';
import { assertRecentLimit, type LedgerStore } from './store.js';
import type { Account, AuditHead, AuditToken, LedgerBatch, TxnRecord } from './types.js';
import { EMPTY_AUDIT_HEAD, txnMovedAtMs } from './types.js';
import { TxnIdFilter } from './txn-filter.js';
import { assert, planted } from '../protocol/index.js';

type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };
/** An operation already encoded: what classic-level's native batch reads (type, key, value). */
type EncodedOp = { type: 'put'; key: string; value: string } | { type: 'del'; key: string };
type EncodedBatch = (operations: EncodedOp[], options: { sync: boolean }) => Promise<void>;

/**
 * classic-level's own batch (abstract-level's documented implementer API, `_batch`), when the
 * installed version has it. abstract-level's public batch() clones, validates and transcodes
 * every operation in JavaScript (~6 µs each here; a group commit has ~40): the native batch
 * takes the same keys and JSON strings directly, at a third of the main-thread time. The store
 * contract suite runs on this path; without `_batch` the public one is used.
 */
function encodedBatchOf(db: Level<string, unknown>): EncodedBatch | null {
  const candidate = (db as unknown as { _batch?: unknown })._batch;
  return typeof candidate === 'function' ? (candidate.bind(db) as EncodedBatch) : null;
}

const auditKey = (seq: number): string => `audit!${String(seq).padStart(12, '0')}`;
const PRUNED_THROUGH_KEY = 'meta!auditPrunedThrough';
const LAYOUT_KEY = 'meta!layout';
/** 2: every posted transaction has its posted! index key. A ledger without the mark is backfilled once at open. */
export const LAYOUT_VERSION = 2;
/** Index keys written per synced batch while backfilling an older ledger. */
const BACKFILL_BATCH_OPS = 1_000;
/** Epoch ms fit 15 digits until the year 33658; the padding keeps the keys in time order. */
const MOVED_AT_DIGITS = 15;

const postedPrefix = (username: string): string => `posted!${username}!`;
/** A posted transaction's index key: its account, when it moved, its id (a username has no '!'). */
function postedKey(txn: TxnRecord): string {
  const movedAtMs = txnMovedAtMs(txn);
  assert(
    Number.isSafeInteger(movedAtMs) && movedAtMs >= 0 && String(movedAtMs).length <= MOVED_AT_DIGITS,
    `txn ${txn.txnId}: moved at ${movedAtMs}`,
  );
  return `${postedPrefix(txn.username)}${String(movedAtMs).padStart(MOVED_AT_DIGITS, '0')}!${txn.txnId}`;
}
/** Always true but for the torture suite's planted skip-fsync (protocol/faults.ts), read once. */
const SYNC_WRITES = !planted('skip-fsync');

export class LevelLedgerStore implements LedgerStore {
  /** The background delete of pruned tokens in flight, if any (close waits for it). */
  private clearing: Promise<void> | null = null;
  /** Tokens at or below this seq are deleted on disk (0 at open: the first clear finds out). */
  private clearedThrough = 0;

  private encodedBatch: EncodedBatch | null;
  /**
   * A write that failed (a full disk) leaves LevelDB's log in an unknown state: its writer drops
   * the unwritten bytes but not its block offset, so the records written after it are garbage
   * to the next open, and LevelDB itself refuses further writes only after a failed sync, not a
   * failed write. Measured (test/torture/disk-full.ts): 20 commits acknowledged after space came
   * back were gone at the next open. So after any failed write the handle is closed and opened
   * again (recovery keeps everything synced before the failure) before anything else is written.
   */
  private writeFailed: Error | null = null;

  /** Which batch path commits take (a test pins 'native', so an upgrade cannot lose it unseen). */
  get batchPath(): 'native' | 'public' {
    return this.encodedBatch === null ? 'public' : 'native';
  }

  private constructor(
    private readonly location: string,
    private db: Level<string, unknown>,
    private readonly txnIds: TxnIdFilter,
    /** Tokens at or below this seq are pruned: never listed again, deleted in the background. */
    private prunedThrough: number,
  ) {
    this.encodedBatch = encodedBatchOf(db);
  }

  /**
   * Opens (creating if missing). Fails fast if another process holds the lock. Reads every
   * transaction id into the filter first (keys only: ~1 s per million transactions).
   */
  static async open(location: string): Promise<LevelLedgerStore> {
    const db = new Level<string, unknown>(location, { valueEncoding: 'json' });
    await db.open();
    const txnIds = new TxnIdFilter();
    for await (const key of db.keys({ gt: 'txn!', lt: 'txn!\xff' })) txnIds.add(key.slice('txn!'.length));
    const store = new LevelLedgerStore(
      location,
      db,
      txnIds,
      ((await db.get(PRUNED_THROUGH_KEY)) as number | undefined) ?? 0,
    );
    try {
      store.backfilledTxns = await backfillPostedIndex(db);
    } catch (error) {
      await db.close().catch(() => undefined);
      throw error;
    }
    store.clearPruned(); // what a crash left between a prune and its delete
    return store;
  }

  /** Posted transactions indexed by this open's backfill (0 once the ledger has its layout mark). */
  backfilledTxns = 0;

  private async read<T>(key: string): Promise<T | null> {
    const value = await this.db.get(key);
    return value === undefined ? null : (value as T);
  }

  getAccount(username: string): Promise<Account | null> {
    return this.read<Account>(`acct!${username}`);
  }
  getTxn(txnId: string): Promise<TxnRecord | null> {
    if (!this.txnIds.mightHave(txnId)) return Promise.resolve(null);
    return this.read<TxnRecord>(`txn!${txnId}`);
  }
  /** Every account, in username order (for `atm db import`; not part of the seam). */
  async *allAccounts(): AsyncGenerator<Account> {
    for await (const value of this.db.values({ gt: 'acct!', lt: 'acct!\xff' })) yield value as Account;
  }
  /** Every transaction, in id order (for `atm db import`). */
  async *allTxns(): AsyncGenerator<TxnRecord> {
    for await (const value of this.db.values({ gt: 'txn!', lt: 'txn!\xff' })) yield value as TxnRecord;
  }
  async listOpenHolds(): Promise<string[]> {
    const txnIds: string[] = [];
    for await (const key of this.db.keys({ gt: 'hold!', lt: 'hold!\xff' })) txnIds.push(key.slice('hold!'.length));
    return txnIds;
  }
  async listRecentPostedTxns(username: string, limit: number): Promise<TxnRecord[]> {
    assertRecentLimit(limit);
    const prefix = postedPrefix(username);
    const keys: string[] = [];
    for await (const key of this.db.keys({ gt: prefix, lt: `${prefix}\xff`, reverse: true, limit })) keys.push(key);
    const records = await this.db.getMany(keys.map((key) => `txn!${key.slice(key.lastIndexOf('!') + 1)}`));
    return records.map((value, index) => {
      const txn = value as TxnRecord | undefined;
      // [paired check] The index key and its record are written in one batch and posted is a
      // final state, so a key without its posted record is a bug, not a race.
      assert(txn?.state === 'posted' && postedKey(txn) === keys[index], `index key ${keys[index]} without its record`);
      return txn;
    });
  }
  async getAuditHead(): Promise<AuditHead> {
    return (await this.read<AuditHead>('meta!auditHead')) ?? { ...EMPTY_AUDIT_HEAD };
  }
  async listAuditTokensAfter(seq: number): Promise<AuditToken[]> {
    const tokens: AuditToken[] = [];
    const after = auditKey(Math.max(seq, this.prunedThrough));
    for await (const [key, value] of this.db.iterator({ gt: after, lt: 'audit!\xff' })) {
      tokens.push({ seq: Number(key.slice('audit!'.length)), token: value as string });
    }
    return tokens;
  }

  async commit(batch: LedgerBatch): Promise<void> {
    const ops: BatchOp[] = [];
    for (const account of batch.accounts) ops.push({ type: 'put', key: `acct!${account.username}`, value: account });
    for (const txn of batch.txns) {
      ops.push({ type: 'put', key: `txn!${txn.txnId}`, value: txn });
      if (txn.state === 'posted') ops.push({ type: 'put', key: postedKey(txn), value: 1 });
    }
    for (const txnId of batch.openHoldsAdded) ops.push({ type: 'put', key: `hold!${txnId}`, value: 1 });
    for (const txnId of batch.openHoldsRemoved) ops.push({ type: 'del', key: `hold!${txnId}` });
    for (const { seq, token } of batch.auditTokens) ops.push({ type: 'put', key: auditKey(seq), value: token });
    // A prune is one key in the synced batch, not a delete per token (a quarter of the batch's
    // operations, and LevelDB batches were a fifth of the bank's CPU): the tokens it covers
    // are gone for every reader at once and deleted on disk later, by LevelDB, off the event loop.
    const pruneThrough = batch.auditTokensPrunedThrough;
    const prunes = pruneThrough > this.prunedThrough;
    if (prunes) ops.push({ type: 'put', key: PRUNED_THROUGH_KEY, value: pruneThrough });
    if (batch.auditHead !== null) ops.push({ type: 'put', key: 'meta!auditHead', value: batch.auditHead });
    if (ops.length === 0) return;
    if (this.writeFailed !== null) await this.reopen();
    // [DESIGN §4] one atomic batch, synced before anyone is told it happened.
    try {
      if (this.encodedBatch !== null && this.db.status === 'open') {
        const encoded = ops.map((op): EncodedOp =>
          op.type === 'put' ? { type: 'put', key: op.key, value: JSON.stringify(op.value) } : op,
        );
        await this.encodedBatch(encoded, { sync: SYNC_WRITES });
      } else {
        await this.db.batch(ops, { sync: SYNC_WRITES });
      }
    } catch (error) {
      this.writeFailed = error instanceof Error ? error : new Error(String(error));
      throw error;
    }
    for (const txn of batch.txns) this.txnIds.add(txn.txnId);
    if (prunes) {
      this.prunedThrough = pruneThrough;
      this.clearPruned();
    }
  }

  /**
   * Deletes pruned tokens still on disk, one range delete at a time (prunes come at most once
   * a second: when audit.log is synced). Not synced and not atomic with anything: a token at
   * or below the prune mark is never read again, so a crash here only leaves it for the next.
   */
  private clearPruned(): void {
    if (this.clearing !== null || this.clearedThrough >= this.prunedThrough) return;
    const through = this.prunedThrough;
    this.clearing = this.db
      .clear({ gt: 'audit!', lte: auditKey(through) })
      .then(
        () => {
          this.clearedThrough = through;
        },
        (error: unknown) => {
          // A full disk (the next prune tries again, after the reopen), or closing.
          if (this.db.status === 'open') this.writeFailed = error instanceof Error ? error : new Error(String(error));
        },
      )
      .finally(() => {
        this.clearing = null;
        if (this.db.status === 'open') this.clearPruned();
      });
  }

  /**
   * Closes the handle and opens it again, after a failed write: LevelDB's recovery replays the
   * log up to the failed record and starts a new one. Throws (the commit then fails as the
   * failed one did) while the disk is still full; the next commit tries again.
   */
  private async reopen(): Promise<void> {
    while (this.clearing !== null) await this.clearing;
    if (this.db.status === 'open') await this.db.close();
    const db = new Level<string, unknown>(this.location, { valueEncoding: 'json' });
    await db.open();
    this.db = db;
    this.encodedBatch = encodedBatchOf(db);
    this.writeFailed = null;
  }

  async close(): Promise<void> {
    while (this.clearing !== null) await this.clearing;
    await this.db.close();
  }
}

/**
 * A ledger written before the posted index has none: index every posted transaction once, in
 * synced batches, then set the layout mark in a last one. Idempotent (the same keys again), so
 * a crash part-way only means the next open does it again. Returns how many it indexed.
 */
async function backfillPostedIndex(db: Level<string, unknown>): Promise<number> {
  if (((await db.get(LAYOUT_KEY)) as number | undefined) === LAYOUT_VERSION) return 0;
  let indexed = 0;
  let ops: { type: 'put'; key: string; value: number }[] = [];
  for await (const value of db.values({ gt: 'txn!', lt: 'txn!\xff' })) {
    const txn = value as TxnRecord;
    if (txn.state !== 'posted') continue;
    ops.push({ type: 'put', key: postedKey(txn), value: 1 });
    indexed += 1;
    if (ops.length >= BACKFILL_BATCH_OPS) {
      await db.batch(ops, { sync: SYNC_WRITES });
      ops = [];
    }
  }
  await db.batch([...ops, { type: 'put', key: LAYOUT_KEY, value: LAYOUT_VERSION }], { sync: SYNC_WRITES });
  return indexed;
}
