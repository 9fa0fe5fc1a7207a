// Turns the bank's observer events into telemetry (TOPICS.md): events as they happen, the
// retained kiosk statuses, alerts from the alert engine with the retained active snapshot,
// and metrics when the host asks. Only what an operator needs: never balances, passwords,
// keys or full usernames (usernames are masked here). The host drives time: tick() every
// second for the alert time rules, publishMetrics() every metrics interval.
import type { AlertPayload, KioskStatus } from '../protocol/index.js';
import { topics } from '../protocol/index.js';
import { AlertEngine, type AlertEngineOptions } from './alerts.js';
import { KioskStatusBoard } from './kiosk-status.js';
import { MetricsAccumulator } from './metrics.js';
import {
  maskUsername,
  type ActionEvent,
  type BankObserver,
  type DeviceEvent,
  type SecurityEvent,
  type SessionEvent,
} from '../bank/index.js';
import type { TelemetrySink } from './telemetry.js';

export interface TelemetryObserverOptions {
  sink: TelemetrySink;
  nowMs: () => number;
  alerts?: Partial<AlertEngineOptions>;
}

export class TelemetryObserver implements BankObserver {
  readonly alerts: AlertEngine;
  private readonly sink: TelemetrySink;
  private readonly nowMs: () => number;
  private readonly board: KioskStatusBoard;
  private readonly metrics: MetricsAccumulator;
  /** The provisioned kiosks, to see which ones a keystore change revoked. */
  private fleet = new Set<string>();
  /** Revoked while we run: what they still do (a last request, a session closing) is not put back on the board. */
  private readonly revoked = new Set<string>();

  constructor(options: TelemetryObserverOptions) {
    this.sink = options.sink;
    this.nowMs = options.nowMs;
    this.alerts = new AlertEngine(options.alerts);
    this.board = new KioskStatusBoard(this.alerts, this.alerts.options.lowCashCount, this.alerts.options.kiosksMax);
    this.metrics = new MetricsAccumulator(this.nowMs());
  }

  /**
   * At start: the provisioned kiosks (each starts its offline clock now), the kiosk statuses
   * the last run left retained, and the alert snapshot, replacing the last run's.
   */
  start(fleet: Iterable<string>, retained: readonly KioskStatus[]): void {
    const nowMs = this.nowMs();
    this.fleet = new Set(fleet);
    for (const status of retained) {
      // Revoked while the bank was down: the retained status is replaced by a `revoked` one.
      if (!this.fleet.has(status.kioskId)) {
        if (status.status !== 'revoked') this.publishStatus({ ...status, status: 'revoked' });
        continue;
      }
      const seeded = this.board.seed(status);
      // Provisioned again after a revocation: listed again, offline until it connects.
      this.publishStatus(status.status === 'revoked' ? this.board.status(status.kioskId) : seeded);
    }
    this.publishAlerts(this.alerts.setFleet(this.fleet, nowMs), 'start');
  }

  /**
   * The keystore changed: kiosks added start their offline clock; revoked ones are dropped
   * from the alerts and the board, and their retained status says `revoked`.
   */
  setFleet(fleet: Iterable<string>): void {
    const next = new Set(fleet);
    // Also kiosks on the board that we never saw in the fleet: added and revoked between two
    // keystore reads, they may still have had a session (and a status) in between.
    const known = new Set([...this.fleet, ...this.board.all().map((status) => status.kioskId)]);
    for (const kioskId of known) {
      if (next.has(kioskId)) continue;
      this.revoked.add(kioskId);
      this.publishStatus(this.board.revoke(kioskId));
    }
    for (const kioskId of next) {
      if (this.revoked.delete(kioskId)) this.publishStatus(this.board.add(kioskId));
    }
    this.fleet = next;
    this.publishAlerts(this.alerts.setFleet(next, this.nowMs()));
  }

  action(event: ActionEvent): void {
    const nowMs = this.nowMs();
    this.sink.publish(topics.event(event.action), {
      kioskId: event.kioskId,
      user: maskUsername(event.username),
      action: event.action,
      outcome: event.outcome,
      amountCents: event.amountCents ?? null,
      latencyMs: Math.round(event.latencyMs),
      ...(event.devices === undefined ? {} : { devices: event.devices }),
    });
    if (!this.revoked.has(event.kioskId)) this.board.seen(event.kioskId, nowMs);
    this.metrics.record(event.action, event.outcome, event.latencyMs);
    if (event.outcome === 'ACCOUNT_LOCKED') this.publishAlerts(this.alerts.loginLocked(event.kioskId, nowMs));
    if (event.outcome === 'KIOSK_REVOKED')
      this.publishAlerts(this.alerts.security(event.kioskId, 'KIOSK_REVOKED', nowMs));
  }

  session(event: SessionEvent): void {
    // A session that never identified its kiosk says nothing about any kiosk's status; nor
    // does a revoked kiosk's last session, closing.
    if (event.kioskId === null || this.revoked.has(event.kioskId)) return;
    if (event.state === 'open') {
      // The alert engine counts the session; the board reads that count (published in the same order).
      const transitions = this.alerts.sessionOpened(event.kioskId, this.nowMs());
      this.publishStatus(this.board.sessionOpened(event.kioskId, this.nowMs()));
      this.publishAlerts(transitions);
    } else if (event.wasOpen !== false) {
      this.closed(event.kioskId);
    }
  }

  security(event: SecurityEvent): void {
    this.publishAlerts(this.alerts.security(event.kioskId, event.reason, this.nowMs()));
    if (event.wasOpen === true && event.kioskId !== null && !this.revoked.has(event.kioskId))
      this.closed(event.kioskId);
  }

  device(event: DeviceEvent): void {
    if (this.revoked.has(event.kioskId)) return;
    const nowMs = this.nowMs();
    const devices = {
      keypad: event.keypad,
      display: event.display,
      dispenser: event.dispenser,
      ...(event.cashIn === undefined ? {} : { cashIn: event.cashIn }),
      ...(event.printer === undefined ? {} : { printer: event.printer }),
    };
    this.publishStatus(this.board.device(event.kioskId, devices, event.cassettes, nowMs));
    this.publishAlerts(this.alerts.deviceReport(event.kioskId, devices, event.cassettes, nowMs));
  }

  info(): void {
    // info lines are for the bank's log, not the telemetry stream
  }

  /** Every kiosk's status and the alert snapshot again, retained (a restarted broker lost the latest). */
  republishRetained(): void {
    for (const status of this.board.all()) this.publishStatus(status);
    this.sink.publish(topics.alertsActive, this.alerts.active(), { retain: true });
  }

  /** The alert time rules (offline thresholds, quiet periods) and the sink's drop count. */
  tick(): void {
    const nowMs = this.nowMs();
    const stats = this.sink.stats();
    // Only once the broker is back can the alert itself be delivered rather than dropped.
    const dropped = stats.connected ? this.alerts.telemetryDropped(stats.dropped, nowMs) : [];
    this.publishAlerts([...dropped, ...this.alerts.tick(nowMs)], 'tick');
  }

  /** Publishes the metrics of the interval since the last call (or since start). */
  publishMetrics(): void {
    const payload = this.metrics.snapshot(this.nowMs(), {
      sessionsOpen: this.alerts.stats().sessionsOpen,
      telemetryDropped: this.sink.stats().dropped,
    });
    this.sink.publish(topics.metrics, payload);
  }

  private closed(kioskId: string): void {
    // A close with no session counted (already closed, or a revoked kiosk's) moves nothing.
    const counted = this.alerts.openSessions(kioskId) > 0;
    const transitions = this.alerts.sessionClosed(kioskId, this.nowMs());
    if (counted) this.publishStatus(this.board.sessionClosed(kioskId, this.nowMs()));
    this.publishAlerts(transitions);
  }

  private publishStatus(status: KioskStatus | null): void {
    if (status !== null) this.sink.publish(topics.kioskStatus(status.kioskId), status, { retain: true });
  }

  /**
   * Each transition, then the retained snapshot when an alert was raised or cleared. A count
   * going up (a flood of bad MACs) only reaches the snapshot at the next tick, so a flood
   * costs one snapshot a second, not one per bad record.
   */
  private publishAlerts(transitions: readonly AlertPayload[], mode: 'event' | 'tick' | 'start' = 'event'): void {
    for (const alert of transitions) this.sink.publish(topics.alerts, alert);
    const due = mode === 'start' || transitions.length > 0 || (mode === 'tick' && this.alerts.takeChanged());
    if (!due) return;
    this.alerts.takeChanged(); // the snapshot carries whatever changed in place
    this.sink.publish(topics.alertsActive, this.alerts.active(), { retain: true });
  }
}
