// Group commit against PostgreSQL, for hosts sharing one ledger and one audit chain. Batches
// queue as in commit.ts, but records are sealed at flush time, not at submit: the chain's head
// is the database's (another host may have moved it), read under SELECT … FOR UPDATE in the
// group's transaction, so the hosts' groups take turns on it and the chain never forks.
//
// A COMMIT whose answer was lost (the connection died) may or may not have landed. The
// committer asks again on a fresh connection, after waiting for the head's row lock (so the
// group's own transaction has finished either way): its first record in the table, byte for
// byte, means it landed. Until that is known nothing is answered; when it cannot be known
// within OUTCOME_RESOLVE_MS the requests get OutcomeUnknownError, which the server answers by
// closing the session, never with a decline: the kiosk asks again with the same txn id.
import type pg from 'pg';
import {
  AuditChain,
  assert,
  rethrowAssertion,
  systemRandomBytes,
  type AuditHead,
  type AuditToken,
  type FernetKey,
  type RandomBytes,
} from '../protocol/index.js';
import type { AuditEntry } from './audit.js';
import { COMMIT_QUEUE_MAX, checkedBatch, type Committer } from './commit.js';
import { PgLedgerStore, StaleWriteError, type Expectations } from './pg-store.js';
import { mergeBatches, type LedgerBatch } from './types.js';

/** How long a commit with a lost answer is asked after before its requests are left unanswered. */
export const OUTCOME_RESOLVE_MS = 30_000;
const RESOLVE_RETRY_MS = [50, 100, 250, 500, 1_000, 2_000];

/** The request's outcome is not known: do not answer it (the kiosk retries the same id). */
export class OutcomeUnknownError extends Error {
  readonly code = 'OUTCOME_UNKNOWN';
}

interface Pending {
  batch: LedgerBatch;
  entries: AuditEntry[];
  expected: Expectations;
  scope: ReturnType<PgLedgerStore['scope']>;
  resolve: () => void;
  reject: (error: Error) => void;
}

export interface PgCommitterOptions {
  store: PgLedgerStore;
  /** The database URL: the committer keeps its own connection, outside the pool. */
  url: string;
  auditKey: FernetKey;
  nowMs: () => number;
  randomBytes?: RandomBytes;
  sleepMs?: (ms: number) => Promise<void>;
  resolveWindowMs?: number;
}

export class PgGroupCommitter implements Committer {
  private queue: Pending[] = [];
  private flushing = false;
  private client: pg.Client | null = null;
  commitsWritten = 0;
  batchesCommitted = 0;
  /** Commits whose answer was lost and then found (landed or not) by asking again. */
  outcomesResolved = 0;

  constructor(private readonly options: PgCommitterOptions) {}

  get queueLength(): number {
    return this.queue.length;
  }

  submit(batch: Partial<LedgerBatch>, entries: AuditEntry[]): Promise<void> {
    if (this.queue.length >= COMMIT_QUEUE_MAX) return Promise.reject(new Error('commit queue full'));
    assert(entries.length > 0, 'a commit without an audit record');
    const full = checkedBatch(batch);
    const expected = this.options.store.expectationsOf(full);
    const scope = this.options.store.scope();
    const done = new Promise<void>((resolve, reject) =>
      this.queue.push({ batch: full, entries, expected, scope, resolve, reject }),
    );
    if (!this.flushing) void this.flush();
    return done;
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      const failure = await this.write(group);
      if (failure instanceof StaleWriteError && group.length > 1) {
        // One request's fenced row moved (its host lost a lock): the others need not fail with it.
        for (const pending of group) this.settle([pending], await this.write([pending]));
        continue;
      }
      this.settle(group, failure);
    }
    this.flushing = false;
  }

  private settle(group: Pending[], failure: Error | null): void {
    if (failure !== null) {
      for (const pending of group) pending.reject(failure);
      return;
    }
    this.commitsWritten += 1;
    this.batchesCommitted += group.length;
    for (const pending of group) {
      PgLedgerStore.advance(pending.expected, pending.scope);
      pending.resolve();
    }
  }

  /** Writes one group in one transaction; null when durable, else why not. */
  private async write(group: Pending[]): Promise<Error | null> {
    const merged = mergeBatches(group.map((pending) => pending.batch));
    const expected = mergeExpectations(group.map((pending) => pending.expected));
    // Set by seal(), which runs inside commitSealed once the head is locked.
    const progress: { first: AuditToken | null } = { first: null };
    const seal = (head: AuditHead): { tokens: AuditToken[]; head: AuditHead | null } => {
      const chain = new AuditChain(this.options.auditKey, head, this.options.randomBytes ?? systemRandomBytes);
      const nowMs = this.options.nowMs();
      const tokens: AuditToken[] = [];
      let last: AuditHead | null = null;
      for (const pending of group) {
        for (const entry of pending.entries) {
          const sealed = chain.seal(entry, nowMs);
          tokens.push(sealed.token);
          last = sealed.head;
        }
      }
      progress.first = tokens[0] ?? null;
      return { tokens, head: last };
    };
    try {
      const client = await this.connection();
      await this.options.store.commitSealed(client, merged, expected, seal);
      return null;
    } catch (error) {
      rethrowAssertion(error);
      const failure = error instanceof Error ? error : new Error(String(error));
      if (isServerError(failure)) return failure; // the server refused: rolled back, nothing landed
      this.dropConnection();
      if (progress.first === null) return failure; // failed before anything was written
      return this.resolveOutcome(progress.first, failure);
    }
  }

  /** After a lost answer: null when the group landed, an error saying why not or unknown. */
  private async resolveOutcome(first: AuditToken, cause: Error): Promise<Error | null> {
    const sleep = this.options.sleepMs ?? ((ms: number) => new Promise((resolve) => setTimeout(resolve, ms)));
    const deadlineMs = Date.now() + (this.options.resolveWindowMs ?? OUTCOME_RESOLVE_MS);
    for (let attempt = 0; Date.now() < deadlineMs; attempt++) {
      try {
        const client = await this.connection();
        await client.query('BEGIN');
        try {
          // Waits for the lost transaction itself if it still holds the head.
          await client.query('SELECT seq FROM audit_head FOR UPDATE');
          const found = await client.query<{ token: string }>('SELECT token FROM audit_records WHERE seq = $1', [
            first.seq,
          ]);
          this.outcomesResolved += 1;
          if (found.rows[0]?.token === first.token) return null;
          return new Error(`commit did not land (${cause.message})`);
        } finally {
          await client.query('ROLLBACK').catch(() => undefined);
        }
      } catch (error) {
        rethrowAssertion(error);
        this.dropConnection();
      }
      await sleep(RESOLVE_RETRY_MS[Math.min(attempt, RESOLVE_RETRY_MS.length - 1)] as number);
    }
    return new OutcomeUnknownError(`commit outcome unknown after ${cause.message}`);
  }

  private async connection(): Promise<pg.Client> {
    this.client ??= await this.options.store.dedicatedClient(this.options.url);
    return this.client;
  }

  private dropConnection(): void {
    const client = this.client;
    this.client = null;
    void client?.end().catch(() => undefined);
  }

  async drain(): Promise<void> {
    while (this.flushing || this.queue.length > 0) await new Promise((resolve) => setImmediate(resolve));
  }

  async close(): Promise<void> {
    await this.drain();
    const client = this.client;
    this.client = null;
    await client?.end().catch(() => undefined);
  }
}

/** A server's own refusal (a SQLSTATE other than a lost connection's) leaves nothing written. */
function isServerError(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  if (error instanceof StaleWriteError) return true;
  // Class 08 is a connection exception; 57P01-57P03 the server going down under us.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !code.startsWith('08') && !code.startsWith('57P');
}

function mergeExpectations(all: Expectations[]): Expectations {
  const merged: Expectations = { accounts: new Map(), txns: new Map() };
  for (const expectations of all) {
    for (const [key, version] of expectations.accounts) {
      assert(!merged.accounts.has(key), `account ${key} written by two requests of one group`);
      merged.accounts.set(key, version);
    }
    for (const [key, version] of expectations.txns) {
      assert(!merged.txns.has(key), `txn ${key} written by two requests of one group`);
      merged.txns.set(key, version);
    }
  }
  return merged;
}
