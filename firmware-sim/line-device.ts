// The microcontroller's side of the serial line protocol (hardware/PROTOCOL.md, [SL-n]) as a
// state machine: bytes from the host in, bytes to the host out through the injected send(),
// time from the injected nowMs(). No ports, timers or randomness of its own: the edge
// (firmware-sim/runner.ts) feeds it and calls tick() at nextDeadlineMs(); tests do the same
// with a fake clock. It holds a 4×20 LCD buffer and the session; the cassettes, dispenses and
// faults are the cash mechanism's (cash-mechanism.ts), the note acceptor's the cash-in module's
// (cash-in-mechanism.ts); both speak only through this device's session rule: talk only after
// HELLO, with the cable in.
import type { Cassette, EscrowCount, InsertOutcome, KeyName } from '../hardware/index.js';
import {
  CASH_IN_CAPABILITY,
  HEARTBEAT_INTERVAL_MS,
  LCD_COLUMNS_MAX,
  LCD_ROWS_MAX,
  LineSplitter,
  SERIAL_PROTOCOL_VERSION,
  assert,
  encodeDeviceMessage,
  parseHostLine,
} from '../protocol/index.js';
import type { CashInHostMessage, DeviceMessage, HostMessage, LineStats } from '../protocol/index.js';
import { CashInMechanism } from './cash-in-mechanism.js';
import { CashMechanism } from './cash-mechanism.js';
import { LcdBuffer } from './lcd-buffer.js';
import {
  DEVICE_NAME_DEFAULT,
  HOST_SILENCE_MS,
  NoiseBytes,
  type ActiveFault,
  type LineDeviceEvent,
  type LineDeviceOptions,
  type LineDeviceState,
} from './line-device-types.js';

export class LineDevice {
  readonly rows: number;
  readonly columns: number;
  private readonly options: LineDeviceOptions;
  private readonly cash: CashMechanism;
  /** The note acceptor, escrow and deposit cassette; null on a device without one. */
  private readonly cashIn: CashInMechanism | null;
  private readonly splitter = new LineSplitter();
  private sessionState: LineDeviceState = 'awaitingHello';
  private plugged = true;
  private bootMs: number;
  private nextHeartbeatMs = 0;
  private lastHeardMs = 0;
  private readonly lcd: LcdBuffer;
  private readonly noise: NoiseBytes;
  private cassettesAtUnplug = '';
  private faultsAtUnplug = '';
  private cashInAtUnplug = '';

  constructor(options: LineDeviceOptions) {
    this.options = options;
    this.rows = options.rows ?? 4;
    this.columns = options.columns ?? 20;
    this.noise = new NoiseBytes(options.seed ?? 1);
    assert(Number.isSafeInteger(this.rows) && this.rows >= 1 && this.rows <= LCD_ROWS_MAX, 'rows 1..4');
    assert(Number.isSafeInteger(this.columns) && this.columns >= 1 && this.columns <= LCD_COLUMNS_MAX, 'columns 1..40');
    this.lcd = new LcdBuffer(this.rows, this.columns);
    this.cash = new CashMechanism(options, {
      say: (message) => this.send(message),
      emit: (event) => this.emit(event),
    });
    this.cashIn =
      options.cashIn === undefined
        ? null
        : new CashInMechanism(options.cashIn, options.nowMs, {
            say: (message) => this.send(message),
            emit: (event) => this.emit(event),
          });
    this.bootMs = options.nowMs();
  }

  get lowCashCount(): number {
    return this.cash.lowCashCount;
  }

  // ------------------------------------------------------------------ what the device shows

  get state(): LineDeviceState {
    return this.sessionState;
  }

  get isPlugged(): boolean {
    return this.plugged;
  }

  /** The LCD now: `rows` strings of `columns` characters. */
  displayLines(): string[] {
    return this.lcd.lines();
  }

  get backlightOn(): boolean {
    return this.lcd.backlightOn;
  }

  cassettes(): Cassette[] {
    return this.cash.cassettes();
  }

  /** The conditions the device would report now, in announcement order [SL-4.9]. */
  faults(): ActiveFault[] {
    return this.cash.faults();
  }

  /** Lines received, and those dropped: oversize, corrupt (incl. bad checksum), unknown verb. */
  get stats(): LineStats {
    return { ...this.splitter.stats };
  }

  /** The armed jam's note count (jamNext, --jam-after), or null when none is armed. */
  get jamArmedAfterNotes(): number | null {
    return this.cash.jamArmedAfterNotes;
  }

  get dispensing(): boolean {
    return this.cash.dispensing;
  }

  /** Whether the device has a cash-in module (and says `cashin` in HELLO). */
  get hasCashIn(): boolean {
    return this.cashIn !== null;
  }

  /** What the note validator accepts, largest first (none without a cash-in module). */
  get denominationsCents(): readonly number[] {
    return this.cashIn?.denominationsCents ?? [];
  }

  /** The escrow now (empty on a device without a cash-in module). */
  escrow(): EscrowCount {
    return this.cashIn?.escrow() ?? { notes: [], totalCents: 0, rejected: 0 };
  }

  /** The deposit cassette, by denomination, largest first. */
  deposits(): Cassette[] {
    return this.cashIn?.deposits() ?? [];
  }

  /** The cash-in module's slot ('closed', 'open', 'moving', 'jam'), or null without one. */
  get slot(): string | null {
    return this.cashIn?.slot ?? null;
  }

  get escrowJamArmed(): boolean {
    return this.cashIn?.jamArmedNext ?? false;
  }

  // ------------------------------------------------------------------ inputs

  /** Bytes from the host. Lost while unplugged. */
  receive(chunk: Buffer | string): void {
    if (!this.plugged) return;
    for (const line of this.splitter.push(chunk)) {
      const parsed = parseHostLine(line);
      if (parsed.ok) {
        this.lastHeardMs = this.options.nowMs();
        this.handle(parsed.message);
      } else {
        this.splitter.countRejected(parsed.reason);
        this.emit({ kind: 'rejected', reason: parsed.reason, line });
      }
    }
  }

  /** Time passed: finish a dispense whose notes are out, end a session the host left, send a heartbeat that is due. */
  tick(): void {
    const nowMs = this.options.nowMs();
    this.cash.tick(nowMs);
    this.cashIn?.tick(nowMs);
    if (this.sessionState === 'running' && nowMs - this.lastHeardMs >= HOST_SILENCE_MS) {
      this.sessionState = 'awaitingHello'; // [SL-5.6]
      this.emit({ kind: 'status' });
    }
    if (this.talking() && nowMs >= this.nextHeartbeatMs) {
      this.nextHeartbeatMs = Math.max(this.nextHeartbeatMs + HEARTBEAT_INTERVAL_MS, nowMs + 1);
      this.send({ verb: 'HB', uptimeMs: Math.max(0, nowMs - this.bootMs) });
    }
  }

  /** When tick() next has work, or null. */
  nextDeadlineMs(): number | null {
    const running = this.sessionState === 'running';
    const deadlines = [
      this.cash.dueMs,
      this.cashIn?.dueMs,
      this.talking() ? this.nextHeartbeatMs : undefined,
      running ? this.lastHeardMs + HOST_SILENCE_MS : undefined,
    ].filter((ms): ms is number => ms !== undefined);
    return deadlines.length === 0 ? null : Math.min(...deadlines);
  }

  // ------------------------------------------------------------------ the keypad and the knobs

  /** A key press; sent only while talking to a host (before HELLO or unplugged it is lost). */
  press(key: KeyName): boolean {
    if (!this.talking()) return false;
    this.send({ verb: 'KEY', key });
    return true;
  }

  // The cash mechanism's knobs (cash-mechanism.ts says what each one does).

  jamNext(afterNotes = 0): void {
    this.cash.jamNext(afterNotes);
  }

  /** The technician opens the machine and clears whatever jammed: the dispenser, the escrow, or both. */
  clearJam(): void {
    this.cash.clearJam();
    this.cashIn?.clearJam();
  }

  // The cash-in module's knobs (cash-in-mechanism.ts), the same powers SimAcceptor has.

  /** A note into the slot: counted into the escrow, refused (torn, unknown, escrow full), or pushed back by a shut slot. */
  insertNote(note: number | 'torn'): InsertOutcome {
    return this.cashIn?.insert(note) ?? 'slotClosed';
  }

  /** The next STORE or RETURN jams, the notes staying in the escrow. */
  jamEscrowNext(): void {
    this.cashIn?.jamNext();
  }

  /** The customer does not take the next returned notes: they are retained. */
  leaveNextReturn(): void {
    this.cashIn?.leaveNextReturn();
  }

  setLowCash(): void {
    this.cash.setLowCash();
  }

  setCassettes(cassettes: readonly Cassette[]): void {
    this.cash.setCassettes(cassettes);
  }

  setTamper(open: boolean): void {
    this.cash.setTamper(open);
  }

  /** [SL-2.7] Line noise: `bytes` random bytes (never '\n'), then '\n', so it costs one line. */
  garbage(bytes: number): void {
    const noise = this.noise.line(bytes);
    if (this.plugged) this.options.send(noise);
  }

  /** The cable comes out: nothing more is heard or said (the mechanism keeps its power). */
  unplug(): void {
    if (!this.plugged) return;
    this.plugged = false;
    this.cassettesAtUnplug = JSON.stringify(this.cash.cassettes());
    this.faultsAtUnplug = this.faults().join();
    this.cashInAtUnplug = this.cashIn?.picture() ?? '';
    this.splitter.discardPartialLine(); // a half line is lost with the cable
    this.emit({ kind: 'status' });
  }

  /**
   * The cable goes back in: a heartbeat at once, if a host had said HELLO, and [SL-5.4] what
   * changed meanwhile (CASH; FAULT ok and the active faults), since those lines were lost.
   */
  replug(): void {
    if (this.plugged) return;
    this.plugged = true;
    this.nextHeartbeatMs = this.options.nowMs();
    this.emit({ kind: 'status' });
    this.tick();
    if (this.cassettesAtUnplug !== JSON.stringify(this.cash.cassettes()))
      this.send({ verb: 'CASH', cassettes: this.cassettes() });
    if (this.faultsAtUnplug !== this.faults().join() && this.talking()) this.cash.announceCleared();
    if (this.cashIn !== null && this.cashInAtUnplug !== this.cashIn.picture()) this.cashIn.repeat();
  }

  /** A power cycle: blank LCD, no session (silent until HELLO), RAM forgotten; cassettes, jam and tamper are physical and stay. */
  reset(): void {
    this.sessionState = 'awaitingHello';
    this.bootMs = this.options.nowMs();
    this.cash.powerCycled();
    this.cashIn?.powerCycled();
    this.splitter.discardPartialLine();
    this.lcd.clear();
    this.lcd.backlightOn = true;
    this.emit({ kind: 'status' });
  }

  // ------------------------------------------------------------------ handlers [SL-3]

  private handle(message: HostMessage): void {
    if (message.verb === 'HELLO') {
      this.hello(message.version);
      return;
    }
    // [SL-1.3] Nothing but HELLO is answered before HELLO: the host's port may not be listening.
    if (this.sessionState !== 'running') return;
    switch (message.verb) {
      case 'PING': {
        this.send({ verb: 'PONG', seq: message.seq });
        return;
      }
      case 'LCD': {
        this.lcd.write(message.row, message.col, message.text); // [SL-3.3]
        this.emit({ kind: 'display' });
        return;
      }
      case 'CLEAR': {
        this.lcd.clear();
        this.emit({ kind: 'display' });
        return;
      }
      case 'BACKLIGHT': {
        this.lcd.backlightOn = message.on;
        this.emit({ kind: 'display' });
        return;
      }
      case 'DISPENSE': {
        this.cash.dispense(message.id, message.amountCents);
        return;
      }
      case 'COUNTS': {
        this.send({ verb: 'CASH', cassettes: this.cassettes() });
        return;
      }
      case 'CASHIN':
      case 'SLOT':
      case 'STORE':
      case 'RETURN':
        this.handleCashIn(message);
        return;
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }

  /** [SL-3.8]–[SL-3.10] A device without a cash-in module ignores these, as one that never heard of them would. */
  private handleCashIn(message: CashInHostMessage): void {
    const cashIn = this.cashIn;
    if (cashIn === null) {
      this.emit({ kind: 'rejected', reason: 'no cash-in module', line: message.verb });
      return;
    }
    if (message.verb === 'CASHIN') cashIn.describe();
    else if (message.verb === 'SLOT') cashIn.setSlot(message.open);
    else cashIn.move(message.verb, message.id);
  }

  /** [SL-3.1] HELLO (any version ≥ 1: we answer with ours), CASH, each active fault, then heartbeats. */
  private hello(version: number): void {
    this.sessionState = 'running';
    this.send({
      verb: 'HELLO',
      version: SERIAL_PROTOCOL_VERSION,
      device: this.options.deviceName ?? DEVICE_NAME_DEFAULT,
      caps: [
        'keypad4x4',
        `lcd${this.columns}x${this.rows}`,
        'dispenser',
        ...(this.cashIn === null ? [] : [CASH_IN_CAPABILITY]),
      ],
    });
    this.send({ verb: 'CASH', cassettes: this.cassettes() });
    for (const fault of this.faults()) this.send({ verb: 'FAULT', fault });
    // [SL-4.8] Ids are scoped to a session: a restarted kiosk counts from 1 again and must not
    // be answered from the previous session's memory (it would be told notes came out that did not).
    this.cash.sessionStarted();
    this.cashIn?.sessionStarted();
    this.nextHeartbeatMs = this.options.nowMs() + HEARTBEAT_INTERVAL_MS;
    this.emit({ kind: 'hello', version });
  }

  // ------------------------------------------------------------------ plumbing

  /** True when lines may go to the host: after its HELLO and with the cable in. */
  private talking(): boolean {
    return this.sessionState === 'running' && this.plugged;
  }

  private send(message: DeviceMessage): void {
    if (this.talking()) this.options.send(Buffer.from(encodeDeviceMessage(message), 'latin1'));
  }

  private emit(event: LineDeviceEvent): void {
    this.options.onEvent?.(event);
  }
}
