// PINGs waiting for their PONG on the serial line [SL-3.2]: the device answers in order, so a
// PONG proves every line before its PING was handled (the display's acknowledgement, and the
// last step of the handshake).
import { SEQUENCE_MAX } from '../protocol/index.js';
import type { SerialTimers } from './shared-line.js';

export class SerialPings {
  private seq = 0;
  private readonly waiters = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();

  constructor(
    private readonly timers: SerialTimers,
    private readonly path: string,
  ) {}

  /** The next PING's sequence number, wrapping at SEQUENCE_MAX. */
  nextSeq(): number {
    this.seq = this.seq === SEQUENCE_MAX ? 0 : this.seq + 1;
    return this.seq;
  }

  /**
   * Sends a PING through send(seq) and resolves on its PONG; rejects when the send fails,
   * failAll() is called, or after timeoutMs.
   */
  confirm(timeoutMs: number, send: (seq: number) => Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const seq = this.nextSeq();
      const cancel = this.timers.schedule(timeoutMs, () =>
        settle(new Error(`serial device ${this.path} did not answer PING ${seq} within ${timeoutMs} ms`)),
      );
      const settle = (error: Error | null): void => {
        if (!this.waiters.delete(seq)) return;
        cancel();
        if (error === null) resolve();
        else reject(error);
      };
      this.waiters.set(seq, { resolve: () => settle(null), reject: settle });
      send(seq).catch((error: unknown) => settle(error instanceof Error ? error : new Error(String(error))));
    });
  }

  pong(seq: number): void {
    this.waiters.get(seq)?.resolve();
  }

  /** The line dropped or closed: every waiting confirm() rejects with the reason. */
  failAll(reason: string): void {
    for (const waiter of [...this.waiters.values()]) waiter.reject(new Error(`serial device ${this.path}: ${reason}`));
  }
}
