// Shared CLI plumbing: option parsing with ATM_* env vars and a JSON config file under the
// flags (flags win), exit codes, and one-line errors. Commands only wire components.
import fs from 'node:fs';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { KeystoreError, loadKioskKeyFile } from '../bank/index.js';
import { DeviceError } from '../hardware/index.js';
import { FlashError } from '../hardware/index.js';
import { AtmError } from '../protocol/index.js';

export const ExitCode = {
  OK: 0,
  FAILED: 1, // declined, verify failed, refused by a rule
  USAGE: 2,
  UNREACHABLE: 3, // bank unreachable or session refused
  INTERNAL: 4,
} as const;

export class UsageError extends AtmError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

/**
 * Operating errors that mean the command line names something that is not there or not what
 * it says (a --data folder without a keystore, a --device that names no driver, a --board or
 * --hex that is not there): the fix is
 * the command, as for any usage error, so they exit 2, keeping their own stable codes.
 */
const USAGE_ERROR_CODES: ReadonlySet<string> = new Set([
  KeystoreError.MISSING,
  KeystoreError.KEY_FILE_INVALID,
  DeviceError.BAD_SPEC,
  DeviceError.UNKNOWN_DRIVER,
  FlashError.BAD_BOARD,
  FlashError.HEX_MISSING,
]);

/** The exit code for an error that ended a command (README / OPERATIONS.md: Exit codes). */
export function exitCodeOf(error: unknown): number {
  if (!(error instanceof AtmError)) return ExitCode.INTERNAL;
  return error instanceof UsageError || USAGE_ERROR_CODES.has(error.code) ? ExitCode.USAGE : ExitCode.FAILED;
}

/** A path as it can be pasted into a shell command line. */
export function shellWord(text: string): string {
  return /^[\w./:@%+=,-]+$/.test(text) ? text : `'${text.replace(/'/g, `'\\''`)}'`;
}

export type Options = ParseArgsConfig['options'] & object;

export interface Parsed {
  values: Record<string, string | boolean | undefined>;
  positionals: string[];
}

/** Env var for a flag: --data → ATM_DATA, --mqtt-port → ATM_MQTT_PORT. */
export function envName(flag: string): string {
  return `ATM_${flag.toUpperCase().replace(/-/g, '_')}`;
}

/**
 * parseArgs refuses `--amount -5` as ambiguous (exit 2). A value that looks like a negative
 * number is the option's value, so join it as `--amount=-5` and let the command refuse it
 * with its own reason (INVALID_AMOUNT), as it refuses any other bad amount.
 */
function joinNegativeValues(argv: string[], options: Options): string[] {
  const joined: string[] = [];
  for (let index = 0; index < argv.length; index++) {
    const arg = argv[index] as string;
    const next = argv[index + 1];
    const name = arg.startsWith('--') && !arg.includes('=') ? arg.slice(2) : null;
    if (name !== null && options[name]?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      joined.push(`${arg}=${next}`);
      index += 1;
    } else {
      joined.push(arg);
    }
  }
  return joined;
}

/** A config file's value as an option's text: a JSON scalar as written, anything else as JSON. */
function configText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' || value === null
    ? String(value)
    : JSON.stringify(value);
}

export function parse(argv: string[], options: Options, usage: string): Parsed {
  let parsed: { values: Record<string, unknown>; positionals: string[] };
  try {
    parsed = parseArgs({
      args: joinNegativeValues(argv, options),
      options: { ...options, help: { type: 'boolean' }, config: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (error) {
    throw new UsageError(`${error instanceof Error ? error.message : String(error)}\n${usage}`);
  }
  if (parsed.values.help === true) {
    process.stdout.write(`${usage}\n`);
    process.exit(ExitCode.OK);
  }
  const configFile = (parsed.values.config as string | undefined) ?? process.env.ATM_CONFIG;
  let config: Record<string, unknown> = {};
  if (configFile !== undefined) {
    try {
      config = JSON.parse(fs.readFileSync(configFile, 'utf8')) as Record<string, unknown>;
    } catch {
      throw new UsageError(`cannot read config file ${configFile}`);
    }
  }
  const values: Record<string, string | boolean | undefined> = {};
  for (const [name, spec] of Object.entries(options)) {
    const flag = parsed.values[name];
    if (flag !== undefined) {
      values[name] = flag as string | boolean;
      continue;
    }
    const env = process.env[envName(name)];
    if (env !== undefined && name !== 'password') {
      values[name] = spec.type === 'boolean' ? env === '1' || env === 'true' : env;
      continue;
    }
    const fromConfig = config[name];
    if (fromConfig !== undefined) values[name] = spec.type === 'boolean' ? fromConfig === true : configText(fromConfig);
  }
  return { values, positionals: parsed.positionals };
}

export function required(values: Parsed['values'], name: string, usage: string): string {
  const value = values[name];
  if (typeof value !== 'string' || value.length === 0)
    throw new UsageError(`--${name} is required (or ${envName(name)})\n${usage}`);
  return value;
}

/** --bank HOST:PORT (an IPv6 host in brackets); a port outside 1–65535 is a usage error, as a missing one is. */
export function parseBank(text: string): { host: string; port: number } {
  const match = /^(.+):(\d{1,5})$/.exec(text);
  const port = Number(match?.[2]);
  if (match === null || !(port > 0 && port < 65536))
    throw new UsageError(`--bank must be HOST:PORT, got ${JSON.stringify(text)}`);
  return { host: (match[1] as string).replace(/^\[(.*)\]$/, '$1'), port };
}

/** Bank hosts at most in one --bank list. */
export const BANKS_MAX = 16;

/** --bank A:P,B:P,… : the bank hosts of a network, tried in this order. */
export function parseBanks(text: string): { host: string; port: number }[] {
  const parts = text.split(',').map((part) => part.trim());
  if (parts.length > BANKS_MAX) throw new UsageError(`--bank names at most ${BANKS_MAX} hosts`);
  return parts.map(parseBank);
}

export function integerOption(
  values: Parsed['values'],
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const value = values[name];
  if (value === undefined) return fallback;
  const number = Number(value);
  if (!Number.isInteger(number) || number < min || number > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}`);
  return number;
}

/**
 * One line of the bank's log (stdout of `atm bank`, the demo's bank.log) as kiosk.log writes
 * its lines: the ISO-8601 UTC time first, so a log kept in a file still says when, and bank
 * and kiosk lines can be put side by side.
 */
export function logLine(text: string, nowMs = Date.now()): string {
  return `${new Date(nowMs).toISOString()} ${text}\n`;
}

/**
 * Resolves with the first SIGTERM or SIGINT. Long-running commands call it before they print
 * that they are running: a supervisor or test that signals as soon as it reads that line would
 * otherwise meet Node's default action and kill the process instead of stopping it.
 */
export function stopSignal(): Promise<'SIGTERM' | 'SIGINT'> {
  return new Promise((resolve) => {
    const stop = (signal: 'SIGTERM' | 'SIGINT'): void => {
      process.removeListener('SIGTERM', stop);
      process.removeListener('SIGINT', stop);
      resolve(signal);
    };
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });
}

export function printJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

export function fail(message: string, exitCode: number): never {
  process.stderr.write(`atm: ${message}\n`);
  process.exit(exitCode);
}

/**
 * The kiosk key file named by --key. One that is not there or cannot be read is a usage error
 * (exit 2) that names the file and the command that makes it; one readable by others is still
 * refused (KEY_FILE_MODE, exit 1).
 */
/** The options of a command that talks to the bank as a kiosk: where the bank is, and who the kiosk is. */
export const KIOSK_IDENTITY_OPTIONS = {
  bank: { type: 'string' },
  kiosk: { type: 'string' },
  key: { type: 'string' },
} as const satisfies Options;

/** --key (required) and --kiosk (optional, but it must match the key file's kiosk when given). */
export function kioskIdentity(values: Parsed['values'], usage: string): { kioskId: string; psk: Buffer } {
  const named = typeof values.kiosk === 'string' ? values.kiosk : undefined;
  const keyFile = readKioskKey(required(values, 'key', usage), named);
  if (named !== undefined && named !== keyFile.kioskId)
    throw new UsageError(`--kiosk ${named} does not match the key file's kiosk ${keyFile.kioskId}`);
  return keyFile;
}

export function readKioskKey(file: string, kioskId: string | undefined): { kioskId: string; psk: Buffer } {
  try {
    fs.accessSync(file, fs.constants.R_OK);
  } catch (error) {
    const why = (error as NodeJS.ErrnoException).code ?? 'unreadable';
    throw new UsageError(
      `cannot read kiosk key file ${file} (${why}): the bank's operator makes it with 'atm keys add-kiosk ${kioskId ?? 'ID'} --data DIR --out ${shellWord(file)}' (copy it here, mode 0600)`,
    );
  }
  return loadKioskKeyFile(file);
}
