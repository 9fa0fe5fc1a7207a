// atm bench — load generator and benchmark report (what `npm run bench` runs). It starts a
// bank host in a temp dir on 127.0.0.1 (or targets --bank HOST:PORT with --key), opens
// --sessions secure sessions and drives deposits, holds+posts and balances through them,
// then reports throughput, latency percentiles, handshake cost and memory. Bounded: every
// loop stops at --requests or --seconds, whichever comes first.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore, silentObserver, startBankHost, type BankHost } from '../../bank/index.js';
import { BankConnection } from '../../protocol/index.js';
import { ExitCode, integerOption, parse, printJson } from '../cli.js';

const USAGE = `usage: atm bench [--sessions 16] [--requests 4000] [--seconds 20] [--handshakes 200] [--bcrypt-cost 12] [--json]
Starts a bank on a temp data dir (LevelDB, synced commits) and measures it over loopback.
Prints a table (the measures of BENCHMARKS.md); --json prints the report as one JSON object.`;

interface Percentiles {
  p50: number;
  p99: number;
}

export interface BenchReport {
  machine: string;
  sessions: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: Percentiles & { max: number; byOp: Record<string, Percentiles> };
  handshakeMsEach: number;
  bcryptCost: number;
  loginsMsTotal: number;
  groupCommit: { batches: number; syncedWrites: number; batchesPerWrite: number };
  rssMiB: { before: number; after: number };
}

function counted(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

/** The report for a person: one measure a line, in BENCHMARKS.md's terms and order. */
export function formatReport(report: BenchReport): string {
  const rows: [string, string][] = [
    [
      'requests per second',
      `${report.requestsPerSecond} (${report.requests} requests in ${report.seconds} s, ${counted(report.sessions, 'session')})`,
    ],
    ['latency p50 / p99 / max', `${report.latencyMs.p50} ms / ${report.latencyMs.p99} ms / ${report.latencyMs.max} ms`],
    ...Object.entries(report.latencyMs.byOp).map(([op, latency]): [string, string] => [
      `${op} p50 / p99`,
      `${latency.p50} ms / ${latency.p99} ms`,
    ]),
    [
      'group commit',
      `${report.groupCommit.batchesPerWrite} requests per synced write (${report.groupCommit.batches} batches in ${report.groupCommit.syncedWrites} writes)`,
    ],
    ['handshake, sequential', `${report.handshakeMsEach} ms each`],
    [
      `${counted(report.sessions, 'login')} at bcrypt cost ${report.bcryptCost}`,
      report.loginsMsTotal < 1_000
        ? `${report.loginsMsTotal} ms total`
        : `${(report.loginsMsTotal / 1000).toFixed(1)} s total`,
    ],
    ['RSS before / after the load', `${report.rssMiB.before} MiB / ${report.rssMiB.after} MiB`],
  ];
  const width = Math.max(...rows.map(([name]) => name.length));
  return `atm bench on ${report.machine}\n${rows.map(([name, value]) => `  ${name.padEnd(width)}  ${value}`).join('\n')}\n`;
}

function percentile(sortedMs: number[], fraction: number): number {
  if (sortedMs.length === 0) return 0;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(fraction * sortedMs.length))] as number;
}

interface BenchBank {
  host: BankHost;
  kiosks: { kioskId: string; psk: Buffer }[];
}

/** A bank on ROOT/data with a kiosk per four sessions (plus one for the handshake loop). */
async function startBenchBank(root: string, sessions: number, bcryptCost: number): Promise<BenchBank> {
  const dataDir = path.join(root, 'data');
  initKeystore(dataDir);
  const kiosks = Array.from({ length: Math.ceil(sessions / 4) + 1 }, (_, index) => {
    const kioskId = `bench-${index}`;
    const file = addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`));
    return { kioskId, psk: Buffer.from(file.psk, 'hex') };
  });
  const host = await startBankHost({
    dataDir,
    port: 0,
    bcryptCost,
    observer: silentObserver,
    serverLimits: { handshakesPerSecondPerKiosk: 100_000, handshakeBurstPerKiosk: 100_000 },
  });
  return { host, kiosks };
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      sessions: { type: 'string' },
      requests: { type: 'string' },
      seconds: { type: 'string' },
      handshakes: { type: 'string' },
      'bcrypt-cost': { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  const sessions = integerOption(values, 'sessions', 16, 1, 64);
  const requestsMax = integerOption(values, 'requests', 4000, 1, 1_000_000);
  const secondsMax = integerOption(values, 'seconds', 20, 1, 600);
  const handshakes = integerOption(values, 'handshakes', 200, 1, 100_000);
  const bcryptCost = integerOption(values, 'bcrypt-cost', 12, 4, 15);
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-bench-'));
  let bank: BenchBank;
  try {
    bank = await startBenchBank(root, sessions, bcryptCost);
  } catch (error) {
    // A bench that could not start leaves no temp folder behind.
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const { host, kiosks } = bank;
  const connect = (index: number): Promise<BankConnection> => {
    const kiosk = kiosks[index % kiosks.length] as { kioskId: string; psk: Buffer };
    return BankConnection.connect({ host: '127.0.0.1', port: host.port, kioskId: kiosk.kioskId, psk: kiosk.psk });
  };
  try {
    // 1. Handshakes: sequential, so the figure is the cost of one (connect + 3 messages + close).
    const handshakeStart = performance.now();
    for (let index = 0; index < handshakes; index++) (await connect(kiosks.length - 1)).close();
    const handshakeMs = (performance.now() - handshakeStart) / handshakes;

    // 2. Logins at the configured bcrypt cost (one per session), then the mixed load.
    const loginStart = performance.now();
    const connections = await Promise.all(
      Array.from({ length: sessions }, async (_, index) => {
        const connection = await connect(index);
        const username = `bench${index}`;
        await connection.request({ op: 'register', username, password: 'bench-password-1' });
        const login = await connection.request({ op: 'login', username, password: 'bench-password-1' });
        if (!login.ok) throw new Error(`login failed: ${login.code}`);
        return connection;
      }),
    );
    const loginMs = performance.now() - loginStart;
    const latencies: Record<string, number[]> = { deposit: [], 'withdraw.hold': [], 'withdraw.post': [], balance: [] };
    let issued = 0;
    const deadline = performance.now() + secondsMax * 1000;
    const rssBefore = process.memoryUsage().rss;
    const loadStart = performance.now();
    const timed = async <T>(op: string, call: () => Promise<T>): Promise<T> => {
      const started = performance.now();
      const result = await call();
      latencies[op]?.push(performance.now() - started);
      return result;
    };
    await Promise.all(
      connections.map(async (connection) => {
        while (issued < requestsMax && performance.now() < deadline) {
          issued += 4;
          await timed('deposit', () =>
            connection.request({ op: 'deposit', txnId: crypto.randomUUID(), amountCents: 500 }),
          );
          const txnId = crypto.randomUUID();
          await timed('withdraw.hold', () => connection.request({ op: 'withdraw.hold', txnId, amountCents: 200 }));
          await timed('withdraw.post', () => connection.request({ op: 'withdraw.post', txnId, dispensedCents: 200 }));
          await timed('balance', () => connection.request({ op: 'balance' }));
        }
      }),
    );
    const loadMs = performance.now() - loadStart;
    for (const connection of connections) connection.close();
    const all = Object.values(latencies)
      .flat()
      .sort((a, b) => a - b);
    const report: BenchReport = {
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      sessions,
      requests: all.length,
      seconds: Number((loadMs / 1000).toFixed(2)),
      requestsPerSecond: Math.round(all.length / (loadMs / 1000)),
      latencyMs: {
        p50: Number(percentile(all, 0.5).toFixed(2)),
        p99: Number(percentile(all, 0.99).toFixed(2)),
        max: Number((all.at(-1) ?? 0).toFixed(2)),
        byOp: Object.fromEntries(
          Object.entries(latencies).map(([op, list]) => {
            const sorted = [...list].sort((a, b) => a - b);
            return [
              op,
              { p50: Number(percentile(sorted, 0.5).toFixed(2)), p99: Number(percentile(sorted, 0.99).toFixed(2)) },
            ];
          }),
        ),
      },
      handshakeMsEach: Number(handshakeMs.toFixed(2)),
      bcryptCost,
      loginsMsTotal: Math.round(loginMs),
      groupCommit: {
        batches: host.committer.batchesCommitted,
        syncedWrites: host.committer.commitsWritten,
        batchesPerWrite: Number(
          (host.committer.batchesCommitted / Math.max(1, host.committer.commitsWritten)).toFixed(2),
        ),
      },
      rssMiB: { before: Math.round(rssBefore / 2 ** 20), after: Math.round(process.memoryUsage().rss / 2 ** 20) },
    };
    if (values.json === true) printJson(report);
    else process.stdout.write(formatReport(report));
    return ExitCode.OK;
  } finally {
    await host.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
