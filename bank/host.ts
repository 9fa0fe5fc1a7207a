// Wiring of one bank host: keystore view, LevelDB ledger, telemetry (telemetry-runtime.ts),
// audit log (repaired on start), group committer, service, TCP server and the hold-expiry
// sweeper. Used by `atm bank`, `atm demo` and the integration tests (which inject a clock
// and low bcrypt cost).
import fs from 'node:fs';
import path from 'node:path';
import { systemRandomBytes, type RandomBytes } from '../protocol/crypto.js';
import type { ChannelTimeouts } from '../protocol/channel.js';
import { AuditChain, AuditLogFile } from './audit.js';
import { GroupCommitter } from './commit.js';
import { KeystoreView, auditKeyOf, initKeystore } from './key-store.js';
import { LevelLedgerStore } from './level-store.js';
import type { LedgerLimits } from './ledger.js';
import { LogLineObserver, fanOut, type BankObserver } from './observer.js';
import { BankServer, type ServerLimits } from './server.js';
import { BankService } from './service.js';
import type { LedgerStore } from './store.js';
import type { BrokerThread } from './broker-thread.js';
import type { TelemetrySink } from './telemetry.js';
import { startTelemetryRuntime, type BankMqttOptions, type TelemetryRuntime } from './telemetry-runtime.js';

export type { BankMqttOptions } from './telemetry-runtime.js';

export interface BankHostOptions {
  dataDir: string;
  host?: string;
  port?: number;
  nowMs?: () => number;
  randomBytes?: RandomBytes;
  bcryptCost?: number;
  observer?: BankObserver;
  limits?: Partial<LedgerLimits>;
  serverLimits?: Partial<ServerLimits>;
  timeouts?: Partial<ChannelTimeouts>;
  holdTimeoutMs?: number;
  lockMs?: number;
  loginFailuresMax?: number;
  loginsPerSecondPerKiosk?: number;
  loginBurstPerKiosk?: number;
  /** How often expired holds are looked for; 0 disables the timer (tests call sweep()). */
  sweepIntervalMs?: number;
  /** Test seam: use this store instead of LevelDB in DIR/ledger. */
  store?: LedgerStore;
  /** Telemetry: an embedded aedes broker, an external broker, or none (the default). */
  mqtt?: BankMqttOptions;
  /** Metrics are published this often (default 5 000); 0: no timer (tests call publishMetrics()). */
  metricsIntervalMs?: number;
  /** The alert time rules run this often (default 1 000); 0: no timer (tests call tickTelemetry()). */
  alertTickMs?: number;
  /** A kiosk with no session this long raises kiosk-offline (default 60 000). */
  kioskOfflineAlertMs?: number;
  /** A cassette with fewer notes raises low-cash (default 20). */
  lowCashCount?: number;
  /** A security alert clears after this long without a repeat (default 300 000). */
  securityQuietMs?: number;
}

export interface BankHost {
  port: number;
  host: string;
  service: BankService;
  server: BankServer;
  committer: GroupCommitter;
  store: LedgerStore;
  telemetry: TelemetrySink;
  /** The embedded broker's port, or null when there is none. */
  mqttPort: number | null;
  /** The embedded broker's WebSocket port, or null when there is none. */
  mqttWsPort: number | null;
  /** The embedded broker's worker thread (its id; a test seam that kills it), or null. */
  mqttBrokerThread: Pick<BrokerThread, 'threadId' | 'running' | 'starts' | 'terminate'> | null;
  /** Runs the alert time rules now (what the alert timer does). */
  tickTelemetry(): void;
  /** Publishes the metrics of the interval since the last call (what the metrics timer does). */
  publishMetrics(): void;
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export const LEDGER_DIR = 'ledger';

export async function startBankHost(options: BankHostOptions): Promise<BankHost> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const randomBytes = options.randomBytes ?? systemRandomBytes;
  const baseObserver = options.observer ?? new LogLineObserver();
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  initKeystore(options.dataDir);
  const keystore = new KeystoreView(options.dataDir);
  const auditKey = auditKeyOf(keystore.current());
  // The ledger first: its LevelDB lock is what stops a second bank on the same folder, which
  // must not get as far as starting a broker and rewriting this bank's retained file.
  const store = options.store ?? (await LevelLedgerStore.open(path.join(options.dataDir, LEDGER_DIR)));
  let telemetry: TelemetryRuntime;
  try {
    telemetry = await startTelemetryRuntime({
      mqtt: options.mqtt ?? { mode: 'off' },
      keystore,
      dataDir: options.dataDir,
      nowMs,
      timings: { metricsIntervalMs: options.metricsIntervalMs ?? 5_000, alertTickMs: options.alertTickMs ?? 1_000 },
      alerts: {
        kioskOfflineAlertMs: options.kioskOfflineAlertMs,
        lowCashCount: options.lowCashCount,
        securityQuietMs: options.securityQuietMs,
      },
      info: (message) => baseObserver.info(message),
    });
  } catch (error) {
    await store.close();
    throw error;
  }
  const observer = telemetry.observer === null ? baseObserver : fanOut([baseObserver, telemetry.observer]);
  if (telemetry.retainedLoadError !== null)
    observer.info(`telemetry: retained messages not restored (${telemetry.retainedLoadError})`);
  const closeTelemetry = (): Promise<void> => telemetry.close();
  try {
    const auditLog = new AuditLogFile(options.dataDir, auditKey, nowMs, randomBytes);
    const storeHead = await store.getAuditHead();
    const repaired = await auditLog.repair(storeHead, (seq) => store.listAuditTokensAfter(seq));
    if (repaired.appended > 0)
      observer.info(`audit log repaired: ${repaired.appended} record(s) restored from the ledger`);
    const chain = new AuditChain(auditKey, storeHead, randomBytes);
    const committer = new GroupCommitter(store, chain, auditLog, nowMs);
    const service = new BankService({
      store,
      committer,
      nowMs,
      bcryptCost: options.bcryptCost,
      limits: options.limits,
      holdTimeoutMs: options.holdTimeoutMs,
      lockMs: options.lockMs,
      loginFailuresMax: options.loginFailuresMax,
      loginsPerSecondPerKiosk: options.loginsPerSecondPerKiosk,
      loginBurstPerKiosk: options.loginBurstPerKiosk,
    });
    const host = options.host ?? '127.0.0.1';
    const server = new BankServer({
      host,
      port: options.port ?? 7400,
      service,
      keystore,
      observer,
      nowMs,
      randomBytes,
      timeouts: options.timeouts,
      limits: options.serverLimits,
    });
    const port = await server.listen();
    const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
    const sweeper =
      sweepIntervalMs > 0
        ? setInterval(() => void service.sweepExpiredHolds().catch(() => undefined), sweepIntervalMs)
        : null;
    sweeper?.unref();
    observer.info(`bank ${keystore.current().hostId} listening on ${host}:${port} data=${options.dataDir}`);
    let closed = false;
    return {
      port,
      host,
      service,
      server,
      committer,
      store,
      telemetry: telemetry.sink,
      mqttPort: telemetry.broker?.port ?? null,
      mqttWsPort: telemetry.broker?.wsPort ?? null,
      mqttBrokerThread: telemetry.broker,
      tickTelemetry: () => telemetry.tick(),
      publishMetrics: () => telemetry.publishMetrics(),
      sweep: () => service.sweepExpiredHolds(),
      close: async () => {
        if (closed) return;
        closed = true;
        if (sweeper !== null) clearInterval(sweeper);
        await server.close();
        await committer.drain();
        await auditLog.flushed().catch(() => undefined);
        await store.close();
        await closeTelemetry();
      },
    };
  } catch (error) {
    await store.close();
    await closeTelemetry();
    throw error;
  }
}
