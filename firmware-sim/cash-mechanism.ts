// The simulated device's cash mechanism: cassettes, the dispense in progress, the results
// remembered by id, and the faults (jam, low cash, tamper) with their announcements [SL-4.8,
// SL-4.9]. It says what it has to say through say(), which the line device only lets through
// while it talks to a host; it keeps its state while the cable is out or no one listens.
import { LOW_CASH_COUNT_DEFAULT, SIM_CASSETTES_DEFAULT, notesForAmount, takeNotes } from '../hardware/index.js';
import type { Cassette, DispenseFault } from '../hardware/index.js';
import { assert, encodeDeviceMessage } from '../protocol/index.js';
import type { DeviceMessage } from '../protocol/index.js';
import {
  DISPENSE_MEMORY_MAX,
  type ActiveFault,
  type LineDeviceEvent,
  type LineDeviceOptions,
} from './line-device-types.js';

export type CashMechanismOptions = Pick<
  LineDeviceOptions,
  'nowMs' | 'cassettes' | 'lowCashCount' | 'dispenseDelayMs' | 'jamAfterNotes'
>;

/** How the mechanism speaks: say() a line to the host (if it is listening), emit() an event. */
export interface CashMechanismVoice {
  say: (message: DeviceMessage) => void;
  emit: (event: LineDeviceEvent) => void;
}

interface PendingDispense {
  id: number;
  amountCents: number;
  dueMs: number;
}

/** Copies of valid cassettes whose CASH line fits [SL-2.3] (the encoder asserts that), one per denomination. */
function loadCassettes(cassettes: readonly Cassette[]): Cassette[] {
  assert(
    cassettes.length >= 1 && new Set(cassettes.map((c) => c.denominationCents)).size === cassettes.length,
    '1 or more cassettes, one per denomination',
  );
  const loaded = cassettes.map(({ denominationCents, count }) => ({ denominationCents, count }));
  encodeDeviceMessage({ verb: 'CASH', cassettes: loaded });
  return loaded;
}

export class CashMechanism {
  readonly lowCashCount: number;
  private readonly dispenseDelayMs: number;
  private loaded: Cassette[];
  private jamAfterNotes: number | null;
  private jammed = false;
  private tamperOpen = false;
  private lowAnnounced = false;
  private pending: PendingDispense | null = null;
  private readonly results = new Map<number, DeviceMessage>();

  constructor(
    private readonly options: CashMechanismOptions,
    private readonly voice: CashMechanismVoice,
  ) {
    this.lowCashCount = options.lowCashCount ?? LOW_CASH_COUNT_DEFAULT;
    this.dispenseDelayMs = options.dispenseDelayMs ?? 0;
    this.jamAfterNotes = options.jamAfterNotes ?? null;
    assert(Number.isSafeInteger(this.dispenseDelayMs) && this.dispenseDelayMs >= 0, 'dispenseDelayMs');
    this.loaded = loadCassettes(options.cassettes ?? SIM_CASSETTES_DEFAULT);
  }

  cassettes(): Cassette[] {
    return this.loaded.map((cassette) => ({ ...cassette }));
  }

  /** The conditions the device would report now, in announcement order [SL-4.9]. */
  faults(): ActiveFault[] {
    const active: ActiveFault[] = [];
    if (this.jammed) active.push('jam');
    if (this.isLow()) active.push('cashLow');
    if (this.tamperOpen) active.push('tamper');
    return active;
  }

  get jamArmedAfterNotes(): number | null {
    return this.jamAfterNotes;
  }

  get dispensing(): boolean {
    return this.pending !== null;
  }

  /** When the dispense in progress presents its notes, or undefined. */
  get dueMs(): number | undefined {
    return this.pending?.dueMs;
  }

  /** Time passed: present the notes of a dispense whose picking is done. */
  tick(nowMs: number): void {
    if (this.pending !== null && nowMs >= this.pending.dueMs) this.present(this.pending);
  }

  /** [SL-3.1] A new session: ids start over, and low cash is announced with the greeting. */
  sessionStarted(): void {
    this.results.clear();
    this.lowAnnounced = this.isLow();
  }

  /** A power cycle: a pick in progress presents nothing, RAM is forgotten; cassettes, jam and tamper stay. */
  powerCycled(): void {
    this.pending = null;
    this.results.clear();
    this.lowAnnounced = false;
  }

  /** The next dispense that moves notes presents afterNotes of them, then jams. */
  jamNext(afterNotes: number): void {
    assert(Number.isSafeInteger(afterNotes) && afterNotes >= 0, 'afterNotes must be a non-negative integer');
    this.jamAfterNotes = afterNotes;
    this.voice.emit({ kind: 'status' });
  }

  /** The technician clears the jam: FAULT ok, then whatever is still wrong [SL-4.9]. */
  clearJam(): void {
    if (!this.jammed) return;
    this.jammed = false;
    this.announceCleared();
  }

  /** Cassettes down to lowCashCount notes each (those with fewer keep theirs): CASH, FAULT cashLow. */
  setLowCash(): void {
    this.loaded = this.loaded.map((cassette) => ({ ...cassette, count: Math.min(cassette.count, this.lowCashCount) }));
    this.countsChanged();
  }

  /** Replenishment: new cassettes; CASH, and FAULT ok if they are no longer low. */
  setCassettes(cassettes: readonly Cassette[]): void {
    this.loaded = loadCassettes(cassettes);
    this.countsChanged();
  }

  /** The tamper switch: opened → FAULT tamper; closed → FAULT ok and what is still wrong. */
  setTamper(open: boolean): void {
    if (open === this.tamperOpen) return;
    this.tamperOpen = open;
    if (open) this.fault('tamper');
    else this.announceCleared();
  }

  /** [SL-4.8] Idempotent by id, one at a time, refused (nothing moves) when jammed, tampered or unmakeable. */
  dispense(id: number, amountCents: number): void {
    const remembered = this.results.get(id);
    if (remembered !== undefined) {
      this.voice.say(remembered);
      return;
    }
    if (this.pending?.id === id) return; // already picking: the answer is on its way
    const refusal: DispenseFault | null =
      this.pending !== null || this.jammed || this.tamperOpen
        ? 'hardwareError'
        : notesForAmount(this.loaded, amountCents) === null
          ? 'cannotMake'
          : null;
    if (refusal !== null) {
      this.finish({ id, amountCents, dueMs: 0 }, 0, refusal);
      return;
    }
    this.pending = { id, amountCents, dueMs: this.options.nowMs() + this.dispenseDelayMs };
    this.voice.emit({ kind: 'status' });
    if (this.dispenseDelayMs === 0) this.present(this.pending);
  }

  /** FAULT ok clears every fault the host holds, so what is still active is said again. */
  announceCleared(): void {
    this.voice.say({ verb: 'FAULT', fault: 'ok' });
    this.lowAnnounced = false;
    for (const fault of this.faults()) this.fault(fault);
    this.voice.emit({ kind: 'status' });
  }

  /** Notes leave largest first until an armed jam strikes; CASH and FAULTs go before DISPENSED [SL-4.8]. */
  private present(pending: PendingDispense): void {
    this.pending = null;
    const notes = notesForAmount(this.loaded, pending.amountCents);
    // The cassettes were changed (replenished, set low) while picking: nothing was presented.
    if (notes === null) {
      this.finish(pending, 0, 'cannotMake');
      return;
    }
    const { dispensedCents } = takeNotes(this.loaded, notes, this.jamAfterNotes ?? undefined);
    const jam = this.jamAfterNotes !== null && notes.length > 0;
    if (jam) {
      this.jamAfterNotes = null;
      this.jammed = true;
    }
    this.voice.say({ verb: 'CASH', cassettes: this.cassettes() });
    if (jam) this.fault('jam');
    this.announceLow();
    this.finish(pending, dispensedCents, jam ? 'jam' : null);
  }

  private finish(pending: PendingDispense, dispensedCents: number, fault: DispenseFault | null): void {
    const message: DeviceMessage = { verb: 'DISPENSED', id: pending.id, dispensedCents, fault };
    this.results.set(pending.id, message);
    if (this.results.size > DISPENSE_MEMORY_MAX) this.results.delete(this.results.keys().next().value as number);
    this.voice.say(message);
    this.voice.emit({ kind: 'dispensed', id: pending.id, amountCents: pending.amountCents, dispensedCents, fault });
  }

  private isLow(): boolean {
    return this.loaded.some((cassette) => cassette.count <= this.lowCashCount);
  }

  private countsChanged(): void {
    this.voice.say({ verb: 'CASH', cassettes: this.cassettes() });
    if (this.lowAnnounced && !this.isLow()) this.announceCleared();
    else this.announceLow();
  }

  private announceLow(): void {
    if (this.lowAnnounced || !this.isLow()) return;
    this.fault('cashLow');
  }

  private fault(fault: ActiveFault): void {
    if (fault === 'cashLow') this.lowAnnounced = true;
    this.voice.say({ verb: 'FAULT', fault });
    this.voice.emit({ kind: 'status' });
  }
}
