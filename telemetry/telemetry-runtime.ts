// Telemetry wiring for one bank host: the sink (embedded broker on its own thread, external
// broker or none), the TelemetryObserver, and the two unref'd timers that drive it (the alert tick every
// second, metrics every metrics interval). Tests pass 0 for both intervals and call tick()
// and publishMetrics() themselves with a FakeClock.
import { parseTelemetry, type KioskStatus } from '../protocol/index.js';
import type { AlertEngineOptions } from './alerts.js';
import { startBrokerWorker, type BrokerThread } from './broker-thread.js';
import type { Keystore, KeystoreView } from '../bank/index.js';
import { NoopTelemetry, type MqttTlsOptions, type TelemetrySink, type TelemetryStats } from './telemetry.js';
import { startTelemetryThread } from './telemetry-thread.js';
import { TelemetryObserver } from './telemetry-observer.js';

export type BankMqttOptions =
  | {
      mode: 'embedded';
      port: number;
      host?: string;
      wsPort?: number;
      persistRetained?: boolean;
      /** First wait before a crashed broker thread is restarted (default BROKER_THREAD_RESTART_MS_MIN). */
      restartMsMin?: number;
    }
  | {
      mode: 'external';
      url: string;
      username?: string;
      password?: string;
      protocolVersion?: 4 | 5;
      tls?: MqttTlsOptions;
    }
  | { mode: 'off' };

export interface TelemetryTimings {
  /** How often metrics are published; 0: never by timer (call publishMetrics()). */
  metricsIntervalMs: number;
  /** How often the alert time rules run; 0: never by timer (call tick()). */
  alertTickMs: number;
}

/** The HostTelemetry that bank/host.ts runs: what tests and the CLI reach through host.telemetry. */
export interface TelemetryRuntime {
  sink: TelemetrySink;
  /** The embedded broker's port, or null when there is none. */
  readonly mqttPort: number | null;
  /** The embedded broker's WebSocket port, or null when there is none. */
  readonly mqttWsPort: number | null;
  stats(): TelemetryStats;
  /** The embedded broker's thread, or null (external broker, or telemetry off). */
  broker: BrokerThread | null;
  observer: TelemetryObserver | null;
  /** Why the embedded broker's retained file could not be read at start, or null. */
  retainedLoadError: string | null;
  /** Runs the alert time rules now (what the alert timer does). */
  tick(): void;
  /** Publishes the metrics of the interval since the last call (what the metrics timer does). */
  publishMetrics(): void;
  close(): Promise<void>;
}

export interface TelemetryRuntimeOptions {
  mqtt: BankMqttOptions;
  keystore: KeystoreView;
  /** This bank host's name (client id, status topic, last will); default the keystore's. */
  hostId?: string;
  dataDir: string;
  nowMs: () => number;
  timings: TelemetryTimings;
  alerts: Partial<AlertEngineOptions>;
  /** The bank's log line, for what telemetry itself must report (a broker thread that died). */
  info?: (message: string) => void;
}

function activeKiosks(keystore: Keystore): string[] {
  return Object.entries(keystore.kiosks)
    .filter(([, entry]) => entry.revokedAt === null)
    .map(([kioskId]) => kioskId);
}

async function startSink(
  options: TelemetryRuntimeOptions,
  onBrokerRestarted: () => void,
): Promise<{ sink: TelemetrySink; broker: BrokerThread | null }> {
  const { mqtt, keystore, nowMs } = options;
  const hostId = options.hostId ?? keystore.current().hostId;
  switch (mqtt.mode) {
    case 'off':
      return { sink: new NoopTelemetry(), broker: null };
    case 'external': {
      const sink = startTelemetryThread({
        url: mqtt.url,
        hostId,
        username: mqtt.username,
        password: mqtt.password,
        protocolVersion: mqtt.protocolVersion ?? 4,
        tls: mqtt.tls,
        nowMs,
        onUnexpectedExit: (reason) =>
          options.info?.(
            `telemetry: the MQTT client thread stopped (${reason}); events are dropped and counted until a new one has started`,
          ),
      });
      return { sink, broker: null };
    }
    case 'embedded': {
      const host = mqtt.host ?? '127.0.0.1';
      const broker = await startBrokerWorker({
        host,
        port: mqtt.port,
        wsPort: mqtt.wsPort,
        dataDir: options.dataDir,
        hostId,
        persistRetained: mqtt.persistRetained !== false,
        nowMs,
        restartMsMin: mqtt.restartMsMin,
        // The bank's telemetry goes into the broker in-process; with the thread gone it is dropped and counted.
        onUnexpectedExit: (reason) =>
          options.info?.(
            `telemetry: the embedded broker thread stopped (${reason}); events are dropped and counted until a new one has started`,
          ),
        onRestarted: () => {
          options.info?.(`telemetry: the embedded broker thread restarted on ${host}:${broker.port}`);
          onBrokerRestarted();
        },
      });
      return { sink: broker.telemetry, broker };
    }
    default: {
      const never: never = mqtt;
      throw new Error(`unknown mqtt mode ${JSON.stringify(never)}`);
    }
  }
}

/** The kiosk statuses the last run left retained (the observer marks those no longer provisioned revoked). */
function retainedStatuses(broker: BrokerThread | null): KioskStatus[] {
  const statuses: KioskStatus[] = [];
  for (const message of broker?.loaded ?? []) {
    const parsed = parseTelemetry(message.topic, message.payload);
    if (parsed?.topic === 'kiosk-status') {
      const { v: _v, ts: _ts, seq: _seq, ...status } = parsed.payload;
      statuses.push(status);
    }
  }
  return statuses;
}

export async function startTelemetryRuntime(options: TelemetryRuntimeOptions): Promise<TelemetryRuntime> {
  // The retained file a restarted broker loads can be up to a second behind: the observer
  // republishes the bank's current retained state into the new broker.
  let republish = (): void => undefined;
  const { sink, broker } = await startSink(options, () => republish());
  const retainedLoadError = broker?.retainedLoadError ?? null;
  if (retainedLoadError !== null) options.info?.(`telemetry: retained messages not restored (${retainedLoadError})`);
  // A restarted broker thread listens on the ports the first one got, so these stay true.
  const ports = { mqttPort: broker?.port ?? null, mqttWsPort: broker?.wsPort ?? null, stats: () => sink.stats() };
  if (options.mqtt.mode === 'off') {
    return {
      ...ports,
      sink,
      broker,
      observer: null,
      retainedLoadError,
      tick: () => undefined,
      publishMetrics: () => undefined,
      close: () => sink.close(),
    };
  }
  const observer = new TelemetryObserver({ sink, nowMs: options.nowMs, alerts: options.alerts });
  let keystore = options.keystore.current();
  const fleet = activeKiosks(keystore);
  observer.start(fleet, retainedStatuses(broker));
  republish = () => observer.republishRetained();
  const tick = (): void => {
    // The keystore view reloads when the file changes: kiosks added or revoked while we run.
    const current = options.keystore.current();
    if (current !== keystore) {
      keystore = current;
      observer.setFleet(activeKiosks(current));
    }
    observer.tick();
  };
  // A timer callback that threw would take the bank down; telemetry never may.
  const guarded = (run: () => void) => (): void => {
    try {
      run();
    } catch {
      // the next tick tries again
    }
  };
  const timers = [
    options.timings.alertTickMs > 0 ? setInterval(guarded(tick), options.timings.alertTickMs) : null,
    options.timings.metricsIntervalMs > 0
      ? setInterval(
          guarded(() => observer.publishMetrics()),
          options.timings.metricsIntervalMs,
        )
      : null,
  ];
  for (const timer of timers) timer?.unref();
  let closed = false;
  return {
    ...ports,
    sink,
    broker,
    observer,
    retainedLoadError,
    tick,
    publishMetrics: () => observer.publishMetrics(),
    close: async () => {
      if (closed) return;
      closed = true;
      for (const timer of timers) if (timer !== null) clearInterval(timer);
      await sink.close();
      await broker?.close();
    },
  };
}
