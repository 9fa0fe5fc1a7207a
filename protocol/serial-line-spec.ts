// [SL] The serial line protocol's vocabulary: its limits, its messages in both directions, the
// keys on the wire and the line checksum, shared by the encoder (serial-line.ts), the parser
// (serial-line-parse.ts) and the line splitter. hardware/PROTOCOL.md is the specification.
import { assert } from './assert.js';
import type { CashInFault } from './codes.js';
import { KEY_FOR_KEYPAD_LEGEND, KEY_NAMES, type Cassette, type DispenseFault, type KeyName } from './devices.js';

export const SERIAL_PROTOCOL_VERSION = 1;
/** [SL-2.3] A line's bytes, including the checksum and '\n'. */
export const LINE_BYTES_MAX = 96;
/** [SL-5.1] The device sends HB this often once a host has said HELLO. */
export const HEARTBEAT_INTERVAL_MS = 1_000;
/** [SL-5.2] The host treats the device as unplugged after this much silence. */
export const HEARTBEAT_LOSS_MS = 3_500;
/** [SL-3.3] An HD44780 drives at most 4 rows of 40 characters (or fewer, wider-looking ones). */
export const LCD_ROWS_MAX = 4;
export const LCD_COLUMNS_MAX = 40;
/** [SL-3.2] PING sequence numbers and DISPENSE ids fit in a signed 32-bit int on a small MCU. */
export const SEQUENCE_MAX = 2 ** 31 - 1;
export const DISPENSE_ID_MAX = 2 ** 31 - 1;
export const VERSION_MAX = 65_535;
/** [SL-4.1] HELLO names at most this many capabilities. */
export const CAPABILITIES_MAX = 8;
export const NAME_PATTERN = /^[A-Za-z0-9._-]{1,24}$/;
/** The reason parse*Line gives for a well-formed line whose verb it does not know [SL-2.6]. */
export const UNKNOWN_VERB = 'unknown verb';

export type DeviceFaultName = 'jam' | 'cashLow' | 'tamper' | 'ok';
export const DEVICE_FAULT_NAMES: readonly DeviceFaultName[] = ['jam', 'cashLow', 'tamper', 'ok'];
export { DISPENSE_FAULTS } from './codes.js';

/** [SL-4.1] The capability of a device with a cash-in module: only then may the host send [SL-3.8]–[SL-3.10]. */
export const CASH_IN_CAPABILITY = 'cashin';
/** [SL-3.10] STORE and RETURN ids, chosen by the host, as DISPENSE ids are. */
export const CASH_IN_ID_MAX = 2 ** 31 - 1;
/** [SL-4.10] Denominations a note validator accepts (ACCEPTS), and entries of DEPOSITS and ESCROW. */
export const NOTE_KINDS_MAX = 8;
/** [SL-4.10] The deposit cassette's capacity, in notes. */
export const DEPOSIT_CAPACITY_MAX = 999_999;
/** [SL-4.12] Notes an ESCROW line may count (a real escrow holds 30–100; the kiosk's holds ESCROW_NOTES_MAX). */
export const ESCROW_LINE_NOTES_MAX = 99;
/** [SL-4.12] Refused notes an ESCROW line may count; the device stops counting there. */
export const ESCROW_REJECTED_MAX = 9_999;

/** [SL-4.12] The slot and escrow: taking notes ('open'), notes moving, jammed, or at rest. */
export type EscrowSlot = 'closed' | 'open' | 'moving' | 'jam';
export const ESCROW_SLOTS: readonly EscrowSlot[] = ['closed', 'open', 'moving', 'jam'];

/** [SL-4.13] What STORED and RETURNED may report; 'cashInOffline' is the host's own (no line came). */
export type StoreFault = Extract<CashInFault, 'escrowJam' | 'cassetteFull' | 'cashInBusy' | 'cashInFault'>;
export type ReturnFault = Extract<CashInFault, 'escrowJam' | 'notesNotTaken' | 'cashInBusy' | 'cashInFault'>;
export const STORE_FAULTS: readonly StoreFault[] = ['escrowJam', 'cassetteFull', 'cashInBusy', 'cashInFault'];
export const RETURN_FAULTS: readonly ReturnFault[] = ['escrowJam', 'notesNotTaken', 'cashInBusy', 'cashInFault'];

export type HostMessage =
  | { verb: 'HELLO'; version: number }
  | { verb: 'PING'; seq: number }
  | { verb: 'LCD'; row: number; col: number; text: string }
  | { verb: 'CLEAR' }
  | { verb: 'BACKLIGHT'; on: boolean }
  | { verb: 'DISPENSE'; id: number; amountCents: number }
  | { verb: 'COUNTS' }
  | { verb: 'CASHIN' }
  | { verb: 'SLOT'; open: boolean }
  | { verb: 'STORE'; id: number }
  | { verb: 'RETURN'; id: number };

export type DeviceMessage =
  | { verb: 'HELLO'; version: number; device: string; caps: string[] }
  | { verb: 'PONG'; seq: number }
  | { verb: 'KEY'; key: KeyName }
  | { verb: 'DISPENSED'; id: number; dispensedCents: number; fault: DispenseFault | null }
  | { verb: 'CASH'; cassettes: Cassette[] }
  | { verb: 'FAULT'; fault: DeviceFaultName }
  | { verb: 'HB'; uptimeMs: number }
  | { verb: 'ACCEPTS'; capacityNotes: number; denominationsCents: number[] }
  | { verb: 'DEPOSITS'; notes: Cassette[] }
  | { verb: 'ESCROW'; slot: EscrowSlot; rejected: number; notes: Cassette[] }
  | { verb: 'STORED'; id: number; storedCents: number; fault: StoreFault | null }
  | { verb: 'RETURNED'; id: number; returnedCents: number; fault: ReturnFault | null };

/** The cash-in verbs of each direction ([SL-3.8]–[SL-3.10], [SL-4.10]–[SL-4.13]). */
export type CashInHostMessage = Extract<HostMessage, { verb: 'CASHIN' | 'SLOT' | 'STORE' | 'RETURN' }>;
export type CashInDeviceMessage = Extract<
  DeviceMessage,
  { verb: 'ACCEPTS' | 'DEPOSITS' | 'ESCROW' | 'STORED' | 'RETURNED' }
>;

export type ParsedLine<T> = { ok: true; message: T } | { ok: false; reason: string };

/** [SL-4.3] Keys on the wire: the 4×4 keypad's own legends, plus BS and ESC for the keyboard keys. */
export const KEY_TO_WIRE = {
  ...Object.fromEntries(Object.entries(KEY_FOR_KEYPAD_LEGEND).map(([legend, key]) => [key, legend])),
  backspace: 'BS',
  cancel: 'ESC',
} as Readonly<Record<KeyName, string>>;
assert(
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- checks at load what the cast above only claims
  KEY_NAMES.every((key) => KEY_TO_WIRE[key] !== undefined),
  'every key has a wire form',
);
export const WIRE_TO_KEY = new Map<string, KeyName>(
  Object.entries(KEY_TO_WIRE).map(([key, wire]) => [wire, key as KeyName]),
);

/** [SL-2.2] CRC-8/SMBUS (polynomial 0x07, initial 0, no reflection): check value 0xF4 for "123456789". */
export function serialLineChecksum(body: string): number {
  let crc = 0;
  for (let index = 0; index < body.length; index += 1) {
    crc ^= body.charCodeAt(index) & 0xff;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

export const isIn = (value: number, min: number, max: number): boolean =>
  Number.isSafeInteger(value) && value >= min && value <= max;
