// The bank the bench measures: a real `atm bank` process on a fresh data dir (the default), or
// one already running, given by address and kiosk key files. On a PostgreSQL ledger the bank
// may be two `atm bank` processes sharing one database, each on its own data dir with a copy of
// the keystore; their figures are then summed (CPU, memory, commits, connections), the
// event-loop delay is the worse host's. The process's CPU and peak memory come from /proc; its
// group-commit counters, connections and event-loop delay from the stats line it writes on
// SIGUSR2 (bank/stats-signal.ts). An external bank without --bank-pid is measured from the
// outside only: throughput and latency.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { BANK_STATS_PREFIX, addKiosk, initKeystore, loadKioskKeyFile, type BankStats } from '../../bank/index.js';
import type { BankEndpoint, KioskCredential } from './load-protocol.js';

const BANK_START_MS_MAX = 30_000;
const BANK_STOP_MS_MAX = 10_000;
const STATS_REPLY_MS_MAX = 5_000;

export interface BankUnderTest {
  /** Where its hosts listen: one, or (a shared PostgreSQL ledger) several. */
  readonly endpoints: readonly BankEndpoint[];
  readonly kiosks: KioskCredential[];
  /** The bank's own counters, or null when it cannot be asked (an external bank). */
  stats(): Promise<BankStats | null>;
  /** Each host's own counters (one entry a host), asked at once; combineStats() sums them. */
  hostStats(): Promise<(BankStats | null)[]>;
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
  /** Parent folder: the bank's data dirs, key files and logs go in here (the caller removes it). */
  root: string;
  kiosks: number;
  bcryptCost: number;
  /** false: `--no-mqtt`; true: the embedded broker on a free port, as `atm bank` runs by default. */
  telemetry: boolean;
  /** A migrated PostgreSQL database for the ledger (`--store URL`); null: LevelDB in the data dir. */
  storeUrl: string | null;
  /** `atm bank` processes (more than one only with storeUrl): host i is `--host-id bench-i`. */
  hosts: number;
}

/**
 * Flags the bench sets itself, dropped from the bank's environment (parse() reads ATM_FLAG for
 * --flag): a developer's ATM_STORE must not turn the LevelDB bench's bank into a PostgreSQL one.
 */
const BENCH_OWNED_ENV = /^ATM_(STORE|HOST_ID|PG_.*)$/;

/**
 * A fresh bank: `atm keys init`, a kiosk key per kiosk, then `atm bank` as a child process; with
 * `hosts` > 1, more `atm bank` processes on the same store, each on a data dir holding a copy of
 * the keystore. A host that does not start stops those started before it.
 */
export async function spawnBank(options: SpawnBankOptions): Promise<BankUnderTest> {
  if (options.hosts < 1 || (options.hosts > 1 && options.storeUrl === null))
    throw new Error('more than one bank host needs a shared store (PostgreSQL)');
  const dataDir = path.join(options.root, 'data');
  initKeystore(dataDir);
  const keysDir = path.join(options.root, 'keys');
  fs.mkdirSync(keysDir, { mode: 0o700 });
  const kiosks = Array.from({ length: options.kiosks }, (_, index) => {
    const kioskId = `bench-${index}`;
    const file = addKiosk(dataDir, kioskId, path.join(keysDir, `${kioskId}.key`));
    return { kioskId, pskHex: file.psk };
  });
  const started: SpawnedBank[] = [];
  try {
    for (let host = 0; host < options.hosts; host++) {
      const hostDataDir = host === 0 ? dataDir : path.join(options.root, `data-${host}`);
      if (host > 0) {
        fs.mkdirSync(hostDataDir, { mode: 0o700 });
        const keystore = path.join(hostDataDir, 'keystore.json');
        fs.copyFileSync(path.join(dataDir, 'keystore.json'), keystore);
        fs.chmodSync(keystore, 0o600);
      }
      const logPath = path.join(options.root, host === 0 ? 'bank.log' : `bank-${host}.log`);
      started.push(await startBankProcess(options, hostDataDir, host, logPath, kiosks));
    }
  } catch (error) {
    for (const bank of started) await bank.close();
    throw error;
  }
  const [only] = started;
  return started.length === 1 && only !== undefined ? only : new BankHosts(started);
}

async function startBankProcess(
  options: SpawnBankOptions,
  dataDir: string,
  host: number,
  logPath: string,
  kiosks: KioskCredential[],
): Promise<SpawnedBank> {
  const log = fs.openSync(logPath, 'a', 0o600);
  const atm = new URL('../../bin/atm.js', import.meta.url).pathname;
  const args = [atm, 'bank', '--data', dataDir, '--port', '0', '--bcrypt-cost', String(options.bcryptCost)];
  if (options.storeUrl !== null) args.push('--store', options.storeUrl, '--host-id', `bench-${host}`);
  args.push(...(options.telemetry ? ['--mqtt-port', '0'] : ['--no-mqtt']));
  // ATM_BENCH_BANK_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR' profiles the bank process.
  const nodeArgs = (process.env.ATM_BENCH_BANK_NODE_ARGS ?? '').split(' ').filter((arg) => arg.length > 0);
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !BENCH_OWNED_ENV.test(name)));
  const child = spawn(process.execPath, [...nodeArgs, ...args], { stdio: ['ignore', log, log], env });
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
  readonly endpoints: readonly BankEndpoint[];
  private readonly pid: number | null;

  constructor(
    private readonly child: ChildProcess,
    port: number,
    readonly kiosks: KioskCredential[],
    private readonly logPath: string,
    private readonly exited: Promise<void>,
  ) {
    this.endpoints = [{ host: '127.0.0.1', port }];
    this.pid = child.pid ?? null;
  }

  async hostStats(): Promise<(BankStats | null)[]> {
    return [await this.stats()];
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

/** Bank hosts sharing one ledger, measured as one bank: see the top of this file. */
class BankHosts implements BankUnderTest {
  readonly endpoints: readonly BankEndpoint[];
  readonly kiosks: KioskCredential[];

  constructor(private readonly hosts: readonly BankUnderTest[]) {
    this.endpoints = hosts.flatMap((host) => host.endpoints);
    this.kiosks = hosts[0]?.kiosks ?? [];
  }

  hostStats(): Promise<(BankStats | null)[]> {
    return Promise.all(this.hosts.map((host) => host.stats()));
  }

  async stats(): Promise<BankStats | null> {
    return combineStats(await this.hostStats());
  }

  cpuUs(): number | null {
    return sumOrNull(this.hosts.map((host) => host.cpuUs()));
  }

  resetPeakRss(): void {
    for (const host of this.hosts) host.resetPeakRss();
  }

  /** The sum of each host's own peak (they need not peak at the same moment: an upper bound). */
  peakRssBytes(): number | null {
    return sumOrNull(this.hosts.map((host) => host.peakRssBytes()));
  }

  async close(): Promise<void> {
    await Promise.all(this.hosts.map((host) => host.close()));
  }
}

/**
 * Several hosts' counters as one bank's: sums (CPU, RSS, commits, connections), the event-loop
 * delay of the worse host; null when any host could not be asked.
 */
export function combineStats(all: readonly (BankStats | null)[]): BankStats | null {
  if (all.length === 1) return all[0] ?? null;
  if (all.length === 0 || all.some((stats) => stats === null)) return null;
  const known = all as BankStats[];
  const total = (field: 'cpuUs' | 'rssBytes' | 'commitsWritten' | 'batchesCommitted' | 'connections'): number =>
    known.reduce((sum, stats) => sum + stats[field], 0);
  const delays = known.flatMap((stats) => (stats.eventLoopDelayMs === null ? [] : [stats.eventLoopDelayMs]));
  return {
    cpuUs: total('cpuUs'),
    rssBytes: total('rssBytes'),
    commitsWritten: total('commitsWritten'),
    batchesCommitted: total('batchesCommitted'),
    connections: total('connections'),
    eventLoopDelayMs:
      delays.length === 0
        ? null
        : {
            p50: Math.max(...delays.map((delay) => delay.p50)),
            p99: Math.max(...delays.map((delay) => delay.p99)),
            max: Math.max(...delays.map((delay) => delay.max)),
          },
  };
}

function sumOrNull(values: (number | null)[]): number | null {
  return values.some((value) => value === null) ? null : (values as number[]).reduce((sum, value) => sum + value, 0);
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
    endpoints: [{ host: options.host, port: options.port }],
    kiosks,
    stats: () => Promise.resolve(null),
    hostStats: () => Promise.resolve([null]),
    cpuUs: () => procCpuUs(options.pid),
    resetPeakRss: () => resetProcPeakRss(options.pid),
    peakRssBytes: () => procPeakRssBytes(options.pid),
    close: () => Promise.resolve(),
  };
}
