// The kiosk on the firmata driver: KioskController in-process with the firmata DeviceBundle
// (hardware/firmata.ts) over an emulated Uno running the real StandardFirmata (firmware-sim/),
// a real bank (startTestBank: LevelDB, TCP on loopback), KioskLink and a KioskJournal in a temp
// dir. The customer presses keys on the emulated 4×4 keypad; the test reads the emulated LCD.
// Skips, saying why, when the StandardFirmata hex is not cached. Waits poll with deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { startEmulatedArduino, type EmulatedArduino } from '../firmware-sim/emulated-arduino.js';
import { loadStandardFirmata } from '../firmware-sim/firmata-hex.js';
import { KEY_FOR_LEGEND, createFirmataDevicesOverTransport, type FirmataTransport, type KeypadLegend } from '../hardware/firmata.js';
import { normaliseDisplayLines } from '../hardware/sim.js';
import { KioskController } from '../kiosk/controller.js';
import { MULTITAP } from '../kiosk/flow.js';
import { KioskJournal, deriveJournalKey } from '../kiosk/journal.js';
import { KioskLink } from '../kiosk/link.js';
import { lcdLines, view } from '../kiosk/view.js';
import { makeTempDir, startTestBank } from './helpers/bank.js';

const firmware = loadStandardFirmata();
const skip = 'reason' in firmware ? `StandardFirmata hex not available (node scripts/fetch-firmata.mjs fetches it): ${firmware.reason}` : false;

async function until(condition: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

const USERNAME = 'bead';
/** Typed on the keypad as 2 3 4 5 6 7 8 9: the first letter of each key. */
const PASSWORD = 'adgjmptw';

test('kiosk on the firmata driver: log in, balance, a withdrawal and log out, all from the emulated keypad, each screen exact on the emulated LCD', { skip, timeout: 60_000 }, async () => {
  assert.ok(!('reason' in firmware));
  const bank = await startTestBank();
  const dir = makeTempDir('atm-kiosk-firmata-');
  let arduino: EmulatedArduino | null = null;
  const devices = createFirmataDevicesOverTransport(
    (): FirmataTransport => {
      arduino?.stop();
      arduino = startEmulatedArduino({ hex: firmware.program });
      return arduino.transport;
    },
    { firmata: { openWaitMs: 15_000, keypadHoldMs: 300 } },
  );
  const board = (): EmulatedArduino => arduino ?? assert.fail('the emulated Uno is running');
  const journal = KioskJournal.open({ dir, kioskId: bank.kiosk.kioskId, key: deriveJournalKey(bank.kiosk.psk) });
  const link = new KioskLink({ host: '127.0.0.1', port: bank.host.port, kioskId: bank.kiosk.kioskId, psk: bank.kiosk.psk, backoffInitialMs: 20, backoffMaxMs: 100, requestTimeoutMs: 5_000 });
  const controller = new KioskController({ kioskId: bank.kiosk.kioskId, link, devices, journal, receiptsFile: path.join(dir, 'receipts.txt'), tickMs: 0 });
  try {
    const seeded = await bank.loginAs(USERNAME, PASSWORD);
    assert.ok((await seeded.request({ op: 'deposit', txnId: 'seed-bead', amountCents: 150_00 })).ok);
    await seeded.request({ op: 'logout' });
    seeded.close();

    /** The LCD's glass shows exactly what the kiosk's current screen puts on a 4×20 display. */
    const lcdShowsScreen = async (screen: string): Promise<string[]> => {
      const expected = (): string[] => normaliseDisplayLines(lcdLines(controller.state), 4, 20);
      await until(
        () => controller.state.screen.name === screen && JSON.stringify(board().lcd.lines()) === JSON.stringify(expected()),
        () => `the ${screen} screen on the LCD; kiosk is on ${controller.state.screen.name} (${JSON.stringify(expected())}), LCD shows ${JSON.stringify(board().lcd.lines())}`,
      );
      return board().lcd.lines();
    };
    /** A tap on the emulated keypad: held until the kiosk saw the key (or, for * and #, two keypad samples), then released. */
    const tap = async (legend: KeypadLegend): Promise<void> => {
      const arduinoNow = board();
      const reads = (): number => arduinoNow.keypadBackpack.reads;
      let seen = false;
      const unsubscribe = devices.keypad.onKey((key) => (seen ||= key === KEY_FOR_LEGEND[legend]));
      try {
        arduinoNow.keypad.press(legend);
        const start = reads();
        if (legend === '*' || legend === '#') await until(() => reads() >= start + 2, () => 'two keypad samples');
        else await until(() => seen, () => `key ${legend} at the kiosk`);
        arduinoNow.keypad.release();
        await until(() => seen, () => `key ${legend} at the kiosk`);
        const released = reads();
        await until(() => reads() >= released + 3, () => 'three keypad samples after the release');
      } finally {
        unsubscribe();
      }
    };
    /** Letters by multi-tap, as on a phone (no two letters in a row on one key here). */
    const typeLetters = async (word: string): Promise<void> => {
      for (const letter of word) {
        const [key, letters] = Object.entries(MULTITAP).find(([, candidates]) => candidates.includes(letter)) ?? assert.fail(`no key types ${letter}`);
        for (let press = 0; press <= letters.indexOf(letter); press += 1) await tap(key as KeypadLegend);
      }
    };

    await controller.start();
    assert.deepEqual([devices.keypad.state(), devices.display.state(), devices.dispenser.state()], ['online', 'online', 'online']);
    assert.deepEqual(await lcdShowsScreen('welcome'), normaliseDisplayLines(['WELCOME', 'A: Log in', 'B: Sign up'], 4, 20));

    await tap('A');
    await lcdShowsScreen('loginUser');
    await typeLetters(USERNAME);
    assert.equal(board().lcd.lines()[2], USERNAME.padEnd(20));
    await tap('#');
    await lcdShowsScreen('loginPassword');
    for (const digit of '23456789') await tap(digit as KeypadLegend);
    assert.equal(board().lcd.lines()[2], '********'.padEnd(20));
    await tap('#');
    assert.deepEqual(await lcdShowsScreen('menu'), normaliseDisplayLines(['A:Balance B:Deposit', 'C:Withdraw D:Logout'], 4, 20));

    await tap('A');
    const balance = await lcdShowsScreen('result');
    assert.equal(balance[0], 'Balance'.padEnd(20));
    assert.ok(view(controller.state).body.includes('Available balance: 150.00'), 'the balance the bank holds');

    await tap('B');
    await lcdShowsScreen('menu');
    await tap('C');
    await lcdShowsScreen('amount');
    await tap('A'); // fast cash 20.00
    const cash = await lcdShowsScreen('result');
    assert.equal(cash[0], 'Cash dispensed'.padEnd(20));
    assert.ok(view(controller.state).body.includes('New balance: 130.00'));
    assert.equal(devices.dispenser.cassettes().reduce((notes, cassette) => notes + cassette.count, 0), 199, 'one 20.00 note left the simulated cassette');

    await tap('D');
    const goodbye = await lcdShowsScreen('welcome');
    assert.equal(goodbye[3], 'Thank you. Goodbye.'.padEnd(20));
  } finally {
    await controller.stop();
    (arduino as EmulatedArduino | null)?.stop();
    await bank.cleanup();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
