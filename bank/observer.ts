// [Seam] What the bank tells the outside world about what it does: the stdout log line now,
// MQTT telemetry later. Observers must never throw into the bank and never see secrets:
// usernames arrive in full and each observer masks them itself.
import { formatCents } from '../protocol/amount.js';

export interface ActionEvent {
  kioskId: string;
  remote: string;
  action: string;
  outcome: string;
  username: string | null;
  amountCents?: number | undefined;
  latencyMs: number;
}

export interface SessionEvent {
  kioskId: string | null;
  remote: string;
  state: 'open' | 'closed';
  reason?: string;
}

export interface SecurityEvent {
  kioskId: string | null;
  remote: string;
  reason: string; // a SessionCloseReason
  detail: string;
}

export interface BankObserver {
  action(event: ActionEvent): void;
  session(event: SessionEvent): void;
  security(event: SecurityEvent): void;
  info(message: string): void;
}

/** au*** — enough for an operator to correlate, not enough to identify. */
export function maskUsername(username: string | null): string {
  if (username === null) return '-';
  return `${username.slice(0, 2)}***`;
}

/** The seed's one-line-per-action format on a stream (stdout by default). */
export class LogLineObserver implements BankObserver {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  private prefix(kioskId: string | null, remote: string): string {
    return `[${kioskId ?? '?'} ${remote}]`;
  }

  action(event: ActionEvent): void {
    const amount = event.amountCents === undefined ? '' : ` amount=${formatCents(event.amountCents)}`;
    this.write(`${this.prefix(event.kioskId, event.remote)} ${event.action} ${event.outcome} user=${maskUsername(event.username)}${amount} balance-hidden latency=${Math.round(event.latencyMs)}ms`);
  }

  session(event: SessionEvent): void {
    this.write(`${this.prefix(event.kioskId, event.remote)} session ${event.state}${event.reason === undefined ? '' : ` ${event.reason}`}`);
  }

  security(event: SecurityEvent): void {
    this.write(`${this.prefix(event.kioskId, event.remote)} SECURITY ${event.reason} ${event.detail}`);
  }

  info(message: string): void {
    this.write(message);
  }
}

export const silentObserver: BankObserver = { action() {}, session() {}, security() {}, info() {} };

/** Fans one event out to several observers; one failing observer never affects the others. */
export function fanOut(observers: BankObserver[]): BankObserver {
  const each = (call: (observer: BankObserver) => void): void => {
    for (const observer of observers) {
      try {
        call(observer);
      } catch {
        // An observer is never allowed to break a transaction.
      }
    }
  };
  return {
    action: (event) => each((o) => o.action(event)),
    session: (event) => each((o) => o.session(event)),
    security: (event) => each((o) => o.security(event)),
    info: (message) => each((o) => o.info(message)),
  };
}
