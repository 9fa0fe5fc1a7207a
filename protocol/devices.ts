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

/** One cassette of the dispenser: notes of one denomination. */
export interface Cassette {
  denominationCents: number;
  count: number;
}

/** Why a dispense gave out less than asked: one group of the code catalogue (protocol/codes.ts). */
export type { DispenseFault } from './codes.js';
