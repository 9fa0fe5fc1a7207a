// atm demo — what `npm start` runs: a bank host on a local data folder with its embedded
// MQTT broker, a provisioned demo kiosk and demo operator, and the full-screen kiosk with the
// simulated keypad, all in this terminal. The bank's log goes to DATA/bank.log. Without a
// terminal (piped output) it runs the bank alone and says how to reach it: `npm start` in a
// terminal, the `atm kiosk` line for another terminal, and `atm client` lines.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcrypt';
import {
  LogLineObserver,
  addKiosk,
  addOperator,
  initKeystore,
  loadKeystore,
  startBankHost,
  type BankHost,
  type BankHostOptions,
} from '../../bank/index.js';
import { runKioskApp } from '../../kiosk/index.js';
import { bankTelemetry, type TelemetryRuntime } from '../../telemetry/index.js';
import { ExitCode, UsageError, integerOption, logLine, parse, stopSignal } from '../cli.js';
import { explainStartFailure, refuseHeldDataDir, snapshotDataDir, undoFailedStart } from '../startup.js';

const USAGE = `usage: atm demo [--data .atm-data] [--port 7400] [--mqtt-port 1883] [--theme default|high-contrast]
Starts a bank host with its embedded MQTT broker, a demo kiosk and a demo operator, and opens
the kiosk UI (simulated keypad) in this terminal. The bank's log is written to DATA/bank.log.
If the MQTT port is taken the broker listens on a free port instead. The operator dashboard:
\`npm run operator\` in another terminal (it reads the demo operator's password from DATA).`;

export const DEMO_KIOSK_ID = 'demo-kiosk';
export const DEMO_OPERATOR = 'demo-operator';
/** The demo operator's generated password, 0600 beside the demo kiosk's key (never in git). */
export const DEMO_OPERATOR_PASSWORD_FILE = 'demo-operator.password';
export const DEMO_MQTT_URL_FILE = 'demo-mqtt.url';
const DEMO_MQTT_PORT = 1883;

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    { data: { type: 'string' }, port: { type: 'string' }, 'mqtt-port': { type: 'string' }, theme: { type: 'string' } },
    USAGE,
  );
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : '.atm-data');
  const port = integerOption(values, 'port', 7400, 0, 65535);
  const mqttPort = integerOption(values, 'mqtt-port', DEMO_MQTT_PORT, 0, 65535);
  const theme = typeof values.theme === 'string' ? values.theme : 'default';
  if (theme !== 'default' && theme !== 'high-contrast')
    throw new UsageError('--theme must be default or high-contrast');
  const interactive = process.stdout.isTTY && process.stdin.isTTY;
  const bankLog = path.join(dataDir, 'bank.log');
  refuseHeldDataDir(dataDir);
  const before = snapshotDataDir(dataDir);
  let logStream: fs.WriteStream | null = null;
  let psk: Buffer;
  let host: BankHost<TelemetryRuntime>;
  try {
    psk = provisionDemoKiosk(dataDir);
    await ensureDemoOperator(dataDir);
    const stream = fs.createWriteStream(bankLog, { flags: 'a', mode: 0o600 });
    logStream = stream;
    const observer = new LogLineObserver((line) => {
      const stamped = logLine(line);
      stream.write(stamped);
      if (!interactive) process.stdout.write(stamped);
    });
    // The demo favours a snappy first run over the production bcrypt cost of 12.
    host = await startDemoBank({ dataDir, port, bcryptCost: 10, observer }, mqttPort);
  } catch (error) {
    if (logStream !== null) await new Promise((resolve) => logStream?.end(resolve));
    // A first run that could not start leaves no half-made .atm-data behind.
    undoFailedStart(before, error);
    // The broker falls back to a free port by itself, so a port in use here is the bank's.
    throw explainStartFailure(error, { dataDir, host: '127.0.0.1', port, mqttPort: null });
  }
  const operatorHint = operatorLine(dataDir, host.telemetry.mqttPort);
  // `npm run operator` reads this to find the demo's broker (1883 unless that was taken).
  fs.writeFileSync(
    path.join(dataDir, DEMO_MQTT_URL_FILE),
    host.telemetry.mqttPort === null ? '' : `mqtt://127.0.0.1:${host.telemetry.mqttPort}\n`,
    { mode: 0o600 },
  );
  logStream.write(logLine(operatorHint));
  try {
    if (interactive) {
      await runKioskApp({
        host: '127.0.0.1',
        port: host.port,
        kioskId: DEMO_KIOSK_ID,
        psk,
        dataDir: path.join(dataDir, 'kiosk'),
        theme,
      });
      process.stdout.write(`Demo stopped. Bank log: ${path.relative(process.cwd(), bankLog)}\n`);
      return ExitCode.OK;
    }
    const stopping = stopSignal();
    printClientLines(dataDir, host.port);
    process.stdout.write(`Operator dashboard (another terminal):\n  ${operatorHint}\n\n`);
    await stopping;
    return ExitCode.OK;
  } finally {
    await host.close();
    logStream.end();
  }
}

/** The keystore and the demo kiosk, made once; returns the kiosk's PSK. */
function provisionDemoKiosk(dataDir: string): Buffer {
  initKeystore(dataDir);
  const keyFile = path.join(dataDir, `${DEMO_KIOSK_ID}.key`);
  const kiosk = loadKeystore(dataDir).kiosks[DEMO_KIOSK_ID];
  if (kiosk?.revokedAt !== null || !fs.existsSync(keyFile)) addKiosk(dataDir, DEMO_KIOSK_ID, keyFile, { force: true });
  return Buffer.from((JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { psk: string }).psk, 'hex');
}

function printClientLines(dataDir: string, port: number): void {
  const relative = path.relative(process.cwd(), dataDir) || '.';
  const key = path.join(relative, `${DEMO_KIOSK_ID}.key`);
  const common = `npx atm client --bank 127.0.0.1:${port} --kiosk ${DEMO_KIOSK_ID} --key ${key}`;
  process.stdout.write(`
Demo bank running on 127.0.0.1:${port}. Data: ${dataDir}.
The kiosk screen needs a terminal: run \`npm start\` in one, or, while this bank runs, open the
kiosk in another terminal with:

  npx atm kiosk --bank 127.0.0.1:${port} --kiosk ${DEMO_KIOSK_ID} --key ${key}

Or be a customer from the shell: sign up, deposit, withdraw, check the balance, verify the audit log:

  export ATM_PASSWORD='correct horse battery'
  ${common} register --user austin
  ${common} deposit  --user austin --amount 150.00
  ${common} withdraw --user austin --amount 50.00
  ${common} withdraw --user austin --amount 150.00     # declined: INSUFFICIENT_FUNDS
  ${common} balance  --user austin
  npx atm audit verify --data ${relative}

Ctrl-C stops the bank.

`);
}

/** The demo prefers the standard MQTT port; a demo should still start when another broker holds it. */
async function startDemoBank(options: BankHostOptions, mqttPort: number): Promise<BankHost<TelemetryRuntime>> {
  const withBroker = (port: number): BankHostOptions<TelemetryRuntime> => ({
    ...options,
    telemetry: bankTelemetry({ mqtt: { mode: 'embedded', port } }),
  });
  try {
    return await startBankHost(withBroker(mqttPort));
  } catch (error) {
    // Only the broker's port falls back; the bank's own port being taken is the user's to solve.
    const taken = error as NodeJS.ErrnoException & { port?: number };
    if (taken.code !== 'EADDRINUSE' || mqttPort === 0 || taken.port !== mqttPort) throw error;
    return startBankHost(withBroker(0));
  }
}

/** Creates the demo operator once: a random password in a 0600 file, its bcrypt hash in the keystore. */
async function ensureDemoOperator(dataDir: string): Promise<void> {
  const passwordFile = path.join(dataDir, DEMO_OPERATOR_PASSWORD_FILE);
  if (fs.existsSync(passwordFile) && loadKeystore(dataDir).operators[DEMO_OPERATOR] !== undefined) return;
  const password = crypto.randomBytes(18).toString('base64url');
  addOperator(dataDir, DEMO_OPERATOR, await bcrypt.hash(password, 10));
  fs.writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
}

function operatorLine(dataDir: string, mqttPort: number | null): string {
  if (mqttPort === null) return 'telemetry is off';
  const relative = path.relative(process.cwd(), dataDir) || '.';
  return `ATM_PASSWORD="$(cat ${path.join(relative, DEMO_OPERATOR_PASSWORD_FILE)})" npx atm operator --mqtt mqtt://127.0.0.1:${mqttPort} --user ${DEMO_OPERATOR}`;
}
