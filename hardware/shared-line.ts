// What the serial and the firmata links share: several devices (keypad, display, dispenser)
// on one line, so the first device to open starts the line and the last to close stops it;
// an open() that waits for the line, bounded, because an absent device is not an error (it
// comes online later); the reconnect backoff; and time, behind a seam so tests drive it.

/** Time, injected so tests can drive heartbeats, timeouts and backoff. */
export interface SerialTimers {
  nowMs(): number;
  /** Calls callback once after delayMs; the function returned cancels it. */
  schedule(delayMs: number, callback: () => void): () => void;
}

export const realTimers: SerialTimers = {
  nowMs: () => performance.now(),
  schedule: (delayMs, callback) => {
    const handle = setTimeout(callback, delayMs);
    return () => clearTimeout(handle);
  },
};

/** Counts the devices using one line and holds their open() calls until the line settles. */
export class LineUsers {
  private count = 0;
  private readonly waiters = new Set<() => void>();

  constructor(
    private readonly timers: SerialTimers,
    private readonly openWaitMs: number,
  ) {}

  /**
   * One more user. Counted at once (synchronously); the promise resolves when settled() is
   * called (the line came online or closed) or after openWaitMs, at once if already online.
   */
  add(online: boolean): Promise<void> {
    this.count += 1;
    if (online) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const done = (): void => {
        cancel();
        this.waiters.delete(done);
        resolve();
      };
      const cancel = this.timers.schedule(this.openWaitMs, done);
      this.waiters.add(done);
    });
  }

  /** One user less; true when that was the last one (the caller then closes the line). */
  remove(): boolean {
    if (this.count === 0) return false;
    this.count -= 1;
    return this.count === 0;
  }

  /** The line came online or closed: every waiting add() resolves. */
  settled(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

// The reconnect backoff is protocol's, one for every retry in the system; re-exported here
// for the two links.
export { Backoff } from '../protocol/index.js';
