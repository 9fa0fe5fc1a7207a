// FirmataBoardLink: the one board (StandardFirmata over a paced serial line, johnny-five on top)
// behind the three firmata devices; connecting, the LCD init, silence watch and reconnecting.
import { Backoff, LineUsers, realTimers, type SerialTimers } from './shared-line.js';
import { DISPLAY_COLUMNS_MAX, DISPLAY_ROWS_MAX, type SimDispenserOptions } from './sim.js';
import type { KeyName, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';
import {
  assert,
  createFirmataIo,
  delay,
  errorText,
  five,
  type FirmataIo,
  type FirmataIoOptions,
  type FirmataTransport,
  type FirmataTransportSource,
  type J5Board,
  type J5KeypadEvent,
  type J5Lcd,
} from './firmata-io.js';
import {
  FIRMATA_RX_BUFFER_BYTES,
  PACING_BYTES_PER_INTERVAL_DEFAULT,
  PACING_INTERVAL_MS_DEFAULT,
  PacedLine,
  type LinePacing,
} from './firmata-line.js';
import { KEYPAD_LEGENDS, KeypadGestures } from './firmata-keypad.js';

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
      pacing: {
        bytesPerInterval: options.pacing?.bytesPerInterval ?? PACING_BYTES_PER_INTERVAL_DEFAULT,
        intervalMs: options.pacing?.intervalMs ?? PACING_INTERVAL_MS_DEFAULT,
      },
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
    assert(
      Number.isSafeInteger(pacing.bytesPerInterval) &&
        pacing.bytesPerInterval >= 1 &&
        pacing.bytesPerInterval < FIRMATA_RX_BUFFER_BYTES,
      `pacing.bytesPerInterval must be 1..${FIRMATA_RX_BUFFER_BYTES - 1}`,
    );
    assert(Number.isFinite(pacing.intervalMs) && pacing.intervalMs > 0, 'pacing.intervalMs must be positive');
    assert(
      Number.isSafeInteger(lcdRows) && lcdRows >= 2 && lcdRows <= DISPLAY_ROWS_MAX,
      `lcdRows must be 2..${DISPLAY_ROWS_MAX}`,
    );
    assert(
      Number.isSafeInteger(lcdColumns) && lcdColumns >= 1 && lcdColumns <= DISPLAY_COLUMNS_MAX,
      `lcdColumns must be 1..${DISPLAY_COLUMNS_MAX}`,
    );
    // D0/D1 carry the serial line and A4/A5 (18/19) the I2C bus; A0–A3 (14–17) work as digital outputs.
    assert(
      relayPin === null || (Number.isSafeInteger(relayPin) && relayPin >= 2 && relayPin <= 17),
      'relayPin must be 2..17: not D0/D1 (serial) nor A4/A5 (I2C)',
    );
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
          if (generation !== this.generation) {
            transport.close(() => undefined);
            return;
          }
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
    const board = new five.Board({
      io,
      repl: false,
      debug: false,
      sigint: false,
      timeout: this.settings.readyTimeoutMs,
    });
    board.on('error', (error: Error) => onLost(`board error: ${error.message}`));
    // The deadline covers the handshake and the LCD init; ready() cancels it once online.
    this.cancelTimer = this.timers.schedule(this.settings.readyTimeoutMs, () =>
      onLost(`StandardFirmata did not answer within ${this.settings.readyTimeoutMs} ms`),
    );
    board.on('ready', () => {
      if (generation !== this.generation) return;
      this.ready(board, connection).catch((error: unknown) =>
        onLost(`setting up the devices failed: ${errorText(error)}`),
      );
    });
  }

  private async ready(board: J5Board, connection: FirmataConnection): Promise<void> {
    const { lcdAddress, lcdRows, lcdColumns, keypadAddress, keypadHoldMs, relayPin } = this.settings;
    const lcd = new five.LCD({ board, controller: 'PCF8574', address: lcdAddress, rows: lcdRows, cols: lcdColumns });
    const keypad = new five.Keypad({
      board,
      controller: '4X4_I2C_NANO_BACKPACK',
      address: keypadAddress,
      keys: KEYPAD_LEGENDS,
      holdtime: keypadHoldMs,
    });
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
    for (const [nibble, pauseMs] of [
      [0x3, 5],
      [0x3, 1],
      [0x3, 1],
      [0x2, 1],
    ] as const) {
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
