// [Seam] What the bank tells the outside world about what it does: the stdout log line and
// MQTT telemetry. Observers must never throw into the bank and never see secrets: usernames
// arrive in full and each observer masks them itself.
import { formatCents, maskUsername } from '../protocol/index.js';
import type { CassetteReport, DeviceState } from '../protocol/index.js';

export interface ActionEvent {
  kioskId: string;
  remote: string;
  action: string;
  outcome: string;
  username: string | null;
  amountCents?: number | undefined;
  /** device.report: the states reported (the action is only emitted when they changed). */
  devices?: { keypad: DeviceState; display: DeviceState; dispenser: DeviceState } | undefined;
  latencyMs: number;
}

export interface SessionEvent {
  kioskId: string | null;
  remote: string;
  state: 'open' | 'closed';
  reason?: string;
  /**
   * On 'closed': whether this session had opened. A handshake that was admitted but never
   * finished also ends with a 'closed' event, and must not count as a session going away.
   * Absent means true (observers written before this field).
   */
  wasOpen?: boolean;
}

export interface SecurityEvent {
  kioskId: string | null;
  remote: string;
  reason: string; // a SessionCloseReason
  detail: string;
  /** Whether the session this closed had opened (a security close is also a session close). */
  wasOpen?: boolean;
}

/** A kiosk's device report (`device.report`), after the bank accepted it. */
export interface DeviceEvent {
  kioskId: string;
  remote: string;
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  cassettes: CassetteReport[];
  /** Present when the kiosk has a cash-in module / a receipt printer. */
  cashIn?: DeviceState;
  deposited?: CassetteReport[];
  printer?: DeviceState;
}

export interface BankObserver {
  action(event: ActionEvent): void;
  session(event: SessionEvent): void;
  security(event: SecurityEvent): void;
  /** Every accepted device report, changed or not; optional (only telemetry needs it). */
  device?(event: DeviceEvent): void;
  info(message: string): void;
}

// The mask is protocol's (the kiosk's receipt uses it too); re-exported for the bank's consumers.
export { maskUsername };

/** The seed's one-line-per-action format on a stream (stdout by default). */
export class LogLineObserver implements BankObserver {
  constructor(private readonly write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)) {}

  private prefix(kioskId: string | null, remote: string): string {
    return `[${kioskId ?? '?'} ${remote}]`;
  }

  action(event: ActionEvent): void {
    const amount = event.amountCents === undefined ? '' : ` amount=${formatCents(event.amountCents)}`;
    const devices =
      event.devices === undefined
        ? ''
        : ` keypad=${event.devices.keypad} display=${event.devices.display} dispenser=${event.devices.dispenser}`;
    this.write(
      `${this.prefix(event.kioskId, event.remote)} ${event.action} ${event.outcome}${devices} user=${maskUsername(event.username)}${amount} balance-hidden latency=${Math.round(event.latencyMs)}ms`,
    );
  }

  session(event: SessionEvent): void {
    this.write(
      `${this.prefix(event.kioskId, event.remote)} session ${event.state}${event.reason === undefined ? '' : ` ${event.reason}`}`,
    );
  }

  security(event: SecurityEvent): void {
    this.write(`${this.prefix(event.kioskId, event.remote)} SECURITY ${event.reason} ${event.detail}`);
  }

  // The `device.report` action line already says when a device state changed; cassette
  // counts change with every dispense and would only add noise to the log.
  device(): void {
    // nothing to log: see above
  }

  info(message: string): void {
    this.write(message);
  }
}

const ignore = (): void => undefined;
export const silentObserver: BankObserver = {
  action: ignore,
  session: ignore,
  security: ignore,
  device: ignore,
  info: ignore,
};

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
    device: (event) => each((o) => o.device?.(event)),
    info: (message) => each((o) => o.info(message)),
  };
}
