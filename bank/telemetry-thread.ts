// The MQTT client to an external broker, on a thread of its own (telemetry-worker.ts): the
// bank's transaction thread keeps only a PortTelemetry, which hands over the messages of each
// TELEMETRY_HANDOVER_MS in one postMessage. The client, its bounded queue, reconnect backoff, LWT and
// drop reports are MqttTelemetry's, unchanged, on the other thread. A thread that dies is an
// operating error like a dead broker: the bank keeps serving, the sink drops and counts, and
// onUnexpectedExit says so once.
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import { PortTelemetry } from './telemetry-port.js';
import type { MqttTelemetryOptions, TelemetrySink } from './telemetry.js';

/** What the worker is started with (structured-cloned; TLS Buffers arrive as Uint8Arrays). */
export interface TelemetryWorkerInit {
  options: Omit<MqttTelemetryOptions, 'nowMs'>;
  port: MessagePort;
}

export interface TelemetryThreadOptions extends Omit<MqttTelemetryOptions, 'nowMs'> {
  /** The clock of the telemetry timestamps (tests inject one). */
  nowMs?: () => number;
  /** Called once if the thread stops without close() (a crash). */
  onUnexpectedExit?: (reason: string) => void;
}

const WORKER_URL = new URL('./telemetry-worker.js', import.meta.url);

export function startTelemetryThread(options: TelemetryThreadOptions): TelemetrySink {
  const { nowMs, onUnexpectedExit, ...mqttOptions } = options;
  const channel = new MessageChannel();
  const workerData: TelemetryWorkerInit = { options: mqttOptions, port: channel.port2 };
  const worker = new Worker(WORKER_URL, { workerData, transferList: [channel.port2] });
  let crash: Error | null = null;
  // Without an 'error' listener an uncaught exception in the thread would crash the bank.
  worker.on('error', (error) => (crash = error));
  worker.on('messageerror', () => undefined);
  // The bank's server keeps the process alive; this thread must not keep a stopped bank alive.
  worker.unref();
  const sink = new PortTelemetry(channel.port1, { nowMs });
  let closing: Promise<void> | null = null;
  worker.once('exit', (code) => {
    if (closing !== null) return;
    try {
      onUnexpectedExit?.(crash === null ? `exit code ${code}` : crash.message);
    } catch {
      // Reporting a dead thread must not become a second failure.
    }
  });
  const close = async (): Promise<void> => {
    await sink.close(); // the worker closes the client (offline status) and answers
    await worker.terminate();
  };
  return {
    publish: (topic, payload, publishOptions) => sink.publish(topic, payload, publishOptions),
    stats: () => sink.stats(),
    close: () => (closing ??= close()),
  };
}
