// The device vocabulary that the kiosk, its drivers and the serial line codec share: key
// names, cassettes and dispense faults. It lives here, the lowest layer, so that the codec
// (serial-line.ts) does not import hardware/ and hardware/ does not import back.

/**
 * The 4×4 keypad's keys: digits, Enter (#), Clear (*), Cancel, and the four side keys
 * A–D (function keys F1–F4 on a keyboard). 'backspace' exists for keyboards and USB keypads.
 */
export type KeyName =
  | '0'
  | '1'
  | '2'
  | '3'
  | '4'
  | '5'
  | '6'
  | '7'
  | '8'
  | '9'
  | 'enter'
  | 'clear'
  | 'cancel'
  | 'backspace'
  | 'A'
  | 'B'
  | 'C'
  | 'D';

export const KEY_NAMES: readonly KeyName[] = [
  '0',
  '1',
  '2',
  '3',
  '4',
  '5',
  '6',
  '7',
  '8',
  '9',
  'enter',
  'clear',
  'cancel',
  'backspace',
  'A',
  'B',
  'C',
  'D',
];

/**
 * The 4×4 keypad's legends and the key a tap of each gives: digits and A–D as themselves,
 * * is Clear and # is Enter. One table for the serial line codec, which sends the legends
 * ([SL-4.3]), and the Firmata keypad, which reads them.
 */
export const KEY_FOR_KEYPAD_LEGEND = {
  '0': '0',
  '1': '1',
  '2': '2',
  '3': '3',
  '4': '4',
  '5': '5',
  '6': '6',
  '7': '7',
  '8': '8',
  '9': '9',
  A: 'A',
  B: 'B',
  C: 'C',
  D: 'D',
  '*': 'clear',
  '#': 'enter',
} as const satisfies Readonly<Record<string, KeyName>>;

/** One cassette of the dispenser: notes of one denomination. */
export interface Cassette {
  denominationCents: number;
  count: number;
}

/** Why a dispense gave out less than asked: one group of the code catalogue (protocol/codes.ts). */
export type { DispenseFault } from './codes.js';
/** Why the cash-in module could not count, store or return notes: one group of the code catalogue. */
export type { CashInFault } from './codes.js';
