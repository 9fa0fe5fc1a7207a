// The bank's request handling: one handler per message type, reached from one exhaustive switch.
// Each handler takes the account's (and transaction id's) lock, reads, decides with the pure
// functions of ledger.ts, and submits one batch (state + audit record) to the group
// committer; the reply is built only after that batch is durable. The handlers live by group in
// handlers-session.ts, handlers-money.ts and handlers-account.ts; their shared state and steps in service-core.ts.
import { DeclineCode, rethrowAssertion } from '../protocol/index.js';
import type { ApprovalOf, Request } from '../protocol/index.js';
import { onHandover, onLogin, onLogout, onRegister, onResume, onUsernameCheck } from './handlers-session.js';
import { onBalance, onDeposit, onDepositResolve, onHold, onPost, onVoid } from './handlers-money.js';
import { onPasswordChange, onStatement } from './handlers-account.js';
import { sweepExpiredHolds } from './holds.js';
import { ServiceCore, decline, type DeviceReport, type Handled, type SessionContext } from './service-core.js';

export {
  HANDOVERS_MAX,
  HANDOVER_TTL_MS,
  type DeviceReport,
  type Handled,
  type Outcome,
  type ServiceOptions,
  type SessionContext,
} from './service-core.js';

export class BankService extends ServiceCore {
  async handle(session: SessionContext, request: Request): Promise<Handled> {
    try {
      return await this.dispatch(session, request);
    } catch (error) {
      // A failed durable write (disk full): nothing was acknowledged. A broken invariant is no
      // decline: it ends the process (ARCHITECTURE.md decision 29).
      rethrowAssertion(error);
      const message = error instanceof Error ? error.message : String(error);
      const handled: Handled = {
        response: decline(request.id, DeclineCode.INTERNAL),
        outcome: { action: request.op, outcome: DeclineCode.INTERNAL, username: session.username },
        internalError: message,
      };
      if ((error as { code?: unknown }).code === 'OUTCOME_UNKNOWN') handled.unanswered = true;
      return handled;
    }
  }

  private dispatch(session: SessionContext, request: Request): Promise<Handled> {
    switch (request.op) {
      case 'register':
        return onRegister(this, session, request);
      case 'login':
        return onLogin(this, session, request);
      case 'logout':
        return onLogout(this, session, request);
      case 'balance':
        return onBalance(this, session, request);
      case 'statement':
        return onStatement(this, session, request);
      case 'password.change':
        return onPasswordChange(this, session, request);
      case 'deposit':
        return onDeposit(this, session, request);
      case 'deposit.resolve':
        return onDepositResolve(this, session, request);
      case 'withdraw.hold':
        return onHold(this, session, request);
      case 'withdraw.post':
        return onPost(this, session, request);
      case 'withdraw.void':
        return onVoid(this, session, request);
      case 'ping': {
        const response: ApprovalOf<'ping'> = { id: request.id, ok: true };
        if (session.expiresAtMs !== undefined) response.sessionLeftMs = Math.max(0, session.expiresAtMs - this.now());
        return Promise.resolve({ response, outcome: { action: 'ping', outcome: 'ok', username: session.username } });
      }
      case 'username.check':
        return onUsernameCheck(this, session, request);
      case 'session.handover':
        return onHandover(this, session, request);
      case 'session.resume':
        return onResume(this, session, request);
      case 'device.report':
        return Promise.resolve(this.onDeviceReport(session, request));
      default: {
        const exhaustive: never = request;
        return exhaustive;
      }
    }
  }

  /** Device health, kept per kiosk for telemetry; not a customer action, so not audited. */ private onDeviceReport(
    session: SessionContext,
    request: Extract<Request, { op: 'device.report' }>,
  ): Handled {
    const previous = this.deviceReports.get(session.kioskId);
    const { id: _id, op: _op, ...report } = request;
    this.deviceReports.set(session.kioskId, { ...report, atMs: this.now() });
    const changed =
      previous?.keypad !== report.keypad ||
      previous.display !== report.display ||
      previous.dispenser !== report.dispenser ||
      previous.cashIn !== report.cashIn ||
      previous.printer !== report.printer;
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

  /** Voids every hold past its expiry; returns how many. Driven by a timer with the injected clock. */
  sweepExpiredHolds(): Promise<number> {
    return sweepExpiredHolds(this);
  }
}
