// Group commit: every request's batch joins a queue; one synced LevelDB write carries all
// batches queued while the previous write was in flight. Audit records are sealed (given
// their sequence number and chain hash) when a batch is submitted, so queue order is chain
// order. If a write fails (disk full), that write and everything queued behind it fail,
// because their chain links point at records that never became durable; the chain is
// reset to the last durable head and the bank carries on serving.
import { assert, faultPoint, rethrowAssertion } from '../protocol/index.js';
import type { AuditChain, AuditEntry, AuditLogFile } from './audit.js';
import { assertAccountValid, assertTxnValid } from './ledger.js';
import type { LedgerStore } from './store.js';
import { emptyBatch, mergeBatches, type AuditHead, type AuditToken, type LedgerBatch } from './types.js';

interface Pending {
  batch: LedgerBatch;
  resolve: () => void;
  reject: (error: Error) => void;
}

export const COMMIT_QUEUE_MAX = 10_000;

/**
 * [Seam] What a handler hands its batch and audit records to: resolves once both are durable,
 * rejects (having written nothing) otherwise. GroupCommitter is the embedded one (LevelDB and
 * audit.log); PgGroupCommitter (pg-commit.ts) seals against the database's chain.
 */
export interface Committer {
  submit(batch: Partial<LedgerBatch>, entries: AuditEntry[]): Promise<void>;
  /** Resolves when everything submitted so far is durable or has failed. */
  drain(): Promise<void>;
  readonly queueLength: number;
  readonly commitsWritten: number;
  readonly batchesCommitted: number;
}

export class GroupCommitter implements Committer {
  private queue: Pending[] = [];
  private flushing = false;
  private durableHead: AuditHead;
  private prunedThrough = 0;
  commitsWritten = 0;
  batchesCommitted = 0;
  /** Set when audit.log could not be appended; the store keeps the tokens for repair. */
  auditFileError: Error | null = null;

  constructor(
    private readonly store: LedgerStore,
    private readonly chain: AuditChain,
    private readonly auditLog: AuditLogFile,
    private readonly nowMs: () => number,
  ) {
    this.durableHead = chain.currentHead;
  }

  get queueLength(): number {
    return this.queue.length;
  }

  /** Seals the audit entries into the batch and queues it; resolves once durable. */
  submit(batch: Partial<LedgerBatch>, entries: AuditEntry[]): Promise<void> {
    if (this.queue.length >= COMMIT_QUEUE_MAX) return Promise.reject(new Error('commit queue full'));
    const full = checkedBatch(batch);
    const nowMs = this.nowMs();
    for (const entry of entries) {
      const sealed = this.chain.seal(entry, nowMs);
      full.auditTokens.push(sealed.token);
      full.auditHead = sealed.head;
    }
    const done = new Promise<void>((resolve, reject) => this.queue.push({ batch: full, resolve, reject }));
    if (!this.flushing) void this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const merged = mergeBatches(group.map((pending) => pending.batch));
      merged.auditTokensPrunedThrough = this.prunedThrough;
      assertBatchFollows(merged, this.durableHead);
      try {
        // Test-only crash points (protocol/faults.ts): inert unless ATM_TEST_FAULTS is set.
        faultPoint('commit.beforeBatch');
        const writing = this.store.commit(merged);
        faultPoint('commit.insideBatch');
        await writing;
      } catch (error) {
        rethrowAssertion(error);
        const failure = error instanceof Error ? error : new Error(String(error));
        const behind = this.queue;
        this.queue = [];
        this.chain.resetTo(this.durableHead);
        for (const pending of [...group, ...behind]) pending.reject(failure);
        continue;
      }
      this.commitsWritten += 1;
      this.batchesCommitted += group.length;
      if (merged.auditHead !== null) this.durableHead = merged.auditHead;
      // The lines go into audit.log before the answers (a page-cache write, synced later):
      // the ledger holds the tokens durably and keeps each until the file is synced past it.
      faultPoint('commit.afterBatch');
      if (this.auditFileError === null && merged.auditTokens.length > 0) this.appendToFile(merged.auditTokens);
      faultPoint('commit.afterAudit');
      for (const pending of group) pending.resolve();
    }
    this.flushing = false;
  }

  private appendToFile(tokens: AuditToken[]): void {
    try {
      this.auditLog.append(tokens);
      this.prunedThrough = this.auditLog.syncedHead.seq;
    } catch (error) {
      // An out-of-order append is a bug, not a full disk: it must not be parked here.
      rethrowAssertion(error);
      // The ledger is durable and keeps the tokens; the next start repairs the file.
      this.auditFileError = error instanceof Error ? error : new Error(String(error));
    }
  }

  /** Resolves when everything submitted so far is durable (or has failed) and audit.log synced as far as it goes. */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
    await this.auditLog.flushed().catch(() => undefined);
  }
}

/** A handler's partial batch made whole, its accounts and transactions asserted sound (both committers). */
export function checkedBatch(batch: Partial<LedgerBatch>): LedgerBatch {
  const full: LedgerBatch = { ...emptyBatch(), ...batch };
  for (const account of full.accounts) assertAccountValid(account, 'batch built');
  for (const txn of full.txns) assertTxnValid(txn);
  return full;
}

/**
 * [paired assertion, append side] A group's audit tokens continue the durable chain with no
 * gap: seq head+1, head+2, … and the batch's new head is its last token. Records are sealed
 * in queue order and a failed write resets the chain, so anything else is a bug in this file.
 */
export function assertBatchFollows(batch: LedgerBatch, durableHead: AuditHead): void {
  batch.auditTokens.forEach((token, index) => {
    assert(
      token.seq === durableHead.seq + 1 + index,
      `audit token ${token.seq} in a batch after head ${durableHead.seq}`,
    );
  });
  const last = batch.auditTokens.at(-1);
  if (last === undefined) assert(batch.auditHead === null, 'a batch without audit tokens moves the audit head');
  else
    assert(batch.auditHead?.seq === last.seq, `batch head ${batch.auditHead?.seq} is not its last token ${last.seq}`);
  for (const account of batch.accounts) assertAccountValid(account, 'batch merged');
}
