// Reference 2 of `atm bench --compare`: what Node's own TLS costs on this machine, measured the
// way our bench measures the bank (the server in its own process, the clients in worker threads).
//
// Contract of runTlsReference:
// - Makes an ECDSA P-256 self-signed certificate with the openssl CLI in a new temp dir (key mode
//   0600), forks tls-echo-server.js with it (TLS 1.3 only, session tickets off, 127.0.0.1, an
//   ephemeral port reported by IPC), and removes the key and certificate as soon as the server
//   has loaded them.
// - Starts `workers` (default 2) worker threads running tls-load-worker.js, which verify the
//   server's certificate (it is their only CA; servername checked), speak TLS 1.3 only and never
//   reuse a session. Connections are split between the workers. Each worker first makes
//   full handshakes for 0.1 s, not recorded (warm-up).
// - Handshakes: for each entry of handshakeConcurrency, that many parallel loops of connect →
//   secureConnect → 1-byte echo → close (a full handshake each) for handshakeSeconds: perSecond
//   (the workers' rates summed) and msEach (mean time of one such connection). A resumed session
//   fails the run.
// - Echo: echoConnections long-lived connections, one payloadBytes message in flight on each,
//   for echoSeconds: round trips per second and latency p50/p99 (nearest rank, every sample).
// - Always terminates the workers, kills the server (SIGTERM, then SIGKILL) and awaits its exit,
//   and removes the temp dir: on success, on failure (which rejects) and on SIGINT or SIGTERM.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { interruptible, unlessAborted } from './process.js';
import { makeCertificate } from './tls-cert.js';
import type { ServerListening, WorkerCommand, WorkerReply, WorkerSetup } from './tls-messages.js';

export interface TlsReference {
  handshakes: { concurrency: number; perSecond: number; msEach: number }[];
  echo: {
    connections: number;
    payloadBytes: number;
    roundTripsPerSecond: number;
    latencyMs: { p50: number; p99: number };
  };
}

export interface TlsReferenceOptions {
  handshakeConcurrency: readonly number[];
  handshakeSeconds: number;
  echoConnections: number;
  echoSeconds: number;
  /** Bytes per echo message; default 100. */
  payloadBytes?: number;
  /** Load-generating worker threads; default 2. */
  workers?: number;
  log?: (line: string) => void;
  /** Where the certificate's temp dir is made; default: os.tmpdir(). */
  tempRoot?: string;
  /** Told the temp dir and the server's pid once it listens (tests check both are gone). */
  onStarted?: (resources: { dir: string; serverPid: number }) => void;
}

const SERVER_START_MS = 10_000;
const SERVER_STOP_MS = 5_000;
/** A worker's answer may take the phase's duration plus this (a stuck connection times out first). */
const REPLY_MARGIN_MS = 30_000;
const WARM_UP_SECONDS = 0.1;

/** The value at nearest rank `fraction` of sorted samples. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil(fraction * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

/** `total` split into `parts` near-equal whole shares, the larger first: 1 over 2 → [1, 0]. */
export function split(total: number, parts: number): number[] {
  return Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));
}

function checkOptions(options: TlsReferenceOptions): void {
  const counts = [...options.handshakeConcurrency, options.echoConnections, options.workers ?? 2];
  if (counts.some((n) => !Number.isInteger(n) || n < 1)) throw new Error('connection and worker counts must be ≥ 1');
  if (!(options.handshakeSeconds > 0 && options.echoSeconds > 0)) throw new Error('durations must be > 0 s');
  const payloadBytes = options.payloadBytes ?? 100;
  if (!Number.isInteger(payloadBytes) || payloadBytes < 1) throw new Error('payloadBytes must be ≥ 1');
}

function startServer(keyPath: string, certPath: string): ChildProcess {
  const url = new URL('./tls-echo-server.js', import.meta.url);
  return fork(url, [keyPath, certPath], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [] });
}

function serverPort(server: ChildProcess, signal: AbortSignal): Promise<number> {
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the echo server did not listen within ${SERVER_START_MS} ms`)),
      SERVER_START_MS,
    );
    server.once('message', (message: ServerListening) => {
      clearTimeout(timer);
      resolve(message.port);
    });
    server.once('error', reject);
    server.once('exit', (code, how) => {
      clearTimeout(timer);
      reject(new Error(`the echo server exited (${how ?? code}) before listening`));
    });
  });
  return unlessAborted(listening, signal);
}

async function stopServer(server: ChildProcess): Promise<void> {
  if (server.exitCode !== null || server.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  server.kill('SIGTERM');
  const timer = setTimeout(() => server.kill('SIGKILL'), SERVER_STOP_MS);
  await exited;
  clearTimeout(timer);
}

/** Sends a command to a worker and resolves with its reply (rejects on `failed`, exit, timeout). */
function ask(worker: Worker, command: WorkerCommand, timeoutMs: number, signal: AbortSignal): Promise<WorkerReply> {
  const reply = new Promise<WorkerReply>((resolve, reject) => {
    const done = (): void => {
      clearTimeout(timer);
      worker.off('message', onMessage).off('error', onError).off('exit', onExit);
    };
    const onMessage = (message: WorkerReply): void => {
      done();
      if (message.kind === 'failed') reject(new Error(`load worker: ${message.message}`));
      else resolve(message);
    };
    const onError = (error: Error): void => {
      done();
      reject(error);
    };
    const onExit = (code: number): void => {
      done();
      reject(new Error(`load worker exited (${code}) during ${command.kind}`));
    };
    const timer = setTimeout(() => {
      done();
      reject(new Error(`load worker: no answer to ${command.kind} within ${timeoutMs} ms`));
    }, timeoutMs);
    worker.on('message', onMessage).on('error', onError).on('exit', onExit);
    worker.postMessage(command);
  });
  return unlessAborted(reply, signal);
}

function expect<K extends WorkerReply['kind']>(reply: WorkerReply, kind: K): Extract<WorkerReply, { kind: K }> {
  if (reply.kind !== kind) throw new Error(`load worker answered ${reply.kind}, expected ${kind}`);
  return reply as Extract<WorkerReply, { kind: K }>;
}

/** Measures TLS handshakes and echo round trips; see the contract at the top of this file. */
export async function runTlsReference(options: TlsReferenceOptions): Promise<TlsReference> {
  checkOptions(options);
  const payloadBytes = options.payloadBytes ?? 100;
  const workerCount = options.workers ?? 2;
  const log = options.log ?? ((): void => undefined);
  const dir = fs.mkdtempSync(path.join(options.tempRoot ?? os.tmpdir(), 'atm-tls-reference-'));
  let server: ChildProcess | null = null;
  const workers: Worker[] = [];

  const cleanup = async (): Promise<void> => {
    await Promise.all(workers.map((worker) => worker.terminate()));
    if (server !== null) await stopServer(server);
    fs.rmSync(dir, { recursive: true, force: true });
  };

  return interruptible(async (signal) => {
    const certificate = await makeCertificate(dir, signal);
    const started = startServer(certificate.keyPath, certificate.certPath);
    server = started;
    const port = await serverPort(started, signal);
    // The server holds the key in memory now: it leaves the disk before any load runs.
    fs.rmSync(certificate.keyPath, { force: true });
    fs.rmSync(certificate.certPath, { force: true });
    log(`tls: echo server ${started.pid ?? '?'} on 127.0.0.1:${port}, ${workerCount} load workers`);
    if (started.pid !== undefined) options.onStarted?.({ dir, serverPid: started.pid });

    const setup: WorkerSetup = { port, ca: certificate.cert, servername: certificate.servername };
    const url = new URL('./tls-load-worker.js', import.meta.url);
    for (let i = 0; i < workerCount; i += 1) workers.push(new Worker(url, { workerData: setup, execArgv: [] }));

    // Warm-up, not recorded: each worker's first connections load and compile the TLS code.
    const warmUp: WorkerCommand = { kind: 'handshakes', connections: 1, seconds: WARM_UP_SECONDS };
    await Promise.all(workers.map((worker) => ask(worker, warmUp, REPLY_MARGIN_MS, signal)));

    const handshakes: TlsReference['handshakes'] = [];
    for (const concurrency of options.handshakeConcurrency) {
      const timeoutMs = options.handshakeSeconds * 1000 + REPLY_MARGIN_MS;
      const shares = split(concurrency, workerCount);
      const replies = await Promise.all(
        workers.flatMap((worker, i) => {
          const connections = shares[i] ?? 0;
          if (connections === 0) return [];
          const command: WorkerCommand = { kind: 'handshakes', connections, seconds: options.handshakeSeconds };
          return [ask(worker, command, timeoutMs, signal).then((reply) => expect(reply, 'handshakes'))];
        }),
      );
      const resumed = replies.reduce((sum, reply) => sum + reply.resumed, 0);
      if (resumed > 0) throw new Error(`${resumed} handshakes resumed a session: not full handshakes`);
      const count = replies.reduce((sum, reply) => sum + reply.count, 0);
      const perSecond = replies.reduce((sum, reply) => sum + (reply.count * 1000) / reply.elapsedMs, 0);
      const msEach = replies.reduce((sum, reply) => sum + reply.msTotal, 0) / count;
      log(`tls: handshakes @${concurrency}: ${perSecond.toFixed(0)}/s, ${msEach.toFixed(2)} ms each (${count})`);
      handshakes.push({ concurrency, perSecond, msEach });
    }

    const shares = split(options.echoConnections, workerCount);
    const busy = workers.filter((_, i) => (shares[i] ?? 0) > 0);
    await Promise.all(
      busy.map(async (worker, i) => {
        const command: WorkerCommand = { kind: 'echo-open', connections: shares[i] ?? 0, payloadBytes };
        expect(await ask(worker, command, REPLY_MARGIN_MS, signal), 'echo-ready');
      }),
    );
    const timeoutMs = options.echoSeconds * 1000 + REPLY_MARGIN_MS;
    const go: WorkerCommand = { kind: 'echo-go', seconds: options.echoSeconds };
    const results = await Promise.all(
      busy.map(async (worker) => expect(await ask(worker, go, timeoutMs, signal), 'echo')),
    );
    const roundTripsPerSecond = results.reduce((sum, result) => sum + (result.count * 1000) / result.elapsedMs, 0);
    const latencies = new Float64Array(results.reduce((sum, result) => sum + result.count, 0));
    let offset = 0;
    for (const result of results) {
      latencies.set(result.latenciesMs, offset);
      offset += result.count;
    }
    latencies.sort();
    const latencyMs = { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99) };
    log(
      `tls: echo @${options.echoConnections} × ${payloadBytes} B: ${roundTripsPerSecond.toFixed(0)} round trips/s, ` +
        `p50 ${latencyMs.p50.toFixed(2)} ms, p99 ${latencyMs.p99.toFixed(2)} ms`,
    );
    return {
      handshakes,
      echo: { connections: options.echoConnections, payloadBytes, roundTripsPerSecond, latencyMs },
    };
  }, cleanup);
}
