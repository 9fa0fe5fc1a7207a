// FirmataBoardLink: the one board (StandardFirmata over a paced serial line, johnny-five on top)
// behind the three firmata devices; connecting, the LCD init, silence watch and reconnecting.
// Who uses the board, generations and the backoff are the lifecycle both links share
// (shared-line.ts); the options and their checks are firmata-settings.ts.
import { LineLifecycle, realTimers, watchSilence, type SerialTimers } from './shared-line.js';
import type { KeyName, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';
import {
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
import { PacedLine } from './firmata-line.js';
import { KEYPAD_LEGENDS, KeypadGestures } from './firmata-keypad.js';
import { firmataLinkSettings, type FirmataLinkSettings, type FirmataOptions } from './firmata-settings.js';

export {
  KEYPAD_HOLD_MS_DEFAULT,
  KEYPAD_I2C_ADDRESS_DEFAULT,
  LCD_I2C_ADDRESS_DEFAULT,
  type FirmataOptions,
} from './firmata-settings.js';

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

const HD44780_COMMAND = 0x00;

export class FirmataBoardLink {
  readonly settings: FirmataLinkSettings;
  readonly timers: SerialTimers;
  private readonly createIo: (line: PacedLine, options: FirmataIoOptions) => FirmataIo;
  private readonly board: LineLifecycle<'connecting'>;
  private connection: FirmataConnection | null = null;
  /** The ready deadline while connecting, the silence watch while online. */
  private cancelTimer: () => void = () => undefined;
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
    this.settings = firmataLinkSettings(options);
    this.board = new LineLifecycle(this.timers, this.settings);
  }

  get online(): boolean {
    return this.board.online;
  }

  /** The parts of the current connection while online, else null. */
  get current(): FirmataConnection | null {
    return this.board.online ? this.connection : null;
  }

  onOnline(listener: (online: boolean) => void): Unsubscribe {
    return this.board.onOnline(listener);
  }

  onKey(listener: (key: KeyName) => void): Unsubscribe {
    return this.keyListeners.add(listener);
  }

  /** One more device uses the board; see LineLifecycle.acquire. */
  acquire(): Promise<void> {
    return this.board.acquire(() => this.connect());
  }

  /** One device less; the last closes the line and stops reconnecting. */
  async release(): Promise<void> {
    const connection = this.connection;
    const closed = this.board.release(() => this.dropConnection());
    if (closed && connection !== null) await this.teardown(connection);
  }

  /** Stops the connection's timer and the key gestures, and forgets it; the caller tears it down. */
  private dropConnection(): void {
    this.cancelTimer();
    this.connection = null;
    this.gestures.reset();
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
    const generation = this.board.begin('connecting');
    Promise.resolve()
      .then(() => this.source())
      .then(
        (transport) => {
          if (!this.board.isCurrent(generation)) {
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
          if (this.board.isCurrent(generation)) this.lost(`cannot open the line: ${errorText(error)}`);
        },
      );
  }

  private attach(transport: FirmataTransport, generation: number): void {
    const onLost = (reason: string): void => {
      if (this.board.isCurrent(generation)) this.lost(reason);
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
      if (!this.board.isCurrent(generation)) return;
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
    const live = (): boolean => this.board.isCurrent(connection.generation) && this.board.online;
    keypad.on('down', (event) => live() && this.gestures.onDown(legends(event)));
    keypad.on('hold', (event) => live() && this.gestures.onHold(legends(event)));
    keypad.on('up', (event) => live() && this.gestures.onUp(legends(event)));
    if (relayPin !== null) {
      connection.io.pinMode(relayPin, 1);
      connection.io.digitalWrite(relayPin, 0);
    }
    await this.initialiseLcd(connection, lcd);
    if (!this.board.isCurrent(connection.generation)) return;
    this.cancelTimer();
    connection.lcd = lcd;
    this.board.cameOnline();
    this.stats.connects += 1;
    this.log(`firmata: board online (connection ${this.stats.connects})`);
    this.watchSilence(connection);
    this.board.announceOnline();
  }

  /** While this connection is the online one, checks that the board still talks. */
  private watchSilence(connection: FirmataConnection): void {
    const { silenceTimeoutMs } = this.settings;
    if (silenceTimeoutMs <= 0) return;
    connection.lastHeardMs = this.timers.nowMs();
    this.cancelTimer = watchSilence(this.timers, {
      silenceMs: silenceTimeoutMs,
      checkMs: Math.max(10, silenceTimeoutMs / 4),
      lastHeardMs: () => connection.lastHeardMs,
      active: () => this.board.isCurrent(connection.generation) && this.board.online,
      onSilent: (silentMs) => this.lost(`no byte from the board for ${Math.round(silentMs)} ms`),
    });
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
    if (this.board.phase === 'closed') return;
    const connection = this.connection;
    const { delayMs } = this.board.lost(
      () => {
        this.dropConnection();
        if (connection !== null) void this.teardown(connection);
        this.stats.disconnects += 1;
        this.stats.lastDisconnect = reason;
      },
      () => this.connect(),
    );
    this.log(`firmata: ${reason}; retrying in ${delayMs} ms`);
  }
}
