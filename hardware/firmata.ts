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
import type { DeviceBundle, DriverOptions } from './factory.js';
import { assert, type FirmataTransport, type FirmataTransportSource } from './firmata-io.js';
import { FirmataDispenser } from './firmata-dispenser.js';
import { FIRMATA_BAUD_RATE } from './firmata-line.js';
import { FirmataBoardLink, type FirmataOptions } from './firmata-link.js';
import { normaliseDisplayLines } from './sim.js';
import type { DeviceState, Display, KeyName, Keypad, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';

// The driver's parts, for callers and tests that import the driver.
export type { FirmataIo, FirmataIoOptions, FirmataTransport, FirmataTransportSource } from './firmata-io.js';
export * from './firmata-line.js';
export * from './firmata-keypad.js';
export * from './firmata-link.js';
export { FirmataDispenser } from './firmata-dispenser.js';
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

  protected linkChanged(_online: boolean): void {
    // a hook: only the display has something to redo when the link comes back
  }

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
      if (connection?.lcd == null || !this.opened) throw new Error('display went offline: text not shown');
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
export function createFirmataDevicesOverTransport(
  source: FirmataTransport | FirmataTransportSource,
  options: FirmataDriverOptions = {},
): FirmataDeviceBundle {
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
// eslint-disable-next-line @typescript-eslint/require-await -- a DriverFactory reports a bad spec by rejecting, never by throwing
export async function createFirmataDevices(
  path: string,
  options: FirmataDriverOptions = {},
): Promise<FirmataDeviceBundle> {
  assert(path.length > 0, 'firmata needs a serial port path');
  return createFirmataDevicesOverTransport(() => openFirmataPort(path), options);
}
