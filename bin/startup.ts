// What `atm bank` and `atm demo` say when the bank cannot start, and what they clean up. The
// two usual causes are something already there: a port another program listens on, or a data
// folder another bank has open (LevelDB's LOCK). Both are operating errors with their own code
// (exit 1, "refused"); a held folder names the process that holds it when Linux's /proc/locks
// tells us. A start that fails must not leave a half-made data folder behind.
import fs from 'node:fs';
import path from 'node:path';
import { LEDGER_DIR } from '../bank/index.js';
import { AtmError, type CodeOf } from '../protocol/index.js';
import { UsageError } from './cli.js';

export const StartError = {
  PORT_IN_USE: 'PORT_IN_USE',
  MQTT_PORT_IN_USE: 'MQTT_PORT_IN_USE',
  DATA_DIR_IN_USE: 'DATA_DIR_IN_USE',
} as const satisfies Record<string, CodeOf<'command'>>;

/** A command line is cut to this many characters in a message: enough to recognise it. */
const COMMAND_CHARS_MAX = 120;

type ListenError = NodeJS.ErrnoException & { port?: number; address?: string };

/** LevelDB refuses a folder whose LOCK another process holds (classic-level: LEVEL_LOCKED, as the cause). */
export function isDataDirLocked(error: unknown): boolean {
  for (let cause: unknown = error, depth = 0; cause instanceof Error && depth < 5; cause = cause.cause, depth++) {
    if ((cause as NodeJS.ErrnoException).code === 'LEVEL_LOCKED') return true;
  }
  return false;
}

function isPortInUse(error: unknown): error is ListenError {
  return error instanceof Error && (error as ListenError).code === 'EADDRINUSE';
}

/** `pid 1234: node dist/bin/atm.js bank --data /var/lib/atm`, or just the pid if /proc says no more. */
function describeProcess(pid: number): string {
  try {
    const command = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean).join(' ');
    if (command.length === 0) return `pid ${pid}`;
    return `pid ${pid}: ${command.length > COMMAND_CHARS_MAX ? `${command.slice(0, COMMAND_CHARS_MAX)}…` : command}`;
  } catch {
    return `pid ${pid}`;
  }
}

/**
 * The process holding a POSIX lock on `file`, from /proc/locks (Linux): each line names the
 * holder's pid and the locked file's device and inode ("1: POSIX ADVISORY WRITE 5031 fe:00:2146369 0 EOF").
 */
export function lockHolder(file: string): number | null {
  let inode: number;
  let text: string;
  try {
    inode = fs.statSync(file).ino;
    text = fs.readFileSync('/proc/locks', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const match = /^\d+:\s+(?:->\s+)?\S+\s+\S+\s+\S+\s+(\d+)\s+[0-9a-f]+:[0-9a-f]+:(\d+)\s/.exec(line);
    if (match !== null && Number(match[2]) === inode && Number(match[1]) !== process.pid) return Number(match[1]);
  }
  return null;
}

function heldBy(pid: number | null, what: string): string {
  return pid === null ? what : `${what} (${describeProcess(pid)})`;
}

export interface StartPorts {
  dataDir: string;
  host: string;
  port: number;
  /** The embedded broker's ports, or null without one. */
  mqttPort: number | null;
  mqttWsPort?: number | null;
}

function dataDirInUse(dataDir: string, holder: number | null): AtmError {
  return new AtmError(
    StartError.DATA_DIR_IN_USE,
    `data folder ${dataDir} is in use by ${heldBy(holder, 'another bank process')}: stop that bank first, or give this one its own --data folder`,
  );
}

/**
 * Refuses a data folder whose ledger another process has open, before anything is written to
 * it (`atm demo` provisions its kiosk and operator before the bank opens the ledger). Where
 * /proc/locks cannot tell, LevelDB's own lock still refuses at open.
 */
export function refuseHeldDataDir(dataDir: string): void {
  const holder = lockHolder(path.join(dataDir, LEDGER_DIR, 'LOCK'));
  if (holder !== null) throw dataDirInUse(dataDir, holder);
}

/**
 * The one-line operating error for a failed bank start, or the error itself when it is not one
 * of ours (it then stays an internal error, exit 4).
 */
export function explainStartFailure(error: unknown, ports: StartPorts): unknown {
  if (isDataDirLocked(error)) {
    return dataDirInUse(ports.dataDir, lockHolder(path.join(ports.dataDir, LEDGER_DIR, 'LOCK')));
  }
  const code = error instanceof Error ? (error as ListenError).code : undefined;
  // The address to listen on is not one of this machine's, or no name resolves: the --host is wrong.
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new UsageError(
      `--host ${ports.host} is not an address of this machine (${code}): use 127.0.0.1, 0.0.0.0 (every interface) or one of its own addresses`,
    );
  }
  if (!isPortInUse(error)) return error;
  const port = error.port ?? null;
  if (ports.mqttPort !== null && (port === null || port === ports.mqttPort || port === ports.mqttWsPort)) {
    // A bank that quietly publishes nothing is worse than one that refuses to start.
    const taken = port ?? ports.mqttPort;
    return new AtmError(
      StartError.MQTT_PORT_IN_USE,
      `telemetry broker port 127.0.0.1:${taken} is in use: publish to the broker already there with --mqtt mqtt://127.0.0.1:${taken}, pick another port with --mqtt-port N (--mqtt-ws-port N), or run without telemetry with --no-mqtt`,
    );
  }
  // Which program listens is not looked up: its command line is not ours to print.
  return new AtmError(
    StartError.PORT_IN_USE,
    `bank port ${ports.host}:${port ?? ports.port} is in use (another bank, or another program listens there): stop it, or choose another port with --port N`,
  );
}

/** What a data folder held before a start, so a failed start can take back what it made. */
export interface DataDirSnapshot {
  readonly dataDir: string;
  readonly existed: boolean;
  /** No ledger yet: no bank has run here, so nothing in it can be anyone's data. */
  readonly fresh: boolean;
  readonly entries: ReadonlySet<string>;
}

export function snapshotDataDir(dataDir: string): DataDirSnapshot {
  const existed = fs.existsSync(dataDir);
  return {
    dataDir,
    existed,
    fresh: !fs.existsSync(path.join(dataDir, LEDGER_DIR)),
    entries: new Set(existed ? fs.readdirSync(dataDir) : []),
  };
}

/**
 * After a failed start: removes the data folder if this run made it, or what this run added to
 * a folder no bank had run in. A folder another bank holds, or one with a ledger, is never
 * touched: what is in it may be that bank's data.
 */
export function undoFailedStart(snapshot: DataDirSnapshot, error: unknown): void {
  if (isDataDirLocked(error) || !snapshot.fresh) return;
  if (!snapshot.existed) {
    fs.rmSync(snapshot.dataDir, { recursive: true, force: true });
    return;
  }
  for (const name of fs.readdirSync(snapshot.dataDir)) {
    if (!snapshot.entries.has(name)) fs.rmSync(path.join(snapshot.dataDir, name), { recursive: true, force: true });
  }
}
