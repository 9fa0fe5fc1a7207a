// [DESIGN §4] The hash-chained Fernet log that the bank's audit log (bank/audit.ts) and the
// kiosk's journal (kiosk/journal.ts) both write: one Fernet token per line, each record
// carrying the SHA-256 of the previous token line, so any Fernet implementation holding the key
// can read it and a removed, reordered or altered line breaks the chain. It lives here, below
// both, because it is a format they share; the files and their syncing stay with each owner.
import crypto from 'node:crypto';
import type { ActionRecord } from './action.js';
import { assert } from './assert.js';
import { systemRandomBytes, type RandomBytes } from './crypto.js';
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

/** A head is a count and a SHA-256; anything else is a corrupted head, never a chain to extend. */
export function assertAuditHead(head: AuditHead, where: string): void {
  assert(Number.isSafeInteger(head.seq) && head.seq >= 0, `${where}: audit head seq ${head.seq}`);
  assert(/^[0-9a-f]{64}$/.test(head.hash), `${where}: audit head hash ${JSON.stringify(head.hash)}`);
}

/**
 * [paired assertion, replay side] A record read back continues the chain: it is the next
 * sequence number and names the previous line's hash. Used where our own records are replayed
 * (the bank's repair from its ledger, the kiosk's journal), not on files under verification.
 */
export function assertRecordFollows(head: AuditHead, record: AuditRecord, where: string): void {
  assert(record.seq === head.seq + 1, `${where}: audit record ${record.seq} after ${head.seq}`);
  assert(record.prevHash === head.hash, `${where}: audit record ${record.seq} does not link to its predecessor`);
}

export function hashTokenLine(token: string): string {
  return crypto.createHash('sha256').update(token, 'latin1').digest('hex');
}

/** Assigns sequence numbers and links records; pure apart from the injected randomness. */
export class AuditChain {
  constructor(
    private readonly key: FernetKey,
    private head: AuditHead,
    private readonly randomBytes: RandomBytes = systemRandomBytes,
  ) {
    assertAuditHead(head, 'chain start');
  }

  get currentHead(): AuditHead {
    return { ...this.head };
  }

  /** Resets to a durable head after a failed commit dropped the records sealed since. */
  resetTo(head: AuditHead): void {
    assertAuditHead(head, 'chain reset');
    assert(head.seq <= this.head.seq, `chain reset forward, from ${this.head.seq} to ${head.seq}`);
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
    // The entry is spread in: a caller's stray seq field must not renumber the chain.
    assertRecordFollows(this.head, record, 'seal');
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
