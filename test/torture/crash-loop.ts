// The crash loop (issue 15, RELIABILITY.md): a real `atm bank` process under load from many
// concurrent sessions is SIGKILLed, round after round, at a random moment from outside or at one
// of its own test-only fault points (protocol/faults.ts: inside the LevelDB batch, between the
// batch and the audit append, during the audit sync); after each kill the checker reads the
// ledger (checkLedger), restarts the bank on the same data dir, checks the repaired audit log
// against the ledger (checkAudit), and the kiosks resolve what they did not hear (same ids).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection, TEST_FAULTS_ENV } from '../../protocol/index.js';
import { startBankProcess, type BankProcess, type ExitInfo } from '../helpers/cli.js';
import { checkAudit, checkLedger, readLedger } from './ledger-check.js';
import { Workload, prng, type TxnKnowledge } from './workload.js';

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
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-torture-crash-'));
  const dataDir = path.join(root, 'bank');
  // The bank allows 4 sessions per kiosk (bank/server-limits.ts); one more kiosk for the resolver.
  const kioskIds = Array.from({ length: Math.ceil(options.sessions / 4) + 1 }, (_, index) => `torture-${index + 1}`);
  const psks = new Map<string, Buffer>();
  initKeystore(dataDir);
  for (const kioskId of kioskIds)
    psks.set(kioskId, Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex'));
  const usernames = Array.from({ length: options.accounts }, (_, index) => `torture${String(index).padStart(2, '0')}`);
  const faults = [
    options.crashPoints === '' ? '' : `crash=${options.crashPoints}`,
    (options.plant ?? []).length === 0 ? '' : `plant=${(options.plant ?? []).join(';')}`,
  ]
    .filter((part) => part !== '')
    .join(',');
  const env = { [TEST_FAULTS_ENV]: faults };
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
  const startBank = (): Promise<BankProcess> => startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt'], { env });
  // The accounts are made by a bank without crash points (a death mid-setup is not a round),
  // stopped cleanly; the loop's banks start from there.
  let bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt']);
  try {
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
    await bank.stop();
    bank = await startBank();
    const workloadOptions = (round: number, port: number): ConstructorParameters<typeof Workload>[0] => ({
      host: '127.0.0.1',
      port,
      kioskIds,
      psk: (kioskId) => psks.get(kioskId) as Buffer,
      usernames,
      password: PASSWORD,
      sessions: options.sessions,
      requestsPerSession: Number.MAX_SAFE_INTEGER,
      seed: options.seed * 1000 + round,
      txnPrefix: `s${options.seed}r${round}`,
    });
    /** After a death: count it, check the ledger, restart (repair), check the audit log. */
    const afterDeath = async (round: number, exit: ExitInfo, killedFromOutside: boolean): Promise<string[]> => {
      const point = /test fault point (\S+): SIGKILL/.exec(bank.stderr())?.[1];
      const found: string[] = [];
      if (point !== undefined) result.kills.atFaultPoint[point] = (result.kills.atFaultPoint[point] ?? 0) + 1;
      else if (killedFromOutside && exit.signal === 'SIGKILL') result.kills.fromOutside += 1;
      else found.push(`the bank exited by itself (${JSON.stringify(exit)}): ${bank.stderr().trim()}`);
      const how =
        point !== undefined ? `killed at ${point}` : found.length === 0 ? 'killed from outside' : 'died by itself';
      log(`round ${round}: ${how}`);
      const snapshot = await readLedger(dataDir, usernames, knowledge.keys());
      found.push(...checkLedger(snapshot, knowledge, usernames).map((text) => `(ledger) ${text}`));
      bank = await startBank();
      found.push(...checkAudit(dataDir, snapshot).map((text) => `(audit) ${text}`));
      return found.map((text) => `round ${round} ${text}`);
    };
    for (let round = 1; round <= options.rounds; round++) {
      const workload = new Workload(workloadOptions(round, bank.port), knowledge);
      const running = workload.run();
      let killedFromOutside = false;
      const killAfterMs = 100 + Math.floor(random() * Math.max(1, options.roundMsMax - 100));
      const timer = setTimeout(() => {
        killedFromOutside = true;
        void bank.kill();
      }, killAfterMs);
      const exit = await bank.exited;
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
        const resolver = new Workload(workloadOptions(round, bank.port), knowledge);
        try {
          result.resolvedAfterRestart += await resolver.resolveUnknown();
          break;
        } catch (error) {
          found = found.concat(await afterDeath(round, await bank.exited, false));
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
    await bank.stop();
    const snapshot = await readLedger(dataDir, usernames, knowledge.keys());
    result.violations.push(...checkLedger(snapshot, knowledge, usernames).map((text) => `final (ledger): ${text}`));
    result.violations.push(...checkAudit(dataDir, snapshot).map((text) => `final (audit): ${text}`));
    result.transactions = knowledge.size;
    result.acknowledged = [...knowledge.values()].filter((txn) => txn.first === 'ok').length;
  } finally {
    await bank.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }
  result.seconds = (Date.now() - startedMs) / 1000;
  return result;
}
