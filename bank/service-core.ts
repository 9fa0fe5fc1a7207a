// What every bank request handler stands on: the session and outcome types, and ServiceCore,
// which holds the service's state (options, limits, locks, rate limiter, hand-over tokens) and
// the steps all handlers share: read an account with its invariant checked, commit a batch
// with its audit record, answer a decline or a replay. The handlers themselves live in
// handlers-session.ts and handlers-money.ts; service.ts dispatches to them.
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { declineText } from '../protocol/index.js';
import type { ActionOutcome, ActionRecord, BankAction, DeclineCode } from '../protocol/index.js';
import type { ResponseOf, CassetteReport, DeviceState, LimitDetail, Response } from '../protocol/index.js';
import type { AuditEntry } from './audit.js';
import type { Committer } from './commit.js';
import { DEFAULT_LIMITS, assertAccountValid, type LedgerLimits } from './ledger.js';
import { KeyedMutex } from './mutex.js';
import { MemorySharedState, type SharedState } from './shared-state.js';
import type { LedgerStore, LockManager } from './store.js';
import type { Account, LedgerBatch, TxnRecord } from './types.js';

export interface SessionContext {
  kioskId: string;
  remote: string;
  username: string | null;
  /** When the channel's lifetime ends it ([ATM-3.6]); ping reports what is left ([ATM-4.9]). */
  expiresAtMs?: number;
}

/** [ATM-4.9] A hand-over token is good for this long, once, for the kiosk it was issued to. */
export const HANDOVER_TTL_MS = 30_000;
export { HANDOVERS_MAX } from './shared-state.js';

export interface ServiceOptions {
  store: LedgerStore;
  committer: Committer;
  /** Per-key locks; default the in-process mutex (one bank per ledger). */
  locks?: LockManager;
  /** Login buckets and hand-over tokens; default in memory (one bank per ledger). */
  shared?: SharedState;
  nowMs: () => number;
  bcryptCost?: number;
  limits?: Partial<LedgerLimits>;
  loginFailuresMax?: number;
  lockMs?: number;
  holdTimeoutMs?: number;
  loginsPerSecondPerKiosk?: number;
  loginBurstPerKiosk?: number;
  randomBytes?: (size: number) => Buffer;
}

/** What one handled request amounts to, for the log line and telemetry: the action record's fields. */
export interface Outcome extends Pick<ActionRecord<BankAction>, 'action' | 'outcome' | 'username' | 'amountCents'> {
  /** device.report only: the states reported, present only when they changed since the last report. */
  devices?: { keypad: DeviceState; display: DeviceState; dispenser: DeviceState };
}

/** The fields every handler knows before it decides: which action, whose, how much. */
export type ActionBase = Pick<ActionRecord<BankAction>, 'action' | 'username'> & { amountCents?: number | undefined };

export interface DeviceReport {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  cassettes: CassetteReport[];
  cashIn?: DeviceState;
  deposited?: CassetteReport[];
  printer?: DeviceState;
  retractedNotes?: number;
  atMs: number;
}

export interface Handled {
  response: Response;
  outcome: Outcome;
  internalError?: string;
  /**
   * The request's effect is not known (a database commit whose answer was lost): the session
   * is closed without an answer, so the kiosk asks again with the same id, never told "declined".
   */
  unanswered?: true;
}

/** The state and shared steps of the bank service; handlers receive it as `core`. */
export class ServiceCore {
  readonly locks: LockManager;
  readonly limits: LedgerLimits;
  readonly bcryptCost: number;
  readonly loginFailuresMax: number;
  readonly lockMs: number;
  readonly holdTimeoutMs: number;
  /** Login attempts per kiosk and hand-over tokens (by their SHA-256; a token is never stored or logged). */
  readonly shared: SharedState;
  dummyHash: Promise<string>;

  constructor(readonly options: ServiceOptions) {
    this.locks = options.locks ?? new KeyedMutex();
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.bcryptCost = options.bcryptCost ?? 12;
    this.loginFailuresMax = options.loginFailuresMax ?? 5;
    this.lockMs = options.lockMs ?? 15 * 60_000;
    this.holdTimeoutMs = options.holdTimeoutMs ?? 5 * 60_000;
    this.shared =
      options.shared ?? new MemorySharedState(options.loginsPerSecondPerKiosk ?? 10, options.loginBurstPerKiosk ?? 40);
    // Unknown users are checked against this hash so they cost what a real account costs.
    this.dummyHash = bcrypt.hash('not-a-real-password-xx', this.bcryptCost);
  }

  now(): number {
    return this.options.nowMs();
  }

  commit(batch: Partial<LedgerBatch>, entry: AuditEntry): Promise<void> {
    for (const account of batch.accounts ?? []) assertAccountValid(account, 'before commit');
    return this.options.committer.submit(batch, [entry]);
  }

  /** Audits an event that changes no account (security alerts, logout, balance). */
  audit(entry: AuditEntry): Promise<void> {
    return this.options.committer.submit({}, [entry]);
  }

  async readAccount(username: string): Promise<Account | null> {
    const account = await this.options.store.getAccount(username);
    if (account !== null) assertAccountValid(account, 'on read');
    return account;
  }

  entry(
    session: SessionContext,
    base: ActionBase,
    outcome: ActionOutcome,
    extra: Partial<AuditEntry> = {},
  ): AuditEntry {
    const entry: AuditEntry = {
      kioskId: session.kioskId,
      username: base.username,
      action: base.action,
      outcome,
      ...extra,
    };
    if (base.amountCents !== undefined) entry.amountCents = base.amountCents;
    return entry;
  }

  txn(
    session: SessionContext,
    txnId: string,
    kind: TxnRecord['kind'],
    username: string,
    amountCents: number,
    state: TxnRecord['state'],
    postedCents: number,
    response: ResponseOf<'deposit'> | ResponseOf<'withdraw.hold'>,
  ): TxnRecord {
    return {
      txnId,
      kind,
      username,
      kioskId: session.kioskId,
      amountCents,
      postedCents,
      state,
      createdAtMs: this.now(),
      response: stripId(response),
    };
  }

  async declined(
    session: SessionContext,
    id: number,
    base: ActionBase,
    code: DeclineCode,
    lockedUntil?: string,
    txnId?: string,
    detail?: string,
    limit?: LimitDetail,
  ): Promise<Handled> {
    const extra: Partial<AuditEntry> = {};
    if (txnId !== undefined) extra.txnId = txnId;
    if (detail !== undefined) extra.detail = detail;
    await this.audit(this.entry(session, base, code, extra));
    const response = decline(id, code);
    if (lockedUntil !== undefined) response.lockedUntil = lockedUntil;
    if (limit !== undefined) response.limit = limit;
    return { response, outcome: { ...base, outcome: code } };
  }

  /** A repeat of a transaction id with the same request: the first answer, no money moved. */
  async replayed(
    session: SessionContext,
    id: number,
    base: ActionBase,
    txn: TxnRecord,
    stored = txn.response,
  ): Promise<Handled> {
    // Outcome 'replayed', not 'ok', so summing 'ok' records never counts a repeat twice.
    await this.audit(
      this.entry(session, base, 'replayed', { txnId: txn.txnId, detail: 'repeat of a transaction id; nothing moved' }),
    );
    const response: Response = { ...stored, id };
    return { response, outcome: { ...base, outcome: response.ok ? 'ok' : response.code } };
  }
}

export function decline(id: number, code: DeclineCode): Extract<Response, { ok: false }> {
  return { id, ok: false, code, message: declineText[code] };
}

export function tokenKey(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

/** The response without its id, member by member of a union (Omit alone would merge them). */
export type WithoutId<R> = R extends { id: number } ? Omit<R, 'id'> : never;

export function stripId<R extends Response>(response: R): WithoutId<R> {
  const { id: _id, ...rest } = response;
  return rest as WithoutId<R>;
}

export function safeAmount(value: number): number | undefined {
  return Number.isSafeInteger(value) ? value : undefined;
}
