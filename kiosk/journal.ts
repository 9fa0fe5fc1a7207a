// [DESIGN §5] The kiosk journal: an encrypted, hash-chained record of every transaction id the
// kiosk sends and every dispense outcome, written and fsynced BEFORE the kiosk acts on it, so
// that after a power cut mid-withdrawal the kiosk can settle with the bank on restart (post what
// was dispensed, void what was not) before serving anyone. It reuses the bank's audit module:
// DIR/journal.log holds one Fernet token per line, each an AuditRecord whose prevHash is the
// SHA-256 of the previous line, so `decryptAuditToken` + `hashTokenLine` verify it as they do
// the bank's audit log. The key is derived from the kiosk's PSK, so no second key file exists.
//
// Limits of what the journal alone can prove: it keeps no second copy of its head (the bank
// keeps its head in the ledger; the kiosk has nowhere independent to put one), so removing
// whole lines from the END of the file is not detectable here; the bank's audit log, which
// records every hold/post/void, is the cross-check. Only one KioskJournal may write a dir.
import fs from 'node:fs';
import path from 'node:path';
import { AuditChain, EMPTY_AUDIT_HEAD, decryptAuditToken, hashTokenLine, type AuditHead } from '../protocol/index.js';
import { hkdf, systemRandomBytes, wipe, type RandomBytes } from '../protocol/index.js';
import { AtmError, assert, makeDataDir, type CodeOf } from '../protocol/index.js';
import { fernetKeyFromRaw, type FernetKey } from '../protocol/index.js';

import { decodeEvent, invalidEventReason, toAuditEntry, type JournalEvent } from './journal-events.js';
import { unfinishedOf, type UnfinishedWithdrawal } from './recovery.js';
import type { Journal } from './seams.js';

export { type JournalEvent } from './journal-events.js';
export {
  planRecovery,
  unfinishedOf,
  RECOVERY_REASON,
  type RecoveryAction,
  type UnfinishedWithdrawal,
} from './recovery.js';

export const JOURNAL_FILE = 'journal.log';
export const JournalError = { CORRUPT: 'JOURNAL_CORRUPT' } as const satisfies Record<string, CodeOf<'journal'>>;

const JOURNAL_KEY_SALT = 'atm kiosk journal v1';
const JOURNAL_KEY_INFO = 'fernet';
const JOURNAL_KEY_BYTES = 32;

/** HKDF-SHA256(salt = 'atm kiosk journal v1', ikm = psk, info = 'fernet', 32 bytes) as a Fernet key. */
export function deriveJournalKey(psk: Buffer): FernetKey {
  assert(psk.length > 0, 'journal key needs a non-empty PSK');
  const raw = hkdf(
    Buffer.from(JOURNAL_KEY_SALT, 'utf8'),
    psk,
    Buffer.from(JOURNAL_KEY_INFO, 'utf8'),
    JOURNAL_KEY_BYTES,
  );
  const key = fernetKeyFromRaw(raw);
  wipe(raw);
  return key;
}

function fsyncPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export class KioskJournal implements Journal {
  private readonly events: JournalEvent[];
  private readonly usernames = new Map<string, string>(); // txnId → username, to label result records

  private constructor(
    private readonly logPath: string,
    private readonly kioskId: string,
    private readonly chain: AuditChain,
    private readonly nowMs: () => number,
    events: JournalEvent[],
  ) {
    this.events = events;
    for (const event of events) this.remember(event);
  }

  /**
   * Opens (creating if needed) DIR/journal.log and replays it: every line must decrypt, carry
   * the next sequence number, link to the previous line's hash and hold a well-formed event of
   * this kiosk. A last line without its newline is a write cut by the power cut (its append
   * never returned, so nobody acted on it) and is truncated away; any other bad line is
   * tampering, a wrong key or a bug, and throws JOURNAL_CORRUPT instead of being skipped.
   */
  static open(options: {
    dir: string;
    kioskId: string;
    key: FernetKey;
    nowMs?: () => number;
    randomBytes?: RandomBytes;
  }): KioskJournal {
    const { dir, kioskId, key } = options;
    makeDataDir(dir);
    const logPath = path.join(dir, JOURNAL_FILE);
    const created = !fs.existsSync(logPath);
    fs.closeSync(fs.openSync(logPath, 'a', 0o600));
    if (created) fsyncPath(dir); // the new directory entry must survive the power cut too
    // latin1, not 'ascii': Node's ascii decoder clears the high bit, which would let a byte
    // with its top bit flipped read as the original character and pass every check.
    let content = fs.readFileSync(logPath, 'latin1');
    if (content.length > 0 && !content.endsWith('\n')) {
      const keep = content.lastIndexOf('\n') + 1;
      fs.truncateSync(logPath, keep);
      fsyncPath(logPath);
      content = content.slice(0, keep);
    }
    const lines = content.length === 0 ? [] : content.slice(0, -1).split('\n');
    const events: JournalEvent[] = [];
    let head: AuditHead = { ...EMPTY_AUDIT_HEAD };
    lines.forEach((line, index) => {
      const lineNumber = index + 1;
      const corrupt = (reason: string): AtmError =>
        new AtmError(JournalError.CORRUPT, `kiosk journal ${logPath} line ${lineNumber}: ${reason}`);
      const record = decryptAuditToken(key, line);
      if (record === null) throw corrupt('does not decrypt (edited, or written under another key)');
      if (record.seq !== lineNumber)
        throw corrupt(`sequence ${record.seq} where ${lineNumber} was expected (line deleted, inserted or moved)`);
      if (record.prevHash !== head.hash)
        throw corrupt('hash chain broken (a previous line was changed, removed or reordered)');
      if (record.kioskId !== kioskId)
        throw corrupt(`written by kiosk ${JSON.stringify(record.kioskId)}, not ${JSON.stringify(kioskId)}`);
      const event = decodeEvent(record);
      if (typeof event === 'string') throw corrupt(event);
      events.push(event);
      head = { seq: record.seq, hash: hashTokenLine(line) };
    });
    const chain = new AuditChain(key, head, options.randomBytes ?? systemRandomBytes);
    return new KioskJournal(logPath, kioskId, chain, options.nowMs ?? Date.now, events);
  }

  get records(): number {
    return this.events.length;
  }

  /**
   * Seals, writes and fsyncs the event; returns only once it is durable, so the caller may act.
   * model: protocol/settlement.pml, each j_* write: one step that survives a crash (KCRASH) or
   * never happened (a torn last line is truncated at open)
   */
  append(event: JournalEvent): void {
    const reason = invalidEventReason(event);
    assert(reason === null, `invalid journal event: ${reason}`);
    const before = this.chain.currentHead;
    assert(before.seq === this.events.length, 'journal chain and events out of step');
    const username = 'username' in event ? event.username : (this.usernames.get(event.txnId) ?? null);
    const { token } = this.chain.seal(toAuditEntry(event, this.kioskId, username), this.nowMs());
    const fd = fs.openSync(this.logPath, 'a', 0o600);
    const sizeBytes = fs.fstatSync(fd).size;
    try {
      fs.appendFileSync(fd, `${token.token}\n`);
      fs.fsyncSync(fd);
    } catch (error) {
      // Put file and chain back as they were, so a later append does not follow a half line.
      this.chain.resetTo(before);
      try {
        fs.ftruncateSync(fd, sizeBytes);
      } catch {
        // The next open truncates a torn line anyway.
      }
      throw error;
    } finally {
      fs.closeSync(fd);
    }
    const copy = { ...event };
    this.events.push(copy);
    this.remember(copy);
  }

  entries(): JournalEvent[] {
    return this.events.map((event) => ({ ...event }));
  }

  /** Withdrawals whose hold was sent and that are not settled, and deposits sent without a result, in first-sent order. */
  unfinished(): UnfinishedWithdrawal[] {
    return unfinishedOf(this.events);
  }

  private remember(event: JournalEvent): void {
    if ('username' in event) this.usernames.set(event.txnId, event.username);
  }
}
