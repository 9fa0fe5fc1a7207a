// Runs the real, compiled `atm` CLI as child processes: one-shot commands (`runAtm`) and a
// long-running `atm bank` (`startBankProcess`). Children get a clean environment (no ATM_*
// from the developer's shell) plus what the test passes, e.g. ATM_PASSWORD. Every child is
// tracked and SIGKILLed if the test process exits with it still running.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { atmBin } from './paths.js';

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  /** Added to the clean environment; an undefined value removes the variable. */
  env?: Record<string, string | undefined>;
  /** Written to stdin, which is then closed (stdin is always closed so nothing waits on it). */
  input?: string;
  cwd?: string;
  /** The child is SIGKILLed after this long; a hang shows as a failure, not a stuck run. */
  timeoutMs?: number;
}

export const RUN_TIMEOUT_MS = 20_000;

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** process.env without any ATM_* variable, plus the given ones. */
export function cleanEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const inherited = Object.entries(process.env).filter(([name]) => !name.startsWith('ATM_'));
  const given = { ...Object.fromEntries(inherited), ...extra };
  const env: NodeJS.ProcessEnv = {};
  for (const [name, value] of Object.entries(given)) if (value !== undefined) env[name] = value; // undefined unsets
  return env;
}

function spawnAtm(args: string[], options: RunOptions): ChildProcess {
  const child = spawn(process.execPath, [atmBin, ...args], {
    cwd: options.cwd,
    env: cleanEnv(options.env),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** `node atmBin ...args`; resolves when the process has exited and its output is drained. */
export function runAtm(args: string[], options: RunOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawnAtm(args, options);
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.stdin?.on('error', () => undefined); // the child may exit before reading stdin
    child.stdin?.end(options.input ?? '');
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? RUN_TIMEOUT_MS);
    child.once('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** Runs commands at most `parallel` at a time (the machine has 2 cores); results in order. */
export async function runAtmAll(
  commands: { args: string[]; options?: RunOptions }[],
  parallel = 3,
): Promise<CliResult[]> {
  const results: CliResult[] = new Array<CliResult>(commands.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < commands.length) {
      const index = next++;
      const command = commands[index] as { args: string[]; options?: RunOptions };
      results[index] = await runAtm(command.args, command.options);
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, commands.length) }, () => worker()));
  return results;
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface BankProcess {
  readonly port: number;
  /** The embedded telemetry broker's port (from its startup line), or null without one. */
  readonly mqttPort: number | null;
  readonly hostId: string;
  readonly dataDir: string;
  readonly pid: number;
  /** Everything the bank wrote to stdout / stderr so far. */
  stdout(): string;
  stderr(): string;
  /** Calls listener for each complete stdout line from now on. */
  onLine(listener: (line: string) => void): void;
  readonly exited: Promise<ExitInfo>;
  /** SIGTERM, then waits for the exit (SIGKILL if it has not exited within timeoutMs). */
  stop(timeoutMs?: number): Promise<ExitInfo>;
  /** SIGKILL (a crash); waits for the exit. Safe to call after the process is gone. */
  kill(): Promise<ExitInfo>;
}

/** Each line of the bank's log starts with its ISO-8601 UTC time (as kiosk.log's do). */
export const LOG_TIME_PATTERN = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /;
export const BANK_LISTENING_PATTERN =
  /^\S+Z bank (\S+) listening on 127\.0\.0\.1:(\d+) data=(.*) ledger=(embedded|postgres)$/m;
export const TELEMETRY_LISTENING_PATTERN = /^\S+Z telemetry broker listening on 127\.0\.0\.1:(\d+)$/m;
const MQTT_FLAGS = ['--no-mqtt', '--mqtt', '--mqtt-port'];

/**
 * `atm bank --data DIR --port 0 --host 127.0.0.1 ...args` (args default to --bcrypt-cost 4).
 * The OS picks the port; it is read from the bank's `listening on` line. Unless args choose
 * telemetry themselves (--no-mqtt, --mqtt URL, --mqtt-port N), the embedded broker also gets
 * a free port (`--mqtt-port 0`), so no test depends on 1883 being free; its port is read from
 * the `telemetry broker listening on` line.
 */
export function startBankProcess(
  dataDir: string,
  args: string[] = ['--bcrypt-cost', '4'],
  options: RunOptions = {},
): Promise<BankProcess> {
  const choosesMqtt = args.some((arg) => MQTT_FLAGS.includes(arg.split('=')[0] as string));
  const mqttArgs = choosesMqtt ? [] : ['--mqtt-port', '0'];
  const embedded = !args.some((arg) => arg === '--no-mqtt' || arg.split('=')[0] === '--mqtt');
  const child = spawnAtm(
    ['bank', '--data', dataDir, '--port', '0', '--host', '127.0.0.1', ...mqttArgs, ...args],
    options,
  );
  child.stdin?.end();
  let stdout = '';
  let stderr = '';
  let partial = '';
  const listeners: ((line: string) => void)[] = [];
  const exited = new Promise<ExitInfo>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let exitInfo: ExitInfo | null = null;
  void exited.then((info) => (exitInfo = info));

  const stop = async (timeoutMs = 10_000): Promise<ExitInfo> => {
    if (exitInfo !== null) return exitInfo;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const info = await exited;
    clearTimeout(timer);
    return info;
  };
  const kill = async (): Promise<ExitInfo> => {
    if (exitInfo !== null) return exitInfo;
    child.kill('SIGKILL');
    return exited;
  };

  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`atm bank did not start within 15 s; stderr: ${stderr}`));
    }, 15_000);
    let started = false;
    child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      partial += chunk;
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) for (const listener of listeners) listener(line);
      const match = started ? null : BANK_LISTENING_PATTERN.exec(stdout);
      if (match === null) return;
      // The broker's line follows the bank's at once; wait for it so mqttPort is known.
      const telemetry = TELEMETRY_LISTENING_PATTERN.exec(stdout);
      if (embedded && telemetry === null) return;
      started = true;
      clearTimeout(timer);
      resolve({
        port: Number(match[2]),
        mqttPort: telemetry === null ? null : Number(telemetry[1]),
        hostId: match[1] as string,
        dataDir,
        pid: child.pid ?? -1,
        stdout: () => stdout,
        stderr: () => stderr,
        onLine: (listener) => listeners.push(listener),
        exited,
        stop,
        kill,
      });
    });
    void exited.then((info) => {
      if (started) return;
      clearTimeout(timer);
      reject(
        new Error(`atm bank exited before listening (code ${info.code}, signal ${info.signal}); stderr: ${stderr}`),
      );
    });
  });
}

/** A port nothing listens on right now (bound by us, then released). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** A temp dir removed by the returned cleanup. */
export function tempDir(prefix = 'atm-cli-'): { dir: string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  return { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The records of `atm audit show --json` (one JSON object: { ok, records, unreadable }). */
export function auditShowRecords<T = Record<string, unknown>>(text: string): T[] {
  const parsed = JSON.parse(text) as { records: T[] };
  return parsed.records;
}
