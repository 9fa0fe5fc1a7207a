// atm demo — what `npm start` runs: a bank host on a local data folder (embedded broker once
// telemetry exists), a provisioned demo kiosk, and the full-screen kiosk with the simulated
// keypad, all in this terminal. The bank's log goes to DATA/bank.log. Without a terminal
// (piped output) it runs the bank alone and prints `atm client` lines to try instead.
import fs from 'node:fs';
import path from 'node:path';
import { LogLineObserver, addKiosk, initKeystore, loadKeystore, startBankHost } from '../../bank/index.js';
import { runKioskApp } from '../../kiosk/app.js';
import { ExitCode, UsageError, integerOption, parse } from '../cli.js';

const USAGE = `usage: atm demo [--data .atm-data] [--port 7400] [--theme default|high-contrast]
Starts a bank host with a demo kiosk and opens the kiosk UI (simulated keypad) in this terminal.
The bank's log is written to DATA/bank.log.`;

export const DEMO_KIOSK_ID = 'demo-kiosk';

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, port: { type: 'string' }, theme: { type: 'string' } }, USAGE);
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : '.atm-data');
  const port = integerOption(values, 'port', 7400, 0, 65535);
  const theme = typeof values.theme === 'string' ? values.theme : 'default';
  if (theme !== 'default' && theme !== 'high-contrast') throw new UsageError('--theme must be default or high-contrast');
  initKeystore(dataDir);
  const keyFile = path.join(dataDir, `${DEMO_KIOSK_ID}.key`);
  const kiosk = loadKeystore(dataDir).kiosks[DEMO_KIOSK_ID];
  if (kiosk === undefined || kiosk.revokedAt !== null || !fs.existsSync(keyFile)) addKiosk(dataDir, DEMO_KIOSK_ID, keyFile, { force: true });
  const psk = Buffer.from(JSON.parse(fs.readFileSync(keyFile, 'utf8')).psk as string, 'hex');
  const interactive = process.stdout.isTTY === true && process.stdin.isTTY === true;
  const bankLog = path.join(dataDir, 'bank.log');
  const logStream = fs.createWriteStream(bankLog, { flags: 'a', mode: 0o600 });
  const observer = new LogLineObserver((line) => {
    logStream.write(`${line}\n`);
    if (!interactive) process.stdout.write(`${line}\n`);
  });
  // The demo favours a snappy first run over the production bcrypt cost of 12.
  const host = await startBankHost({ dataDir, port, bcryptCost: 10, observer });
  try {
    if (interactive) {
      await runKioskApp({ host: '127.0.0.1', port: host.port, kioskId: DEMO_KIOSK_ID, psk, dataDir: path.join(dataDir, 'kiosk'), theme });
      process.stdout.write(`Demo stopped. Bank log: ${path.relative(process.cwd(), bankLog)}\n`);
      return ExitCode.OK;
    }
    printClientLines(dataDir, host.port);
    await new Promise<void>((resolve) => {
      process.once('SIGINT', () => resolve());
      process.once('SIGTERM', () => resolve());
    });
    return ExitCode.OK;
  } finally {
    await host.close();
    logStream.end();
  }
}

function printClientLines(dataDir: string, port: number): void {
  const relative = path.relative(process.cwd(), dataDir) || '.';
  const common = `npx atm client --bank 127.0.0.1:${port} --kiosk ${DEMO_KIOSK_ID} --key ${path.join(relative, `${DEMO_KIOSK_ID}.key`)}`;
  process.stdout.write(`
Demo bank running (no terminal for the kiosk UI). Data: ${dataDir}. Try the seed's story:

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
