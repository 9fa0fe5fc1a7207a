// atm operator — the full-screen operator dashboard over the bank's MQTT telemetry.
import crypto from 'node:crypto';
import fs from 'node:fs';
import tty from 'node:tty';
import { runOperatorApp } from '../../operator/index.js';
import { ExitCode, UsageError, parse } from '../cli.js';

const USAGE = `usage: atm operator [--mqtt URL] [--user NAME] [--password-stdin] [--mqtt-protocol 4|5] [--mqtt-ca FILE]
The full-screen operator dashboard: bank and kiosk status, alerts, transactions per second,
the live event log and session totals, from the bank's telemetry (atm/v1/#).
  --mqtt URL           the broker (default mqtt://127.0.0.1:1883, the bank's embedded one;
                       env ATM_MQTT_URL); mqtt://, mqtts://, ws://, wss://
  --user NAME          operator name from \`atm keys add-operator\` (env ATM_OPERATOR)
  password             from ATM_PASSWORD (or ATM_MQTT_PASSWORD), or --password-stdin: the
                       first line of piped stdin, or typed unechoed at a prompt
  --mqtt-protocol N    4 = MQTT 3.1.1 (default; what the embedded broker speaks) or 5
  --mqtt-ca FILE       CA certificate (PEM) that signs an mqtts:// broker's certificate
Keys: a ack the selected alert, A ack all, ↑/↓ select, PgUp/PgDn scroll the log,
p pause the log, q quit. An unreachable broker is retried with backoff while the screen
says so; refused credentials end the dashboard with exit code 1.`;

const DEFAULT_URL = 'mqtt://127.0.0.1:1883';
const LOGIN_HINT =
  "give the operator's name with --user NAME (or ATM_OPERATOR) and its password in ATM_PASSWORD or typed after --password-stdin (operators are created with `atm keys add-operator NAME`)";
const URL_PROTOCOLS = ['mqtt:', 'mqtts:', 'tcp:', 'ssl:', 'ws:', 'wss:'];
/** A password longer than this is not a password; stop reading rather than buffer a file. */
const PASSWORD_BYTES_MAX = 1_024;

/** The URL as it may be shown: never with a user or password in it. */
export function displayUrl(url: URL): string {
  const shown = new URL(url.href);
  shown.username = '';
  shown.password = '';
  return shown.href.replace(/\/$/, '');
}

async function readPipedLine(): Promise<string> {
  let text = '';
  for await (const chunk of process.stdin) {
    text += (chunk as Buffer).toString('utf8');
    if (text.includes('\n')) break;
    if (text.length > PASSWORD_BYTES_MAX)
      throw new UsageError('--password-stdin: the first line of stdin is too long for a password');
  }
  return text.split(/\r?\n/)[0] ?? '';
}

/** Reads a password typed at the terminal without echoing it. */
function promptHidden(prompt: string): Promise<string> {
  const stdin = process.stdin;
  process.stderr.write(prompt);
  stdin.setRawMode(true);
  stdin.resume();
  return new Promise((resolve, reject) => {
    let text = '';
    const done = (): void => {
      stdin.off('data', onData);
      stdin.setRawMode(false);
      stdin.pause();
      process.stderr.write('\n');
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') {
          done();
          resolve(text);
          return;
        }
        if (ch === '\u0003') {
          done();
          reject(new UsageError('cancelled'));
          return;
        }
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (text.length < PASSWORD_BYTES_MAX) text += ch;
      }
    };
    stdin.on('data', onData);
  });
}

/** The password, and where the dashboard's keys come from when stdin carried the password. */
async function readPassword(
  fromStdin: boolean,
  user: string,
): Promise<{ password: string | undefined; keys?: tty.ReadStream }> {
  if (!fromStdin) return { password: process.env.ATM_PASSWORD ?? process.env.ATM_MQTT_PASSWORD };
  if (process.stdin.isTTY) return { password: await promptHidden(`password for operator ${user}: `) };
  const password = await readPipedLine();
  try {
    return { password, keys: new tty.ReadStream(fs.openSync('/dev/tty', 'r')) };
  } catch {
    throw new UsageError('--password-stdin with piped stdin needs the terminal (/dev/tty) for the keyboard');
  }
}

export async function operatorCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      mqtt: { type: 'string' },
      user: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'mqtt-protocol': { type: 'string' },
      'mqtt-ca': { type: 'string' },
    },
    USAGE,
  );
  const text = (name: string, ...envs: string[]): string | undefined => {
    const value = values[name];
    if (typeof value === 'string' && value.length > 0) return value;
    return envs.map((env) => process.env[env]).find((env) => env !== undefined && env.length > 0);
  };
  let url: URL;
  try {
    url = new URL(text('mqtt', 'ATM_MQTT_URL') ?? DEFAULT_URL);
  } catch {
    throw new UsageError(`--mqtt must be a URL such as ${DEFAULT_URL}\n${USAGE}`);
  }
  if (!URL_PROTOCOLS.includes(url.protocol))
    throw new UsageError(`--mqtt must be one of ${URL_PROTOCOLS.map((p) => `${p}//`).join(' ')}`);
  const protocol = text('mqtt-protocol') ?? '4';
  if (protocol !== '4' && protocol !== '5') throw new UsageError('--mqtt-protocol must be 4 (MQTT 3.1.1) or 5');
  const caFile = text('mqtt-ca');
  let ca: Buffer | undefined;
  if (caFile !== undefined) {
    try {
      ca = fs.readFileSync(caFile);
    } catch {
      throw new UsageError(`cannot read --mqtt-ca ${caFile}`);
    }
  }
  const user = text('user', 'ATM_OPERATOR');
  // Without a name the broker can only answer "bad username or password", which sends the
  // user looking for a typo; say what is missing and how to give it instead.
  if (user === undefined) {
    const passwordSet =
      values['password-stdin'] === true || (process.env.ATM_PASSWORD ?? process.env.ATM_MQTT_PASSWORD ?? '') !== '';
    throw new UsageError(`${passwordSet ? 'no operator name' : 'no operator name and no password'}: ${LOGIN_HINT}`);
  }
  if (!process.stdout.isTTY) throw new UsageError('atm operator needs a terminal (a TTY on stdout)');
  const { password, keys } = await readPassword(values['password-stdin'] === true, user);
  if (password === undefined || password.length === 0)
    throw new UsageError(`no password for operator ${user}: ${LOGIN_HINT}`);
  const code = await runOperatorApp({
    brokerUrl: displayUrl(url),
    feed: {
      url: url.href,
      username: user,
      password,
      protocolVersion: protocol === '5' ? 5 : 4,
      ca,
      clientId: `atm-op-${crypto.randomBytes(6).toString('hex')}`,
    },
    view: keys === undefined ? {} : { input: keys },
  });
  keys?.destroy();
  return code === 0 ? ExitCode.OK : ExitCode.FAILED;
}
