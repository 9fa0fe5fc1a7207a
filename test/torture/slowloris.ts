// Hostile load while honest kiosks work (issue 15, item 3): thousands of slowloris connections
// (each sends one byte a second and never finishes a handshake; when the bank closes one it comes
// back a second later) plus a flood of garbage handshakes, against a real `atm bank` process,
// while honest sessions keep transacting. Measured: the honest requests' latency (p50/p99/max),
// the bank's peak RSS (from /proc), how many attacker connections the bank closed. The attackers
// run in a worker thread, so their sockets do not share the honest kiosks' event loop.
import fs from 'node:fs';
import { Worker } from 'node:worker_threads';
import { M1_BYTES } from '../../protocol/handshake.js';
import { startTortureBank } from './bank-fixture.js';
import { Workload } from './workload.js';

export interface SlowlorisOptions {
  slowConnections: number;
  /** Connections that each send a garbage handshake (M1) in a loop, as fast as the bank closes them. */
  floodConnections: number;
  honestSessions: number;
  /** Each honest session pauses this long (±50 %) between requests. */
  thinkMs: number;
  seconds: number;
  seed: number;
}

export interface SlowlorisResult {
  bankLogLines: number;
  slowConnections: number;
  floodConnections: number;
  honestSessions: number;
  thinkMs: number;
  seconds: number;
  honestRequests: number;
  honestFailures: number;
  /** The first few: a session that could not start, or a request with no answer. */
  honestFailureReasons: string[];
  latencyMs: { p50: number; p99: number; max: number };
  bankRssMiB: { before: number; peak: number };
  attacker: { connectsTotal: number; closedByBank: number; openAtEnd: number; connectErrors: number };
}

const PASSWORD = 'slowloris password';
const RSS_SAMPLE_MS = 200;

// The attacker, as a worker: plain JavaScript (a worker needs a file or source; a file under
// dist/test would be run as a test by `node --test`).
const ATTACKER_SOURCE = `
const net = require('node:net');
const { parentPort, workerData } = require('node:worker_threads');
const { port, slow, flood, m1Bytes } = workerData;
const stats = { connectsTotal: 0, closedByBank: 0, openAtEnd: 0, connectErrors: 0 };
let stopping = false;
const open = new Set();
function slowPeer(delayMs) {
  setTimeout(() => {
    if (stopping) return;
    stats.connectsTotal++;
    const socket = net.connect({ host: '127.0.0.1', port });
    open.add(socket);
    let timer = null;
    socket.on('connect', () => { timer = setInterval(() => socket.write(Buffer.from([0])), 1000); });
    socket.on('error', () => { if (!socket.connecting) return; stats.connectErrors++; });
    socket.on('close', () => {
      open.delete(socket);
      if (timer !== null) clearInterval(timer);
      if (stopping) return;
      stats.closedByBank++;
      slowPeer(1000);
    });
  }, delayMs);
}
function floodPeer() {
  if (stopping) return;
  stats.connectsTotal++;
  const socket = net.connect({ host: '127.0.0.1', port });
  open.add(socket);
  socket.on('connect', () => {
    const frame = Buffer.alloc(4 + m1Bytes);
    frame.writeUInt32BE(m1Bytes, 0);
    for (let i = 4; i < frame.length; i++) frame[i] = (Math.random() * 256) | 0;
    frame[4] = 1; // the version byte, so the bank reads on to the MAC
    socket.write(frame);
  });
  socket.on('error', () => { stats.connectErrors++; });
  socket.on('close', () => {
    open.delete(socket);
    if (stopping) return;
    stats.closedByBank++;
    setTimeout(floodPeer, 10);
  });
}
// Connect in waves, a few hundred per 100 ms, under the listen backlog.
for (let i = 0; i < slow; i++) slowPeer(Math.floor(i / 250) * 100);
for (let i = 0; i < flood; i++) floodPeer();
parentPort.on('message', () => {
  stopping = true;
  stats.openAtEnd = open.size;
  for (const socket of open) socket.destroy();
  parentPort.postMessage(stats);
});
`;

function rssMiB(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match === null ? 0 : Number(match[1]) / 1024;
  } catch {
    return 0;
  }
}

function percentile(sorted: readonly number[], fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] as number;
}

export async function runSlowloris(options: SlowlorisOptions): Promise<SlowlorisResult> {
  const fixture = await startTortureBank({
    name: 'honest',
    sessions: options.honestSessions,
    accounts: 8,
    password: PASSWORD,
  });
  const { bank } = fixture;
  let worker: Worker | null = null;
  try {
    const rssBefore = rssMiB(bank.pid);
    let rssPeak = rssBefore;
    const sampler = setInterval(() => (rssPeak = Math.max(rssPeak, rssMiB(bank.pid))), RSS_SAMPLE_MS);
    worker = new Worker(ATTACKER_SOURCE, {
      eval: true,
      workerData: {
        port: bank.port,
        slow: options.slowConnections,
        flood: options.floodConnections,
        m1Bytes: M1_BYTES,
      },
    });
    // The flood is up before the honest kiosks connect: they must get in through it.
    await new Promise((resolve) => setTimeout(resolve, Math.min(3_000, 200 + options.slowConnections / 2.5)));
    const workload = new Workload(
      fixture.workload({
        sessions: options.honestSessions,
        requestsPerSession: Number.MAX_SAFE_INTEGER,
        seed: options.seed,
        txnPrefix: `honest${options.seed}`,
        thinkMs: options.thinkMs,
      }),
    );
    const running = workload.run();
    await new Promise((resolve) => setTimeout(resolve, options.seconds * 1000));
    workload.stop();
    await running;
    workload.close();
    clearInterval(sampler);
    const attacker = await new Promise<SlowlorisResult['attacker']>((resolve) => {
      (worker as Worker).once('message', resolve);
      (worker as Worker).postMessage('stop');
    });
    const latencies = workload.history
      .filter((op) => op.outcome !== 'unknown')
      .map((op) => op.endMs - op.startMs)
      .sort((a, b) => a - b);
    const round = (ms: number): number => Math.round(ms * 100) / 100;
    const lines = bank.stdout().split('\n').length;
    return {
      bankLogLines: lines,
      slowConnections: options.slowConnections,
      floodConnections: options.floodConnections,
      honestSessions: options.honestSessions,
      thinkMs: options.thinkMs,
      seconds: options.seconds,
      honestRequests: latencies.length,
      honestFailures:
        workload.history.filter((op) => op.outcome === 'unknown').length + workload.connectFailures.length,
      honestFailureReasons: [
        ...workload.connectFailures,
        ...workload.history.filter((op) => op.outcome === 'unknown').map((op) => `${op.op} unanswered`),
      ].slice(0, 5),
      latencyMs: {
        p50: round(percentile(latencies, 0.5)),
        p99: round(percentile(latencies, 0.99)),
        max: round(latencies.at(-1) ?? 0),
      },
      bankRssMiB: { before: Math.round(rssBefore), peak: Math.round(rssPeak) },
      attacker,
    };
  } finally {
    await worker?.terminate();
    await fixture.remove();
  }
}
