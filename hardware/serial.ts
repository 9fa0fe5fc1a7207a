// The serial driver: a keypad, a character display, a cash dispenser and (when the device has one)
// a cash-in module on one microcontroller, spoken to in the line protocol of protocol/serial-line.ts (documented in
// hardware/PROTOCOL.md) over one port (hardware/serial-link.ts). `--device serial:PATH`.
//
// Choices, and why:
// - The three devices share the line: when it is unplugged (the port closes, or the device is
//   silent for HEARTBEAT_LOSS_MS) all three go 'offline' together, and the link reopens the
//   path with backoff and says HELLO again; all three come back 'online' together.
// - The display sends only the rows that changed (LCD row col text, never CLEAR, which makes
//   an HD44780 flicker and costs it 1.5 ms), one row at a time with a pause between rows, so a
//   microcontroller with a small UART buffer and a slow LCD is never overrun. What the glass
//   holds after a reconnect is unknown (it may have been power-cycled): the next show()
//   rewrites every row.
// - A dispense is DISPENSE id → DISPENSED id, the DISPENSE repeated every dispenseRepeatMs
//   meanwhile (the device answers a repeated id from memory and never pays twice, [SL-4.8]),
//   so an answer lost to noise is recovered. If no answer comes within dispenseTimeoutMs, or
//   the line drops while waiting, the result is a fault ('hardwareError' or 'offline') with
//   dispensedCents 0 — although the device may have presented notes. The kiosk then voids the
//   hold, exactly as its journal's 'dispense interrupted' recovery does, and the difference
//   shows when the cassettes are counted (a late DISPENSED is logged, and CASH after the
//   reconnect carries the true counts). A real ATM reconciles the same way: the customer is
//   never charged for cash the machine cannot prove it paid.
// - Device faults (FAULT, [SL-4.9]): jam → the dispenser is 'hardwareError' until FAULT ok;
//   cashLow → still 'online', isLow() is true; tamper → keypad and dispenser 'fraudAttempt' (no
//   PIN entry, no cash) until FAULT ok; the display stays usable so the screen can say so.
//   Faults are forgotten when the line drops: the device announces the active ones after HELLO.
// - The cash-in module (serial-acceptor.ts) is a fourth device on the same line, and the bundle
//   always carries it: the factory returns before the device has said anything ([SL-1.3]), so
//   whether it has the module (`cashin` in HELLO, [SL-4.1]) is known only once it is online, and a
//   device may be swapped for another. Without the capability the acceptor reports 'noDevice',
//   which the kiosk reads as "no cash-in module" (typed envelope deposits, nothing on the status
//   line), exactly as it reads a bundle without an acceptor; the sim alone leaves it out.
import { AtmError, assert, type CodeOf } from '../protocol/index.js';
import type { DeviceBundle, DriverOptions } from './factory.js';
import {
  DISPLAY_COLUMNS_DEFAULT,
  DISPLAY_COLUMNS_MAX,
  DISPLAY_ROWS_DEFAULT,
  DISPLAY_ROWS_MAX,
  normaliseDisplayLines,
} from './sim.js';
import { SerialLink } from './serial-link.js';
import type { SerialLinkOptions } from './serial-link-options.js';
import type { SerialLinkStats } from './serial-link-stats.js';
import { realTimers, type SerialTimers } from './serial-port.js';
import type { DeviceState, Display, KeyName, Keypad, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';
import { SerialDevice, type DeviceFaults } from './serial-device.js';
import { SerialDispenser, type SerialDispenserOptions } from './serial-dispenser.js';
import { SerialAcceptor, type SerialAcceptorOptions } from './serial-acceptor.js';

export { SerialLink } from './serial-link.js';
export type { DeviceHello, SerialLinkOptions } from './serial-link-options.js';
export type { SerialLinkStats } from './serial-link-stats.js';
export { SerialDispenser, type SerialDispenserOptions } from './serial-dispenser.js';
export { SerialAcceptor, type SerialAcceptorOptions } from './serial-acceptor.js';
export {
  openSerialPort,
  realTimers,
  type OpenSerialConnection,
  type SerialConnection,
  type SerialConnectionEvents,
  type SerialTimers,
} from './serial-port.js';

export class SerialKeypad extends SerialDevice implements Keypad {
  readonly kind = 'serial';
  private readonly keyListeners = new Listeners<KeyName>();

  onKey(listener: (key: KeyName) => void): Unsubscribe {
    return this.keyListeners.add(listener);
  }

  /** From the link: a KEY line. Dropped unless the keypad is open and online (not tampered). */
  received(key: KeyName): void {
    if (this.state() === 'online') this.keyListeners.emit(key);
  }

  protected override condition(): DeviceState {
    return this.faults.tamper ? 'fraudAttempt' : 'online';
  }
}

export interface SerialDisplayOptions {
  rows?: number;
  columns?: number;
  /** Pause after each LCD row, for a slow microcontroller and LCD. Default 5 ms. */
  rowGapMs?: number;
  /** How long the device has to confirm a show (PING → PONG) before show() rejects. Default 2 s. */
  confirmTimeoutMs?: number;
}

export class SerialDisplay extends SerialDevice implements Display {
  readonly kind = 'serial';
  private size: { rows: number; columns: number };
  private readonly sizeGiven: boolean;
  private readonly rowGapMs: number;
  private readonly confirmTimeoutMs: number;
  /** What the glass holds as far as we know; null rows are unknown (after a reconnect). */
  private glass: (string | null)[];
  private wanted: string[];
  private writing: Promise<void> = Promise.resolve();
  private readonly changeListeners = new Listeners<string[]>();

  constructor(
    link: SerialLink,
    faults: DeviceFaults,
    private readonly timers: SerialTimers,
    options: SerialDisplayOptions = {},
  ) {
    super(link, faults);
    this.size = { rows: options.rows ?? DISPLAY_ROWS_DEFAULT, columns: options.columns ?? DISPLAY_COLUMNS_DEFAULT };
    this.sizeGiven = options.rows !== undefined || options.columns !== undefined;
    this.rowGapMs = options.rowGapMs ?? 5;
    this.confirmTimeoutMs = options.confirmTimeoutMs ?? 2_000;
    assert(
      displaySizeValid(this.size.rows, this.size.columns),
      `display rows must be 1..${DISPLAY_ROWS_MAX}, columns 1..${DISPLAY_COLUMNS_MAX}`,
    );
    this.wanted = normaliseDisplayLines([], this.rows, this.columns);
    this.glass = this.wanted.map(() => null);
    // Forgotten when the line drops (not when it returns: the 'online' listeners re-show at once).
    link.onOnline((online) => {
      if (!online) this.glass = this.glass.map(() => null);
    });
    // [SL-4.1] The device says its display's size (lcdCxR) in HELLO: a 16x2 board gets text
    // written for 16x2, unless the kiosk was configured with a size.
    link.onGreeted(() => {
      const reported = displaySizeOf(link.hello?.caps ?? []);
      if (this.sizeGiven || reported === null || (reported.rows === this.rows && reported.columns === this.columns))
        return;
      this.size = reported;
      this.wanted = normaliseDisplayLines(this.wanted, this.rows, this.columns);
      this.glass = this.wanted.map(() => null);
    });
  }

  get rows(): number {
    return this.size.rows;
  }

  get columns(): number {
    return this.size.columns;
  }

  /** Rows go out one at a time, in order; a show waits for the ones before it. */
  show(lines: string[]): Promise<void> {
    const state = this.state();
    if (state !== 'online') return Promise.reject(new Error(`display is ${state}: text not shown`));
    const text = normaliseDisplayLines(lines, this.rows, this.columns);
    if (text.join('\n') !== this.wanted.join('\n')) {
      this.wanted = text;
      this.changeListeners.emit([...text]);
    }
    const next = this.writing.catch(() => undefined).then(() => this.write(text));
    this.writing = next;
    return next;
  }

  /** What the kiosk last asked to show, normalised (the on-screen mirror). */
  lines(): string[] {
    return [...this.wanted];
  }

  onChange(listener: (lines: string[]) => void): Unsubscribe {
    return this.changeListeners.add(listener);
  }

  private async write(text: string[]): Promise<void> {
    let written = false;
    for (let row = 0; row < text.length; row += 1) {
      const line = text[row] as string;
      if (this.glass[row] === line) continue;
      if (this.state() !== 'online') throw new Error(`display is ${this.state()}: text not shown`);
      this.glass[row] = null; // unknown until the device confirms
      await this.link.send({ verb: 'LCD', row, col: 0, text: line });
      written = true;
      if (this.rowGapMs > 0) await new Promise<void>((resolve) => this.timers.schedule(this.rowGapMs, resolve));
    }
    if (!written) return;
    // The protocol has no LCD acknowledgement; a PING's PONG comes after the device handled
    // every row before it, so show() resolves when the text is on the glass.
    await this.link.confirm(this.confirmTimeoutMs);
    text.forEach((line, row) => {
      if (this.glass[row] === null) this.glass[row] = line;
    });
  }
}

function displaySizeValid(rows: number, columns: number): boolean {
  return (
    Number.isSafeInteger(rows) &&
    rows >= 1 &&
    rows <= DISPLAY_ROWS_MAX &&
    Number.isSafeInteger(columns) &&
    columns >= 1 &&
    columns <= DISPLAY_COLUMNS_MAX
  );
}

/** The display size a HELLO's capabilities report ('lcd16x2': 16 columns, 2 rows), or null. */
export function displaySizeOf(caps: readonly string[]): { rows: number; columns: number } | null {
  for (const cap of caps) {
    const match = /^lcd(\d{1,2})x(\d)$/.exec(cap);
    if (match === null) continue;
    const columns = Number(match[1]);
    const rows = Number(match[2]);
    if (displaySizeValid(rows, columns)) return { rows, columns };
  }
  return null;
}

export interface SerialDevicesOptions extends DriverOptions {
  serial?: SerialLinkOptions & {
    display?: SerialDisplayOptions;
    dispenser?: SerialDispenserOptions;
    acceptor?: SerialAcceptorOptions;
  };
}

/** The serial devices with their driver-specific extras (stats, isLow, the link). Not yet opened. */
export interface SerialDevices extends DeviceBundle {
  keypad: SerialKeypad;
  display: SerialDisplay;
  dispenser: SerialDispenser;
  /** Always there; 'noDevice' while the device's HELLO does not name `cashin`. */
  acceptor: SerialAcceptor;
  link: SerialLink;
  /** Lines seen, and those counted and dropped (oversize, corrupt, unknown verb). */
  stats(): SerialLinkStats;
}

export const SerialError = { BAD_PATH: 'BAD_SERIAL_PATH' } as const satisfies Record<string, CodeOf<'device'>>;

// eslint-disable-next-line @typescript-eslint/require-await -- a DriverFactory reports a bad path by rejecting, never by throwing
export async function createSerialDevices(path: string, options: SerialDevicesOptions = {}): Promise<SerialDevices> {
  if (path.trim() === '' || path.includes('\0'))
    throw new AtmError(SerialError.BAD_PATH, `serial device path ${JSON.stringify(path)} is not a path`);
  const serial = options.serial ?? {};
  const log = serial.log ?? options.log ?? (() => undefined);
  const timers = serial.timers ?? realTimers;
  const link = new SerialLink(path, { ...serial, timers, log });
  const faults: DeviceFaults = { tamper: false };
  const keypad = new SerialKeypad(link, faults);
  const display = new SerialDisplay(link, faults, timers, serial.display);
  const dispenser = new SerialDispenser(link, faults, timers, log, serial.dispenser);
  const acceptor = new SerialAcceptor(link, faults, timers, log, serial.acceptor);
  const devices = [keypad, display, dispenser, acceptor];
  // A new session starts from a clean slate: the device repeats a tamper that persists [SL-4.9].
  link.onGreeted(() => (faults.tamper = false));
  link.onMessage((message) => {
    switch (message.verb) {
      case 'KEY': {
        keypad.received(message.key);
        return;
      }
      case 'DISPENSED':
      case 'CASH': {
        dispenser.received(message);
        return;
      }
      case 'FAULT':
        if (message.fault === 'tamper' || message.fault === 'ok') faults.tamper = message.fault === 'tamper';
        dispenser.received(message);
        for (const device of devices) device.refreshState();
        return;
      case 'ACCEPTS':
      case 'DEPOSITS':
      case 'ESCROW':
      case 'STORED':
      case 'RETURNED':
        acceptor.received(message);
        return;
      case 'HELLO':
      case 'PONG':
      case 'HB':
        return; // the link's business: they only prove the line is alive
      default: {
        const exhaustive: never = message;
        return exhaustive;
      }
    }
  });
  return {
    keypad,
    display,
    dispenser,
    acceptor,
    link,
    stats: () => link.stats(),
    mirror: { lines: () => display.lines(), onChange: (listener) => void display.onChange(() => listener()) },
  };
}
