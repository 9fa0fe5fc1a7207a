// A real Mosquitto broker for tests and benchmarks: `mosquitto -c CONF` on 127.0.0.1 and a free
// port, in a temp dir, with password authentication (no anonymous clients) and an ACL:
//   bank     readwrite atm/v1/#   (the bank's telemetry client)
//   operator read      atm/v1/#   (a dashboard: may subscribe, may not publish)
//   auditor  read      #          (a test's catch-all subscriber)
// start → waits until an authenticated MQTT connect succeeds; stop() is SIGTERM, then SIGKILL;
// restart() starts it again on the same port (broker outages); cleanup() also removes the dir.
// Every broker still running when the test process exits is SIGKILLed. spawnMosquittoSub runs
// the real `mosquitto_sub` client against it (or any broker).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { connectMqttAsync } from '../../protocol/index.js';
import { freePort } from './cli.js';
import { pause } from './wait.js';

export interface MqttUser {
  username: string;
  password: string;
}

export interface Mosquitto {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly bank: MqttUser;
  readonly operator: MqttUser;
  readonly auditor: MqttUser;
  /** The broker's log (stdout + stderr) across all its runs, last LOG_CHARS_MAX characters. */
  log(): string;
  running(): boolean;
  /** The running broker's process id, or null while it is stopped. */
  pid(): number | null;
  /** SIGTERM, then SIGKILL if it has not exited within timeoutMs. Safe when already stopped. */
  stop(timeoutMs?: number): Promise<void>;
  /** Starts the broker again on the same port, with the same users; waits until it accepts. */
  restart(): Promise<void>;
  /** stop() and remove the temp dir. */
  cleanup(): Promise<void>;
}

export const MOSQUITTO_START_MS_MAX = 10_000;
const LOG_CHARS_MAX = 64 * 1024;
// Debian puts the broker in /usr/sbin, which is not on a normal user's PATH.
const SEARCH_DIRS_EXTRA = ['/usr/sbin', '/usr/local/sbin', '/sbin'];
const INSTALL_HINT = 'install the Debian packages `mosquitto mosquitto-clients` (.ci/run installs them in CI)';

/** The absolute path of an executable on PATH (or in the sbin dirs), or null. */
export function findExecutable(name: string): string | null {
  const dirs = [
    ...(process.env.PATH ?? '').split(path.delimiter).filter((dir) => dir.length > 0),
    ...SEARCH_DIRS_EXTRA,
  ];
  for (const dir of dirs) {
    const candidate = path.join(dir, name);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** Why a real Mosquitto cannot run here (a sentence naming what to install), or null. */
export function mosquittoMissingReason(): string | null {
  const missing = ['mosquitto', 'mosquitto_passwd', 'mosquitto_sub', 'mosquitto_pub'].filter(
    (name) => findExecutable(name) === null,
  );
  return missing.length === 0 ? null : `${missing.join(', ')} not found: ${INSTALL_HINT}`;
}

/** The path of a mosquitto executable; throws with the install hint when it is missing. */
export function mosquittoExecutable(
  name: 'mosquitto' | 'mosquitto_passwd' | 'mosquitto_sub' | 'mosquitto_pub',
): string {
  const found = findExecutable(name);
  if (found === null) throw new Error(`${name} not found: ${INSTALL_HINT}`);
  return found;
}

const live = new Set<ChildProcess>();
const dirsToRemove = new Set<string>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
  for (const dir of dirsToRemove) fs.rmSync(dir, { recursive: true, force: true });
});

function writeConfig(
  dir: string,
  port: number,
  users: { bank: MqttUser; operator: MqttUser; auditor: MqttUser },
): string {
  const passwordFile = path.join(dir, 'passwd');
  const passwd = mosquittoExecutable('mosquitto_passwd');
  const entries = [users.bank, users.operator, users.auditor];
  entries.forEach((user, index) => {
    const args =
      index === 0
        ? ['-b', '-c', passwordFile, user.username, user.password]
        : ['-b', passwordFile, user.username, user.password];
    const result = spawnSync(passwd, args, { encoding: 'utf8' });
    if (result.status !== 0) throw new Error(`mosquitto_passwd failed (${result.status}): ${result.stderr}`);
  });
  const aclFile = path.join(dir, 'acl');
  fs.writeFileSync(
    aclFile,
    [
      `user ${users.bank.username}`,
      'topic readwrite atm/v1/#',
      `user ${users.operator.username}`,
      'topic read atm/v1/#',
      `user ${users.auditor.username}`,
      'topic read #',
      '',
    ].join('\n'),
    { mode: 0o600 },
  );
  const lines = [
    `listener ${port} 127.0.0.1`,
    'allow_anonymous false',
    `password_file ${passwordFile}`,
    `acl_file ${aclFile}`,
    // Retained messages live as long as one broker run: a restart is a clean slate, which is
    // what an outage test wants (nothing on disk to clean up either).
    'persistence false',
    'log_dest stderr',
    'log_type error',
    'log_type warning',
    'log_type notice',
    'log_type information',
    'connection_messages true',
  ];
  // Started as root (CI), mosquitto switches to the `mosquitto` user before it reads the
  // password file, and that user cannot read our 0700 temp dir: stay root. As any other user
  // the option would be ignored, so it is only written for root.
  if (process.getuid?.() === 0) lines.push('user root');
  const configFile = path.join(dir, 'mosquitto.conf');
  fs.writeFileSync(configFile, `${lines.join('\n')}\n`, { mode: 0o600 });
  return configFile;
}

/** Resolves once `user` can complete an MQTT CONNECT; rejects at the deadline or if the broker exits. */
async function waitUntilAccepting(
  url: string,
  user: MqttUser,
  exited: () => boolean,
  log: () => string,
): Promise<void> {
  const deadline = performance.now() + MOSQUITTO_START_MS_MAX;
  let lastError = '';
  while (performance.now() < deadline) {
    if (exited()) throw new Error(`mosquitto exited during start-up; log:\n${log()}`);
    try {
      const client = await connectMqttAsync(url, {
        protocolVersion: 4,
        ...user,
        reconnectPeriod: 0,
        connectTimeout: 2_000,
      });
      await client.endAsync(true);
      return;
    } catch (error) {
      lastError = error instanceof Error ? error.message : String(error);
      await pause(50);
    }
  }
  throw new Error(
    `mosquitto did not accept an MQTT connection within ${MOSQUITTO_START_MS_MAX} ms (${lastError}); log:\n${log()}`,
  );
}

export async function startMosquitto(options: { port?: number } = {}): Promise<Mosquitto> {
  const reason = mosquittoMissingReason();
  if (reason !== null) throw new Error(reason);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-mosquitto-'));
  dirsToRemove.add(dir);
  const port = options.port ?? (await freePort());
  const url = `mqtt://127.0.0.1:${port}`;
  const secret = (): string => `pw-${crypto.randomBytes(12).toString('hex')}`;
  const users = {
    bank: { username: 'atm-bank-publisher', password: secret() },
    operator: { username: 'ops-mosquitto', password: secret() },
    auditor: { username: 'audit-everything', password: secret() },
  };
  const configFile = writeConfig(dir, port, users);
  let logText = '';
  const append = (chunk: string): void => {
    logText = (logText + chunk).slice(-LOG_CHARS_MAX);
  };
  let child: ChildProcess | null = null;
  let exited: Promise<void> = Promise.resolve();

  const launch = async (): Promise<void> => {
    const current = spawn(mosquittoExecutable('mosquitto'), ['-c', configFile], {
      cwd: dir,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = current;
    live.add(current);
    let hasExited = false;
    exited = new Promise((resolve) =>
      current.once('exit', () => {
        hasExited = true;
        live.delete(current);
        resolve();
      }),
    );
    current.once('error', (error) => append(`spawn error: ${error.message}\n`));
    current.stdout.setEncoding('utf8').on('data', append);
    current.stderr.setEncoding('utf8').on('data', append);
    try {
      await waitUntilAccepting(
        url,
        users.auditor,
        () => hasExited,
        () => logText,
      );
    } catch (error) {
      current.kill('SIGKILL');
      throw error;
    }
  };

  const stop = async (timeoutMs = 5_000): Promise<void> => {
    const current = child;
    if (current?.exitCode !== null || current.signalCode !== null) return;
    child = null;
    current.kill('SIGTERM');
    const timer = setTimeout(() => current.kill('SIGKILL'), timeoutMs);
    await exited;
    clearTimeout(timer);
  };

  try {
    await launch();
  } catch (error) {
    fs.rmSync(dir, { recursive: true, force: true });
    dirsToRemove.delete(dir);
    throw error;
  }
  return {
    port,
    url,
    dir,
    ...users,
    log: () => logText,
    running: () => child !== null && child.exitCode === null && child.signalCode === null,
    pid: () => child?.pid ?? null,
    stop,
    async restart() {
      await stop();
      await launch();
    },
    async cleanup() {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
      dirsToRemove.delete(dir);
    },
  };
}

export interface SubMessage {
  topic: string;
  text: string;
}

export interface MosquittoSub {
  /** The `topic payload` lines received so far (`-v`), in order. */
  messages(): SubMessage[];
  /** Resolves with the first message (seen or to come) matching; rejects after timeoutMs. */
  waitFor(match: (message: SubMessage) => boolean, timeoutMs?: number): Promise<SubMessage>;
  stderr(): string;
  readonly exited: Promise<number | null>;
  /** SIGTERM (SIGKILL after 2 s); safe when it has already exited. */
  stop(): Promise<void>;
}

export interface MosquittoSubOptions {
  /**
   * Write the messages to this file instead of a pipe, so receiving costs this process nothing
   * (benchmarks); then the subscription is not awaited (no SUBACK to read): wait for a
   * retained message instead.
   */
  outputFile?: string;
  extraArgs?: string[];
}

function parseSubLines(text: string): SubMessage[] {
  const messages: SubMessage[] = [];
  for (const line of text.split('\n')) {
    // -d adds "Client … sending/received …" and "Subscribed (mid: …)" lines; messages start with a topic.
    if (line.length === 0 || line.startsWith('Client ') || line.startsWith('Subscribed ')) continue;
    const space = line.indexOf(' ');
    messages.push(space < 0 ? { topic: line, text: '' } : { topic: line.slice(0, space), text: line.slice(space + 1) });
  }
  return messages;
}

/**
 * `mosquitto_sub -h 127.0.0.1 -p PORT -V mqttv311 -u USER -P PASSWORD -t TOPIC… -v`. Without
 * outputFile it also passes -d and resolves once the SUBACK has arrived (rejects if the broker
 * refused the connection or the subscription).
 */
export async function spawnMosquittoSub(
  port: number,
  user: MqttUser,
  topics: string[],
  options: MosquittoSubOptions = {},
): Promise<MosquittoSub> {
  const args = [
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-V',
    'mqttv311',
    '-u',
    user.username,
    '-P',
    user.password,
    '-v',
    ...topics.flatMap((topic) => ['-t', topic]),
  ];
  const fd = options.outputFile === undefined ? null : fs.openSync(options.outputFile, 'w');
  if (fd === null) args.push('-d');
  // On a pipe mosquitto_sub's stdout is block-buffered: it flushes after each message but not
  // after the -d lines, so the SUBACK would only show up with the first message. stdbuf
  // (coreutils, Essential in Debian) makes it line-buffered.
  const command = [mosquittoExecutable('mosquitto_sub'), ...args, ...(options.extraArgs ?? [])];
  const stdbuf = fd === null ? findExecutable('stdbuf') : null;
  if (fd === null && stdbuf === null)
    throw new Error('stdbuf (coreutils) not found: needed to read mosquitto_sub -d output as it comes');
  const [file, ...fileArgs] = stdbuf === null ? command : [stdbuf, '-oL', ...command];
  const child = spawn(file as string, fileArgs, { stdio: ['ignore', fd ?? 'pipe', 'pipe'] });
  if (fd !== null) fs.closeSync(fd);
  live.add(child);
  let stdout = '';
  let stderr = '';
  const exited = new Promise<number | null>((resolve) =>
    child.once('close', (code) => {
      live.delete(child);
      resolve(code);
    }),
  );
  child.once('error', (error) => (stderr += `spawn error: ${error.message}\n`));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const outputFile = options.outputFile;
  const messages = (): SubMessage[] =>
    parseSubLines(outputFile === undefined ? stdout : fs.readFileSync(outputFile, 'utf8'));
  let running = true;
  void exited.then(() => (running = false));
  const waitFor = async (match: (message: SubMessage) => boolean, timeoutMs = 5_000): Promise<SubMessage> => {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const found = messages().find(match);
      if (found !== undefined) return found;
      if (!running) throw new Error(`mosquitto_sub exited before a matching message; stderr: ${stderr}`);
      if (performance.now() > deadline)
        throw new Error(`mosquitto_sub ${topics.join(' ')}: no matching message within ${timeoutMs} ms`);
      await pause(20);
    }
  };
  const stop = async (): Promise<void> => {
    if (!running) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 2_000);
    await exited;
    clearTimeout(timer);
  };
  if (fd === null) {
    const deadline = performance.now() + MOSQUITTO_START_MS_MAX;
    for (;;) {
      const granted = /^Subscribed \(mid: \d+\): (.*)$/m.exec(stdout);
      if (granted !== null) {
        if (granted[1]?.split(', ').some((code) => Number(code) >= 128)) {
          await stop();
          throw new Error(`mosquitto_sub: subscription refused (${granted[1]})`);
        }
        break;
      }
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- set by a callback while awaiting; TypeScript keeps the narrowing (microsoft/TypeScript#9998)
      if (!running || performance.now() > deadline) {
        await stop();
        throw new Error(`mosquitto_sub did not subscribe (exit ${String(child.exitCode)}): ${stderr.trim()}`);
      }
      await pause(20);
    }
  }
  return { messages, waitFor, stderr: () => stderr, exited, stop };
}
