// The embedded broker on a thread of its own. aedes routes every message in JavaScript
// (roughly 70–100 µs of CPU each); on the bank's event loop that time came straight off the
// transactions (BENCHMARKS.md, telemetry overhead). So `atm bank` runs broker.ts in a worker
// (broker-worker.ts) that reads the keystore and the retained file itself; the bank sees only
// the ports, the retained messages loaded at start and close(). A thread that dies is an
// operating error: the bank keeps serving, its telemetry is dropped and counted, and
// onUnexpectedExit says so once (the thread is not restarted: it would have to take its port
// again). The two threads speak the small unions below, and the
// bank's telemetry crosses on a MessagePort of its own (telemetry-port.ts) to BrokerTelemetry,
// which publishes it into the broker in-process: no MQTT client on either thread.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { BankBrokerCredentials, EmbeddedBroker } from './broker.js';
import type { RetainedMessage } from './retained-store.js';
import { PortTelemetry } from './telemetry-port.js';
import type { TelemetrySink } from './telemetry.js';

/** What the worker needs to start (structured-cloned: plain data only). */
export interface BrokerWorkerData {
  host: string;
  port: number;
  wsPort?: number;
  /** The bank's data dir: the keystore (operators) and DIR/mqtt/retained.json. */
  dataDir: string;
  /** A network client allowed to publish; none: only the bank, in-process, through `telemetry`. */
  bankCredentials?: BankBrokerCredentials;
  /** Keep retained messages in DIR/mqtt/retained.json; false: memory only. */
  persistRetained: boolean;
  /** The bank's host id: the topic of its status. */
  hostId: string;
}

/** What the worker is started with: the data above and the telemetry port (transferred). */
export interface BrokerWorkerInit extends BrokerWorkerData {
  telemetryPort: MessagePort;
}

/** A retained message as it crosses the thread boundary (a Buffer arrives as a Uint8Array). */
export interface WireRetainedMessage {
  topic: string;
  payload: Uint8Array;
  qos: 0 | 1 | 2;
}

export type BrokerWorkerReply =
  | { type: 'ready'; port: number; wsPort: number | null; threadId: number; loaded: WireRetainedMessage[]; retainedLoadError: string | null }
  /** Starting failed; code and port are the listen error's (EADDRINUSE must reach `atm bank`). */
  | { type: 'error'; code: string | null; port: number | null; message: string }
  | { type: 'closed' };

export type BrokerWorkerRequest = { type: 'close' };

export interface BrokerThreadOptions extends BrokerWorkerData {
  /** Called once if the thread stops without close() (a crash); never with close(). */
  onUnexpectedExit?: (reason: string) => void;
  /** The clock of the bank's telemetry timestamps (tests inject one). */
  nowMs?: () => number;
}

export interface BrokerThread extends EmbeddedBroker {
  /** The worker's thread id (the main thread's is 0). */
  readonly threadId: number;
  /** The bank's sink: publishes into this broker. Close it before the broker (it sends the offline status). */
  readonly telemetry: TelemetrySink;
  /** Why the retained file could not be read at start (the broker then started empty). */
  readonly retainedLoadError: string | null;
  /** False once the thread has exited (after close(), or a crash). */
  running(): boolean;
  /** Test seam: ends the thread abruptly without close(), as a crash would. */
  terminate(): Promise<void>;
}

/** Loading aedes and binding the ports takes well under a second; this bounds a stuck thread. */
export const BROKER_THREAD_START_MS_MAX = 15_000;
/** close() waits this long for the broker to close and flush its file, then ends the thread. */
export const BROKER_THREAD_CLOSE_MS_MAX = 5_000;

const WORKER_URL = new URL('./broker-worker.js', import.meta.url);

export function wireRetained(message: RetainedMessage): WireRetainedMessage {
  // A copy with its own ArrayBuffer: a small Buffer is a view of an 8 KiB pool, all of which
  // a structured clone would copy.
  return { topic: message.topic, payload: new Uint8Array(message.payload), qos: message.qos };
}

function unwireRetained(message: WireRetainedMessage): RetainedMessage {
  const { payload } = message;
  return { topic: message.topic, payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength), qos: message.qos };
}

type Ready = Extract<BrokerWorkerReply, { type: 'ready' }>;

/** Resolves with the first reply of `type`, or null on exit or after timeoutMs. */
function nextReply<T extends BrokerWorkerReply['type']>(worker: Worker, types: T[], exited: Promise<number>, timeoutMs: number): Promise<Extract<BrokerWorkerReply, { type: T }> | null> {
  return new Promise((resolve) => {
    const done = (reply: Extract<BrokerWorkerReply, { type: T }> | null): void => {
      clearTimeout(timer);
      worker.off('message', onMessage);
      resolve(reply);
    };
    const onMessage = (reply: BrokerWorkerReply): void => {
      if ((types as string[]).includes(reply.type)) done(reply as Extract<BrokerWorkerReply, { type: T }>);
    };
    const timer = setTimeout(() => done(null), timeoutMs);
    worker.on('message', onMessage);
    void exited.then(() => done(null));
  });
}

function startError(reply: Extract<BrokerWorkerReply, { type: 'error' }>): Error {
  const error: NodeJS.ErrnoException & { port?: number } = new Error(reply.message);
  if (reply.code !== null) error.code = reply.code;
  if (reply.port !== null) error.port = reply.port;
  return error;
}

async function awaitReady(worker: Worker, exited: Promise<number>, crash: () => Error | null): Promise<Ready> {
  const reply = await nextReply(worker, ['ready', 'error'], exited, BROKER_THREAD_START_MS_MAX);
  if (reply?.type === 'ready') return reply;
  if (reply?.type === 'error') throw startError(reply);
  const cause = crash();
  throw new Error(`the embedded broker thread did not start${cause === null ? ` within ${BROKER_THREAD_START_MS_MAX} ms` : `: ${cause.message}`}`);
}

export async function startBrokerWorker(options: BrokerThreadOptions): Promise<BrokerThread> {
  const { onUnexpectedExit, nowMs, ...data } = options;
  const channel = new MessageChannel();
  const workerData: BrokerWorkerInit = { ...data, telemetryPort: channel.port2 };
  const worker = new Worker(WORKER_URL, { workerData, transferList: [channel.port2] });
  let crash: Error | null = null;
  // Without an 'error' listener an uncaught exception in the thread would crash the bank.
  worker.on('error', (error) => (crash = error));
  worker.on('messageerror', () => undefined);
  let alive = true;
  const exited = new Promise<number>((resolve) => worker.once('exit', resolve));
  void exited.then(() => (alive = false));
  let ready: Ready;
  try {
    ready = await awaitReady(worker, exited, () => crash);
  } catch (error) {
    channel.port1.close();
    await worker.terminate();
    throw error;
  }
  const telemetry = new PortTelemetry(channel.port1, { nowMs });
  let closing: Promise<void> | null = null;
  void exited.then((code) => {
    if (closing !== null) return;
    const reason = crash === null ? `exit code ${code}` : crash.message;
    try {
      onUnexpectedExit?.(reason);
    } catch {
      // Reporting a dead broker must not become a second failure.
    }
  });
  const close = async (): Promise<void> => {
    await telemetry.close(); // the offline status goes into the broker before it closes
    if (alive) {
      worker.postMessage({ type: 'close' } satisfies BrokerWorkerRequest);
      await nextReply(worker, ['closed'], exited, BROKER_THREAD_CLOSE_MS_MAX);
    }
    // The broker is closed and its file flushed (or the wait ran out): nothing left to keep.
    await worker.terminate();
  };
  return {
    port: ready.port,
    wsPort: ready.wsPort,
    loaded: ready.loaded.map(unwireRetained),
    threadId: ready.threadId,
    telemetry,
    retainedLoadError: ready.retainedLoadError,
    running: () => alive,
    terminate: async () => {
      await worker.terminate();
    },
    close: () => (closing ??= close()),
  };
}
