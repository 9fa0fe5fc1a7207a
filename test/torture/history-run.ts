// A concurrent run recorded for the history checker: a real `atm bank` process on a fresh data dir,
// `sessions` kiosk sessions over `accounts` accounts, `operations` requests in all; then every
// account's history is checked for a linearisation (history.ts).
import { TEST_FAULTS_ENV } from '../../protocol/index.js';
import { startTortureBank } from './bank-fixture.js';
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

const PASSWORD = 'history password';

export async function runHistory(options: HistoryRunOptions): Promise<HistoryRunResult> {
  const plant = options.plant ?? [];
  const fixture = await startTortureBank({
    name: 'history',
    sessions: options.sessions,
    accounts: options.accounts,
    password: PASSWORD,
    env: plant.length === 0 ? {} : { [TEST_FAULTS_ENV]: `plant=${plant.join(';')}` },
  });
  try {
    const workload = new Workload(
      fixture.workload({
        sessions: options.sessions,
        requestsPerSession: Math.ceil(options.operations / options.sessions),
        seed: options.seed,
        txnPrefix: `history${options.seed}`,
      }),
    );
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
    await fixture.remove();
  }
}
