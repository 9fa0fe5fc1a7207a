// Issue 12, item 2: every screen of a whole session on a real character display, at 16×2 and
// at 20×4. The kiosk controller drives the serial display driver (serialport, a real socat
// pseudo-terminal pair) and `firmware-sim`'s line device plays the HD44780 board on the other
// end; the bank is real (LevelDB, TCP). After each screen the test reads the simulated glass
// and checks that it holds what the kiosk meant to show, that every amount on it is whole
// (never "1" for 1234.56 or "12080.0" for 12080.07), and that the amount the screen is about
// is there at all.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startFirmwareSim } from '../../firmware-sim/index.js';
import { createSerialDevices, type SerialDevicesOptions } from '../../hardware/serial.js';
import type { KioskState, Screen } from '../../kiosk/flow.js';
import { lcdLines } from '../../kiosk/view.js';
import type { KeyName } from '../../hardware/types.js';
import { makeTempDir, startTestBank } from '../helpers/bank.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { waitUntil } from '../helpers/wait.js';

const WAIT_MS = 8_000;
const FAST: SerialDevicesOptions['serial'] = {
  heartbeatLossMs: 1_500,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 300,
  helloTimeoutMs: 1_000,
};
/** A money amount as the kiosk writes it: digits, a point, two digits. */
const AMOUNT = /\d+\.\d+|\d+\.(?!\d)/g;

const until = (condition: () => boolean, what: () => string, timeoutMs = WAIT_MS): Promise<void> =>
  waitUntil(condition, what, timeoutMs, 10);

interface Shown {
  screen: string;
  glass: string[];
}

async function fullSession(t: TestContext, rows: number, columns: number): Promise<Shown[]> {
  // A large deposit limit, so that five-digit amounts reach the display.
  const bank = await startTestBank({ limits: { depositCentsMax: 100_000_00 } });
  t.after(() => bank.cleanup());
  const sim = await startFirmwareSim({ device: { rows, columns } });
  t.after(() => sim.close());
  assert.ok(sim.hostPath !== null);
  // No size given: the display driver takes it from the device's HELLO (lcd16x2, lcd20x4).
  const devices = await createSerialDevices(sim.hostPath, { serial: FAST });
  const dir = makeTempDir('atm-lcd-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const { controller } = kioskOnTestBank(bank, { devices, dir });
  t.after(() => controller.stop());
  await controller.start();

  const shown: Shown[] = [];
  const glass = (): string[] => sim.device.displayLines().map((line) => line.trimEnd());
  /** Waits for the screen, then for the glass to hold its text, and records both. */
  const see = async (name: Screen['name'], label: string = name): Promise<KioskState> => {
    await until(
      () => controller.state.screen.name === name,
      () => `screen ${name}; at ${controller.state.screen.name} (${controller.state.message ?? ''})`,
    );
    const state = controller.state;
    const wanted = lcdLines(state, { rows, columns });
    const padded = [...wanted, ...Array<string>(rows).fill('')].slice(0, rows).map((line) => line.trimEnd());
    await until(
      () => JSON.stringify(glass()) === JSON.stringify(padded),
      () => `the glass to show ${JSON.stringify(padded)} on ${label}; it shows ${JSON.stringify(glass())}`,
    );
    shown.push({ screen: label, glass: glass() });
    return state;
  };
  const key = (name: KeyName): void => controller.pressKey(name, 'keyboard');
  const type = (text: string): void => {
    for (const ch of text) controller.input({ type: 'char', ch, atMs: Date.now() });
  };
  const digits = (text: string): void => [...text].forEach((digit) => key(digit as KeyName));

  await see('welcome');
  key('B');
  type('lcdtester');
  await see('signupUser');
  key('enter');
  await see('signupPassword');
  type('correct horse');
  key('enter');
  type('correct horse');
  await see('signupConfirm');
  key('enter');
  await see('menu', 'menu after sign-up');
  key('B');
  digits('1208007');
  await see('amount', 'deposit amount');
  key('enter');
  await see('confirm', 'deposit confirm');
  key('enter');
  await see('result', 'deposit result');
  key('B');
  key('A');
  await see('result', 'balance');
  key('B');
  key('C');
  await see('amount', 'withdraw amount');
  key('B');
  await see('confirm', 'withdraw confirm');
  key('enter');
  await see('result', 'withdraw result');
  key('A');
  await see('receipt');
  key('D');
  await see('welcome', 'goodbye');
  return shown;
}

/** Amounts the screen is about: each must be on the glass, whole. */
const PRIMARY: Record<string, string[]> = {
  'deposit amount': ['12080.07'],
  'deposit confirm': ['12080.07'],
  'deposit result': ['12080.07'],
  balance: ['12080.07'],
  'withdraw confirm': ['60.00'],
  'withdraw result': ['60.00'],
};

for (const [rows, columns] of [
  [2, 16],
  [4, 20],
] as const) {
  test(`a whole session on a ${columns}x${rows} display: every amount whole, only characters the HD44780 shows`, async (t) => {
    const shown = await fullSession(t, rows, columns);
    assert.ok(shown.length >= 14, 'every screen of the session was seen');
    for (const { screen, glass } of shown) {
      t.diagnostic(`${screen.padEnd(18)} | ${glass.join(' | ')}`);
      assert.ok(glass.length === rows, `${screen}: ${rows} rows`);
      for (const line of glass) {
        assert.ok(line.length <= columns, `${screen}: ${JSON.stringify(line)} fits ${columns} columns`);
        assert.doesNotMatch(
          line,
          /\?/,
          `${screen}: ${JSON.stringify(line)} has no '?' for a character the display cannot show`,
        );
      }
      const amounts: string[] = glass.join(' ').match(AMOUNT) ?? [];
      for (const amount of amounts) assert.match(amount, /^\d+\.\d\d$/, `${screen}: amount ${amount} is whole`);
      for (const amount of PRIMARY[screen] ?? [])
        assert.ok(amounts.includes(amount), `${screen}: ${amount} is on the glass (${JSON.stringify(glass)})`);
    }
    // The balance after the withdrawal appears whole where there is room for it (20x4).
    if (rows === 4)
      assert.ok(
        shown.some(({ screen, glass }) => screen === 'withdraw result' && glass.join(' ').includes('12020.07')),
      );
  });
}
