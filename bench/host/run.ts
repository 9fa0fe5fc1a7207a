// The scenarios of `atm bench` and the loop that runs them: for each step, the sessions are
// opened (and logged in) first, the bank is sampled, the load runs for the step's duration, the
// bank is sampled again; figures are the client's view plus the bank process's own (and, on
// the PostgreSQL ledger, the database server's CPU). Whatever the bench started (bank
// processes, the throw-away PostgreSQL cluster, temp dirs) is stopped and removed on success,
// on failure and on SIGINT or SIGTERM.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { interruptible, unlessAborted } from '../reference/process.js';
import { attachBank, combineStats, spawnBank, type BankUnderTest } from './bank-under-test.js';
import { DatabaseUnderTest } from './database-under-test.js';
import { LoadGenerator, type StepPlan } from './load.js';
import type { ScriptName, SessionSlot } from './load-protocol.js';
import type { BankStats } from '../../bank/index.js';
import {
  allLatencies,
  byOp,
  round2,
  summarise,
  type BenchReport,
  type HostFigures,
  type StepReport,
} from './report.js';

export const SCENARIOS = ['handshake', 'balance', 'mixed', 'contended', 'login', 'sessions'] as const;
export type ScenarioName = (typeof SCENARIOS)[number];

/** The bank's sessionsPerKioskMax: long-lived sessions are spread over kiosks four at a time. */
const SESSIONS_PER_KIOSK = 4;
const PASSWORD = 'bench-password-1';
const HANDSHAKE_KIOSKS = 256;
/** After a step, the bank has this long to see every session of it closed. */
const SESSIONS_GONE_MS_MAX = 10_000;

export interface BenchPlan {
  scenarios: readonly ScenarioName[];
  /** Session counts per scenario (the mixed curve, the handshake concurrencies, …). */
  sessions: Record<ScenarioName, readonly number[]>;
  /** Accounts the contended scenario's sessions share. */
  contendedAccounts: number;
  durationMs: number;
  requestsMax: number;
  workers: number;
  bcryptCost: number;
  loginBcryptCost: number;
  telemetry: boolean;
  /** The spawned bank's ledger: LevelDB in its data dir, or a throw-away PostgreSQL cluster. */
  store: StoreName;
  /** `atm bank` processes sharing the ledger (more than one only on PostgreSQL). */
  bankHosts: number;
  /** A running bank instead of a spawned one. */
  attach: { host: string; port: number; keyFiles: string[]; pid: number | null } | null;
  /** Only the tests set it: where PostgreSQL's programs are (an empty dir: "not installed"). */
  postgresBinDir?: string;
}

export const STORES = ['level', 'postgres'] as const;
export type StoreName = (typeof STORES)[number];

export const FULL_SESSIONS: BenchPlan['sessions'] = {
  handshake: [1, 16],
  balance: [64],
  mixed: [1, 8, 32, 64, 256],
  contended: [64],
  login: [16],
  sessions: [1_000],
};

export const QUICK_SESSIONS: BenchPlan['sessions'] = {
  handshake: [1, 4],
  balance: [4],
  mixed: [1, 4],
  contended: [8],
  login: [2],
  sessions: [20],
};

const SCRIPTS: Record<ScenarioName, ScriptName> = {
  handshake: 'handshake',
  balance: 'balance',
  mixed: 'mixed',
  contended: 'mixed',
  login: 'login',
  sessions: 'idle',
};

function slotsFor(scenario: ScenarioName, sessions: number, step: number, contendedAccounts: number): SessionSlot[] {
  return Array.from({ length: sessions }, (_, index): SessionSlot => {
    switch (scenario) {
      case 'handshake':
        return { username: null, registers: false, kioskIndex: index };
      case 'sessions':
        return { username: null, registers: false, kioskIndex: Math.floor(index / SESSIONS_PER_KIOSK) };
      case 'contended':
        return {
          username: `bench-s${step}-c${index % contendedAccounts}`,
          registers: index < contendedAccounts,
          kioskIndex: Math.floor(index / SESSIONS_PER_KIOSK),
        };
      case 'login':
        // One kiosk per session: the bank limits logins per kiosk per second.
        return { username: `bench-s${step}-u${index}`, registers: true, kioskIndex: index };
      default:
        return {
          username: `bench-s${step}-u${index}`,
          registers: true,
          kioskIndex: Math.floor(index / SESSIONS_PER_KIOSK),
        };
    }
  });
}

/**
 * Kiosks for the spawned bank: enough for the most sessions at four a kiosk, and for the
 * handshake loop to stay under each kiosk's handshake rate (20/s) up to ~5,000 handshakes/s.
 */
function kiosksNeeded(plan: BenchPlan): number {
  const most = Math.max(1, ...plan.scenarios.flatMap((scenario) => plan.sessions[scenario]));
  return Math.max(HANDSHAKE_KIOSKS, Math.ceil(most / SESSIONS_PER_KIOSK) + 16);
}

async function sessionsGone(bank: BankUnderTest): Promise<void> {
  const deadlineMs = performance.now() + SESSIONS_GONE_MS_MAX;
  while (performance.now() < deadlineMs) {
    const stats = await bank.stats();
    if (stats === null) {
      await new Promise((resolve) => setTimeout(resolve, 250)); // an external bank: give it a moment
      return;
    }
    if (stats.connections === 0) return;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

async function runStep(
  load: LoadGenerator,
  bank: BankUnderTest,
  database: DatabaseUnderTest | null,
  scenario: ScenarioName,
  sessions: number,
  stepNumber: number,
  plan: BenchPlan,
): Promise<StepReport> {
  const stepPlan: StepPlan = {
    script: SCRIPTS[scenario],
    slots: slotsFor(scenario, sessions, stepNumber, plan.contendedAccounts),
    durationMs: scenario === 'sessions' ? Math.min(plan.durationMs, 1_000) : plan.durationMs,
    requestsMax: plan.requestsMax,
  };
  interface Sample {
    hosts: Awaited<ReturnType<BankUnderTest['hostStats']>>;
    stats: Awaited<ReturnType<BankUnderTest['stats']>>;
    cpuUs: number | null;
    databaseCpuUs: number | null;
    atMs: number;
  }
  const samples: { before?: Sample; after?: Sample; peakRss: number | null } = { peakRss: null };
  const sample = async (): Promise<Sample> => {
    const hosts = await bank.hostStats();
    return {
      hosts,
      stats: combineStats(hosts),
      cpuUs: bank.cpuUs(),
      databaseCpuUs: database?.cpuUs() ?? null,
      atMs: performance.now(),
    };
  };
  const result = await load.run(bank, stepPlan, PASSWORD, {
    beforeGo: async () => {
      bank.resetPeakRss();
      samples.before = await sample();
    },
    afterGo: async () => {
      samples.after = await sample();
      samples.peakRss = bank.peakRssBytes();
    },
  });
  await sessionsGone(bank);
  const latencies = allLatencies(result.latenciesMs);
  const requests = latencies.length;
  const seconds = result.elapsedMs / 1000;
  const { before: b, after: a, peakRss } = samples;
  const cpuDeltaUs =
    b?.stats != null && a?.stats != null
      ? a.stats.cpuUs - b.stats.cpuUs
      : b?.cpuUs != null && a?.cpuUs != null
        ? a.cpuUs - b.cpuUs
        : null;
  const wallMs = b !== undefined && a !== undefined ? a.atMs - b.atMs : null;
  const commits = b?.stats != null && a?.stats != null ? a.stats.commitsWritten - b.stats.commitsWritten : null;
  const batches = b?.stats != null && a?.stats != null ? a.stats.batchesCommitted - b.stats.batchesCommitted : null;
  const databaseCpuUs = b?.databaseCpuUs != null && a?.databaseCpuUs != null ? a.databaseCpuUs - b.databaseCpuUs : null;
  return {
    name: scenario,
    sessions,
    requests,
    seconds: round2(seconds),
    requestsPerSecond: seconds > 0 ? Math.round(requests / seconds) : 0,
    latencyMs: summarise(latencies),
    byOp: byOp(result.latenciesMs),
    errors: result.errors,
    firstErrors: result.firstErrors,
    bank: {
      cpuMsPerRequest: cpuDeltaUs === null || requests === 0 ? null : round2(cpuDeltaUs / 1000 / requests),
      cpuPercent: cpuDeltaUs === null || wallMs === null || wallMs <= 0 ? null : Math.round(cpuDeltaUs / 10 / wallMs),
      syncedWritesPerRequest: commits === null || requests === 0 ? null : round2(commits / requests),
      batchesPerSyncedWrite: commits === null || batches === null || commits === 0 ? null : round2(batches / commits),
      databaseCpuMsPerRequest:
        databaseCpuUs === null || requests === 0 ? null : round2(databaseCpuUs / 1000 / requests),
      peakRssMiB: peakRss === null ? null : Math.round(peakRss / 2 ** 20),
      eventLoopDelayMs: a?.stats?.eventLoopDelayMs ?? null,
      connections: a?.stats?.connections ?? null,
      perHost: bank.endpoints.length === 1 ? null : perHost(b?.hosts ?? [], a?.hosts ?? [], wallMs),
    },
  };
}

/** Each host's share of a step, when there are several: its sessions, CPU and synced writes. */
function perHost(
  before: readonly (BankStats | null)[],
  after: readonly (BankStats | null)[],
  wallMs: number | null,
): HostFigures[] {
  return after.map((end, index) => {
    const start = before[index] ?? null;
    const known = start !== null && end !== null;
    return {
      connections: end?.connections ?? null,
      cpuPercent: known && wallMs !== null && wallMs > 0 ? Math.round((end.cpuUs - start.cpuUs) / 10 / wallMs) : null,
      syncedWrites: known ? end.commitsWritten - start.commitsWritten : null,
    };
  });
}

function describeBank(plan: BenchPlan, database: DatabaseUnderTest | null): string {
  if (plan.attach !== null) return `running at ${plan.attach.host}:${plan.attach.port}`;
  const telemetry = `telemetry ${plan.telemetry ? 'on (embedded broker)' : 'off'}`;
  if (database === null) return `atm bank spawned on a fresh data dir (LevelDB, synced commits), ${telemetry}`;
  const hosts =
    plan.bankHosts === 1
      ? 'atm bank spawned'
      : `${plan.bankHosts} atm bank processes (sessions split between them; bank figures summed)`;
  return (
    `${hosts} on a fresh PostgreSQL ${database.version} database (throw-away cluster on a Unix socket, ` +
    `fsync and synchronous_commit on, pool of 16 a host), ${telemetry}`
  );
}

/** Runs the plan's scenarios in order; log gets a line per step as it finishes. */
export async function runBench(plan: BenchPlan, log: (line: string) => void): Promise<BenchReport> {
  if (plan.attach !== null && (plan.store !== 'level' || plan.bankHosts !== 1))
    throw new Error('a running bank (--bank) is measured as it is: no --store or --bank-hosts');
  if (plan.bankHosts !== 1 && plan.store !== 'postgres')
    throw new Error('more than one bank host needs the shared PostgreSQL ledger (--store postgres)');
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-bench-'));
  // What is running, for the cleanup: banks still starting land in `banks` when they have.
  const started: {
    load: LoadGenerator | null;
    banks: BankUnderTest[];
    starting: Set<Promise<unknown>>;
    database: Promise<DatabaseUnderTest> | null;
  } = { load: null, banks: [], starting: new Set(), database: null };
  const cleanup = async (): Promise<void> => {
    await started.load?.close();
    await Promise.allSettled([...started.starting]);
    for (const bank of started.banks) await bank.close().catch(() => undefined);
    const database = await started.database?.catch(() => null);
    await database?.stop();
    fs.rmSync(root, { recursive: true, force: true });
  };
  return interruptible(async (signal) => {
    const step = <T>(promise: Promise<T>): Promise<T> => unlessAborted(promise, signal);
    started.load = LoadGenerator.start(plan.workers);
    const load = started.load;
    let database: DatabaseUnderTest | null = null;
    if (plan.store === 'postgres' && plan.attach === null) {
      log('starting a throw-away PostgreSQL cluster');
      started.database = DatabaseUnderTest.start({ binDir: plan.postgresBinDir });
      database = await step(started.database);
    }
    const bankFor = async (bcryptCost: number): Promise<BankUnderTest> => {
      if (plan.attach !== null) return attachBank(plan.attach);
      const storeUrl = database === null ? null : await step(database.freshDatabase());
      const spawning = spawnBank({
        root: fs.mkdtempSync(path.join(root, 'bank-')),
        kiosks: kiosksNeeded(plan),
        bcryptCost,
        telemetry: plan.telemetry,
        storeUrl,
        hosts: plan.bankHosts,
      }).then((bank) => {
        started.banks.push(bank);
        return bank;
      });
      started.starting.add(spawning);
      void spawning.finally(() => started.starting.delete(spawning)).catch(() => undefined);
      return step(spawning);
    };
    const closeBank = async (bank: BankUnderTest): Promise<void> => {
      started.banks = started.banks.filter((candidate) => candidate !== bank);
      await bank.close();
    };
    const scenarios: StepReport[] = [];
    const main = await bankFor(plan.bcryptCost);
    let stepNumber = 0;
    for (const scenario of plan.scenarios) {
      // Logins are measured at their real cost on a bank of their own; the rest registers cheaply.
      // The idle sessions' memory is measured on a bank of their own too: on the main bank it
      // would be the heap that the load steps before it grew (that is in their own peak RSS).
      // On PostgreSQL a bank of its own has a database of its own too.
      const ownBank = plan.attach === null && (scenario === 'login' || scenario === 'sessions');
      const bank = ownBank ? await bankFor(scenario === 'login' ? plan.loginBcryptCost : plan.bcryptCost) : main;
      for (const sessions of plan.sessions[scenario]) {
        const result = await step(runStep(load, bank, database, scenario, sessions, ++stepNumber, plan));
        scenarios.push(result);
        log(
          `${scenario} @${sessions}: ${result.requestsPerSecond}/s, p99 ${result.latencyMs.p99} ms, ${result.errors} errors`,
        );
      }
      if (bank !== main) await closeBank(bank);
    }
    const mixed = scenarios.filter((entry) => entry.name === 'mixed');
    const report: BenchReport = {
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      store: plan.attach === null ? plan.store : null,
      bankHosts: plan.attach === null ? plan.bankHosts : 1,
      bank: describeBank(plan, database),
      bcryptCost: { throughput: plan.bcryptCost, login: plan.loginBcryptCost },
      scenarios,
    };
    if (database !== null) report.database = { postgres: database.version };
    const only = mixed.length === 1 ? mixed[0] : undefined;
    if (only !== undefined) {
      report.requestsPerSecond = only.requestsPerSecond;
      report.latencyMs = only.latencyMs;
    }
    return report;
  }, cleanup);
}
