// The scenarios of `atm bench` and the loop that runs them: for each step, the sessions are
// opened (and logged in) first, the bank is sampled, the load runs for the step's duration, the
// bank is sampled again; figures are the client's view plus the bank process's own.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { attachBank, spawnBank, type BankUnderTest } from './bank-under-test.js';
import { LoadGenerator, type StepPlan } from './load.js';
import type { ScriptName, SessionSlot } from './load-protocol.js';
import { allLatencies, byOp, round2, summarise, type BenchReport, type StepReport } from './report.js';

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
  /** A running bank instead of a spawned one. */
  attach: { host: string; port: number; keyFiles: string[]; pid: number | null } | null;
}

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
    stats: Awaited<ReturnType<BankUnderTest['stats']>>;
    cpuUs: number | null;
    atMs: number;
  }
  const samples: { before?: Sample; after?: Sample; peakRss: number | null } = { peakRss: null };
  const sample = async (): Promise<Sample> => ({
    stats: await bank.stats(),
    cpuUs: bank.cpuUs(),
    atMs: performance.now(),
  });
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
      peakRssMiB: peakRss === null ? null : Math.round(peakRss / 2 ** 20),
      eventLoopDelayMs: a?.stats?.eventLoopDelayMs ?? null,
      connections: a?.stats?.connections ?? null,
    },
  };
}

/** Runs the plan's scenarios in order; log gets a line per step as it finishes. */
export async function runBench(plan: BenchPlan, log: (line: string) => void): Promise<BenchReport> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-bench-'));
  const load = LoadGenerator.start(plan.workers);
  const banks: BankUnderTest[] = [];
  const bankFor = async (bcryptCost: number): Promise<BankUnderTest> => {
    if (plan.attach !== null) return attachBank(plan.attach);
    const bank = await spawnBank({
      root: fs.mkdtempSync(path.join(root, 'bank-')),
      kiosks: kiosksNeeded(plan),
      bcryptCost,
      telemetry: plan.telemetry,
    });
    banks.push(bank);
    return bank;
  };
  try {
    const scenarios: StepReport[] = [];
    const main = await bankFor(plan.bcryptCost);
    let stepNumber = 0;
    for (const scenario of plan.scenarios) {
      // Logins are measured at their real cost on a bank of their own; the rest registers cheaply.
      // The idle sessions' memory is measured on a bank of their own too: on the main bank it
      // would be the heap that the load steps before it grew (that is in their own peak RSS).
      const ownBank = plan.attach === null && (scenario === 'login' || scenario === 'sessions');
      const bank = ownBank ? await bankFor(scenario === 'login' ? plan.loginBcryptCost : plan.bcryptCost) : main;
      for (const sessions of plan.sessions[scenario]) {
        const step = await runStep(load, bank, scenario, sessions, ++stepNumber, plan);
        scenarios.push(step);
        log(
          `${scenario} @${sessions}: ${step.requestsPerSecond}/s, p99 ${step.latencyMs.p99} ms, ${step.errors} errors`,
        );
      }
      if (bank !== main) {
        await bank.close();
        banks.splice(banks.indexOf(bank), 1);
      }
    }
    const mixed = scenarios.filter((step) => step.name === 'mixed');
    const report: BenchReport = {
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB`,
      node: process.version,
      bank:
        plan.attach === null
          ? `atm bank spawned on a fresh data dir (LevelDB, synced commits), telemetry ${plan.telemetry ? 'on (embedded broker)' : 'off'}`
          : `running at ${plan.attach.host}:${plan.attach.port}`,
      bcryptCost: { throughput: plan.bcryptCost, login: plan.loginBcryptCost },
      scenarios,
    };
    const only = mixed.length === 1 ? mixed[0] : undefined;
    if (only !== undefined) {
      report.requestsPerSecond = only.requestsPerSecond;
      report.latencyMs = only.latencyMs;
    }
    return report;
  } finally {
    await load.close();
    for (const bank of banks) await bank.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
