// [Seam] What the kiosk controller needs from the outside, as interfaces: the bank link and the
// journal. The real ones are KioskLink (link.ts, a secure session over TCP) and KioskJournal
// (journal.ts, a Fernet file); test/helpers/kiosk-fakes.ts has in-memory ones with test powers,
// so the controller's transaction lifecycle is tested without sockets or files.
import type { RequestBody, ResponseOf } from '../protocol/index.js';
import type { JournalEvent } from './journal-events.js';
import type { UnfinishedWithdrawal } from './recovery.js';

export type LinkState = 'connecting' | 'online' | 'offline';
/** Why the link is not online, in terms a person can act on (the out-of-service screen). */
export type LinkCause = 'connected' | 'unreachable' | 'refused' | 'lost';
/** A request as the kiosk writes it (the link numbers it: `id`); defined in protocol/responses.ts. */
export type { RequestBody };

/**
 * The kiosk's link to the bank. Contract for implementers:
 * - start() begins connecting (and reconnecting whenever the session drops) and returns at
 *   once; stop() ends that, waits for the request in flight, and closes the session.
 * - state and cause say whether requests can be carried now; onState listeners hear every
 *   change of either, in order, with a technical detail for the log. 'offline' means the bank
 *   session is gone: whoever was logged in through it is logged out.
 * - request(body) carries one request at a time (later calls queue behind the one in flight)
 *   and resolves with the bank's answer, a decline included (`ok: false` is an answer, not an
 *   error). It rejects only with an AtmError whose code says why no answer came:
 *   BANK_UNREACHABLE / SESSION_CLOSED when there was no session, REQUEST_TIMEOUT when the
 *   answer did not arrive. After a rejection the bank may or may not have acted on the request:
 *   the caller must treat the outcome as unknown and may repeat it with the same transaction id
 *   (the bank answers a repeat with its first answer, [ATM-4.2]).
 */
export interface BankLink {
  readonly state: LinkState;
  readonly cause: LinkCause;
  onState(listener: (state: LinkState, detail: string, cause: LinkCause) => void): void;
  start(): void;
  stop(): Promise<void>;
  /** The answer is typed by the op: an approval carries every field its operation promises. */
  request<Body extends RequestBody>(body: Body): Promise<ResponseOf<Body['op']>>;
}

/**
 * The kiosk's journal of transaction steps ([DESIGN §5]). Contract for implementers:
 * - append(event) returns only once the event is durable (it survives a power cut from then
 *   on), so the caller may act on it; it throws (an fs error, or an assert for a malformed
 *   event) when it could not make it durable, and then nothing was recorded.
 * - unfinished() is what a restart must settle, computed from every event appended so far
 *   (including those read back at open) by the one rule in recovery.ts (`unfinishedOf`).
 * - one writer per journal: two controllers must never share one.
 */
export interface Journal {
  append(event: JournalEvent): void;
  unfinished(): UnfinishedWithdrawal[];
}
