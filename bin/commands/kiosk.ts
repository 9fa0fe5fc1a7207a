// atm kiosk — the full-screen kiosk against a bank host.
import path from 'node:path';
import { loadKioskKeyFile } from '../../bank/index.js';
import { runKioskApp } from '../../kiosk/app.js';
import { ExitCode, UsageError, integerOption, parse, required } from '../cli.js';

const USAGE = `usage: atm kiosk --bank HOST:PORT --kiosk ID --key FILE [--device sim] [--theme default|high-contrast]
                 [--data DIR] [--idle-warn-ms 20000] [--idle-logout-ms 30000] [--dispense-delay-ms 800]
The full-screen ATM. --data holds the kiosk's journal, receipts and log (default .atm-kiosk-<ID>).`;

export async function kioskCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      bank: { type: 'string' },
      kiosk: { type: 'string' },
      key: { type: 'string' },
      device: { type: 'string' },
      theme: { type: 'string' },
      data: { type: 'string' },
      'idle-warn-ms': { type: 'string' },
      'idle-logout-ms': { type: 'string' },
      'dispense-delay-ms': { type: 'string' },
    },
    USAGE,
  );
  const bank = /^(.+):(\d{1,5})$/.exec(required(values, 'bank', USAGE));
  if (bank === null) throw new UsageError(`--bank must be HOST:PORT\n${USAGE}`);
  const keyFile = loadKioskKeyFile(required(values, 'key', USAGE));
  const kioskId = typeof values.kiosk === 'string' ? values.kiosk : keyFile.kioskId;
  if (kioskId !== keyFile.kioskId) throw new UsageError(`--kiosk ${kioskId} does not match the key file's kiosk ${keyFile.kioskId}`);
  const device = typeof values.device === 'string' ? values.device : 'sim';
  const theme = typeof values.theme === 'string' ? values.theme : 'default';
  if (theme !== 'default' && theme !== 'high-contrast') throw new UsageError('--theme must be default or high-contrast');
  if (!process.stdout.isTTY) throw new UsageError('atm kiosk needs a terminal (a TTY on stdout)');
  const idleWarnMs = integerOption(values, 'idle-warn-ms', 20_000, 1_000, 3_600_000);
  await runKioskApp({
    host: (bank[1] as string).replace(/^\[(.*)\]$/, '$1'),
    port: Number(bank[2]),
    kioskId,
    psk: keyFile.psk,
    dataDir: path.resolve(typeof values.data === 'string' ? values.data : `.atm-kiosk-${kioskId}`),
    theme,
    idleWarnMs,
    idleLogoutMs: integerOption(values, 'idle-logout-ms', Math.max(30_000, idleWarnMs + 1_000), idleWarnMs + 1, 3_600_000),
    dispenseDelayMs: integerOption(values, 'dispense-delay-ms', 800, 0, 60_000),
    device,
  });
  return ExitCode.OK;
}
