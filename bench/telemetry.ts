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
import { parseArgs } from 'node:util';
import { TELEMETRY_BATCH_MESSAGES_MAX } from '../telemetry/telemetry-port.js';
import { startTelemetryThread } from '../telemetry/telemetry-thread.js';
import { MqttTelemetry, type TelemetrySink } from '../telemetry/telemetry.js';
import { waitUntil } from '../test/helpers/wait.js';
import { mosquittoMissingReason, startMosquitto, type Mosquitto } from '../test/helpers/mosquitto.js';
import { BenchBank, deliveredEvents, slice } from './telemetry-bank.js';
import { BCRYPT_COST, POLL_MS, WAIT_MS, roots, type Mode } from './telemetry-config.js';
import { processCpuUs } from './telemetry-proc.js';
import { bootstrapInterval, median, summarize, type LoadResult } from './telemetry-stats.js';
import { fixed, signedPercent, table } from './telemetry-table.js';

const OUTAGE_DEPOSITS_PER_SESSION_MIN = 200;
/**
 * The embedded broker's retained file can still be written up to its flush interval (1 s) after
 * host.close() has resolved (a retained message that reached it after the final flush), which
 * re-creates a removed temp dir: every root is removed again once, this long after the last run.
 */
const LATE_WRITE_MS = 1_500;

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
