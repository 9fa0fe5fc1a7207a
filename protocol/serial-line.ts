// [SL] The serial line protocol between the kiosk (host) and its keypad/display/dispenser
// microcontroller (device), as pure functions: messages in, lines out, and back. No I/O here:
// the host driver (hardware/serial.ts) and the firmware simulator (firmware-sim/) own the
// ports. hardware/PROTOCOL.md is the specification; the [SL-n] comments cite its clauses.
// This file encodes and is the codec's face; the vocabulary, the parser and the line
// splitter have files of their own (serial-line-spec.ts, serial-line-parse.ts, line-splitter.ts),
// and so do the cash-in module's verbs (serial-line-cash-in.ts).
import { assert, assertNever } from './assert.js';
import { CASSETTES_MAX } from './messages.js';
import { encodeCashInDevice, encodeCashInHost } from './serial-line-cash-in.js';
import {
  CAPABILITIES_MAX,
  DEVICE_FAULT_NAMES,
  DISPENSE_FAULTS,
  DISPENSE_ID_MAX,
  KEY_TO_WIRE,
  LCD_COLUMNS_MAX,
  LCD_ROWS_MAX,
  LINE_BYTES_MAX,
  NAME_PATTERN,
  SEQUENCE_MAX,
  VERSION_MAX,
  isIn,
  serialLineChecksum,
  type DeviceMessage,
  type HostMessage,
} from './serial-line-spec.js';

export {
  CAPABILITIES_MAX,
  CASH_IN_CAPABILITY,
  CASH_IN_ID_MAX,
  DEPOSIT_CAPACITY_MAX,
  ESCROW_LINE_NOTES_MAX,
  ESCROW_REJECTED_MAX,
  ESCROW_SLOTS,
  NOTE_KINDS_MAX,
  RETURN_FAULTS,
  STORE_FAULTS,
  DEVICE_FAULT_NAMES,
  DISPENSE_ID_MAX,
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_LOSS_MS,
  LCD_COLUMNS_MAX,
  LCD_ROWS_MAX,
  LINE_BYTES_MAX,
  NAME_PATTERN,
  SEQUENCE_MAX,
  SERIAL_PROTOCOL_VERSION,
  UNKNOWN_VERB,
  VERSION_MAX,
  serialLineChecksum,
  type CashInDeviceMessage,
  type CashInHostMessage,
  type DeviceFaultName,
  type DeviceMessage,
  type EscrowSlot,
  type ReturnFault,
  type StoreFault,
  type HostMessage,
  type ParsedLine,
} from './serial-line-spec.js';
export { parseDeviceLine, parseHostLine } from './serial-line-parse.js';
export { LineSplitter, type LineStats } from './line-splitter.js';

function frame(body: string): string {
  const line = `${body}*${serialLineChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\n`;
  assert(
    line.length <= LINE_BYTES_MAX,
    `serial line of ${line.length} bytes exceeds ${LINE_BYTES_MAX}: ${JSON.stringify(line)}`,
  );
  return line;
}

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
    case 'CASHIN':
    case 'SLOT':
    case 'STORE':
    case 'RETURN':
      return frame(encodeCashInHost(message));
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
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- a message built by hand may carry any string
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
    case 'ACCEPTS':
    case 'DEPOSITS':
    case 'ESCROW':
    case 'STORED':
    case 'RETURNED':
      return frame(encodeCashInDevice(message));
    default:
      return assertNever(message, 'message');
  }
}
