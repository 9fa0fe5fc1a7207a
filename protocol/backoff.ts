// The one retry backoff: the serial and Firmata reconnects, the operator dashboard's MQTT
// reconnect and the telemetry threads' restarts all wait minMs, then double up to maxMs, and
// start from minMs again once a connection (or a run) has held. Pure: it computes delays; the
// caller owns the timer.
import { assert } from './assert.js';

export class Backoff {
  private nextMs: number;
  private retries = 0;

  constructor(
    private readonly minMs: number,
    private readonly maxMs: number,
  ) {
    // A minimum above the maximum is allowed (a test's long first wait): it is waited once.
    assert(
      Number.isFinite(minMs) && minMs >= 0 && Number.isFinite(maxMs) && maxMs >= 0,
      `backoff ${minMs}..${maxMs} ms`,
    );
    this.nextMs = minMs;
  }

  /** True before the first retry since the last reset (the moment worth a log line). */
  get first(): boolean {
    return this.retries === 0;
  }

  /** The wait before the next try: minMs, 2·minMs, 4·minMs, … at most maxMs. */
  nextDelayMs(): number {
    const delayMs = this.nextMs;
    this.nextMs = Math.min(this.nextMs * 2, this.maxMs);
    this.retries += 1;
    return delayMs;
  }

  /** The connection held: the next failure waits minMs again. */
  reset(): void {
    this.nextMs = this.minMs;
    this.retries = 0;
  }
}
