// The kiosk journal's records: what each event holds, its checks, and its encoding as an
// AuditRecord (journal.ts writes and reads them; the chain and the file live there).
import {
  isCodeOf,
  type ActionOutcome,
  type AuditEntry,
  type AuditRecord,
  type Cassette,
  type DispenseFault,
} from '../protocol/index.js';

/** What became of a deposit's escrowed notes: in the cassette, handed back, or not taken and retained. */
export type EscrowOutcome = 'stored' | 'returned' | 'retained';
const ESCROW_OUTCOMES: readonly string[] = ['stored', 'returned', 'retained'];

export type JournalEvent =
  /** notes: what the escrow holds for it; absent for a deposit typed at a kiosk with no cash-in module. */
  | { type: 'deposit.sent'; txnId: string; username: string; amountCents: number; notes?: Cassette[] }
  | { type: 'deposit.result'; txnId: string; outcome: ActionOutcome } // 'ok' or a decline/error code
  | { type: 'hold.sent'; txnId: string; username: string; amountCents: number }
  | { type: 'hold.result'; txnId: string; outcome: ActionOutcome }
  | { type: 'dispense.started'; txnId: string; amountCents: number }
  | { type: 'dispense.result'; txnId: string; dispensedCents: number; fault: DispenseFault | null }
  | { type: 'settled'; txnId: string; outcome: 'posted' | 'voided' | 'refused'; postedCents: number; detail?: string }
  | { type: 'escrow'; txnId: string; outcome: EscrowOutcome; amountCents: number }
  /** Cash presented and not taken in time, pulled back into the retract bin: the hold is to be voided. */
  | { type: 'retracted'; txnId: string; amountCents: number };

const isNotes = (value: unknown): value is Cassette[] =>
  Array.isArray(value) &&
  value.length <= 8 &&
  value.every(
    (note: Partial<Cassette>) =>
      Number.isSafeInteger(note.denominationCents) &&
      (note.denominationCents ?? 0) > 0 &&
      Number.isSafeInteger(note.count) &&
      (note.count ?? 0) > 0,
  );

const isCents = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isText = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

/** Why an event is malformed, or null; used on append (assert) and on replay (corruption). */
export function invalidEventReason(event: JournalEvent): string | null {
  if (!isText(event.txnId)) return 'txnId must be a non-empty string';
  switch (event.type) {
    case 'deposit.sent':
    case 'hold.sent':
      if (event.type === 'deposit.sent' && event.notes !== undefined) {
        if (!isNotes(event.notes)) return 'notes must be at most 8 {denominationCents, count}';
        const notesCents = event.notes.reduce((sum, note) => sum + note.denominationCents * note.count, 0);
        if (notesCents !== event.amountCents) return 'notes must add up to amountCents';
      }
      if (!isText(event.username)) return 'username must be a non-empty string';
      return isCents(event.amountCents) && event.amountCents > 0 ? null : 'amountCents must be a positive safe integer';
    case 'retracted':
      return isCents(event.amountCents) && event.amountCents > 0 ? null : 'amountCents must be a positive safe integer';
    case 'escrow':
      if (!ESCROW_OUTCOMES.includes(event.outcome)) return `unknown escrow outcome ${event.outcome}`;
      return isCents(event.amountCents) ? null : 'amountCents must be a non-negative safe integer';
    case 'deposit.result':
    case 'hold.result':
      return isText(event.outcome) ? null : 'outcome must be a non-empty string';
    case 'dispense.started':
      return isCents(event.amountCents) && event.amountCents > 0 ? null : 'amountCents must be a positive safe integer';
    case 'dispense.result':
      if (!isCents(event.dispensedCents)) return 'dispensedCents must be a non-negative safe integer';
      return event.fault === null || isCodeOf('dispenseFault', event.fault)
        ? null
        : 'fault must be null or a dispense fault';
    case 'settled':
      if (!['posted', 'voided', 'refused'].includes(event.outcome)) return `unknown settled outcome ${event.outcome}`;
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
export function toAuditEntry(event: JournalEvent, kioskId: string, username: string | null): AuditEntry {
  const base = { kioskId, username, action: event.type, txnId: event.txnId };
  switch (event.type) {
    case 'deposit.sent':
    case 'hold.sent':
      return {
        ...base,
        username: event.username,
        outcome: 'sent',
        amountCents: event.amountCents,
        detail: JSON.stringify(
          event.type === 'deposit.sent' && event.notes !== undefined ? { notes: event.notes } : {},
        ),
      };
    case 'escrow':
      return { ...base, outcome: event.outcome, amountCents: event.amountCents, detail: '{}' };
    case 'retracted':
      return { ...base, outcome: 'retracted', amountCents: event.amountCents, detail: '{}' };
    case 'deposit.result':
    case 'hold.result':
      return { ...base, outcome: event.outcome, detail: '{}' };
    case 'dispense.started':
      return { ...base, outcome: 'started', amountCents: event.amountCents, detail: '{}' };
    case 'dispense.result':
      return {
        ...base,
        outcome: event.fault ?? 'ok',
        amountCents: event.dispensedCents,
        detail: JSON.stringify({ fault: event.fault }),
      };
    case 'settled':
      return {
        ...base,
        outcome: event.outcome,
        amountCents: event.postedCents,
        detail: JSON.stringify(event.detail === undefined ? {} : { detail: event.detail }),
      };
  }
}

/** The event a record holds, or a reason it holds none (which, past the MAC, means a bug or a key holder's forgery). */
export function decodeEvent(record: AuditRecord): JournalEvent | string {
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
      event = {
        type: record.action,
        txnId,
        username: record.username as string,
        amountCents: record.amountCents as number,
      };
      if (event.type === 'deposit.sent' && extra.notes !== undefined) event.notes = extra.notes as Cassette[];
      break;
    case 'retracted':
      event = { type: 'retracted', txnId, amountCents: record.amountCents as number };
      break;
    case 'escrow':
      event = {
        type: 'escrow',
        txnId,
        outcome: record.outcome as EscrowOutcome,
        amountCents: record.amountCents as number,
      };
      break;
    case 'deposit.result':
    case 'hold.result':
      event =
        record.action === 'deposit.result'
          ? { type: 'deposit.result', txnId, outcome: record.outcome }
          : { type: 'hold.result', txnId, outcome: record.outcome };
      break;
    case 'dispense.started':
      event = { type: 'dispense.started', txnId, amountCents: record.amountCents as number };
      break;
    case 'dispense.result':
      event = {
        type: 'dispense.result',
        txnId,
        dispensedCents: record.amountCents as number,
        fault: extra.fault as DispenseFault | null,
      };
      if ((event.fault ?? 'ok') !== record.outcome) return 'fault and outcome disagree';
      break;
    case 'settled':
      event = {
        type: 'settled',
        txnId,
        outcome: record.outcome as 'posted' | 'voided' | 'refused',
        postedCents: record.amountCents as number,
      };
      if (extra.detail !== undefined) event.detail = extra.detail as string;
      break;
    default:
      return `unknown action ${JSON.stringify(record.action)}`;
  }
  return invalidEventReason(event) ?? event;
}
