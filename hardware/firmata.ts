// The firmata driver: an Arduino running StandardFirmata, driven through johnny-five, with a
// 20×4 HD44780 LCD on a PCF8574 I2C backpack (0x27) and a 4×4 keypad on johnny-five's
// "4X4_I2C_NANO_BACKPACK" (0x0A); the cash dispenser is a simulated cassette, optionally
// pulsing a relay pin once per note. `--device firmata:PATH`. Wiring: hardware/README.md.
//
// Choices, and why:
// - One serialport binding for the whole kiosk: we open the port with `serialport` ourselves
//   and hand it to firmata-io (`new Firmata(port)`), and firmata-io to johnny-five
//   (`new five.Board({ io })`), so johnny-five never looks for its own serial module.
// - StandardFirmata has no flow control and a 64-byte receive buffer. Every byte to the board
//   goes through PacedLine, which sends at most `bytesPerInterval` bytes per `intervalMs`
//   (default 48 per 20 ms, ≤ 2.4 kB/s, under half the line rate), so a burst of LCD writes
//   (a character costs 28 bytes: four one-byte I2C writes) can never overrun the firmware.
// - Pacing delays bytes that johnny-five wrote at once, so its blocking sleeps no longer
//   separate the HD44780's init nibbles on the wire. After johnny-five's LCD init we send the
//   datasheet's "initialisation by instruction" again, with the pauses enforced on the line.
// - show() writes only what changed: per row, the span from the first to the last differing
//   column, one row at a time, so a newer show() overtakes an older one between rows.
// - The keypad: johnny-five has no matrix keypad for Firmata (the host cannot scan rows fast
//   enough over the serial line), and its analog keypad has no "no key" range; the I2C
//   backpack reports releases and shares the bus with the LCD. A 4×4 keypad has no Cancel or
//   Backspace key: holding * is Cancel and holding # is Backspace (a tap is Clear / Enter).
// - Board not ready, port closed, or no byte for silenceTimeoutMs (the keypad is reported
//   every 19 ms, so silence means a dead line the port did not report): all three devices are
//   'offline' together; the port is reopened with backoff, a fresh johnny-five Board is built
//   on it, and all come back.
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import johnnyFive from 'johnny-five';
import type { DeviceBundle, DriverOptions } from './factory.js';
import { Backoff, LineUsers, realTimers, type SerialTimers } from './shared-line.js';
import { DISPLAY_COLUMNS_MAX, DISPLAY_ROWS_MAX, SimDispenser, normaliseDisplayLines, type SimDispenserOptions } from './sim.js';
import type { CashDispenser, Cassette, DeviceState, DispenseResult, Display, KeyName, Keypad, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';

function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(`assertion failed: ${message}`);
}

const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// ---------------------------------------------------------------------------------------------
// The slices of firmata-io and johnny-five this driver uses. firmata-io ships no types, and
// @types/johnny-five lacks Keypad, the Board's `sigint` option and the LCD's `address`.

type Callback = (error?: Error | null) => void;

/**
 * A serial line to the board: the slice of node-serialport's SerialPort that firmata-io and
 * this driver use. The emulated Uno's transport (firmware-sim/) has it too. Contract: 'data'
 * carries bytes from the board; 'close' (or 'error') means the line is gone for good.
 */
export interface FirmataTransport {
  readonly isOpen: boolean;
  write(data: Buffer, callback?: Callback): boolean;
  close(callback?: Callback): void;
  /** Calls back once the bytes written so far have gone down the wire (serialport's tcdrain). */
  drain?(callback: Callback): void;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'open' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'data', listener: (data: Buffer) => void): unknown;
  removeListener(event: 'open' | 'close', listener: () => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** Opens a fresh line to the board each time it is called; rejects (or throws) while the board is absent. */
export type FirmataTransportSource = () => FirmataTransport | Promise<FirmataTransport>;

/** What johnny-five's components call on the IO object (firmata-io's Firmata, or mock-firmata). */
export interface FirmataIo {
  readonly isReady: boolean;
  /** firmata-io's timer that asks for the version if the board stays silent; cleared on teardown. */
  reportVersionTimeoutId?: ReturnType<typeof setTimeout>;
  pinMode(pin: number, mode: number): void;
  digitalWrite(pin: number, value: number): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface FirmataIoOptions {
  reportVersionTimeout: number;
}

interface J5Board {
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

interface J5BoardConstructor {
  new (options: { io: FirmataIo; repl: false; debug: false; sigint: false; timeout: number }): J5Board;
}

/** johnny-five's LCD with the PCF8574 controller; writeBits sends one nibble with an E pulse. */
export interface J5Lcd {
  print(text: string, options?: { dontProcessSpecials?: boolean }): unknown;
  cursor(row: number, column: number): unknown;
  command(value: number): unknown;
  writeBits(mode: number, nibble: number): unknown;
}

interface J5LcdConstructor {
  new (options: { board: J5Board; controller: 'PCF8574'; address: number; rows: number; cols: number }): J5Lcd;
}

interface J5KeypadEvent {
  which: (string | number)[];
}

interface J5Keypad {
  on(event: 'down' | 'hold' | 'up', listener: (event: J5KeypadEvent) => void): unknown;
}

interface J5KeypadConstructor {
  new (options: { board: J5Board; controller: '4X4_I2C_NANO_BACKPACK'; address: number; keys: readonly string[]; holdtime: number }): J5Keypad;
}

const five = johnnyFive as unknown as { Board: J5BoardConstructor; LCD: J5LcdConstructor; Keypad: J5KeypadConstructor };

/** firmata-io is CommonJS without types: loaded through require and typed by the slice above. */
function createFirmataIo(transport: FirmataTransport, options: FirmataIoOptions): FirmataIo {
  const require = createRequire(import.meta.url);
  const { Firmata } = require('firmata-io') as { Firmata: new (transport: FirmataTransport, options: FirmataIoOptions) => FirmataIo };
  return new Firmata(transport, options);
}

const delay = (timers: SerialTimers, ms: number): Promise<void> => new Promise((resolve) => timers.schedule(ms, resolve));

// ---------------------------------------------------------------------------------------------
// PacedLine: every byte to the board, at most bytesPerInterval per intervalMs.

export const FIRMATA_BAUD_RATE = 57_600;
/** The Uno core's serial receive buffer, which StandardFirmata drains between its other work. */
export const FIRMATA_RX_BUFFER_BYTES = 64;
export const PACING_BYTES_PER_INTERVAL_DEFAULT = 48;
export const PACING_INTERVAL_MS_DEFAULT = 20;
/** Bytes PacedLine holds for the board; a writer that outruns it this far is broken. */
export const PACED_QUEUE_BYTES_MAX = 64 * 1024;

export interface LinePacing {
  bytesPerInterval: number;
  intervalMs: number;
}

interface QueuedWrite {
  bytes: Buffer;
  offset: number;
  callback: Callback | undefined;
}

/**
 * The board's line as firmata-io sees it, paced. Windows start when bytes are sent, so no
 * span of intervalMs ever carries more than bytesPerInterval bytes. 'data' and 'open' are
 * passed on; a 'close' or 'error' of the real line calls onLost once and fails what waits.
 */
export class PacedLine extends EventEmitter {
  private readonly queue: QueuedWrite[] = [];
  private queuedBytes = 0;
  private windowStartMs = Number.NEGATIVE_INFINITY;
  private windowBytes = 0;
  private cancelTimer: (() => void) | null = null;
  private writesInFlight = 0;
  private drainWaiters: { resolve: () => void; reject: (error: Error) => void }[] = [];
  private readonly lossWaiters = new Set<(error: Error) => void>();
  private lostReason: string | null = null;
  /** Bytes handed to the real line, and the most any one window carried. */
  bytesSent = 0;
  windowBytesMax = 0;
  private readonly forwardData = (data: Buffer): void => void this.emit('data', data);
  private readonly forwardOpen = (): void => void this.emit('open');
  private readonly closed = (): void => this.lose('port closed');
  private readonly failed = (error: Error): void => this.lose(`port error: ${error.message}`);

  constructor(
    private readonly inner: FirmataTransport,
    private readonly pacing: LinePacing,
    private readonly timers: SerialTimers,
    private readonly onLost: (reason: string) => void,
  ) {
    super();
    assert(Number.isSafeInteger(pacing.bytesPerInterval) && pacing.bytesPerInterval >= 1 && pacing.bytesPerInterval < FIRMATA_RX_BUFFER_BYTES, `bytesPerInterval must be 1..${FIRMATA_RX_BUFFER_BYTES - 1}`);
    assert(Number.isFinite(pacing.intervalMs) && pacing.intervalMs > 0, 'intervalMs must be positive');
    inner.on('data', this.forwardData);
    inner.on('open', this.forwardOpen);
    inner.on('close', this.closed);
    inner.on('error', this.failed);
    // A line that is already open (the path opener waits for it) still gives firmata-io its 'open'.
    if (inner.isOpen) setImmediate(() => this.lostReason === null && this.emit('open'));
  }

  get isOpen(): boolean {
    return this.lostReason === null && this.inner.isOpen;
  }

  /** Queues bytes for the board; the callback runs once they were handed to the real line. */
  write(data: Buffer | Uint8Array | number[], callback?: Callback): boolean {
    const bytes = Buffer.from(data as Uint8Array);
    const refusal = this.lostReason !== null ? `line is gone: ${this.lostReason}` : this.queuedBytes + bytes.length > PACED_QUEUE_BYTES_MAX ? 'paced queue full' : null;
    if (refusal !== null) {
      process.nextTick(() => callback?.(new Error(refusal)));
      return false;
    }
    this.queue.push({ bytes, offset: 0, callback });
    this.queuedBytes += bytes.length;
    this.pump();
    return true;
  }

  /** Resolves when every queued byte was handed to the real line; rejects if the line goes first. */
  async handedOver(): Promise<void> {
    if (this.lostReason !== null) throw new Error(`line is gone: ${this.lostReason}`);
    if (this.queue.length > 0 || this.writesInFlight > 0) await new Promise<void>((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  /**
   * Resolves when every queued byte was handed to the real line and (if it can tell) has gone
   * down the wire; rejects if the line goes first.
   */
  async drained(): Promise<void> {
    await this.handedOver();
    const inner = this.inner;
    if (inner.drain === undefined) return;
    // A line that is lost mid-drain may never call back: the loss settles it instead.
    await new Promise<void>((resolve, reject) => {
      const lost = (error: Error): void => reject(error);
      this.lossWaiters.add(lost);
      inner.drain?.((error) => {
        this.lossWaiters.delete(lost);
        if (error) reject(error);
        else resolve();
      });
    });
    if (this.lostReason !== null) throw new Error(`line is gone: ${this.lostReason}`);
  }

  /** Milliseconds the last window's bytes take down the wire (10 bits per byte). */
  wireMs(): number {
    return Math.ceil((this.windowBytes * 10 * 1000) / FIRMATA_BAUD_RATE);
  }

  /** Stops pacing, detaches from the real line and closes it (if still open). */
  close(callback?: Callback): void {
    this.lose('closed by the driver');
    this.inner.removeListener('data', this.forwardData);
    this.inner.removeListener('open', this.forwardOpen);
    this.inner.removeListener('close', this.closed);
    this.inner.removeListener('error', this.failed);
    // A write still in flight may fail after we let go (EIO after an unplug): not an uncaught error.
    this.inner.on('error', () => undefined);
    if (this.inner.isOpen) this.inner.close(() => callback?.(null));
    else process.nextTick(() => callback?.(null));
  }

  private pump(): void {
    if (this.cancelTimer !== null || this.lostReason !== null) return;
    const nowMs = this.timers.nowMs();
    if (nowMs - this.windowStartMs >= this.pacing.intervalMs) {
      this.windowStartMs = nowMs;
      this.windowBytes = 0;
    }
    while (this.queue.length > 0 && this.windowBytes < this.pacing.bytesPerInterval) {
      const entry = this.queue[0] as QueuedWrite;
      const take = Math.min(this.pacing.bytesPerInterval - this.windowBytes, entry.bytes.length - entry.offset);
      const piece = entry.bytes.subarray(entry.offset, entry.offset + take);
      entry.offset += take;
      this.windowBytes += take;
      this.queuedBytes -= take;
      this.bytesSent += take;
      const finished = entry.offset === entry.bytes.length;
      if (finished) this.queue.shift();
      this.writesInFlight += 1;
      this.inner.write(piece, (error) => {
        this.writesInFlight -= 1;
        if (finished) entry.callback?.(error ?? null);
        this.settleDrain();
      });
    }
    this.windowBytesMax = Math.max(this.windowBytesMax, this.windowBytes);
    if (this.queue.length > 0) {
      this.cancelTimer = this.timers.schedule(Math.max(0, this.windowStartMs + this.pacing.intervalMs - nowMs), () => {
        this.cancelTimer = null;
        this.pump();
      });
    }
    this.settleDrain();
  }

  private settleDrain(): void {
    if (this.queue.length > 0 || this.writesInFlight > 0) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.resolve();
  }

  private lose(reason: string): void {
    if (this.lostReason !== null) return;
    this.lostReason = reason;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const error = new Error(`line is gone: ${reason}`);
    for (const entry of this.queue.splice(0)) process.nextTick(() => entry.callback?.(error));
    this.queuedBytes = 0;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const waiter of waiters) waiter.reject(error);
    for (const waiter of [...this.lossWaiters]) waiter(error);
    this.lossWaiters.clear();
    this.emit('close');
    this.onLost(reason);
  }
}

// ---------------------------------------------------------------------------------------------
// The keypad's legends and gestures.

/** The 4×4 keypad's legends in the backpack's bit order (johnny-five's 4X4_I2C_NANO_BACKPACK). */
export const KEYPAD_LEGENDS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;
export type KeypadLegend = (typeof KEYPAD_LEGENDS)[number];

/** A tap of each legend. */
export const KEY_FOR_LEGEND: Readonly<Record<KeypadLegend, KeyName>> = {
  '0': '0', '1': '1', '2': '2', '3': '3', '4': '4', '5': '5', '6': '6', '7': '7', '8': '8', '9': '9',
  A: 'A', B: 'B', C: 'C', D: 'D', '*': 'clear', '#': 'enter',
};

/** Holding these legends for holdMs gives the keys a 4×4 keypad lacks. */
export const KEY_FOR_HELD_LEGEND: Readonly<Partial<Record<KeypadLegend, KeyName>>> = { '*': 'cancel', '#': 'backspace' };

const isLegend = (value: string): value is KeypadLegend => (KEYPAD_LEGENDS as readonly string[]).includes(value);

/**
 * Turns johnny-five's keypad events into key presses. Keys without a hold meaning are pressed
 * on 'down'. * and # wait: released before holdMs they are a tap, held they are Cancel or
 * Backspace (once, however long the hold). johnny-five sends all its keypad events through
 * one 5 ms debounce that keeps only the last: when one sample has a key going up and another
 * going down (rollover), only the 'up' reaches us. So a release of a key we never saw go down
 * counts as its press: late, never lost.
 */
export class KeypadGestures {
  private readonly down = new Set<KeypadLegend>();
  private readonly held = new Set<KeypadLegend>();

  constructor(private readonly press: (key: KeyName) => void) {}

  onDown(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      this.down.add(legend);
      this.held.delete(legend);
      if (KEY_FOR_HELD_LEGEND[legend] === undefined) this.press(KEY_FOR_LEGEND[legend]);
    }
  }

  onHold(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      const heldKey = KEY_FOR_HELD_LEGEND[legend];
      if (heldKey === undefined || this.held.has(legend)) continue;
      this.down.add(legend);
      this.held.add(legend);
      this.press(heldKey);
    }
  }

  onUp(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      const wasDown = this.down.delete(legend);
      const wasHeld = this.held.delete(legend);
      if (wasHeld) continue;
      if (!wasDown || KEY_FOR_HELD_LEGEND[legend] !== undefined) this.press(KEY_FOR_LEGEND[legend]);
    }
  }

  reset(): void {
    this.down.clear();
    this.held.clear();
  }
}

// ---------------------------------------------------------------------------------------------
// FirmataBoardLink: the one board behind the three devices.

export const LCD_I2C_ADDRESS_DEFAULT = 0x27;
export const KEYPAD_I2C_ADDRESS_DEFAULT = 0x0a;
export const KEYPAD_HOLD_MS_DEFAULT = 1_000;

export interface FirmataOptions {
  /** Line pacing (default 48 bytes per 20 ms). bytesPerInterval must stay under 64. */
  pacing?: Partial<LinePacing>;
  /** A Board must be ready this long after the line opened, or the line is reopened. Default 10 s. */
  readyTimeoutMs?: number;
  /** firmata-io asks for the firmware version if the board has not sent it by then. Default 5 s (an Uno's bootloader). */
  reportVersionTimeoutMs?: number;
  /** open() waits this long for the board before resolving with the devices 'offline'. Default 3 s. */
  openWaitMs?: number;
  /**
   * Online, StandardFirmata reports the keypad every 19 ms; no byte for this long means the
   * line is dead even if the port never said so (a hung-up pty, a wedged USB adapter). Default
   * 1.5 s; 0 turns the check off.
   */
  silenceTimeoutMs?: number;
  /** Reconnect backoff: first retry after the min, doubling up to the max. Default 250 ms .. 5 s. */
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  lcdAddress?: number;
  lcdRows?: number;
  lcdColumns?: number;
  keypadAddress?: number;
  /** How long * or # must be held to mean Cancel or Backspace. Default 1 s. */
  keypadHoldMs?: number;
  /** A digital pin to pulse once per note (a relay on the note feeder); none by default. */
  relayPin?: number;
  /** Each pulse is HIGH this long (default 100 ms), then LOW at least relayGapMs (default 150 ms). */
  relayPulseMs?: number;
  relayGapMs?: number;
  /** The simulated cassettes (default: options.sim.dispenser's, else the sim's). */
  dispenser?: Pick<SimDispenserOptions, 'cassettes' | 'lowCashCount'>;
  timers?: SerialTimers;
  /** For tests: the IO object johnny-five drives (default firmata-io's Firmata on the paced line). */
  createIo?: (line: PacedLine, options: FirmataIoOptions) => FirmataIo;
}

export interface FirmataLinkStats {
  connects: number;
  disconnects: number;
  lastDisconnect: string | null;
}

/** The parts of one connection: a fresh set after every reconnect. */
export interface FirmataConnection {
  readonly generation: number;
  readonly line: PacedLine;
  readonly io: FirmataIo;
  lcd: J5Lcd | null;
  lastHeardMs: number;
}

type LinkPhase = 'closed' | 'connecting' | 'online' | 'waiting';

interface LinkSettings {
  pacing: LinePacing;
  readyTimeoutMs: number;
  reportVersionTimeoutMs: number;
  openWaitMs: number;
  silenceTimeoutMs: number;
  reconnectDelayMsMin: number;
  reconnectDelayMsMax: number;
  lcdAddress: number;
  lcdRows: number;
  lcdColumns: number;
  keypadAddress: number;
  keypadHoldMs: number;
  relayPin: number | null;
  relayPulseMs: number;
  relayGapMs: number;
}

const HD44780_COMMAND = 0x00;

export class FirmataBoardLink {
  readonly settings: LinkSettings;
  readonly timers: SerialTimers;
  private readonly createIo: (line: PacedLine, options: FirmataIoOptions) => FirmataIo;
  private phase: LinkPhase = 'closed';
  private readonly users: LineUsers;
  private readonly backoff: Backoff;
  private generation = 0;
  private connection: FirmataConnection | null = null;
  private cancelTimer: (() => void) | null = null;
  private readonly onlineListeners = new Listeners<boolean>();
  private readonly keyListeners = new Listeners<KeyName>();
  private readonly gestures = new KeypadGestures((key) => this.keyListeners.emit(key));
  readonly stats: FirmataLinkStats = { connects: 0, disconnects: 0, lastDisconnect: null };

  constructor(
    private readonly source: FirmataTransportSource,
    options: FirmataOptions = {},
    private readonly log: (line: string) => void = () => undefined,
  ) {
    this.timers = options.timers ?? realTimers;
    this.createIo = options.createIo ?? createFirmataIo;
    this.settings = {
      pacing: { bytesPerInterval: options.pacing?.bytesPerInterval ?? PACING_BYTES_PER_INTERVAL_DEFAULT, intervalMs: options.pacing?.intervalMs ?? PACING_INTERVAL_MS_DEFAULT },
      readyTimeoutMs: options.readyTimeoutMs ?? 10_000,
      reportVersionTimeoutMs: options.reportVersionTimeoutMs ?? 5_000,
      openWaitMs: options.openWaitMs ?? 3_000,
      silenceTimeoutMs: options.silenceTimeoutMs ?? 1_500,
      reconnectDelayMsMin: options.reconnectDelayMsMin ?? 250,
      reconnectDelayMsMax: options.reconnectDelayMsMax ?? 5_000,
      lcdAddress: options.lcdAddress ?? LCD_I2C_ADDRESS_DEFAULT,
      lcdRows: options.lcdRows ?? 4,
      lcdColumns: options.lcdColumns ?? 20,
      keypadAddress: options.keypadAddress ?? KEYPAD_I2C_ADDRESS_DEFAULT,
      keypadHoldMs: options.keypadHoldMs ?? KEYPAD_HOLD_MS_DEFAULT,
      relayPin: options.relayPin ?? null,
      relayPulseMs: options.relayPulseMs ?? 100,
      relayGapMs: options.relayGapMs ?? 150,
    };
    this.users = new LineUsers(this.timers, this.settings.openWaitMs);
    this.backoff = new Backoff(this.settings.reconnectDelayMsMin, this.settings.reconnectDelayMsMax);
    const { lcdRows, lcdColumns, relayPin, pacing } = this.settings;
    assert(Number.isSafeInteger(pacing.bytesPerInterval) && pacing.bytesPerInterval >= 1 && pacing.bytesPerInterval < FIRMATA_RX_BUFFER_BYTES, `pacing.bytesPerInterval must be 1..${FIRMATA_RX_BUFFER_BYTES - 1}`);
    assert(Number.isFinite(pacing.intervalMs) && pacing.intervalMs > 0, 'pacing.intervalMs must be positive');
    assert(Number.isSafeInteger(lcdRows) && lcdRows >= 2 && lcdRows <= DISPLAY_ROWS_MAX, `lcdRows must be 2..${DISPLAY_ROWS_MAX}`);
    assert(Number.isSafeInteger(lcdColumns) && lcdColumns >= 1 && lcdColumns <= DISPLAY_COLUMNS_MAX, `lcdColumns must be 1..${DISPLAY_COLUMNS_MAX}`);
    // D0/D1 carry the serial line and A4/A5 (18/19) the I2C bus; A0–A3 (14–17) work as digital outputs.
    assert(relayPin === null || (Number.isSafeInteger(relayPin) && relayPin >= 2 && relayPin <= 17), 'relayPin must be 2..17: not D0/D1 (serial) nor A4/A5 (I2C)');
  }

  get online(): boolean {
    return this.phase === 'online';
  }

  /** The parts of the current connection while online, else null. */
  get current(): FirmataConnection | null {
    return this.phase === 'online' ? this.connection : null;
  }

  onOnline(listener: (online: boolean) => void): Unsubscribe {
    return this.onlineListeners.add(listener);
  }

  onKey(listener: (key: KeyName) => void): Unsubscribe {
    return this.keyListeners.add(listener);
  }

  /** One more device uses the board: the first starts connecting; each waits for online or openWaitMs. */
  async acquire(): Promise<void> {
    const settled = this.users.add(this.phase === 'online');
    if (this.phase === 'closed') this.connect();
    await settled;
  }

  /** One device less; the last closes the line and stops reconnecting. */
  async release(): Promise<void> {
    if (!this.users.remove()) return;
    const wasOnline = this.phase === 'online';
    this.phase = 'closed';
    this.generation += 1;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const connection = this.connection;
    this.connection = null;
    this.gestures.reset();
    if (wasOnline) this.onlineListeners.emit(false);
    this.users.settled();
    if (connection !== null) await this.teardown(connection);
  }

  /**
   * Drops a connection: closes its line and stops firmata-io's version timer (a board lost
   * while booting would keep the process alive for it). johnny-five keeps every Board it made
   * in a module-level list, so each reconnect leaves one small dead Board behind.
   */
  private teardown(connection: FirmataConnection): Promise<void> {
    clearTimeout(connection.io.reportVersionTimeoutId);
    return new Promise((resolve) => connection.line.close(() => resolve()));
  }

  /** The pause a display write or an HD44780 instruction needs: after the queue drained and the wire carried it. */
  async settle(connection: FirmataConnection, pauseMs: number): Promise<void> {
    await connection.line.drained();
    await delay(this.timers, pauseMs + connection.line.wireMs());
  }

  private connect(): void {
    this.phase = 'connecting';
    const generation = ++this.generation;
    Promise.resolve()
      .then(() => this.source())
      .then(
        (transport) => {
          if (generation !== this.generation) return transport.close(() => undefined);
          try {
            this.attach(transport, generation);
          } catch (error) {
            if (this.connection?.generation !== generation) transport.close(() => undefined);
            this.lost(`setting up the board failed: ${errorText(error)}`);
          }
        },
        (error: unknown) => {
          if (generation === this.generation) this.lost(`cannot open the line: ${errorText(error)}`);
        },
      );
  }

  private attach(transport: FirmataTransport, generation: number): void {
    const onLost = (reason: string): void => {
      if (generation === this.generation) this.lost(reason);
    };
    const line = new PacedLine(transport, this.settings.pacing, this.timers, onLost);
    const io = this.createIo(line, { reportVersionTimeout: this.settings.reportVersionTimeoutMs });
    const connection: FirmataConnection = { generation, line, io, lcd: null, lastHeardMs: this.timers.nowMs() };
    this.connection = connection;
    line.on('data', () => (connection.lastHeardMs = this.timers.nowMs()));
    // Without listeners these would throw: firmata-io emits 'error' before the Board listens.
    io.on('error', (error: Error) => onLost(`firmata error: ${error.message}`));
    const board = new five.Board({ io, repl: false, debug: false, sigint: false, timeout: this.settings.readyTimeoutMs });
    board.on('error', (error: Error) => onLost(`board error: ${error.message}`));
    // The deadline covers the handshake and the LCD init; ready() cancels it once online.
    this.cancelTimer = this.timers.schedule(this.settings.readyTimeoutMs, () => onLost(`StandardFirmata did not answer within ${this.settings.readyTimeoutMs} ms`));
    board.on('ready', () => {
      if (generation !== this.generation) return;
      this.ready(board, connection).catch((error: unknown) => onLost(`setting up the devices failed: ${errorText(error)}`));
    });
  }

  private async ready(board: J5Board, connection: FirmataConnection): Promise<void> {
    const { lcdAddress, lcdRows, lcdColumns, keypadAddress, keypadHoldMs, relayPin } = this.settings;
    const lcd = new five.LCD({ board, controller: 'PCF8574', address: lcdAddress, rows: lcdRows, cols: lcdColumns });
    const keypad = new five.Keypad({ board, controller: '4X4_I2C_NANO_BACKPACK', address: keypadAddress, keys: KEYPAD_LEGENDS, holdtime: keypadHoldMs });
    const legends = (event: J5KeypadEvent): string[] => event.which.map(String);
    const live = (): boolean => connection.generation === this.generation && this.phase === 'online';
    keypad.on('down', (event) => live() && this.gestures.onDown(legends(event)));
    keypad.on('hold', (event) => live() && this.gestures.onHold(legends(event)));
    keypad.on('up', (event) => live() && this.gestures.onUp(legends(event)));
    if (relayPin !== null) {
      connection.io.pinMode(relayPin, 1);
      connection.io.digitalWrite(relayPin, 0);
    }
    await this.initialiseLcd(connection, lcd);
    if (connection.generation !== this.generation) return;
    this.cancelTimer?.();
    this.cancelTimer = null;
    connection.lcd = lcd;
    this.phase = 'online';
    this.backoff.reset();
    this.stats.connects += 1;
    this.log(`firmata: board online (connection ${this.stats.connects})`);
    this.watchSilence(connection);
    this.onlineListeners.emit(true);
    this.users.settled();
  }

  /** While this connection is the online one, checks that the board still talks. */
  private watchSilence(connection: FirmataConnection): void {
    const { silenceTimeoutMs } = this.settings;
    if (silenceTimeoutMs <= 0) return;
    connection.lastHeardMs = this.timers.nowMs();
    const check = (): void => {
      if (connection.generation !== this.generation || this.phase !== 'online') return;
      const silentMs = this.timers.nowMs() - connection.lastHeardMs;
      if (silentMs > silenceTimeoutMs) this.lost(`no byte from the board for ${Math.round(silentMs)} ms`);
      else this.cancelTimer = this.timers.schedule(Math.max(10, silenceTimeoutMs / 4), check);
    };
    this.cancelTimer = this.timers.schedule(Math.max(10, silenceTimeoutMs / 4), check);
  }

  /**
   * HD44780 "initialisation by instruction" (datasheet figure 24), in 4-bit mode, with its
   * pauses enforced after the paced line drained: it recovers the controller from any state,
   * including an init johnny-five sent too fast. Ends with a clear glass, cursor off.
   */
  private async initialiseLcd(connection: FirmataConnection, lcd: J5Lcd): Promise<void> {
    await this.settle(connection, 50); // > 40 ms after power-up before the first instruction
    for (const [nibble, pauseMs] of [[0x3, 5], [0x3, 1], [0x3, 1], [0x2, 1]] as const) {
      lcd.writeBits(HD44780_COMMAND, nibble);
      await this.settle(connection, pauseMs);
    }
    lcd.command(0x28); // function set: 4-bit, two lines (a 20×4 module is two lines internally), 5×8 dots
    lcd.command(0x0c); // display on, cursor off, blink off
    lcd.command(0x01); // clear: 1.52 ms
    await this.settle(connection, 2);
    lcd.command(0x06); // entry mode: left to right, no display shift
    await connection.line.drained();
  }

  private lost(reason: string): void {
    if (this.phase === 'closed') return;
    const wasOnline = this.phase === 'online';
    this.generation += 1;
    this.cancelTimer?.();
    this.cancelTimer = null;
    const connection = this.connection;
    this.connection = null;
    if (connection !== null) void this.teardown(connection);
    this.gestures.reset();
    this.stats.disconnects += 1;
    this.stats.lastDisconnect = reason;
    const delayMs = this.backoff.nextDelayMs();
    this.phase = 'waiting';
    this.log(`firmata: ${reason}; retrying in ${delayMs} ms`);
    if (wasOnline) this.onlineListeners.emit(false);
    this.cancelTimer = this.timers.schedule(delayMs, () => {
      this.cancelTimer = null;
      if (this.phase === 'waiting') this.connect();
    });
  }
}

// ---------------------------------------------------------------------------------------------
// The three devices.

/**
 * Open and board state shared by the keypad and the display: 'online' only when both hold.
 * A device listens to the board only while open, so closed devices cost the link nothing.
 */
abstract class BoardDevice {
  readonly kind = 'firmata';
  protected opened = false;
  private lastState: DeviceState = 'offline';
  private readonly stateListeners = new Listeners<DeviceState>();
  private unsubscribe: Unsubscribe[] = [];

  constructor(protected readonly link: FirmataBoardLink) {}

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    this.unsubscribe = this.subscribe();
    this.unsubscribe.push(
      this.link.onOnline((online) => {
        this.linkChanged(online);
        this.refreshState();
      }),
    );
    await this.link.acquire();
    this.refreshState();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    for (const unsubscribe of this.unsubscribe.splice(0)) unsubscribe();
    this.refreshState();
    await this.link.release();
  }

  state(): DeviceState {
    return this.opened && this.link.online ? 'online' : 'offline';
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  /** Listeners on the link for the time the device is open. */
  protected subscribe(): Unsubscribe[] {
    return [];
  }

  protected linkChanged(_online: boolean): void {}

  private refreshState(): void {
    const state = this.state();
    if (state === this.lastState) return;
    this.lastState = state;
    this.stateListeners.emit(state);
  }
}

export class FirmataKeypad extends BoardDevice implements Keypad {
  private readonly keyListeners = new Listeners<KeyName>();

  onKey(listener: (key: KeyName) => void): Unsubscribe {
    return this.keyListeners.add(listener);
  }

  protected override subscribe(): Unsubscribe[] {
    return [this.link.onKey((key) => this.state() === 'online' && this.keyListeners.emit(key))];
  }
}

/** The LCD. show() resolves once the changed text has gone down the (paced) line. */
export class FirmataDisplay extends BoardDevice implements Display {
  readonly rows: number;
  readonly columns: number;
  private wanted: string[];
  /** What the glass holds, per row; null while unknown (a write in flight, or offline). */
  private glass: (string | null)[];
  private flushing: Promise<void> | null = null;
  private readonly mirrorListeners = new Listeners<string[]>();
  /** Characters written to the LCD since start, for tests of the diff. */
  charactersWritten = 0;

  constructor(link: FirmataBoardLink) {
    super(link);
    this.rows = link.settings.lcdRows;
    this.columns = link.settings.lcdColumns;
    this.wanted = normaliseDisplayLines([], this.rows, this.columns);
    this.glass = this.wanted.map(() => null);
  }

  async show(lines: string[]): Promise<void> {
    const state = this.state();
    if (state !== 'online') throw new Error(`display is ${state}: text not shown`);
    this.wanted = normaliseDisplayLines(lines, this.rows, this.columns);
    this.mirrorListeners.emit(this.lines());
    this.flushing ??= this.flush().finally(() => (this.flushing = null));
    return this.flushing;
  }

  /** What the kiosk last asked to show (the mirror panel's text). */
  lines(): string[] {
    return [...this.wanted];
  }

  onChange(listener: (lines: string[]) => void): Unsubscribe {
    return this.mirrorListeners.add(listener);
  }

  /** Opened on a board that was already up: what its glass holds is unknown. */
  protected override subscribe(): Unsubscribe[] {
    this.glass = this.wanted.map(() => null);
    return [];
  }

  /** After a (re)connect the init left the glass blank: put the last text back. */
  protected override linkChanged(online: boolean): void {
    const blank = ' '.repeat(this.columns);
    this.glass = this.wanted.map(() => (online ? blank : null));
    if (online && this.wanted.some((row) => row !== blank)) {
      this.flushing ??= this.flush().finally(() => (this.flushing = null));
      this.flushing.catch(() => undefined);
    }
  }

  /**
   * Writes changed rows until the glass holds the latest wanted text, one row per turn (a row's
   * bytes handed to the line before the next row is chosen); done once the wire is drained.
   */
  private async flush(): Promise<void> {
    for (;;) {
      const connection = this.link.current;
      if (connection === null || connection.lcd === null || !this.opened) throw new Error('display went offline: text not shown');
      const row = this.wanted.findIndex((text, index) => this.glass[index] !== text);
      if (row < 0) {
        await connection.line.drained();
        if (this.wanted.every((text, index) => this.glass[index] === text)) return;
        continue;
      }
      const target = this.wanted[row] as string;
      const before = this.glass[row] ?? null;
      let start = 0;
      let end = target.length;
      if (before !== null) {
        while (start < end && before[start] === target[start]) start += 1;
        while (end > start && before[end - 1] === target[end - 1]) end -= 1;
      }
      this.glass[row] = null;
      connection.lcd.cursor(row, start);
      connection.lcd.print(target.slice(start, end), { dontProcessSpecials: true });
      this.charactersWritten += end - start;
      await connection.line.handedOver();
      if (this.link.current === connection) this.glass[row] = target;
    }
  }
}

/**
 * The cash dispenser: simulated cassettes (the counts live in software, as in sim.ts), online
 * with the board. With a relay pin, each note is a pulse on it before the notes count as
 * presented; the relay gives no feedback, so a jam is only the test power jamNext().
 */
export class FirmataDispenser implements CashDispenser {
  readonly kind = 'firmata';
  /** The cassette model and its test powers: jamNext(), clearJam(), setCassettes(), isLow(). */
  readonly cassetteModel: SimDispenser;
  private opened = false;
  private unsubscribe: Unsubscribe = () => undefined;
  private notesToPulse = 0;

  constructor(
    private readonly link: FirmataBoardLink,
    options: { cassettes?: readonly Cassette[]; lowCashCount?: number } = {},
  ) {
    this.cassetteModel = new SimDispenser({
      cassettes: options.cassettes,
      lowCashCount: options.lowCashCount,
      // SimDispenser waits its delay once per dispense: with a relay, that wait is the pulses.
      delayMs: link.settings.relayPin === null ? 0 : 1,
      sleep: () => this.pulseNotes(),
    });
    this.cassetteModel.unplug();
  }

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    this.unsubscribe = this.link.onOnline((online) => (online ? this.cassetteModel.replug() : this.cassetteModel.unplug()));
    await this.link.acquire();
    if (this.link.online) this.cassetteModel.replug();
    else this.cassetteModel.unplug();
    await this.cassetteModel.open();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.unsubscribe();
    await this.cassetteModel.close();
    await this.link.release();
  }

  state(): DeviceState {
    return this.cassetteModel.state();
  }

  cassettes(): Cassette[] {
    return this.cassetteModel.cassettes();
  }

  notesFor(amountCents: number): Cassette[] | null {
    return this.cassetteModel.notesFor(amountCents);
  }

  isLow(): boolean {
    return this.cassetteModel.isLow();
  }

  async dispense(amountCents: number): Promise<DispenseResult> {
    // A second dispense during one is refused by the model; it must not change the pulses in progress.
    if (this.state() !== 'deviceBusy') this.notesToPulse = (this.notesFor(amountCents) ?? []).reduce((sum, notes) => sum + notes.count, 0);
    return this.cassetteModel.dispense(amountCents);
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.cassetteModel.onState(listener);
  }

  private async pulseNotes(): Promise<void> {
    const { relayPin: pin, relayPulseMs, relayGapMs } = this.link.settings;
    for (let note = 0; note < this.notesToPulse && pin !== null; note += 1) {
      const connection = this.link.current;
      if (connection === null) throw new Error(`the board went offline after ${note} relay pulses`);
      connection.io.digitalWrite(pin, 1);
      await this.link.settle(connection, relayPulseMs);
      connection.io.digitalWrite(pin, 0);
      await this.link.settle(connection, relayGapMs);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The driver.

export interface FirmataDeviceBundle extends DeviceBundle {
  keypad: FirmataKeypad;
  display: FirmataDisplay;
  dispenser: FirmataDispenser;
  link: FirmataBoardLink;
  /** Closes the three devices (and with them the line). */
  close(): Promise<void>;
}

export type FirmataDriverOptions = DriverOptions & { firmata?: FirmataOptions };

/** The devices over lines from `source` (a fresh one per reconnect), or over one given line. */
export function createFirmataDevicesOverTransport(source: FirmataTransport | FirmataTransportSource, options: FirmataDriverOptions = {}): FirmataDeviceBundle {
  const firmata = options.firmata ?? {};
  const link = new FirmataBoardLink(typeof source === 'function' ? source : () => source, firmata, options.log);
  const keypad = new FirmataKeypad(link);
  const display = new FirmataDisplay(link);
  const cassettes = firmata.dispenser ?? options.sim?.dispenser ?? {};
  const dispenser = new FirmataDispenser(link, cassettes);
  return {
    keypad,
    display,
    dispenser,
    link,
    mirror: { lines: () => display.lines(), onChange: (listener) => void display.onChange(() => listener()) },
    close: async () => {
      await Promise.allSettled([keypad.close(), display.close(), dispenser.close()]);
    },
  };
}

/** Opens `path` with serialport at StandardFirmata's 57600 baud; rejects while the port is absent. */
export async function openFirmataPort(path: string): Promise<FirmataTransport> {
  const { SerialPort } = await import('serialport');
  const port = new SerialPort({ path, baudRate: FIRMATA_BAUD_RATE, autoOpen: false });
  await new Promise<void>((resolve, reject) => port.open((error) => (error ? reject(error) : resolve())));
  return port;
}

/** `--device firmata:PATH`: the DriverFactory of hardware/factory.ts. */
export async function createFirmataDevices(path: string, options: FirmataDriverOptions = {}): Promise<FirmataDeviceBundle> {
  assert(path.length > 0, 'firmata needs a serial port path');
  return createFirmataDevicesOverTransport(() => openFirmataPort(path), options);
}
