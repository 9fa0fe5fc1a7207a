// The simulated cash dispenser: notes in memory, with test powers (jamNext, fail after some
// notes, setCassettes) and an injectable delay; one of the sim drivers re-exported by sim.ts.
import { assert } from '../protocol/index.js';
import {
  SIM_CASSETTES_DEFAULT,
  LOW_CASH_COUNT_DEFAULT,
  assertCassettes,
  dispenseFailure,
  notesForAmount,
  takeNotes,
} from './cash.js';
import { SimDevice } from './sim-device.js';
import type { CashDispenser, Cassette, DeviceState, DispenseResult, TakeOutcome } from './types.js';

export interface SimDispenserOptions {
  /** Default SIM_CASSETTES_DEFAULT: 100 notes of 2000 cents and 100 of 1000 cents. */
  cassettes?: readonly Cassette[];
  /** isLow() once any cassette holds this many notes or fewer. Default 10. */
  lowCashCount?: number;
  /** Time the mechanism takes to pick notes, for the demo's "Dispensing…"; default 0. */
  delayMs?: number;
  /** How delayMs is waited; tests inject a controllable one. Default resolves at once. */
  sleep?: (ms: number) => Promise<void>;
}

/** A note dispenser in memory. It never reports the 'cashLow' fault: low cash is isLow(), a status. */
export class SimDispenser extends SimDevice implements CashDispenser {
  readonly kind = 'sim';
  readonly lowCashCount: number;
  private readonly delayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private loaded: Cassette[] = [];
  private jamAfterNotes: number | null = null;
  private jammed = false;
  private dispensing = false;
  /** Cents presented at the slot and not yet taken or retracted. */
  private presentedCents = 0;
  private leavePresented = false;
  private retracted = { notes: 0, cents: 0, times: 0 };
  private lastNotes = 0;

  constructor(options: SimDispenserOptions = {}) {
    super();
    this.lowCashCount = options.lowCashCount ?? LOW_CASH_COUNT_DEFAULT;
    this.delayMs = options.delayMs ?? 0;
    this.sleep = options.sleep ?? (() => Promise.resolve());
    assert(
      Number.isSafeInteger(this.lowCashCount) && this.lowCashCount >= 0,
      'lowCashCount must be a non-negative integer',
    );
    assert(Number.isSafeInteger(this.delayMs) && this.delayMs >= 0, 'delayMs must be a non-negative integer');
    this.setCassettes(options.cassettes ?? SIM_CASSETTES_DEFAULT);
  }

  cassettes(): Cassette[] {
    return this.loaded.map((cassette) => ({ ...cassette }));
  }

  notesFor(amountCents: number): Cassette[] | null {
    return notesForAmount(this.loaded, amountCents);
  }

  /** True when any cassette holds lowCashCount notes or fewer (XFS "low": count ≤ threshold). */
  isLow(): boolean {
    return this.loaded.some((cassette) => cassette.count <= this.lowCashCount);
  }

  async dispense(amountCents: number): Promise<DispenseResult> {
    const refusal = this.refusal(amountCents);
    if (refusal !== null) return refusal;
    this.dispensing = true;
    this.refreshState();
    const pickFault = await this.pick();
    this.dispensing = false;
    const notes = this.notesFor(amountCents);
    assert(notes !== null, 'the cassettes changed during a dispense');
    // The cable may have gone while notes were being picked: then nothing was presented.
    const result =
      pickFault !== null
        ? dispenseFailure('hardwareError', pickFault)
        : this.state() === 'offline'
          ? dispenseFailure('offline', 'dispenser went offline before presenting notes')
          : this.present(notes);
    this.refreshState();
    return result;
  }

  /** Test power: the next dispense that moves notes presents only afterNotes of them, then jams. */
  jamNext(options: { afterNotes?: number } = {}): void {
    const afterNotes = options.afterNotes ?? 0;
    assert(Number.isSafeInteger(afterNotes) && afterNotes >= 0, 'afterNotes must be a non-negative integer');
    this.jamAfterNotes = afterNotes;
  }

  /**
   * The simulated customer takes what was presented at once, unless leaveNextPresented() was
   * called: then the notes wait out timeoutMs (the injected sleep) and are retracted.
   */
  async awaitTake(timeoutMs: number): Promise<TakeOutcome> {
    assert(Number.isSafeInteger(timeoutMs) && timeoutMs > 0, 'timeoutMs must be a positive integer');
    if (this.presentedCents === 0) return 'nothing';
    if (!this.leavePresented) {
      this.presentedCents = 0;
      return 'taken';
    }
    this.leavePresented = false;
    try {
      await this.sleep(timeoutMs);
    } catch {
      // a sleep that fails ends the wait early: the notes are retracted all the same
    }
    const notes = this.lastNotes;
    this.retracted = {
      notes: this.retracted.notes + notes,
      cents: this.retracted.cents + this.presentedCents,
      times: this.retracted.times + 1,
    };
    this.presentedCents = 0;
    return 'retracted';
  }

  /** Test power: the customer walks away from the next notes presented; they are retracted. */
  leaveNextPresented(): void {
    this.leavePresented = true;
  }

  retractedNotes(): number {
    return this.retracted.notes;
  }

  /** Counters of the retract bin since start: notes, cents and retractions (reported to supervisors). */
  retractCounters(): { notes: number; cents: number; times: number } {
    return { ...this.retracted };
  }

  /** Test power: the technician clears the jam; the dispenser is 'online' again. */
  clearJam(): void {
    this.jammed = false;
    this.refreshState();
  }

  /** Test power (and supervisor replenishment): replace the cassettes. Not during a dispense. */
  setCassettes(cassettes: readonly Cassette[]): void {
    assert(!this.dispensing, 'setCassettes during a dispense');
    assertCassettes(cassettes);
    this.loaded = cassettes.map(({ denominationCents, count }) => ({ denominationCents, count }));
  }

  protected override condition(): DeviceState {
    if (this.jammed) return 'hardwareError';
    return this.dispensing ? 'deviceBusy' : 'online';
  }

  /** Why this dispense cannot start, checked before anything moves; null when it can. */
  private refusal(amountCents: number): DispenseResult | null {
    if (this.dispensing) return dispenseFailure('hardwareError', 'a dispense is already in progress: one at a time');
    const state = this.state();
    if (state === 'offline') return dispenseFailure('offline', 'dispenser is offline');
    if (state === 'hardwareError') return dispenseFailure('hardwareError', 'dispenser is jammed: clear the jam first');
    if (this.notesFor(amountCents) === null)
      return dispenseFailure('cannotMake', `the cassettes cannot make ${String(amountCents)} cents exactly`);
    return null;
  }

  /** Waits delayMs with the injected sleep; a sleep that fails is reported as a fault, never thrown. */
  private async pick(): Promise<string | null> {
    if (this.delayMs === 0) return null;
    try {
      await this.sleep(this.delayMs);
      return null;
    } catch (error) {
      return `dispenser fault while picking notes: ${String(error)}`;
    }
  }

  /** Presents the notes largest first, stopping where an armed jam strikes. */
  private present(notes: readonly Cassette[]): DispenseResult {
    const { presented, dispensedCents } = takeNotes(this.loaded, notes, this.jamAfterNotes ?? undefined);
    this.presentedCents = dispensedCents;
    this.lastNotes = presented;
    if (this.jamAfterNotes === null) return { ok: true, dispensedCents };
    this.jamAfterNotes = null;
    this.jammed = true;
    return dispenseFailure('jam', `notes jammed after ${presented} presented`, dispensedCents);
  }
}
