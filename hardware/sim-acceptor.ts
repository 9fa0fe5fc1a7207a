// The simulated cash-in module: a note validator, an escrow and a deposit cassette in memory,
// with test powers (insert notes, torn notes, jams, a full cassette, notes not taken back). Its
// escrow and cassette can live in a state file, so that a kiosk killed mid-deposit finds the
// notes still in the escrow when it restarts, as it would on a real machine.
import fs from 'node:fs';
import { assert } from '../protocol/index.js';
import { SimDevice } from './sim-device.js';
import { ESCROW_NOTES_MAX } from './types.js';
import type { CashAcceptor, CashInFault, CashInResult, Cassette, DeviceState, EscrowCount } from './types.js';
import { Listeners } from './listeners.js';
import type { Unsubscribe } from './types.js';

/** 50.00, 20.00, 10.00 and 5.00 notes: what a street ATM's validator is set to take. */
export const SIM_ACCEPTED_DENOMINATIONS_DEFAULT: readonly number[] = [5000, 2000, 1000, 500];
export const SIM_DEPOSIT_CAPACITY_DEFAULT = 1_000;

export interface SimAcceptorOptions {
  denominationsCents?: readonly number[];
  /** Notes the deposit cassette holds before it reports 'cassetteFull'. */
  capacityNotes?: number;
  /** Where the escrow and cassette are kept across restarts (mode 0600); absent: memory only. */
  stateFile?: string;
}

interface Persisted {
  escrow: Cassette[];
  rejected: number;
  cassette: Cassette[];
}

/** The outcome of one inserted note, for the test power and the demo's keys. */
export type InsertOutcome = 'counted' | 'rejected' | 'slotClosed';

export function escrowOf(notes: readonly Cassette[], rejected: number): EscrowCount {
  const sorted = notes
    .filter((note) => note.count > 0)
    .map((note) => ({ ...note }))
    .sort((a, b) => b.denominationCents - a.denominationCents);
  return {
    notes: sorted,
    totalCents: sorted.reduce((sum, note) => sum + note.denominationCents * note.count, 0),
    rejected,
  };
}

export function notesIn(escrow: EscrowCount): number {
  return escrow.notes.reduce((sum, note) => sum + note.count, 0);
}

export class SimAcceptor extends SimDevice implements CashAcceptor {
  readonly kind = 'sim';
  readonly denominationsCents: readonly number[];
  readonly capacityNotes: number;
  private readonly stateFile: string | null;
  private held: Cassette[] = [];
  private rejected = 0;
  private stored: Cassette[] = [];
  private slotOpen = false;
  private moving = false;
  private jammed = false;
  private jamArmed = false;
  private leaveReturned = false;
  private readonly escrowListeners = new Listeners<EscrowCount>();

  constructor(options: SimAcceptorOptions = {}) {
    super();
    this.denominationsCents = [...(options.denominationsCents ?? SIM_ACCEPTED_DENOMINATIONS_DEFAULT)].sort(
      (a, b) => b - a,
    );
    this.capacityNotes = options.capacityNotes ?? SIM_DEPOSIT_CAPACITY_DEFAULT;
    assert(this.denominationsCents.length > 0, 'at least one accepted denomination');
    for (const cents of this.denominationsCents)
      assert(Number.isSafeInteger(cents) && cents > 0, `bad denomination ${cents}`);
    assert(Number.isSafeInteger(this.capacityNotes) && this.capacityNotes > 0, 'capacityNotes must be positive');
    this.stateFile = options.stateFile ?? null;
    this.load();
  }

  escrow(): EscrowCount {
    return escrowOf(this.held, this.rejected);
  }

  cassette(): Cassette[] {
    return this.stored.map((note) => ({ ...note })).sort((a, b) => b.denominationCents - a.denominationCents);
  }

  openSlot(): Promise<CashInResult> {
    const refusal = this.refusal();
    if (refusal !== null) return Promise.resolve(refusal);
    this.slotOpen = true;
    this.refreshState();
    return Promise.resolve({ ok: true, escrow: this.escrow() });
  }

  closeSlot(): Promise<CashInResult> {
    this.slotOpen = false;
    this.refreshState();
    return Promise.resolve({ ok: true, escrow: this.escrow() });
  }

  store(): Promise<CashInResult> {
    return this.move('store', () => {
      const count = notesIn(this.escrow());
      const storedCount = this.stored.reduce((sum, note) => sum + note.count, 0);
      if (storedCount + count > this.capacityNotes)
        return this.failure('cassetteFull', `the deposit cassette holds ${storedCount} of ${this.capacityNotes} notes`);
      for (const note of this.held) {
        const slot = this.stored.find((candidate) => candidate.denominationCents === note.denominationCents);
        if (slot === undefined) this.stored.push({ ...note });
        else slot.count += note.count;
      }
      return null;
    });
  }

  returnNotes(): Promise<CashInResult> {
    return this.move('return', () => {
      if (!this.leaveReturned) return null;
      // The customer walked away: the notes are pulled back into the retain bin, out of the escrow.
      this.leaveReturned = false;
      const retained = this.escrow();
      this.clearEscrow();
      return {
        ok: false,
        fault: 'notesNotTaken',
        detail: `${notesIn(retained)} notes (${retained.totalCents} cents) not taken back: retained`,
        escrow: this.escrow(),
      };
    });
  }

  onEscrow(listener: (escrow: EscrowCount) => void): Unsubscribe {
    return this.escrowListeners.add(listener);
  }

  /** Test/demo power: a note into the open slot; one the validator does not know is refused. */
  insert(denominationCents: number | 'torn'): InsertOutcome {
    if (!this.slotOpen || this.state() === 'offline') return 'slotClosed';
    const known = denominationCents !== 'torn' && this.denominationsCents.includes(denominationCents);
    if (!known || notesIn(this.escrow()) >= ESCROW_NOTES_MAX) {
      this.rejected += 1;
    } else {
      const slot = this.held.find((note) => note.denominationCents === denominationCents);
      if (slot === undefined) this.held.push({ denominationCents, count: 1 });
      else slot.count += 1;
    }
    this.changed();
    return known ? 'counted' : 'rejected';
  }

  /** Test power: the next store or return jams with the notes still in the escrow. */
  jamNext(): void {
    this.jamArmed = true;
  }

  /** Test power: the technician clears the jam; the notes are still in the escrow. */
  clearJam(): void {
    this.jammed = false;
    this.refreshState();
  }

  /** Test power: the customer does not take the next returned notes; they are retained. */
  leaveNextReturn(): void {
    this.leaveReturned = true;
  }

  /** Test power (and supervisor replenishment): empty the deposit cassette. */
  emptyCassette(): void {
    this.stored = [];
    this.persist();
  }

  protected override condition(): DeviceState {
    if (this.jammed) return 'hardwareError';
    return this.slotOpen || this.moving ? 'deviceBusy' : 'online';
  }

  private refusal(): CashInResult | null {
    const state = this.state();
    if (state === 'offline') return this.failure('cashInOffline', 'the cash-in module is offline');
    if (this.jammed) return this.failure('escrowJam', 'the escrow is jammed: a technician must clear it');
    if (this.moving) return this.failure('cashInBusy', 'notes are moving: one step at a time');
    return null;
  }

  /** One movement of the escrow's notes; on success (body answers null) the escrow is empty. */
  private async move(what: 'store' | 'return', body: () => CashInResult | null): Promise<CashInResult> {
    const refusal = this.refusal();
    if (refusal !== null) return refusal;
    this.slotOpen = false;
    if (this.jamArmed) {
      this.jamArmed = false;
      this.jammed = true;
      this.refreshState();
      return this.failure('escrowJam', `notes jammed in the escrow during ${what}`);
    }
    this.moving = true;
    this.refreshState();
    // The mechanism's time: other callers see 'busy' meanwhile.
    await Promise.resolve();
    this.moving = false;
    const failed = body();
    if (failed === null) this.clearEscrow();
    else this.persist();
    this.refreshState();
    return failed ?? { ok: true, escrow: this.escrow() };
  }

  private clearEscrow(): void {
    this.held = [];
    this.rejected = 0;
    this.changed();
  }

  private failure(fault: CashInFault, detail: string): CashInResult {
    return { ok: false, fault, detail, escrow: this.escrow() };
  }

  private changed(): void {
    this.persist();
    this.escrowListeners.emit(this.escrow());
  }

  private persist(): void {
    if (this.stateFile === null) return;
    const state: Persisted = { escrow: this.held, rejected: this.rejected, cassette: this.stored };
    const temp = `${this.stateFile}.tmp`;
    fs.writeFileSync(temp, JSON.stringify(state), { mode: 0o600 });
    fs.renameSync(temp, this.stateFile);
  }

  private load(): void {
    if (this.stateFile === null || !fs.existsSync(this.stateFile)) return;
    const parsed = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as Persisted;
    const valid = (notes: unknown): notes is Cassette[] =>
      Array.isArray(notes) &&
      notes.every(
        (note: Partial<Cassette>) =>
          Number.isSafeInteger(note.denominationCents) && Number.isSafeInteger(note.count) && (note.count ?? -1) >= 0,
      );
    assert(
      valid(parsed.escrow) && valid(parsed.cassette) && Number.isSafeInteger(parsed.rejected),
      `${this.stateFile}: not a cash-in state file`,
    );
    this.held = parsed.escrow;
    this.rejected = parsed.rejected;
    this.stored = parsed.cassette;
  }
}
