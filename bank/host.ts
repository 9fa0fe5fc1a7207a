// Wiring of one bank host: keystore view, LevelDB ledger, audit log (repaired on start),
// group committer, service, TCP server and the hold-expiry sweeper. Used by `atm bank`,
// `atm demo` and the integration tests (which inject a clock and low bcrypt cost).
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { systemRandomBytes, type RandomBytes } from '../protocol/crypto.js';
import type { ChannelTimeouts } from '../protocol/channel.js';
import { AuditChain, AuditLogFile } from './audit.js';
import { startEmbeddedBroker, type EmbeddedBroker } from './broker.js';
import { GroupCommitter } from './commit.js';
import { KeystoreView, auditKeyOf, initKeystore } from './key-store.js';
import { LevelLedgerStore } from './level-store.js';
import type { LedgerLimits } from './ledger.js';
import { LogLineObserver, fanOut, type BankObserver } from './observer.js';
import { BankServer, type ServerLimits } from './server.js';
import { BankService } from './service.js';
import type { LedgerStore } from './store.js';
import { MqttTelemetry, NoopTelemetry, type TelemetrySink } from './telemetry.js';
import { TelemetryObserver } from './telemetry-observer.js';

export type BankMqttOptions =
  | { mode: 'embedded'; port: number; host?: string }
  | { mode: 'external'; url: string; username?: string; password?: string; protocolVersion?: 4 | 5 }
  | { mode: 'off' };

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
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export const LEDGER_DIR = 'ledger';

interface Telemetry {
  sink: TelemetrySink;
  broker: EmbeddedBroker | null;
}

async function startTelemetry(mqtt: BankMqttOptions, keystore: KeystoreView): Promise<Telemetry> {
  const hostId = keystore.current().hostId;
  switch (mqtt.mode) {
    case 'off':
      return { sink: new NoopTelemetry(), broker: null };
    case 'external':
      return { sink: new MqttTelemetry({ url: mqtt.url, hostId, username: mqtt.username, password: mqtt.password, protocolVersion: mqtt.protocolVersion ?? 4 }), broker: null };
    case 'embedded': {
      // The bank's own client logs in with a secret that lives only for this run.
      const bankCredentials = { username: `atm-bank-${hostId}`, password: crypto.randomBytes(32).toString('hex') };
      const checkOperator = async (name: string, password: string): Promise<boolean> => {
        const entry = Object.hasOwn(keystore.current().operators, name) ? keystore.current().operators[name] : undefined;
        if (entry === undefined) return false;
        return bcrypt.compare(password, entry.passwordHash).catch(() => false);
      };
      const host = mqtt.host ?? '127.0.0.1';
      const broker = await startEmbeddedBroker({ host, port: mqtt.port, checkOperator, bankCredentials });
      const sink = new MqttTelemetry({ url: `mqtt://${host}:${broker.port}`, hostId, ...bankCredentials, protocolVersion: 4 });
      return { sink, broker };
    }
    default: {
      const never: never = mqtt;
      throw new Error(`unknown mqtt mode ${JSON.stringify(never)}`);
    }
  }
}

export async function startBankHost(options: BankHostOptions): Promise<BankHost> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const randomBytes = options.randomBytes ?? systemRandomBytes;
  const baseObserver = options.observer ?? new LogLineObserver();
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  initKeystore(options.dataDir);
  const keystore = new KeystoreView(options.dataDir);
  const auditKey = auditKeyOf(keystore.current());
  const telemetry = await startTelemetry(options.mqtt ?? { mode: 'off' }, keystore);
  const observer = (options.mqtt?.mode ?? 'off') === 'off' ? baseObserver : fanOut([baseObserver, new TelemetryObserver(telemetry.sink)]);
  const closeTelemetry = async (): Promise<void> => {
    await telemetry.sink.close();
    await telemetry.broker?.close();
  };
  let store: LedgerStore;
  try {
    store = options.store ?? (await LevelLedgerStore.open(path.join(options.dataDir, LEDGER_DIR)));
  } catch (error) {
    await closeTelemetry();
    throw error;
  }
  try {
    const auditLog = new AuditLogFile(options.dataDir, auditKey, nowMs, randomBytes);
    const storeHead = await store.getAuditHead();
    const repaired = await auditLog.repair(storeHead, (seq) => store.listAuditTokensAfter(seq));
    if (repaired.appended > 0) observer.info(`audit log repaired: ${repaired.appended} record(s) restored from the ledger`);
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
    const server = new BankServer({ host, port: options.port ?? 7400, service, keystore, observer, nowMs, randomBytes, timeouts: options.timeouts, limits: options.serverLimits });
    const port = await server.listen();
    const sweepIntervalMs = options.sweepIntervalMs ?? 5_000;
    const sweeper = sweepIntervalMs > 0 ? setInterval(() => void service.sweepExpiredHolds().catch(() => undefined), sweepIntervalMs) : null;
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
