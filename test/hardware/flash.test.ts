// `atm firmware flash`: the avrdude command it builds, the hex checks, the missing-avrdude
// message, and a real end-to-end flash — the real avrdude talking STK500 over a socat
// pseudo-terminal to a software Arduino bootloader (firmware-sim/stk500.ts), so no board is
// needed and every byte written can be compared with the hex file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { SerialPort } from 'serialport';
import { FlashError, STANDARD_FIRMATA_HEX_SHA256, checkHex, flashPlan } from '../../hardware/flash.js';
import { Stk500Bootloader, parseIntelHex } from '../../firmware-sim/stk500.js';
import { AtmError } from '../../protocol/errors.js';
import { makeTempDir } from '../helpers/bank.js';
import { runAtm } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { pause } from '../helpers/wait.js';

const hasAvrdude = spawnSync('avrdude', ['-?'], { stdio: 'ignore' }).error === undefined;
const hasSocat = spawnSync('socat', ['-V'], { stdio: 'ignore' }).error === undefined;
const cachedFirmata = path.join(repoRoot, 'node_modules', '.cache', 'secure-atm', 'StandardFirmata.cpp.hex');

// A small but real sketch image: 3 pages' worth of bytes with a two-record layout.
function testHex(): string {
  const lines: string[] = [];
  for (let address = 0; address < 320; address += 16) {
    const data = Buffer.alloc(16, 0).map((_, index) => (address + index * 7) & 0xff);
    const record = Buffer.concat([Buffer.from([16, address >> 8, address & 0xff, 0]), data]);
    const checksum = (0x100 - (record.reduce((sum, byte) => sum + byte, 0) & 0xff)) & 0xff;
    lines.push(
      `:${Buffer.concat([record, Buffer.from([checksum])])
        .toString('hex')
        .toUpperCase()}`,
    );
  }
  return `${lines.join('\n')}\n:00000001FF\n`;
}

function tempDir(t: TestContext): string {
  const dir = makeTempDir('atm-flash-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

test('flashPlan builds the avrdude command line for each board, with -n for --no-write', () => {
  assert.deepEqual(flashPlan({ port: '/dev/ttyACM0', hexFile: 'f.hex' }).args, [
    '-p',
    'atmega328p',
    '-c',
    'arduino',
    '-P',
    '/dev/ttyACM0',
    '-b',
    '115200',
    '-D',
    '-U',
    'flash:w:f.hex:i',
  ]);
  assert.equal(flashPlan({ port: 'p', hexFile: 'f.hex', board: 'nano-old' }).args[7], '57600');
  assert.equal(flashPlan({ port: 'p', hexFile: 'f.hex', noWrite: true }).args[0], '-n');
  assert.throws(
    () => flashPlan({ port: 'p', hexFile: 'f.hex', board: 'mega' }),
    (error: unknown) => error instanceof AtmError && error.code === FlashError.BAD_BOARD,
  );
});

test('the hex is checked before anything touches the board: missing, or not the pinned StandardFirmata', (t) => {
  const dir = tempDir(t);
  assert.throws(
    () => checkHex(path.join(dir, 'none.hex')),
    (error: unknown) => error instanceof AtmError && error.code === FlashError.HEX_MISSING,
  );
  const other = path.join(dir, 'other.hex');
  fs.writeFileSync(other, testHex());
  assert.throws(
    () => checkHex(other),
    (error: unknown) =>
      error instanceof AtmError &&
      error.code === FlashError.HEX_HASH &&
      error.message.includes(STANDARD_FIRMATA_HEX_SHA256),
  );
  assert.doesNotThrow(() => checkHex(other, null));
});

test('atm firmware flash says exactly what to install when avrdude is missing', async (t) => {
  const dir = tempDir(t);
  const hex = path.join(dir, 't.hex');
  fs.writeFileSync(hex, testHex());
  const result = await runAtm([
    'firmware',
    'flash',
    '--port',
    '/dev/null',
    '--hex',
    hex,
    '--any-hex',
    '--avrdude',
    path.join(dir, 'no-such-avrdude'),
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /apt-get install avrdude/);
  assert.equal(result.stderr.trim().split('\n').length, 1, 'one line on stderr');
});

test('atm firmware flash refuses a hex whose SHA-256 is not the pinned one', async (t) => {
  const dir = tempDir(t);
  const hex = path.join(dir, 't.hex');
  fs.writeFileSync(hex, testHex());
  const result = await runAtm(['firmware', 'flash', '--port', '/dev/null', '--hex', hex]);
  assert.equal(result.code, 1);
  assert.match(result.stderr, /HEX_HASH_MISMATCH/);
});

interface Bench {
  host: string;
  bootloader: Stk500Bootloader;
}

/** A socat pty pair; the device side runs the software bootloader through the real serialport binding. */
async function bootloaderOnPty(t: TestContext): Promise<Bench> {
  const dir = tempDir(t);
  const socat: ChildProcess = spawn(
    'socat',
    ['-d', '-d', `pty,raw,echo=0,link=${dir}/dev`, `pty,raw,echo=0,link=${dir}/host`],
    { stdio: 'ignore' },
  );
  t.after(() => socat.kill('SIGKILL'));
  const deadline = Date.now() + 5_000;
  while (!(fs.existsSync(`${dir}/dev`) && fs.existsSync(`${dir}/host`))) {
    if (Date.now() > deadline) throw new Error('socat did not create the pty pair');
    await pause(20);
  }
  const port = new SerialPort({ path: `${dir}/dev`, baudRate: 115_200 });
  await new Promise<void>((resolve, reject) => {
    port.once('open', () => resolve());
    port.once('error', reject);
  });
  t.after(() => new Promise<void>((resolve) => (port.isOpen ? port.close(() => resolve()) : resolve())));
  const bootloader = new Stk500Bootloader();
  port.on('data', (chunk: Buffer) => {
    const answer = bootloader.push(chunk);
    if (answer.length > 0) port.write(answer);
  });
  return { host: `${dir}/host`, bootloader };
}

test(
  'atm firmware flash writes every byte of the hex through the real avrdude to an STK500 bootloader on a pty',
  { skip: !hasAvrdude || !hasSocat ? 'avrdude or socat not installed (.ci/run installs both)' : false },
  async (t) => {
    const { host, bootloader } = await bootloaderOnPty(t);
    const useFirmata = fs.existsSync(cachedFirmata);
    const hex = useFirmata ? cachedFirmata : path.join(tempDir(t), 't.hex');
    if (!useFirmata) fs.writeFileSync(hex, testHex());
    const args = ['firmware', 'flash', '--port', host, '--hex', hex, ...(useFirmata ? [] : ['--any-hex'])];
    const result = await runAtm(args, { timeoutMs: 60_000 });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /flash verified/);
    assert.match(result.stdout, /StandardFirmata flashed/);
    const expected = parseIntelHex(fs.readFileSync(hex, 'utf8'));
    assert.ok(bootloader.pagesWritten > 0);
    assert.deepEqual(
      Buffer.from(bootloader.flash.subarray(0, expected.highestAddress)),
      Buffer.from(expected.bytes.subarray(0, expected.highestAddress)),
      'the bootloader holds exactly the hex',
    );
    assert.equal(bootloader.left, true, 'avrdude left programming mode, so the sketch would start');
  },
);

test(
  'atm firmware flash --no-write talks to the bootloader and writes nothing',
  { skip: !hasAvrdude || !hasSocat ? 'avrdude or socat not installed (.ci/run installs both)' : false },
  async (t) => {
    const { host, bootloader } = await bootloaderOnPty(t);
    const hex = path.join(tempDir(t), 't.hex');
    fs.writeFileSync(hex, testHex());
    const result = await runAtm(['firmware', 'flash', '--port', host, '--hex', hex, '--any-hex', '--no-write'], {
      timeoutMs: 60_000,
    });
    assert.equal(result.code, 0, `${result.stdout}${result.stderr}`);
    assert.match(result.stdout, /device signature = 0x1e950f/);
    assert.match(result.stdout, /nothing was written/);
    assert.equal(bootloader.pagesWritten, 0);
    assert.ok(
      bootloader.flash.every((byte) => byte === 0xff),
      'flash untouched',
    );
  },
);

test('atm firmware flash reports a failure of avrdude with one line and its diagnostics', async (t) => {
  // A real unanswered port makes avrdude retry for about a minute; a stand-in that fails as
  // avrdude does (stk500_recv, exit 1) checks our handling of it in a few milliseconds.
  const dir = tempDir(t);
  const fake = path.join(dir, 'avrdude');
  fs.writeFileSync(fake, '#!/bin/sh\necho "avrdude: stk500_recv(): programmer is not responding" >&2\nexit 1\n', {
    mode: 0o755,
  });
  const hex = path.join(dir, 't.hex');
  fs.writeFileSync(hex, testHex());
  const result = await runAtm([
    'firmware',
    'flash',
    '--port',
    '/dev/ttyACM9',
    '--hex',
    hex,
    '--any-hex',
    '--avrdude',
    fake,
  ]);
  assert.equal(result.code, 1);
  assert.match(result.stdout, /programmer is not responding/);
  assert.match(result.stderr, /avrdude failed with exit code 1 \(is the board on \/dev\/ttyACM9/);
  assert.equal(result.stderr.trim().split('\n').length, 1);
});
