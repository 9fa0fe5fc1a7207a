// The bank's request handlers: one per message type, reached from one exhaustive switch.
// Each handler takes the account's (and transaction id's) lock, reads, decides with the pure
// functions of ledger.ts, and submits one batch (state + audit record) to the group
// committer; the reply is built only after that batch is durable.
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { formatCents, rethrowAssertion } from '../protocol/index.js';
import { DeclineCode, declineText } from '../protocol/index.js';
import type { CassetteReport, DeviceState, LimitDetail, Request, Response } from '../protocol/index.js';
import type { AuditEntry } from './audit.js';
import type { GroupCommitter } from './commit.js';
import {
  DEFAULT_LIMITS,
  assertAccountValid,
  availableCents,
  decideDeposit,
  decideHold,
  decidePost,
  decideVoid,
  newAccount,
  normalizeUsername,
  passwordInvalid,
  type LedgerLimits,
} from './ledger.js';
import { KeyedMutex, RateLimiter } from './mutex.js';
import type { LedgerStore } from './store.js';
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
/** Outstanding hand-over tokens at most; a kiosk needs one per renewal, so this is generous. */
export const HANDOVERS_MAX = 4_096;

export interface ServiceOptions {
  store: LedgerStore;
  committer: GroupCommitter;
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

/** What one handled request amounts to, for the log line and telemetry. */
export interface Outcome {
  action: string;
  outcome: string; // 'ok' or a decline code
  username: string | null;
  amountCents?: number;
  /** device.report only: the states reported, present only when they changed since the last report. */
  devices?: { keypad: DeviceState; display: DeviceState; dispenser: DeviceState };
}

export interface DeviceReport {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  cassettes: CassetteReport[];
  atMs: number;
}

export type Handled = { response: Response; outcome: Outcome; internalError?: string };

export class BankService {
  private readonly mutex = new KeyedMutex();
  private readonly limits: LedgerLimits;
  private readonly bcryptCost: number;
  private readonly loginFailuresMax: number;
  private readonly lockMs: number;
  readonly holdTimeoutMs: number;
  private readonly loginLimiter: RateLimiter;
  private dummyHash: Promise<string>;
  /** sha256(token) → the login it carries; the token itself is never stored or logged. */
  private readonly handovers = new Map<string, { kioskId: string; username: string; expiresAtMs: number }>();

  constructor(private readonly options: ServiceOptions) {
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.bcryptCost = options.bcryptCost ?? 12;
    this.loginFailuresMax = options.loginFailuresMax ?? 5;
    this.lockMs = options.lockMs ?? 15 * 60_000;
    this.holdTimeoutMs = options.holdTimeoutMs ?? 5 * 60_000;
    this.loginLimiter = new RateLimiter(options.loginsPerSecondPerKiosk ?? 10, options.loginBurstPerKiosk ?? 40);
    // Unknown users are checked against this hash so they cost what a real account costs.
    this.dummyHash = bcrypt.hash('not-a-real-password-xx', this.bcryptCost);
  }

  private now(): number {
    return this.options.nowMs();
  }

  private commit(batch: Partial<LedgerBatch>, entry: AuditEntry): Promise<void> {
    for (const account of batch.accounts ?? []) assertAccountValid(account, 'before commit');
    return this.options.committer.submit(batch, [entry]);
  }

  /** Audits an event that changes no account (security alerts, logout, balance). */
  audit(entry: AuditEntry): Promise<void> {
    return this.options.committer.submit({}, [entry]);
  }

  private async readAccount(username: string): Promise<Account | null> {
    const account = await this.options.store.getAccount(username);
    if (account !== null) assertAccountValid(account, 'on read');
    return account;
  }

  async handle(session: SessionContext, request: Request): Promise<Handled> {
    try {
      return await this.dispatch(session, request);
    } catch (error) {
      // A failed durable write (disk full): nothing was acknowledged. A broken invariant is no
      // decline: it ends the process (ARCHITECTURE.md 27).
      rethrowAssertion(error);
      const message = error instanceof Error ? error.message : String(error);
      return {
        response: decline(request.id, DeclineCode.INTERNAL),
        outcome: { action: request.op, outcome: DeclineCode.INTERNAL, username: session.username },
        internalError: message,
      };
    }
  }

  private dispatch(session: SessionContext, request: Request): Promise<Handled> {
    switch (request.op) {
      case 'register':
        return this.onRegister(session, request);
      case 'login':
        return this.onLogin(session, request);
      case 'logout':
        return this.onLogout(session, request);
      case 'balance':
        return this.onBalance(session, request);
      case 'deposit':
        return this.onDeposit(session, request);
      case 'withdraw.hold':
        return this.onHold(session, request);
      case 'withdraw.post':
        return this.onPost(session, request);
      case 'withdraw.void':
        return this.onVoid(session, request);
      case 'ping': {
        const response: Response = { id: request.id, ok: true };
        if (session.expiresAtMs !== undefined) response.sessionLeftMs = Math.max(0, session.expiresAtMs - this.now());
        return Promise.resolve({ response, outcome: { action: 'ping', outcome: 'ok', username: session.username } });
      }
      case 'username.check':
        return this.onUsernameCheck(session, request);
      case 'session.handover':
        return this.onHandover(session, request);
      case 'session.resume':
        return this.onResume(session, request);
      case 'device.report':
        return Promise.resolve(this.onDeviceReport(session, request));
      default: {
        const exhaustive: never = request;
        return exhaustive;
      }
    }
  }

  /** Device health, kept per kiosk for telemetry; not a customer action, so not audited. */
  private onDeviceReport(session: SessionContext, request: Extract<Request, { op: 'device.report' }>): Handled {
    const previous = this.deviceReports.get(session.kioskId);
    const { id: _id, op: _op, ...report } = request;
    this.deviceReports.set(session.kioskId, { ...report, atMs: this.now() });
    const changed =
      previous === undefined ||
      previous.keypad !== report.keypad ||
      previous.display !== report.display ||
      previous.dispenser !== report.dispenser;
    // Accepted is 'ok', like any other answered request: the device states travel beside the
    // outcome, never in it, or every report would read as a decline (a dispenser reporting
    // deviceBusy is the kiosk working, not the bank refusing anything).
    const devices = { keypad: report.keypad, display: report.display, dispenser: report.dispenser };
    return {
      response: { id: request.id, ok: true },
      outcome: { action: 'device.report', outcome: 'ok', username: null, ...(changed ? { devices } : {}) },
    };
  }

  /** The last device report of each kiosk (bounded by the number of provisioned kiosks). */
  readonly deviceReports = new Map<string, DeviceReport>();

  private async onRegister(session: SessionContext, request: Extract<Request, { op: 'register' }>): Promise<Handled> {
    const username = normalizeUsername(request.username);
    const base = { action: 'register', username };
    if (username === null) return this.declined(session, request.id, base, DeclineCode.INVALID_USERNAME);
    if (passwordInvalid(request.password) !== null)
      return this.declined(session, request.id, base, DeclineCode.WEAK_PASSWORD);
    const passwordHash = await bcrypt.hash(request.password, this.bcryptCost);
    return this.mutex.withKeys([`user:${username}`], async () => {
      if ((await this.readAccount(username)) !== null)
        return this.declined(session, request.id, base, DeclineCode.USERNAME_TAKEN);
      await this.commit(
        { accounts: [newAccount(username, passwordHash, this.now())] },
        this.entry(session, base, 'ok'),
      );
      return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
    });
  }

  private async onLogin(session: SessionContext, request: Extract<Request, { op: 'login' }>): Promise<Handled> {
    const username = normalizeUsername(request.username);
    const base = { action: 'login', username };
    if (!this.loginLimiter.take(session.kioskId, this.now()))
      return this.declined(session, request.id, base, DeclineCode.BUSY);
    if (username === null || passwordInvalid(request.password) !== null) {
      // Same answer as a wrong password; bcrypt still runs so timing does not tell either.
      await bcrypt.compare(request.password.slice(0, 72), await this.dummyHash);
      return this.declined(session, request.id, base, DeclineCode.AUTH_FAILED);
    }
    return this.mutex.withKeys([`user:${username}`], async () => {
      const account = await this.readAccount(username);
      if (account === null) {
        await bcrypt.compare(request.password, await this.dummyHash);
        return this.declined(session, request.id, base, DeclineCode.AUTH_FAILED);
      }
      const nowMs = this.now();
      if (account.lockedUntilMs > nowMs) {
        return this.declined(
          session,
          request.id,
          base,
          DeclineCode.ACCOUNT_LOCKED,
          new Date(account.lockedUntilMs).toISOString(),
        );
      }
      if (await bcrypt.compare(request.password, account.passwordHash)) {
        await this.commit(
          { accounts: [{ ...account, failedLogins: 0, lockedUntilMs: 0 }] },
          this.entry(session, base, 'ok'),
        );
        session.username = username;
        return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
      }
      const failedLogins = account.failedLogins + 1;
      const locks = failedLogins >= this.loginFailuresMax;
      const updated = {
        ...account,
        failedLogins: locks ? 0 : failedLogins,
        lockedUntilMs: locks ? nowMs + this.lockMs : 0,
      };
      const code = locks ? DeclineCode.ACCOUNT_LOCKED : DeclineCode.AUTH_FAILED;
      await this.commit(
        { accounts: [updated] },
        this.entry(session, base, code, { detail: `failed login ${failedLogins}` }),
      );
      // [ATM-4.11] The customer is told how many tries are left, and the failure that locks says
      // so at once. This tells that the account exists, which sign-up tells anyone anyway
      // (USERNAME_TAKEN, username.check); PROTOCOL.md's limitations weigh it.
      const response = decline(request.id, code);
      if (locks) response.lockedUntil = new Date(updated.lockedUntilMs).toISOString();
      else response.attemptsLeft = this.loginFailuresMax - failedLogins;
      return { response, outcome: { ...base, outcome: code } };
    });
  }

  /** [ATM-4.9] Sign-up asks early whether a name is free, so nobody types a password twice for nothing. */
  private async onUsernameCheck(
    session: SessionContext,
    request: Extract<Request, { op: 'username.check' }>,
  ): Promise<Handled> {
    const username = normalizeUsername(request.username);
    const base = { action: 'username.check', username };
    // The same budget as logins: a name check is as good a probe as a failed login.
    if (!this.loginLimiter.take(session.kioskId, this.now()))
      return this.declined(session, request.id, base, DeclineCode.BUSY);
    if (username === null) return this.declined(session, request.id, base, DeclineCode.INVALID_USERNAME);
    if ((await this.readAccount(username)) !== null)
      return this.declined(session, request.id, base, DeclineCode.USERNAME_TAKEN);
    // Audited like its declines: a run of checks is how someone would list who has an account.
    await this.audit(this.entry(session, base, 'ok'));
    return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
  }

  /**
   * [ATM-4.9] Renewal: the logged-in session hands its login to a one-time token that a new
   * session of the same kiosk redeems, so a customer never notices the session lifetime. The
   * old session stays logged in until the kiosk closes it (a failed renewal loses nothing).
   */
  private async onHandover(
    session: SessionContext,
    request: Extract<Request, { op: 'session.handover' }>,
  ): Promise<Handled> {
    const username = session.username;
    const base = { action: 'session.handover', username };
    // Nobody logged in: nothing to carry over, and no decline (a renewal between customers).
    if (username === null) return { response: { id: request.id, ok: true }, outcome: { ...base, outcome: 'ok' } };
    const nowMs = this.now();
    if (this.handovers.size >= HANDOVERS_MAX) {
      for (const [key, handover] of this.handovers) if (handover.expiresAtMs <= nowMs) this.handovers.delete(key);
      if (this.handovers.size >= HANDOVERS_MAX) return this.declined(session, request.id, base, DeclineCode.BUSY);
    }
    const token = (this.options.randomBytes ?? crypto.randomBytes)(32).toString('base64url');
    this.handovers.set(tokenKey(token), { kioskId: session.kioskId, username, expiresAtMs: nowMs + HANDOVER_TTL_MS });
    await this.audit(this.entry(session, base, 'ok'));
    return {
      response: { id: request.id, ok: true, username, resumeToken: token },
      outcome: { ...base, outcome: 'ok' },
    };
  }

  private async onResume(
    session: SessionContext,
    request: Extract<Request, { op: 'session.resume' }>,
  ): Promise<Handled> {
    const key = tokenKey(request.token);
    const handover = this.handovers.get(key);
    const nowMs = this.now();
    // Unknown, expired, or issued to another kiosk: all the same decline, and a token is spent
    // by any attempt to redeem it, so a guess cannot be retried against a live one.
    const valid =
      handover !== undefined &&
      handover.expiresAtMs > nowMs &&
      handover.kioskId === session.kioskId &&
      session.username === null;
    if (handover !== undefined && handover.kioskId === session.kioskId) this.handovers.delete(key);
    if (!valid)
      return this.declined(
        session,
        request.id,
        { action: 'session.resume', username: null },
        DeclineCode.NOT_LOGGED_IN,
        undefined,
        undefined,
        "hand-over token unknown, expired or not this kiosk's",
      );
    const base = { action: 'session.resume', username: handover.username };
    if ((await this.readAccount(handover.username)) === null)
      return this.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
    await this.audit(this.entry(session, base, 'ok'));
    session.username = handover.username;
    return { response: { id: request.id, ok: true, username: handover.username }, outcome: { ...base, outcome: 'ok' } };
  }

  private async onLogout(session: SessionContext, request: Extract<Request, { op: 'logout' }>): Promise<Handled> {
    const username = session.username;
    const base = { action: 'logout', username };
    if (username === null) return this.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
    await this.audit(this.entry(session, base, 'ok'));
    session.username = null;
    return { response: { id: request.id, ok: true }, outcome: { ...base, outcome: 'ok' } };
  }

  private async onBalance(session: SessionContext, request: Extract<Request, { op: 'balance' }>): Promise<Handled> {
    const username = session.username;
    const base = { action: 'balance', username };
    if (username === null) return this.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
    return this.mutex.withKeys([`user:${username}`], async () => {
      const account = await this.readAccount(username);
      if (account === null) return this.declined(session, request.id, base, DeclineCode.INTERNAL);
      await this.audit(this.entry(session, base, 'ok'));
      return {
        response: { id: request.id, ok: true, balanceCents: availableCents(account) },
        outcome: { ...base, outcome: 'ok' },
      };
    });
  }

  private async onDeposit(session: SessionContext, request: Extract<Request, { op: 'deposit' }>): Promise<Handled> {
    const username = session.username;
    const base = { action: 'deposit', username, amountCents: safeAmount(request.amountCents) };
    if (username === null) return this.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
    return this.mutex.withKeys([`txn:${request.txnId}`, `user:${username}`], async () => {
      const existing = await this.options.store.getTxn(request.txnId);
      if (existing !== null) {
        const same =
          existing.kind === 'deposit' && existing.username === username && existing.amountCents === request.amountCents;
        return same
          ? this.replayed(session, request.id, base, existing)
          : this.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
      }
      const account = await this.readAccount(username);
      if (account === null) return this.declined(session, request.id, base, DeclineCode.INTERNAL);
      const decision = decideDeposit(account, request.amountCents, this.limits);
      if (!decision.ok)
        return this.declined(
          session,
          request.id,
          base,
          decision.code,
          undefined,
          request.txnId,
          undefined,
          decision.limit,
        );
      const response: Response = {
        id: request.id,
        ok: true,
        txnId: request.txnId,
        balanceCents: availableCents(decision.account),
      };
      const txn = this.txn(
        session,
        request.txnId,
        'deposit',
        username,
        request.amountCents,
        'posted',
        request.amountCents,
        response,
      );
      await this.commit(
        { accounts: [decision.account], txns: [txn] },
        this.entry(session, base, 'ok', { txnId: request.txnId }),
      );
      return { response, outcome: { ...base, outcome: 'ok' } };
    });
  }

  private async onHold(session: SessionContext, request: Extract<Request, { op: 'withdraw.hold' }>): Promise<Handled> {
    const username = session.username;
    const base = { action: 'withdraw.hold', username, amountCents: safeAmount(request.amountCents) };
    if (username === null) return this.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
    return this.mutex.withKeys([`txn:${request.txnId}`, `user:${username}`], async () => {
      const existing = await this.options.store.getTxn(request.txnId);
      if (existing !== null) {
        const same =
          existing.kind === 'withdraw' &&
          existing.username === username &&
          existing.amountCents === request.amountCents;
        return same
          ? this.replayed(session, request.id, base, existing)
          : this.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
      }
      const account = await this.readAccount(username);
      if (account === null) return this.declined(session, request.id, base, DeclineCode.INTERNAL);
      const nowMs = this.now();
      const decision = decideHold(account, request.amountCents, this.limits, nowMs);
      if (!decision.ok) {
        if (decision.code === DeclineCode.INVALID_AMOUNT)
          return this.declined(session, request.id, base, decision.code);
        // Remember the decline so a retry of this id gets the same answer, not a fresh try.
        const response = decline(request.id, decision.code);
        if (decision.limit !== undefined) response.limit = decision.limit;
        const txn = this.txn(
          session,
          request.txnId,
          'withdraw',
          username,
          request.amountCents,
          'declined',
          0,
          response,
        );
        await this.commit({ txns: [txn] }, this.entry(session, base, decision.code, { txnId: request.txnId }));
        return { response, outcome: { ...base, outcome: decision.code } };
      }
      const holdExpiresAtMs = nowMs + this.holdTimeoutMs;
      const response: Response = {
        id: request.id,
        ok: true,
        txnId: request.txnId,
        heldCents: request.amountCents,
        holdExpiresAt: new Date(holdExpiresAtMs).toISOString(),
      };
      const txn = {
        ...this.txn(session, request.txnId, 'withdraw', username, request.amountCents, 'held', 0, response),
        holdExpiresAtMs,
      };
      await this.commit(
        { accounts: [decision.account], txns: [txn], openHoldsAdded: [request.txnId] },
        this.entry(session, base, 'ok', { txnId: request.txnId }),
      );
      return { response, outcome: { ...base, outcome: 'ok' } };
    });
  }

  private async onPost(session: SessionContext, request: Extract<Request, { op: 'withdraw.post' }>): Promise<Handled> {
    return this.withHold(
      session,
      request.txnId,
      { action: 'withdraw.post', amountCents: safeAmount(request.dispensedCents) },
      request.id,
      async (hold, base) => {
        const username = hold.username;
        if (hold.state === 'posted') {
          return hold.postedCents === request.dispensedCents && hold.settleResponse !== undefined
            ? this.replayed(session, request.id, base, hold, hold.settleResponse)
            : this.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
        }
        if (hold.state === 'voided') {
          // The hold expired (or was voided) before this report. Cash may have left the kiosk:
          // the audit record flags it for reconciliation instead of debiting an unheld balance.
          return this.declined(
            session,
            request.id,
            base,
            DeclineCode.UNKNOWN_TXN,
            undefined,
            request.txnId,
            'post after void: reconcile',
          );
        }
        const account = await this.readAccount(username);
        if (account === null) return this.declined(session, request.id, base, DeclineCode.INTERNAL);
        const nowMs = this.now();
        const decision = decidePost(account, hold, request.dispensedCents, nowMs);
        if (!decision.ok) return this.declined(session, request.id, base, decision.code, undefined, request.txnId);
        const response: Response = {
          id: request.id,
          ok: true,
          txnId: request.txnId,
          postedCents: request.dispensedCents,
          balanceCents: availableCents(decision.account),
        };
        const settled: TxnRecord = {
          ...hold,
          state: 'posted',
          postedCents: request.dispensedCents,
          settledAtMs: nowMs,
          settleResponse: stripId(response),
        };
        await this.commit(
          { accounts: [decision.account], txns: [settled], openHoldsRemoved: [request.txnId] },
          this.entry(session, base, 'ok', { txnId: request.txnId, detail: `held ${formatCents(hold.amountCents)}` }),
        );
        return { response, outcome: { ...base, outcome: 'ok' } };
      },
    );
  }

  private async onVoid(session: SessionContext, request: Extract<Request, { op: 'withdraw.void' }>): Promise<Handled> {
    return this.withHold(session, request.txnId, { action: 'withdraw.void' }, request.id, async (hold, base) => {
      if (hold.state === 'voided')
        return this.replayed(
          session,
          request.id,
          { ...base, amountCents: hold.amountCents },
          hold,
          hold.settleResponse,
        );
      if (hold.state === 'posted')
        return this.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
      const result = await this.voidHold(session, hold, request.reason, request.id);
      return { response: result, outcome: { ...base, amountCents: hold.amountCents, outcome: 'ok' } };
    });
  }

  /**
   * Runs fn with the hold's txn and user locks held, after checking who may settle it: the
   * logged-in owner of the hold, or, with nobody logged in, the kiosk that placed it (so a
   * kiosk restarting after a power cut can settle what its journal says, DESIGN §5).
   */
  private async withHold(
    session: SessionContext,
    txnId: string,
    action: { action: string; amountCents?: number | undefined },
    requestId: number,
    fn: (
      hold: TxnRecord,
      base: { action: string; username: string | null; amountCents?: number | undefined },
    ) => Promise<Handled>,
  ): Promise<Handled> {
    return this.mutex.withKeys([`txn:${txnId}`], async () => {
      const peek = await this.options.store.getTxn(txnId);
      const allowed =
        peek !== null &&
        peek.kind === 'withdraw' &&
        peek.state !== 'declined' &&
        (session.username !== null ? peek.username === session.username : peek.kioskId === session.kioskId);
      if (!allowed) {
        const base = { ...action, username: session.username };
        return this.declined(session, requestId, base, DeclineCode.UNKNOWN_TXN, undefined, txnId);
      }
      return this.mutex.withKeys([`user:${peek.username}`], async () => {
        const hold = await this.options.store.getTxn(txnId);
        if (hold === null) throw new Error(`hold ${txnId} vanished under its lock`);
        return fn(hold, { ...action, username: hold.username });
      });
    });
  }

  /** Caller holds the txn and user locks. */
  private async voidHold(
    session: SessionContext,
    hold: TxnRecord,
    reason: string,
    requestId: number,
  ): Promise<Response> {
    const account = await this.readAccount(hold.username);
    if (account === null) throw new Error(`hold ${hold.txnId} names a missing account`);
    const nowMs = this.now();
    const updated = decideVoid(account, hold, nowMs);
    const response: Response = {
      id: requestId,
      ok: true,
      txnId: hold.txnId,
      postedCents: 0,
      balanceCents: availableCents(updated),
    };
    const voided: TxnRecord = { ...hold, state: 'voided', settledAtMs: nowMs, settleResponse: stripId(response) };
    const entry: AuditEntry = {
      kioskId: session.kioskId,
      username: hold.username,
      action: 'withdraw.void',
      outcome: 'ok',
      amountCents: hold.amountCents,
      txnId: hold.txnId,
      detail: reason.slice(0, 200),
    };
    await this.commit({ accounts: [updated], txns: [voided], openHoldsRemoved: [hold.txnId] }, entry);
    return response;
  }

  /** Voids every hold past its expiry; returns how many. Driven by a timer with the injected clock. */
  async sweepExpiredHolds(): Promise<number> {
    let voided = 0;
    for (const txnId of await this.options.store.listOpenHolds()) {
      const peek = await this.options.store.getTxn(txnId);
      if (peek === null || peek.state !== 'held' || (peek.holdExpiresAtMs ?? 0) > this.now()) continue;
      await this.mutex.withKeys([`txn:${txnId}`, `user:${peek.username}`], async () => {
        const hold = await this.options.store.getTxn(txnId);
        if (hold === null || hold.state !== 'held' || (hold.holdExpiresAtMs ?? 0) > this.now()) return;
        await this.voidHold(
          { kioskId: hold.kioskId, remote: 'sweeper', username: null },
          hold,
          'hold expired unsettled',
          0,
        );
        voided += 1;
      });
    }
    return voided;
  }

  private entry(
    session: SessionContext,
    base: { action: string; username: string | null; amountCents?: number | undefined },
    outcome: string,
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

  private txn(
    session: SessionContext,
    txnId: string,
    kind: TxnRecord['kind'],
    username: string,
    amountCents: number,
    state: TxnRecord['state'],
    postedCents: number,
    response: Response,
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

  private async declined(
    session: SessionContext,
    id: number,
    base: { action: string; username: string | null; amountCents?: number | undefined },
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
  private async replayed(
    session: SessionContext,
    id: number,
    base: { action: string; username: string | null; amountCents?: number | undefined },
    txn: TxnRecord,
    stored = txn.response,
  ): Promise<Handled> {
    // Outcome 'replayed', not 'ok', so summing 'ok' records never counts a repeat twice.
    await this.audit(
      this.entry(session, base, 'replayed', { txnId: txn.txnId, detail: 'repeat of a transaction id; nothing moved' }),
    );
    const response = { ...(stored as Omit<Response, 'id'>), id } as Response;
    return { response, outcome: { ...base, outcome: response.ok ? 'ok' : response.code } };
  }
}

function decline(id: number, code: DeclineCode): Extract<Response, { ok: false }> {
  return { id, ok: false, code, message: declineText[code] };
}

function tokenKey(token: string): string {
  return crypto.createHash('sha256').update(token).digest('base64url');
}

function stripId(response: Response): Omit<Response, 'id'> {
  const { id: _id, ...rest } = response;
  return rest;
}

function safeAmount(value: number): number | undefined {
  return Number.isSafeInteger(value) ? value : undefined;
}
