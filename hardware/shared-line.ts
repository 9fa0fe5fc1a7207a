// What the serial and the firmata links share: several devices (keypad, display, dispenser)
// on one line, so the first device to open starts the line and the last to close stops it;
// an open() that waits for the line, bounded, because an absent device is not an error (it
// comes online later); the reconnect backoff; the lifecycle built from them (LineLifecycle);
// and time, behind a seam so tests drive it.
import { Backoff } from '../protocol/index.js';
import { Listeners } from './listeners.js';
import type { Unsubscribe } from './types.js';

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

/** What watchSilence() watches; see there. */
export interface SilenceWatch {
  /** Silence this long ends the watch with onSilent. */
  silenceMs: number;
  /** How often the silence is checked. */
  checkMs: number;
  lastHeardMs: () => number;
  /** False once the connection watched is gone: the watch ends quietly. */
  active: () => boolean;
  onSilent: (silentMs: number) => void;
  /** Called on each check that found the line alive (the serial link's PING goes out here). */
  onAlive?: (nowMs: number) => void;
}

/**
 * Calls onSilent once when nothing was heard for silenceMs: a line can die without the port
 * saying so (a hung-up pty, a wedged USB adapter). Returns the cancel function.
 */
export function watchSilence(timers: SerialTimers, watch: SilenceWatch): () => void {
  let cancel = timers.schedule(watch.checkMs, check);
  function check(): void {
    if (!watch.active()) return;
    const nowMs = timers.nowMs();
    const silentMs = nowMs - watch.lastHeardMs();
    if (silentMs >= watch.silenceMs) {
      watch.onSilent(silentMs);
      return;
    }
    watch.onAlive?.(nowMs);
    cancel = timers.schedule(watch.checkMs, check);
  }
  return () => cancel();
}

/** Where a line is: 'closed' (no user), connecting in the link's own steps (P), 'online', or 'waiting' to retry. */
export type LinePhase<P extends string> = 'closed' | 'online' | 'waiting' | P;

/**
 * The lifecycle both links share. Devices join and leave: the first starts the line, the last
 * closes it. Every attempt and every loss starts a new generation, so callbacks of an older
 * connection (a late open, a timer, a byte) can tell they are stale. Online and offline are
 * announced once per change; the link does its own steps between them (handshake, heartbeat).
 */
export class LineLifecycle<P extends string> {
  phase: LinePhase<P> = 'closed';
  generation = 0;
  private readonly users: LineUsers;
  private readonly backoff: Backoff;
  private readonly onlineListeners = new Listeners<boolean>();
  private cancelRetry: () => void = () => undefined;

  constructor(
    private readonly timers: SerialTimers,
    settings: { openWaitMs: number; reconnectDelayMsMin: number; reconnectDelayMsMax: number },
  ) {
    this.users = new LineUsers(timers, settings.openWaitMs);
    this.backoff = new Backoff(settings.reconnectDelayMsMin, settings.reconnectDelayMsMax);
  }

  get online(): boolean {
    return this.phase === 'online';
  }

  /** True while `generation` is the current connection's. */
  isCurrent(generation: number): boolean {
    return generation === this.generation;
  }

  onOnline(listener: (online: boolean) => void): Unsubscribe {
    return this.onlineListeners.add(listener);
  }

  /**
   * One more device: the first calls connect(); each waits until the line is online, closes,
   * or openWaitMs passed (an absent device is not an error: it comes online later).
   */
  async acquire(connect: () => void): Promise<void> {
    const settled = this.users.add(this.online);
    if (this.phase === 'closed') connect();
    await settled;
  }

  /**
   * A new attempt: phase `connecting`, a new generation (returned). The retry timer, if any,
   * has fired or is cancelled.
   */
  begin(connecting: P): number {
    this.cancelRetry();
    this.phase = connecting;
    this.generation += 1;
    return this.generation;
  }

  /**
   * One device less. When it was the last: closed, a new generation, teardown(wasOnline) (the
   * link drops its connection and timers), then offline is announced and open() waiters go.
   * Returns whether the line was closed.
   */
  release(teardown: (wasOnline: boolean) => void): boolean {
    if (!this.users.remove()) return false;
    const wasOnline = this.online;
    this.cancelRetry();
    this.phase = 'closed';
    this.generation += 1;
    teardown(wasOnline);
    if (wasOnline) this.onlineListeners.emit(false);
    this.users.settled();
    return true;
  }

  /** The handshake is done: online, backoff reset. Call announceOnline() once the link is set up. */
  cameOnline(): void {
    this.cancelRetry();
    this.phase = 'online';
    this.backoff.reset();
  }

  announceOnline(): void {
    this.onlineListeners.emit(true);
    this.users.settled();
  }

  /**
   * The connection is gone (or never came): a new generation, phase 'waiting', teardown(wasOnline)
   * (the link drops its connection), offline announced if it was online, and connect() again after
   * the next backoff delay. Returns that delay, and whether it is the first of a run of failures
   * (the moment worth a log line; cameOnline() starts a new run).
   */
  lost(
    teardown: (wasOnline: boolean) => void,
    connect: () => void,
  ): { wasOnline: boolean; delayMs: number; firstRetry: boolean } {
    const wasOnline = this.online;
    this.cancelRetry();
    this.generation += 1;
    this.phase = 'waiting';
    teardown(wasOnline);
    if (wasOnline) this.onlineListeners.emit(false);
    const firstRetry = this.backoff.first;
    return { wasOnline, delayMs: this.retryLater(connect), firstRetry };
  }

  private retryLater(connect: () => void): number {
    const delayMs = this.backoff.nextDelayMs();
    this.cancelRetry = this.timers.schedule(delayMs, () => {
      this.cancelRetry = () => undefined;
      if (this.phase === 'waiting') connect();
    });
    return delayMs;
  }
}
