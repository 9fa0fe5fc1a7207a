// The simulated drivers: the kiosk's default devices and the fakes with test powers
// (serialport's MockBinding is the model). They keep the contracts of types.ts exactly, so
// the contract suites of test/hardware/sim.test.ts run unchanged against later drivers.
import { assert } from '../protocol/index.js';
import { KEY_NAMES } from './types.js';
import type { Display, KeyName, Keypad, Unsubscribe } from './types.js';
import { Listeners } from './listeners.js';
import { SimDevice } from './sim-device.js';
import { SimDispenser, type SimDispenserOptions } from './sim-dispenser.js';
import { SimAcceptor, type SimAcceptorOptions } from './sim-acceptor.js';

export {
  SIM_CASSETTES_DEFAULT,
  LOW_CASH_COUNT_DEFAULT,
  NOTES_SEARCH_STEPS_MAX,
  notesForAmount,
  takeNotes,
} from './cash.js';
export { SimDispenser, type SimDispenserOptions } from './sim-dispenser.js';
export {
  SimAcceptor,
  SIM_ACCEPTED_DENOMINATIONS_DEFAULT,
  SIM_DEPOSIT_CAPACITY_DEFAULT,
  escrowOf,
  notesIn,
  type InsertOutcome,
  type SimAcceptorOptions,
} from './sim-acceptor.js';

/** The keyboard as a keypad: the UI calls press() for each mapped key (see keymap.ts). */
export class SimKeypad extends SimDevice implements Keypad {
  readonly kind = 'sim';
  private readonly keyListeners = new Listeners<KeyName>();

  onKey(listener: (key: KeyName) => void): Unsubscribe {
    return this.keyListeners.add(listener);
  }

  /** Test/UI power: a press. Returns false (and delivers nothing) unless the keypad is online. */
  press(key: KeyName): boolean {
    assert(KEY_NAMES.includes(key), `unknown key ${JSON.stringify(key)}`);
    if (this.state() !== 'online') return false;
    this.keyListeners.emit(key);
    return true;
  }
}

export const DISPLAY_ROWS_DEFAULT = 4;
export const DISPLAY_COLUMNS_DEFAULT = 20;
/** An HD44780 drives at most 80 characters (4×20 or 2×40); larger "LCDs" are not character displays. */
export const DISPLAY_ROWS_MAX = 4;
export const DISPLAY_COLUMNS_MAX = 40;
export const DISPLAY_HISTORY_MAX = 100;

/**
 * The Display contract's text rule, shared by every driver: exactly `rows` lines of exactly
 * `columns` characters. A character is a code point (an emoji becomes one '?'), and anything
 * outside printable ASCII becomes '?': control characters included, since a '\n' or '\t'
 * would move an LCD's cursor or break a one-line mirror.
 */
export function normaliseDisplayLines(lines: readonly string[], rows: number, columns: number): string[] {
  const normalised: string[] = [];
  for (let row = 0; row < rows; row += 1) {
    const characters = Array.from(lines[row] ?? '').slice(0, columns);
    const printable = characters.map((character) => (/^[\x20-\x7e]$/.test(character) ? character : '?')).join('');
    normalised.push(printable.padEnd(columns, ' '));
  }
  return normalised;
}

export interface SimDisplayOptions {
  rows?: number;
  columns?: number;
}

/** A character LCD in memory; the UI's panel mirrors it through onChange(). */
export class SimDisplay extends SimDevice implements Display {
  readonly kind = 'sim';
  readonly rows: number;
  readonly columns: number;
  private text: string[];
  private readonly shows: string[][] = [];
  private readonly changeListeners = new Listeners<string[]>();

  constructor(options: SimDisplayOptions = {}) {
    super();
    this.rows = options.rows ?? DISPLAY_ROWS_DEFAULT;
    this.columns = options.columns ?? DISPLAY_COLUMNS_DEFAULT;
    assert(
      Number.isSafeInteger(this.rows) && this.rows >= 1 && this.rows <= DISPLAY_ROWS_MAX,
      `display rows must be 1..${DISPLAY_ROWS_MAX}`,
    );
    assert(
      Number.isSafeInteger(this.columns) && this.columns >= 1 && this.columns <= DISPLAY_COLUMNS_MAX,
      `display columns must be 1..${DISPLAY_COLUMNS_MAX}`,
    );
    this.text = normaliseDisplayLines([], this.rows, this.columns);
  }

  // eslint-disable-next-line @typescript-eslint/require-await -- an offline display must reject, as the real drivers do
  async show(lines: string[]): Promise<void> {
    const state = this.state();
    if (state !== 'online') throw new Error(`display is ${state}: text not shown`);
    this.text = normaliseDisplayLines(lines, this.rows, this.columns);
    this.shows.push(this.text);
    if (this.shows.length > DISPLAY_HISTORY_MAX) this.shows.shift();
    this.changeListeners.emit(this.lines());
  }

  /** Test power: the text on the glass now, `rows` strings of `columns` characters. */
  lines(): string[] {
    return [...this.text];
  }

  /** Test power: the last DISPLAY_HISTORY_MAX accepted shows, oldest first, as normalised. */
  get history(): string[][] {
    return this.shows.map((lines) => [...lines]);
  }

  /** For the UI panel: called with the new text after every change of lines(). */
  onChange(listener: (lines: string[]) => void): Unsubscribe {
    return this.changeListeners.add(listener);
  }

  /** A power-cycled HD44780 comes back blank: the kiosk must re-show when it reports 'online'. */
  protected override unplugged(): void {
    const blank = normaliseDisplayLines([], this.rows, this.columns);
    if (blank.join('\n') === this.text.join('\n')) return;
    this.text = blank;
    this.changeListeners.emit(this.lines());
  }
}

export interface SimDevicesOptions {
  display?: SimDisplayOptions;
  dispenser?: SimDispenserOptions;
  /** A cash-in module with these options; absent or false: a kiosk that takes no notes. */
  acceptor?: SimAcceptorOptions | false;
}

/** The sim devices, typed as themselves so callers keep the test powers. Not yet opened. */
export interface SimDevices {
  keypad: SimKeypad;
  display: SimDisplay;
  dispenser: SimDispenser;
  acceptor?: SimAcceptor;
}

export function createSimDevices(options: SimDevicesOptions = {}): SimDevices {
  const devices: SimDevices = {
    keypad: new SimKeypad(),
    display: new SimDisplay(options.display),
    dispenser: new SimDispenser(options.dispenser),
  };
  if (options.acceptor !== undefined && options.acceptor !== false)
    devices.acceptor = new SimAcceptor(options.acceptor);
  return devices;
}
