// The keyboard IS the sim keypad: this maps blessed's keypress arguments (ch, key) to the
// keypad's keys. It covers a PC keyboard and a USB numeric keypad, with NumLock on or off.
// In text fields the kiosk UI takes printable characters directly; this map is for keypad
// semantics only.
//
// Choices, and why:
// - USB numpad operators follow an ATM PIN pad's right column (Cancel red, Clear yellow,
//   Enter green, top to bottom): numpad '-' → cancel, '+' → clear, Enter → enter. '*' is
//   the 4×4 keypad's Clear; numpad '.' is Delete with NumLock off, so both are clear too; '/'
//   → backspace, the only correction key a numpad has. A numpad cannot produce A–D.
// - NumLock off turns the numpad into navigation keys; each maps to the digit printed on it
//   (End → 1, Down → 2, …). A terminal reports the arrow keys with the same names, so the
//   arrows type digits here too: the kiosk's menus must not rely on arrow keys.
// - blessed reports Enter ('\r') twice: once as 'enter' and once as 'return' (program.js
//   re-emits the first). Only 'enter' counts, or every Enter would be pressed twice. A bare
//   '\n' (Ctrl+J, or a script writing to a pseudo-terminal) arrives once, as 'linefeed'.
// - Ctrl combinations are never keypad keys (Ctrl+C belongs to the UI).
import type { KeyName } from './types.js';

export interface KeyboardMapRow {
  keyboard: string;
  keypad: KeyName;
  meaning: string;
}

/** One row per keypad key, for the README; keyFromTerminal implements exactly this. */
export const KEYBOARD_MAP_TABLE: readonly KeyboardMapRow[] = [
  { keyboard: '0, or numpad Ins (NumLock off)', keypad: '0', meaning: 'digit 0' },
  { keyboard: '1, or numpad End (NumLock off)', keypad: '1', meaning: 'digit 1' },
  { keyboard: '2, or numpad Down (NumLock off)', keypad: '2', meaning: 'digit 2' },
  { keyboard: '3, or numpad PgDn (NumLock off)', keypad: '3', meaning: 'digit 3' },
  { keyboard: '4, or numpad Left (NumLock off)', keypad: '4', meaning: 'digit 4' },
  { keyboard: '5, or numpad 5 (NumLock off)', keypad: '5', meaning: 'digit 5' },
  { keyboard: '6, or numpad Right (NumLock off)', keypad: '6', meaning: 'digit 6' },
  { keyboard: '7, or numpad Home (NumLock off)', keypad: '7', meaning: 'digit 7' },
  { keyboard: '8, or numpad Up (NumLock off)', keypad: '8', meaning: 'digit 8' },
  { keyboard: '9, or numpad PgUp (NumLock off)', keypad: '9', meaning: 'digit 9' },
  { keyboard: 'Enter (main or numpad), #', keypad: 'enter', meaning: 'Enter (green): confirm' },
  {
    keyboard: '*, Delete, numpad . (Del), numpad +',
    keypad: 'clear',
    meaning: 'Clear (yellow): erase the whole entry',
  },
  { keyboard: 'Esc, numpad -', keypad: 'cancel', meaning: 'Cancel (red): back out / end the session' },
  { keyboard: 'Backspace, numpad /', keypad: 'backspace', meaning: 'erase the last character' },
  { keyboard: 'F1, a, A', keypad: 'A', meaning: 'side key A (menu choice)' },
  { keyboard: 'F2, b, B', keypad: 'B', meaning: 'side key B (menu choice)' },
  { keyboard: 'F3, c, C', keypad: 'C', meaning: 'side key C (menu choice)' },
  { keyboard: 'F4, d, D', keypad: 'D', meaning: 'side key D (menu choice)' },
];

/** Printable characters, as blessed passes them in `ch` (its key.name is then unset). */
const CHARACTER_KEYS = new Map<string, KeyName>([
  ...(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] as const).map((digit): [string, KeyName] => [digit, digit]),
  ['#', 'enter'],
  ['*', 'clear'],
  ['+', 'clear'],
  ['.', 'clear'],
  ['-', 'cancel'],
  ['/', 'backspace'],
  ...(['A', 'B', 'C', 'D'] as const).flatMap((letter): [string, KeyName][] => [
    [letter, letter],
    [letter.toLowerCase(), letter],
  ]),
]);

/** Non-printable keys, by blessed's key.name. 'return' is absent on purpose: see the top. */
const NAMED_KEYS = new Map<string, KeyName>([
  ['enter', 'enter'],
  ['linefeed', 'enter'],
  ['escape', 'cancel'],
  ['backspace', 'backspace'],
  ['delete', 'clear'],
  ['f1', 'A'],
  ['f2', 'B'],
  ['f3', 'C'],
  ['f4', 'D'],
  // The numpad with NumLock off: the digit printed on each key. blessed calls numpad 5
  // 'clear' (ESC [ E); other terminal libraries call it 'begin'.
  ['insert', '0'],
  ['end', '1'],
  ['down', '2'],
  ['pagedown', '3'],
  ['left', '4'],
  ['clear', '5'],
  ['begin', '5'],
  ['right', '6'],
  ['home', '7'],
  ['up', '8'],
  ['pageup', '9'],
]);

/** The keypad key for one blessed keypress (its `ch` and `key` arguments), or null. */
/**
 * A numeric keypad in the terminal's "application keypad" mode sends ESC O x instead of the
 * character printed on the key (xterm's DECKPAM). The kiosk switches that mode off, but some
 * terminals ignore the request, so these are understood too.
 */
const APPLICATION_KEYPAD = new Map<string, KeyName>([
  ['\x1bOM', 'enter'],
  ['\x1bOk', 'clear'], // +
  ['\x1bOm', 'cancel'], // -
  ['\x1bOj', 'clear'], // *
  ['\x1bOo', 'backspace'], // /
  ['\x1bOn', 'clear'], // .
  ...Array.from({ length: 10 }, (_, digit): [string, KeyName] => [
    `\x1bO${String.fromCharCode(0x70 + digit)}`,
    String(digit) as KeyName,
  ]),
]);

/**
 * blessed drops ESC O x sequences it has no name for, so the UI also scans raw input for them.
 * Returns the keypad keys found, in order (none for ordinary input).
 */
export function applicationKeypadKeys(data: string): KeyName[] {
  const keys: KeyName[] = [];
  for (const match of data.matchAll(/\x1bO[A-Za-z]/g)) {
    const key = APPLICATION_KEYPAD.get(match[0]);
    if (key !== undefined) keys.push(key);
  }
  return keys;
}

export function keyFromTerminal(
  ch: string | undefined,
  key: { name?: string; full?: string; ctrl?: boolean; shift?: boolean; sequence?: string } | undefined,
): KeyName | null {
  if (key?.ctrl === true) return null;
  const applicationKey = key?.sequence === undefined ? undefined : APPLICATION_KEYPAD.get(key.sequence);
  if (applicationKey !== undefined) return applicationKey;
  if (ch?.length === 1) {
    const fromCharacter = CHARACTER_KEYS.get(ch);
    if (fromCharacter !== undefined) return fromCharacter;
  }
  return key?.name === undefined ? null : (NAMED_KEYS.get(key.name) ?? null);
}
