// The two ends of the telemetry hand-over between threads. On the bank's transaction thread a
// PortTelemetry (the TelemetrySink the observer publishes to) only stringifies a payload and
// appends it to a batch; every handoverMs (or sooner when the batch is full) the batch crosses
// a MessagePort to the telemetry thread, where serveTelemetryPort feeds it to an outlet (the
// MQTT client, or the embedded broker itself). An MQTT publish cost the transaction thread
// ~25–45 µs per message (client, packet encoding, the loopback write); a postMessage costs
// ~15–20 µs whatever it carries (clone, lock, waking the other thread), so a batch is one
// string and goes at most every handoverMs: under a µs per message (BENCHMARKS.md).
//
// Bounds: at most inFlightMessagesMax messages handed over and not yet taken by the other
// side; beyond that, or once the other side is gone (its thread died), publish drops and
// counts. The other side reports what it took and its outlet's stats every
// TELEMETRY_STATS_REPORT_MS, so stats() lags by at most that.
import type { MessagePort } from 'node:worker_threads';
import type { TelemetryOutlet, TelemetryStats } from './telemetry-outlet.js';
import type { TelemetrySink } from './telemetry.js';

/**
 * A batch is one string (a string clones as one copy; an array clones element by element):
 * per message topic, payload JSON, tsMs and retain ('1' or '0'), each followed by NUL. Neither
 * a topic nor JSON can hold a NUL (JSON.stringify escapes it).
 */
export type TelemetryPortRequest = { type: 'batch'; count: number; text: string } | { type: 'close' };
export type TelemetryPortReply = { type: 'stats'; received: number; stats: TelemetryStats } | { type: 'closed' };

/**
 * Each report wakes the bank's thread; on this VM a cross-thread wake-up costs 0.1–0.2 ms
 * (strace of the telemetry thread), so stats lag by up to this much rather than less.
 */
export const TELEMETRY_STATS_REPORT_MS = 100;
/**
 * How long a message waits on the bank's thread for others to share its postMessage. Each
 * batch costs a fixed amount: waking the telemetry thread, one socket write that wakes the
 * broker and the broker's write that wakes each subscriber, 0.1–0.5 ms each on this VM
 * (strace), far more than the few µs the messages themselves cost. At 10 ms (~20 events a
 * batch at peak load) that was most of the telemetry's cost per event (BENCHMARKS.md); 100 ms
 * is still at once on an operator's screen.
 */
export const TELEMETRY_HANDOVER_MS = 100;
/** A batch goes at once when it holds this many messages. */
export const TELEMETRY_BATCH_MESSAGES_MAX = 256;
/**
 * Messages handed over and not yet taken, at most. The outlet has its own queue behind it
 * (TELEMETRY_QUEUE_MESSAGES_MAX), so stats().queued, which counts both, stays at or below
 * their sum; a live telemetry thread takes a batch within a turn, so this bound fills only
 * when that thread is stuck.
 */
export const TELEMETRY_PORT_IN_FLIGHT_MAX = 1_000;
/** close() waits this long for the other side to publish the offline status and close its outlet. */
export const TELEMETRY_PORT_CLOSE_MS_MAX = 5_000;
const FIELD_END = '\u0000';
const FIELDS_PER_MESSAGE = 4;

export interface PortTelemetryOptions {
  nowMs?: () => number;
  /** Messages handed over and not yet taken by the other side, at most. */
  inFlightMessagesMax?: number;
  /** Default TELEMETRY_HANDOVER_MS. */
  handoverMs?: number;
  /** Default TELEMETRY_BATCH_MESSAGES_MAX. */
  batchMessagesMax?: number;
  /** What the other side counted already (it continues an earlier outlet's counts). */
  countsBefore?: { published: number; dropped: number };
}

export class PortTelemetry implements TelemetrySink {
  private readonly nowMs: () => number;
  private readonly inFlightMessagesMax: number;
  private readonly handoverMs: number;
  private readonly batchMessagesMax: number;
  private batch = '';
  private pendingMessages = 0;
  private posted = 0;
  private remote: { received: number; stats: TelemetryStats };
  private droppedHere = 0;
  /** False once close() began or the other side is gone. */
  private open = true;
  private flushTimer: NodeJS.Timeout | null = null;
  private closing: Promise<void> | null = null;
  private readonly gone: Promise<void>;
  private closedReply: (() => void) | null = null;

  constructor(
    private readonly port: MessagePort,
    options: PortTelemetryOptions = {},
  ) {
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.inFlightMessagesMax = options.inFlightMessagesMax ?? TELEMETRY_PORT_IN_FLIGHT_MAX;
    this.handoverMs = options.handoverMs ?? TELEMETRY_HANDOVER_MS;
    this.batchMessagesMax = options.batchMessagesMax ?? TELEMETRY_BATCH_MESSAGES_MAX;
    this.remote = {
      received: 0,
      stats: {
        published: options.countsBefore?.published ?? 0,
        dropped: options.countsBefore?.dropped ?? 0,
        queued: 0,
        connected: false,
      },
    };
    port.on('message', (reply: TelemetryPortReply) => {
      switch (reply.type) {
        case 'stats':
          this.remote = { received: reply.received, stats: reply.stats };
          break;
        case 'closed':
          this.closedReply?.();
          break;
      }
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

  publish(topic: string, payload: object, options: { retain?: boolean } = {}): void {
    try {
      const inFlight = this.pendingMessages + this.posted - this.remote.received;
      if (!this.open || inFlight >= this.inFlightMessagesMax) {
        this.droppedHere += 1;
        return;
      }
      const json = JSON.stringify(payload) as string | undefined;
      if (json === undefined) throw new TypeError('not JSON');
      this.batch += `${topic}${FIELD_END}${json}${FIELD_END}${this.nowMs()}${FIELD_END}${options.retain === true ? '1' : '0'}${FIELD_END}`;
      this.pendingMessages += 1;
      if (this.pendingMessages >= this.batchMessagesMax) {
        this.flush();
        return;
      }
      if (this.flushTimer !== null) return;
      // unref'd: a batch still waiting must not keep a stopped bank alive; close() flushes it.
      this.flushTimer = setTimeout(() => this.flush(), this.handoverMs).unref();
    } catch {
      this.droppedHere += 1; // a payload JSON cannot represent (a cycle, a BigInt)
    }
  }

  /** Every message waiting crosses in one postMessage. */
  private flush(): void {
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    const count = this.pendingMessages;
    if (count === 0) return;
    const text = this.batch;
    this.batch = '';
    this.pendingMessages = 0;
    if (!this.open) {
      this.droppedHere += count;
      return;
    }
    try {
      this.port.postMessage({ type: 'batch', count, text } satisfies TelemetryPortRequest);
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
export function serveTelemetryPort(
  port: MessagePort,
  outlet: TelemetryOutlet,
  reportMs = TELEMETRY_STATS_REPORT_MS,
): () => void {
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
    switch (request.type) {
      case 'batch': {
        const fields = request.text.split(FIELD_END);
        for (let index = 0; index + FIELDS_PER_MESSAGE <= fields.length; index += FIELDS_PER_MESSAGE) {
          outlet.send(
            fields[index] ?? '',
            fields[index + 1] ?? '',
            Number(fields[index + 2]),
            fields[index + 3] === '1',
          );
        }
        received += request.count;
        break;
      }
      case 'close':
        clearInterval(timer);
        void outlet.close().finally(() => {
          report();
          port.postMessage({ type: 'closed' } satisfies TelemetryPortReply);
          stop();
        });
        break;
    }
  });
  return stop;
}
