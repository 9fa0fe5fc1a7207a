// atm audit verify | show | export — read-only, and never takes the bank's LevelDB lock. With
// --store the chain is the PostgreSQL ledger's (every host's records); the key is still DIR's.
import fs from 'node:fs';
import path from 'node:path';
import {
  AUDIT_LOG_FILE,
  PgLedgerStore,
  auditKeyOf,
  decryptAuditToken,
  exportAuditLog,
  loadKeystore,
  verifyAuditLog,
  verifyAuditRecords,
  type AuditRecord,
  type VerifyResult,
} from '../../bank/index.js';
import { formatCents, makeDataDir } from '../../protocol/index.js';
import { ExitCode, UsageError, parse, printJson, required } from '../cli.js';
import { storeUrl } from '../store-option.js';

const USAGE = `usage:
  atm audit verify --data DIR [--store postgres://…] [--log DIR] [--json]
  atm audit show --data DIR [--store postgres://…] [--json] [--user U] [--since ISO]
  atm audit export --data DIR --store postgres://… --out DIR [--json]
The audit key is read from DIR's keystore. Without --store the log is DIR/audit.log (--log
names another folder holding an audit.log and audit.head, such as an export); with --store it
is the PostgreSQL ledger's chain, which export writes out as audit.log and audit.head in --out
(the embedded format, readable by any Fernet implementation), after verifying it.`;

/** The records of the chain --store names, or DIR/audit.log's lines. */
async function chainLines(values: Record<string, string | boolean | undefined>, dataDir: string): Promise<string[]> {
  const url = storeUrl(values, USAGE);
  if (url === undefined) {
    let text = '';
    try {
      text = fs.readFileSync(path.join(dataDir, AUDIT_LOG_FILE), 'latin1');
    } catch {
      text = '';
    }
    return text.split('\n').filter((line) => line.length > 0);
  }
  return withStore(url, async (store) => (await store.listAuditTokensAfter(0)).map((token) => token.token));
}

async function withStore<T>(url: string, fn: (store: PgLedgerStore) => Promise<T>): Promise<T> {
  const store = await PgLedgerStore.open(url, { poolSize: 2, hostId: 'atm-audit' });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

function report(result: VerifyResult, json: boolean): number {
  if (json) printJson(result);
  else if (result.ok) process.stdout.write(`OK ${result.records} records\n`);
  else
    process.stdout.write(
      `FAILED at record ${result.badRecord}: ${result.reason} (${result.records} records verified before it)\n`,
    );
  return result.ok ? ExitCode.OK : ExitCode.FAILED;
}

export async function auditCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    // [DESIGN §2] every command takes --help, including the bare command group.
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const { values } = parse(
    rest,
    {
      data: { type: 'string' },
      store: { type: 'string' },
      log: { type: 'string' },
      out: { type: 'string' },
      json: { type: 'boolean' },
      user: { type: 'string' },
      since: { type: 'string' },
    },
    USAGE,
  );
  const json = values.json === true;
  switch (sub) {
    case 'verify': {
      const dataDir = required(values, 'data', USAGE);
      const key = auditKeyOf(loadKeystore(dataDir));
      const url = storeUrl(values, USAGE);
      if (url !== undefined && values.log !== undefined)
        throw new UsageError(`--log and --store: choose one\n${USAGE}`);
      const logDir = typeof values.log === 'string' ? values.log : dataDir;
      const result =
        url === undefined
          ? verifyAuditLog(logDir, key)
          : await withStore(url, async (store) =>
              verifyAuditRecords((after, limit) => store.auditPage(after, limit), await store.getAuditHead(), key),
            );
      return report(result, json);
    }
    case 'export': {
      const dataDir = required(values, 'data', USAGE);
      const key = auditKeyOf(loadKeystore(dataDir));
      const url = storeUrl(values, USAGE, true);
      const outDir = required(values, 'out', USAGE);
      if (fs.existsSync(path.join(outDir, AUDIT_LOG_FILE)))
        throw new UsageError(`${path.join(outDir, AUDIT_LOG_FILE)} exists: export into a new or empty folder`);
      makeDataDir(outDir);
      const result = await withStore(url, async (store) => {
        const head = await store.getAuditHead();
        const verified = await verifyAuditRecords((after, limit) => store.auditPage(after, limit), head, key);
        if (!verified.ok) return verified;
        // Records past the verified head (written meanwhile by a running bank) are left for the next export.
        const page = async (after: number, limit: number) => store.auditPage(after, Math.min(limit, head.seq - after));
        return exportAuditLog(page, outDir, key, Date.now());
      });
      if (!result.ok) return report(result, json);
      if (json) printJson({ ...result, out: outDir });
      else process.stdout.write(`exported ${result.records} records to ${path.join(outDir, AUDIT_LOG_FILE)}\n`);
      return ExitCode.OK;
    }
    case 'show': {
      const dataDir = required(values, 'data', USAGE);
      const key = auditKeyOf(loadKeystore(dataDir));
      const sinceMs = typeof values.since === 'string' ? Date.parse(values.since) : Number.NEGATIVE_INFINITY;
      if (Number.isNaN(sinceMs)) throw new UsageError(`--since must be an ISO-8601 time\n${USAGE}`);
      const user = typeof values.user === 'string' ? values.user.toLowerCase() : null;
      const lines = await chainLines(values, dataDir);
      const shown: AuditRecord[] = [];
      let unreadable = 0;
      for (const line of lines) {
        const record = decryptAuditToken(key, line);
        if (record === null) {
          unreadable += 1;
          continue;
        }
        if (user !== null && record.username !== user) continue;
        if (Date.parse(record.ts) < sinceMs) continue;
        if (json) shown.push(record);
        else process.stdout.write(`${formatRecord(record)}\n`);
      }
      if (json) printJson({ ok: unreadable === 0, records: shown, unreadable });
      if (unreadable > 0)
        process.stderr.write(`atm: ${unreadable} line(s) could not be decrypted; run 'atm audit verify'\n`);
      return unreadable > 0 ? ExitCode.FAILED : ExitCode.OK;
    }
    default:
      throw new UsageError(sub === undefined ? USAGE : `unknown audit command ${sub}\n${USAGE}`);
  }
}

function formatRecord(record: AuditRecord): string {
  const amount = record.amountCents === undefined ? '' : ` amount=${formatCents(record.amountCents)}`;
  const txn = record.txnId === undefined ? '' : ` txn=${record.txnId}`;
  const detail = record.detail === undefined ? '' : ` (${record.detail})`;
  return `#${record.seq} ${record.ts} ${record.kioskId} ${record.action} ${record.outcome} user=${record.username ?? '-'}${amount}${txn}${detail}`;
}
