// The microcontroller's side of the serial line protocol (hardware/PROTOCOL.md, [SL-n]) as a
// state machine: bytes from the host in, bytes to the host out through the injected send(),
// time from the injected nowMs(). No ports, timers or randomness of its own: the edge
// (firmware-sim/runner.ts) feeds it and calls tick() at nextDeadlineMs(); tests do the same
// with a fake clock. It holds a 4×20 LCD buffer, simulated cassettes and the fault knobs.
// Longer than the house's 150 lines on purpose: it is one state machine, and its handlers
// share the session rule (talk only after HELLO, with the cable in) and the fault announcements.
import { LOW_CASH_COUNT_DEFAULT, SIM_CASSETTES_DEFAULT, notesForAmount, takeNotes } from '../hardware/index.js';
import type { Cassette, DispenseFault, KeyName } from '../hardware/index.js';
import {
  HEARTBEAT_INTERVAL_MS,
  LCD_COLUMNS_MAX,
  LCD_ROWS_MAX,
  LineSplitter,
  SERIAL_PROTOCOL_VERSION,
  assert,
  encodeDeviceMessage,
  parseHostLine,
} from '../protocol/index.js';
import type { DeviceFaultName, DeviceMessage, HostMessage, LineStats } from '../protocol/index.js';

export const DEVICE_NAME_DEFAULT = 'atm-firmware-sim';
/** [SL-4.8] DISPENSE results remembered by id, so a repeated DISPENSE never pays twice. */
export const DISPENSE_MEMORY_MAX = 32;
export const GARBAGE_BYTES_MAX = 4096;
/**
 * [SL-5.6] A session ends when the host has said nothing valid for this long (a host PINGs every
 * second): the device goes silent until the next HELLO, so a kiosk that went away does not come
 * back to minutes of stale heartbeats and key presses queued in the line.
 */
export const HOST_SILENCE_MS = 30_000;

/** A condition FAULT can announce; 'ok' is not one, it clears them [SL-4.9]. */
export type ActiveFault = Exclude<DeviceFaultName, 'ok'>;

/** 'awaitingHello' after power-on: silent until the host's HELLO [SL-1.3]; then 'running'. */
export type LineDeviceState = 'awaitingHello' | 'running';

export type LineDeviceEvent =
  | { kind: 'hello'; version: number }
  | { kind: 'display' }
  | { kind: 'dispensed'; id: number; amountCents: number; dispensedCents: number; fault: DispenseFault | null }
  | { kind: 'rejected'; reason: string; line: string }
  | { kind: 'status' };

export interface LineDeviceOptions {
  /** Bytes for the host, in order; the edge writes them to the port. */
  send: (bytes: Buffer) => void;
  nowMs: () => number;
  cassettes?: readonly Cassette[];
  /** A cassette at or below this many notes is low (FAULT cashLow). Default 10. */
  lowCashCount?: number;
  /** How long picking notes takes before DISPENSED goes out. Default 0 (answers at once). */
  dispenseDelayMs?: number;
  /** The next dispense that moves notes jams after this many notes (as jamNext). */
  jamAfterNotes?: number;
  deviceName?: string;
  rows?: number;
  columns?: number;
  /** Seed of the garbage bytes' generator (deterministic noise for tests). */
  seed?: number;
  onEvent?: (event: LineDeviceEvent) => void;
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

export class LineDevice {
  readonly rows: number;
  readonly columns: number;
  readonly lowCashCount: number;
  private readonly options: LineDeviceOptions;
  private readonly dispenseDelayMs: number;
  private readonly splitter = new LineSplitter();
  private sessionState: LineDeviceState = 'awaitingHello';
  private plugged = true;
  private bootMs: number;
  private nextHeartbeatMs = 0;
  private lastHeardMs = 0;
  private text: string[][] = [];
  private backlight = true;
  private loaded: Cassette[];
  private jamAfterNotes: number | null;
  private jammed = false;
  private tamperOpen = false;
  private lowAnnounced = false;
  private pending: PendingDispense | null = null;
  private readonly results = new Map<number, DeviceMessage>();
  private random: number;
  private cassettesAtUnplug = '';
  private faultsAtUnplug = '';

  constructor(options: LineDeviceOptions) {
    this.options = options;
    this.rows = options.rows ?? 4;
    this.columns = options.columns ?? 20;
    this.lowCashCount = options.lowCashCount ?? LOW_CASH_COUNT_DEFAULT;
    this.dispenseDelayMs = options.dispenseDelayMs ?? 0;
    this.jamAfterNotes = options.jamAfterNotes ?? null;
    this.random = (options.seed ?? 1) >>> 0;
    assert(Number.isSafeInteger(this.rows) && this.rows >= 1 && this.rows <= LCD_ROWS_MAX, 'rows 1..4');
    assert(Number.isSafeInteger(this.columns) && this.columns >= 1 && this.columns <= LCD_COLUMNS_MAX, 'columns 1..40');
    assert(Number.isSafeInteger(this.dispenseDelayMs) && this.dispenseDelayMs >= 0, 'dispenseDelayMs');
    this.loaded = loadCassettes(options.cassettes ?? SIM_CASSETTES_DEFAULT);
    this.bootMs = options.nowMs();
    this.blank();
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
    return this.text.map((row) => row.join(''));
  }

  get backlightOn(): boolean {
    return this.backlight;
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

  /** Lines received, and those dropped: oversize, corrupt (incl. bad checksum), unknown verb. */
  get stats(): LineStats {
    return { ...this.splitter.stats };
  }

  /** The armed jam's note count (jamNext, --jam-after), or null when none is armed. */
  get jamArmedAfterNotes(): number | null {
    return this.jamAfterNotes;
  }

  get dispensing(): boolean {
    return this.pending !== null;
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
    if (this.pending !== null && nowMs >= this.pending.dueMs) this.present(this.pending);
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
      this.pending?.dueMs,
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

  /** The next dispense that moves notes presents afterNotes of them, then jams. */
  jamNext(afterNotes = 0): void {
    assert(Number.isSafeInteger(afterNotes) && afterNotes >= 0, 'afterNotes must be a non-negative integer');
    this.jamAfterNotes = afterNotes;
    this.emit({ kind: 'status' });
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

  /** [SL-2.7] Line noise: `bytes` random bytes (never '\n'), then '\n', so it costs one line. */
  garbage(bytes: number): void {
    assert(
      Number.isSafeInteger(bytes) && bytes >= 1 && bytes <= GARBAGE_BYTES_MAX,
      `garbage bytes 1..${GARBAGE_BYTES_MAX}`,
    );
    if (!this.plugged) return;
    const noise = Buffer.alloc(bytes + 1, 0x0a);
    for (let index = 0; index < bytes; index += 1) noise[index] = this.nextRandomByte();
    this.options.send(noise);
  }

  /** The cable comes out: nothing more is heard or said (the mechanism keeps its power). */
  unplug(): void {
    if (!this.plugged) return;
    this.plugged = false;
    this.cassettesAtUnplug = JSON.stringify(this.loaded);
    this.faultsAtUnplug = this.faults().join();
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
    if (this.cassettesAtUnplug !== JSON.stringify(this.loaded))
      this.send({ verb: 'CASH', cassettes: this.cassettes() });
    if (this.faultsAtUnplug !== this.faults().join() && this.talking()) this.announceCleared();
  }

  /** A power cycle: blank LCD, no session (silent until HELLO), RAM forgotten; cassettes, jam and tamper are physical and stay. */
  reset(): void {
    this.sessionState = 'awaitingHello';
    this.bootMs = this.options.nowMs();
    this.pending = null; // power cut mid-pick: nothing presented
    this.results.clear();
    this.lowAnnounced = false;
    this.splitter.discardPartialLine();
    this.blank();
    this.backlight = true;
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
        this.write(message.row, message.col, message.text);
        return;
      }
      case 'CLEAR':
        this.blank();
        {
          this.emit({ kind: 'display' });
          return;
        }
      case 'BACKLIGHT':
        this.backlight = message.on;
        {
          this.emit({ kind: 'display' });
          return;
        }
      case 'DISPENSE': {
        this.dispense(message.id, message.amountCents);
        return;
      }
      case 'COUNTS': {
        this.send({ verb: 'CASH', cassettes: this.cassettes() });
        return;
      }
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  }

  /** [SL-3.1] HELLO (any version ≥ 1: we answer with ours), CASH, each active fault, then heartbeats. */
  private hello(version: number): void {
    this.sessionState = 'running';
    // [SL-4.8] Ids are scoped to a session: a restarted kiosk counts from 1 again and must not
    // be answered from the previous session's memory (it would be told notes came out that did not).
    this.results.clear();
    this.send({
      verb: 'HELLO',
      version: SERIAL_PROTOCOL_VERSION,
      device: this.options.deviceName ?? DEVICE_NAME_DEFAULT,
      caps: ['keypad4x4', `lcd${this.columns}x${this.rows}`, 'dispenser'],
    });
    this.send({ verb: 'CASH', cassettes: this.cassettes() });
    for (const fault of this.faults()) this.send({ verb: 'FAULT', fault });
    this.lowAnnounced = this.isLow();
    this.nextHeartbeatMs = this.options.nowMs() + HEARTBEAT_INTERVAL_MS;
    this.emit({ kind: 'hello', version });
  }

  /** [SL-3.3] Characters from (row, col) on; what falls outside the glass is dropped. */
  private write(row: number, col: number, text: string): void {
    const cells = this.text[row];
    if (cells === undefined) return;
    for (let index = 0; index < text.length && col + index < this.columns; index += 1)
      cells[col + index] = text[index] as string;
    this.emit({ kind: 'display' });
  }

  /** [SL-4.8] Idempotent by id, one at a time, refused (nothing moves) when jammed, tampered or unmakeable. */
  private dispense(id: number, amountCents: number): void {
    const remembered = this.results.get(id);
    if (remembered !== undefined) {
      this.send(remembered);
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
    this.emit({ kind: 'status' });
    if (this.dispenseDelayMs === 0) this.present(this.pending);
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
    this.send({ verb: 'CASH', cassettes: this.cassettes() });
    if (jam) this.fault('jam');
    this.announceLow();
    this.finish(pending, dispensedCents, jam ? 'jam' : null);
  }

  private finish(pending: PendingDispense, dispensedCents: number, fault: DispenseFault | null): void {
    const message: DeviceMessage = { verb: 'DISPENSED', id: pending.id, dispensedCents, fault };
    this.results.set(pending.id, message);
    if (this.results.size > DISPENSE_MEMORY_MAX) this.results.delete(this.results.keys().next().value as number);
    this.send(message);
    this.emit({ kind: 'dispensed', id: pending.id, amountCents: pending.amountCents, dispensedCents, fault });
  }

  // ------------------------------------------------------------------ faults [SL-4.9]

  private isLow(): boolean {
    return this.loaded.some((cassette) => cassette.count <= this.lowCashCount);
  }

  private countsChanged(): void {
    this.send({ verb: 'CASH', cassettes: this.cassettes() });
    if (this.lowAnnounced && !this.isLow()) this.announceCleared();
    else this.announceLow();
  }

  private announceLow(): void {
    if (this.lowAnnounced || !this.isLow()) return;
    this.fault('cashLow');
  }

  /** FAULT ok clears every fault the host holds, so what is still active is said again. */
  private announceCleared(): void {
    this.send({ verb: 'FAULT', fault: 'ok' });
    this.lowAnnounced = false;
    for (const fault of this.faults()) this.fault(fault);
    this.emit({ kind: 'status' });
  }

  private fault(fault: ActiveFault): void {
    if (fault === 'cashLow') this.lowAnnounced = true;
    this.send({ verb: 'FAULT', fault });
    this.emit({ kind: 'status' });
  }

  // ------------------------------------------------------------------ plumbing

  /** True when lines may go to the host: after its HELLO and with the cable in. */
  private talking(): boolean {
    return this.sessionState === 'running' && this.plugged;
  }

  private send(message: DeviceMessage): void {
    if (this.talking()) this.options.send(Buffer.from(encodeDeviceMessage(message), 'latin1'));
  }

  private blank(): void {
    this.text = Array.from({ length: this.rows }, () => new Array<string>(this.columns).fill(' '));
  }

  private emit(event: LineDeviceEvent): void {
    this.options.onEvent?.(event);
  }

  /** mulberry32: small, seeded, good enough for noise. */
  private nextRandomByte(): number {
    this.random = (this.random + 0x6d2b79f5) >>> 0;
    let value = this.random;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    const byte = ((value ^ (value >>> 14)) >>> 0) & 0xff;
    return byte === 0x0a ? 0x0b : byte;
  }
}
