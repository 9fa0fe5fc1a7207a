// atm kiosk — the full-screen kiosk against a bank host.
import path from 'node:path';
import { runKioskApp } from '../../kiosk/index.js';
import {
  KIOSK_IDENTITY_OPTIONS,
  kioskIdentity,
  ExitCode,
  UsageError,
  integerOption,
  parse,
  parseBanks,
  required,
} from '../cli.js';

const USAGE = `usage: atm kiosk --bank HOST:PORT[,HOST:PORT…] --kiosk ID --key FILE [--device sim] [--theme default|high-contrast]
                 [--data DIR] [--idle-warn-ms 20000] [--idle-logout-ms 30000] [--dispense-delay-ms 800]
                 [--no-cash-in] [--printer sim|escpos:PATH] [--take-timeout-ms 30000]
                 [--speech] [--speech-device ALSA-DEVICE]
The full-screen ATM. --data holds the kiosk's journal, receipts and log (default .atm-kiosk-<ID>).
The sim kiosk has a cash-in module (notes into an escrow: F5… put notes in); --no-cash-in makes
it one without, which takes typed (envelope) deposits, as a kiosk on serial or firmata does.
--printer sim writes receipts to receipts.txt in --data; escpos:PATH drives an Epson TM-series
printer on a serial port. Cash presented and not taken within --take-timeout-ms is retracted.
--speech speaks each screen through espeak-ng and aplay (a headphone jack: --speech-device, e.g.
plughw:CARD=Headphones); F10 repeats, F11 and F12 set the volume; passwords are never spoken.
--bank lists every bank host of a network (sharing one PostgreSQL ledger): they are tried in
that order, and the kiosk moves to the next when one dies.`;

/** The forms hardware/factory.ts createDevices opens: the simulator, or a driver and its port. */
const DEVICE_SPEC = /^(?:sim|(?:serial|firmata):(?=.*\S)[^\0]+)$/;

export async function kioskCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      ...KIOSK_IDENTITY_OPTIONS,
      device: { type: 'string' },
      theme: { type: 'string' },
      data: { type: 'string' },
      'idle-warn-ms': { type: 'string' },
      'idle-logout-ms': { type: 'string' },
      'dispense-delay-ms': { type: 'string' },
      'no-cash-in': { type: 'boolean' },
      printer: { type: 'string' },
      'take-timeout-ms': { type: 'string' },
      speech: { type: 'boolean' },
      'speech-device': { type: 'string' },
    },
    USAGE,
  );
  const banks = parseBanks(required(values, 'bank', USAGE));
  const bank = banks[0] as { host: string; port: number };
  const device = typeof values.device === 'string' ? values.device : 'sim';
  // Checked before anything is opened or made (runKioskApp creates the kiosk's folder first).
  if (!DEVICE_SPEC.test(device))
    throw new UsageError(`--device must be sim, serial:PATH or firmata:PATH, got ${JSON.stringify(device)}`);
  const printer = typeof values.printer === 'string' ? values.printer : 'sim';
  if (!/^(?:sim|escpos:(?=.*\S)[^\0]+)$/.test(printer))
    throw new UsageError(`--printer must be sim or escpos:PATH, got ${JSON.stringify(printer)}`);
  const { kioskId, psk } = kioskIdentity(values, USAGE);
  const theme = typeof values.theme === 'string' ? values.theme : 'default';
  if (theme !== 'default' && theme !== 'high-contrast')
    throw new UsageError('--theme must be default or high-contrast');
  if (!process.stdout.isTTY) throw new UsageError('atm kiosk needs a terminal (a TTY on stdout)');
  const idleWarnMs = integerOption(values, 'idle-warn-ms', 20_000, 1_000, 3_600_000);
  await runKioskApp({
    host: bank.host,
    port: bank.port,
    banks,
    kioskId,
    psk,
    dataDir: path.resolve(typeof values.data === 'string' ? values.data : `.atm-kiosk-${kioskId}`),
    theme,
    idleWarnMs,
    idleLogoutMs: integerOption(
      values,
      'idle-logout-ms',
      Math.max(30_000, idleWarnMs + 1_000),
      idleWarnMs + 1,
      3_600_000,
    ),
    dispenseDelayMs: integerOption(values, 'dispense-delay-ms', 800, 0, 60_000),
    device,
    cashIn: values['no-cash-in'] !== true,
    printer,
    ...(values.speech === true
      ? { speech: typeof values['speech-device'] === 'string' ? { audioDevice: values['speech-device'] } : {} }
      : {}),
    takeTimeoutMs: integerOption(values, 'take-timeout-ms', 30_000, 1_000, 600_000),
  });
  return ExitCode.OK;
}
