// The ledger's PostgreSQL schema as numbered migrations. `atm db migrate` applies the ones a
// database lacks, each in its own transaction under an advisory lock (two hosts migrating at
// once take turns); a bank refuses to start on a database whose schema is not exactly the
// newest it knows: older means "run atm db migrate", newer means a newer bank wrote it.
// Migrations are append-only: a released one is never edited, a change is a new one.
import pg from 'pg';
import { AtmError, type CodeOf } from '../protocol/index.js';
import { redactUrl } from './pg-url.js';

/** [ATM-4.12] The store's stable codes. */
export const StoreError = {
  UNAVAILABLE: 'STORE_UNAVAILABLE',
  SCHEMA: 'STORE_SCHEMA',
} as const satisfies Record<string, CodeOf<'store'>>;

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** Money is BIGINT cents with the ledger's invariants as CHECKs: the database refuses what ledger.ts asserts. */
const V1_LEDGER = `
CREATE TABLE accounts (
  username TEXT PRIMARY KEY,
  password_hash TEXT NOT NULL,
  balance_cents BIGINT NOT NULL CHECK (balance_cents >= 0),
  held_cents BIGINT NOT NULL CHECK (held_cents >= 0),
  failed_logins INTEGER NOT NULL CHECK (failed_logins >= 0),
  locked_until_ms BIGINT NOT NULL,
  withdrawn_day TEXT NOT NULL,
  withdrawn_today_cents BIGINT NOT NULL CHECK (withdrawn_today_cents >= 0),
  created_at_ms BIGINT NOT NULL,
  -- Bumped by every write: a host writes an account only at the version it read (fencing).
  version BIGINT NOT NULL DEFAULT 1,
  CONSTRAINT held_within_balance CHECK (held_cents <= balance_cents)
);

CREATE TABLE txns (
  txn_id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('deposit', 'withdraw')),
  username TEXT NOT NULL REFERENCES accounts (username),
  kiosk_id TEXT NOT NULL,
  amount_cents BIGINT NOT NULL CHECK (amount_cents > 0),
  posted_cents BIGINT NOT NULL CHECK (posted_cents >= 0),
  state TEXT NOT NULL CHECK (state IN ('posted', 'held', 'voided', 'declined')),
  created_at_ms BIGINT NOT NULL,
  hold_expires_at_ms BIGINT,
  settled_at_ms BIGINT,
  response JSONB NOT NULL,
  settle_response JSONB,
  version BIGINT NOT NULL DEFAULT 1,
  CONSTRAINT posted_within_amount CHECK (posted_cents <= amount_cents)
);
CREATE INDEX txns_by_user ON txns (username, created_at_ms);

-- The sweeper's index: ids of withdrawals in state 'held'; any host may sweep them.
CREATE TABLE open_holds (txn_id TEXT PRIMARY KEY);

-- One audit chain per deployment: every host's records, in seq order, with the head beside
-- them, written in the same transaction as the money they describe.
CREATE TABLE audit_records (
  seq BIGINT PRIMARY KEY CHECK (seq > 0),
  token TEXT NOT NULL,
  host_id TEXT NOT NULL
);
CREATE TABLE audit_head (
  one BOOLEAN PRIMARY KEY DEFAULT true CHECK (one),
  seq BIGINT NOT NULL CHECK (seq >= 0),
  hash TEXT NOT NULL CHECK (hash ~ '^[0-9a-f]{64}$')
);
INSERT INTO audit_head (seq, hash) VALUES (0, repeat('0', 64));

-- Login attempts per kiosk, one token bucket shared by every host.
CREATE TABLE login_buckets (
  kiosk_id TEXT PRIMARY KEY,
  tokens DOUBLE PRECISION NOT NULL,
  updated_ms BIGINT NOT NULL
);

-- Session hand-over tokens ([ATM-4.9]) by their SHA-256, so a kiosk may renew on any host.
CREATE TABLE handovers (
  token_key TEXT PRIMARY KEY,
  kiosk_id TEXT NOT NULL,
  username TEXT NOT NULL,
  expires_at_ms BIGINT NOT NULL
);

-- One round trip per commit: the batch as JSON, applied in one statement's transaction (or
-- inside the committer's). An account or txn that names an expectedVersion is written only at
-- that version (null: only if absent), else the whole commit fails with SQLSTATE ATM01: a
-- host whose lock was lost (its database session dropped) must not overwrite a newer write.
CREATE FUNCTION atm_commit(batch JSONB) RETURNS VOID LANGUAGE plpgsql AS $fn$
DECLARE
  item JSONB;
  rows_written INTEGER;
BEGIN
  FOR item IN SELECT value FROM jsonb_array_elements(batch->'accounts') LOOP
    IF item->'expectedVersion' IS NULL OR jsonb_typeof(item->'expectedVersion') = 'null' THEN
      INSERT INTO accounts AS a (username, password_hash, balance_cents, held_cents, failed_logins,
          locked_until_ms, withdrawn_day, withdrawn_today_cents, created_at_ms)
        VALUES (item->>'username', item->>'passwordHash', (item->>'balanceCents')::BIGINT,
          (item->>'heldCents')::BIGINT, (item->>'failedLogins')::INTEGER, (item->>'lockedUntilMs')::BIGINT,
          item->>'withdrawnDay', (item->>'withdrawnTodayCents')::BIGINT, (item->>'createdAtMs')::BIGINT)
        ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash,
          balance_cents = EXCLUDED.balance_cents, held_cents = EXCLUDED.held_cents,
          failed_logins = EXCLUDED.failed_logins, locked_until_ms = EXCLUDED.locked_until_ms,
          withdrawn_day = EXCLUDED.withdrawn_day, withdrawn_today_cents = EXCLUDED.withdrawn_today_cents,
          created_at_ms = EXCLUDED.created_at_ms, version = a.version + 1
          WHERE item->'expectedVersion' IS NULL;
      GET DIAGNOSTICS rows_written = ROW_COUNT;
      IF rows_written = 0 THEN
        RAISE EXCEPTION 'account % was created by another writer', item->>'username' USING ERRCODE = 'ATM01';
      END IF;
    ELSE
      UPDATE accounts SET password_hash = item->>'passwordHash', balance_cents = (item->>'balanceCents')::BIGINT,
          held_cents = (item->>'heldCents')::BIGINT, failed_logins = (item->>'failedLogins')::INTEGER,
          locked_until_ms = (item->>'lockedUntilMs')::BIGINT, withdrawn_day = item->>'withdrawnDay',
          withdrawn_today_cents = (item->>'withdrawnTodayCents')::BIGINT, version = version + 1
        WHERE username = item->>'username' AND version = (item->>'expectedVersion')::BIGINT;
      GET DIAGNOSTICS rows_written = ROW_COUNT;
      IF rows_written = 0 THEN
        RAISE EXCEPTION 'account % changed since it was read', item->>'username' USING ERRCODE = 'ATM01';
      END IF;
    END IF;
  END LOOP;

  FOR item IN SELECT value FROM jsonb_array_elements(batch->'txns') LOOP
    IF item->'expectedVersion' IS NULL OR jsonb_typeof(item->'expectedVersion') = 'null' THEN
      INSERT INTO txns AS t (txn_id, kind, username, kiosk_id, amount_cents, posted_cents, state, created_at_ms,
          hold_expires_at_ms, settled_at_ms, response, settle_response)
        VALUES (item->>'txnId', item->>'kind', item->>'username', item->>'kioskId', (item->>'amountCents')::BIGINT,
          (item->>'postedCents')::BIGINT, item->>'state', (item->>'createdAtMs')::BIGINT,
          (item->>'holdExpiresAtMs')::BIGINT, (item->>'settledAtMs')::BIGINT, item->'response',
          item->'settleResponse')
        ON CONFLICT (txn_id) DO UPDATE SET kind = EXCLUDED.kind, username = EXCLUDED.username,
          kiosk_id = EXCLUDED.kiosk_id, amount_cents = EXCLUDED.amount_cents, posted_cents = EXCLUDED.posted_cents,
          state = EXCLUDED.state, created_at_ms = EXCLUDED.created_at_ms,
          hold_expires_at_ms = EXCLUDED.hold_expires_at_ms, settled_at_ms = EXCLUDED.settled_at_ms,
          response = EXCLUDED.response, settle_response = EXCLUDED.settle_response, version = t.version + 1
          WHERE item->'expectedVersion' IS NULL;
      GET DIAGNOSTICS rows_written = ROW_COUNT;
      IF rows_written = 0 THEN
        RAISE EXCEPTION 'transaction % was written by another writer', item->>'txnId' USING ERRCODE = 'ATM01';
      END IF;
    ELSE
      UPDATE txns SET posted_cents = (item->>'postedCents')::BIGINT, state = item->>'state',
          hold_expires_at_ms = (item->>'holdExpiresAtMs')::BIGINT, settled_at_ms = (item->>'settledAtMs')::BIGINT,
          response = item->'response', settle_response = item->'settleResponse', version = version + 1
        WHERE txn_id = item->>'txnId' AND version = (item->>'expectedVersion')::BIGINT;
      GET DIAGNOSTICS rows_written = ROW_COUNT;
      IF rows_written = 0 THEN
        RAISE EXCEPTION 'transaction % changed since it was read', item->>'txnId' USING ERRCODE = 'ATM01';
      END IF;
    END IF;
  END LOOP;

  INSERT INTO open_holds (txn_id) SELECT value FROM jsonb_array_elements_text(batch->'holdsAdded')
    ON CONFLICT DO NOTHING;
  DELETE FROM open_holds WHERE txn_id IN (SELECT value FROM jsonb_array_elements_text(batch->'holdsRemoved'));

  INSERT INTO audit_records (seq, token, host_id)
    SELECT (value->>'seq')::BIGINT, value->>'token', batch->>'hostId' FROM jsonb_array_elements(batch->'audit');
  IF jsonb_typeof(batch->'head') = 'object' THEN
    UPDATE audit_head SET seq = (batch->'head'->>'seq')::BIGINT, hash = batch->'head'->>'hash';
  END IF;
END
$fn$;
`;

/**
 * [ATM-4.13] The mini statement's index: an account's posted transactions by when their money
 * moved (a withdrawal's settled_at_ms, a deposit's created_at_ms), newest first. An expression
 * index, so atm_commit writes it with the row and needs no change; txn_id in the C collation,
 * the byte order LevelDB's index keys have, so both stores break a tie the same way.
 */
const V2_POSTED_INDEX = `
CREATE INDEX txns_posted_by_user ON txns
  (username, (COALESCE(settled_at_ms, created_at_ms)) DESC, txn_id COLLATE "C" DESC)
  WHERE state = 'posted';
`;

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'ledger, audit chain, shared limits', sql: V1_LEDGER },
  { version: 2, name: 'posted transactions by account, for the mini statement', sql: V2_POSTED_INDEX },
];

/** The statement's query, in the shape of txns_posted_by_user so the planner walks that index. */
export const RECENT_POSTED_SQL = `SELECT * FROM txns WHERE username = $1 AND state = 'posted'
  ORDER BY COALESCE(settled_at_ms, created_at_ms) DESC, txn_id COLLATE "C" DESC LIMIT $2`;

export const SCHEMA_VERSION = MIGRATIONS.length;

/** SQLSTATE of a fenced write that found a newer version (see atm_commit). */
export const STALE_WRITE_SQLSTATE = 'ATM01';

const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS atm_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
)`;

/** Any fixed number: the advisory lock that makes two migrators take turns. */
const MIGRATE_LOCK = 7_400_016;

/** The schema version a database is at: 0 when it has never been migrated. */
export async function schemaVersion(client: pg.ClientBase): Promise<number> {
  const exists = await client.query<{ found: string | null }>("SELECT to_regclass('atm_migrations') AS found");
  if (exists.rows[0]?.found === null || exists.rows[0]?.found === undefined) return 0;
  const result = await client.query<{ version: number | null }>('SELECT max(version) AS version FROM atm_migrations');
  return result.rows[0]?.version ?? 0;
}

/** Applies every migration the database lacks, in order; returns the versions applied. */
export async function migrate(client: pg.ClientBase): Promise<number[]> {
  const applied: number[] = [];
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK]);
  try {
    await client.query(MIGRATIONS_TABLE);
    const current = await schemaVersion(client);
    if (current > SCHEMA_VERSION)
      throw new Error(
        `the database is at schema ${current}, newer than this bank's ${SCHEMA_VERSION}: upgrade the bank`,
      );
    for (const migration of MIGRATIONS.filter((m) => m.version > current)) {
      await client.query('BEGIN');
      try {
        await client.query(migration.sql);
        await client.query('INSERT INTO atm_migrations (version, name) VALUES ($1, $2)', [
          migration.version,
          migration.name,
        ]);
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw new Error(`migration ${migration.version} (${migration.name}) failed: ${(error as Error).message}`);
      }
      applied.push(migration.version);
    }
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK]).catch(() => undefined);
  }
  return applied;
}

/** Why a bank must not run on this database, or null when its schema is the one the bank knows. */
export async function schemaMismatch(client: pg.ClientBase): Promise<string | null> {
  const version = await schemaVersion(client);
  if (version === SCHEMA_VERSION) return null;
  if (version === 0) return "the database has no ledger schema: run 'atm db migrate --store URL' first";
  if (version < SCHEMA_VERSION)
    return `the database is at schema ${version}, this bank needs ${SCHEMA_VERSION}: run 'atm db migrate --store URL'`;
  return `the database is at schema ${version}, newer than this bank knows (${SCHEMA_VERSION}): upgrade the bank`;
}

/** Runs fn on one connection to `url`; a connection failure is STORE_UNAVAILABLE, without the password. */
export async function withDatabase<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 5_000 });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch (error) {
    throw new AtmError(StoreError.UNAVAILABLE, `PostgreSQL at ${redactUrl(url)}: ${(error as Error).message}`);
  }
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** [atm db migrate] Brings the database to this bank's schema; says from which version to which. */
export async function migrateDatabase(url: string): Promise<{ from: number; to: number; applied: number[] }> {
  return withDatabase(url, async (client) => {
    const from = await schemaVersion(client);
    if (from > SCHEMA_VERSION)
      throw new AtmError(
        StoreError.SCHEMA,
        `the database is at schema ${from}, newer than this bank's ${SCHEMA_VERSION}: upgrade the bank`,
      );
    const applied = await migrate(client);
    return { from, to: await schemaVersion(client), applied };
  });
}
