// [atm db import] Moves a branch's embedded ledger (LevelDB in DIR/ledger, audit.log beside it)
// into an empty PostgreSQL ledger, in one transaction: every account, transaction and open hold
// as it is, and the audit chain record for record (the same tokens, so the same hashes and the
// same head). The chain is verified before anything is written (audit.log, then the tokens the
// ledger kept past it, ending exactly at the ledger's head) and again from the database after.
// The branch's bank must be stopped (LevelDB's lock says so), and the network's hosts then use
// the branch's keystore: its audit key is the one the imported records are sealed with.
import fs from 'node:fs';
import path from 'node:path';
import { AtmError, type FernetKey } from '../protocol/index.js';
import { AUDIT_LOG_FILE, ChainVerifier, hashTokenLine, verifyAuditRecords } from './audit.js';
import { LevelLedgerStore } from './level-store.js';
import { StoreError } from './pg-schema.js';
import { PgLedgerStore, commitJson } from './pg-store.js';
import { emptyBatch, type AuditToken, type LedgerBatch } from './types.js';

/** Rows per atm_commit call: large enough to be quick, small enough for any statement size. */
const CHUNK_ROWS = 500;

export interface ImportReport {
  accounts: number;
  txns: number;
  openHolds: number;
  auditRecords: number;
  /** Sums over all accounts, read back from the database after the import. */
  balanceCents: number;
  heldCents: number;
}

export interface ImportOptions {
  /** The branch's data dir (its ledger/ and audit.log). */
  fromDir: string;
  url: string;
  auditKey: FernetKey;
  log?: (line: string) => void;
}

/** The branch's chain: audit.log's lines, then what the ledger kept past them, verified to its head. */
async function readChain(fromDir: string, ledger: LevelLedgerStore, key: FernetKey): Promise<AuditToken[]> {
  let text = '';
  try {
    text = fs.readFileSync(path.join(fromDir, AUDIT_LOG_FILE), 'latin1');
  } catch {
    text = '';
  }
  if (text.length > 0 && !text.endsWith('\n')) text = text.slice(0, text.lastIndexOf('\n') + 1); // a torn last line
  const verifier = new ChainVerifier(key);
  const tokens: AuditToken[] = [];
  const refuse = (why: string): never => {
    throw new AtmError('USAGE', `${fromDir}: ${why}; run 'atm audit verify --data ${fromDir}' (nothing was imported)`);
  };
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const failure = verifier.push(line);
    if (failure !== null && !failure.ok) refuse(`audit record ${failure.badRecord}: ${failure.reason}`);
    tokens.push({ seq: verifier.records, token: line });
  }
  for (const token of await ledger.listAuditTokensAfter(verifier.records)) {
    const failure = verifier.push(token.token);
    if (failure !== null && !failure.ok) refuse(`ledger audit token ${token.seq}: ${failure.reason}`);
    tokens.push(token);
  }
  const head = await ledger.getAuditHead();
  if (head.seq !== verifier.head.seq || head.hash !== verifier.head.hash)
    refuse(`the audit chain ends at ${verifier.head.seq}, the ledger's head is ${head.seq}`);
  return tokens;
}

function chunks<T>(items: readonly T[]): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += CHUNK_ROWS) out.push(items.slice(start, start + CHUNK_ROWS));
  return out;
}

export async function importLedger(options: ImportOptions): Promise<ImportReport> {
  const log = options.log ?? ((): void => undefined);
  const ledger = await LevelLedgerStore.open(path.join(options.fromDir, 'ledger')).catch((error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    throw new AtmError(
      'DATA_DIR_IN_USE',
      `cannot open ${options.fromDir}/ledger (${message}): stop the branch's bank first, and check --from`,
    );
  });
  const accounts: LedgerBatch['accounts'] = [];
  const txns: LedgerBatch['txns'] = [];
  let openHolds: string[] = [];
  let tokens: AuditToken[] = [];
  try {
    tokens = await readChain(options.fromDir, ledger, options.auditKey);
    for await (const account of ledger.allAccounts()) accounts.push(account);
    for await (const txn of ledger.allTxns()) txns.push(txn);
    openHolds = await ledger.listOpenHolds();
  } finally {
    await ledger.close();
  }
  log(
    `read ${accounts.length} accounts, ${txns.length} transactions, ${openHolds.length} open holds, ${tokens.length} audit records`,
  );

  const store = await PgLedgerStore.open(options.url, { poolSize: 2, hostId: 'import' });
  try {
    const client = await store.pool.connect();
    try {
      const found = await client.query<{ accounts: string; head: string }>(
        'SELECT (SELECT count(*) FROM accounts) AS accounts, (SELECT seq FROM audit_head) AS head',
      );
      const row = found.rows[0];
      if (row !== undefined && (Number(row.accounts) > 0 || Number(row.head) > 0))
        throw new AtmError(
          StoreError.SCHEMA,
          `the database already holds a ledger (${row.accounts} accounts, ${row.head} audit records): import into an empty one`,
        );
      await client.query('BEGIN');
      try {
        const write = async (part: Partial<LedgerBatch>): Promise<void> => {
          await client.query('SELECT atm_commit($1::jsonb)', [
            commitJson({ ...emptyBatch(), ...part }, 'import', null),
          ]);
        };
        // Accounts before the transactions that name them (the foreign key).
        for (const part of chunks(accounts)) await write({ accounts: part });
        for (const part of chunks(txns)) await write({ txns: part });
        for (const part of chunks(openHolds)) await write({ openHoldsAdded: part });
        for (const part of chunks(tokens)) await write({ auditTokens: part });
        const last = tokens.at(-1);
        if (last !== undefined) await write({ auditHead: { seq: last.seq, hash: hashTokenLine(last.token) } });
        await client.query('COMMIT');
      } catch (error) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw error;
      }
    } finally {
      client.release();
    }
    const verified = await verifyAuditRecords(
      (after, limit) => store.auditPage(after, limit),
      await store.getAuditHead(),
      options.auditKey,
    );
    if (!verified.ok)
      throw new Error(`the imported chain does not verify: record ${verified.badRecord}: ${verified.reason}`);
    const sums = await store.pool.query<{ balance: string | null; held: string | null; holds: string }>(
      'SELECT sum(balance_cents) AS balance, sum(held_cents) AS held, (SELECT count(*) FROM open_holds) AS holds FROM accounts',
    );
    const sum = sums.rows[0];
    return {
      accounts: (await store.pool.query('SELECT 1 FROM accounts')).rowCount ?? 0,
      txns: (await store.pool.query('SELECT 1 FROM txns')).rowCount ?? 0,
      openHolds: Number(sum?.holds ?? 0),
      auditRecords: verified.records,
      balanceCents: Number(sum?.balance ?? 0),
      heldCents: Number(sum?.held ?? 0),
    };
  } finally {
    await store.close();
  }
}
