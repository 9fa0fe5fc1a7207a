// Turns the bank's observer events into telemetry messages. Only what an operator needs:
// never balances, passwords, keys or full usernames (usernames are masked here).
import { maskUsername, type ActionEvent, type BankObserver, type SecurityEvent, type SessionEvent } from './observer.js';
import type { TelemetrySink } from './telemetry.js';

export class TelemetryObserver implements BankObserver {
  constructor(private readonly sink: TelemetrySink) {}

  action(event: ActionEvent): void {
    this.sink.publish(`atm/v1/events/${event.action}`, {
      kioskId: event.kioskId,
      user: maskUsername(event.username),
      action: event.action,
      outcome: event.outcome,
      amountCents: event.amountCents ?? null,
      latencyMs: Math.round(event.latencyMs),
    });
  }

  session(event: SessionEvent): void {
    // A session that never identified its kiosk says nothing about any kiosk's status.
    if (event.kioskId === null) return;
    this.sink.publish(`atm/v1/kiosk/${event.kioskId}/status`, { kioskId: event.kioskId, status: event.state === 'open' ? 'online' : 'offline' }, { retain: true });
  }

  security(event: SecurityEvent): void {
    this.sink.publish('atm/v1/alerts', { type: 'security', reason: event.reason, kioskId: event.kioskId });
  }

  info(): void {}
}
