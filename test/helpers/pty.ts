// Runs a command in a real pseudo-terminal (node-pty) and keeps what it draws in a headless
// xterm.js terminal, so a test can read the screen as a user sees it, type keys and resize
// the window. Every spawned terminal is tracked and SIGKILLed if the test process exits
// with it still running.
import pty from 'node-pty';
import { pause } from './wait.js';
import xterm from '@xterm/headless';
import type { IPty } from 'node-pty';
import type { Terminal as XtermTerminal } from '@xterm/headless';

// Both packages are CommonJS: their named exports live on the default export under ESM.
const { Terminal } = xterm;

export type NamedKey =
  | 'enter'
  | 'escape'
  | 'backspace'
  | 'tab'
  | 'f1'
  | 'f2'
  | 'f3'
  | 'f4'
  | 'f5'
  | 'f6'
  | 'f7'
  | 'f8'
  | 'f9'
  | 'ctrl-c'
  | 'up'
  | 'down'
  | 'left'
  | 'right';

/** What xterm sends for each key (normal cursor mode; F1–F4 are SS3 sequences, F5 up CSI ones). */
export const KEY_SEQUENCES: Record<NamedKey, string> = {
  enter: '\r',
  escape: '\x1b',
  backspace: '\x7f',
  tab: '\t',
  f1: '\x1bOP',
  f2: '\x1bOQ',
  f3: '\x1bOR',
  f4: '\x1bOS',
  // F5 and up are CSI sequences (the sim's note slot in the kiosk).
  f5: '\x1b[15~',
  f6: '\x1b[17~',
  f7: '\x1b[18~',
  f8: '\x1b[19~',
  f9: '\x1b[20~',
  'ctrl-c': '\x03',
  up: '\x1b[A',
  down: '\x1b[B',
  right: '\x1b[C',
  left: '\x1b[D',
};

export interface PtyExit {
  exitCode: number;
  signal: number | undefined;
}

export interface PtyOptions {
  cols?: number;
  rows?: number;
  cwd?: string;
  /** Replaces the inherited environment (TERM and LANG are set on top). */
  env?: NodeJS.ProcessEnv;
}

export interface PtyProcess {
  readonly pid: number;
  /** The visible screen: one string per row (trailing blanks trimmed), joined by \n. */
  screenText(): string;
  /** Every distinct screen seen so far, in order (a screen that only flashed by included). */
  screens(): string[];
  /** Everything the program wrote to the terminal, escape sequences included. */
  output(): string;
  /** Polls until the screen matches; on timeout throws with the current screen in the message. */
  waitFor(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Polls until the raw output matches (e.g. an escape sequence that leaves no text). */
  waitForOutput(pattern: string | RegExp, timeoutMs?: number): Promise<void>;
  /** Sends text as typed characters. */
  type(text: string): void;
  press(key: NamedKey): void;
  resize(cols: number, rows: number): void;
  /** SIGKILL unless it has exited already; resolves once it has. Safe to call twice. */
  kill(): Promise<PtyExit>;
  readonly exited: Promise<PtyExit>;
}

export const WAIT_POLL_MS = 20;

const live = new Set<IPty>();
process.once('exit', () => {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
});

function matches(text: string, pattern: string | RegExp): boolean {
  return typeof pattern === 'string' ? text.includes(pattern) : pattern.test(text);
}

function readScreen(terminal: XtermTerminal): string {
  const buffer = terminal.buffer.active;
  const lines: string[] = [];
  for (let row = 0; row < terminal.rows; row++)
    lines.push(buffer.getLine(buffer.viewportY + row)?.translateToString(true) ?? '');
  return lines.join('\n');
}

export function spawnPty(file: string, args: string[], options: PtyOptions = {}): PtyProcess {
  const cols = options.cols ?? 80;
  const rows = options.rows ?? 24;
  const terminal = new Terminal({ cols, rows, allowProposedApi: true, scrollback: 1000 });
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(options.env ?? process.env)) if (value !== undefined) env[name] = value;
  env.TERM = 'xterm-256color';
  env.LANG = 'C.UTF-8';
  delete env.LC_ALL; // LANG must decide the charset
  const child = pty.spawn(file, args, { name: 'xterm-256color', cols, rows, cwd: options.cwd ?? process.cwd(), env });
  live.add(child);

  let raw = '';
  const seen: string[] = [];
  const record = (): void => {
    const text = readScreen(terminal);
    if (seen.at(-1) !== text) seen.push(text);
  };
  terminal.onWriteParsed(record);
  child.onData((data) => {
    raw += data;
    terminal.write(data);
  });
  let exitInfo: PtyExit | null = null;
  const exited = new Promise<PtyExit>((resolve) =>
    child.onExit(({ exitCode, signal }) => {
      live.delete(child);
      exitInfo = { exitCode, signal };
      resolve(exitInfo);
    }),
  );

  const poll = async (read: () => string, pattern: string | RegExp, timeoutMs: number, what: string): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (matches(read(), pattern)) return;
      if (Date.now() >= deadline) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} ${String(pattern)}${exitInfo !== null ? ` (process exited: ${JSON.stringify(exitInfo)})` : ''}; the screen:\n${readScreen(terminal)}`,
        );
      }
      await pause(WAIT_POLL_MS);
    }
  };

  return {
    pid: child.pid,
    screenText: () => readScreen(terminal),
    screens: () => [...seen],
    output: () => raw,
    waitFor: (pattern, timeoutMs = 5_000) => poll(() => readScreen(terminal), pattern, timeoutMs, 'the screen to show'),
    waitForOutput: (pattern, timeoutMs = 5_000) => poll(() => raw, pattern, timeoutMs, 'the output to contain'),
    type: (text) => child.write(text),
    press: (key) => child.write(KEY_SEQUENCES[key]),
    resize: (newCols, newRows) => {
      terminal.resize(newCols, newRows);
      child.resize(newCols, newRows);
    },
    kill: async () => {
      if (exitInfo === null) {
        try {
          child.kill('SIGKILL');
        } catch {
          // exited in between
        }
      }
      return exited;
    },
    exited,
  };
}
