// The two ends of the telemetry hand-over between threads. On the bank's transaction thread a
// PortTelemetry (the TelemetrySink the observer publishes to) only stringifies a payload and
// appends it to a batch; once per event-loop turn the batch crosses a MessagePort to the
// telemetry thread, where serveTelemetryPort feeds it to an outlet (the MQTT client, or the
// embedded broker itself). An MQTT publish cost the transaction thread ~25–45 µs per message
// (client, packet encoding, the loopback write); handing it over costs a few (BENCHMARKS.md).
//
// Bounds: at most inFlightMessagesMax messages handed over and not yet taken by the other
// side; beyond that, or once the other side is gone (its thread died), publish drops and
// counts. The other side reports what it took and its outlet's stats every
// TELEMETRY_STATS_REPORT_MS, so stats() lags by at most that.
import type { MessagePort } from 'node:worker_threads';
import type { TelemetryOutlet, TelemetryStats } from './telemetry-outlet.js';
import type { TelemetrySink } from './telemetry.js';

/** A batch is flat: topic, payload JSON, tsMs, retain, repeated (cheaper to clone than objects). */
export type TelemetryPortRequest = { type: 'batch'; items: Array<string | number | boolean> } | { type: 'close' };
export type TelemetryPortReply = { type: 'stats'; received: number; stats: TelemetryStats } | { type: 'closed' };

export const TELEMETRY_STATS_REPORT_MS = 50;
/**
 * Messages handed over and not yet taken, at most. The outlet has its own queue behind it
 * (TELEMETRY_QUEUE_MESSAGES_MAX), so stats().queued, which counts both, stays at or below
 * their sum; a live telemetry thread takes a batch within a turn, so this bound fills only
 * when that thread is stuck.
 */
export const TELEMETRY_PORT_IN_FLIGHT_MAX = 1_000;
/** close() waits this long for the other side to publish the offline status and close its outlet. */
export const TELEMETRY_PORT_CLOSE_MS_MAX = 5_000;
const FIELDS_PER_MESSAGE = 4;

export interface PortTelemetryOptions {
  nowMs?: () => number;
  /** Messages handed over and not yet taken by the other side, at most. */
  inFlightMessagesMax?: number;
}

export class PortTelemetry implements TelemetrySink {
  private readonly nowMs: () => number;
  private readonly inFlightMessagesMax: number;
  private batch: Array<string | number | boolean> = [];
  private posted = 0;
  private remote: { received: number; stats: TelemetryStats } = { received: 0, stats: { published: 0, dropped: 0, queued: 0, connected: false } };
  private droppedHere = 0;
  /** False once close() began or the other side is gone. */
  private open = true;
  private flushScheduled = false;
  private closing: Promise<void> | null = null;
  private readonly gone: Promise<void>;
  private closedReply: (() => void) | null = null;

  constructor(
    private readonly port: MessagePort,
    options: PortTelemetryOptions = {},
  ) {
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.inFlightMessagesMax = options.inFlightMessagesMax ?? TELEMETRY_PORT_IN_FLIGHT_MAX;
    port.on('message', (reply: TelemetryPortReply) => {
      if (reply.type === 'stats') this.remote = { received: reply.received, stats: reply.stats };
      else if (reply.type === 'closed') this.closedReply?.();
    });
    // The other side's thread ended (close, or a crash): nothing more can leave.
    this.gone = new Promise((resolve) => port.once('close', () => resolve()));
    void this.gone.then(() => {
      this.open = false;
      this.remote = { ...this.remote, stats: { ...this.remote.stats, connected: false } };
    });
    // The port must not keep a bank that has otherwise stopped alive.
    port.unref();
  }

  private get pendingMessages(): number {
    return this.batch.length / FIELDS_PER_MESSAGE;
  }

  publish(topic: string, payload: object, options: { retain?: boolean } = {}): void {
    try {
      const inFlight = this.pendingMessages + this.posted - this.remote.received;
      if (!this.open || inFlight >= this.inFlightMessagesMax) {
        this.droppedHere += 1;
        return;
      }
      const json = JSON.stringify(payload);
      this.batch.push(topic, json, this.nowMs(), options.retain === true);
      if (this.flushScheduled) return;
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    } catch {
      this.droppedHere += 1; // a payload JSON cannot represent (a cycle, a BigInt)
    }
  }

  /** Every message published in this turn crosses in one postMessage. */
  private flush(): void {
    this.flushScheduled = false;
    const count = this.pendingMessages;
    if (count === 0) return;
    const items = this.batch;
    this.batch = [];
    if (!this.open) {
      this.droppedHere += count;
      return;
    }
    try {
      this.port.postMessage({ type: 'batch', items } satisfies TelemetryPortRequest);
      this.posted += count;
    } catch {
      this.droppedHere += count;
    }
  }

  stats(): TelemetryStats {
    const { received, stats } = this.remote;
    return {
      published: stats.published,
      dropped: stats.dropped + this.droppedHere,
      queued: stats.queued + this.pendingMessages + (this.posted - received),
      connected: this.open && stats.connected,
    };
  }

  close(): Promise<void> {
    this.closing ??= this.closeOnce();
    return this.closing;
  }

  private async closeOnce(): Promise<void> {
    this.flush();
    if (this.open) {
      this.open = false;
      const closed = new Promise<void>((resolve) => (this.closedReply = resolve));
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, TELEMETRY_PORT_CLOSE_MS_MAX)));
      try {
        this.port.postMessage({ type: 'close' } satisfies TelemetryPortRequest);
        this.port.ref(); // the reply must be able to arrive
        await Promise.race([closed, this.gone, timeout]);
      } catch {
        // The other side is gone already: nothing to wait for.
      } finally {
        clearTimeout(timer);
      }
    }
    this.port.close();
  }
}

/**
 * The telemetry thread's end: every batch goes to the outlet in order; what was taken and the
 * outlet's stats go back every reportMs when they changed; 'close' closes the outlet (which
 * publishes the offline status), then answers 'closed' and closes the port. Returns a stop
 * function for the thread's own shutdown.
 */
export function serveTelemetryPort(port: MessagePort, outlet: TelemetryOutlet, reportMs = TELEMETRY_STATS_REPORT_MS): () => void {
  let received = 0;
  let lastReport = '';
  const report = (): void => {
    const stats = outlet.stats();
    const key = `${received}/${stats.published}/${stats.dropped}/${stats.queued}/${stats.connected}`;
    if (key === lastReport) return;
    lastReport = key;
    port.postMessage({ type: 'stats', received, stats } satisfies TelemetryPortReply);
  };
  const timer = setInterval(report, reportMs);
  timer.unref(); // the port keeps the thread alive while the bank holds the other end
  const stop = (): void => {
    clearInterval(timer);
    port.close();
  };
  port.on('message', (request: TelemetryPortRequest) => {
    if (request.type === 'batch') {
      const { items } = request;
      for (let index = 0; index + FIELDS_PER_MESSAGE <= items.length; index += FIELDS_PER_MESSAGE) {
        outlet.send(String(items[index]), String(items[index + 1]), Number(items[index + 2]), items[index + 3] === true);
      }
      received += Math.floor(items.length / FIELDS_PER_MESSAGE);
      return;
    }
    if (request.type === 'close') {
      clearInterval(timer);
      void outlet.close().finally(() => {
        report();
        port.postMessage({ type: 'closed' } satisfies TelemetryPortReply);
        stop();
      });
    }
  });
  return stop;
}
