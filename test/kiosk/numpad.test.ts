// A USB HID numeric keypad is plain keyboard input: with NumLock on it types digits, + - * / .
// and Enter; with NumLock off its keys arrive as cursor keys; in a terminal that keeps the
// "application keypad" mode they arrive as ESC O x. All three reach the ATM functions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { keyFromTerminal } from '../../hardware/keymap.js';
import { startTestBank } from '../helpers/bank.js';
import { cleanEnv } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty } from '../helpers/pty.js';

test('numeric-keypad keys map to ATM functions in every mode the terminal may send them', () => {
  const numLockOn: [string, string][] = [
    ['+', 'clear'],
    ['-', 'cancel'],
    ['*', 'clear'],
    ['/', 'backspace'],
    ['.', 'clear'],
    ['7', '7'],
  ];
  for (const [ch, expected] of numLockOn)
    assert.equal(keyFromTerminal(ch, { name: ch, sequence: ch }), expected, `NumLock on: ${ch}`);
  assert.equal(keyFromTerminal('\r', { name: 'enter', sequence: '\r' }), 'enter');
  const numLockOff: [string, string][] = [
    ['insert', '0'],
    ['end', '1'],
    ['down', '2'],
    ['pagedown', '3'],
    ['left', '4'],
    ['right', '6'],
    ['home', '7'],
    ['up', '8'],
    ['pageup', '9'],
  ];
  for (const [name, expected] of numLockOff)
    assert.equal(keyFromTerminal(undefined, { name }), expected, `NumLock off: ${name}`);
  const application: [string, string][] = [
    ['\x1bOM', 'enter'],
    ['\x1bOk', 'clear'],
    ['\x1bOm', 'cancel'],
    ['\x1bOj', 'clear'],
    ['\x1bOo', 'backspace'],
    ['\x1bOn', 'clear'],
    ['\x1bOp', '0'],
    ['\x1bOy', '9'],
  ];
  for (const [sequence, expected] of application)
    assert.equal(
      keyFromTerminal(undefined, { name: 'undefined', sequence }),
      expected,
      `application keypad: ${JSON.stringify(sequence)}`,
    );
  assert.equal(keyFromTerminal(undefined, { name: 'undefined', sequence: '\x1bOz' }), null);
});

test('in the real kiosk a numeric keypad alone logs in, enters and edits an amount, cancels and logs out', async (t) => {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  // A customer whose name and password are all digits can use a numeric keypad alone.
  const setup = await bank.connect();
  assert.equal((await setup.request({ op: 'register', username: 'user1234', password: '12345678' })).ok, true);
  setup.close();
  const dataDir = path.join(bank.dataDir, '..', 'kiosk');
  const pty = spawnPty(
    process.execPath,
    // --no-cash-in: a kiosk whose deposits are typed amounts, the keypad's own work (notes: cash-in-pty.test.ts).
    [
      atmBin,
      'kiosk',
      '--bank',
      `127.0.0.1:${bank.host.port}`,
      '--key',
      bank.kiosk.keyFile,
      '--data',
      dataDir,
      '--no-cash-in',
    ],
    { env: cleanEnv() },
  );
  t.after(async () => {
    await pty.kill();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });
  await pty.waitFor('Welcome to Secure ATM', 10_000);
  // rmkx (ESC >) after blessed's smkx: with NumLock on the numpad types plain characters.
  await pty.waitForOutput('\x1b>');
  pty.type('\x1bOq'); // numpad 1 from a terminal that stays in application mode: "log in"
  await pty.waitFor('Username:');
  pty.type('user1234');
  pty.type('\x1bOM'); // numpad Enter in application mode
  await pty.waitFor('Password:');
  pty.type('12345678\r'); // numpad Enter with NumLock on is a plain CR
  await pty.waitFor('What would you like to do?');
  pty.type('2'); // deposit
  await pty.waitFor('Enter the amount to deposit');
  pty.type('15000');
  await pty.waitFor('150.00');
  pty.type('/'); // numpad / = backspace
  await pty.waitFor(/│\s+15\.00\s+│/);
  pty.type('+'); // numpad + = clear
  await pty.waitFor(/│\s+0\.00\s+│/);
  pty.type('-'); // numpad - = cancel
  await pty.waitFor('What would you like to do?');
  pty.type('\x1b[F'); // NumLock off: End is the 1 key → balance
  await pty.waitFor('Available balance: 0.00');
  pty.type('4'); // log out
  await pty.waitFor('Welcome to Secure ATM');
  assert.ok(!/at .*\(.*:\d+:\d+\)|Error:/.test(pty.output()), 'no stack trace');
});
