// An ESC/POS receipt printer on a serial port: an Epson TM-T88, or any printer that speaks its
// command set (escpos.ts). `createPrinter('escpos:PATH')` in printer-factory.ts.
//
// Choices, and why:
// - Its own port, not the keypad's line: a receipt printer is a box with its own cable. The
//   lifecycle (bounded open wait, connection generations, reconnect backoff) is the one the
//   other links share (shared-line.ts), and the port is serial-port.ts's.
// - A printer says nothing unless asked, so DLE EOT 4 is its heartbeat: asked when the port
//   opens (no answer, no 'online'), every pollIntervalMs, and before and after each receipt.
//   An ask unanswered within statusTimeoutMs is repeated, statusAttempts in all; then the line
//   counts as lost: offline, and the path is reopened with backoff, so a printer unplugged (or
//   its port gone) comes back by itself.
// - ESC/POS does not acknowledge text. ok means the bytes drained to the port and the status
//   asked after them came back without 'out'. DLE EOT is real-time, so that answer may overtake
//   the last lines still in the printer's buffer: a roll that ends there is seen at the next ask.
import { Listeners } from './listeners.js';
import { encodeReceipt, PAPER_STATUS_REQUEST, parsePaperStatus } from './escpos.js';
import { assertReceiptColumns, normaliseReceiptLines, printFailure, RECEIPT_COLUMNS_DEFAULT } from './receipt.js';
import type { ReceiptColumns } from './receipt.js';
import { describeOpenError, openSerialPort, type OpenSerialConnection, type SerialConnection } from './serial-port.js';
import {
  serialPrinterSettings,
  type SerialPrinterOptions,
  type SerialPrinterSettings,
} from './serial-printer-options.js';
import { LineLifecycle, realTimers, type SerialTimers } from './shared-line.js';
import type { DeviceState, PaperStatus, PrintResult, ReceiptPrinter, Unsubscribe } from './types.js';

export type { SerialPrinterOptions } from './serial-printer-options.js';

type Roll = Exclude<PaperStatus, 'unknown'>;

/** A status ask that got no answer: the line dropped meanwhile ('offline'), or it stayed silent ('timeout'). */
class StatusUnanswered extends Error {
  constructor(
    readonly fault: 'offline' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

/** Every byte we send is 7-bit (escpos.ts), so latin1 text is the bytes themselves on the port. */
const asPortText = (bytes: readonly number[] | Uint8Array): string => Buffer.from(bytes).toString('latin1');

export class SerialPrinter implements ReceiptPrinter {
  readonly kind = 'escpos';
  readonly columns: ReceiptColumns;
  private readonly settings: SerialPrinterSettings;
  private readonly timers: SerialTimers;
  private readonly openConnection: OpenSerialConnection;
  private readonly log: (line: string) => void;
  private readonly line: LineLifecycle<'opening' | 'status'>;
  private connection: SerialConnection | null = null;
  private opened = false;
  private missing = false;
  private roll: Roll = 'ok';
  private lastState: DeviceState = 'offline';
  private lastPaper: PaperStatus = 'unknown';
  private asking: { generation: number; roll: Promise<Roll> } | null = null;
  private waiter: ((roll: Roll | null) => void) | null = null;
  private cancelPoll: () => void = () => undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private noise = 0;
  private readonly stateListeners = new Listeners<DeviceState>();
  private readonly paperListeners = new Listeners<PaperStatus>();

  constructor(
    readonly path: string,
    options: SerialPrinterOptions = {},
  ) {
    const columns = options.columns ?? RECEIPT_COLUMNS_DEFAULT;
    assertReceiptColumns(columns);
    this.columns = columns;
    this.settings = serialPrinterSettings(options);
    this.timers = options.timers ?? realTimers;
    this.openConnection = options.openConnection ?? openSerialPort;
    this.log = options.log ?? (() => undefined);
    this.line = new LineLifecycle(this.timers, this.settings);
    this.line.onOnline(() => this.refresh());
  }

  /** Bytes from the printer that were not a status byte: line noise, counted and dropped. */
  get noiseBytes(): number {
    return this.noise;
  }

  state(): DeviceState {
    if (!this.opened) return 'offline';
    if (this.line.online) return 'online';
    return this.missing ? 'noDevice' : 'offline';
  }

  paper(): PaperStatus {
    return this.state() === 'online' ? this.roll : 'unknown';
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  onPaper(listener: (paper: PaperStatus) => void): Unsubscribe {
    return this.paperListeners.add(listener);
  }

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    await this.line.acquire(() => this.connect());
    this.refresh();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    const connection = this.connection;
    const closed = this.line.release(() => this.drop());
    this.refresh();
    if (closed) await connection?.close();
  }

  print(lines: readonly string[]): Promise<PrintResult> {
    const printed = this.queue.then(() => this.printNow(lines));
    this.queue = printed;
    return printed;
  }

  private async printNow(lines: readonly string[]): Promise<PrintResult> {
    const before = await this.ask();
    if (typeof before !== 'string') return before;
    if (before === 'out') return printFailure('paperOut', 'printer is out of paper: receipt not printed');
    const written = await this.write(encodeReceipt(normaliseReceiptLines(lines, this.columns)));
    if (written !== null) return written;
    const after = await this.ask();
    if (typeof after !== 'string') return after;
    if (after === 'out') return printFailure('paperOut', 'the roll ran out during this receipt');
    return { ok: true };
  }

  /** The paper now, asked of the printer; a failure result when it cannot be asked or does not answer. */
  private async ask(): Promise<Roll | PrintResult> {
    const state = this.state();
    if (state !== 'online') return printFailure('offline', `printer is ${state}: receipt not printed`);
    try {
      return await this.queryStatus();
    } catch (error) {
      return error instanceof StatusUnanswered
        ? printFailure(error.fault, error.message)
        : printFailure('offline', String(error));
    }
  }

  /** DLE EOT 4 until answered, statusAttempts at most; one ask at a time, shared by its callers. */
  private queryStatus(): Promise<Roll> {
    const generation = this.line.generation;
    if (this.asking?.generation !== generation) {
      const asking = { generation, roll: this.askRepeatedly(generation) };
      this.asking = asking;
      const forget = (): void => {
        if (this.asking === asking) this.asking = null;
      };
      asking.roll.then(forget, forget);
    }
    return this.asking.roll;
  }

  private async askRepeatedly(generation: number): Promise<Roll> {
    const { statusAttempts, statusTimeoutMs } = this.settings;
    for (let attempt = 0; attempt < statusAttempts; attempt += 1) {
      const roll = await this.askOnce(generation);
      if (roll !== null) {
        this.roll = roll;
        this.refresh();
        return roll;
      }
      if (!this.line.isCurrent(generation))
        throw new StatusUnanswered('offline', 'the printer went offline while asked for its status');
    }
    const reason = `no answer to DLE EOT 4 in ${statusAttempts} attempts of ${statusTimeoutMs} ms`;
    this.lost(reason);
    throw new StatusUnanswered('timeout', reason);
  }

  /** One DLE EOT 4: its answer, or null after statusTimeoutMs, a failed write, or a dropped line. */
  private askOnce(generation: number): Promise<Roll | null> {
    return new Promise((resolve) => {
      const connection = this.connection;
      if (!this.line.isCurrent(generation) || connection === null) {
        resolve(null);
        return;
      }
      let cancel: () => void = () => undefined;
      const settle = (roll: Roll | null): void => {
        if (this.waiter !== settle) return;
        this.waiter = null;
        cancel();
        resolve(roll);
      };
      this.waiter?.(null);
      this.waiter = settle;
      cancel = this.timers.schedule(this.settings.statusTimeoutMs, () => settle(null));
      connection.write(asPortText(PAPER_STATUS_REQUEST)).catch(() => settle(null));
    });
  }

  /** The receipt's bytes, drained within writeTimeoutMs; null when they were, else the fault. */
  private async write(bytes: Uint8Array): Promise<PrintResult | null> {
    const connection = this.connection;
    if (connection === null) return printFailure('offline', 'printer went offline: receipt not printed');
    const { writeTimeoutMs } = this.settings;
    let cancel: () => void = () => undefined;
    const timedOut = new Promise<'timeout'>((resolve) => {
      cancel = this.timers.schedule(writeTimeoutMs, () => resolve('timeout'));
    });
    try {
      const outcome = await Promise.race([
        connection.write(asPortText(bytes)).then(() => 'written' as const),
        timedOut,
      ]);
      if (outcome === 'written') return null;
      // A line that takes no bytes for this long is wedged (flow control held, a hung adapter).
      this.lost(`a receipt did not drain within ${writeTimeoutMs} ms`);
      return printFailure('timeout', `the receipt did not drain to the printer within ${writeTimeoutMs} ms`);
    } catch (error) {
      if (this.connection === connection) this.lost(`write failed: ${String(error)}`);
      return printFailure('writeFailed', `receipt not written: ${String(error)}`);
    } finally {
      cancel();
    }
  }

  private connect(): void {
    const generation = this.line.begin('opening');
    const current = (): boolean => this.line.isCurrent(generation);
    this.openConnection(this.path, this.settings.baudRate, {
      onData: (chunk) => {
        if (current()) this.receive(chunk);
      },
      onClose: (reason) => {
        if (current()) this.lost(reason);
      },
    }).then(
      (connection) => {
        if (!current()) {
          void connection.close();
          return;
        }
        this.connection = connection;
        this.setMissing(false);
        this.line.phase = 'status';
        // A failed ask has already called the line lost: nothing more to do here.
        this.queryStatus().then(
          () => {
            if (current() && this.line.phase === 'status') this.cameOnline();
          },
          () => undefined,
        );
      },
      (error: unknown) => {
        if (!current()) return;
        const { missing, reason } = describeOpenError(error);
        this.setMissing(missing);
        this.lost(reason);
      },
    );
  }

  private receive(chunk: Buffer): void {
    for (const byte of chunk) {
      const roll = parsePaperStatus(byte);
      if (roll === null) this.noise += 1;
      else this.waiter?.(roll);
    }
  }

  private cameOnline(): void {
    this.line.cameOnline();
    this.log(`printer ${this.path}: online, paper ${this.roll}`);
    this.poll(this.line.generation);
    this.line.announceOnline();
  }

  /** The heartbeat: the status every pollIntervalMs while this connection is online. */
  private poll(generation: number): void {
    this.cancelPoll = this.timers.schedule(this.settings.pollIntervalMs, () => {
      if (!this.line.isCurrent(generation) || !this.line.online) return;
      this.queryStatus().then(
        () => this.poll(generation),
        () => undefined,
      );
    });
  }

  /** The line is gone (closed, unanswered, or never opened): offline, then reopen later. */
  private lost(reason: string): void {
    if (this.line.phase === 'closed' || this.line.phase === 'waiting') return;
    const connection = this.connection;
    const { firstRetry } = this.line.lost(
      () => {
        this.drop();
        void connection?.close();
      },
      () => this.connect(),
    );
    if (firstRetry) this.log(`printer ${this.path}: ${reason}; reconnecting`);
  }

  /** Forgets the connection, its poll and its waiting ask; the caller closes the port. */
  private drop(): void {
    this.cancelPoll();
    this.cancelPoll = () => undefined;
    this.connection = null;
    this.waiter?.(null);
  }

  private setMissing(missing: boolean): void {
    if (missing === this.missing) return;
    this.missing = missing;
    this.refresh();
  }

  /** Listeners hear only changes: the state first, then the paper it implies. */
  private refresh(): void {
    const state = this.state();
    if (state !== this.lastState) {
      this.lastState = state;
      this.stateListeners.emit(state);
    }
    const paper = this.paper();
    if (paper === this.lastPaper) return;
    this.lastPaper = paper;
    this.paperListeners.emit(paper);
  }
}
