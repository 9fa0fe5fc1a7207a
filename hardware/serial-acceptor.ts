// The serial cash-in module: the note acceptor, escrow and deposit cassette of a device whose HELLO
// names `cashin` ([SL-4.1]), over the line the keypad, display and dispenser share. What it knows of
// the escrow is the device's last ESCROW snapshot ([SL-4.12]); SLOT is confirmed by PING → PONG
// (the device answers in order, so the snapshot is in before the PONG); STORE and RETURN carry an
// id and are repeated until answered, the device answering a repeat from memory ([SL-4.14]).
// A device without `cashin` leaves this acceptor in 'noDevice', which the kiosk treats as a kiosk
// without a cash-in module (typed envelope deposits), and a device swapped for one with the module
// is picked up at its HELLO; serial.ts says why the bundle always carries it.
import { CASH_IN_CAPABILITY, CASH_IN_ID_MAX, type CashInDeviceMessage, type EscrowSlot } from '../protocol/index.js';
import { Listeners } from './listeners.js';
import { SerialDevice, type DeviceFaults } from './serial-device.js';
import type { SerialLink } from './serial-link.js';
import type { SerialTimers } from './serial-port.js';
import { escrowOf } from './sim-acceptor.js';
import type {
  CashAcceptor,
  CashInFault,
  CashInResult,
  Cassette,
  DeviceState,
  EscrowCount,
  Unsubscribe,
} from './types.js';

export interface SerialAcceptorOptions {
  /** How long a STORE or RETURN may take before it counts as a cashInFault. Default 60 s (a customer taking notes back). */
  moveTimeoutMs?: number;
  /** While no STORED or RETURNED has come, the same line is repeated this often [SL-4.14]. Default 2 s. */
  moveRepeatMs?: number;
  /** How long the device has to confirm a SLOT line (PING → PONG). Default 2 s. */
  slotConfirmMs?: number;
  /** SLOT lines sent before openSlot() or closeSlot() gives up (each is idempotent). Default 3. */
  slotAttemptsMax?: number;
}

type Movement = 'STORE' | 'RETURN';

interface PendingMove {
  verb: Movement;
  id: number;
  finish: (result: CashInResult) => void;
}

const EMPTY: EscrowCount = { notes: [], totalCents: 0, rejected: 0 };

export class SerialAcceptor extends SerialDevice implements CashAcceptor {
  readonly kind = 'serial';
  private readonly moveTimeoutMs: number;
  private readonly moveRepeatMs: number;
  private readonly slotConfirmMs: number;
  private readonly slotAttemptsMax: number;
  private accepted: number[] = [];
  private capacity = 0;
  private held: EscrowCount = EMPTY;
  private slot: EscrowSlot = 'closed';
  private stored: Cassette[] = [];
  private pending: PendingMove | null = null;
  /** The steps, one after another: a SLOT round trip is short, so a step asked meanwhile waits its turn. */
  private queue: Promise<unknown> = Promise.resolve();
  /** A STORE or RETURN is queued or under way: other steps answer cashInBusy, as the sim's do while notes move. */
  private moving = false;
  /** The kiosk opened the slot and has not closed it: reopened after a reconnect (a HELLO shuts it [SL-4.14]). */
  private slotWanted = false;
  private nextId = 1;
  private readonly escrowListeners = new Listeners<EscrowCount>();

  constructor(
    link: SerialLink,
    faults: DeviceFaults,
    private readonly timers: SerialTimers,
    private readonly log: (line: string) => void,
    options: SerialAcceptorOptions = {},
  ) {
    super(link, faults);
    this.moveTimeoutMs = options.moveTimeoutMs ?? 60_000;
    this.moveRepeatMs = options.moveRepeatMs ?? 2_000;
    this.slotConfirmMs = options.slotConfirmMs ?? 2_000;
    this.slotAttemptsMax = options.slotAttemptsMax ?? 3;
    link.onOnline((online) => {
      if (!online)
        this.pending?.finish(
          this.failure(
            'cashInOffline',
            'the line dropped while notes moved: escrow() after the reconnect says where they are',
          ),
        );
    });
    // [SL-3.8] Asked before the link's own COUNTS and PING, so the picture is in when 'online' is announced.
    link.onGreeted(() => {
      this.slot = 'closed';
      if (!this.supported()) {
        // Another device on the port, without the module: nothing of the old one's picture holds.
        this.held = EMPTY;
        this.stored = [];
        this.accepted = [];
        this.capacity = 0;
        return;
      }
      void this.sendQuietly({ verb: 'CASHIN' });
      if (this.slotWanted) void this.sendQuietly({ verb: 'SLOT', open: true });
    });
  }

  get denominationsCents(): readonly number[] {
    return this.accepted;
  }

  get capacityNotes(): number {
    return this.capacity;
  }

  escrow(): EscrowCount {
    return { ...this.held, notes: this.held.notes.map((note) => ({ ...note })) };
  }

  cassette(): Cassette[] {
    return this.stored.map((note) => ({ ...note }));
  }

  onEscrow(listener: (escrow: EscrowCount) => void): Unsubscribe {
    return this.escrowListeners.add(listener);
  }

  openSlot(): Promise<CashInResult> {
    return this.step('slot', async () => {
      this.slotWanted = true;
      const result = await this.setSlot(true);
      if (!result.ok) this.slotWanted = false;
      return result;
    });
  }

  closeSlot(): Promise<CashInResult> {
    this.slotWanted = false;
    return this.step('slot', () => this.setSlot(false));
  }

  store(): Promise<CashInResult> {
    return this.step('move', () => this.move('STORE'));
  }

  returnNotes(): Promise<CashInResult> {
    return this.step('move', () => this.move('RETURN'));
  }

  /** From the link: every cash-in line [SL-4.10]–[SL-4.13]. */
  received(message: CashInDeviceMessage): void {
    switch (message.verb) {
      case 'ACCEPTS':
        this.accepted = [...message.denominationsCents];
        this.capacity = message.capacityNotes;
        return;
      case 'DEPOSITS':
        this.stored = message.notes.map((note) => ({ ...note }));
        return;
      case 'ESCROW': {
        this.slot = message.slot;
        const escrow = escrowOf(message.notes, message.rejected);
        const changed = JSON.stringify(escrow) !== JSON.stringify(this.held);
        this.held = escrow;
        this.refreshState();
        if (changed) this.escrowListeners.emit(this.escrow());
        return;
      }
      case 'STORED':
      case 'RETURNED':
        this.moved(message);
        return;
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }

  protected override condition(): DeviceState {
    if (!this.supported()) return 'noDevice';
    if (this.faults.tamper) return 'fraudAttempt';
    if (this.slot === 'jam') return 'hardwareError';
    return this.slot !== 'closed' || this.moving ? 'deviceBusy' : 'online';
  }

  private supported(): boolean {
    return this.link.hello?.caps.includes(CASH_IN_CAPABILITY) === true;
  }

  /**
   * One step at a time, in call order; none while notes move. Each is refused, with nothing sent,
   * when its turn comes and the module cannot take it.
   */
  private step(kind: 'slot' | 'move', body: () => Promise<CashInResult>): Promise<CashInResult> {
    if (this.moving) return Promise.resolve(this.failure('cashInBusy', 'notes are moving: one step at a time'));
    if (kind === 'move') this.moving = true;
    const run = this.queue.then(async () => {
      try {
        return this.refusal() ?? (await body());
      } finally {
        if (kind === 'move') this.moving = false;
        this.refreshState();
      }
    });
    this.queue = run.catch(() => undefined);
    return run;
  }

  private refusal(): CashInResult | null {
    const state = this.state();
    if (state === 'offline') return this.failure('cashInOffline', 'the cash-in module is offline');
    if (state === 'noDevice') return this.failure('cashInFault', 'the device has no cash-in module');
    if (state === 'fraudAttempt') return this.failure('cashInFault', 'the device reports tampering: out of service');
    if (this.slot === 'jam') return this.failure('escrowJam', 'the escrow is jammed: a technician must clear it');
    if (this.slot === 'moving') return this.failure('cashInBusy', 'notes are moving: one step at a time');
    return null;
  }

  /** [SL-3.9] SLOT, then PING: the PONG comes after the ESCROW that answers it. Idempotent, so tried again if a line was lost. */
  private async setSlot(open: boolean): Promise<CashInResult> {
    for (let attempt = 1; attempt <= this.slotAttemptsMax; attempt += 1) {
      try {
        await this.link.send({ verb: 'SLOT', open });
        await this.link.confirm(this.slotConfirmMs);
      } catch (error) {
        if (!this.link.online)
          return this.failure('cashInOffline', `SLOT ${open ? 'OPEN' : 'CLOSE'}: ${String(error)}`);
        continue; // a lost PING or PONG: ask again
      }
      if (this.slot === 'jam') return this.failure('escrowJam', 'the escrow is jammed: the slot stays shut');
      if (this.slot === 'moving') return this.failure('cashInBusy', 'notes are moving: the slot stays shut');
      if ((this.slot === 'open') === open) return { ok: true, escrow: this.escrow() };
    }
    return this.failure(
      'cashInFault',
      `the device did not ${open ? 'open' : 'close'} its slot after ${this.slotAttemptsMax} tries`,
    );
  }

  /** [SL-3.10] STORE id / RETURN id, repeated every moveRepeatMs until STORED / RETURNED id, or moveTimeoutMs. */
  private move(verb: Movement): Promise<CashInResult> {
    this.slotWanted = false;
    const id = this.nextId;
    // Ids only need to differ within a session [SL-4.14]: they count up from 1 and wrap.
    this.nextId = this.nextId === CASH_IN_ID_MAX ? 1 : this.nextId + 1;
    return new Promise<CashInResult>((resolve) => {
      let cancelRepeat = (): void => undefined;
      const cancelTimeout = this.timers.schedule(this.moveTimeoutMs, () =>
        finish(
          this.failure(
            'cashInFault',
            `no answer to ${verb} ${id} within ${this.moveTimeoutMs} ms: escrow() and cassette() say where the notes are`,
          ),
        ),
      );
      const finish = (result: CashInResult): void => {
        if (this.pending?.id !== id) return;
        cancelTimeout();
        cancelRepeat();
        this.pending = null;
        this.refreshState();
        resolve(result);
      };
      const ask = (): void => {
        this.link
          .send({ verb, id })
          .catch((error: unknown) => finish(this.failure('cashInOffline', `${verb} not sent: ${String(error)}`)));
        cancelRepeat = this.timers.schedule(this.moveRepeatMs, ask);
      };
      this.pending = { verb, id, finish };
      this.refreshState();
      ask();
    });
  }

  /** [SL-4.14] The ESCROW (and DEPOSITS) before it are in: escrow() and cassette() are current. */
  private moved(message: Extract<CashInDeviceMessage, { verb: 'STORED' | 'RETURNED' }>): void {
    const verb: Movement = message.verb === 'STORED' ? 'STORE' : 'RETURN';
    const cents = message.verb === 'STORED' ? message.storedCents : message.returnedCents;
    const pending = this.pending;
    if (pending?.verb !== verb || pending.id !== message.id) {
      this.log(
        `serial cash-in: late ${message.verb} ${message.id}: ${cents} cents${message.fault === null ? '' : `, fault ${message.fault}`}`,
      );
      return;
    }
    pending.finish(
      message.fault === null
        ? { ok: true, escrow: this.escrow() }
        : this.failure(message.fault, `device reported ${message.fault} (${cents} cents moved)`),
    );
  }

  private failure(fault: CashInFault, detail: string): CashInResult {
    return { ok: false, fault, detail, escrow: this.escrow() };
  }

  private async sendQuietly(message: Parameters<SerialLink['send']>[0]): Promise<void> {
    // A failed write fails the link's PING too, which ends the handshake: nothing to do here.
    await this.link.send(message).catch(() => undefined);
  }
}
