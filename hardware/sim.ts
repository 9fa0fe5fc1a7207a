// The simulated drivers: the kiosk's default devices and the fakes with test powers
// (serialport's MockBinding is the model). They keep the contracts of types.ts exactly, so
// the contract suites of test/hardware-sim.test.ts run unchanged against later drivers.
import { assert } from '../protocol/index.js';
import { KEY_NAMES } from './types.js';
import type {
  CashDispenser,
  Cassette,
  DeviceState,
  DispenseFault,
  DispenseResult,
  Display,
  KeyName,
  Keypad,
  Unsubscribe,
} from './types.js';
import { Listeners } from './listeners.js';
import { SIM_CASSETTES_DEFAULT, LOW_CASH_COUNT_DEFAULT, assertCassettes, notesForAmount } from './cash.js';

export { SIM_CASSETTES_DEFAULT, LOW_CASH_COUNT_DEFAULT, NOTES_SEARCH_STEPS_MAX, notesForAmount } from './cash.js';

/**
 * Power and cable shared by the three sim devices: 'offline' before open(), after close()
 * and while unplugged; otherwise what condition() says ('online' unless a subclass knows better).
 */
abstract class SimDevice {
  private opened = false;
  private plugged = true;
  private lastState: DeviceState = 'offline';
  private readonly stateListeners = new Listeners<DeviceState>();

  async open(): Promise<void> {
    this.opened = true;
    this.refreshState();
  }

  async close(): Promise<void> {
    this.opened = false;
    this.refreshState();
  }

  state(): DeviceState {
    return this.opened && this.plugged ? this.condition() : 'offline';
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  /** Test power: pull the cable. State listeners hear 'offline' (if the device was open). */
  unplug(): void {
    this.plugged = false;
    this.unplugged();
    this.refreshState();
  }

  /** Test power: plug the cable back in. State listeners hear the state it comes back in. */
  replug(): void {
    this.plugged = true;
    this.refreshState();
  }

  protected condition(): DeviceState {
    return 'online';
  }

  /** Hook for what losing power does to the device itself (a display goes blank). */
  protected unplugged(): void {}

  /** Subclasses call this after anything that may change state(); listeners hear only changes. */
  protected refreshState(): void {
    const state = this.state();
    if (state === this.lastState) return;
    this.lastState = state;
    this.stateListeners.emit(state);
  }
}

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

export interface SimDispenserOptions {
  /** Default SIM_CASSETTES_DEFAULT: 100 notes of 2000 cents and 100 of 1000 cents. */
  cassettes?: readonly Cassette[];
  /** isLow() once any cassette holds this many notes or fewer. Default 10. */
  lowCashCount?: number;
  /** Time the mechanism takes to pick notes, for the demo's "Dispensing…"; default 0. */
  delayMs?: number;
  /** How delayMs is waited; tests inject a controllable one. Default resolves at once. */
  sleep?: (ms: number) => Promise<void>;
}

function failure(fault: DispenseFault, detail: string, dispensedCents = 0): DispenseResult {
  return { ok: false, fault, dispensedCents, detail };
}

/** A note dispenser in memory. It never reports the 'cashLow' fault: low cash is isLow(), a status. */
export class SimDispenser extends SimDevice implements CashDispenser {
  readonly kind = 'sim';
  readonly lowCashCount: number;
  private readonly delayMs: number;
  private readonly sleep: (ms: number) => Promise<void>;
  private loaded: Cassette[] = [];
  private jamAfterNotes: number | null = null;
  private jammed = false;
  private dispensing = false;

  constructor(options: SimDispenserOptions = {}) {
    super();
    this.lowCashCount = options.lowCashCount ?? LOW_CASH_COUNT_DEFAULT;
    this.delayMs = options.delayMs ?? 0;
    this.sleep = options.sleep ?? (() => Promise.resolve());
    assert(
      Number.isSafeInteger(this.lowCashCount) && this.lowCashCount >= 0,
      'lowCashCount must be a non-negative integer',
    );
    assert(Number.isSafeInteger(this.delayMs) && this.delayMs >= 0, 'delayMs must be a non-negative integer');
    this.setCassettes(options.cassettes ?? SIM_CASSETTES_DEFAULT);
  }

  cassettes(): Cassette[] {
    return this.loaded.map((cassette) => ({ ...cassette }));
  }

  notesFor(amountCents: number): Cassette[] | null {
    return notesForAmount(this.loaded, amountCents);
  }

  /** True when any cassette holds lowCashCount notes or fewer (XFS "low": count ≤ threshold). */
  isLow(): boolean {
    return this.loaded.some((cassette) => cassette.count <= this.lowCashCount);
  }

  async dispense(amountCents: number): Promise<DispenseResult> {
    const refusal = this.refusal(amountCents);
    if (refusal !== null) return refusal;
    this.dispensing = true;
    this.refreshState();
    const pickFault = await this.pick();
    this.dispensing = false;
    const notes = this.notesFor(amountCents);
    assert(notes !== null, 'the cassettes changed during a dispense');
    // The cable may have gone while notes were being picked: then nothing was presented.
    const result =
      pickFault !== null
        ? failure('hardwareError', pickFault)
        : this.state() === 'offline'
          ? failure('offline', 'dispenser went offline before presenting notes')
          : this.present(notes);
    this.refreshState();
    return result;
  }

  /** Test power: the next dispense that moves notes presents only afterNotes of them, then jams. */
  jamNext(options: { afterNotes?: number } = {}): void {
    const afterNotes = options.afterNotes ?? 0;
    assert(Number.isSafeInteger(afterNotes) && afterNotes >= 0, 'afterNotes must be a non-negative integer');
    this.jamAfterNotes = afterNotes;
  }

  /** Test power: the technician clears the jam; the dispenser is 'online' again. */
  clearJam(): void {
    this.jammed = false;
    this.refreshState();
  }

  /** Test power (and supervisor replenishment): replace the cassettes. Not during a dispense. */
  setCassettes(cassettes: readonly Cassette[]): void {
    assert(!this.dispensing, 'setCassettes during a dispense');
    assertCassettes(cassettes);
    this.loaded = cassettes.map(({ denominationCents, count }) => ({ denominationCents, count }));
  }

  protected override condition(): DeviceState {
    if (this.jammed) return 'hardwareError';
    return this.dispensing ? 'deviceBusy' : 'online';
  }

  /** Why this dispense cannot start, checked before anything moves; null when it can. */
  private refusal(amountCents: number): DispenseResult | null {
    if (this.dispensing) return failure('hardwareError', 'a dispense is already in progress: one at a time');
    const state = this.state();
    if (state === 'offline') return failure('offline', 'dispenser is offline');
    if (state === 'hardwareError') return failure('hardwareError', 'dispenser is jammed: clear the jam first');
    if (this.notesFor(amountCents) === null)
      return failure('cannotMake', `the cassettes cannot make ${String(amountCents)} cents exactly`);
    return null;
  }

  /** Waits delayMs with the injected sleep; a sleep that fails is reported as a fault, never thrown. */
  private async pick(): Promise<string | null> {
    if (this.delayMs === 0) return null;
    try {
      await this.sleep(this.delayMs);
      return null;
    } catch (error) {
      return `dispenser fault while picking notes: ${String(error)}`;
    }
  }

  /** Presents the notes largest first, stopping where an armed jam strikes. */
  private present(notes: readonly Cassette[]): DispenseResult {
    const limit = this.jamAfterNotes ?? Number.POSITIVE_INFINITY;
    let presented = 0;
    let dispensedCents = 0;
    for (const note of notes) {
      const cassette = this.loaded.find((candidate) => candidate.denominationCents === note.denominationCents);
      assert(cassette !== undefined && cassette.count >= note.count, 'notesFor chose notes the cassettes lack');
      const taken = Math.min(note.count, limit - presented);
      cassette.count -= taken;
      presented += taken;
      dispensedCents += taken * note.denominationCents;
    }
    if (this.jamAfterNotes === null) return { ok: true, dispensedCents };
    this.jamAfterNotes = null;
    this.jammed = true;
    return failure('jam', `notes jammed after ${presented} presented`, dispensedCents);
  }
}

export interface SimDevicesOptions {
  display?: SimDisplayOptions;
  dispenser?: SimDispenserOptions;
}

/** The sim devices, typed as themselves so callers keep the test powers. Not yet opened. */
export interface SimDevices {
  keypad: SimKeypad;
  display: SimDisplay;
  dispenser: SimDispenser;
}

export function createSimDevices(options: SimDevicesOptions = {}): SimDevices {
  return {
    keypad: new SimKeypad(),
    display: new SimDisplay(options.display),
    dispenser: new SimDispenser(options.dispenser),
  };
}
