// The simulated device's cash-in module: a note validator behind a slot, an escrow and a deposit
// cassette, with the movements STORE and RETURN remembered by id ([SL-3.8]–[SL-3.10],
// [SL-4.10]–[SL-4.14]). Like the cash mechanism it speaks through say(), which the line device
// lets through only while it talks to a host; and it says nothing of cash-in to a host that has not
// asked (CASHIN or another cash-in verb) in this session, since an older host would count every
// such line as unknown. The escrow, the cassette and a jam are physical: they survive a power cycle.
import {
  ESCROW_NOTES_MAX,
  SIM_ACCEPTED_DENOMINATIONS_DEFAULT,
  SIM_DEPOSIT_CAPACITY_DEFAULT,
  escrowOf,
  notesIn,
  type Cassette,
  type EscrowCount,
  type InsertOutcome,
} from '../hardware/index.js';
import { ESCROW_REJECTED_MAX, LINE_BYTES_MAX, assert, encodeDeviceMessage } from '../protocol/index.js';
import type { CashInDeviceMessage, DeviceMessage, EscrowSlot } from '../protocol/index.js';
import { CASH_IN_MEMORY_MAX, type CashInOptions, type LineDeviceEvent } from './line-device-types.js';

type Movement = 'STORE' | 'RETURN';

interface PendingMove {
  verb: Movement;
  id: number;
  dueMs: number;
}

/** How the module speaks: say() a line to the host (if it is listening), emit() an event. */
export interface CashInVoice {
  say: (message: DeviceMessage) => void;
  emit: (event: LineDeviceEvent) => void;
}

const countNotes = (stack: readonly Cassette[]): number => stack.reduce((sum, note) => sum + note.count, 0);

/** Adds notes to a stack by denomination (mutating it). */
function addNotes(stack: Cassette[], notes: readonly Cassette[]): void {
  for (const note of notes) {
    const slot = stack.find((held) => held.denominationCents === note.denominationCents);
    if (slot === undefined) stack.push({ ...note });
    else slot.count += note.count;
  }
}

export class CashInMechanism {
  readonly denominationsCents: readonly number[];
  readonly capacityNotes: number;
  private readonly moveDelayMs: number;
  private held: Cassette[] = [];
  private rejected = 0;
  private stored: Cassette[] = [];
  private slotOpen = false;
  private jammed = false;
  private jamArmed = false;
  private leaveArmed = false;
  private pending: PendingMove | null = null;
  /** [SL-4.14] Whether this session's host spoke cash-in: only then are cash-in lines said. */
  private listening = false;
  private readonly results = new Map<string, CashInDeviceMessage>();

  constructor(
    options: CashInOptions,
    private readonly nowMs: () => number,
    private readonly voice: CashInVoice,
  ) {
    this.denominationsCents = [...(options.denominationsCents ?? SIM_ACCEPTED_DENOMINATIONS_DEFAULT)].sort(
      (a, b) => b - a,
    );
    this.capacityNotes = options.capacityNotes ?? SIM_DEPOSIT_CAPACITY_DEFAULT;
    this.moveDelayMs = options.moveDelayMs ?? 0;
    assert(Number.isSafeInteger(this.moveDelayMs) && this.moveDelayMs >= 0, 'moveDelayMs');
    // [SL-2.3] Every line this module can say must fit: ACCEPTS and the fullest DEPOSITS are encoded
    // once here (the encoder asserts the limit); for ESCROW, whose notes are bounded in total, the
    // bound is each denomination with a count as wide as ESCROW_NOTES_MAX.
    encodeDeviceMessage({
      verb: 'ACCEPTS',
      capacityNotes: this.capacityNotes,
      denominationsCents: [...this.denominationsCents],
    });
    encodeDeviceMessage({
      verb: 'DEPOSITS',
      notes: this.denominationsCents.map((cents) => ({ denominationCents: cents, count: this.capacityNotes })),
    });
    const widest = [
      'ESCROW moving',
      ESCROW_REJECTED_MAX,
      ...this.denominationsCents.map((c) => `${c}:${ESCROW_NOTES_MAX}`),
    ];
    const escrowBytes = `${widest.join(' ')}*HH\n`.length;
    assert(escrowBytes <= LINE_BYTES_MAX, `the longest ESCROW line (${escrowBytes} bytes) exceeds ${LINE_BYTES_MAX}`);
  }

  escrow(): EscrowCount {
    return escrowOf(this.held, this.rejected);
  }

  deposits(): Cassette[] {
    return escrowOf(this.stored, 0).notes;
  }

  get slot(): EscrowSlot {
    if (this.jammed) return 'jam';
    if (this.pending !== null) return 'moving';
    return this.slotOpen ? 'open' : 'closed';
  }

  get jamArmedNext(): boolean {
    return this.jamArmed;
  }

  /** When the movement in progress ends, or undefined. */
  get dueMs(): number | undefined {
    return this.pending?.dueMs;
  }

  /** What a replug compares: the lines said while the cable was out were lost [SL-5.4]. */
  picture(): string {
    return JSON.stringify([this.slot, this.escrow(), this.deposits()]);
  }

  tick(nowMs: number): void {
    if (this.pending !== null && nowMs >= this.pending.dueMs) this.finish(this.pending);
  }

  /** [SL-4.14] A new session: ids start over, the slot closes (the host that opened it is gone), nothing said until asked. */
  sessionStarted(): void {
    this.results.clear();
    this.listening = false;
    this.slotOpen = false;
  }

  /** A power cycle: a movement in progress moves nothing, RAM is forgotten; the notes, the cassette and a jam stay. */
  powerCycled(): void {
    this.pending = null;
    this.sessionStarted();
  }

  /** [SL-3.8] CASHIN: the whole picture, ACCEPTS, DEPOSITS, ESCROW. */
  describe(): void {
    this.listening = true;
    this.say({ verb: 'ACCEPTS', capacityNotes: this.capacityNotes, denominationsCents: [...this.denominationsCents] });
    this.say({ verb: 'DEPOSITS', notes: this.deposits() });
    this.sayEscrow();
  }

  /** [SL-5.4] After a replug that changed something: the whole picture again, to a host that listens. */
  repeat(): void {
    if (this.listening) this.describe();
  }

  /** [SL-3.9] SLOT OPEN|CLOSE: idempotent; a jammed or moving module keeps its slot shut. Answered by ESCROW. */
  setSlot(open: boolean): void {
    this.listening = true;
    if (!this.jammed && this.pending === null) this.slotOpen = open;
    this.sayEscrow();
    this.voice.emit({ kind: 'status' });
  }

  /** [SL-3.10] STORE id / RETURN id: at most once by id; one at a time; nothing moves while jammed. */
  move(verb: Movement, id: number): void {
    this.listening = true;
    const remembered = this.results.get(`${verb} ${id}`);
    if (remembered !== undefined) {
      this.say(remembered);
      return;
    }
    if (this.pending?.verb === verb && this.pending.id === id) return; // moving: the answer is on its way
    if (this.pending !== null || this.jammed) {
      this.refuse(verb, id, this.jammed ? 'escrowJam' : 'cashInBusy');
      return;
    }
    this.slotOpen = false;
    this.pending = { verb, id, dueMs: this.nowMs() + this.moveDelayMs };
    this.sayEscrow();
    this.voice.emit({ kind: 'status' });
    if (this.moveDelayMs === 0) this.finish(this.pending);
  }

  /** A note into the slot (the console's and the script's power): counted, refused, or pushed back by a shut slot. */
  insert(note: number | 'torn'): InsertOutcome {
    if (this.slot !== 'open') return this.inserted(note, 'slotClosed');
    const known = note !== 'torn' && this.denominationsCents.includes(note);
    const outcome = known && notesIn(this.escrow()) < ESCROW_NOTES_MAX ? 'counted' : 'rejected';
    if (outcome === 'counted' && note !== 'torn') addNotes(this.held, [{ denominationCents: note, count: 1 }]);
    else this.rejected = Math.min(this.rejected + 1, ESCROW_REJECTED_MAX);
    this.sayEscrow();
    return this.inserted(note, outcome);
  }

  /** The next STORE or RETURN jams with the notes still in the escrow. */
  jamNext(): void {
    this.jamArmed = true;
    this.voice.emit({ kind: 'status' });
  }

  /** The technician clears an escrow jam: the notes are still there, and the host hears so. */
  clearJam(): void {
    if (!this.jammed) return;
    this.jammed = false;
    this.sayEscrow();
    this.voice.emit({ kind: 'status' });
  }

  /** The customer walks away from the next returned notes: they are retained. */
  leaveNextReturn(): void {
    this.leaveArmed = true;
    this.voice.emit({ kind: 'status' });
  }

  /** The movement's end: consequences first (DEPOSITS, ESCROW), the answer last [SL-4.14]. */
  private finish(pending: PendingMove): void {
    this.pending = null;
    const { verb, id } = pending;
    const escrow = this.escrow();
    if (this.jamArmed) {
      this.jamArmed = false;
      this.jammed = true;
      this.sayEscrow();
      this.refuse(verb, id, 'escrowJam');
      return;
    }
    if (verb === 'STORE' && countNotes(this.stored) + notesIn(escrow) > this.capacityNotes) {
      this.sayEscrow();
      this.answer({ verb: 'STORED', id, storedCents: 0, fault: 'cassetteFull' });
      return;
    }
    if (verb === 'STORE') addNotes(this.stored, escrow.notes);
    const retained = verb === 'RETURN' && this.leaveArmed && escrow.totalCents > 0;
    if (retained) this.leaveArmed = false;
    this.held = [];
    this.rejected = 0;
    if (verb === 'STORE') this.say({ verb: 'DEPOSITS', notes: this.deposits() });
    this.sayEscrow();
    this.answer(
      verb === 'STORE'
        ? { verb: 'STORED', id, storedCents: escrow.totalCents, fault: null }
        : { verb: 'RETURNED', id, returnedCents: escrow.totalCents, fault: retained ? 'notesNotTaken' : null },
    );
  }

  /** Nothing moved: busy with another movement, or jammed. */
  private refuse(verb: Movement, id: number, fault: 'escrowJam' | 'cashInBusy'): void {
    this.answer(
      verb === 'STORE'
        ? { verb: 'STORED', id, storedCents: 0, fault }
        : { verb: 'RETURNED', id, returnedCents: 0, fault },
    );
  }

  /** Said, and remembered by verb and id so a repeated STORE or RETURN gets it again and moves nothing. */
  private answer(message: Extract<CashInDeviceMessage, { verb: 'STORED' | 'RETURNED' }>): void {
    const verb: Movement = message.verb === 'STORED' ? 'STORE' : 'RETURN';
    this.results.set(`${verb} ${message.id}`, message);
    if (this.results.size > CASH_IN_MEMORY_MAX) this.results.delete(this.results.keys().next().value as string);
    this.say(message);
    const cents = message.verb === 'STORED' ? message.storedCents : message.returnedCents;
    this.voice.emit({ kind: 'cashIn', verb, id: message.id, cents, fault: message.fault });
  }

  private inserted(note: number | 'torn', outcome: InsertOutcome): InsertOutcome {
    this.voice.emit({ kind: 'note', note, outcome });
    return outcome;
  }

  private sayEscrow(): void {
    const { notes, rejected } = this.escrow();
    this.say({ verb: 'ESCROW', slot: this.slot, rejected, notes });
  }

  private say(message: CashInDeviceMessage): void {
    if (this.listening) this.voice.say(message);
  }
}
