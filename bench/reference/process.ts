// What the reference measurements share: running a command with a timeout (and, when asked, as
// another user), a free port number, and cleaning up even when the process is interrupted.
import { spawn } from 'node:child_process';
import net from 'node:net';

export interface RunOptions {
  /** The child is killed (SIGTERM) after this long and the run fails, saying so. */
  timeoutMs: number;
  /** Aborting kills the child (SIGTERM) and fails the run. */
  signal?: AbortSignal;
  /** Run as this user through `runuser -u <user> --` (we are root and the command refuses root). */
  asUser?: string | null;
  cwd?: string;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

const OUTPUT_TAIL_CHARS = 2_000;

/** The command line as one string, for messages. */
function shown(command: string, args: readonly string[]): string {
  return [command, ...args].join(' ');
}

/**
 * Runs `command args…` to completion and resolves with its output; rejects when it cannot be
 * started, exits non-zero, is killed by a signal, runs past `timeoutMs` or is aborted. The
 * error message names the command and ends with the tail of its stderr (or stdout).
 */
export function run(command: string, args: readonly string[], options: RunOptions): Promise<RunResult> {
  const [file, argv] =
    options.asUser === undefined || options.asUser === null
      ? [command, [...args]]
      : ['runuser', ['-u', options.asUser, '--', command, ...args]];
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted === true) {
      reject(new Error(`${shown(command, args)} not started: interrupted`));
      return;
    }
    const child = spawn(file, argv, {
      cwd: options.cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: options.timeoutMs,
      killSignal: 'SIGTERM',
      signal: options.signal,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const started = Date.now();
    let failure: Error | null = null;
    child.on('error', (error) => (failure = error));
    child.on('close', (code, signal) => {
      if (code === 0 && failure === null) {
        resolve({ stdout, stderr });
        return;
      }
      const tail = (stderr.trim() || stdout.trim()).slice(-OUTPUT_TAIL_CHARS);
      const why =
        failure !== null && failure.name !== 'AbortError'
          ? `could not run: ${failure.message}`
          : options.signal?.aborted === true
            ? 'interrupted'
            : signal !== null && Date.now() - started >= options.timeoutMs
              ? `timed out after ${options.timeoutMs} ms`
              : signal !== null
                ? `killed by ${signal}`
                : `exited with ${code}`;
      reject(new Error(`${shown(command, args)}: ${why}${tail === '' ? '' : `\n${tail}`}`));
    });
  });
}

/** A TCP port that was free on 127.0.0.1 a moment ago (the OS picked it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => {
        if (address !== null && typeof address === 'object') resolve(address.port);
        else reject(new Error('no port from the OS'));
      });
    });
  });
}

/** Rejects when `signal` aborts (with its reason), else settles as `promise` does. */
export function unlessAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(toError(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(toError(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(toError(error));
      },
    );
  });
}

function toError(reason: unknown): Error {
  return reason instanceof Error ? reason : new Error(String(reason));
}

const INTERRUPTS = ['SIGINT', 'SIGTERM'] as const;

/**
 * Runs `body` with a signal that aborts on SIGINT or SIGTERM, then always runs `cleanup` (also
 * when `body` throws or is interrupted). Interrupted, it rejects after the cleanup and, when
 * nobody else listens for that signal, raises it again so the process ends as it would have
 * (the default action): the throw-away server and temp dir are gone first.
 */
export async function interruptible<T>(
  body: (signal: AbortSignal) => Promise<T>,
  cleanup: () => Promise<void>,
): Promise<T> {
  const controller = new AbortController();
  const state: { interrupted: NodeJS.Signals | null } = { interrupted: null };
  const onInterrupt = (signal: NodeJS.Signals): void => {
    state.interrupted ??= signal;
    controller.abort(new Error(`interrupted by ${signal}`));
  };
  for (const name of INTERRUPTS) process.on(name, onInterrupt);
  try {
    return await body(controller.signal);
  } finally {
    try {
      await cleanup();
    } finally {
      for (const name of INTERRUPTS) process.off(name, onInterrupt);
      const { interrupted } = state;
      if (interrupted !== null && process.listenerCount(interrupted) === 0) process.kill(process.pid, interrupted);
    }
  }
}
