// Wiring of one bank host: keystore view, LevelDB ledger, whatever reports what the bank does
// (the HostTelemetry seam; telemetry/ provides the MQTT one), audit log (repaired on start),
// group committer, service, TCP server and the hold-expiry sweeper. Used by `atm bank`, `atm demo` and the integration tests (which inject a clock
// and low bcrypt cost).
import path from 'node:path';
import { makeDataDir, rethrowAssertion, systemRandomBytes, type RandomBytes } from '../protocol/index.js';
import type { ChannelTimeouts } from '../protocol/index.js';
import { AuditChain, AuditLogFile } from './audit.js';
import { GroupCommitter, type Committer } from './commit.js';
import { PgGroupCommitter } from './pg-commit.js';
import { PgLedgerStore, type PgStoreOptions } from './pg-store.js';
import { PgSharedState } from './pg-shared-state.js';
import type { SharedState } from './shared-state.js';
import { KeystoreView, auditKeyOf, initKeystore } from './key-store.js';
import { CachedLedgerStore } from './cached-store.js';
import { LevelLedgerStore } from './level-store.js';
import type { LedgerLimits } from './ledger.js';
import { LogLineObserver, fanOut, type BankObserver } from './observer.js';
import { BankServer, type ServerLimits } from './server.js';
import { BankService } from './service.js';
import type { LedgerStore, LockManager } from './store.js';
import type { FernetKey } from '../protocol/index.js';

/**
 * [Seam] What runs beside the bank to report what it does; telemetry/ provides the MQTT one.
 * The host starts it after the ledger is open (the ledger's lock is what stops a second bank
 * on the same folder, before it can touch anything else) and closes it last. It sees the bank
 * only through its observer: it must never throw into the bank, and its failures are its own.
 */
export interface HostTelemetry {
  /** Gets every bank event, or null when nothing is reported. */
  readonly observer: BankObserver | null;
  close(): Promise<void>;
}

export interface HostTelemetryContext {
  /** The keystore as it is now and after `atm keys` changes it (the fleet, operators). */
  keystore: KeystoreView;
  /** This host's name: hosts of a network share a keystore, so each reports under its --host-id. */
  hostId: string;
  dataDir: string;
  nowMs: () => number;
  /** The bank's log line. */
  info(message: string): void;
}

export type HostTelemetryStarter<T extends HostTelemetry> = (context: HostTelemetryContext) => Promise<T>;

const NO_TELEMETRY: HostTelemetry = { observer: null, close: () => Promise.resolve() };

export interface BankHostOptions<T extends HostTelemetry = HostTelemetry> {
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
  /**
   * The ledger on PostgreSQL (postgres://…), shared with other hosts, instead of LevelDB in
   * DIR/ledger; the database must have been migrated (`atm db migrate`). DIR keeps the keystore.
   */
  storeUrl?: string;
  /** Pool size and timeouts of the PostgreSQL store. */
  pg?: Omit<PgStoreOptions, 'hostId'>;
  /** This host's name in the log, the audit records and telemetry; default the keystore's hostId. */
  hostId?: string;
  /** Starts what reports the bank's events (telemetry/'s bankTelemetry); none by default. */
  telemetry?: HostTelemetryStarter<T>;
}

export interface BankHost<T extends HostTelemetry = HostTelemetry> {
  port: number;
  host: string;
  service: BankService;
  server: BankServer;
  committer: Committer;
  store: LedgerStore;
  hostId: string;
  /** What the telemetry starter returned (a null-observer placeholder when there is none). */
  telemetry: T;
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export const LEDGER_DIR = 'ledger';

export async function startBankHost<T extends HostTelemetry = HostTelemetry>(
  options: BankHostOptions<T>,
): Promise<BankHost<T>> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const randomBytes = options.randomBytes ?? systemRandomBytes;
  const baseObserver = options.observer ?? new LogLineObserver();
  makeDataDir(options.dataDir);
  initKeystore(options.dataDir);
  const keystore = new KeystoreView(options.dataDir);
  const auditKey = auditKeyOf(keystore.current());
  const hostId = options.hostId ?? keystore.current().hostId;
  // The ledger first: its LevelDB lock is what stops a second bank on the same folder, which
  // must not get as far as starting a broker and rewriting this bank's retained file.
  const ledger =
    options.storeUrl === undefined
      ? embeddedLedger(
          options.store ?? new CachedLedgerStore(await LevelLedgerStore.open(path.join(options.dataDir, LEDGER_DIR))),
          options.dataDir,
          auditKey,
          nowMs,
          randomBytes,
        )
      : await databaseLedger(options.storeUrl, { ...options.pg, hostId }, auditKey, nowMs, randomBytes);
  const store = ledger.store;
  let telemetry: T;
  try {
    const context: HostTelemetryContext = {
      keystore,
      hostId,
      dataDir: options.dataDir,
      nowMs,
      info: (message) => baseObserver.info(message),
    };
    // Without a starter T is HostTelemetry (the type parameter's default), so this is sound.
    telemetry = options.telemetry === undefined ? (NO_TELEMETRY as T) : await options.telemetry(context);
  } catch (error) {
    await store.close();
    throw error;
  }
  const observer = telemetry.observer === null ? baseObserver : fanOut([baseObserver, telemetry.observer]);
  const closeTelemetry = (): Promise<void> => telemetry.close();
  try {
    const logins = {
      perSecond: options.loginsPerSecondPerKiosk ?? 10,
      burst: options.loginBurstPerKiosk ?? 40,
    };
    const { committer, locks, shared, closeCommitter } = await ledger.start(
      (message) => observer.info(message),
      logins,
    );
    const service = new BankService({
      store,
      committer,
      locks,
      shared,
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
        ? setInterval(() => void service.sweepExpiredHolds().catch(rethrowAssertion), sweepIntervalMs)
        : null;
    sweeper?.unref();
    observer.info(`bank ${hostId} listening on ${host}:${port} data=${options.dataDir} ledger=${ledger.describe}`);
    let closed = false;
    return {
      port,
      host,
      service,
      server,
      committer,
      store,
      hostId,
      telemetry,
      sweep: () => service.sweepExpiredHolds(),
      close: async () => {
        if (closed) return;
        closed = true;
        if (sweeper !== null) clearInterval(sweeper);
        await server.close();
        await closeCommitter();
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

/** The ledger a host runs on: its store, and (once telemetry is up) its committer and locks. */
interface Ledger {
  store: LedgerStore;
  describe: string;
  start(
    info: (message: string) => void,
    logins: { perSecond: number; burst: number },
  ): Promise<{
    committer: Committer;
    locks: LockManager | undefined;
    shared: SharedState | undefined;
    closeCommitter: () => Promise<void>;
  }>;
}

/** LevelDB (or a test's store) with audit.log beside it in DIR, repaired from the store on start. */
function embeddedLedger(
  store: LedgerStore,
  dataDir: string,
  auditKey: FernetKey,
  nowMs: () => number,
  randomBytes: RandomBytes,
): Ledger {
  return {
    store,
    describe: 'embedded',
    start: async (info) => {
      const auditLog = new AuditLogFile(dataDir, auditKey, nowMs, randomBytes);
      const storeHead = await store.getAuditHead();
      const repaired = await auditLog.repair(storeHead, (seq) => store.listAuditTokensAfter(seq));
      if (repaired.appended > 0) info(`audit log repaired: ${repaired.appended} record(s) restored from the ledger`);
      const chain = new AuditChain(auditKey, storeHead, randomBytes);
      const committer = new GroupCommitter(store, chain, auditLog, nowMs);
      return {
        committer,
        locks: undefined,
        shared: undefined,
        closeCommitter: async () => {
          await committer.drain();
          await auditLog.close().catch(() => undefined);
        },
      };
    },
  };
}

/** PostgreSQL: the audit chain is the database's, sealed in each group's transaction. */
async function databaseLedger(
  url: string,
  options: PgStoreOptions,
  auditKey: FernetKey,
  nowMs: () => number,
  randomBytes: RandomBytes,
): Promise<Ledger> {
  const store = await PgLedgerStore.open(url, options);
  return {
    store,
    describe: 'postgres',
    start: (_info, logins) => {
      const committer = new PgGroupCommitter({ store, url, auditKey, nowMs, randomBytes });
      const shared = new PgSharedState(store.pool, logins.perSecond, logins.burst);
      return Promise.resolve({ committer, locks: store.locks, shared, closeCommitter: () => committer.close() });
    },
  };
}
