// Telemetry benchmark (part of `npm run bench`: `node dist/bench/telemetry.js`). Same run, same
// machine, one bank host in this process per measurement, fresh temp dir each time:
//   (a) overhead: N sessions × M deposits with telemetry off, with the embedded aedes broker,
//       and with an external mosquitto (when installed), each with a subscriber to atm/v1/#
//       (the real mosquitto_sub writing to a file, so receiving costs the bank nothing;
//       without mosquitto installed: off vs embedded only, with an in-process mqtt.js subscriber);
//       rounds interleave the three and the median is reported, so 2-core noise averages out;
//   (b) outage: a deposit stream through the external mosquitto while it is up, while it is
//       stopped, and after it is back (until the bank has reconnected and flushed its queue).
// Besides req/s and latency it reports CPU time per request (this process, and mosquitto's),
// which is far steadier than throughput on a shared 2-core machine.
// Options: --sessions 16 --requests 200 (deposits per session per run) --rounds 9, and
// --no-subscriber (telemetry published, nobody subscribed: what the bank and broker cost alone).
// Bounded: fixed request counts, every wait has a deadline; everything on 127.0.0.1 free ports.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import bcrypt from 'bcrypt';
import { addKiosk, addOperator, initKeystore, silentObserver, startBankHost, type BankHost, type BankHostOptions } from '../bank/index.js';
import { connectMqttAsync } from '../bank/mqtt-client.js';
import { TELEMETRY_BATCH_MESSAGES_MAX } from '../bank/telemetry-port.js';
import { startTelemetryThread } from '../bank/telemetry-thread.js';
import { MqttTelemetry, type TelemetrySink } from '../bank/telemetry.js';
import { BankConnection } from '../protocol/index.js';
import { mosquittoMissingReason, spawnMosquittoSub, startMosquitto, type Mosquitto, type MqttUser } from '../test/helpers/mosquitto.js';

type Mode = 'off' | 'embedded' | 'mosquitto';
const BCRYPT_COST = 4;
const OPERATOR: MqttUser = { username: 'bench-ops', password: 'bench-operator-password' };
const WAIT_MS = 40_000;
/**
 * The embedded broker's retained file can still be written up to its flush interval (1 s) after
 * host.close() has resolved (a retained message that reached it after the final flush), which
 * re-creates a removed temp dir: every root is removed again once, this long after the last run.
 */
const LATE_WRITE_MS = 1_500;
const roots: string[] = [];

interface LoadResult {
  requests: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Deposit events the subscriber received, or null when there was none (telemetry off). */
  delivered: number | null;
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
  return { cpuUs: ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND, nice: Number(fields[16]) };
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
 * threads (bank/thread-priority.ts), by task id; empty where /proc cannot be read.
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

function summarize(load: Load, delivered: number | null): LoadResult {
  const sorted = [...load.latenciesMs].sort((a, b) => a - b);
  const requests = sorted.length;
  return {
    requests,
    requestsPerSecond: requests / (load.elapsedMs / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    delivered,
    cpuUsPerRequest: load.cpuUs / requests,
    brokerCpuUsPerRequest: load.brokerCpuUs === null ? null : load.brokerCpuUs / requests,
    mainThreadCpuUsPerRequest: load.mainThreadCpuUs === null ? null : load.mainThreadCpuUs / requests,
    telemetryThreadCpuUsPerRequest: load.telemetryThreadCpuUs === null ? null : load.telemetryThreadCpuUs / requests,
  };
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
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
  return { depositEvents: () => sub.messages().filter((m) => m.topic === 'atm/v1/events/deposit').length, stop: () => sub.stop() };
}

/** Fallback without mosquitto_sub: in this process, so its cost counts against the bank. */
async function inProcessSubscriber(port: number, user: MqttUser): Promise<Subscriber> {
  const client = await connectMqttAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, ...user, reconnectPeriod: 0 });
  let deposits = 0;
  let online = false;
  client.on('message', (topic, payload) => {
    if (topic === 'atm/v1/events/deposit') deposits += 1;
    else if (topic.startsWith('atm/v1/bank/') && payload.toString('utf8').includes('"online"')) online = true;
  });
  await client.subscribeAsync('atm/v1/#', { qos: 0 });
  await waitUntil(() => online, 'the bank status');
  return { depositEvents: () => deposits, stop: () => client.endAsync(true) };
}

/** A bank in a fresh temp dir, `sessions` logged-in connections, and a subscriber to atm/v1/#. */
class BenchBank {
  private constructor(
    readonly root: string,
    readonly host: BankHost,
    readonly connections: BankConnection[],
    readonly subscriber: Subscriber | null,
  ) {}

  static async start(mode: Mode, sessions: number, broker: Mosquitto | null, withSubscriber = true): Promise<BenchBank> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-telemetry-bench-'));
    roots.push(root);
    const dataDir = path.join(root, 'data');
    initKeystore(dataDir);
    addOperator(dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, BCRYPT_COST));
    const kiosks = Array.from({ length: Math.ceil(sessions / 4) }, (_, index) => {
      const kioskId = `bench-${index}`;
      return { kioskId, psk: Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex') };
    });
    let mqtt: BankHostOptions['mqtt'] = { mode: 'off' };
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
      mqtt,
    });
    let subscriber: Subscriber | null = null;
    if (mode !== 'off' && withSubscriber) {
      const port = mode === 'embedded' ? host.mqttPort : broker?.port;
      const user = mode === 'embedded' ? OPERATOR : broker?.operator;
      if (port == null || user === undefined) throw new Error(`no broker for ${mode}`);
      subscriber = broker === null ? await inProcessSubscriber(port, user) : await mosquittoSubscriber(port, user, path.join(subscriberDir(root), 'received.txt'));
    }
    const connections = await Promise.all(
      Array.from({ length: sessions }, async (_, index) => {
        const kiosk = kiosks[index % kiosks.length] as { kioskId: string; psk: Buffer };
        const connection = await BankConnection.connect({ host: '127.0.0.1', port: host.port, kioskId: kiosk.kioskId, psk: kiosk.psk });
        const username = `bench${index}`;
        await connection.request({ op: 'register', username, password: 'bench-password-1' });
        const login = await connection.request({ op: 'login', username, password: 'bench-password-1' });
        if (!login.ok) throw new Error(`login failed: ${login.code}`);
        return connection;
      }),
    );
    return new BenchBank(root, host, connections, subscriber);
  }

  /** Deposits on every session until each has made `perSession` and `more()` is false; latencies in ms. */
  async deposits(perSession: number, more: () => boolean = () => false, brokerPid: number | null = null): Promise<Load> {
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
    for (const [taskId, us] of telemetryAfter) telemetryThreadCpuUs = (telemetryThreadCpuUs ?? 0) + us - (telemetryBefore.get(taskId) ?? 0);
    const brokerCpuAfter = processCpuUs(brokerPid);
    const brokerCpuUs = brokerCpuBefore === null || brokerCpuAfter === null ? null : brokerCpuAfter - brokerCpuBefore;
    return { latenciesMs, elapsedMs, cpuUs: cpu.user + cpu.system, brokerCpuUs, mainThreadCpuUs, telemetryThreadCpuUs };
  }

  depositEventsReceived(): number {
    return this.subscriber?.depositEvents() ?? 0;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    await this.host.close();
    await this.subscriber?.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

async function measureOverhead(mode: Mode, sessions: number, perSession: number, broker: Mosquitto | null, withSubscriber: boolean): Promise<LoadResult> {
  const bank = await BenchBank.start(mode, sessions, broker, withSubscriber);
  try {
    const load = await bank.deposits(perSession, undefined, mode === 'mosquitto' ? (broker?.pid() ?? null) : null);
    let delivered: number | null = null;
    if (bank.subscriber !== null) {
      // QoS 0 end to end: give the tail a moment to arrive, then count what did.
      await waitUntil(() => bank.depositEventsReceived() >= load.latenciesMs.length, 'the deposit events', 5_000).catch(() => undefined);
      delivered = bank.depositEventsReceived();
    }
    return summarize(load, delivered);
  } finally {
    await bank.close();
  }
}

async function measureOutage(sessions: number, perSession: number, broker: Mosquitto): Promise<{ phases: Record<string, LoadResult>; dropped: number; queuedMax: number }> {
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
    const backlog = (): boolean => !broker.running() || !stats().connected || stats().queued > TELEMETRY_BATCH_MESSAGES_MAX;
    const back = await bank.deposits(perSession, () => backlog() && performance.now() < deadline);
    await restarting;
    if (backlog()) throw new Error('the bank did not work off its telemetry backlog after the broker came back');
    await waitUntil(() => stats().queued === 0, 'the last hand-over batch', 5_000);
    return {
      phases: {
        'broker up': summarize(up, null),
        'broker stopped': summarize(down, null),
        'broker back (until reconnected and flushed)': summarize(back, null),
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
  const line = (cells: string[]): string => `| ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join(' | ')} |`;
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
  const payload = { kioskId: 'bench-0', user: 'be***', txnId: crypto.randomUUID(), amountCents: 500, outcome: 'ok', latencyMs: 6.2 };
  const mainThreadStat = `/proc/${process.pid}/task/${process.pid}/stat`;
  const perEvent = async (sink: TelemetrySink): Promise<number | null> => {
    await waitUntil(() => sink.stats().connected, 'the sink to connect');
    const before = processCpuUs(process.pid, mainThreadStat);
    for (let sent = 0; sent < count; ) {
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
  const { values } = parseArgs({ options: { sessions: { type: 'string', default: '16' }, requests: { type: 'string', default: '200' }, rounds: { type: 'string', default: '9' }, 'no-subscriber': { type: 'boolean', default: false } } });
  const withSubscriber = values['no-subscriber'] !== true;
  const sessions = Number(values.sessions);
  const perSession = Number(values.requests);
  const rounds = Number(values.rounds);
  for (const [name, value] of Object.entries({ sessions, requests: perSession, rounds })) {
    if (!Number.isSafeInteger(value) || value < 1 || value > 10_000) throw new Error(`--${name} must be an integer from 1 to 10000`);
  }
  const missing = mosquittoMissingReason();
  const broker = missing === null ? await startMosquitto() : null;
  try {
    const modes: Mode[] = broker === null ? ['off', 'embedded'] : ['off', 'embedded', 'mosquitto'];
    const results: Record<Mode, LoadResult[]> = { off: [], embedded: [], mosquitto: [] };
    // One untimed warm-up run (JIT, page cache), then rounds that rotate the order.
    await measureOverhead('embedded', sessions, Math.ceil(perSession / 4), broker, withSubscriber);
    for (let round = 0; round < rounds; round++) {
      for (let index = 0; index < modes.length; index++) {
        const mode = modes[(index + round) % modes.length] as Mode;
        results[mode].push(await measureOverhead(mode, sessions, perSession, broker, withSubscriber));
      }
    }
    // Overheads are paired: each round's run against the same round's "off" run (slow spells of
    // the shared machine hit neighbouring runs alike), then the median and range over rounds.
    const paired = (mode: Mode, measure: (r: LoadResult) => number, higherIsWorse: boolean): string => {
      const ratios = results[mode].map((r, round) => {
        const base = measure(results.off[round] as LoadResult);
        return ((higherIsWorse ? measure(r) - base : base - measure(r)) / base) * 100;
      });
      return `${signedPercent(median(ratios))} (${signedPercent(Math.min(...ratios))} … ${signedPercent(Math.max(...ratios))})`;
    };
    const plus = withSubscriber ? ' + subscriber' : ', no subscriber';
    const label: Record<Mode, string> = { off: 'telemetry off', embedded: `embedded aedes${plus}`, mosquitto: `external mosquitto${plus}` };
    const rows = modes.map((mode) => {
      const list = results[mode];
      const rps = median(list.map((r) => r.requestsPerSecond));
      const p50 = median(list.map((r) => r.p50Ms));
      const requests = list.reduce((sum, r) => sum + r.requests, 0);
      const delivered = list.reduce((sum, r) => sum + (r.delivered ?? 0), 0);
      const brokerCpu = list.every((r) => r.brokerCpuUsPerRequest !== null) ? median(list.map((r) => r.brokerCpuUsPerRequest ?? 0)) : null;
      return [
        label[mode],
        fixed(rps, 0),
        fixed(p50),
        fixed(median(list.map((r) => r.p99Ms))),
        fixed(median(list.map((r) => r.cpuUsPerRequest)), 0),
        mode === 'off' ? '—' : paired(mode, (r) => r.requestsPerSecond, false),
        mode === 'off' ? '—' : paired(mode, (r) => r.p50Ms, true),
        mode === 'off' ? '—' : paired(mode, (r) => r.cpuUsPerRequest, true),
        fixed(median(list.map((r) => r.mainThreadCpuUsPerRequest ?? Number.NaN)), 0),
        mode === 'off' ? '—' : paired(mode, (r) => r.mainThreadCpuUsPerRequest ?? Number.NaN, true),
        list.every((r) => r.telemetryThreadCpuUsPerRequest !== null) ? fixed(median(list.map((r) => r.telemetryThreadCpuUsPerRequest ?? 0)), 0) : '—',
        brokerCpu === null ? '—' : fixed(brokerCpu, 0),
        mode === 'off' || !withSubscriber ? '—' : `${delivered}/${requests}`,
        list.map((r) => fixed(r.requestsPerSecond, 0)).join(', '),
      ];
    });
    process.stdout.write(`machine: ${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}\n`);
    process.stdout.write(`(a) telemetry overhead: ${sessions} sessions × ${perSession} deposits, bcrypt cost ${BCRYPT_COST}, median of ${rounds} interleaved rounds (target: within 5 %)\n`);
    process.stdout.write(`overheads: median over rounds of each round's run against that round's "off" run (range in brackets)\n\n`);
    process.stdout.write(`${table(['configuration', 'req/s', 'p50 ms', 'p99 ms', 'bank CPU µs/req', 'req/s overhead', 'p50 overhead', 'bank CPU overhead', 'main thread µs/req', 'main thread overhead', 'telemetry thread µs/req', 'broker CPU µs/req', 'events delivered', 'req/s per round'], rows)}\n\n`);
    if (broker === null) {
      process.stdout.write(`no external broker and no outage measurement (${missing}); the subscriber ran in this process\n`);
      return;
    }

    const outageSessions = Math.max(1, Math.floor(sessions / 2));
    const outage = await measureOutage(outageSessions, perSession, broker);
    process.stdout.write(`(b) broker outage: external mosquitto, ${outageSessions} sessions × ${perSession} deposits per phase (at least)\n\n`);
    const outageRows = Object.entries(outage.phases).map(([phase, r]) => [phase, String(r.requests), fixed(r.requestsPerSecond, 0), fixed(r.p50Ms), fixed(r.p99Ms), fixed(r.maxMs)]);
    process.stdout.write(`${table(['phase', 'requests', 'req/s', 'p50 ms', 'p99 ms', 'max ms'], outageRows)}\n`);
    process.stdout.write(`telemetry while stopped: queue ${outage.queuedMax} (bound 1000 at the client + 1000 in the hand-over), ${outage.dropped} dropped and counted\n\n`);

    const handoverEvents = 50_000;
    const handover = await measureHandover(broker, handoverEvents);
    process.stdout.write(`(c) the bank's transaction thread: CPU per telemetry event (${handoverEvents} deposit events, 16 per event-loop turn, to mosquitto)\n\n`);
    process.stdout.write(`${table(['sink', 'µs per event'], Object.entries(handover).map(([sink, us]) => [sink, us === null ? 'n/a' : fixed(us, 1)]))}\n`);
  } finally {
    await broker?.cleanup();
    await new Promise((resolve) => setTimeout(resolve, LATE_WRITE_MS));
    for (const root of roots) fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`telemetry bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exitCode = 1;
});
