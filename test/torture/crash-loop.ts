// The crash loop (issue 15, RELIABILITY.md): a real `atm bank` process under load from many
// concurrent sessions is SIGKILLed, round after round, at a random moment from outside or at one
// of its own test-only fault points (protocol/faults.ts: inside the LevelDB batch, between the
// batch and the audit append, during the audit sync); after each kill the checker reads the
// ledger (checkLedger), restarts the bank on the same data dir, checks the repaired audit log
// against the ledger (checkAudit), and the kiosks resolve what they did not hear (same ids).
import { TEST_FAULTS_ENV } from '../../protocol/index.js';
import type { ExitInfo } from '../helpers/cli.js';
import { startTortureBank } from './bank-fixture.js';
import { checkAudit, checkLedger, readLedger } from './ledger-check.js';
import { Workload, prng, type TxnKnowledge, type WorkloadOptions } from './workload.js';

export interface CrashLoopOptions {
  rounds: number;
  sessions: number;
  accounts: number;
  seed: number;
  /** Crash points as in ATM_TEST_FAULTS (`commit.afterBatch:0.01;…`); '' for kills from outside only. */
  crashPoints: string;
  /** Planted bugs (protocol/faults.ts) the bank and the kiosks run with. */
  plant?: readonly string[];
  /** A round's load lasts at most this long before the loop kills the bank itself. */
  roundMsMax: number;
  /** Stop at the first round with a violation (the planted-bug tests want only the first). */
  stopAtFirstViolation?: boolean;
  log?: (line: string) => void;
}

export interface CrashLoopResult {
  rounds: number;
  kills: { fromOutside: number; atFaultPoint: Record<string, number> };
  requests: number;
  acknowledged: number;
  transactions: number;
  resolvedAfterRestart: number;
  violations: string[];
  seconds: number;
}

/** A bank that keeps dying while its kiosks recover is a failure, not a reason to loop for ever. */
const RESOLVE_ATTEMPTS_MAX = 10;
const PASSWORD = 'torture password';

/** The crash points the suite uses by default: every point, each likely enough to land in a few rounds. */
export const DEFAULT_CRASH_POINTS =
  'commit.beforeBatch:0.001;commit.insideBatch:0.001;commit.afterBatch:0.001;commit.afterAudit:0.001;audit.duringSync:0.1';

export async function runCrashLoop(options: CrashLoopOptions): Promise<CrashLoopResult> {
  const startedMs = Date.now();
  const log = options.log ?? ((): void => undefined);
  const random = prng(options.seed);
  const faults = [
    options.crashPoints === '' ? '' : `crash=${options.crashPoints}`,
    (options.plant ?? []).length === 0 ? '' : `plant=${(options.plant ?? []).join(';')}`,
  ]
    .filter((part) => part !== '')
    .join(',');
  const knowledge = new Map<string, TxnKnowledge>();
  const result: CrashLoopResult = {
    rounds: 0,
    kills: { fromOutside: 0, atFaultPoint: {} },
    requests: 0,
    acknowledged: 0,
    transactions: 0,
    resolvedAfterRestart: 0,
    violations: [],
    seconds: 0,
  };
  const fixture = await startTortureBank({
    name: 'crash',
    sessions: options.sessions,
    accounts: options.accounts,
    password: PASSWORD,
    env: { [TEST_FAULTS_ENV]: faults },
  });
  const { dataDir, usernames } = fixture;
  try {
    const workloadOptions = (round: number): WorkloadOptions =>
      fixture.workload({
        sessions: options.sessions,
        requestsPerSession: Number.MAX_SAFE_INTEGER,
        seed: options.seed * 1000 + round,
        txnPrefix: `s${options.seed}r${round}`,
      });
    /** After a death: count it, check the ledger, restart (repair), check the audit log. */
    const afterDeath = async (round: number, exit: ExitInfo, killedFromOutside: boolean): Promise<string[]> => {
      const point = /test fault point (\S+): SIGKILL/.exec(fixture.bank.stderr())?.[1];
      const found: string[] = [];
      if (point !== undefined) result.kills.atFaultPoint[point] = (result.kills.atFaultPoint[point] ?? 0) + 1;
      else if (killedFromOutside && exit.signal === 'SIGKILL') result.kills.fromOutside += 1;
      else found.push(`the bank exited by itself (${JSON.stringify(exit)}): ${fixture.bank.stderr().trim()}`);
      const how =
        point !== undefined ? `killed at ${point}` : found.length === 0 ? 'killed from outside' : 'died by itself';
      log(`round ${round}: ${how}`);
      const snapshot = await readLedger(dataDir, usernames, knowledge.keys());
      found.push(...checkLedger(snapshot, knowledge, usernames).map((text) => `(ledger) ${text}`));
      await fixture.restart();
      found.push(...checkAudit(dataDir, snapshot).map((text) => `(audit) ${text}`));
      return found.map((text) => `round ${round} ${text}`);
    };
    for (let round = 1; round <= options.rounds; round++) {
      const workload = new Workload(workloadOptions(round), knowledge);
      const running = workload.run();
      let killedFromOutside = false;
      const killAfterMs = 100 + Math.floor(random() * Math.max(1, options.roundMsMax - 100));
      const timer = setTimeout(() => {
        killedFromOutside = true;
        void fixture.bank.kill();
      }, killAfterMs);
      const exit = await fixture.bank.exited;
      clearTimeout(timer);
      workload.stop();
      await running;
      workload.close();
      result.requests += workload.requests;
      let found = await afterDeath(round, exit, killedFromOutside);
      let gaveUp = false;
      if (found.length > 0 && options.stopAtFirstViolation === true) {
        result.violations.push(...found);
        result.rounds = round;
        break;
      }
      // The kiosks settle what they did not hear, with the same ids; the bank may die at a
      // fault point meanwhile too, which is one more crash to check and recover from.
      for (let attempt = 1; ; attempt++) {
        const resolver = new Workload(workloadOptions(round), knowledge);
        try {
          result.resolvedAfterRestart += await resolver.resolveUnknown();
          break;
        } catch (error) {
          found = found.concat(await afterDeath(round, await fixture.bank.exited, false));
          if (attempt >= RESOLVE_ATTEMPTS_MAX) {
            found.push(`round ${round}: the bank died ${attempt} times while the kiosks recovered: ${String(error)}`);
            gaveUp = true;
            break;
          }
        } finally {
          resolver.close();
          result.requests += resolver.requests;
        }
      }
      result.rounds = round;
      result.violations.push(...found);
      log(`round ${round}: ${workload.requests} requests; ${found.length} violation(s)`);
      if (gaveUp || (found.length > 0 && options.stopAtFirstViolation === true)) break;
    }
    // The last word: a clean stop, then the whole ledger and audit log once more.
    await fixture.bank.stop();
    const snapshot = await readLedger(dataDir, usernames, knowledge.keys());
    result.violations.push(...checkLedger(snapshot, knowledge, usernames).map((text) => `final (ledger): ${text}`));
    result.violations.push(...checkAudit(dataDir, snapshot).map((text) => `final (audit): ${text}`));
    result.transactions = knowledge.size;
    result.acknowledged = [...knowledge.values()].filter((txn) => txn.first === 'ok').length;
  } finally {
    await fixture.remove();
  }
  result.seconds = (Date.now() - startedMs) / 1000;
  return result;
}
