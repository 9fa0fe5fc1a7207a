// A failed assertion ends the bank process (ARCHITECTURE.md decision 29). The request handlers let an
// AssertionError through instead of answering INTERNAL, so it reaches the process as an
// uncaught exception or an unhandled rejection; this turns it into one log line and an exit,
// for the supervisor to restart the bank on its durable state. Every other uncaught error keeps
// Node's own behaviour: the monitor only watches, it does not handle.
import { AssertionError } from '../protocol/index.js';

export interface AssertionExitOptions {
  /** The prefix of the log line: `bank: assertion failed: …`. */
  component: string;
  exitCode: number;
  /** Test seams; stderr and process.exit by default. */
  write?: (line: string) => void;
  exit?: (code: number) => void;
}

/** Installs the process-wide handler once per process; returns a function that removes it. */
export function exitOnAssertionFailure(options: AssertionExitOptions): () => void {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const monitor = (error: unknown): void => {
    if (!(error instanceof AssertionError)) return;
    // One line, no stack: the message names the invariant; stderr to a pipe or file is synchronous.
    write(`${options.component}: ${error.message.replace(/\s+/g, ' ')}\n`);
    exit(options.exitCode);
  };
  process.on('uncaughtExceptionMonitor', monitor);
  return () => process.off('uncaughtExceptionMonitor', monitor);
}
