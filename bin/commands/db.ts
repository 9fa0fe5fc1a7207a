// atm db migrate | status | import — the PostgreSQL ledger's schema (bank/pg-schema.ts) and a
// branch's embedded ledger moved into it (bank/pg-import.ts).
import {
  SCHEMA_VERSION,
  auditKeyOf,
  importLedger,
  loadKeystore,
  migrateDatabase,
  redactUrl,
  schemaVersion,
  withDatabase,
} from '../../bank/index.js';
import { formatCents } from '../../protocol/index.js';
import { ExitCode, UsageError, parse, printJson, required } from '../cli.js';
import { storeUrl } from '../store-option.js';

const USAGE = `usage:
  atm db migrate --store postgres://USER@HOST:PORT/DB [--json]
  atm db status --store postgres://… [--json]
  atm db import --from DIR --store postgres://… [--json]
migrate applies the schema migrations the database lacks (each in its own transaction; two
hosts migrating at once take turns) and says from which version to which; status prints the
database's schema version and this bank's. Env: ATM_STORE. A password belongs in PGPASSWORD
or ~/.pgpass rather than in the URL; ?sslmode=require (or verify-full) asks for TLS.
import moves a stopped branch bank's embedded ledger (DIR/ledger, DIR/audit.log) into an empty,
migrated database in one transaction, the audit chain record for record, verified before and
after; the network's bank hosts then use DIR's keystore.json (its audit key sealed the records).`;

export async function dbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const { values } = parse(
    rest,
    { store: { type: 'string' }, from: { type: 'string' }, json: { type: 'boolean' } },
    USAGE,
  );
  const json = values.json === true;
  switch (sub) {
    case 'migrate': {
      const url = storeUrl(values, USAGE, true);
      const result = await migrateDatabase(url);
      if (json) printJson({ ok: true, ...result });
      else if (result.applied.length === 0)
        process.stdout.write(`${redactUrl(url)}: schema ${result.to}, already up to date\n`);
      else
        process.stdout.write(
          `${redactUrl(url)}: schema ${result.from} -> ${result.to} (applied ${result.applied.join(', ')})\n`,
        );
      return ExitCode.OK;
    }
    case 'status': {
      const url = storeUrl(values, USAGE, true);
      const version = await withDatabase(url, (client) => schemaVersion(client));
      const ok = version === SCHEMA_VERSION;
      if (json) printJson({ ok, schema: version, bankSchema: SCHEMA_VERSION });
      else
        process.stdout.write(
          `${redactUrl(url)}: schema ${version}, this bank's ${SCHEMA_VERSION}${ok ? '' : " (run 'atm db migrate')"}\n`,
        );
      return ok ? ExitCode.OK : ExitCode.FAILED;
    }
    case 'import': {
      const url = storeUrl(values, USAGE, true);
      const fromDir = required(values, 'from', USAGE);
      const auditKey = auditKeyOf(loadKeystore(fromDir));
      const log = json ? undefined : (line: string) => process.stdout.write(`${line}\n`);
      const report = await importLedger({ fromDir, url, auditKey, log });
      if (json) printJson({ ok: true, ...report });
      else
        process.stdout.write(
          `imported ${report.accounts} accounts (balance ${formatCents(report.balanceCents)}, held ${formatCents(report.heldCents)}), ` +
            `${report.txns} transactions, ${report.openHolds} open holds, ${report.auditRecords} audit records (chain verified)\n`,
        );
      return ExitCode.OK;
    }
    default:
      throw new UsageError(sub === undefined ? USAGE : `unknown db command ${sub}\n${USAGE}`);
  }
}
