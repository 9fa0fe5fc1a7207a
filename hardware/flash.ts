// `atm firmware flash`: puts StandardFirmata on an Arduino Uno/Nano with Debian's avrdude, the
// standard tool, so a Pi owner goes from a bare board to a working keypad/LCD in one command.
// The hex is checked against its pinned SHA-256 before anything touches the board.
import { spawn } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { AtmError, type CodeOf } from '../protocol/index.js';

export const STANDARD_FIRMATA_HEX_SHA256 = '6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36';

export const FlashError = {
  AVRDUDE_MISSING: 'AVRDUDE_MISSING',
  HEX_MISSING: 'HEX_MISSING',
  HEX_HASH: 'HEX_HASH_MISMATCH',
  FLASH_FAILED: 'FLASH_FAILED',
  BAD_BOARD: 'BAD_BOARD',
} as const satisfies Record<string, CodeOf<'flash'>>;

/** Bootloader baud rates: the Uno's Optiboot runs at 115200, older Nano bootloaders at 57600. */
export const BOARDS: Record<string, { part: string; programmer: string; baud: number }> = {
  uno: { part: 'atmega328p', programmer: 'arduino', baud: 115_200 },
  nano: { part: 'atmega328p', programmer: 'arduino', baud: 115_200 },
  'nano-old': { part: 'atmega328p', programmer: 'arduino', baud: 57_600 },
};

export interface FlashPlan {
  command: string;
  args: string[];
}

/** Pure: the avrdude command line for a board, port and hex file. */
export function flashPlan(options: {
  port: string;
  hexFile: string;
  board?: string;
  noWrite?: boolean;
  avrdude?: string;
}): FlashPlan {
  const board = BOARDS[options.board ?? 'uno'];
  if (board === undefined)
    throw new AtmError(
      FlashError.BAD_BOARD,
      `unknown board ${JSON.stringify(options.board)}; known: ${Object.keys(BOARDS).join(', ')}`,
    );
  const args = [
    '-p',
    board.part,
    '-c',
    board.programmer,
    '-P',
    options.port,
    '-b',
    String(board.baud),
    '-D',
    '-U',
    `flash:w:${options.hexFile}:i`,
  ];
  if (options.noWrite === true) args.unshift('-n');
  return { command: options.avrdude ?? 'avrdude', args };
}

export function sha256File(filePath: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(filePath)).digest('hex');
}

/** Refuses a hex that is missing or is not the pinned StandardFirmata (unless told to accept any). */
export function checkHex(hexFile: string, expectedSha256: string | null = STANDARD_FIRMATA_HEX_SHA256): void {
  if (!fs.existsSync(hexFile))
    throw new AtmError(
      FlashError.HEX_MISSING,
      `hex file ${hexFile} not found (run 'node scripts/fetch-firmata.mjs' to fetch StandardFirmata)`,
    );
  if (expectedSha256 === null) return;
  const actual = sha256File(hexFile);
  if (actual !== expectedSha256)
    throw new AtmError(
      FlashError.HEX_HASH,
      `hex file ${hexFile} has SHA-256 ${actual}, expected ${expectedSha256}; refusing to flash it`,
    );
}

export interface FlashResult {
  exitCode: number;
  output: string; // avrdude's own diagnostics (stderr), for the operator
}

/** Runs avrdude; rejects with AVRDUDE_MISSING (with the install command) when it is not installed. */
export function runFlash(plan: FlashPlan, timeoutMs = 120_000): Promise<FlashResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(plan.command, plan.args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ENOENT') {
        reject(
          new AtmError(
            FlashError.AVRDUDE_MISSING,
            `avrdude is not installed: on Debian or Raspberry Pi OS run 'sudo apt-get install avrdude', then try again`,
          ),
        );
      } else reject(new AtmError(FlashError.FLASH_FAILED, `cannot run avrdude: ${error.message}`));
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code ?? 1, output });
    });
  });
}
