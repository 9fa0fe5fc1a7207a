// atm db migrate | status — the PostgreSQL ledger's schema (bank/pg-schema.ts).
import { SCHEMA_VERSION, migrateDatabase, redactUrl, schemaVersion, withDatabase } from '../../bank/index.js';
import { ExitCode, UsageError, parse, printJson } from '../cli.js';
import { storeUrl } from '../store-option.js';

const USAGE = `usage:
  atm db migrate --store postgres://USER@HOST:PORT/DB [--json]
  atm db status --store postgres://… [--json]
migrate applies the schema migrations the database lacks (each in its own transaction; two
hosts migrating at once take turns) and says from which version to which; status prints the
database's schema version and this bank's. Env: ATM_STORE. A password belongs in PGPASSWORD
or ~/.pgpass rather than in the URL; ?sslmode=require (or verify-full) asks for TLS.`;

export async function dbCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const { values } = parse(rest, { store: { type: 'string' }, json: { type: 'boolean' } }, USAGE);
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
    default:
      throw new UsageError(sub === undefined ? USAGE : `unknown db command ${sub}\n${USAGE}`);
  }
}
