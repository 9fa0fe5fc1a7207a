// [SL] The serial line protocol between the kiosk (host) and its keypad/display/dispenser
// microcontroller (device), as pure functions: messages in, lines out, and back. No I/O here:
// the host driver (hardware/serial.ts) and the firmware simulator (firmware-sim/) own the
// ports. hardware/PROTOCOL.md is the specification; the [SL-n] comments cite its clauses.
//
// This file is longer than the house's 150 lines because the codec's two directions, its
// limits and the line splitter must change together; each function is still short.
import { assert, assertNever } from './assert.js';
import { KEY_FOR_KEYPAD_LEGEND, KEY_NAMES, type Cassette, type DispenseFault, type KeyName } from './devices.js';
import { CASSETTES_MAX } from './messages.js';

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
const DISPENSE_FAULTS: readonly DispenseFault[] = ['jam', 'cashLow', 'cannotMake', 'offline', 'hardwareError'];

export type HostMessage =
  | { verb: 'HELLO'; version: number }
  | { verb: 'PING'; seq: number }
  | { verb: 'LCD'; row: number; col: number; text: string }
  | { verb: 'CLEAR' }
  | { verb: 'BACKLIGHT'; on: boolean }
  | { verb: 'DISPENSE'; id: number; amountCents: number }
  | { verb: 'COUNTS' };

export type DeviceMessage =
  | { verb: 'HELLO'; version: number; device: string; caps: string[] }
  | { verb: 'PONG'; seq: number }
  | { verb: 'KEY'; key: KeyName }
  | { verb: 'DISPENSED'; id: number; dispensedCents: number; fault: DispenseFault | null }
  | { verb: 'CASH'; cassettes: Cassette[] }
  | { verb: 'FAULT'; fault: DeviceFaultName }
  | { verb: 'HB'; uptimeMs: number };

export type ParsedLine<T> = { ok: true; message: T } | { ok: false; reason: string };

/** [SL-4.3] Keys on the wire: the 4×4 keypad's own legends, plus BS and ESC for the keyboard keys. */
const KEY_TO_WIRE = {
  ...Object.fromEntries(Object.entries(KEY_FOR_KEYPAD_LEGEND).map(([legend, key]) => [key, legend])),
  backspace: 'BS',
  cancel: 'ESC',
} as Readonly<Record<KeyName, string>>;
assert(
  KEY_NAMES.every((key) => KEY_TO_WIRE[key] !== undefined),
  'every key has a wire form',
);
const WIRE_TO_KEY = new Map<string, KeyName>(Object.entries(KEY_TO_WIRE).map(([key, wire]) => [wire, key as KeyName]));

/** [SL-2.2] CRC-8/SMBUS (polynomial 0x07, initial 0, no reflection): check value 0xF4 for "123456789". */
export function serialLineChecksum(body: string): number {
  let crc = 0;
  for (let index = 0; index < body.length; index += 1) {
    crc ^= body.charCodeAt(index) & 0xff;
    for (let bit = 0; bit < 8; bit += 1) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
  }
  return crc;
}

function frame(body: string): string {
  const line = `${body}*${serialLineChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\n`;
  assert(
    line.length <= LINE_BYTES_MAX,
    `serial line of ${line.length} bytes exceeds ${LINE_BYTES_MAX}: ${JSON.stringify(line)}`,
  );
  return line;
}

const isIn = (value: number, min: number, max: number): boolean =>
  Number.isSafeInteger(value) && value >= min && value <= max;

/** [SL-3.3] Printable ASCII only, one '?' per code point outside it, cut where the row ends. */
function lcdText(col: number, text: string): string {
  const characters = Array.from(text).map((character) => (/^[\x20-\x7e]$/.test(character) ? character : '?'));
  return characters.slice(0, LCD_COLUMNS_MAX - col).join('');
}

export function encodeHostMessage(message: HostMessage): string {
  switch (message.verb) {
    case 'HELLO':
      assert(isIn(message.version, 1, VERSION_MAX), 'HELLO version');
      return frame(`HELLO ${message.version}`);
    case 'PING':
      assert(isIn(message.seq, 0, SEQUENCE_MAX), 'PING seq');
      return frame(`PING ${message.seq}`);
    case 'LCD':
      assert(isIn(message.row, 0, LCD_ROWS_MAX - 1) && isIn(message.col, 0, LCD_COLUMNS_MAX - 1), 'LCD row/col');
      return frame(`LCD ${message.row} ${message.col} ${lcdText(message.col, message.text)}`);
    case 'CLEAR':
      return frame('CLEAR');
    case 'BACKLIGHT':
      return frame(`BACKLIGHT ${message.on ? 1 : 0}`);
    case 'DISPENSE':
      assert(
        isIn(message.id, 1, DISPENSE_ID_MAX) && isIn(message.amountCents, 1, Number.MAX_SAFE_INTEGER),
        'DISPENSE id/amountCents',
      );
      return frame(`DISPENSE ${message.id} ${message.amountCents}`);
    case 'COUNTS':
      return frame('COUNTS');
    default:
      return assertNever(message, 'message');
  }
}

export function encodeDeviceMessage(message: DeviceMessage): string {
  switch (message.verb) {
    case 'HELLO':
      assert(isIn(message.version, 1, VERSION_MAX) && NAME_PATTERN.test(message.device), 'HELLO version/device');
      assert(
        message.caps.length <= CAPABILITIES_MAX && message.caps.every((cap) => NAME_PATTERN.test(cap)),
        'HELLO caps',
      );
      return frame(['HELLO', message.version, message.device, ...message.caps].join(' '));
    case 'PONG':
      assert(isIn(message.seq, 0, SEQUENCE_MAX), 'PONG seq');
      return frame(`PONG ${message.seq}`);
    case 'KEY':
      assert(KEY_TO_WIRE[message.key] !== undefined, 'KEY key');
      return frame(`KEY ${KEY_TO_WIRE[message.key]}`);
    case 'DISPENSED':
      assert(
        isIn(message.id, 1, DISPENSE_ID_MAX) && isIn(message.dispensedCents, 0, Number.MAX_SAFE_INTEGER),
        'DISPENSED id/dispensedCents',
      );
      assert(message.fault === null || DISPENSE_FAULTS.includes(message.fault), 'DISPENSED fault');
      return frame(`DISPENSED ${message.id} ${message.dispensedCents} ${message.fault ?? '-'}`);
    case 'CASH':
      assert(message.cassettes.length <= CASSETTES_MAX, 'CASH cassettes');
      assert(
        message.cassettes.every(
          (c) => isIn(c.denominationCents, 1, Number.MAX_SAFE_INTEGER) && isIn(c.count, 0, Number.MAX_SAFE_INTEGER),
        ),
        'CASH counts',
      );
      return frame(['CASH', ...message.cassettes.map((c) => `${c.denominationCents}:${c.count}`)].join(' '));
    case 'FAULT':
      assert(DEVICE_FAULT_NAMES.includes(message.fault), 'FAULT name');
      return frame(`FAULT ${message.fault}`);
    case 'HB':
      assert(isIn(message.uptimeMs, 0, Number.MAX_SAFE_INTEGER), 'HB uptimeMs');
      return frame(`HB ${message.uptimeMs}`);
    default:
      return assertNever(message, 'message');
  }
}

// ---------------------------------------------------------------------------------------------
// Parsing untrusted lines: a reason, never an exception [SL-2.6].

type Fields = { verb: string; rest: string | null };
type Handler<T> = (rest: string | null) => T | string;

/** [SL-2.6] Length, characters, checksum, verb: in that order, before any argument is read. */
function unframe(line: string): Fields | string {
  if (line.length + 1 > LINE_BYTES_MAX) return 'oversize line';
  if (!/^[\x20-\x7e]*$/.test(line)) return 'non-printable or non-ASCII character';
  const star = line.lastIndexOf('*');
  if (star < 0) return 'no checksum';
  const checksum = line.slice(star + 1);
  if (!/^[0-9A-F]{2}$/.test(checksum)) return 'malformed checksum';
  const body = line.slice(0, star);
  if (serialLineChecksum(body) !== Number.parseInt(checksum, 16)) return 'checksum mismatch';
  const space = body.indexOf(' ');
  const verb = space < 0 ? body : body.slice(0, space);
  if (!/^[A-Z]{1,16}$/.test(verb)) return 'malformed verb';
  return { verb, rest: space < 0 ? null : body.slice(space + 1) };
}

function parseWith<T>(line: string, handlers: Record<string, Handler<T>>): ParsedLine<T> {
  try {
    const fields = unframe(line);
    if (typeof fields === 'string') return { ok: false, reason: fields };
    const handler = Object.hasOwn(handlers, fields.verb) ? handlers[fields.verb] : undefined;
    if (handler === undefined) return { ok: false, reason: UNKNOWN_VERB };
    const result = handler(fields.rest);
    return typeof result === 'string'
      ? { ok: false, reason: `bad ${fields.verb}: ${result}` }
      : { ok: true, message: result };
  } catch (error) {
    // Unreachable by design; the promise is "never throws", so a bug is a reason too.
    return { ok: false, reason: `parser error: ${String(error)}` };
  }
}

/** Exactly `count` single-space-separated arguments, or null. */
function split(rest: string | null, count: number): string[] | null {
  const parts = rest === null ? [] : rest.split(' ');
  return parts.length === count && parts.every((part) => part.length > 0) ? parts : null;
}

/** [SL-2.4] Decimal, no sign, no leading zeros, within [min, max]; NaN otherwise. */
function integer(text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text)) return Number.NaN;
  const value = Number(text);
  return isIn(value, min, max) ? value : Number.NaN;
}

function noArguments<T>(message: T): Handler<T> {
  return (rest) => (rest === null ? message : 'takes no arguments');
}

function oneInteger<T>(min: number, max: number, build: (value: number) => T): Handler<T> {
  return (rest) => {
    const value = integer(split(rest, 1)?.[0], min, max);
    return Number.isNaN(value) ? `expects one integer ${min}..${max}` : build(value);
  };
}

const HOST_HANDLERS: Record<string, Handler<HostMessage>> = {
  HELLO: oneInteger(1, VERSION_MAX, (version) => ({ verb: 'HELLO', version })),
  PING: oneInteger(0, SEQUENCE_MAX, (seq) => ({ verb: 'PING', seq })),
  LCD: (rest) => {
    const match = /^([0-9]{1,2}) ([0-9]{1,2}) (.*)$/.exec(rest ?? '');
    const row = integer(match?.[1], 0, LCD_ROWS_MAX - 1);
    const col = integer(match?.[2], 0, LCD_COLUMNS_MAX - 1);
    const text = match?.[3] ?? '';
    if (Number.isNaN(row) || Number.isNaN(col)) return 'expects row 0-3, col 0-39, text';
    return col + text.length <= LCD_COLUMNS_MAX ? { verb: 'LCD', row, col, text } : 'text runs past column 40';
  },
  CLEAR: noArguments<HostMessage>({ verb: 'CLEAR' }),
  BACKLIGHT: (rest) => (rest === '1' || rest === '0' ? { verb: 'BACKLIGHT', on: rest === '1' } : 'expects 1 or 0'),
  DISPENSE: (rest) => {
    const parts = split(rest, 2);
    const id = integer(parts?.[0], 1, DISPENSE_ID_MAX);
    const amountCents = integer(parts?.[1], 1, Number.MAX_SAFE_INTEGER);
    return Number.isNaN(id) || Number.isNaN(amountCents)
      ? 'expects id and amountCents'
      : { verb: 'DISPENSE', id, amountCents };
  },
  COUNTS: noArguments<HostMessage>({ verb: 'COUNTS' }),
};

const DEVICE_HANDLERS: Record<string, Handler<DeviceMessage>> = {
  HELLO: (rest) => {
    const parts = rest === null ? [] : rest.split(' ');
    const version = integer(parts[0], 1, VERSION_MAX);
    const [, device = '', ...caps] = parts;
    if (Number.isNaN(version) || !NAME_PATTERN.test(device)) return 'expects version and device name';
    return caps.length <= CAPABILITIES_MAX && caps.every((cap) => NAME_PATTERN.test(cap))
      ? { verb: 'HELLO', version, device, caps }
      : 'bad capability list';
  },
  PONG: oneInteger(0, SEQUENCE_MAX, (seq) => ({ verb: 'PONG', seq })),
  KEY: (rest) => {
    const key = WIRE_TO_KEY.get(rest ?? '');
    return key === undefined ? 'unknown key' : { verb: 'KEY', key };
  },
  DISPENSED: (rest) => {
    const parts = split(rest, 3);
    const id = integer(parts?.[0], 1, DISPENSE_ID_MAX);
    const dispensedCents = integer(parts?.[1], 0, Number.MAX_SAFE_INTEGER);
    const faultText = parts?.[2] ?? '';
    const fault = faultText === '-' ? null : DISPENSE_FAULTS.find((name) => name === faultText);
    if (Number.isNaN(id) || Number.isNaN(dispensedCents) || fault === undefined)
      return 'expects id, dispensedCents and a fault or -';
    return { verb: 'DISPENSED', id, dispensedCents, fault };
  },
  CASH: (rest) => {
    const pairs = rest === null ? [] : rest.split(' ');
    if (pairs.length > CASSETTES_MAX) return `more than ${CASSETTES_MAX} cassettes`;
    const cassettes = pairs.map((pair) => {
      const [denomination, count, extra] = pair.split(':');
      return {
        denominationCents: integer(denomination, 1, Number.MAX_SAFE_INTEGER),
        count: extra === undefined ? integer(count, 0, Number.MAX_SAFE_INTEGER) : Number.NaN,
      };
    });
    return cassettes.every((c) => !Number.isNaN(c.denominationCents) && !Number.isNaN(c.count))
      ? { verb: 'CASH', cassettes }
      : 'expects denominationCents:count pairs';
  },
  FAULT: (rest) => {
    const fault = DEVICE_FAULT_NAMES.find((name) => name === rest);
    return fault === undefined ? 'unknown fault' : { verb: 'FAULT', fault };
  },
  HB: oneInteger(0, Number.MAX_SAFE_INTEGER, (uptimeMs) => ({ verb: 'HB', uptimeMs })),
};

/** A line the host sent, without its '\n'. Never throws. */
export function parseHostLine(line: string): ParsedLine<HostMessage> {
  return parseWith(line, HOST_HANDLERS);
}

/** A line the device sent, without its '\n'. Never throws. */
export function parseDeviceLine(line: string): ParsedLine<DeviceMessage> {
  return parseWith(line, DEVICE_HANDLERS);
}

// ---------------------------------------------------------------------------------------------
// [SL-2.5] Splitting a byte stream into lines, with a bounded buffer.

export interface LineStats {
  /** Every non-empty line that ended in '\n', whether delivered or dropped. */
  lines: number;
  /** Dropped: longer than maxBytes (with its '\n'). */
  oversize: number;
  /** Dropped by the splitter (a byte outside 0x20-0x7e), or counted by countRejected. */
  corrupt: number;
  /** Counted by countRejected: a well-formed line with a verb the parser does not know. */
  unknown: number;
}

export class LineSplitter {
  readonly stats: LineStats = { lines: 0, oversize: 0, corrupt: 0, unknown: 0 };
  private readonly buffer: Buffer;
  private length = 0;
  private overflowed = false;

  /** maxBytes counts the '\n'; one byte more is buffered so that a trailing '\r' can be stripped. */
  constructor(readonly maxBytes: number = LINE_BYTES_MAX) {
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 2 && maxBytes <= 65_536, 'maxBytes must be 2..65536');
    this.buffer = Buffer.alloc(maxBytes);
  }

  /** The complete, printable-ASCII lines in chunk (with what came before), without '\r\n'. */
  push(chunk: Buffer | string): string[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const lines: string[] = [];
    for (const byte of bytes) {
      if (byte === 0x0a) {
        const line = this.endLine();
        if (line !== null) lines.push(line);
      } else if (this.length === this.maxBytes) {
        // [SL-2.3] Past the limit the rest of the line is discarded as it arrives.
        this.overflowed = true;
      } else if (!this.overflowed) {
        this.buffer[this.length] = byte;
        this.length += 1;
      }
    }
    return lines;
  }

  /** The line was cut (cable pulled, port reopened): forget a partial line, keep the stats. */
  discardPartialLine(): void {
    this.length = 0;
    this.overflowed = false;
  }

  /** Counts a line the parser refused: 'unknown verb' as unknown, any other reason as corrupt. */
  countRejected(reason: string): void {
    if (reason === UNKNOWN_VERB) this.stats.unknown += 1;
    else this.stats.corrupt += 1;
  }

  private endLine(): string | null {
    const overflowed = this.overflowed;
    const end = this.length > 0 && this.buffer[this.length - 1] === 0x0d ? this.length - 1 : this.length;
    this.length = 0;
    this.overflowed = false;
    if (!overflowed && end === 0) return null; // [SL-2.5] an empty line resynchronises; not counted
    this.stats.lines += 1;
    if (overflowed || end + 1 > this.maxBytes) {
      this.stats.oversize += 1;
      return null;
    }
    for (let index = 0; index < end; index += 1) {
      const byte = this.buffer[index] as number;
      if (byte < 0x20 || byte > 0x7e) {
        this.stats.corrupt += 1;
        return null;
      }
    }
    return this.buffer.toString('latin1', 0, end);
  }
}
