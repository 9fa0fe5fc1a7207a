// [SL-2.6] Parsing untrusted serial lines: a reason, never an exception. Length, characters,
// checksum and verb are checked before any argument is read; one handler per verb.
import { CASSETTES_MAX } from './messages.js';
import {
  CAPABILITIES_MAX,
  DEVICE_FAULT_NAMES,
  DISPENSE_FAULTS,
  DISPENSE_ID_MAX,
  LCD_COLUMNS_MAX,
  LCD_ROWS_MAX,
  LINE_BYTES_MAX,
  NAME_PATTERN,
  SEQUENCE_MAX,
  UNKNOWN_VERB,
  VERSION_MAX,
  WIRE_TO_KEY,
  serialLineChecksum,
  type DeviceMessage,
  type HostMessage,
  type ParsedLine,
} from './serial-line-spec.js';
import { CASH_IN_DEVICE_HANDLERS, CASH_IN_HOST_HANDLERS } from './serial-line-cash-in.js';
import { integer, noArguments, notePairs, oneInteger, split, type Handler } from './serial-line-fields.js';

interface Fields {
  verb: string;
  rest: string | null;
}

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
  ...CASH_IN_HOST_HANDLERS,
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
    const cassettes = notePairs(pairs, 0, Number.MAX_SAFE_INTEGER);
    return cassettes === null ? 'expects denominationCents:count pairs' : { verb: 'CASH', cassettes };
  },
  FAULT: (rest) => {
    const fault = DEVICE_FAULT_NAMES.find((name) => name === rest);
    return fault === undefined ? 'unknown fault' : { verb: 'FAULT', fault };
  },
  HB: oneInteger(0, Number.MAX_SAFE_INTEGER, (uptimeMs) => ({ verb: 'HB', uptimeMs })),
  ...CASH_IN_DEVICE_HANDLERS,
};

/** A line the host sent, without its '\n'. Never throws. */
export function parseHostLine(line: string): ParsedLine<HostMessage> {
  return parseWith(line, HOST_HANDLERS);
}

/** A line the device sent, without its '\n'. Never throws. */
export function parseDeviceLine(line: string): ParsedLine<DeviceMessage> {
  return parseWith(line, DEVICE_HANDLERS);
}
