// The firmware simulator's own terminal: its keyboard is the 4×4 keypad plus fault switches,
// and its screen shows the LCD the kiosk writes. Pure: raw stdin bytes in, commands out; a
// device in, panel text out. bin/commands/firmware-sim.ts wires them to the real terminal.
import type { KeyName } from '../hardware/index.js';
import type { LineDevice } from './line-device.js';
import type { LineDeviceEvent } from './line-device-types.js';
import type { ScriptAction } from './script.js';

/** insertNote: a note of the device's rank-th accepted denomination (0: the largest), which only the device knows. */
export type ConsoleCommand =
  | { kind: 'action'; action: ScriptAction }
  | { kind: 'insertNote'; rank: number }
  | { kind: 'togglePlug' }
  | { kind: 'toggleTamper' }
  | { kind: 'quit' };

/** The documented map, for --help and the panel; consoleCommands implements exactly this. */
export const CONSOLE_KEYS_HELP = [
  'keypad: 0-9, a-d = A-D, # or Enter = Enter, * or Delete = Clear, Esc = Cancel, Backspace',
  'faults: F5/j jam after 1 note, x clear jam, F6/l low cash, F7/t tamper switch, F8/u unplug/replug,',
  '        F9/g 32 garbage bytes, F10/r power cycle, q or Ctrl-C quit',
  'cash-in: F1-F4 or e/f/h/i a note of the 1st-4th accepted denomination, F11/o a torn note,',
  '         k the next store or return jams (x clears it), m the next returned notes are not taken',
];

const key = (name: KeyName): ConsoleCommand => ({ kind: 'action', action: { kind: 'key', key: name } });
const action = (value: ScriptAction): ConsoleCommand => ({ kind: 'action', action: value });

const JAM = action({ kind: 'jam', afterNotes: 1 });
const LOW_CASH = action({ kind: 'lowCash' });
const TAMPER: ConsoleCommand = { kind: 'toggleTamper' };
const PLUG: ConsoleCommand = { kind: 'togglePlug' };
const GARBAGE = action({ kind: 'garbage', bytes: 32 });
const RESET = action({ kind: 'reset' });
const TORN = action({ kind: 'note', note: 'torn' });
const ESCROW_JAM = action({ kind: 'escrowJam' });
const note = (rank: number): ConsoleCommand => ({ kind: 'insertNote', rank });

/** F1–F4 as xterm (SS3), the Linux console (ESC [ [) and rxvt (ESC [ 1n ~) send them, then their letters. */
const NOTE_KEYS: [string, string, string, string][] = [
  ['\x1bOP', '\x1b[[A', '\x1b[11~', 'e'],
  ['\x1bOQ', '\x1b[[B', '\x1b[12~', 'f'],
  ['\x1bOR', '\x1b[[C', '\x1b[13~', 'h'],
  ['\x1bOS', '\x1b[[D', '\x1b[14~', 'i'],
];

/** One terminal key (a character or an escape sequence) → its command. xterm and Linux console F-keys. */
const COMMANDS = new Map<string, ConsoleCommand>([
  ...(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'] satisfies KeyName[]).map((digit): [string, ConsoleCommand] => [
    digit,
    key(digit),
  ]),
  ...(['A', 'B', 'C', 'D'] satisfies KeyName[]).flatMap((letter): [string, ConsoleCommand][] => [
    [letter, key(letter)],
    [letter.toLowerCase(), key(letter)],
  ]),
  ['#', key('enter')],
  ['\r', key('enter')],
  ['\n', key('enter')],
  ['*', key('clear')],
  ['\x1b[3~', key('clear')],
  ['\x1b', key('cancel')],
  ['\x7f', key('backspace')],
  ['\b', key('backspace')],
  ['j', JAM],
  ['\x1b[15~', JAM],
  ['\x1b[[E', JAM],
  ['x', action({ kind: 'clearJam' })],
  ['l', LOW_CASH],
  ['\x1b[17~', LOW_CASH],
  ['t', TAMPER],
  ['\x1b[18~', TAMPER],
  ['u', PLUG],
  ['\x1b[19~', PLUG],
  ['g', GARBAGE],
  ['\x1b[20~', GARBAGE],
  ['r', RESET],
  ['\x1b[21~', RESET],
  ...NOTE_KEYS.flatMap((sequences, rank) => sequences.map((text): [string, ConsoleCommand] => [text, note(rank)])),
  ['o', TORN],
  ['\x1b[23~', TORN],
  ['k', ESCROW_JAM],
  ['m', action({ kind: 'leaveNotes' })],
  ['q', { kind: 'quit' }],
  ['\x03', { kind: 'quit' }],
]);

/** Splits raw terminal input into keys: CSI sequences (ESC [ … final), SS3 (ESC O x), Linux F-keys (ESC [ [ x), characters. */
export function terminalKeys(input: string): string[] {
  const keys: string[] = [];
  let index = 0;
  while (index < input.length) {
    let length = 1;
    if (input[index] === '\x1b' && input[index + 1] === '[') {
      if (input[index + 2] === '[') length = 4;
      else {
        length = 2;
        while (index + length < input.length && !/[\x40-\x7e]/.test(input[index + length] as string)) length += 1;
        length += 1;
      }
    } else if (input[index] === '\x1b' && input[index + 1] === 'O') length = 3;
    keys.push(input.slice(index, index + length));
    index += length;
  }
  return keys;
}

/** The commands in one chunk of raw stdin; keys that mean nothing are skipped. */
export function consoleCommands(input: string): ConsoleCommand[] {
  return terminalKeys(input).flatMap((text) => {
    const command = COMMANDS.get(text);
    return command === undefined ? [] : [command];
  });
}

/** One line for a log (stdout not a terminal), or null for events that need none. */
export function describeEvent(event: LineDeviceEvent, device: LineDevice): string | null {
  switch (event.kind) {
    case 'hello':
      return `host said HELLO (version ${event.version})`;
    case 'display':
      return `lcd ${device.backlightOn ? 'on ' : 'off'} |${device.displayLines().join('|')}|`;
    case 'dispensed':
      return `dispense ${event.id}: asked ${event.amountCents} cents, dispensed ${event.dispensedCents}${event.fault === null ? '' : `, fault ${event.fault}`}`;
    case 'note':
      return `note ${event.note === 'torn' ? 'torn' : `${event.note} cents`}: ${event.outcome === 'slotClosed' ? 'the slot is closed' : event.outcome}; escrow ${escrowWords(device)}`;
    case 'cashIn':
      return `${event.verb.toLowerCase()} ${event.id}: ${event.cents} cents${event.fault === null ? '' : `, fault ${event.fault}`}`;
    case 'rejected':
      return `dropped a line from the host: ${event.reason}`;
    case 'status':
      return `status: ${status(device)}`;
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

/** The escrow in words: "2 x 20.00 + 1 x 10.00 (1 refused)", or "empty". */
function escrowWords(device: LineDevice): string {
  const { notes, rejected } = device.escrow();
  const counted = notes.map((held) => `${held.count} x ${(held.denominationCents / 100).toFixed(2)}`).join(' + ');
  return `${counted === '' ? 'empty' : counted}${rejected > 0 ? ` (${rejected} refused)` : ''}`;
}

function status(device: LineDevice): string {
  const faults = device.faults();
  const armed = device.jamArmedAfterNotes;
  const slot = device.slot;
  return [
    device.isPlugged ? (device.state === 'running' ? 'talking to the kiosk' : 'waiting for HELLO') : 'UNPLUGGED',
    `faults: ${faults.length === 0 ? 'none' : faults.join(', ')}`,
    armed === null ? null : `jam armed after ${armed} note${armed === 1 ? '' : 's'}`,
    device.dispensing ? 'dispensing' : null,
    slot === null ? null : `slot ${slot}, escrow ${escrowWords(device)}`,
    device.escrowJamArmed ? 'escrow jam armed' : null,
  ]
    .filter((part) => part !== null)
    .join(' | ');
}

/** The whole panel for a terminal: the LCD in a frame, the state, the keys. */
export function renderPanel(device: LineDevice, headline: string, lastEvent: string): string {
  const border = `+${'-'.repeat(device.columns)}+`;
  const stats = device.stats;
  return [
    headline,
    '',
    border,
    ...device.displayLines().map((line) => `|${line}|`),
    `${border} backlight ${device.backlightOn ? 'on' : 'off'}`,
    '',
    status(device),
    `cassettes: ${device
      .cassettes()
      .map((c) => `${c.count} x ${(c.denominationCents / 100).toFixed(2)}`)
      .join(', ')}`,
    ...(device.hasCashIn
      ? [
          `accepts: ${device.denominationsCents.map((cents) => (cents / 100).toFixed(2)).join(', ')}; deposit cassette: ${
            device
              .deposits()
              .map((held) => `${held.count} x ${(held.denominationCents / 100).toFixed(2)}`)
              .join(', ') || 'empty'
          }`,
        ]
      : []),
    `lines from the kiosk: ${stats.lines} (dropped: ${stats.oversize} oversize, ${stats.corrupt} corrupt, ${stats.unknown} unknown)`,
    `last: ${lastEvent}`,
    '',
    ...CONSOLE_KEYS_HELP,
  ].join('\n');
}
