// The only file that touches the LevelDB handle. Keys are namespaced strings; values JSON.
//   acct!<username>  txn!<txnId>  hold!<txnId>  audit!<seq, 12 digits>  meta!auditHead
import { Level } from 'level';
import type { LedgerStore } from './store.js';
import type { Account, AuditHead, AuditToken, LedgerBatch, TxnRecord } from './types.js';
import { EMPTY_AUDIT_HEAD } from './types.js';
import { TxnIdFilter } from './txn-filter.js';

type BatchOp = { type: 'put'; key: string; value: unknown } | { type: 'del'; key: string };

const auditKey = (seq: number): string => `audit!${String(seq).padStart(12, '0')}`;

export class LevelLedgerStore implements LedgerStore {
  /** Audit tokens at or below this seq are deleted already (so a prune deletes only the new ones). */
  private prunedThrough: number | null = null;

  private constructor(
    private readonly db: Level<string, unknown>,
    private readonly txnIds: TxnIdFilter,
  ) {}

  /**
   * Opens (creating if missing). Fails fast if another process holds the lock. Reads every
   * transaction id into the filter first (keys only: ~1 s per million transactions).
   */
  static async open(location: string): Promise<LevelLedgerStore> {
    const db = new Level<string, unknown>(location, { valueEncoding: 'json' });
    await db.open();
    const txnIds = new TxnIdFilter();
    for await (const key of db.keys({ gt: 'txn!', lt: 'txn!\xff' })) txnIds.add(key.slice('txn!'.length));
    return new LevelLedgerStore(db, txnIds);
  }

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
  async listOpenHolds(): Promise<string[]> {
    const txnIds: string[] = [];
    for await (const key of this.db.keys({ gt: 'hold!', lt: 'hold!\xff' })) txnIds.push(key.slice('hold!'.length));
    return txnIds;
  }
  async getAuditHead(): Promise<AuditHead> {
    return (await this.read<AuditHead>('meta!auditHead')) ?? { ...EMPTY_AUDIT_HEAD };
  }
  async listAuditTokensAfter(seq: number): Promise<AuditToken[]> {
    const tokens: AuditToken[] = [];
    for await (const [key, value] of this.db.iterator({ gt: auditKey(seq), lt: 'audit!\xff' })) {
      tokens.push({ seq: Number(key.slice('audit!'.length)), token: value as string });
    }
    return tokens;
  }

  async commit(batch: LedgerBatch): Promise<void> {
    const ops: BatchOp[] = [];
    for (const account of batch.accounts) ops.push({ type: 'put', key: `acct!${account.username}`, value: account });
    for (const txn of batch.txns) ops.push({ type: 'put', key: `txn!${txn.txnId}`, value: txn });
    for (const txnId of batch.openHoldsAdded) ops.push({ type: 'put', key: `hold!${txnId}`, value: 1 });
    for (const txnId of batch.openHoldsRemoved) ops.push({ type: 'del', key: `hold!${txnId}` });
    for (const { seq, token } of batch.auditTokens) ops.push({ type: 'put', key: auditKey(seq), value: token });
    const pruneThrough = batch.auditTokensPrunedThrough;
    if (pruneThrough > 0 && this.prunedThrough === null) {
      // The first prune since opening looks for what is left; later ones know the range.
      for await (const key of this.db.keys({ gt: 'audit!', lte: auditKey(pruneThrough) })) {
        ops.push({ type: 'del', key });
      }
    } else if (this.prunedThrough !== null) {
      for (let seq = this.prunedThrough + 1; seq <= pruneThrough; seq += 1)
        ops.push({ type: 'del', key: auditKey(seq) });
    }
    if (batch.auditHead !== null) ops.push({ type: 'put', key: 'meta!auditHead', value: batch.auditHead });
    if (ops.length === 0) return;
    // [DESIGN §4] one atomic batch, synced before anyone is told it happened.
    await this.db.batch(ops, { sync: true });
    for (const txn of batch.txns) this.txnIds.add(txn.txnId);
    if (pruneThrough > 0) this.prunedThrough = Math.max(this.prunedThrough ?? 0, pruneThrough);
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
