// The secure channel's named deadlines ([ATM-2.4.6], [ATM-3.6]): each is one timer that, when it
// runs out, closes the session with its own reason. Apart from channel.ts so the timer
// bookkeeping (re-arming, clearing all on close, never keeping the process alive) is in one place.
import type { SessionCloseReason } from './errors.js';

export type DeadlineName = 'handshake' | 'lifetime' | 'read' | 'idle';

interface Armed {
  timer: NodeJS.Timeout;
  delayMs: number;
  reason: SessionCloseReason;
  detail: string;
}

export class Deadlines {
  private readonly timers = new Map<DeadlineName, Armed>();

  constructor(private readonly expire: (reason: SessionCloseReason, detail: string) => void) {}

  /**
   * (Re)starts a deadline; an armed one of the same name is replaced. The idle deadline is
   * re-armed on every request: the same deadline again only restarts its timer (refresh(),
   * no new timer or closure per request).
   */
  arm(name: DeadlineName, delayMs: number, reason: SessionCloseReason, detail: string): void {
    const armed = this.timers.get(name);
    if (armed?.delayMs === delayMs && armed.reason === reason && armed.detail === detail) {
      armed.timer.refresh();
      return;
    }
    this.disarm(name);
    const timer = setTimeout(() => {
      this.timers.delete(name);
      this.expire(reason, detail);
    }, delayMs);
    timer.unref(); // a session's deadline must never be what keeps a process running
    this.timers.set(name, { timer, delayMs, reason, detail });
  }

  disarm(name: DeadlineName): void {
    const armed = this.timers.get(name);
    if (armed !== undefined) clearTimeout(armed.timer);
    this.timers.delete(name);
  }

  has(name: DeadlineName): boolean {
    return this.timers.has(name);
  }

  clear(): void {
    for (const armed of this.timers.values()) clearTimeout(armed.timer);
    this.timers.clear();
  }
}
