// The full-screen kiosk UI on blessed. It only renders views (view.ts) and turns terminal key
// presses into kiosk events; every decision is in flow.ts. Works at 80×24 and larger and
// re-lays itself out on resize. No stack trace ever reaches the screen: errors are caught at
// the controller, and uncaught ones end the UI with a one-line message after restoring the tty.
import blessed from 'blessed';
import { applicationKeypadKeys, keyFromTerminal } from '../hardware/index.js';
import { deviceStateWords, formatCents } from '../protocol/index.js';
import type { KioskState } from './flow.js';
import type { KioskController } from './controller.js';
import { lcdLines, view } from './view.js';

export type ThemeName = 'default' | 'high-contrast';

interface Theme {
  title: blessed.Widgets.Types.TStyle;
  body: blessed.Widgets.Types.TStyle;
  border: blessed.Widgets.Types.TStyle;
  message: string; // blessed tag for the feedback line
  status: blessed.Widgets.Types.TStyle;
  spacing: number; // blank lines between body lines (1 = large text)
  upper: boolean;
}

// Default colours use the terminal's own foreground/background for text, so they read on
// dark and light terminals alike; only bars use explicit colour pairs that contrast either way.
const THEMES: Record<ThemeName, Theme> = {
  default: {
    title: { fg: 'white', bg: 'blue', bold: true },
    body: {},
    border: { border: { fg: 'cyan' } },
    message: '{inverse}{bold}',
    status: { fg: 'black', bg: 'white' },
    spacing: 0,
    upper: false,
  },
  'high-contrast': {
    title: { fg: 'black', bg: 'yellow', bold: true },
    body: { fg: 'white', bg: 'black', bold: true },
    border: { fg: 'white', bg: 'black', border: { fg: 'white', bg: 'black' } },
    message: '{black-fg}{yellow-bg}{bold}',
    status: { fg: 'black', bg: 'yellow', bold: true },
    spacing: 1,
    upper: true,
  },
};

/** The smallest terminal the kiosk draws in; below it, a line that says so instead of a blank panel. */
export const UI_COLUMNS_MIN = 40;
export const UI_ROWS_MIN = 12;
/** From this width the display and keypad panels stand beside a main panel of 40 columns. */
export const SIDE_PANELS_COLUMNS_MIN = 66;

const KEYPAD_LEGEND = [
  '  1   2   3   A',
  '  4   5   6   B',
  '  7   8   9   C',
  '  *   0   #   D',
  '',
  ' #=Enter *=Clear',
  ' Esc=Cancel',
];

export interface KioskUiOptions {
  controller: KioskController;
  theme?: ThemeName;
  /** The sim display mirror: current LCD lines, and a way to hear about changes. */
  lcd?: { lines: () => string[]; onChange: (listener: () => void) => void };
  /** The sim's note slot: F5.. put its denominations in (largest first), the key after them a torn note. */
  noteSlot?: { insert: (denominationCents: number | 'torn') => void; denominationsCents: readonly number[] };
  onQuit: () => void;
  screen?: blessed.Widgets.Screen; // tests may pass their own
}

/** The terminal keys of the sim's note slot: F5 upwards, one per denomination, then a torn note. */
export function noteKeys(denominationsCents: readonly number[]): { key: string; note: number | 'torn' }[] {
  const notes: (number | 'torn')[] = [...denominationsCents.slice(0, 7), 'torn'];
  return notes.map((note, index) => ({ key: `f${index + 5}`, note }));
}

const SPEECH_KEYS: Record<string, 'repeat' | 'softer' | 'louder' | undefined> = {
  f10: 'repeat',
  f11: 'softer',
  f12: 'louder',
};

function noteKeysHelp(denominationsCents: readonly number[]): string {
  return noteKeys(denominationsCents)
    .map(({ key, note }) => {
      const what = note === 'torn' ? 'torn' : note % 100 === 0 ? String(note / 100) : formatCents(note);
      return `${key.toUpperCase()} ${what}`;
    })
    .join(' ');
}

export function startKioskUi(options: KioskUiOptions): blessed.Widgets.Screen {
  const theme = THEMES[options.theme ?? 'default'];
  const screen =
    options.screen ?? blessed.screen({ smartCSR: true, title: 'Secure ATM', fullUnicode: true, autoPadding: true });
  // Numeric-keypad mode: blessed turns on "application keypad" (numpad keys send ESC O x);
  // switching it off makes a USB numeric keypad type plain digits, + - * / . and Enter.
  (screen.program as unknown as { put: { keypad_local: () => void } }).put.keypad_local();
  const title = blessed.box({
    parent: screen,
    top: 0,
    left: 0,
    width: '100%',
    height: 1,
    tags: true,
    style: theme.title,
  });
  const main = blessed.box({
    parent: screen,
    top: 1,
    left: 0,
    width: '100%-26',
    height: '100%-3',
    border: 'line',
    tags: true,
    padding: { left: 1, right: 1 },
    style: { ...theme.body, ...theme.border },
  });
  const lcdBox = blessed.box({
    parent: screen,
    top: 1,
    right: 0,
    width: 26,
    height: 6,
    border: 'line',
    label: ' Display ',
    tags: false,
    style: { ...theme.body, ...theme.border },
  });
  const keypadBox = blessed.box({
    parent: screen,
    top: 7,
    right: 0,
    width: 26,
    height: '100%-9',
    border: 'line',
    label: ' Keypad ',
    content: KEYPAD_LEGEND.join('\n'),
    style: { ...theme.body, ...theme.border },
  });
  const help = blessed.box({
    parent: screen,
    bottom: 1,
    left: 0,
    width: '100%',
    height: 1,
    tags: true,
    style: theme.body,
  });
  const status = blessed.box({
    parent: screen,
    bottom: 0,
    left: 0,
    width: '100%',
    height: 1,
    tags: true,
    style: theme.status,
  });
  const tooSmall = blessed.box({
    parent: screen,
    top: 0,
    left: 0,
    width: '100%',
    height: '100%',
    tags: false,
    hidden: true,
    style: theme.body,
  });

  /** Side panels only where the main panel keeps room for its text; below the minimum, say so. */
  const layout = (): boolean => {
    const columns = screen.width as number;
    const rows = screen.height as number;
    const small = columns < UI_COLUMNS_MIN || rows < UI_ROWS_MIN;
    const sides = !small && columns >= SIDE_PANELS_COLUMNS_MIN;
    for (const box of [title, main, help, status]) box.hidden = small;
    lcdBox.hidden = !sides;
    keypadBox.hidden = !sides;
    main.width = sides ? '100%-26' : '100%';
    tooSmall.hidden = !small;
    if (small)
      tooSmall.setContent(
        `Terminal too small for the kiosk: it needs at least ${UI_COLUMNS_MIN}x${UI_ROWS_MIN}, this one is ${columns}x${rows}. Make it larger.`,
      );
    return !small;
  };

  const render = (state: KioskState): void => {
    if (!layout()) {
      screen.render();
      return;
    }
    const shown = view(state);
    const text = (line: string): string => blessed.escape(theme.upper ? line.toUpperCase() : line);
    title.setContent(` SECURE ATM — ${text(shown.title)}`);
    const gap = '\n'.repeat(theme.spacing + 1);
    const message = state.message !== null ? `${gap}${theme.message} ${blessed.escape(state.message)} {/}` : '';
    main.setContent(`\n${shown.body.map(text).join(gap)}${message}`);
    const slot = options.noteSlot;
    const simNotes =
      slot !== undefined && state.screen.name === 'insertNotes'
        ? `   sim notes: ${noteKeysHelp(slot.denominationsCents)}`
        : '';
    help.setContent(` ${blessed.escape(shown.keys + simNotes)}`);
    const lcd = options.lcd?.lines() ?? lcdLines(state);
    lcdBox.setContent(lcd.map((line) => line.padEnd(20).slice(0, 20)).join('\n'));
    const clock = new Date().toTimeString().slice(0, 8);
    const cashIn =
      state.devices.acceptor === 'noDevice' ? '' : ` · cash-in ${deviceStateWords(state.devices.acceptor)}`;
    const devices = `keypad ${deviceStateWords(state.devices.keypad)} · display ${deviceStateWords(state.devices.display)} · dispenser ${deviceStateWords(state.devices.dispenser)}${cashIn}`;
    status.setContent(` ${blessed.escape(state.kioskId)} │ bank ${state.link} │ ${devices} │ ${clock}`);
    screen.render();
  };

  screen.on(
    'keypress',
    (
      ch: string | undefined,
      key: { name?: string; full?: string; ctrl?: boolean; shift?: boolean; sequence?: string } | undefined,
    ) => {
      if (key?.ctrl === true && key.name === 'c') {
        options.onQuit();
        return;
      }
      const state = options.controller.state;
      const slot = options.noteSlot;
      const note =
        slot === undefined ? undefined : noteKeys(slot.denominationsCents).find((entry) => entry.key === key?.name);
      if (slot !== undefined && note !== undefined) {
        slot.insert(note.note);
        return;
      }
      // The speech keys (with --speech): F10 says the screen again, F11 softer, F12 louder.
      const speech = SPEECH_KEYS[key?.name ?? ''];
      if (speech !== undefined) {
        options.controller.speech(speech);
        return;
      }
      const textScreen = 'text' in state.screen;
      // In a text field a printable key is a character (letters, digits, * and # alike).
      if (textScreen && ch?.length === 1 && ch >= ' ' && ch <= '~' && key?.name !== 'return' && key?.name !== 'enter') {
        options.controller.input({ type: 'char', ch, atMs: Date.now() });
        return;
      }
      const mapped = keyFromTerminal(ch, key);
      if (mapped !== null) options.controller.pressKey(mapped, 'keyboard');
    },
  );
  // Numpad keys in application mode never reach 'keypress' (blessed drops unnamed sequences).
  // 'data' fires before blessed emits the keypresses of the same chunk, so the keypad keys wait
  // a microtask: "user1234" then numpad Enter arrive in that order.
  screen.program.on('data', (data: Buffer | string) => {
    const keys = applicationKeypadKeys(data.toString());
    if (keys.length > 0) queueMicrotask(() => keys.forEach((key) => options.controller.pressKey(key, 'keyboard')));
  });
  screen.on('resize', () => render(options.controller.state));
  options.controller.onChange(render);
  options.lcd?.onChange(() => render(options.controller.state));
  const clock = setInterval(() => render(options.controller.state), 1_000);
  clock.unref();
  screen.on('destroy', () => clearInterval(clock));
  render(options.controller.state);
  return screen;
}
