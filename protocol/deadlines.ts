// The secure channel's named deadlines ([ATM-2.4.6], [ATM-3.6]): each is one timer that, when it
// runs out, closes the session with its own reason. Apart from channel.ts so the timer
// bookkeeping (re-arming, clearing all on close, never keeping the process alive) is in one place.
import type { SessionCloseReason } from './errors.js';

export type DeadlineName = 'handshake' | 'lifetime' | 'read' | 'idle';

export class Deadlines {
  private readonly timers = new Map<DeadlineName, NodeJS.Timeout>();

  constructor(private readonly expire: (reason: SessionCloseReason, detail: string) => void) {}

  /** (Re)starts a deadline; an armed one of the same name is replaced. */
  arm(name: DeadlineName, delayMs: number, reason: SessionCloseReason, detail: string): void {
    this.disarm(name);
    const timer = setTimeout(() => this.expire(reason, detail), delayMs);
    timer.unref(); // a session's deadline must never be what keeps a process running
    this.timers.set(name, timer);
  }

  disarm(name: DeadlineName): void {
    const timer = this.timers.get(name);
    if (timer !== undefined) clearTimeout(timer);
    this.timers.delete(name);
  }

  has(name: DeadlineName): boolean {
    return this.timers.has(name);
  }

  clear(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
