// [DESIGN §4] The hash-chained Fernet log that the bank's audit log (bank/audit.ts) and the
// kiosk's journal (kiosk/journal.ts) both write: one Fernet token per line, each record
// carrying the SHA-256 of the previous token line, so any Fernet implementation holding the key
// can read it and a removed, reordered or altered line breaks the chain. It lives here, below
// both, because it is a format they share; the files and their syncing stay with each owner.
import type { ActionRecord } from './action.js';
import { sha256, systemRandomBytes, type RandomBytes } from './crypto.js';
import { fernetDecrypt, fernetEncrypt, type FernetKey } from './fernet.js';

export const AUDIT_RECORD_VERSION = 1;

export interface AuditHead {
  seq: number; // sequence of the last record; 0 = empty log
  hash: string; // hex SHA-256 of the last record's token line; zeros for the empty log
}

export const AUDIT_GENESIS_HASH = '0'.repeat(64);
export const EMPTY_AUDIT_HEAD: AuditHead = { seq: 0, hash: AUDIT_GENESIS_HASH };

export interface AuditToken {
  seq: number;
  token: string;
}

/** What a caller says happened (the one action record); the chain adds seq, time and the previous hash. */
export type AuditEntry = ActionRecord;

export interface AuditRecord extends AuditEntry {
  v: number;
  seq: number;
  ts: string; // ISO-8601 UTC
  prevHash: string;
}

export function hashTokenLine(token: string): string {
  return sha256(Buffer.from(token, 'latin1')).toString('hex');
}

/** Assigns sequence numbers and links records; pure apart from the injected randomness. */
export class AuditChain {
  constructor(
    private readonly key: FernetKey,
    private head: AuditHead,
    private readonly randomBytes: RandomBytes = systemRandomBytes,
  ) {}

  get currentHead(): AuditHead {
    return { ...this.head };
  }

  /** Resets to a durable head after a failed commit dropped the records sealed since. */
  resetTo(head: AuditHead): void {
    this.head = { ...head };
  }

  seal(entry: AuditEntry, nowMs: number): { token: AuditToken; head: AuditHead; record: AuditRecord } {
    const record: AuditRecord = {
      v: AUDIT_RECORD_VERSION,
      seq: this.head.seq + 1,
      ts: new Date(nowMs).toISOString(),
      ...entry,
      prevHash: this.head.hash,
    };
    const token = fernetEncrypt(
      this.key,
      Buffer.from(JSON.stringify(record)),
      Math.floor(nowMs / 1000),
      this.randomBytes(16),
    );
    this.head = { seq: record.seq, hash: hashTokenLine(token) };
    return { token: { seq: record.seq, token }, head: { ...this.head }, record };
  }
}

export function decryptAuditToken(key: FernetKey, token: string): AuditRecord | null {
  const result = fernetDecrypt(key, token);
  if (!result.ok) return null;
  try {
    return JSON.parse(result.plaintext.toString('utf8')) as AuditRecord;
  } catch {
    return null;
  }
}
