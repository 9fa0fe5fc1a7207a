// Scripted firmware-sim runs, for tests and demos: a file of timed actions, one a line,
// `DELAY_MS ACTION [ARG]`, each delay counted from the previous action. Started by the
// host's first HELLO (before it, key presses would be lost: [SL-1.3]).
//
//   # a customer types 1 and Enter, then the dispenser jams after 2 notes
//   500 KEY 1
//   200 KEY #
//   0 JAM 2
//   1000 UNPLUG
//   1500 REPLUG
//   # with the deposit slot open: two 20.00 notes and a torn one, then the store jams
//   300 NOTE 2000
//   100 NOTE 2000
//   100 NOTE torn
//   0 ESCROWJAM
import type { KeyName } from '../hardware/index.js';
import { KEY_NAMES } from '../hardware/index.js';
import { GARBAGE_BYTES_MAX } from './line-device-types.js';
import type { LineDevice } from './line-device.js';

export const SCRIPT_STEPS_MAX = 10_000;
export const SCRIPT_DELAY_MS_MAX = 600_000;

export type ScriptAction =
  | { kind: 'key'; key: KeyName }
  | { kind: 'jam'; afterNotes: number }
  | { kind: 'clearJam' }
  | { kind: 'lowCash' }
  | { kind: 'tamper'; open: boolean }
  | { kind: 'unplug' }
  | { kind: 'replug' }
  | { kind: 'garbage'; bytes: number }
  | { kind: 'reset' }
  | { kind: 'note'; note: number | 'torn' }
  | { kind: 'escrowJam' }
  | { kind: 'leaveNotes' };

export interface ScriptStep {
  delayMs: number;
  action: ScriptAction;
  /** 1-based line in the file, for messages. */
  line: number;
}

/** The keypad's legends and the KeyName spellings both work: `KEY #` and `KEY enter`. */
const KEY_WORDS = new Map<string, KeyName>([
  ...KEY_NAMES.map((key): [string, KeyName] => [key.toLowerCase(), key]),
  ['#', 'enter'],
  ['*', 'clear'],
  ['bs', 'backspace'],
  ['esc', 'cancel'],
]);

function count(text: string | undefined, fallback: number, max: number): number | null {
  if (text === undefined) return fallback;
  if (!/^[0-9]{1,7}$/.test(text)) return null;
  const value = Number(text);
  return value <= max ? value : null;
}

function parseAction(words: string[]): ScriptAction | string {
  const [verb = '', argument, extra] = words;
  if (extra !== undefined) return 'too many arguments';
  const noArgument = (action: ScriptAction): ScriptAction | string =>
    argument === undefined ? action : `${verb} takes no argument`;
  switch (verb.toUpperCase()) {
    case 'KEY': {
      const key = KEY_WORDS.get((argument ?? '').toLowerCase());
      return key === undefined
        ? `KEY needs one of 0-9 A-D # * BS ESC, got ${JSON.stringify(argument ?? '')}`
        : { kind: 'key', key };
    }
    case 'JAM': {
      const afterNotes = count(argument, 0, 1_000_000);
      return afterNotes === null ? 'JAM takes a note count' : { kind: 'jam', afterNotes };
    }
    case 'GARBAGE': {
      const bytes = count(argument, 32, GARBAGE_BYTES_MAX);
      return bytes === null || bytes === 0 ? `GARBAGE takes 1..${GARBAGE_BYTES_MAX} bytes` : { kind: 'garbage', bytes };
    }
    case 'TAMPER':
      if (argument === undefined || /^on$/i.test(argument)) return { kind: 'tamper', open: true };
      return /^off$/i.test(argument) ? { kind: 'tamper', open: false } : 'TAMPER takes on or off';
    case 'CLEARJAM':
      return noArgument({ kind: 'clearJam' });
    case 'LOWCASH':
      return noArgument({ kind: 'lowCash' });
    case 'UNPLUG':
      return noArgument({ kind: 'unplug' });
    case 'REPLUG':
      return noArgument({ kind: 'replug' });
    case 'RESET':
      return noArgument({ kind: 'reset' });
    case 'NOTE': {
      if (argument !== undefined && /^torn$/i.test(argument)) return { kind: 'note', note: 'torn' };
      const cents = count(argument, 0, 9_999_999);
      return cents === null || cents === 0
        ? 'NOTE takes a denomination in cents or torn'
        : { kind: 'note', note: cents };
    }
    case 'ESCROWJAM':
      return noArgument({ kind: 'escrowJam' });
    case 'LEAVENOTES':
      return noArgument({ kind: 'leaveNotes' });
    default:
      return `unknown action ${JSON.stringify(verb)}`;
  }
}

/** The steps of a script file; throws an Error naming the first bad line. Blank lines and `# …` are skipped. */
export function parseScript(text: string): ScriptStep[] {
  const steps: ScriptStep[] = [];
  const lines = text.split(/\r?\n/);
  for (let index = 0; index < lines.length; index += 1) {
    const trimmed = (lines[index] as string).trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    const [delay = '', ...words] = trimmed.split(/\s+/);
    const delayMs = count(delay, 0, SCRIPT_DELAY_MS_MAX);
    const action = delayMs === null ? `delay must be 0..${SCRIPT_DELAY_MS_MAX} ms` : parseAction(words);
    if (typeof action === 'string') throw new Error(`script line ${index + 1}: ${action}: ${JSON.stringify(trimmed)}`);
    steps.push({ delayMs: delayMs ?? 0, action, line: index + 1 });
    if (steps.length > SCRIPT_STEPS_MAX) throw new Error(`script has more than ${SCRIPT_STEPS_MAX} steps`);
  }
  return steps;
}

/** Does one action to the device: the same powers the keyboard console uses. */
export function applyAction(device: LineDevice, action: ScriptAction): void {
  switch (action.kind) {
    case 'key':
      device.press(action.key);
      return;
    case 'jam':
      device.jamNext(action.afterNotes);
      return;
    case 'clearJam':
      device.clearJam();
      return;
    case 'lowCash':
      device.setLowCash();
      return;
    case 'tamper':
      device.setTamper(action.open);
      return;
    case 'unplug':
      device.unplug();
      return;
    case 'replug':
      device.replug();
      return;
    case 'garbage':
      device.garbage(action.bytes);
      return;
    case 'reset':
      device.reset();
      return;
    case 'note':
      device.insertNote(action.note);
      return;
    case 'escrowJam':
      device.jamEscrowNext();
      return;
    case 'leaveNotes':
      device.leaveNextReturn();
      return;
    default: {
      const exhaustive: never = action;
      return exhaustive;
    }
  }
}

/** Runs the steps in order with the injected sleep, called before every step (even for 0 ms), so a sleep that rejects stops the run. */
export async function runScript(
  steps: readonly ScriptStep[],
  device: LineDevice,
  sleep: (ms: number) => Promise<void>,
  onStep?: (step: ScriptStep) => void,
): Promise<void> {
  for (const step of steps) {
    await sleep(step.delayMs);
    applyAction(device, step.action);
    onStep?.(step);
  }
}
