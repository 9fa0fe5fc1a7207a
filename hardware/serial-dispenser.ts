// The serial cash dispenser: DISPENSE id → DISPENSED id, repeated until answered or timed out
// ([SL-4.8]); serial.ts explains why an unanswered dispense is a fault with nothing paid.
import { DISPENSE_ID_MAX, type DeviceMessage } from '../protocol/index.js';
import { LOW_CASH_COUNT_DEFAULT, dispenseFailure, notesForAmount } from './cash.js';
import { SerialDevice, type DeviceFaults } from './serial-device.js';
import type { SerialLink } from './serial-link.js';
import type { SerialTimers } from './serial-port.js';
import type { CashDispenser, Cassette, DeviceState, DispenseResult } from './types.js';

export interface SerialDispenserOptions {
  /** How long a DISPENSE may take before it counts as a hardwareError. Default 30 s. */
  dispenseTimeoutMs?: number;
  /** While no DISPENSED has come, the same DISPENSE is repeated this often [SL-4.8]. Default 2 s. */
  dispenseRepeatMs?: number;
  lowCashCount?: number;
}

interface Pending {
  id: number;
  finish: (result: DispenseResult) => void;
}

export class SerialDispenser extends SerialDevice implements CashDispenser {
  readonly kind = 'serial';
  readonly lowCashCount: number;
  private readonly dispenseTimeoutMs: number;
  private readonly dispenseRepeatMs: number;
  private loaded: Cassette[] = [];
  private jammed = false;
  private lowReported = false;
  private pending: Pending | null = null;
  private nextId = 1;

  constructor(
    link: SerialLink,
    faults: DeviceFaults,
    private readonly timers: SerialTimers,
    private readonly log: (line: string) => void,
    options: SerialDispenserOptions = {},
  ) {
    super(link, faults);
    this.dispenseTimeoutMs = options.dispenseTimeoutMs ?? 30_000;
    this.dispenseRepeatMs = options.dispenseRepeatMs ?? 2_000;
    this.lowCashCount = options.lowCashCount ?? LOW_CASH_COUNT_DEFAULT;
    link.onOnline((online) => {
      if (!online)
        this.pending?.finish(
          dispenseFailure(
            'offline',
            'the dispenser went offline during the dispense: it may have presented notes; count the cassettes',
          ),
        );
    });
    // [SL-4.9] the device announces every active fault after each HELLO: forget ours, so a jam
    // cleared while the cable was out does not stick.
    link.onGreeted(() => {
      this.jammed = false;
      this.lowReported = false;
    });
  }

  cassettes(): Cassette[] {
    return this.loaded.map((cassette) => ({ ...cassette }));
  }

  notesFor(amountCents: number): Cassette[] | null {
    return notesForAmount(this.loaded, amountCents);
  }

  /** Low when the device said cashLow, or any cassette holds lowCashCount notes or fewer. */
  isLow(): boolean {
    return this.lowReported || this.loaded.some((cassette) => cassette.count <= this.lowCashCount);
  }

  async dispense(amountCents: number): Promise<DispenseResult> {
    const refusal = this.refusal(amountCents);
    if (refusal !== null) return refusal;
    const id = this.nextId;
    // One dispense is in flight at a time and ids are scoped to a session [SL-4.8]: they only
    // need to differ from the ones before, so they count up from 1 and wrap.
    this.nextId = this.nextId === DISPENSE_ID_MAX ? 1 : this.nextId + 1;
    return new Promise<DispenseResult>((resolve) => {
      let cancelRepeat = (): void => undefined;
      const cancelTimeout = this.timers.schedule(this.dispenseTimeoutMs, () =>
        finish(
          dispenseFailure(
            'hardwareError',
            `no answer to DISPENSE ${id} within ${this.dispenseTimeoutMs} ms: it may have presented notes; count the cassettes`,
          ),
        ),
      );
      const finish = (outcome: DispenseResult): void => {
        if (this.pending?.id !== id) return;
        cancelTimeout();
        cancelRepeat();
        this.pending = null;
        this.refreshState();
        resolve(outcome);
      };
      // [SL-4.8] DISPENSE is idempotent by id within a session: asking again recovers an answer
      // lost to line noise and never pays twice (a line drop ends the dispense, so the
      // session cannot change under a pending one).
      const ask = (): void => {
        this.link
          .send({ verb: 'DISPENSE', id, amountCents })
          .catch((error: unknown) => finish(dispenseFailure('offline', `DISPENSE not sent: ${String(error)}`)));
        cancelRepeat = this.timers.schedule(this.dispenseRepeatMs, ask);
      };
      this.pending = { id, finish };
      this.refreshState();
      ask();
    });
  }

  /** From the link: every device message that concerns the dispenser. */
  received(message: Extract<DeviceMessage, { verb: 'DISPENSED' | 'CASH' | 'FAULT' }>): void {
    switch (message.verb) {
      case 'CASH':
        // [SL-4.8] a dispense's CASH comes before its DISPENSED: cassettes() is current when dispense() resolves.
        this.loaded = message.cassettes.map(({ denominationCents, count }) => ({ denominationCents, count }));
        return;
      case 'DISPENSED': {
        this.dispensed(message);
        return;
      }
      case 'FAULT':
        if (message.fault === 'jam') this.jammed = true;
        if (message.fault === 'cashLow') this.lowReported = true; // the CASH before it has the counts [SL-4.9]
        if (message.fault === 'ok') {
          this.jammed = false;
          this.lowReported = false;
        }
        this.refreshState();
        return;
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }

  protected override condition(): DeviceState {
    if (this.faults.tamper) return 'fraudAttempt';
    if (this.jammed) return 'hardwareError';
    return this.pending !== null ? 'deviceBusy' : 'online';
  }

  private dispensed(message: Extract<DeviceMessage, { verb: 'DISPENSED' }>): void {
    if (message.fault === 'jam') this.jammed = true;
    if (this.pending?.id !== message.id) {
      // An answer after its timeout or reconnect: the kiosk already voided; say what really left.
      this.log(
        `serial dispenser: late DISPENSED ${message.id}: ${message.dispensedCents} cents${message.fault === null ? '' : `, fault ${message.fault}`}; reconcile the cassettes`,
      );
      this.refreshState();
      return;
    }
    const { dispensedCents, fault } = message;
    this.pending.finish(
      fault === null
        ? { ok: true, dispensedCents }
        : dispenseFailure(fault, `device reported ${fault} after ${dispensedCents} cents`, dispensedCents),
    );
  }

  private refusal(amountCents: number): DispenseResult | null {
    if (this.pending !== null)
      return dispenseFailure('hardwareError', 'a dispense is already in progress: one at a time');
    const state = this.state();
    if (state === 'offline') return dispenseFailure('offline', 'dispenser is offline');
    if (state === 'hardwareError') return dispenseFailure('hardwareError', 'dispenser is jammed: clear the jam first');
    if (state === 'fraudAttempt')
      return dispenseFailure('hardwareError', 'dispenser reports tampering: out of service');
    if (this.notesFor(amountCents) === null)
      return dispenseFailure('cannotMake', `the cassettes cannot make ${String(amountCents)} cents exactly`);
    return null;
  }
}
