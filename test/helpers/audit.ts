// Reading a chained Fernet file the way `atm audit verify` would, for assertions: the bank's
// DIR/audit.log or a kiosk's journal. Every complete line must decrypt (a line that does not
// fails the test); a torn last line (no newline yet: a write in progress, or a power cut) is left
// out, as the log's own repair leaves it out.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AUDIT_LOG_FILE, auditKeyOf, loadKeystore } from '../../bank/index.js';
import { decryptAuditToken, type AuditRecord, type FernetKey } from '../../protocol/index.js';
import { pause } from './wait.js';

export const AUDIT_POLL_MS = 50;

/** The records of FILE in order; [] when it does not exist yet. */
export function readChainFile(file: string, key: FernetKey, what = path.basename(file)): AuditRecord[] {
  if (!fs.existsSync(file)) return [];
  const text = fs.readFileSync(file, 'latin1');
  return text
    .slice(0, text.lastIndexOf('\n') + 1)
    .split('\n')
    .filter((line) => line.length > 0)
    .map((line, index) => decryptAuditToken(key, line) ?? assert.fail(`${what} line ${index + 1} does not decrypt`));
}

/** The bank's audit records in DATADIR (its audit key read from the keystore there). */
export function auditRecords(dataDir: string): AuditRecord[] {
  return readChainFile(path.join(dataDir, AUDIT_LOG_FILE), auditKeyOf(loadKeystore(dataDir)), 'audit');
}

/**
 * The audit records of USERNAME once done(records) holds, polling the file (the kiosk under test
 * is another process); after timeoutMs what is there, for the caller's assertion to describe.
 */
export async function auditOf(
  dataDir: string,
  username: string,
  done: (records: AuditRecord[]) => boolean,
  timeoutMs = 5_000,
): Promise<AuditRecord[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const mine = auditRecords(dataDir).filter((record) => record.username === username);
    if (done(mine) || Date.now() >= deadline) return mine;
    await pause(AUDIT_POLL_MS);
  }
}
