// atm audit verify | show — read-only, and never takes the bank's LevelDB lock.
import fs from 'node:fs';
import path from 'node:path';
import {
  AUDIT_LOG_FILE,
  auditKeyOf,
  decryptAuditToken,
  loadKeystore,
  verifyAuditLog,
  type AuditRecord,
} from '../../bank/index.js';
import { formatCents } from '../../protocol/index.js';
import { ExitCode, UsageError, parse, printJson, required } from '../cli.js';

const USAGE = `usage:
  atm audit verify --data DIR [--json]
  atm audit show --data DIR [--json] [--user U] [--since ISO]`;

export function auditCommand(argv: string[]): number {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    // [DESIGN §2] every command takes --help, including the bare command group.
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const { values } = parse(
    rest,
    { data: { type: 'string' }, json: { type: 'boolean' }, user: { type: 'string' }, since: { type: 'string' } },
    USAGE,
  );
  const json = values.json === true;
  switch (sub) {
    case 'verify': {
      const dataDir = required(values, 'data', USAGE);
      const result = verifyAuditLog(dataDir, auditKeyOf(loadKeystore(dataDir)));
      if (json) printJson(result);
      else if (result.ok) process.stdout.write(`OK ${result.records} records\n`);
      else
        process.stdout.write(
          `FAILED at record ${result.badRecord}: ${result.reason} (${result.records} records verified before it)\n`,
        );
      return result.ok ? ExitCode.OK : ExitCode.FAILED;
    }
    case 'show': {
      const dataDir = required(values, 'data', USAGE);
      const key = auditKeyOf(loadKeystore(dataDir));
      const sinceMs = typeof values.since === 'string' ? Date.parse(values.since) : Number.NEGATIVE_INFINITY;
      if (Number.isNaN(sinceMs)) throw new UsageError(`--since must be an ISO-8601 time\n${USAGE}`);
      const user = typeof values.user === 'string' ? values.user.toLowerCase() : null;
      let text = '';
      try {
        text = fs.readFileSync(path.join(dataDir, AUDIT_LOG_FILE), 'latin1');
      } catch {
        text = '';
      }
      const lines = text.split('\n').filter((line) => line.length > 0);
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
