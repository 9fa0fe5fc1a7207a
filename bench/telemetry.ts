// Telemetry benchmark (part of `npm run bench`: `node dist/bench/telemetry.js`). Same run, same
// machine, everything on 127.0.0.1 free ports:
//   (a) overhead: one bank host per configuration in this process, all started at once — telemetry
//       off, the embedded aedes broker, an external mosquitto (when installed) — each with N
//       logged-in sessions and, for the two with telemetry, a subscriber to atm/v1/# (the real
//       mosquitto_sub writing to a file, so receiving costs the bank nothing; without mosquitto
//       installed: off vs embedded only, with an in-process mqtt.js subscriber). The load goes to
//       the banks in turn, in short slices (M deposits per session), the order rotating each
//       round, and each bank's telemetry is let settle before the next slice starts. Adjacent
//       slices see the same machine: on this shared 2-core VM the speed drifts by ±25 % over
//       seconds, which swamped runs measured one after the other (the earlier design);
//   (b) outage: a deposit stream through the external mosquitto while it is up, while it is
//       stopped, and after it is back (until the bank has reconnected and flushed its queue).
// Besides req/s and latency it reports CPU time per request (this process, and mosquitto's).
// Options: --sessions 16 --requests 40 (deposits per session per slice) --rounds 25 (slices per
// configuration), and --no-subscriber (telemetry published, nobody subscribed).
// Bounded: fixed request counts, every wait has a deadline.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import { addKiosk, addOperator, initKeystore, silentObserver, startBankHost, type BankHost } from '../bank/index.js';
import { connectMqttAsync } from '../protocol/index.js';
import { TELEMETRY_BATCH_MESSAGES_MAX } from '../telemetry/telemetry-port.js';
import { bankTelemetry, type BankMqttOptions, type TelemetryRuntime } from '../telemetry/index.js';
import { startTelemetryThread } from '../telemetry/telemetry-thread.js';
import { MqttTelemetry, type TelemetrySink } from '../telemetry/telemetry.js';
import { BankConnection } from '../protocol/index.js';
import { waitUntil } from '../test/helpers/wait.js';
import {
  mosquittoMissingReason,
  spawnMosquittoSub,
  startMosquitto,
  type Mosquitto,
  type MqttUser,
} from '../test/helpers/mosquitto.js';

type Mode = 'off' | 'embedded' | 'mosquitto';
const BCRYPT_COST = 4;
const OPERATOR: MqttUser = { username: 'bench-ops', password: 'bench-operator-password' };
const WAIT_MS = 40_000;
const OUTAGE_DEPOSITS_PER_SESSION_MIN = 200;
/** Waits poll this seldom: reading the subscriber's file or stats must not load the machine being measured. */
const POLL_MS = 20;
/**
 * The embedded broker's retained file can still be written up to its flush interval (1 s) after
 * host.close() has resolved (a retained message that reached it after the final flush), which
 * re-creates a removed temp dir: every root is removed again once, this long after the last run.
 */
const LATE_WRITE_MS = 1_500;
const roots: string[] = [];

interface LoadResult {
  requests: number;
  elapsedMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time (user + system) of this process (bank + load generator) per request. */
  cpuUsPerRequest: number;
  /** CPU time of the external mosquitto per request, or null (none, or not on Linux). */
  brokerCpuUsPerRequest: number | null;
  /** CPU time of this process's main thread (the bank's transaction thread, and the load generator) per request. */
  mainThreadCpuUsPerRequest: number | null;
  /** CPU time of the telemetry thread (the one thread at a raised nice value) per request. */
  telemetryThreadCpuUsPerRequest: number | null;
}

/**
 * utime + stime (µs) and nice of a process or one of its threads, from a /proc stat file (Linux).
 * The fields after the ")" that closes the command name start at the 3rd (state): utime,
 * stime and nice are the 14th, 15th and 19th.
 */
function readStat(statPath: string): { cpuUs: number; nice: number } {
  const fields = fs.readFileSync(statPath, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return {
    cpuUs: ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND,
    nice: Number(fields[16]),
  };
}

/** utime + stime of a process (or, with a task path, one thread) in µs; null when unreadable. */
function processCpuUs(pid: number | null, statPath = `/proc/${pid}/stat`): number | null {
  if (pid === null) return null;
  try {
    const { cpuUs } = readStat(statPath);
    return Number.isFinite(cpuUs) ? cpuUs : null;
  } catch {
    return null;
  }
}
/**
 * CPU time (µs) of this process's threads that run at a raised nice value: the telemetry
 * threads (telemetry/thread-priority.ts), by task id; empty where /proc cannot be read.
 */
function telemetryThreadsCpuUs(): Map<string, number> {
  const threads = new Map<string, number>();
  try {
    for (const taskId of fs.readdirSync(`/proc/${process.pid}/task`)) {
      const { cpuUs, nice } = readStat(`/proc/${process.pid}/task/${taskId}/stat`);
      if (nice > 0) threads.set(taskId, cpuUs);
    }
  } catch {
    // A thread that ended between the listing and the read; the next sample has the rest.
  }
  return threads;
}

// USER_HZ: 100 on every Linux build Node supports (getconf CLK_TCK).
const CLOCK_TICKS_PER_SECOND = 100;

function percentile(sortedMs: number[], fraction: number): number {
  if (sortedMs.length === 0) return 0;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(fraction * sortedMs.length))] as number;
}

/**
 * The 2.5th and 97.5th percentiles of `statistic` over resamples (with replacement) of the
 * round indices 0…rounds-1: how far the figure could move with other rounds of the same
 * machine. Seeded, so a run's output is reproducible from its measurements.
 */
function bootstrapInterval(
  rounds: number,
  statistic: (rounds: number[]) => number,
  resamples = 2_000,
): [number, number] {
  let seed = 0x2f6b1d3;
  const random = (): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const values: number[] = [];
  for (let index = 0; index < resamples; index++)
    values.push(statistic(Array.from({ length: rounds }, () => Math.floor(random() * rounds))));
  values.sort((a, b) => a - b);
  return [values[Math.floor(0.025 * resamples)] as number, values[Math.floor(0.975 * resamples)] as number];
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

interface Load {
  latenciesMs: number[];
  elapsedMs: number;
  cpuUs: number;
  brokerCpuUs: number | null;
  mainThreadCpuUs: number | null;
  telemetryThreadCpuUs: number | null;
}

function summarize(load: Load): LoadResult {
  const sorted = [...load.latenciesMs].sort((a, b) => a - b);
  const requests = sorted.length;
  return {
    requests,
    elapsedMs: load.elapsedMs,
    requestsPerSecond: requests / (load.elapsedMs / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    cpuUsPerRequest: load.cpuUs / requests,
    brokerCpuUsPerRequest: load.brokerCpuUs === null ? null : load.brokerCpuUs / requests,
    mainThreadCpuUsPerRequest: load.mainThreadCpuUs === null ? null : load.mainThreadCpuUs / requests,
    telemetryThreadCpuUsPerRequest: load.telemetryThreadCpuUs === null ? null : load.telemetryThreadCpuUs / requests,
  };
}

/**
 * Where the subscriber writes what it receives: a memory filesystem when there is one, so its
 * appends do not share the disk the bank fsyncs to (a dashboard runs on another machine).
 */
function subscriberDir(root: string): string {
  const memory = '/dev/shm';
  if (!fs.existsSync(memory)) return root;
  const dir = fs.mkdtempSync(path.join(memory, 'atm-telemetry-bench-sub-'));
  roots.push(dir);
  return dir;
}

/** A subscriber to atm/v1/#, started once the bank's retained online status has come through. */
interface Subscriber {
  depositEvents(): number;
  stop(): Promise<void>;
}

async function mosquittoSubscriber(port: number, user: MqttUser, outputFile: string): Promise<Subscriber> {
  const sub = await spawnMosquittoSub(port, user, ['atm/v1/#'], { outputFile });
  await sub.waitFor((m) => m.topic.startsWith('atm/v1/bank/') && m.text.includes('"online"'), WAIT_MS);
  return {
    depositEvents: () => sub.messages().filter((m) => m.topic === 'atm/v1/events/deposit').length,
    stop: () => sub.stop(),
  };
}

/** Fallback without mosquitto_sub: in this process, so its cost counts against the bank. */
async function inProcessSubscriber(port: number, user: MqttUser): Promise<Subscriber> {
  const client = await connectMqttAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    ...user,
    reconnectPeriod: 0,
  });
  let deposits = 0;
  let online = false;
  client.on('message', (topic, payload) => {
    if (topic === 'atm/v1/events/deposit') deposits += 1;
    else if (topic.startsWith('atm/v1/bank/') && payload.toString('utf8').includes('"online"')) online = true;
  });
  await client.subscribeAsync('atm/v1/#', { qos: 0 });
  await waitUntil(() => online, 'the bank status', WAIT_MS, POLL_MS);
  return { depositEvents: () => deposits, stop: () => client.endAsync(true) };
}

/** A bank in a fresh temp dir, `sessions` logged-in connections, and a subscriber to atm/v1/#. */
class BenchBank {
  /** Deposits made on this bank so far (every one publishes one deposit event when telemetry is on). */
  depositsMade = 0;
  private publishedMark = 0;

  private constructor(
    readonly root: string,
    readonly host: BankHost<TelemetryRuntime>,
    readonly connections: BankConnection[],
    readonly subscriber: Subscriber | null,
    /** The external mosquitto's pid (its CPU is measured per slice), or null. */
    readonly brokerPid: number | null,
  ) {}

  static async start(
    mode: Mode,
    sessions: number,
    broker: Mosquitto | null,
    withSubscriber = true,
  ): Promise<BenchBank> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-telemetry-bench-'));
    roots.push(root);
    const dataDir = path.join(root, 'data');
    initKeystore(dataDir);
    addOperator(dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, BCRYPT_COST));
    const kiosks = Array.from({ length: Math.ceil(sessions / 4) }, (_, index) => {
      const kioskId = `bench-${index}`;
      return { kioskId, psk: Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex') };
    });
    let mqtt: BankMqttOptions = { mode: 'off' };
    if (mode === 'embedded') mqtt = { mode: 'embedded', port: 0 };
    if (mode === 'mosquitto' && broker !== null) mqtt = { mode: 'external', url: broker.url, ...broker.bank };
    const host = await startBankHost({
      dataDir,
      port: 0,
      bcryptCost: BCRYPT_COST,
      observer: silentObserver,
      sweepIntervalMs: 0,
      serverLimits: { sessionsPerKioskMax: 64, handshakesPerSecondPerKiosk: 100_000, handshakeBurstPerKiosk: 100_000 },
      loginsPerSecondPerKiosk: 100_000,
      loginBurstPerKiosk: 100_000,
      telemetry: bankTelemetry({ mqtt }),
    });
    let subscriber: Subscriber | null = null;
    if (mode !== 'off' && withSubscriber) {
      const port = mode === 'embedded' ? host.telemetry.mqttPort : broker?.port;
      const user = mode === 'embedded' ? OPERATOR : broker?.operator;
      if (port == null || user === undefined) throw new Error(`no broker for ${mode}`);
      subscriber =
        broker === null
          ? await inProcessSubscriber(port, user)
          : await mosquittoSubscriber(port, user, path.join(subscriberDir(root), 'received.txt'));
    }
    const connections = await Promise.all(
      Array.from({ length: sessions }, async (_, index) => {
        const kiosk = kiosks[index % kiosks.length] as { kioskId: string; psk: Buffer };
        const connection = await BankConnection.connect({
          host: '127.0.0.1',
          port: host.port,
          kioskId: kiosk.kioskId,
          psk: kiosk.psk,
        });
        const username = `bench${index}`;
        await connection.request({ op: 'register', username, password: 'bench-password-1' });
        const login = await connection.request({ op: 'login', username, password: 'bench-password-1' });
        if (!login.ok) throw new Error(`login failed: ${login.code}`);
        return connection;
      }),
    );
    return new BenchBank(root, host, connections, subscriber, mode === 'mosquitto' ? (broker?.pid() ?? null) : null);
  }

  /** Deposits on every session until each has made `perSession` and `more()` is false; latencies in ms. */
  async deposits(
    perSession: number,
    more: () => boolean = () => false,
    brokerPid: number | null = null,
  ): Promise<Load> {
    const latenciesMs: number[] = [];
    const brokerCpuBefore = processCpuUs(brokerPid);
    const cpuBefore = process.cpuUsage();
    // The main thread's task id is the process id.
    const mainThreadStat = `/proc/${process.pid}/task/${process.pid}/stat`;
    const mainBefore = processCpuUs(process.pid, mainThreadStat);
    const telemetryBefore = telemetryThreadsCpuUs();
    const started = performance.now();
    await Promise.all(
      this.connections.map(async (connection) => {
        for (let done = 0; done < perSession || more(); done++) {
          const sent = performance.now();
          const response = await connection.request({ op: 'deposit', txnId: crypto.randomUUID(), amountCents: 500 });
          latenciesMs.push(performance.now() - sent);
          if (!response.ok) throw new Error(`deposit declined: ${response.code}`);
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const mainAfter = processCpuUs(process.pid, mainThreadStat);
    const mainThreadCpuUs = mainBefore === null || mainAfter === null ? null : mainAfter - mainBefore;
    const telemetryAfter = telemetryThreadsCpuUs();
    let telemetryThreadCpuUs: number | null = null;
    for (const [taskId, us] of telemetryAfter)
      telemetryThreadCpuUs = (telemetryThreadCpuUs ?? 0) + us - (telemetryBefore.get(taskId) ?? 0);
    const brokerCpuAfter = processCpuUs(brokerPid);
    const brokerCpuUs = brokerCpuBefore === null || brokerCpuAfter === null ? null : brokerCpuAfter - brokerCpuBefore;
    return { latenciesMs, elapsedMs, cpuUs: cpu.user + cpu.system, brokerCpuUs, mainThreadCpuUs, telemetryThreadCpuUs };
  }

  depositEventsReceived(): number {
    return this.subscriber?.depositEvents() ?? 0;
  }

  /**
   * Waits until the bank's telemetry has published this slice's events (its stats report every
   * TELEMETRY_STATS_REPORT_MS), so none of its work spills into the next slice, which may be another bank's.
   */
  async settle(mode: Mode, requests: number): Promise<void> {
    this.depositsMade += requests;
    if (mode === 'off') return;
    const target = this.publishedMark + requests;
    await waitUntil(
      () => this.host.telemetry.stats().published >= target && this.host.telemetry.stats().queued === 0,
      "the slice's telemetry",
      10_000,
      POLL_MS,
    );
    this.publishedMark = this.host.telemetry.stats().published;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    await this.host.close();
    await this.subscriber?.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** One slice on one bank: perSession deposits on each session, then its telemetry settles. */
async function slice(mode: Mode, bank: BenchBank, perSession: number): Promise<LoadResult> {
  const load = await bank.deposits(perSession, undefined, mode === 'mosquitto' ? bank.brokerPid : null);
  await bank.settle(mode, load.latenciesMs.length);
  return summarize(load);
}

/** Deposit events the subscriber got of those the bank made; stops the subscriber (which flushes its file). */
async function deliveredEvents(bank: BenchBank): Promise<{ delivered: number; made: number } | null> {
  if (bank.subscriber === null) return null;
  await waitUntil(() => bank.depositEventsReceived() >= bank.depositsMade, 'the deposit events', 2_000, POLL_MS).catch(
    () => undefined,
  );
  await bank.subscriber.stop();
  return { delivered: bank.depositEventsReceived(), made: bank.depositsMade };
}

async function measureOutage(
  sessions: number,
  perSession: number,
  broker: Mosquitto,
): Promise<{ phases: Record<string, LoadResult>; dropped: number; queuedMax: number }> {
  const bank = await BenchBank.start('mosquitto', sessions, broker);
  try {
    const stats = () => bank.host.telemetry.stats();
    const up = await bank.deposits(perSession);
    await broker.stop();
    const down = await bank.deposits(perSession);
    const queuedMax = stats().queued;
    const droppedWhileDown = stats().dropped;
    const restarting = broker.restart();
    // "Back": from the restart until the bank has reconnected and worked off its backlog (its
    // reconnect backoff doubles from 0.5 s while the broker is gone), at least perSession each.
    // Under load some messages are always on their way to the telemetry thread (one hand-over
    // batch), so "worked off" is: connected, and no more queued than one batch holds.
    const deadline = performance.now() + WAIT_MS;
    const backlog = (): boolean =>
      !broker.running() || !stats().connected || stats().queued > TELEMETRY_BATCH_MESSAGES_MAX;
    const back = await bank.deposits(perSession, () => backlog() && performance.now() < deadline);
    await restarting;
    if (backlog()) throw new Error('the bank did not work off its telemetry backlog after the broker came back');
    await waitUntil(() => stats().queued === 0, 'the last hand-over batch', 5_000, POLL_MS);
    return {
      phases: {
        'broker up': summarize(up),
        'broker stopped': summarize(down),
        'broker back (until reconnected and flushed)': summarize(back),
      },
      dropped: droppedWhileDown,
      queuedMax,
    };
  } finally {
    await bank.close();
  }
}

const fixed = (value: number, digits = 2): string => value.toFixed(digits);
const signedPercent = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;

function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}

/**
 * (c) What one event costs the bank's transaction thread: a deposit event's payload published
 * `count` times, 16 per event-loop turn (16 sessions' worth), through the sink `atm bank` uses
 * now (a PortTelemetry handing over to the telemetry thread) and through the MQTT client on the
 * same thread (as before the hand-over), both to the running mosquitto; this thread's CPU
 * time from /proc, per event.
 */
async function measureHandover(broker: Mosquitto, count: number): Promise<Record<string, number | null>> {
  const payload = {
    kioskId: 'bench-0',
    user: 'be***',
    txnId: crypto.randomUUID(),
    amountCents: 500,
    outcome: 'ok',
    latencyMs: 6.2,
  };
  const mainThreadStat = `/proc/${process.pid}/task/${process.pid}/stat`;
  const perEvent = async (sink: TelemetrySink): Promise<number | null> => {
    await waitUntil(() => sink.stats().connected, 'the sink to connect', WAIT_MS, POLL_MS);
    const before = processCpuUs(process.pid, mainThreadStat);
    for (let sent = 0; sent < count;) {
      for (let index = 0; index < 16; index += 1, sent += 1) sink.publish('atm/v1/events/deposit', payload);
      await new Promise((resolve) => setImmediate(resolve));
    }
    const after = processCpuUs(process.pid, mainThreadStat);
    await sink.close();
    return before === null || after === null ? null : (after - before) / count;
  };
  const options = { url: broker.url, ...broker.bank, hostId: 'bench-handover' };
  return {
    'hand-over to the telemetry thread (atm bank now)': await perEvent(startTelemetryThread(options)),
    'MQTT client on the transaction thread (before)': await perEvent(new MqttTelemetry(options)),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      sessions: { type: 'string', default: '16' },
      requests: { type: 'string', default: '40' },
      rounds: { type: 'string', default: '25' },
      'no-subscriber': { type: 'boolean', default: false },
    },
  });
  const withSubscriber = !values['no-subscriber'];
  const sessions = Number(values.sessions);
  const perSession = Number(values.requests);
  const rounds = Number(values.rounds);
  for (const [name, value] of Object.entries({ sessions, requests: perSession, rounds })) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 10_000)
      throw new Error(`--${name} must be an integer from 1 to 10000`);
  }
  const missing = mosquittoMissingReason();
  const broker = missing === null ? await startMosquitto() : null;
  try {
    const modes: Mode[] = broker === null ? ['off', 'embedded'] : ['off', 'embedded', 'mosquitto'];
    const results: Record<Mode, LoadResult[]> = { off: [], embedded: [], mosquitto: [] };
    const delivered = new Map<Mode, { delivered: number; made: number } | null>();
    const banks = new Map<Mode, BenchBank>();
    try {
      for (const mode of modes) banks.set(mode, await BenchBank.start(mode, sessions, broker, withSubscriber));
      const bankOf = (mode: Mode): BenchBank => banks.get(mode) as BenchBank;
      // Untimed warm-up slices (JIT of this thread and of each telemetry thread, page cache),
      // then rounds of one slice per bank, the order rotating.
      for (let warm = 0; warm < 3; warm++) for (const mode of modes) await slice(mode, bankOf(mode), perSession);
      for (let round = 0; round < rounds; round++) {
        for (let index = 0; index < modes.length; index++) {
          const mode = modes[(index + round) % modes.length] as Mode;
          results[mode].push(await slice(mode, bankOf(mode), perSession));
        }
      }
      for (const mode of modes) delivered.set(mode, await deliveredEvents(bankOf(mode)));
    } finally {
      for (const bank of banks.values()) await bank.close();
    }
    // Overheads are paired: each round's slice against the same round's "off" slice, then the
    // median and range over rounds; and over all slices, total requests over total time.
    const paired = (mode: Mode, measure: (r: LoadResult) => number, higherIsWorse: boolean): string => {
      const ratios = results[mode].map((r, round) => {
        const base = measure(results.off[round] as LoadResult);
        return ((higherIsWorse ? measure(r) - base : base - measure(r)) / base) * 100;
      });
      return `${signedPercent(median(ratios))} (${signedPercent(Math.min(...ratios))} … ${signedPercent(Math.max(...ratios))})`;
    };
    const overallRps = (mode: Mode, rounds?: number[]): number => {
      const list = rounds === undefined ? results[mode] : rounds.map((round) => results[mode][round] as LoadResult);
      return list.reduce((sum, r) => sum + r.requests, 0) / (list.reduce((sum, r) => sum + r.elapsedMs, 0) / 1000);
    };
    const overallOverhead = (mode: Mode, rounds?: number[]): number =>
      ((overallRps('off', rounds) - overallRps(mode, rounds)) / overallRps('off', rounds)) * 100;
    const interval = (mode: Mode): string => {
      const [low, high] = bootstrapInterval(results.off.length, (resampled) => overallOverhead(mode, resampled));
      return `${signedPercent(overallOverhead(mode))} (${signedPercent(low)} … ${signedPercent(high)})`;
    };
    const plus = withSubscriber ? ' + subscriber' : ', no subscriber';
    const label: Record<Mode, string> = {
      off: 'telemetry off',
      embedded: `embedded aedes${plus}`,
      mosquitto: `external mosquitto${plus}`,
    };
    /** Per request over all slices: total CPU over total requests (a slice is ~35 ticks of /proc's 10 ms). */
    const perRequest = (mode: Mode, measure: (r: LoadResult) => number | null): number | null => {
      const list = results[mode];
      if (list.some((r) => measure(r) === null)) return null;
      return (
        list.reduce((sum, r) => sum + (measure(r) ?? 0) * r.requests, 0) / list.reduce((sum, r) => sum + r.requests, 0)
      );
    };
    const versusOff = (mode: Mode, measure: (r: LoadResult) => number | null): string => {
      const value = perRequest(mode, measure);
      const base = perRequest('off', measure);
      return value === null || base === null ? '—' : signedPercent(((value - base) / base) * 100);
    };
    const micros = (value: number | null): string => (value === null ? '—' : fixed(value, 0));
    const rows = modes.map((mode) => {
      const list = results[mode];
      const got = delivered.get(mode) ?? null;
      return [
        label[mode],
        fixed(overallRps(mode), 0),
        fixed(median(list.map((r) => r.p50Ms))),
        fixed(median(list.map((r) => r.p99Ms))),
        mode === 'off' ? '—' : interval(mode),
        mode === 'off' ? '—' : paired(mode, (r) => r.requestsPerSecond, false),
        mode === 'off' ? '—' : paired(mode, (r) => r.p50Ms, true),
        micros(perRequest(mode, (r) => r.cpuUsPerRequest)),
        mode === 'off' ? '—' : versusOff(mode, (r) => r.cpuUsPerRequest),
        micros(perRequest(mode, (r) => r.mainThreadCpuUsPerRequest)),
        mode === 'off' ? '—' : versusOff(mode, (r) => r.mainThreadCpuUsPerRequest),
        mode === 'off' ? '—' : micros(perRequest(mode, (r) => r.telemetryThreadCpuUsPerRequest)),
        micros(perRequest(mode, (r) => r.brokerCpuUsPerRequest)),
        got === null ? '—' : `${got.delivered}/${got.made}`,
      ];
    });
    process.stdout.write(
      `machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}\n`,
    );
    process.stdout.write(
      `(a) telemetry overhead: ${rounds} rounds of one slice per configuration (${sessions} sessions × ${perSession} deposits), bcrypt cost ${BCRYPT_COST} (target: within 5 %)\n`,
    );
    process.stdout.write(
      `req/s: all slices' requests over their time, its overhead with a 95 % bootstrap interval over rounds; paired: median over rounds of each slice against that round's "off" slice (range in brackets); p50/p99: medians over slices; CPU: all slices' CPU over their requests\n\n`,
    );
    process.stdout.write(
      `${table(['configuration', 'req/s', 'p50 ms', 'p99 ms', 'req/s overhead', 'req/s overhead, paired', 'p50 overhead, paired', 'bank CPU µs/req', 'bank CPU overhead', 'main thread µs/req', 'main thread overhead', 'telemetry threads µs/req', 'broker CPU µs/req', 'events delivered'], rows)}\n\n`,
    );
    if (broker === null) {
      process.stdout.write(
        `no external broker and no outage measurement (${missing}); the subscriber ran in this process\n`,
      );
      return;
    }

    // Each phase long enough to fill the client's queue while the broker is gone.
    const outageSessions = Math.max(1, Math.floor(sessions / 2));
    const outagePerSession = Math.max(perSession, OUTAGE_DEPOSITS_PER_SESSION_MIN);
    const outage = await measureOutage(outageSessions, outagePerSession, broker);
    process.stdout.write(
      `(b) broker outage: external mosquitto, ${outageSessions} sessions × ${outagePerSession} deposits per phase (at least)\n\n`,
    );
    const outageRows = Object.entries(outage.phases).map(([phase, r]) => [
      phase,
      String(r.requests),
      fixed(r.requestsPerSecond, 0),
      fixed(r.p50Ms),
      fixed(r.p99Ms),
      fixed(r.maxMs),
    ]);
    process.stdout.write(`${table(['phase', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms'], outageRows)}\n`);
    process.stdout.write(
      `telemetry while stopped: queue ${outage.queuedMax} (bound 1000 at the client + 1000 in the hand-over), ${outage.dropped} dropped and counted\n\n`,
    );

    const handoverEvents = 50_000;
    const handover = await measureHandover(broker, handoverEvents);
    process.stdout.write(
      `(c) the bank's transaction thread: CPU per telemetry event (${handoverEvents} deposit events, 16 per event-loop turn, to mosquitto)\n\n`,
    );
    process.stdout.write(
      `${table(
        ['sink', 'µs per event'],
        Object.entries(handover).map(([sink, us]) => [sink, us === null ? 'n/a' : fixed(us, 1)]),
      )}\n`,
    );
  } finally {
    await broker?.cleanup();
    await new Promise((resolve) => setTimeout(resolve, LATE_WRITE_MS));
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(
    `telemetry bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
