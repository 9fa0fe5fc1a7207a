// The telemetry component's public face: what turns the bank's observer events into MQTT
// (TOPICS.md). The bank host runs it through its HostTelemetry seam and never imports it;
// `atm bank`, `atm demo` and the tests choose it with bankTelemetry(…).
import type { HostTelemetryStarter } from '../bank/index.js';
import type { AlertEngineOptions } from './alerts.js';
import { startTelemetryRuntime, type BankMqttOptions, type TelemetryRuntime } from './telemetry-runtime.js';

export { AlertEngine, DEFAULT_ALERT_OPTIONS, type AlertEngineOptions } from './alerts.js';
export { MetricsAccumulator, LATENCY_SAMPLES_MAX } from './metrics.js';
export { RETAINED_FILE_NAME } from './retained-store.js';
export type { MqttTlsOptions, TelemetrySink, TelemetryStats } from './telemetry.js';
export type { BankMqttOptions, TelemetryRuntime } from './telemetry-runtime.js';

export interface BankTelemetryOptions {
  /** An embedded aedes broker, an external broker, or none (the default). */
  mqtt?: BankMqttOptions;
  /** Metrics are published this often (default 5 000); 0: no timer (tests call publishMetrics()). */
  metricsIntervalMs?: number;
  /** The alert time rules run this often (default 1 000); 0: no timer (tests call tick()). */
  alertTickMs?: number;
  /** A kiosk with no session this long raises kiosk-offline (default 60 000). */
  kioskOfflineAlertMs?: number;
  /** A cassette with fewer notes raises low-cash (default 20). */
  lowCashCount?: number;
  /** A security alert clears after this long without a repeat (default 300 000). */
  securityQuietMs?: number;
}

export function bankTelemetry(options: BankTelemetryOptions = {}): HostTelemetryStarter<TelemetryRuntime> {
  const alerts: Partial<AlertEngineOptions> = {
    kioskOfflineAlertMs: options.kioskOfflineAlertMs,
    lowCashCount: options.lowCashCount,
    securityQuietMs: options.securityQuietMs,
  };
  return (context) =>
    startTelemetryRuntime({
      mqtt: options.mqtt ?? { mode: 'off' },
      keystore: context.keystore,
      hostId: context.hostId,
      dataDir: context.dataDir,
      nowMs: context.nowMs,
      timings: { metricsIntervalMs: options.metricsIntervalMs ?? 5_000, alertTickMs: options.alertTickMs ?? 1_000 },
      alerts,
      info: (message) => context.info(message),
    });
}
