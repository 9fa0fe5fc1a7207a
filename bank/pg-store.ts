// [Seam implementation] The ledger on PostgreSQL, for a network of bank hosts sharing one
// database (ARCHITECTURE.md decision 32). LevelDB stays the embedded default.
//
// What changes when several hosts write one ledger:
// - Locks: a handler's per-key lock (service-core's `locks`) is this host's in-process mutex
//   and, under it, a PostgreSQL session advisory lock on a pooled connection that the handler
//   keeps until its batch is durable. The handler's reads run on that same connection (an
//   AsyncLocalStorage scope), so a pool full of lock holders can never wait on itself.
// - Fencing: a read under a lock remembers the row's version; the write names it, and
//   atm_commit refuses a row that moved (SQLSTATE ATM01): a host whose database session dropped
//   (and with it its locks) cannot overwrite what another host wrote meanwhile.
// - The audit chain is the database's: PgGroupCommitter seals a group's records against the
//   head it locks (SELECT … FOR UPDATE) in the same transaction as the money.
// Nothing is cached: another host may have written any row since.
import { AsyncLocalStorage } from 'node:async_hooks';
import crypto from 'node:crypto';
import pg from 'pg';
import { AtmError, assert, assertAuditHead } from '../protocol/index.js';
import { KeyedMutex } from './mutex.js';
import { RECENT_POSTED_SQL, STALE_WRITE_SQLSTATE, StoreError, schemaMismatch } from './pg-schema.js';
import { redactUrl } from './pg-url.js';
import { assertRecentLimit, type LedgerStore, type LockManager } from './store.js';
import type { Account, AuditHead, AuditToken, LedgerBatch, TxnRecord } from './types.js';

export interface PgStoreOptions {
  /** Connections in the pool: the lock holders and the reads outside locks (default 16). */
  poolSize?: number;
  /** Each statement is cancelled after this long (default 5,000 ms). */
  statementTimeoutMs?: number;
  /** Waiting for another host's lock gives up after this long (default 5,000 ms). */
  lockTimeoutMs?: number;
  /** Written beside each audit record, and the connections' application_name. */
  hostId?: string;
}

export const PG_POOL_SIZE_DEFAULT = 16;
export const PG_STATEMENT_TIMEOUT_MS_DEFAULT = 5_000;
export const PG_LOCK_TIMEOUT_MS_DEFAULT = 5_000;
/** Rows a lock scope remembers versions of; a handler reads two or three. */
const SCOPE_ROWS_MAX = 64;

/** What a write of a row expects to find: a version, or (null) no row at all. */
type Expected = number | null;

/** One outermost lock scope: its connection, the keys held, the versions it read. */
interface LockScope {
  client: pg.PoolClient;
  keys: Set<string>;
  accounts: Map<string, Expected>;
  txns: Map<string, Expected>;
}

/** The versions a batch's rows were read at, for a fenced write. */
export interface Expectations {
  accounts: Map<string, Expected>;
  txns: Map<string, Expected>;
}

function toNumber(value: string | number | null, what: string): number {
  const parsed = typeof value === 'number' ? value : Number(value);
  assert(value !== null && Number.isSafeInteger(parsed), `${what}: ${String(value)} is not a safe integer`);
  return parsed;
}

function optionalNumber(value: string | number | null, what: string): number | undefined {
  return value === null ? undefined : toNumber(value, what);
}

/** A lock key's 64-bit advisory lock id (the first 8 bytes of its SHA-256, signed). */
export function advisoryLockId(key: string): string {
  return crypto.createHash('sha256').update(key).digest().readBigInt64BE(0).toString();
}

interface AccountRow {
  username: string;
  password_hash: string;
  balance_cents: string;
  held_cents: string;
  failed_logins: number;
  locked_until_ms: string;
  withdrawn_day: string;
  withdrawn_today_cents: string;
  created_at_ms: string;
  version: string;
}

interface TxnRow {
  txn_id: string;
  kind: TxnRecord['kind'];
  username: string;
  kiosk_id: string;
  amount_cents: string;
  posted_cents: string;
  state: TxnRecord['state'];
  created_at_ms: string;
  hold_expires_at_ms: string | null;
  settled_at_ms: string | null;
  response: TxnRecord['response'];
  settle_response: TxnRecord['settleResponse'] | null;
  version: string;
}

function accountOf(row: AccountRow): Account {
  return {
    username: row.username,
    passwordHash: row.password_hash,
    balanceCents: toNumber(row.balance_cents, 'balance_cents'),
    heldCents: toNumber(row.held_cents, 'held_cents'),
    failedLogins: row.failed_logins,
    lockedUntilMs: toNumber(row.locked_until_ms, 'locked_until_ms'),
    withdrawnDay: row.withdrawn_day,
    withdrawnTodayCents: toNumber(row.withdrawn_today_cents, 'withdrawn_today_cents'),
    createdAtMs: toNumber(row.created_at_ms, 'created_at_ms'),
  };
}

function txnOf(row: TxnRow): TxnRecord {
  const txn: TxnRecord = {
    txnId: row.txn_id,
    kind: row.kind,
    username: row.username,
    kioskId: row.kiosk_id,
    amountCents: toNumber(row.amount_cents, 'amount_cents'),
    postedCents: toNumber(row.posted_cents, 'posted_cents'),
    state: row.state,
    createdAtMs: toNumber(row.created_at_ms, 'created_at_ms'),
    response: row.response,
  };
  const holdExpiresAtMs = optionalNumber(row.hold_expires_at_ms, 'hold_expires_at_ms');
  if (holdExpiresAtMs !== undefined) txn.holdExpiresAtMs = holdExpiresAtMs;
  const settledAtMs = optionalNumber(row.settled_at_ms, 'settled_at_ms');
  if (settledAtMs !== undefined) txn.settledAtMs = settledAtMs;
  if (row.settle_response !== null) txn.settleResponse = row.settle_response;
  return txn;
}

/** The JSON atm_commit takes; a row with an expectation carries `expectedVersion`. */
export function commitJson(batch: LedgerBatch, hostId: string, expected: Expectations | null): string {
  const withVersion = <T extends object>(
    row: T,
    version: Expected | undefined,
  ): T | (T & { expectedVersion: Expected }) => (version === undefined ? row : { ...row, expectedVersion: version });
  return JSON.stringify({
    accounts: batch.accounts.map((a) => withVersion(a, expected?.accounts.get(a.username))),
    txns: batch.txns.map((t) => withVersion(t, expected?.txns.get(t.txnId))),
    holdsAdded: batch.openHoldsAdded,
    holdsRemoved: batch.openHoldsRemoved,
    audit: batch.auditTokens,
    head: batch.auditHead,
    hostId,
  });
}

export class PgLedgerStore implements LedgerStore {
  /** This store keeps the audit records themselves: pruning never applies (the contract's note). */
  readonly keepsAuditRecords = true;
  readonly locks: LockManager;
  private readonly scopes = new AsyncLocalStorage<LockScope>();
  private closed = false;

  private constructor(
    readonly pool: pg.Pool,
    readonly hostId: string,
    private readonly options: Required<PgStoreOptions>,
  ) {
    this.locks = new PgAdvisoryLocks(this, options.lockTimeoutMs);
  }

  /** Connects and checks the schema; throws (with what to do) when the database is not ready. */
  static async open(url: string, options: PgStoreOptions = {}): Promise<PgLedgerStore> {
    const full: Required<PgStoreOptions> = {
      poolSize: options.poolSize ?? PG_POOL_SIZE_DEFAULT,
      statementTimeoutMs: options.statementTimeoutMs ?? PG_STATEMENT_TIMEOUT_MS_DEFAULT,
      lockTimeoutMs: options.lockTimeoutMs ?? PG_LOCK_TIMEOUT_MS_DEFAULT,
      hostId: options.hostId ?? 'bank',
    };
    const pool = new pg.Pool({ ...pgClientConfig(url, full), max: full.poolSize });
    // An idle connection that dies (the server restarted, a fail-over) is dropped and replaced
    // by the pool; without a listener its error would end the process.
    pool.on('error', () => undefined);
    let mismatch: string | null;
    try {
      const client = await pool.connect();
      try {
        mismatch = await schemaMismatch(client);
      } finally {
        client.release();
      }
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new AtmError(StoreError.UNAVAILABLE, `PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`);
    }
    if (mismatch !== null) {
      await pool.end().catch(() => undefined);
      throw new AtmError(StoreError.SCHEMA, `PostgreSQL at ${redactUrl(url)}: ${mismatch}`);
    }
    return new PgLedgerStore(pool, full.hostId, full);
  }

  /** The connection of the current lock scope, if any. */
  scope(): LockScope | undefined {
    return this.scopes.getStore();
  }

  runInScope<T>(scope: LockScope, fn: () => Promise<T>): Promise<T> {
    return this.scopes.run(scope, fn);
  }

  private query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    const scope = this.scopes.getStore();
    return scope === undefined ? this.pool.query<R>(text, values) : scope.client.query<R>(text, values);
  }

  async getAccount(username: string): Promise<Account | null> {
    const result = await this.query<AccountRow>('SELECT * FROM accounts WHERE username = $1', [username]);
    const row = result.rows[0];
    this.remember('accounts', username, row === undefined ? null : toNumber(row.version, 'version'));
    return row === undefined ? null : accountOf(row);
  }

  async getTxn(txnId: string): Promise<TxnRecord | null> {
    const result = await this.query<TxnRow>('SELECT * FROM txns WHERE txn_id = $1', [txnId]);
    const row = result.rows[0];
    this.remember('txns', txnId, row === undefined ? null : toNumber(row.version, 'version'));
    return row === undefined ? null : txnOf(row);
  }

  /** Only reads under a lock count: a version read outside one says nothing about the write. */
  private remember(table: 'accounts' | 'txns', key: string, version: Expected): void {
    const scope = this.scopes.getStore();
    if (scope === undefined) return;
    const versions = scope[table];
    if (!versions.has(key) && versions.size >= SCOPE_ROWS_MAX) return;
    versions.set(key, version);
  }

  /**
   * The versions the current lock scope read the batch's rows at. Every row the bank writes
   * was read under its lock first; one that was not is a bug in a handler, not a race.
   */
  expectationsOf(batch: Pick<LedgerBatch, 'accounts' | 'txns'>): Expectations {
    const expectations: Expectations = { accounts: new Map(), txns: new Map() };
    if (batch.accounts.length === 0 && batch.txns.length === 0) return expectations;
    const scope = this.scopes.getStore();
    assert(scope !== undefined, 'a ledger write outside any lock scope');
    for (const account of batch.accounts) {
      const version = scope.accounts.get(account.username);
      assert(version !== undefined, `account ${account.username} written without being read under its lock`);
      expectations.accounts.set(account.username, version);
    }
    for (const txn of batch.txns) {
      const version = scope.txns.get(txn.txnId);
      assert(version !== undefined, `txn ${txn.txnId} written without being read under its lock`);
      expectations.txns.set(txn.txnId, version);
    }
    return expectations;
  }

  /** After a durable write the scope's rows are one version on (or new at version 1). */
  static advance(expectations: Expectations, scope: LockScope | undefined): void {
    if (scope === undefined) return;
    for (const [key, version] of expectations.accounts) scope.accounts.set(key, (version ?? 0) + 1);
    for (const [key, version] of expectations.txns) scope.txns.set(key, (version ?? 0) + 1);
  }

  async listOpenHolds(): Promise<string[]> {
    const result = await this.query<{ txn_id: string }>('SELECT txn_id FROM open_holds ORDER BY txn_id');
    return result.rows.map((row) => row.txn_id);
  }

  /** Read only: no versions remembered, since a statement writes nothing. */
  async listRecentPostedTxns(username: string, limit: number): Promise<TxnRecord[]> {
    assertRecentLimit(limit);
    const result = await this.query<TxnRow>(RECENT_POSTED_SQL, [username, limit]);
    return result.rows.map(txnOf);
  }

  async getAuditHead(): Promise<AuditHead> {
    const result = await this.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_head');
    const row = result.rows[0];
    assert(row !== undefined, 'audit_head has no row (the migration inserts it)');
    const head = { seq: toNumber(row.seq, 'audit head seq'), hash: row.hash };
    assertAuditHead(head, 'database audit head');
    return head;
  }

  async listAuditTokensAfter(seq: number): Promise<AuditToken[]> {
    const result = await this.query<{ seq: string; token: string }>(
      'SELECT seq, token FROM audit_records WHERE seq > $1 ORDER BY seq',
      [seq],
    );
    return result.rows.map((row) => ({ seq: toNumber(row.seq, 'audit seq'), token: row.token }));
  }

  /** Audit records from `afterSeq` on, at most `limit`, in order (verify and export page through them). */
  async auditPage(afterSeq: number, limit: number): Promise<AuditToken[]> {
    const result = await this.pool.query<{ seq: string; token: string }>(
      'SELECT seq, token FROM audit_records WHERE seq > $1 ORDER BY seq LIMIT $2',
      [afterSeq, limit],
    );
    return result.rows.map((row) => ({ seq: toNumber(row.seq, 'audit seq'), token: row.token }));
  }

  /** The contract's commit: the batch as given (tokens and head already sealed), one transaction. */
  async commit(batch: LedgerBatch): Promise<void> {
    await this.pool.query('SELECT atm_commit($1::jsonb)', [commitJson(batch, this.hostId, null)]);
  }

  /**
   * The committer's commit: locks the audit head, lets `seal` make the group's records from it,
   * writes them with the money (rows fenced by `expected`), commits. Throws on any failure,
   * having written nothing; a stale fenced row throws StaleWriteError.
   */
  async commitSealed(
    client: pg.ClientBase,
    batch: LedgerBatch,
    expected: Expectations,
    seal: (head: AuditHead) => { tokens: AuditToken[]; head: AuditHead | null },
  ): Promise<void> {
    await client.query('BEGIN');
    try {
      const result = await client.query<{ seq: string; hash: string }>('SELECT seq, hash FROM audit_head FOR UPDATE');
      const row = result.rows[0];
      assert(row !== undefined, 'audit_head has no row');
      const head = { seq: toNumber(row.seq, 'audit head seq'), hash: row.hash };
      assertAuditHead(head, 'database audit head');
      const sealed = seal(head);
      const full: LedgerBatch = { ...batch, auditTokens: sealed.tokens, auditHead: sealed.head };
      await client.query('SELECT atm_commit($1::jsonb)', [commitJson(full, this.hostId, expected)]);
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      if ((error as { code?: unknown }).code === STALE_WRITE_SQLSTATE)
        throw new StaleWriteError((error as Error).message);
      throw error;
    }
  }

  /** A dedicated connection (not from the pool) with this store's settings: the committer's. */
  async dedicatedClient(url: string): Promise<pg.Client> {
    const client = new pg.Client(pgClientConfig(url, this.options));
    client.on('error', () => undefined);
    await client.connect();
    return client;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

export class StaleWriteError extends Error {
  readonly code = 'STALE_WRITE';
}

/** pg's settings for one connection of this store. */
export function pgClientConfig(url: string, options: Required<PgStoreOptions>): pg.ClientConfig {
  return {
    connectionString: url,
    application_name: `atm-bank ${options.hostId}`.slice(0, 63),
    statement_timeout: options.statementTimeoutMs,
    lock_timeout: options.lockTimeoutMs,
    // A server that stopped answering (not one that closed the socket) is given up on here.
    query_timeout: options.statementTimeoutMs + options.lockTimeoutMs + 1_000,
    connectionTimeoutMillis: 5_000,
    keepAlive: true,
  };
}

/**
 * Per-key locks across hosts: the in-process mutex first (a host queues its own requests
 * without a database round trip), then session advisory locks on one pooled connection per
 * outermost scope, taken in the mutex's sorted order (txn: before user:, as every handler
 * nests them), released after the scope's work (its commit included) has finished. A
 * connection that fails to unlock is destroyed: the server drops its locks with it.
 */
export class PgAdvisoryLocks implements LockManager {
  private readonly local = new KeyedMutex();

  constructor(
    private readonly store: PgLedgerStore,
    private readonly lockTimeoutMs: number,
  ) {}

  get keysHeld(): number {
    return this.local.keysHeld;
  }

  withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    return this.local.withKeys(keys, async () => {
      const outer = this.store.scope();
      if (outer !== undefined) return this.nested(outer, keys, fn);
      const client = await this.store.pool.connect();
      // A checked-out client whose connection dies between queries (a fail-over) emits 'error'
      // on itself, not on the pool: unheard, that ended the bank process. Its next query fails,
      // which is how this scope learns of it.
      let broken: Error | undefined;
      const onError = (error: Error): void => {
        broken = error;
      };
      client.on('error', onError);
      const scope: LockScope = { client, keys: new Set(), accounts: new Map(), txns: new Map() };
      try {
        await this.lock(scope, keys);
        return await this.store.runInScope(scope, fn);
      } finally {
        try {
          if (broken === undefined && scope.keys.size > 0) await client.query('SELECT pg_advisory_unlock_all()');
        } catch (error) {
          broken = error instanceof Error ? error : new Error(String(error));
        }
        client.removeListener('error', onError);
        // A broken connection is destroyed, not pooled again: the server has dropped its locks.
        client.release(broken);
      }
    });
  }

  private async nested<T>(scope: LockScope, keys: string[], fn: () => Promise<T>): Promise<T> {
    const added = [...new Set(keys)].filter((key) => !scope.keys.has(key)).sort();
    await this.lock(scope, added);
    try {
      return await fn();
    } finally {
      for (const key of added) {
        scope.keys.delete(key);
        await scope.client.query('SELECT pg_advisory_unlock($1::bigint)', [advisoryLockId(key)]).catch(() => undefined);
      }
    }
  }

  private async lock(scope: LockScope, keys: string[]): Promise<void> {
    for (const key of [...new Set(keys)].sort()) {
      if (scope.keys.has(key)) continue;
      try {
        await scope.client.query('SELECT pg_advisory_lock($1::bigint)', [advisoryLockId(key)]);
      } catch (error) {
        if ((error as { code?: unknown }).code === '55P03')
          throw new Error(`lock ${key} held elsewhere for more than ${this.lockTimeoutMs} ms`);
        throw error;
      }
      scope.keys.add(key);
    }
  }
}
