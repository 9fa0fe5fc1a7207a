// Starts a real bank host (real LevelDB in a temp dir, real TCP on 127.0.0.1, a free port)
// with a provisioned kiosk, and cleans everything up afterwards.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  addKiosk,
  initKeystore,
  silentObserver,
  startBankHost,
  type BankHost,
  type BankHostOptions,
} from '../../bank/index.js';
import { BankConnection, type ConnectOptions } from '../../protocol/index.js';
import { bankTelemetry, type BankTelemetryOptions, type TelemetryRuntime } from '../../telemetry/index.js';

/** The host's options and the telemetry's, side by side, as a test states them. */
export type TestBankOptions = Omit<BankHostOptions, 'telemetry'> & BankTelemetryOptions;

export interface TestKiosk {
  kioskId: string;
  psk: Buffer;
  keyFile: string;
}

export interface TestBank {
  dataDir: string;
  host: BankHost<TelemetryRuntime>;
  kiosk: TestKiosk;
  addKiosk(kioskId: string): TestKiosk;
  connect(overrides?: Partial<ConnectOptions>): Promise<BankConnection>;
  /** A logged-in session for a (possibly new) user. */
  loginAs(username: string, password?: string, overrides?: Partial<ConnectOptions>): Promise<BankConnection>;
  restart(extra?: Partial<TestBankOptions>): Promise<void>;
  stop(): Promise<void>;
  cleanup(): Promise<void>;
}

export const TEST_PASSWORD = 'correct horse battery';

export function makeTempDir(prefix = 'atm-test-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

/** Splits a test's options into the host's and bankTelemetry's. */
export function hostOptions(options: TestBankOptions): BankHostOptions<TelemetryRuntime> {
  const { mqtt, metricsIntervalMs, alertTickMs, kioskOfflineAlertMs, lowCashCount, securityQuietMs, ...host } = options;
  const telemetry = { mqtt, metricsIntervalMs, alertTickMs, kioskOfflineAlertMs, lowCashCount, securityQuietMs };
  return { ...host, telemetry: bankTelemetry(telemetry) };
}

export async function startTestBank(options: Partial<TestBankOptions> = {}): Promise<TestBank> {
  const root = makeTempDir();
  const dataDir = options.dataDir ?? path.join(root, 'data');
  initKeystore(dataDir);
  const provision = (kioskId: string): TestKiosk => {
    const keyFile = path.join(root, `${kioskId}.key`);
    const file = addKiosk(dataDir, kioskId, keyFile, { force: true });
    return { kioskId, psk: Buffer.from(file.psk, 'hex'), keyFile };
  };
  const kiosk = provision('kiosk-01');
  const baseOptions: TestBankOptions = {
    dataDir,
    port: 0,
    bcryptCost: 4,
    observer: silentObserver,
    sweepIntervalMs: 0,
    serverLimits: { sessionsPerKioskMax: 64, handshakesPerSecondPerKiosk: 10_000, handshakeBurstPerKiosk: 10_000 },
    loginsPerSecondPerKiosk: 10_000,
    loginBurstPerKiosk: 10_000,
    ...options,
  };
  let host = await startBankHost(hostOptions(baseOptions));
  let running = true;
  const bank: TestBank = {
    dataDir,
    get host() {
      return host;
    },
    kiosk,
    addKiosk: provision,
    connect: (overrides = {}) =>
      BankConnection.connect({
        host: '127.0.0.1',
        port: host.port,
        kioskId: kiosk.kioskId,
        psk: kiosk.psk,
        nowMs: baseOptions.nowMs,
        ...overrides,
      }),
    async loginAs(username, password = TEST_PASSWORD, overrides = {}) {
      const connection = await bank.connect(overrides);
      const registered = await connection.request({ op: 'register', username, password });
      if (!registered.ok && registered.code !== 'USERNAME_TAKEN')
        throw new Error(`register ${username}: ${registered.code}`);
      const login = await connection.request({ op: 'login', username, password });
      if (!login.ok) throw new Error(`login ${username}: ${login.code}`);
      return connection;
    },
    async restart(extra = {}) {
      if (running) await host.close();
      host = await startBankHost(hostOptions({ ...baseOptions, ...extra }));
      running = true;
    },
    async stop() {
      if (running) await host.close();
      running = false;
    },
    async cleanup() {
      await bank.stop();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return bank;
}
