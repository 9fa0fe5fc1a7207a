// [Seam] The telemetry sink: what the bank's observer publishes to, and the sink for telemetry
// that is off. Split from telemetry.ts (issue 13), which keeps the external-broker outlet;
// telemetry.ts re-exports both, so importers are unchanged.
import type { TelemetryStats } from './telemetry-outlet.js';

/**
 * Contract: publish() never blocks and never throws (a dead broker is an operating error the
 * bank must not see); every payload is wrapped with `{ v: 1, ts, seq }`, seq per publisher;
 * close() resolves once the client has gone (it never rejects).
 */
export interface TelemetrySink {
  publish(topic: string, payload: object, options?: { retain?: boolean }): void;
  close(): Promise<void>;
  stats(): TelemetryStats;
}

export class NoopTelemetry implements TelemetrySink {
  publish(): void {
    // telemetry is off: drop it
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  stats(): TelemetryStats {
    return { published: 0, dropped: 0, queued: 0, connected: false };
  }
}
