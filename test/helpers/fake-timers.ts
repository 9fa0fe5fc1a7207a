// Injected time for the line drivers (hardware/shared-line.ts SerialTimers): tests move the
// clock forward and the due callbacks run in order, instead of sleeping.
import type { SerialTimers } from '../../hardware/serial-port.js';

export class FakeTimers implements SerialTimers {
  ms = 0;
  private readonly tasks: { atMs: number; callback: () => void; cancelled: boolean }[] = [];
  readonly nowMs = (): number => this.ms;
  readonly schedule = (delayMs: number, callback: () => void): (() => void) => {
    const task = { atMs: this.ms + delayMs, callback, cancelled: false };
    this.tasks.push(task);
    return () => void (task.cancelled = true);
  };

  /** Runs every task due within ms, in time order, letting promises settle after each. */
  async advance(ms: number): Promise<void> {
    const endMs = this.ms + ms;
    for (;;) {
      await new Promise((resolve) => setImmediate(resolve));
      const due = this.tasks.filter((task) => !task.cancelled && task.atMs <= endMs).sort((a, b) => a.atMs - b.atMs)[0];
      if (due === undefined) break;
      due.cancelled = true;
      this.ms = due.atMs;
      due.callback();
    }
    this.ms = endMs;
  }
}
