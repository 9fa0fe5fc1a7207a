// How long a supervisor waits before starting a crashed telemetry thread again (the MQTT client
// thread, telemetry-thread.ts; the embedded broker thread, broker-thread.ts): from min, doubling
// up to max while threads keep dying, and from min again after a thread that ran stableMs, so
// one crash a day never waits 30 s and a thread that dies at once is never restarted in a loop.

import { Backoff } from '../protocol/index.js';

export const RESTART_STABLE_RUN_MS = 60_000;

export class RestartBackoff {
  private readonly backoff: Backoff;

  constructor(
    minMs: number,
    maxMs: number,
    private readonly stableMs = RESTART_STABLE_RUN_MS,
  ) {
    this.backoff = new Backoff(minMs, maxMs);
  }

  /** The wait before the next start, after a thread that ran ranMs (0: a start that failed). */
  delayMs(ranMs: number): number {
    if (ranMs >= this.stableMs) this.backoff.reset();
    return this.backoff.nextDelayMs();
  }
}
