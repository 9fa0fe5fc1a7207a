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
import { AuditChain, decryptAuditToken, hashTokenLine, type AuditEntry, type AuditRecord } from '../bank/audit.js';
import { EMPTY_AUDIT_HEAD, type AuditHead } from '../bank/types.js';
import { hkdf, systemRandomBytes, wipe, type RandomBytes } from '../protocol/crypto.js';
import { AtmError, assert } from '../protocol/errors.js';
import { fernetKeyFromRaw, type FernetKey } from '../protocol/fernet.js';

export const JOURNAL_FILE = 'journal.log';
export const JournalError = { CORRUPT: 'JOURNAL_CORRUPT' } as const;

const JOURNAL_KEY_SALT = 'atm kiosk journal v1';
const JOURNAL_KEY_INFO = 'fernet';
const JOURNAL_KEY_BYTES = 32;

export type JournalEvent =
  | { type: 'deposit.sent'; txnId: string; username: string; amountCents: number }
  | { type: 'deposit.result'; txnId: string; outcome: string } // 'ok' or a decline/error code
  | { type: 'hold.sent'; txnId: string; username: string; amountCents: number }
  | { type: 'hold.result'; txnId: string; outcome: string }
  | { type: 'dispense.started'; txnId: string; amountCents: number }
  | { type: 'dispense.result'; txnId: string; dispensedCents: number; fault: string | null }
  | { type: 'settled'; txnId: string; outcome: 'posted' | 'voided' | 'refused'; postedCents: number; detail?: string };

/** HKDF-SHA256(salt = 'atm kiosk journal v1', ikm = psk, info = 'fernet', 32 bytes) as a Fernet key. */
export function deriveJournalKey(psk: Buffer): FernetKey {
  assert(psk.length > 0, 'journal key needs a non-empty PSK');
  const raw = hkdf(Buffer.from(JOURNAL_KEY_SALT, 'utf8'), psk, Buffer.from(JOURNAL_KEY_INFO, 'utf8'), JOURNAL_KEY_BYTES);
  const key = fernetKeyFromRaw(raw);
  wipe(raw);
  return key;
}

const isCents = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Why an event is malformed, or null; used on append (assert) and on replay (corruption). */
function invalidEventReason(event: JournalEvent): string | null {
  if (!isText(event.txnId)) return 'txnId must be a non-empty string';
  switch (event.type) {
    case 'deposit.sent':
    case 'hold.sent':
      if (!isText(event.username)) return 'username must be a non-empty string';
      return isCents(event.amountCents) && event.amountCents > 0 ? null : 'amountCents must be a positive safe integer';
    case 'deposit.result':
    case 'hold.result':
      return isText(event.outcome) ? null : 'outcome must be a non-empty string';
    case 'dispense.started':
      return isCents(event.amountCents) && event.amountCents > 0 ? null : 'amountCents must be a positive safe integer';
    case 'dispense.result':
      if (!isCents(event.dispensedCents)) return 'dispensedCents must be a non-negative safe integer';
      return event.fault === null || isText(event.fault) ? null : 'fault must be null or a non-empty string';
    case 'settled':
      if (!['posted', 'voided', 'refused'].includes(event.outcome)) return `unknown settled outcome ${String(event.outcome)}`;
      if (!isCents(event.postedCents)) return 'postedCents must be a non-negative safe integer';
      return event.detail === undefined || typeof event.detail === 'string' ? null : 'detail must be a string';
    default: {
      const unknown: never = event;
      return `unknown event type ${String((unknown as { type: unknown }).type)}`;
    }
  }
}

/**
 * The audit entry for an event: the fields AuditEntry has a column for go there (amountCents
 * carries dispensedCents/postedCents), the rest go to detail as JSON, so that a reader with
 * only the audit key sees the story and decodeEvent can rebuild the event exactly.
 */
function toAuditEntry(event: JournalEvent, kioskId: string, username: string | null): AuditEntry {
  const base = { kioskId, username, action: event.type, txnId: event.txnId };
  switch (event.type) {
    case 'deposit.sent':
    case 'hold.sent':
      return { ...base, username: event.username, outcome: 'sent', amountCents: event.amountCents, detail: '{}' };
    case 'deposit.result':
    case 'hold.result':
      return { ...base, outcome: event.outcome, detail: '{}' };
    case 'dispense.started':
      return { ...base, outcome: 'started', amountCents: event.amountCents, detail: '{}' };
    case 'dispense.result':
      return { ...base, outcome: event.fault ?? 'ok', amountCents: event.dispensedCents, detail: JSON.stringify({ fault: event.fault }) };
    case 'settled':
      return { ...base, outcome: event.outcome, amountCents: event.postedCents, detail: JSON.stringify(event.detail === undefined ? {} : { detail: event.detail }) };
  }
}

/** The event a record holds, or a reason it holds none (which, past the MAC, means a bug or a key holder's forgery). */
function decodeEvent(record: AuditRecord): JournalEvent | string {
  let extra: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(record.detail ?? '');
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'detail is not a JSON object';
    extra = parsed as Record<string, unknown>;
  } catch {
    return 'detail is not JSON';
  }
  const txnId = record.txnId as string;
  let event: JournalEvent;
  switch (record.action) {
    case 'deposit.sent':
    case 'hold.sent':
      event = { type: record.action, txnId, username: record.username as string, amountCents: record.amountCents as number };
      break;
    case 'deposit.result':
    case 'hold.result':
      event = { type: record.action, txnId, outcome: record.outcome };
      break;
    case 'dispense.started':
      event = { type: 'dispense.started', txnId, amountCents: record.amountCents as number };
      break;
    case 'dispense.result':
      event = { type: 'dispense.result', txnId, dispensedCents: record.amountCents as number, fault: extra.fault as string | null };
      if ((event.fault ?? 'ok') !== record.outcome) return 'fault and outcome disagree';
      break;
    case 'settled':
      event = { type: 'settled', txnId, outcome: record.outcome as 'posted' | 'voided' | 'refused', postedCents: record.amountCents as number };
      if (extra.detail !== undefined) event.detail = extra.detail as string;
      break;
    default:
      return `unknown action ${JSON.stringify(record.action)}`;
  }
  return invalidEventReason(event) ?? event;
}

function fsyncPath(target: string): void {
  const fd = fs.openSync(target, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

export interface UnfinishedWithdrawal {
  /** Absent or 'withdrawal' for a hold; 'deposit' for a deposit sent without a result (only txnId, username, amountCents matter then). */
  kind?: 'withdrawal' | 'deposit';
  txnId: string;
  username: string;
  amountCents: number;
  holdOutcome: string | null;
  dispenseStarted: boolean;
  dispensedCents: number | null;
  fault: string | null;
}

export class KioskJournal {
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
  static open(options: { dir: string; kioskId: string; key: FernetKey; nowMs?: () => number; randomBytes?: RandomBytes }): KioskJournal {
    const { dir, kioskId, key } = options;
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
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
      const corrupt = (reason: string): AtmError => new AtmError(JournalError.CORRUPT, `kiosk journal ${logPath} line ${lineNumber}: ${reason}`);
      const record = decryptAuditToken(key, line);
      if (record === null) throw corrupt('does not decrypt (edited, or written under another key)');
      if (record.seq !== lineNumber) throw corrupt(`sequence ${record.seq} where ${lineNumber} was expected (line deleted, inserted or moved)`);
      if (record.prevHash !== head.hash) throw corrupt('hash chain broken (a previous line was changed, removed or reordered)');
      if (record.kioskId !== kioskId) throw corrupt(`written by kiosk ${JSON.stringify(record.kioskId)}, not ${JSON.stringify(kioskId)}`);
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

  /** Seals, writes and fsyncs the event; returns only once it is durable, so the caller may act. */
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
    const open = new Map<string, UnfinishedWithdrawal>();
    const finished = new Set<string>();
    for (const event of this.events) {
      const current = open.get(event.txnId);
      switch (event.type) {
        case 'deposit.sent':
        case 'hold.sent': {
          const kind = event.type === 'hold.sent' ? 'withdrawal' : 'deposit';
          if (current === undefined) {
            open.set(event.txnId, { kind, txnId: event.txnId, username: event.username, amountCents: event.amountCents, holdOutcome: null, dispenseStarted: false, dispensedCents: null, fault: null });
          }
          break;
        }
        case 'deposit.result':
          if (current?.kind === 'deposit') finished.add(event.txnId);
          break;
        case 'hold.result':
          if (current !== undefined) current.holdOutcome = event.outcome;
          break;
        case 'dispense.started':
          if (current !== undefined) current.dispenseStarted = true;
          break;
        case 'dispense.result':
          if (current !== undefined) {
            current.dispenseStarted = true;
            current.dispensedCents = event.dispensedCents;
            current.fault = event.fault;
          }
          break;
        case 'settled':
          finished.add(event.txnId);
          break;
      }
    }
    return [...open.values()].filter((item) => !finished.has(item.txnId));
  }

  private remember(event: JournalEvent): void {
    if ('username' in event) this.usernames.set(event.txnId, event.username);
  }
}

export type RecoveryAction =
  | { txnId: string; action: 'post'; dispensedCents: number }
  | { txnId: string; action: 'void'; reason: string }
  | { txnId: string; action: 'none'; reason: string };

export const RECOVERY_REASON = {
  DEPOSIT_UNKNOWN: "deposit outcome unknown; the bank's answer to a retry of the same id tells",
  HOLD_UNKNOWN: 'hold outcome unknown; void is harmless if the bank never placed it',
  HOLD_REFUSED: 'hold was refused; nothing to settle',
  NOT_DISPENSED: 'hold placed but nothing dispensed',
  DISPENSED_NOTHING: 'dispense reported 0 cents',
  DISPENSE_INTERRUPTED: 'dispense interrupted: count the cassettes',
} as const;

/**
 * What to tell the bank about each unfinished transaction after a restart. Pure. The rules:
 * - a deposit sent without a result: 'none'. The kiosk cannot know whether the bank applied
 *   it; retrying with the same txn id is safe (the bank answers a repeat with the first result).
 * - a dispense.result with dispensedCents > 0: 'post' exactly that (a partial dispense too):
 *   the cash has left the machine, so the customer's account must carry it. This rule is
 *   checked first because it is the strongest evidence the journal can hold.
 * - a dispense.result with 0: 'void'.
 * - dispense.started without a result (power cut during the dispense itself): 'void' with
 *   DISPENSE_INTERRUPTED. The journal cannot know how many notes left; voiding is the safe
 *   default for the customer, and an operator reconciles by counting the cassettes.
 * - hold sent but no result: 'void'. The bank may or may not have placed it; a void of an
 *   unknown hold is harmless (the bank answers UNKNOWN_TXN).
 * - hold result not 'ok': 'none'; no hold exists.
 * - hold 'ok', dispense not started: 'void'.
 */
export function planRecovery(unfinished: UnfinishedWithdrawal[]): RecoveryAction[] {
  return unfinished.map((item): RecoveryAction => {
    const { txnId } = item;
    if (item.kind === 'deposit') return { txnId, action: 'none', reason: RECOVERY_REASON.DEPOSIT_UNKNOWN };
    if (item.dispensedCents !== null) {
      return item.dispensedCents > 0 ? { txnId, action: 'post', dispensedCents: item.dispensedCents } : { txnId, action: 'void', reason: RECOVERY_REASON.DISPENSED_NOTHING };
    }
    if (item.dispenseStarted) return { txnId, action: 'void', reason: RECOVERY_REASON.DISPENSE_INTERRUPTED };
    if (item.holdOutcome === null) return { txnId, action: 'void', reason: RECOVERY_REASON.HOLD_UNKNOWN };
    if (item.holdOutcome !== 'ok') return { txnId, action: 'none', reason: `${RECOVERY_REASON.HOLD_REFUSED} (${item.holdOutcome})` };
    return { txnId, action: 'void', reason: RECOVERY_REASON.NOT_DISPENSED };
  });
}
