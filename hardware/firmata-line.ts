// PacedLine: every byte to the board goes through it (StandardFirmata has no flow control and a
// 64-byte receive buffer; see firmata.ts).
import { EventEmitter } from 'node:events';
import type { SerialTimers } from './shared-line.js';
import { assert, type Callback, type FirmataTransport } from './firmata-io.js';

// PacedLine: every byte to the board, at most bytesPerInterval per intervalMs.

export const FIRMATA_BAUD_RATE = 57_600;
/** The Uno core's serial receive buffer, which StandardFirmata drains between its other work. */
export const FIRMATA_RX_BUFFER_BYTES = 64;
export const PACING_BYTES_PER_INTERVAL_DEFAULT = 48;
export const PACING_INTERVAL_MS_DEFAULT = 20;
/** Bytes PacedLine holds for the board; a writer that outruns it this far is broken. */
export const PACED_QUEUE_BYTES_MAX = 64 * 1024;

export interface LinePacing {
  bytesPerInterval: number;
  intervalMs: number;
}

interface QueuedWrite {
  bytes: Buffer;
  offset: number;
  callback: Callback | undefined;
}

/**
 * The board's line as firmata-io sees it, paced. Windows start when bytes are sent, so no
 * span of intervalMs ever carries more than bytesPerInterval bytes. 'data' and 'open' are
 * passed on; a 'close' or 'error' of the real line calls onLost once and fails what waits.
 */
export class PacedLine extends EventEmitter {
  private readonly queue: QueuedWrite[] = [];
  private queuedBytes = 0;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private windowBytes = 0;
  private cancelTimer: (() => void) | null = null;
  private writesInFlight = 0;
  private drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly lossWaiters = new Set<(error: Error) => void>();
  private lostReason: string | null = null;
  /** Bytes handed to the real line, and the most any one window carried. */
  bytesSent = 0;
  windowBytesMax = 0;
  private readonly forwardData = (data: Buffer): void => void this.emit('data', data);
  private readonly forwardOpen = (): void => void this.emit('open');
  private readonly closed = (): void => this.lose('port closed');
  private readonly failed = (error: Error): void => this.lose(`port error: ${error.message}`);

  constructor(
    private readonly inner: FirmataTransport,
    private readonly pacing: LinePacing,
    private readonly timers: SerialTimers,
    private readonly onLost: (reason: string) => void,
  ) {
    super();
    assert(
      Number.isSafeInteger(pacing.bytesPerInterval) &&
        pacing.bytesPerInterval >= 1 &&
        pacing.bytesPerInterval < FIRMATA_RX_BUFFER_BYTES,
      `bytesPerInterval must be 1..${FIRMATA_RX_BUFFER_BYTES - 1}`,
    );
    assert(Number.isFinite(pacing.intervalMs) && pacing.intervalMs > 0, 'intervalMs must be positive');
    inner.on('data', this.forwardData);
    inner.on('open', this.forwardOpen);
    inner.on('close', this.closed);
    inner.on('error', this.failed);
    // A line that is already open (the path opener waits for it) still gives firmata-io its 'open'.
    if (inner.isOpen) setImmediate(() => this.lostReason === null && this.emit('open'));
  }

  get isOpen(): boolean {
    return this.lostReason === null && this.inner.isOpen;
  }

  /** Queues bytes for the board; the callback runs once they were handed to the real line. */
  write(data: Buffer | Uint8Array | number[], callback?: Callback): boolean {
    const bytes = Buffer.from(data as Uint8Array);
    const refusal =
      this.lostReason !== null
        ? `line is gone: ${this.lostReason}`
        : this.queuedBytes + bytes.length > PACED_QUEUE_BYTES_MAX
          ? 'paced queue full'
          : null;
    if (refusal !== null) {
      process.nextTick(() => callback?.(new Error(refusal)));
      return false;
    }
    this.queue.push({ bytes, offset: 0, callback });
    this.queuedBytes += bytes.length;
    this.pump();
    return true;
  }

  /** Resolves when every queued byte was handed to the real line; rejects if the line goes first. */
  async handedOver(): Promise<void> {
    if (this.lostReason !== null) throw new Error(`line is gone: ${this.lostReason}`);
    if (this.queue.length > 0 || this.writesInFlight > 0)
      await new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /**
   * Resolves when every queued byte was handed to the real line and (if it can tell) has gone
   * down the wire; rejects if the line goes first.
   */
  async drained(): Promise<void> {
    await this.handedOver();
    const inner = this.inner;
    if (inner.drain === undefined) return;
    // A line that is lost mid-drain may never call back: the loss settles it instead.
    await new Promise<void>((resolve, reject) => {
      const lost = (error: Error): void => reject(error);
      this.lossWaiters.add(lost);
      inner.drain?.((error) => {
        this.lossWaiters.delete(lost);
        if (error) reject(error);
        else resolve();
      });
    });
    if (this.lostReason !== null) throw new Error(`line is gone: ${this.lostReason}`);
  }

  /** Milliseconds the last window's bytes take down the wire (10 bits per byte). */
  wireMs(): number {
    return Math.ceil((this.windowBytes * 10 * 1000) / FIRMATA_BAUD_RATE);
  }

  /** Stops pacing, detaches from the real line and closes it (if still open). */
  close(callback?: Callback): void {
    this.lose('closed by the driver');
    this.inner.removeListener('data', this.forwardData);
    this.inner.removeListener('open', this.forwardOpen);
    this.inner.removeListener('close', this.closed);
    this.inner.removeListener('error', this.failed);
    // A write still in flight may fail after we let go (EIO after an unplug): not an uncaught error.
    this.inner.on('error', () => undefined);
    if (this.inner.isOpen) this.inner.close(() => callback?.(null));
    else process.nextTick(() => callback?.(null));
  }

  private pump(): void {
    if (this.cancelTimer !== null || this.lostReason !== null) return;
    const nowMs = this.timers.nowMs();
    if (nowMs - this.windowStartMs >= this.pacing.intervalMs) {
      this.windowStartMs = nowMs;
      this.windowBytes = 0;
    }
    while (this.queue.length > 0 && this.windowBytes < this.pacing.bytesPerInterval) {
      const entry = this.queue[0] as QueuedWrite;
      const take = Math.min(this.pacing.bytesPerInterval - this.windowBytes, entry.bytes.length - entry.offset);
      const piece = entry.bytes.subarray(entry.offset, entry.offset + take);
      entry.offset += take;
      this.windowBytes += take;
      this.queuedBytes -= take;
      this.bytesSent += take;
      const finished = entry.offset === entry.bytes.length;
      if (finished) this.queue.shift();
      this.writesInFlight += 1;
      this.inner.write(piece, (error) => {
        this.writesInFlight -= 1;
        if (finished) entry.callback?.(error ?? null);
        this.settleDrain();
      });
    }
    this.windowBytesMax = Math.max(this.windowBytesMax, this.windowBytes);
    if (this.queue.length > 0) {
      this.cancelTimer = this.timers.schedule(Math.max(0, this.windowStartMs + this.pacing.intervalMs - nowMs), () => {
        this.cancelTimer = null;
        this.pump();
      });
    }
    this.settleDrain();
  }

  private settleDrain(): void {
    if (this.queue.length > 0 || this.writesInFlight > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private lose(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const error = new Error(`line is gone: ${reason}`);
    for (const entry of this.queue.splice(0)) process.nextTick(() => entry.callback?.(error));
    this.queuedBytes = 0;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
    for (const waiter of [...this.lossWaiters]) waiter(error);
    this.lossWaiters.clear();
    this.emit('close');
    this.onLost(reason);
  }
}
