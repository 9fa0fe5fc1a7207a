// atm firmware flash — StandardFirmata onto an Arduino with avrdude.
import path from 'node:path';
import { FlashError, checkHex, flashPlan, runFlash } from '../../hardware/index.js';
import { AtmError } from '../../protocol/index.js';
import { ExitCode, UsageError, parse, printJson, required } from '../cli.js';

const USAGE = `usage: atm firmware flash --port PATH [--hex FILE] [--board uno|nano|nano-old] [--no-write] [--any-hex] [--json]
Flashes StandardFirmata 2.4 (SHA-256 checked) onto an Arduino with avrdude (apt-get install avrdude).
Default hex: node_modules/.cache/secure-atm/StandardFirmata.cpp.hex (fetched by 'node scripts/fetch-firmata.mjs').
--no-write runs avrdude with -n: it talks to the bootloader but writes nothing.`;

export const DEFAULT_HEX = path.join('node_modules', '.cache', 'secure-atm', 'StandardFirmata.cpp.hex');

export async function firmwareCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  if (sub !== 'flash') throw new UsageError(sub === undefined ? USAGE : `unknown firmware command ${sub}\n${USAGE}`);
  const { values } = parse(
    rest,
    {
      port: { type: 'string' },
      hex: { type: 'string' },
      board: { type: 'string' },
      'no-write': { type: 'boolean' },
      'any-hex': { type: 'boolean' },
      avrdude: { type: 'string' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  const hexFile = typeof values.hex === 'string' ? values.hex : DEFAULT_HEX;
  checkHex(hexFile, values['any-hex'] === true ? null : undefined);
  const plan = flashPlan({
    port: required(values, 'port', USAGE),
    hexFile,
    board: typeof values.board === 'string' ? values.board : 'uno',
    noWrite: values['no-write'] === true,
    avrdude: typeof values.avrdude === 'string' ? values.avrdude : undefined,
  });
  const result = await runFlash(plan);
  const ok = result.exitCode === 0;
  if (values.json === true)
    printJson({
      ok,
      command: [plan.command, ...plan.args].join(' '),
      exitCode: result.exitCode,
      output: result.output,
    });
  else {
    process.stdout.write(`${[plan.command, ...plan.args].join(' ')}\n`);
    process.stdout.write(result.output);
    if (ok)
      process.stdout.write(
        values['no-write'] === true
          ? 'avrdude talked to the board; nothing was written (--no-write)\n'
          : 'StandardFirmata flashed: run the kiosk with --device firmata:PORT\n',
      );
  }
  if (!ok)
    throw new AtmError(
      FlashError.FLASH_FAILED,
      `avrdude failed with exit code ${result.exitCode} (is the board on ${plan.args[plan.args.indexOf('-P') + 1]} and the right --board given?)`,
    );
  return ExitCode.OK;
}
