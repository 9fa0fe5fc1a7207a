// The embedded broker on a thread of its own. aedes routes every message in JavaScript
// (roughly 70–100 µs of CPU each); on the bank's event loop that time came straight off the
// transactions (BENCHMARKS.md, telemetry overhead). So `atm bank` runs broker.ts in a worker
// (broker-worker.ts) that reads the keystore and the retained file itself; the bank sees only
// the ports, the retained messages loaded at start and close(). A thread that dies is an
// operating error: the bank keeps serving, its telemetry is dropped and counted,
// onUnexpectedExit says so, and a new thread starts after a backoff (1 s doubling to 30 s) on
// the same ports, with the retained file as the dead one last flushed it; its online status
// reports the drops of the gap, and onRestarted lets the bank republish its current retained
// state. A restart that fails (its port taken meanwhile) is retried at the same backoff.
// The two threads speak the small unions below, and the
// bank's telemetry crosses on a MessagePort of its own (telemetry-port.ts) to BrokerTelemetry,
// which publishes it into the broker in-process: no MQTT client on either thread.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { BankBrokerCredentials, EmbeddedBroker } from './broker.js';
import type { RetainedMessage } from './retained-store.js';
import { RelaySink } from './relay-sink.js';
import { RestartBackoff } from './restart-backoff.js';
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
  /** Counts of the threads before a restart: the new one continues them and reports the drops. */
  countsBefore?: { published: number; dropped: number };
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
  | {
      type: 'ready';
      port: number;
      wsPort: number | null;
      threadId: number;
      loaded: WireRetainedMessage[];
      retainedLoadError: string | null;
    }
  /** Starting failed; code and port are the listen error's (EADDRINUSE must reach `atm bank`). */
  | { type: 'error'; code: string | null; port: number | null; message: string }
  | { type: 'closed' };

export interface BrokerWorkerRequest {
  type: 'close';
}

export interface BrokerThreadOptions extends Omit<BrokerWorkerData, 'countsBefore'> {
  /** Called each time a thread stops without close() (a crash), or a restart fails; never with close(). */
  onUnexpectedExit?: (reason: string) => void;
  /** Called when a new thread has taken over after a crash (the bank republishes its retained state). */
  onRestarted?: () => void;
  /** Default BROKER_THREAD_RESTART_MS_MIN / _MAX. */
  restartMsMin?: number;
  restartMsMax?: number;
  /** The clock of the bank's telemetry timestamps (tests inject one). */
  nowMs?: () => number;
}

export interface BrokerThread extends EmbeddedBroker {
  /** The current (or last) worker's thread id (the main thread's is 0). */
  readonly threadId: number;
  /** Threads started so far (1 + restarts). */
  starts(): number;
  /** The bank's sink: publishes into this broker. Close it before the broker (it sends the offline status). */
  readonly telemetry: TelemetrySink;
  /** Why the retained file could not be read at start (the broker then started empty). */
  readonly retainedLoadError: string | null;
  /** False while no thread runs (after close(), or from a crash until the restart). */
  running(): boolean;
  /** Test seam: ends the current thread abruptly without close(), as a crash would. */
  terminate(): Promise<void>;
}

/** Loading aedes and binding the ports takes well under a second; this bounds a stuck thread. */
export const BROKER_THREAD_START_MS_MAX = 15_000;
/** close() waits this long for the broker to close and flush its file, then ends the thread. */
export const BROKER_THREAD_CLOSE_MS_MAX = 5_000;
export const BROKER_THREAD_RESTART_MS_MIN = 1_000;
export const BROKER_THREAD_RESTART_MS_MAX = 30_000;

const WORKER_URL = new URL('./broker-worker.js', import.meta.url);

export function wireRetained(message: RetainedMessage): WireRetainedMessage {
  // A copy with its own ArrayBuffer: a small Buffer is a view of an 8 KiB pool, all of which
  // a structured clone would copy.
  return { topic: message.topic, payload: new Uint8Array(message.payload), qos: message.qos };
}

function unwireRetained(message: WireRetainedMessage): RetainedMessage {
  const { payload } = message;
  return {
    topic: message.topic,
    payload: Buffer.from(payload.buffer, payload.byteOffset, payload.byteLength),
    qos: message.qos,
  };
}

type Ready = Extract<BrokerWorkerReply, { type: 'ready' }>;

/** Resolves with the first reply of `type`, or null on exit or after timeoutMs. */
function nextReply<T extends BrokerWorkerReply['type']>(
  worker: Worker,
  types: T[],
  exited: Promise<number>,
  timeoutMs: number,
): Promise<Extract<BrokerWorkerReply, { type: T }> | null> {
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
  throw new Error(
    `the embedded broker thread did not start${cause === null ? ` within ${BROKER_THREAD_START_MS_MAX} ms` : `: ${cause.message}`}`,
  );
}

/** One started worker: its ready reply, its telemetry sink and how it ends. */
interface Spawned {
  worker: Worker;
  ready: Ready;
  telemetry: PortTelemetry;
  exited: Promise<number>;
  alive(): boolean;
  crash(): Error | null;
}

async function spawnWorker(data: BrokerWorkerData, nowMs: (() => number) | undefined): Promise<Spawned> {
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
  const telemetry = new PortTelemetry(channel.port1, { nowMs, countsBefore: data.countsBefore });
  return { worker, ready, telemetry, exited, alive: () => alive, crash: () => crash };
}

/** Sends the offline status into the broker, closes it (its file flushed), ends the thread. */
async function closeSpawned(spawned: Spawned): Promise<void> {
  await spawned.telemetry.close();
  if (spawned.alive()) {
    spawned.worker.postMessage({ type: 'close' } satisfies BrokerWorkerRequest);
    await nextReply(spawned.worker, ['closed'], spawned.exited, BROKER_THREAD_CLOSE_MS_MAX);
  }
  await spawned.worker.terminate();
}

/** Calls a listener; one that throws does not become a second failure (or undo a restart). */
function report<T>(callback: ((value: T) => void) | undefined, value: T): void {
  try {
    callback?.(value);
  } catch {
    // A listener's failure is not the broker's.
  }
}

export async function startBrokerWorker(options: BrokerThreadOptions): Promise<BrokerThread> {
  const {
    onUnexpectedExit,
    onRestarted,
    nowMs,
    restartMsMin = BROKER_THREAD_RESTART_MS_MIN,
    restartMsMax = BROKER_THREAD_RESTART_MS_MAX,
    ...data
  } = options;
  const first = await spawnWorker(data, nowMs); // a failure here (a port in use) is the caller's
  // A restart takes the ports the first thread bound (port 0 asked for any).
  const again: BrokerWorkerData = { ...data, port: first.ready.port, wsPort: first.ready.wsPort ?? undefined };
  let live: Spawned | null = first;
  let lastThreadId = first.ready.threadId;
  let started = 1;
  let closing: Promise<void> | null = null;
  let restarting: Promise<void> | null = null;
  let restartTimer: NodeJS.Timeout | null = null;
  const backoff = new RestartBackoff(restartMsMin, restartMsMax);
  // The bank's sink across restarts. Closing it sends the offline status into the broker; the
  // broker itself closes with close() below.
  const telemetry = new RelaySink();
  telemetry.attach(first.telemetry);

  const schedule = (ranMs: number): void => {
    restartTimer = setTimeout(() => {
      restartTimer = null;
      if (closing === null) restarting = restart().finally(() => (restarting = null));
    }, backoff.delayMs(ranMs));
    restartTimer.unref();
  };

  const watch = (spawned: Spawned): void => {
    const startedAtMs = Date.now();
    void spawned.exited.then((code) => {
      if (closing !== null) return;
      telemetry.detach();
      live = null;
      const crash = spawned.crash();
      report(onUnexpectedExit, crash === null ? `exit code ${code}` : crash.message);
      schedule(Date.now() - startedAtMs);
    });
  };

  const restart = async (): Promise<void> => {
    started += 1;
    try {
      const next = await spawnWorker({ ...again, countsBefore: telemetry.countsForNext() }, nowMs);
      if (closing !== null) {
        await closeSpawned(next);
        return;
      }
      telemetry.attach(next.telemetry);
      live = next;
      lastThreadId = next.ready.threadId;
      watch(next);
      report(onRestarted, undefined);
    } catch (error) {
      report(onUnexpectedExit, `restart failed: ${error instanceof Error ? error.message : String(error)}`);
      if (closing === null) schedule(0);
    }
  };

  watch(first);

  const close = async (): Promise<void> => {
    if (restartTimer !== null) clearTimeout(restartTimer);
    await restarting;
    if (live !== null) await closeSpawned(live);
    live = null;
  };
  return {
    port: first.ready.port,
    wsPort: first.ready.wsPort,
    loaded: first.ready.loaded.map(unwireRetained),
    get threadId() {
      return lastThreadId;
    },
    telemetry,
    retainedLoadError: first.ready.retainedLoadError,
    running: () => live?.alive() ?? false,
    starts: () => started,
    terminate: async () => {
      await live?.worker.terminate();
    },
    close: () => (closing ??= close()),
  };
}
