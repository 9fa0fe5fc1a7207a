// The sink the bank keeps while a supervisor restarts a telemetry thread (telemetry-thread.ts:
// the MQTT client's; broker-thread.ts: the embedded broker's). It forwards to the current
// thread's sink; while none runs it drops and counts; a new thread's sink starts from the dead
// ones' counts (countsForNext), so the drops of the gap are reported when it is up.
import type { TelemetryStats } from './telemetry-outlet.js';
import type { TelemetrySink } from './telemetry.js';

export interface TelemetryCounts {
  published: number;
  dropped: number;
}

export class RelaySink implements TelemetrySink {
  private current: TelemetrySink | null = null;
  /** The counts of the dead threads' sinks. */
  private carried: TelemetryCounts = { published: 0, dropped: 0 };
  /** Dropped here while no thread ran, and not yet in a new thread's counts. */
  private droppedMeanwhile = 0;
  private handedOver = 0;
  private closed = false;

  /** The counts a new thread's sink starts from; what is dropped after this call stays counted here. */
  countsForNext(): TelemetryCounts {
    this.handedOver = this.droppedMeanwhile;
    return { published: this.carried.published, dropped: this.carried.dropped + this.handedOver };
  }

  /** The new thread's sink, started from countsForNext(). */
  attach(sink: TelemetrySink): void {
    this.droppedMeanwhile -= this.handedOver;
    this.handedOver = 0;
    this.current = sink;
  }

  /** The current thread died: its counts are carried, and from now on publishes are dropped. */
  detach(): void {
    if (this.current === null) return;
    const { published, dropped } = this.current.stats();
    this.carried = { published, dropped };
    this.current = null;
  }

  publish(topic: string, payload: object, options?: { retain?: boolean }): void {
    if (this.current === null || this.closed) {
      this.droppedMeanwhile += 1;
      return;
    }
    this.current.publish(topic, payload, options);
  }

  stats(): TelemetryStats {
    if (this.current === null)
      return {
        published: this.carried.published,
        dropped: this.carried.dropped + this.droppedMeanwhile,
        queued: 0,
        connected: false,
      };
    const stats = this.current.stats();
    return { ...stats, dropped: stats.dropped + this.droppedMeanwhile };
  }

  /** Closes the current thread's sink (it publishes the offline status); later publishes are dropped. */
  async close(): Promise<void> {
    this.closed = true;
    await this.current?.close();
  }
}
