// The MQTT client to an external broker, on a thread of its own (telemetry-worker.ts): the
// bank's transaction thread keeps only a PortTelemetry, which hands over the messages of each
// TELEMETRY_HANDOVER_MS in one postMessage. The client, its bounded queue, reconnect backoff,
// LWT and drop reports are MqttTelemetry's, on the other thread.
//
// A thread that dies is an operating error like a dead broker: the bank keeps serving, events
// are dropped and counted, onUnexpectedExit says so, and a new thread starts after a backoff
// (1 s doubling to 30 s) whose client continues the dead one's counts, so the drops are
// reported when it connects. A thread that keeps dying is retried at the slowest pace, never
// in a tight loop.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import type { TelemetryStats } from './telemetry-outlet.js';
import { RelaySink } from './relay-sink.js';
import { RestartBackoff } from './restart-backoff.js';
import { PortTelemetry } from './telemetry-port.js';
import type { MqttTelemetryOptions, TelemetrySink } from './telemetry.js';

/** What the worker is started with (structured-cloned; TLS Buffers arrive as Uint8Arrays). */
export interface TelemetryWorkerInit {
  options: Omit<MqttTelemetryOptions, 'nowMs'>;
  port: MessagePort;
}

export interface TelemetryThreadOptions extends Omit<MqttTelemetryOptions, 'nowMs' | 'countsBefore'> {
  /** The clock of the telemetry timestamps (tests inject one). */
  nowMs?: () => number;
  /** Called each time the thread stops without close() (a crash), before it is restarted. */
  onUnexpectedExit?: (reason: string) => void;
  /** Default TELEMETRY_THREAD_RESTART_MS_MIN / _MAX. */
  restartMsMin?: number;
  restartMsMax?: number;
}

export const TELEMETRY_THREAD_RESTART_MS_MIN = 1_000;
export const TELEMETRY_THREAD_RESTART_MS_MAX = 30_000;

const WORKER_URL = new URL('./telemetry-worker.js', import.meta.url);

export interface TelemetryThread extends TelemetrySink {
  /** Threads started so far (1 + restarts). */
  starts(): number;
  /** Stops the current thread as a crash would (tests). */
  terminate(): Promise<void>;
}

export function startTelemetryThread(options: TelemetryThreadOptions): TelemetryThread {
  const {
    nowMs,
    onUnexpectedExit,
    restartMsMin = TELEMETRY_THREAD_RESTART_MS_MIN,
    restartMsMax = TELEMETRY_THREAD_RESTART_MS_MAX,
    ...mqttOptions
  } = options;
  let closing: Promise<void> | null = null;
  const backoff = new RestartBackoff(restartMsMin, restartMsMax);
  let restartTimer: NodeJS.Timeout | null = null;
  let started = 0;
  let current: Worker | null = null;
  /** The bank's sink across restarts: between a death and the restart it drops and counts. */
  const relay = new RelaySink();

  const start = (): void => {
    started += 1;
    const startedAtMs = Date.now();
    const channel = new MessageChannel();
    const countsBefore = relay.countsForNext();
    const workerData: TelemetryWorkerInit = { options: { ...mqttOptions, countsBefore }, port: channel.port2 };
    const worker = new Worker(WORKER_URL, { workerData, transferList: [channel.port2] });
    let crash: Error | null = null;
    // Without an 'error' listener an uncaught exception in the thread would crash the bank.
    worker.on('error', (error) => (crash = error));
    worker.on('messageerror', () => undefined);
    // The bank's server keeps the process alive; this thread must not keep a stopped bank alive.
    worker.unref();
    const sink = new PortTelemetry(channel.port1, { nowMs, countsBefore });
    relay.attach(sink);
    current = worker;
    worker.once('exit', (code) => {
      if (closing !== null) return;
      relay.detach();
      current = null;
      try {
        onUnexpectedExit?.(crash === null ? `exit code ${code}` : crash.message);
      } catch {
        // Reporting a dead thread must not become a second failure.
      }
      restartTimer = setTimeout(
        () => {
          restartTimer = null;
          if (closing === null) start();
        },
        backoff.delayMs(Date.now() - startedAtMs),
      );
      restartTimer.unref();
    });
  };
  start();

  const close = async (): Promise<void> => {
    if (restartTimer !== null) clearTimeout(restartTimer);
    const running = current;
    await relay.close(); // the worker closes the client (offline status) and answers
    await running?.terminate();
  };
  return {
    publish: (topic, payload, publishOptions) => relay.publish(topic, payload, publishOptions),
    stats: (): TelemetryStats => relay.stats(),
    close: () => (closing ??= close()),
    starts: () => started,
    terminate: async () => {
      await current?.terminate();
    },
  };
}
