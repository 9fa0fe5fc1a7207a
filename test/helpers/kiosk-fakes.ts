// In-memory fakes of the kiosk's seams (kiosk/seams.ts), with test powers, so the controller's
// transaction lifecycle runs without sockets, files or timers.
// - FakeBankLink: a small ledger with the bank's idempotency rule ([ATM-4.2]: a repeat of a
//   txnId with the same content gets the first answer and moves nothing); it records every
//   request, can apply a request and lose its answer, can answer from a script, can go offline.
// - MemoryJournal: records events, shares the recovery rule (unfinishedOf), and can be
//   "reopened" (a new journal holding what the old one made durable, as after a power cut).
import { AtmError, ClientError, DeclineCode, declineText, type Response } from '../../protocol/index.js';
import { unfinishedOf, type JournalEvent, type UnfinishedWithdrawal } from '../../kiosk/journal.js';
import { invalidEventReason } from '../../kiosk/journal-events.js';
import type { BankLink, Journal, LinkCause, LinkState, RequestBody } from '../../kiosk/seams.js';

/** A response before the link numbers it (distributed over ok and decline). */
type Answer = Response extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;
type Listener = (state: LinkState, detail: string, cause: LinkCause) => void;

interface FakeTxn {
  kind: 'deposit' | 'withdraw';
  username: string;
  amountCents: number;
  answer: Answer;
  hold: 'held' | 'posted' | 'voided' | null;
  settleAnswer?: Answer;
}

const declined = (code: DeclineCode): Answer => ({ ok: false, code, message: declineText[code] });

export class FakeBankLink implements BankLink {
  /** Every request the kiosk sent, in order (including those whose answer was lost). */
  readonly requests: RequestBody[] = [];
  readonly accounts = new Map<string, { balanceCents: number; heldCents: number }>();
  private readonly txns = new Map<string, FakeTxn>();
  private readonly listeners: Listener[] = [];
  private readonly scripted: { op: RequestBody['op']; answer: Answer }[] = [];
  private readonly losing: RequestBody['op'][] = [];
  private username: string | null = null;
  private linkState: LinkState = 'connecting';
  private linkCause: LinkCause = 'unreachable';
  private nextId = 1;

  get state(): LinkState {
    return this.linkState;
  }

  get cause(): LinkCause {
    return this.linkCause;
  }

  /** A customer at the bank (any password logs in). */
  customer(username: string, balanceCents: number): this {
    this.accounts.set(username, { balanceCents, heldCents: 0 });
    return this;
  }

  /** The next request of `op` gets `answer` instead of the ledger's (and moves nothing). */
  answerNext(op: RequestBody['op'], answer: Answer): void {
    this.scripted.push({ op, answer });
  }

  /** The next request of `op` is applied (committed), but its answer never arrives: REQUEST_TIMEOUT. */
  loseNextAnswer(op: RequestBody['op']): void {
    this.losing.push(op);
  }

  /** The session drops: the login goes with it; requests fail with SESSION_CLOSED until goOnline. */
  goOffline(detail = 'connection lost', cause: LinkCause = 'lost'): void {
    this.username = null;
    this.setState('offline', detail, cause);
  }

  goOnline(): void {
    this.setState('online', 'connected', 'connected');
  }

  ops(): string[] {
    return this.requests.map((request) => request.op);
  }

  onState(listener: Listener): void {
    this.listeners.push(listener);
  }

  start(): void {
    this.goOnline();
  }

  async stop(): Promise<void> {
    this.username = null;
  }

  async request(body: RequestBody): Promise<Response> {
    if (this.linkState !== 'online') throw new AtmError(ClientError.CLOSED, 'fake link: no session');
    this.requests.push(body);
    const scriptIndex = this.scripted.findIndex((entry) => entry.op === body.op);
    const answer =
      scriptIndex >= 0 ? (this.scripted.splice(scriptIndex, 1)[0] as { answer: Answer }).answer : this.apply(body);
    const loseIndex = this.losing.indexOf(body.op);
    if (loseIndex >= 0) {
      this.losing.splice(loseIndex, 1);
      throw new AtmError(ClientError.TIMEOUT, 'fake link: the answer was lost');
    }
    return { ...answer, id: this.nextId++ };
  }

  private setState(state: LinkState, detail: string, cause: LinkCause): void {
    this.linkState = state;
    this.linkCause = cause;
    for (const listener of this.listeners) listener(state, detail, cause);
  }

  /** The bank's rules, scaled down: what moves and what is answered. */
  private apply(body: RequestBody): Answer {
    switch (body.op) {
      case 'login':
        if (!this.accounts.has(body.username)) return declined(DeclineCode.AUTH_FAILED);
        this.username = body.username;
        return { ok: true, username: body.username };
      case 'logout':
        this.username = null;
        return { ok: true };
      case 'ping':
      case 'device.report':
        return { ok: true };
      case 'balance': {
        const account = this.account();
        return account === null
          ? declined(DeclineCode.NOT_LOGGED_IN)
          : { ok: true, balanceCents: account.balanceCents - account.heldCents };
      }
      case 'deposit':
      case 'withdraw.hold':
        return this.money(body.op === 'deposit' ? 'deposit' : 'withdraw', body.txnId, body.amountCents);
      case 'deposit.resolve':
        // [ATM-4.15] No login needed: the kiosk asks again for the customer it names.
        if (!this.accounts.has(body.username)) return declined(DeclineCode.INVALID_USERNAME);
        return this.money('deposit', body.txnId, body.amountCents, body.username);
      case 'withdraw.post':
        return this.settle(body.txnId, body.dispensedCents);
      case 'withdraw.void':
        return this.settle(body.txnId, 0);
      default:
        return declined(DeclineCode.BAD_REQUEST);
    }
  }

  private account(): { balanceCents: number; heldCents: number } | null {
    return this.username === null ? null : (this.accounts.get(this.username) ?? null);
  }

  private money(kind: 'deposit' | 'withdraw', txnId: string, amountCents: number, forUser = this.username): Answer {
    const account = forUser === null ? null : (this.accounts.get(forUser) ?? null);
    if (account === null || forUser === null) return declined(DeclineCode.NOT_LOGGED_IN);
    const existing = this.txns.get(txnId);
    if (existing !== undefined) {
      const same = existing.kind === kind && existing.username === forUser && existing.amountCents === amountCents;
      return same ? existing.answer : declined(DeclineCode.DUPLICATE_TXN);
    }
    let answer: Answer;
    if (kind === 'deposit') {
      account.balanceCents += amountCents;
      answer = { ok: true, txnId, balanceCents: account.balanceCents - account.heldCents };
    } else if (account.balanceCents - account.heldCents < amountCents) {
      answer = declined(DeclineCode.INSUFFICIENT_FUNDS);
    } else {
      account.heldCents += amountCents;
      answer = { ok: true, txnId, heldCents: amountCents, holdExpiresAt: new Date(0).toISOString() };
    }
    const held = kind === 'withdraw' && answer.ok;
    this.txns.set(txnId, { kind, username: forUser, amountCents, answer, hold: held ? 'held' : null });
    return answer;
  }

  /** Posts dispensedCents of a hold (0: void) and releases the rest; a settled hold answers a repeat only. */
  private settle(txnId: string, dispensedCents: number): Answer {
    const txn = this.txns.get(txnId);
    if (txn === undefined || txn.hold === null) return declined(DeclineCode.UNKNOWN_TXN);
    if (txn.hold !== 'held') return txn.settleAnswer ?? declined(DeclineCode.UNKNOWN_TXN);
    const account = this.accounts.get(txn.username) as { balanceCents: number; heldCents: number };
    account.heldCents -= txn.amountCents;
    account.balanceCents -= dispensedCents;
    txn.hold = dispensedCents > 0 ? 'posted' : 'voided';
    const answer: Answer = {
      ok: true,
      txnId,
      postedCents: dispensedCents,
      balanceCents: account.balanceCents - account.heldCents,
    };
    txn.settleAnswer = answer;
    return answer;
  }
}

export class MemoryJournal implements Journal {
  private readonly events: JournalEvent[];
  /** Test power: the next append throws (a full disk) and records nothing. */
  failNextAppend = false;

  constructor(events: readonly JournalEvent[] = []) {
    this.events = events.map((event) => ({ ...event }));
  }

  append(event: JournalEvent): void {
    if (this.failNextAppend) {
      this.failNextAppend = false;
      throw new Error('memory journal: disk full');
    }
    // The same check as KioskJournal's: a malformed event is a programmer error (Journal contract).
    const reason = invalidEventReason(event);
    if (reason !== null) throw new Error(`invalid journal event: ${reason}`);
    this.events.push({ ...event });
  }

  unfinished(): UnfinishedWithdrawal[] {
    return unfinishedOf(this.events);
  }

  entries(): JournalEvent[] {
    return this.events.map((event) => ({ ...event }));
  }

  /** What a restart finds: a new journal with every event this one made durable. */
  reopen(): MemoryJournal {
    return new MemoryJournal(this.events);
  }
}
