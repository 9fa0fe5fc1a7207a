// A concurrent run recorded for the history checker: a real `atm bank` process on a fresh data dir,
// `sessions` kiosk sessions over `accounts` accounts, `operations` requests in all; then every
// account's history is checked for a linearisation (history.ts).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection, TEST_FAULTS_ENV } from '../../protocol/index.js';
import { startBankProcess } from '../helpers/cli.js';
import { checkHistory, type Anomaly } from './history.js';
import { Workload } from './workload.js';

export interface HistoryRunOptions {
  sessions: number;
  accounts: number;
  operations: number;
  seed: number;
  /** Planted bugs for the bank (protocol/faults.ts). */
  plant?: readonly string[];
}

export interface HistoryRunResult {
  operations: number;
  sessions: number;
  accounts: number;
  anomalies: Anomaly[];
  sessionsRefused: string[];
  runSeconds: number;
  checkSeconds: number;
  searchSteps: number;
}

/** The bank allows 4 sessions per kiosk (bank/server-limits.ts): enough kiosks for every session. */
const SESSIONS_PER_KIOSK = 4;
const PASSWORD = 'history password';

export async function runHistory(options: HistoryRunOptions): Promise<HistoryRunResult> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-torture-history-'));
  const dataDir = path.join(root, 'bank');
  initKeystore(dataDir);
  const kioskIds = Array.from({ length: Math.ceil(options.sessions / SESSIONS_PER_KIOSK) }, (_, i) => `history-${i}`);
  const psks = new Map<string, Buffer>();
  for (const kioskId of kioskIds)
    psks.set(kioskId, Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex'));
  const plant = options.plant ?? [];
  const env = plant.length === 0 ? {} : { [TEST_FAULTS_ENV]: `plant=${plant.join(';')}` };
  const bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt'], { env });
  try {
    const usernames = Array.from(
      { length: options.accounts },
      (_, index) => `history${String(index).padStart(3, '0')}`,
    );
    const setup = await BankConnection.connect({
      host: '127.0.0.1',
      port: bank.port,
      kioskId: kioskIds[0] as string,
      psk: psks.get(kioskIds[0] as string) as Buffer,
    });
    for (const username of usernames) {
      const registered = await setup.request({ op: 'register', username, password: PASSWORD });
      if (!registered.ok) throw new Error(`register ${username}: ${registered.code}`);
    }
    setup.close();
    const workload = new Workload({
      host: '127.0.0.1',
      port: bank.port,
      kioskIds,
      psk: (kioskId) => psks.get(kioskId) as Buffer,
      usernames,
      password: PASSWORD,
      sessions: options.sessions,
      requestsPerSession: Math.ceil(options.operations / options.sessions),
      seed: options.seed,
      txnPrefix: `history${options.seed}`,
    });
    const runStartMs = Date.now();
    await workload.run();
    const runSeconds = (Date.now() - runStartMs) / 1000;
    workload.close();
    const checkStartMs = Date.now();
    const report = checkHistory(workload.history);
    return {
      operations: report.operations,
      sessions: options.sessions,
      accounts: report.accounts,
      anomalies: report.anomalies,
      sessionsRefused: workload.connectFailures,
      runSeconds,
      checkSeconds: (Date.now() - checkStartMs) / 1000,
      searchSteps: report.steps,
    };
  } finally {
    await bank.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
