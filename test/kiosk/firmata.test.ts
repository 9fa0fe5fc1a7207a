// The kiosk on the firmata driver: KioskController in-process with the devices of
// `--device firmata:PATH` (hardware/factory.ts → hardware/firmata.ts), a real bank
// (startTestBank: LevelDB, TCP on loopback), KioskLink and a KioskJournal in a temp dir. PATH is
// one end of a socat pty pair opened with serialport's native binding; on the other end an
// emulated Uno runs the real StandardFirmata (firmware-sim/). The customer presses keys on the
// emulated 4×4 keypad; the test reads the emulated LCD. Skips, saying why, when the
// StandardFirmata hex is not cached. Waits poll with deadlines.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { startEmulatedArduino, type EmulatedArduino } from '../../firmware-sim/emulated-arduino.js';
import { loadStandardFirmata } from '../../firmware-sim/firmata-hex.js';
import { closeSerialPort, openPtyPair, openSerialPath } from '../../firmware-sim/pty.js';
import { createDevices } from '../../hardware/factory.js';
import {
  FIRMATA_BAUD_RATE,
  KEY_FOR_LEGEND,
  type FirmataDriverOptions,
  type KeypadLegend,
} from '../../hardware/firmata.js';
import { normaliseDisplayLines } from '../../hardware/sim.js';
import { MULTITAP } from '../../kiosk/flow.js';
import { lcdLines, view } from '../../kiosk/view.js';
import { makeTempDir, startTestBank } from '../helpers/bank.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { waitUntil } from '../helpers/wait.js';

const firmware = loadStandardFirmata();
const skip =
  'reason' in firmware
    ? `StandardFirmata hex not available (node scripts/fetch-firmata.mjs fetches it): ${firmware.reason}`
    : false;

const until = (condition: () => boolean, what: () => string, timeoutMs = 10_000): Promise<void> =>
  waitUntil(condition, what, timeoutMs);

const USERNAME = 'bead';
/** Typed on the keypad as 2 3 4 5 6 7 8 9: the first letter of each key. */
const PASSWORD = 'adgjmptw';

test(
  'atm kiosk --device firmata:PATH: log in, balance, a withdrawal and log out from the emulated keypad, each screen exact on the emulated LCD; unplugged, all go offline',
  { skip, timeout: 60_000 },
  async () => {
    assert.ok(!('reason' in firmware));
    const bank = await startTestBank();
    const dir = makeTempDir('atm-kiosk-firmata-');
    // The Uno's USB cable: the emulated board's serial line bridged to the device end of the pty pair.
    const pair = await openPtyPair();
    const arduino: EmulatedArduino = startEmulatedArduino({ hex: firmware.program });
    const cable = await openSerialPath(pair.devicePath, FIRMATA_BAUD_RATE);
    cable.on('data', (data: Buffer) => arduino.transport.write(data));
    cable.on('error', () => undefined); // EIO once socat is gone: the cable is pulled on purpose
    arduino.transport.on('data', (data: Buffer) => cable.isOpen && cable.write(data));
    // A pty has no DTR to reset the board when the kiosk opens its end, and opening flushes what
    // the board said at boot: firmata-io asks for the version after 500 ms instead.
    const logs: string[] = [];
    const options: FirmataDriverOptions = {
      log: (line) => logs.push(line),
      firmata: { openWaitMs: 15_000, keypadHoldMs: 300, reportVersionTimeoutMs: 500 },
    };
    const devices = await createDevices(`firmata:${pair.hostPath}`, options);
    const board = (): EmulatedArduino => arduino;
    const { controller } = kioskOnTestBank(bank, { devices, dir });
    try {
      const seeded = await bank.loginAs(USERNAME, PASSWORD);
      assert.ok((await seeded.request({ op: 'deposit', txnId: 'seed-bead', amountCents: 150_00 })).ok);
      await seeded.request({ op: 'logout' });
      seeded.close();

      /** The LCD's glass shows exactly what the kiosk's current screen puts on a 4×20 display. */
      const lcdShowsScreen = async (screen: string): Promise<string[]> => {
        const expected = (): string[] => normaliseDisplayLines(lcdLines(controller.state), 4, 20);
        await until(
          () =>
            controller.state.screen.name === screen &&
            JSON.stringify(board().lcd.lines()) === JSON.stringify(expected()),
          () =>
            `the ${screen} screen on the LCD; kiosk is on ${controller.state.screen.name} (${JSON.stringify(expected())}), LCD shows ${JSON.stringify(board().lcd.lines())}`,
        );
        return board().lcd.lines();
      };
      const lcdRowShows = (row: number, text: string): Promise<void> =>
        until(
          () => board().lcd.lines()[row] === text.padEnd(20),
          () => `${JSON.stringify(text)} on LCD row ${row}; LCD shows ${JSON.stringify(board().lcd.lines())}`,
        );
      /** A tap on the emulated keypad: held until the kiosk saw the key (or, for * and #, two keypad samples), then released. */
      const tap = async (legend: KeypadLegend): Promise<void> => {
        const arduinoNow = board();
        const reads = (): number => arduinoNow.keypadBackpack.reads;
        let seen = false;
        const unsubscribe = devices.keypad.onKey((key) => (seen ||= key === KEY_FOR_LEGEND[legend]));
        try {
          arduinoNow.keypad.press(legend);
          const start = reads();
          if (legend === '*' || legend === '#')
            await until(
              () => reads() >= start + 2,
              () => 'two keypad samples',
            );
          else
            await until(
              () => seen,
              () => `key ${legend} at the kiosk`,
            );
          arduinoNow.keypad.release();
          await until(
            () => seen,
            () => `key ${legend} at the kiosk`,
          );
          const released = reads();
          await until(
            () => reads() >= released + 3,
            () => 'three keypad samples after the release',
          );
        } finally {
          unsubscribe();
        }
      };
      /** Letters by multi-tap, as on a phone (no two letters in a row on one key here). */
      const typeLetters = async (word: string): Promise<void> => {
        for (const letter of word) {
          const [key, letters] =
            Object.entries(MULTITAP).find(([, candidates]) => candidates.includes(letter)) ??
            assert.fail(`no key types ${letter}`);
          for (let press = 0; press <= letters.indexOf(letter); press += 1) await tap(key as KeypadLegend);
        }
      };

      await controller.start();
      assert.deepEqual(
        [devices.keypad.state(), devices.display.state(), devices.dispenser.state()],
        ['online', 'online', 'online'],
      );
      assert.equal(devices.keypad.kind, 'firmata');
      assert.deepEqual(
        await lcdShowsScreen('welcome'),
        normaliseDisplayLines(['WELCOME', 'A: Log in', 'B: Sign up'], 4, 20),
      );

      await tap('A');
      await lcdShowsScreen('loginUser');
      await typeLetters(USERNAME);
      await lcdRowShows(2, USERNAME);
      await tap('#');
      await lcdShowsScreen('loginPassword');
      for (const digit of '23456789') await tap(digit as KeypadLegend);
      await lcdRowShows(2, '********');
      await tap('#');
      assert.deepEqual(
        await lcdShowsScreen('menu'),
        normaliseDisplayLines(['A:Balance B:Deposit', 'C:Withdraw D:Logout'], 4, 20),
      );

      await tap('A');
      const balance = await lcdShowsScreen('result');
      assert.equal(balance[0], 'BALANCE'.padEnd(20));
      assert.equal(balance[1], 'Available: 150.00'.padEnd(20));
      assert.ok(view(controller.state).body.includes('Available balance: 150.00'), 'the balance the bank holds');

      await tap('B');
      await lcdShowsScreen('menu');
      await tap('C');
      await lcdShowsScreen('amount');
      await tap('A'); // fast cash 20.00
      await lcdShowsScreen('confirm');
      await tap('#');
      const cash = await lcdShowsScreen('result');
      assert.equal(cash[0], 'TAKE YOUR CASH'.padEnd(20));
      assert.ok(view(controller.state).body.includes('New balance: 130.00'));
      assert.equal(
        devices.dispenser.cassettes().reduce((notes, cassette) => notes + cassette.count, 0),
        199,
        'one 20.00 note left the simulated cassette',
      );

      await tap('D');
      const goodbye = await lcdShowsScreen('welcome');
      assert.equal(goodbye[3], 'Goodbye'.padEnd(20));

      // The cable goes (socat ends): all three devices go offline together, whether the port
      // reports the hang-up or only goes quiet (a hung-up pty sometimes never says so).
      await pair.close();
      await until(
        () =>
          [devices.keypad.state(), devices.display.state(), devices.dispenser.state()].every(
            (state) => state === 'offline',
          ),
        () =>
          `all three devices offline; they are ${JSON.stringify([devices.keypad.state(), devices.display.state(), devices.dispenser.state()])}; driver log: ${logs.slice(-5).join(' | ')}`,
      );
      await until(
        () => controller.state.devices.display === 'offline',
        () => 'the kiosk to see the display offline',
      );
    } finally {
      await controller.stop();
      arduino.stop();
      await closeSerialPort(cable);
      await pair.close();
      await bank.cleanup();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  },
);
