// Wiring of one bank host: keystore view, LevelDB ledger, audit log (repaired on start),
// group committer, service, TCP server and the hold-expiry sweeper. Used by `atm bank`,
// `atm demo` and the integration tests (which inject a clock and low bcrypt cost).
import fs from 'node:fs';
import path from 'node:path';
import { systemRandomBytes, type RandomBytes } from '../protocol/crypto.js';
import type { ChannelTimeouts } from '../protocol/channel.js';
import { AuditChain, AuditLogFile } from './audit.js';
import { GroupCommitter } from './commit.js';
import { KeystoreView, auditKeyOf, initKeystore } from './keystore.js';
import { LevelLedgerStore } from './level-store.js';
import type { LedgerLimits } from './ledger.js';
import { LogLineObserver, type BankObserver } from './observer.js';
import { BankServer, type ServerLimits } from './server.js';
import { BankService } from './service.js';
import type { LedgerStore } from './store.js';

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
}

export interface BankHost {
  port: number;
  host: string;
  service: BankService;
  server: BankServer;
  committer: GroupCommitter;
  store: LedgerStore;
  sweep(): Promise<number>;
  close(): Promise<void>;
}

export const LEDGER_DIR = 'ledger';

export async function startBankHost(options: BankHostOptions): Promise<BankHost> {
  const nowMs = options.nowMs ?? (() => Date.now());
  const randomBytes = options.randomBytes ?? systemRandomBytes;
  const observer = options.observer ?? new LogLineObserver();
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  initKeystore(options.dataDir);
  const keystore = new KeystoreView(options.dataDir);
  const auditKey = auditKeyOf(keystore.current());
  const store = options.store ?? (await LevelLedgerStore.open(path.join(options.dataDir, LEDGER_DIR)));
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
      sweep: () => service.sweepExpiredHolds(),
      close: async () => {
        if (closed) return;
        closed = true;
        if (sweeper !== null) clearInterval(sweeper);
        await server.close();
        await committer.drain();
        await auditLog.flushed().catch(() => undefined);
        await store.close();
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}
