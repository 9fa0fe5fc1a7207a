// atm demo — what `npm start` runs. Until the kiosk UI exists: the bank host on a local data
// folder with a provisioned demo kiosk, and the `atm client` lines to try against it.
import fs from 'node:fs';
import path from 'node:path';
import { addKiosk, initKeystore, loadKeystore, startBankHost } from '../../bank/index.js';
import { ExitCode, integerOption, parse } from '../cli.js';

const USAGE = `usage: atm demo [--data .atm-data] [--port 7400]
Starts a bank host on a local data folder with a demo kiosk and prints commands to try.`;

export const DEMO_KIOSK_ID = 'demo-kiosk';

export async function demoCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, { data: { type: 'string' }, port: { type: 'string' } }, USAGE);
  const dataDir = path.resolve(typeof values.data === 'string' ? values.data : '.atm-data');
  const port = integerOption(values, 'port', 7400, 0, 65535);
  initKeystore(dataDir);
  const keyFile = path.join(dataDir, `${DEMO_KIOSK_ID}.key`);
  const kiosk = loadKeystore(dataDir).kiosks[DEMO_KIOSK_ID];
  if (kiosk === undefined || kiosk.revokedAt !== null || !fs.existsSync(keyFile)) addKiosk(dataDir, DEMO_KIOSK_ID, keyFile, { force: true });
  // The demo favours a snappy first run over the production bcrypt cost of 12.
  const host = await startBankHost({ dataDir, port, bcryptCost: 10 });
  const atm = 'npx atm';
  const common = `${atm} client --bank 127.0.0.1:${host.port} --kiosk ${DEMO_KIOSK_ID} --key ${path.relative(process.cwd(), keyFile)}`;
  process.stdout.write(`
Demo bank running. Data: ${dataDir}. In another terminal, try the seed's story:

  export ATM_PASSWORD='correct horse battery'
  ${common} register --user austin
  ${common} deposit  --user austin --amount 150.00
  ${common} withdraw --user austin --amount 50.00
  ${common} withdraw --user austin --amount 150.00     # declined: INSUFFICIENT_FUNDS
  ${common} balance  --user austin
  ${common} withdraw --user austin --amount 20.00 --dispense-fault   # jam: hold voided
  ${atm} audit verify --data ${path.relative(process.cwd(), dataDir)}
  ${atm} audit show --data ${path.relative(process.cwd(), dataDir)}

Ctrl-C stops the bank.

`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await host.close();
  return ExitCode.OK;
}
