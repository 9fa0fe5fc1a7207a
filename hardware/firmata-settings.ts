// What the firmata board link can be told (hardware/firmata-link.ts), its defaults, and the
// checks on them: a bad option fails at construction, not mid-transaction.
import { DISPLAY_COLUMNS_MAX, DISPLAY_ROWS_MAX, type SimDispenserOptions } from './sim.js';
import { assert, type FirmataIo, type FirmataIoOptions } from './firmata-io.js';
import {
  FIRMATA_RX_BUFFER_BYTES,
  PACING_BYTES_PER_INTERVAL_DEFAULT,
  PACING_INTERVAL_MS_DEFAULT,
  type LinePacing,
  type PacedLine,
} from './firmata-line.js';
import type { SerialTimers } from './shared-line.js';

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

export interface FirmataLinkSettings {
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

/** The options with their defaults filled in, checked. */
export function firmataLinkSettings(options: FirmataOptions): FirmataLinkSettings {
  const settings: FirmataLinkSettings = {
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
  const { lcdRows, lcdColumns, relayPin, pacing } = settings;
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
  return settings;
}
