// The bank the bench measures: a real `atm bank` process on a fresh data dir (the default), or
// one already running, given by address and kiosk key files. The process's CPU and peak memory
// come from /proc; its group-commit counters, connections and event-loop delay from the stats
// line it writes on SIGUSR2 (bank/stats-signal.ts). An external bank without --bank-pid
// is measured from the outside only: throughput and latency.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BANK_STATS_PREFIX, addKiosk, initKeystore, loadKioskKeyFile, type BankStats } from '../../bank/index.js';
import type { KioskCredential } from './load-protocol.js';

const BANK_START_MS_MAX = 30_000;
const BANK_STOP_MS_MAX = 10_000;
const STATS_REPLY_MS_MAX = 5_000;

export interface BankUnderTest {
  readonly host: string;
  readonly port: number;
  readonly kiosks: KioskCredential[];
  /** The bank's process id when known (spawned, or --bank-pid). */
  readonly pid: number | null;
  /** The bank's own counters, or null when it cannot be asked (an external bank). */
  stats(): Promise<BankStats | null>;
  /** user + system CPU (µs) from /proc, or null. */
  cpuUs(): number | null;
  /** Resets the peak RSS (Linux clear_refs), so the next peakRssBytes() is this step's. */
  resetPeakRss(): void;
  peakRssBytes(): number | null;
  close(): Promise<void>;
}

/** USER_HZ: 100 on every Linux build Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

function procCpuUs(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
    const ticks = Number(fields[11]) + Number(fields[12]);
    return Number.isFinite(ticks) ? (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND : null;
  } catch {
    return null;
  }
}

function procPeakRssBytes(pid: number | null): number | null {
  if (pid === null) return null;
  try {
    const match = /^VmHWM:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? null : Number(match[1]) * 1024;
  } catch {
    return null;
  }
}

function resetProcPeakRss(pid: number | null): void {
  if (pid === null) return;
  try {
    fs.writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    // Not ours to reset (another user's process): the peak then counts from its start.
  }
}

export interface SpawnBankOptions {
  /** Parent folder: the bank's data dir, key files and log go in here (the caller removes it). */
  root: string;
  kiosks: number;
  bcryptCost: number;
  /** false: `--no-mqtt`; true: the embedded broker on a free port, as `atm bank` runs by default. */
  telemetry: boolean;
}

/** A fresh bank: `atm keys init`, a kiosk key per kiosk, then `atm bank` as a child process. */
export async function spawnBank(options: SpawnBankOptions): Promise<BankUnderTest> {
  const dataDir = path.join(options.root, 'data');
  initKeystore(dataDir);
  const keysDir = path.join(options.root, 'keys');
  fs.mkdirSync(keysDir, { mode: 0o700 });
  const kiosks = Array.from({ length: options.kiosks }, (_, index) => {
    const kioskId = `bench-${index}`;
    const file = addKiosk(dataDir, kioskId, path.join(keysDir, `${kioskId}.key`));
    return { kioskId, pskHex: file.psk };
  });
  const logPath = path.join(options.root, 'bank.log');
  const log = fs.openSync(logPath, 'a', 0o600);
  const atm = new URL('../../bin/atm.js', import.meta.url).pathname;
  const args = [atm, 'bank', '--data', dataDir, '--port', '0', '--bcrypt-cost', String(options.bcryptCost)];
  args.push(...(options.telemetry ? ['--mqtt-port', '0'] : ['--no-mqtt']));
  // ATM_BENCH_BANK_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the bank process.
  const nodeArgs = (process.env.ATM_BENCH_BANK_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0);
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', log, log] });
  fs.closeSync(log);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const port = await waitForLine(logPath, /listening on 127\.0\.0\.1:(\d+) /, BANK_START_MS_MAX, exited);
    return new SpawnedBank(child, Number(port), kiosks, logPath, exited);
  } catch (error) {
    child.kill('SIGKILL');
    await exited;
    throw error;
  }
}

/** Polls the log for a line matching pattern; resolves with its first group. */
async function waitForLine(
  logPath: string,
  pattern: RegExp,
  timeoutMs: number,
  exited: Promise<void>,
): Promise<string> {
  const state = { gone: false };
  void exited.then(() => (state.gone = true));
  const deadlineMs = performance.now() + timeoutMs;
  for (;;) {
    const match = pattern.exec(fs.readFileSync(logPath, 'utf8'));
    if (match !== null) return match[1] ?? '';
    if (state.gone)
      throw new Error(`atm bank exited: ${fs.readFileSync(logPath, 'utf8').trim().split('\n').slice(-3).join(' | ')}`);
    if (performance.now() > deadlineMs) throw new Error(`atm bank did not start within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

class SpawnedBank implements BankUnderTest {
  readonly host = '127.0.0.1';
  readonly pid: number | null;

  constructor(
    private readonly child: ChildProcess,
    readonly port: number,
    readonly kiosks: KioskCredential[],
    private readonly logPath: string,
    private readonly exited: Promise<void>,
  ) {
    this.pid = child.pid ?? null;
  }

  async stats(): Promise<BankStats | null> {
    const before = this.statsLines().length;
    this.child.kill('SIGUSR2');
    const deadlineMs = performance.now() + STATS_REPLY_MS_MAX;
    while (performance.now() < deadlineMs) {
      const lines = this.statsLines();
      const line = lines.length > before ? lines.at(-1) : undefined;
      if (line !== undefined)
        return JSON.parse(line.slice(line.indexOf(BANK_STATS_PREFIX) + BANK_STATS_PREFIX.length)) as BankStats;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    throw new Error(`atm bank wrote no stats line within ${STATS_REPLY_MS_MAX} ms of SIGUSR2`);
  }

  private statsLines(): string[] {
    return fs
      .readFileSync(this.logPath, 'utf8')
      .split('\n')
      .filter((line) => line.includes(BANK_STATS_PREFIX));
  }

  cpuUs(): number | null {
    return procCpuUs(this.pid);
  }

  resetPeakRss(): void {
    resetProcPeakRss(this.pid);
  }

  peakRssBytes(): number | null {
    return procPeakRssBytes(this.pid);
  }

  async close(): Promise<void> {
    this.child.kill('SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), BANK_STOP_MS_MAX)));
    if ((await Promise.race([this.exited, late])) === 'late') {
      this.child.kill('SIGKILL');
      await this.exited;
    }
    clearTimeout(timer);
  }
}

/** A bank someone else runs: its address, key files for its kiosks, and (optionally) its pid. */
export function attachBank(options: {
  host: string;
  port: number;
  keyFiles: string[];
  pid: number | null;
}): BankUnderTest {
  const kiosks = options.keyFiles.map((file) => {
    const key = loadKioskKeyFile(file);
    return { kioskId: key.kioskId, pskHex: key.psk.toString('hex') };
  });
  return {
    host: options.host,
    port: options.port,
    kiosks,
    pid: options.pid,
    stats: () => Promise.resolve(null),
    cpuUs: () => procCpuUs(options.pid),
    resetPeakRss: () => resetProcPeakRss(options.pid),
    peakRssBytes: () => procPeakRssBytes(options.pid),
    close: () => Promise.resolve(),
  };
}
