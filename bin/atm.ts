#!/usr/bin/env node
// The one `atm` command. Wiring only: each sub-command lives in bin/commands/.
import { AtmError } from '../protocol/index.js';
import { ExitCode, UsageError, exitCodeOf } from './cli.js';
import { auditCommand } from './commands/audit.js';
import { bankCommand } from './commands/bank.js';
import { benchCommand } from './commands/bench.js';
import { clientCommand } from './commands/client.js';
import { dbCommand } from './commands/db.js';
import { demoCommand } from './commands/demo.js';
import { firmwareCommand } from './commands/firmware.js';
import { firmwareSimCommand } from './commands/firmware-sim.js';
import { keysCommand } from './commands/keys.js';
import { installCommand } from './commands/install.js';
import { kioskCommand } from './commands/kiosk.js';
import { operatorCommand } from './commands/operator.js';

const USAGE = `usage: atm COMMAND [options]   (atm COMMAND --help for each)
  keys      init | add-kiosk | revoke-kiosk | add-operator | export-audit-key
  bank      run the bank host
  client    one scripted session: register | login | balance | statement | deposit | withdraw | change-password
  audit     verify | show | export the encrypted, hash-chained audit log
  db        migrate | status | import: the PostgreSQL ledger
  kiosk     the full-screen ATM kiosk
  operator  the full-screen operator dashboard (MQTT telemetry)
  firmware  flash StandardFirmata onto an Arduino (avrdude)
  firmware-sim  the keypad/display/dispenser microcontroller, simulated on a pty
  demo      bank host with a demo kiosk on a local data folder (npm start)
  install   kiosk | bank as a systemd service that restarts by itself (--dry-run to see)
  bench     load generator and benchmark report (npm run bench)`;

/** A command's exit code; the audit command is synchronous, the others are not. */
const commands: Record<string, (argv: string[]) => number | Promise<number>> = {
  keys: keysCommand,
  bank: bankCommand,
  client: clientCommand,
  audit: auditCommand,
  db: dbCommand,
  demo: demoCommand,
  firmware: firmwareCommand,
  'firmware-sim': firmwareSimCommand,
  install: installCommand,
  kiosk: kioskCommand,
  operator: operatorCommand,
  bench: benchCommand,
};

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return name === undefined ? ExitCode.USAGE : ExitCode.OK;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command ${name}\n${USAGE}`);
  return command(rest);
}

/**
 * `atm audit show … | head -2`: the reader went away. Like any Unix tool whose reader is gone,
 * end quietly: no stack trace, no error line, exit 0. Node ignores SIGPIPE, so the closed pipe
 * arrives as an EPIPE 'error' event on the stream, which would otherwise crash the process.
 * A long-running command (bank, demo, firmware-sim) listens for SIGTERM and is stopped through
 * that same path, so LevelDB and the ports are closed as on a normal stop; a one-shot command
 * runs to its end (its temp files are removed), its further writes going nowhere.
 */
let readerGone = false;
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  // Anything else (EIO from a vanished terminal…) is not ours to hide: it stays an uncaught
  // error, for the kiosk's crash handler to log.
  if (error.code !== 'EPIPE') throw error;
  if (readerGone) return;
  readerGone = true;
  process.exitCode = ExitCode.OK;
  if (process.listenerCount('SIGTERM') > 0) process.emit('SIGTERM', 'SIGTERM');
});
// A closed stderr only loses the error lines: the exit code still tells a script what happened.
process.stderr.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
});

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = readerGone ? ExitCode.OK : code;
  },
  (error: unknown) => {
    // One line, never a stack trace: operators script against this.
    if (error instanceof UsageError) process.stderr.write(`atm: ${error.message}\n`);
    else if (error instanceof AtmError) process.stderr.write(`atm: ${error.message} [${error.code}]\n`);
    else process.stderr.write(`atm: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = exitCodeOf(error);
  },
);
