// Group commit: every request's batch joins a queue; one synced LevelDB write carries all
// batches queued while the previous write was in flight. Audit records are sealed (given
// their sequence number and chain hash) when a batch is submitted, so queue order is chain
// order. If a write fails (disk full), that write and everything queued behind it fail,
// because their chain links point at records that never became durable; the chain is
// reset to the last durable head and the bank carries on serving.
import type { AuditChain, AuditEntry, AuditLogFile } from './audit.js';
import type { LedgerStore } from './store.js';
import { emptyBatch, mergeBatches, type AuditHead, type LedgerBatch } from './types.js';

interface Pending {
  batch: LedgerBatch;
  resolve: () => void;
  reject: (error: Error) => void;
}

export const COMMIT_QUEUE_MAX = 10_000;

export class GroupCommitter {
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
    const full: LedgerBatch = { ...emptyBatch(), ...batch };
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
      try {
        await this.store.commit(merged);
      } catch (error) {
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
      if (this.auditFileError === null && merged.auditTokens.length > 0) {
        try {
          await this.auditLog.append(merged.auditTokens);
          this.prunedThrough = this.auditLog.syncedHead.seq;
        } catch (error) {
          // The ledger is durable and keeps the tokens; the next start repairs the file.
          this.auditFileError = error instanceof Error ? error : new Error(String(error));
        }
      }
      for (const pending of group) pending.resolve();
    }
    this.flushing = false;
  }

  /** Resolves when everything submitted so far is durable (or has failed). */
  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }
}
