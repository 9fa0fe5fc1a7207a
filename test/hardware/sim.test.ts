// The sim drivers (hardware/sim.ts) against the device contract suites
// (test/helpers/hardware-contracts.ts), then the sim's own test powers and the keyboard →
// keypad map. [DESIGN §5]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  KEY_NAMES,
  SimAcceptor,
  KEYBOARD_MAP_TABLE,
  SIM_CASSETTES_DEFAULT,
  SimDispenser,
  SimDisplay,
  SimKeypad,
  createSimDevices,
  keyFromTerminal,
  notesForAmount,
  DISPLAY_HISTORY_MAX,
  NOTES_SEARCH_STEPS_MAX,
} from '../../hardware/index.js';
import type { Cassette, DispenseResult, KeyName } from '../../hardware/index.js';
import {
  acceptorContract,
  CONTRACT_ACCEPTED,
  CONTRACT_CAPACITY_NOTES,
  dispenserContract,
  displayContract,
  faultOf,
  keypadContract,
  recordStates,
} from '../helpers/hardware-contracts.js';

const detailOf = (result: DispenseResult): string => (result.ok ? '' : result.detail);

// ---------------------------------------------------------------------------------------------
// The contracts against the sim drivers.

acceptorContract('sim', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-acceptor-'));
  const options = {
    denominationsCents: CONTRACT_ACCEPTED,
    capacityNotes: CONTRACT_CAPACITY_NOTES,
    stateFile: path.join(dir, 'cash-in.json'),
  };
  let acceptor = new SimAcceptor(options);
  return {
    get acceptor() {
      return acceptor;
    },
    insert: async (note) => void acceptor.insert(note),
    jamNext: async () => acceptor.jamNext(),
    clearJam: async () => acceptor.clearJam(),
    leaveNextReturn: async () => acceptor.leaveNextReturn(),
    unplug: async () => acceptor.unplug(),
    replug: async () => acceptor.replug(),
    restart: async () => {
      await acceptor.close();
      acceptor = new SimAcceptor(options);
      return acceptor;
    },
    dispose: async () => {
      await acceptor.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

keypadContract('sim', async () => {
  const keypad = new SimKeypad();
  return {
    keypad,
    press: async (key) => void keypad.press(key),
    unplug: async () => keypad.unplug(),
    replug: async () => keypad.replug(),
    dispose: () => keypad.close(),
  };
});

displayContract('sim', async () => {
  const display = new SimDisplay();
  return {
    display,
    shown: async () => display.lines(),
    unplug: async () => display.unplug(),
    replug: async () => display.replug(),
    dispose: () => display.close(),
  };
});

dispenserContract('sim', async (cassettes) => {
  const dispenser = new SimDispenser({ cassettes });
  return {
    dispenser,
    jamNext: async (afterNotes) => dispenser.jamNext({ afterNotes }),
    clearJam: async () => dispenser.clearJam(),
    unplug: async () => dispenser.unplug(),
    replug: async () => dispenser.replug(),
    dispose: () => dispenser.close(),
  };
});

// ---------------------------------------------------------------------------------------------
// Sim keypad.

test('sim keypad: offline before open; press() says whether the key was delivered', async () => {
  const keypad = new SimKeypad();
  const keys: KeyName[] = [];
  keypad.onKey((key) => keys.push(key));
  assert.equal(keypad.kind, 'sim');
  assert.equal(keypad.state(), 'offline');
  assert.equal(keypad.press('1'), false);
  await keypad.open();
  assert.equal(keypad.press('2'), true);
  keypad.unplug();
  assert.equal(keypad.press('3'), false);
  assert.deepEqual(keys, ['2']);
});

test('sim keypad: open, unplug, replug and close each tell state listeners once; repeats say nothing', async () => {
  const keypad = new SimKeypad();
  const states = recordStates(keypad);
  await keypad.open();
  await keypad.open();
  keypad.unplug();
  keypad.unplug();
  keypad.replug();
  await keypad.close();
  assert.deepEqual(states, ['online', 'offline', 'online', 'offline']);
});

test('sim keypad: unplugged at open() it opens offline and comes online when plugged in', async () => {
  const keypad = new SimKeypad();
  const states = recordStates(keypad);
  keypad.unplug();
  await keypad.open();
  assert.equal(keypad.state(), 'offline');
  keypad.replug();
  assert.deepEqual(states, ['online']);
});

test('sim keypad: a key name outside KEY_NAMES is a programmer error', async () => {
  const keypad = new SimKeypad();
  await keypad.open();
  assert.throws(() => keypad.press('E' as KeyName), /unknown key/);
});

// ---------------------------------------------------------------------------------------------
// Sim display.

test('sim display: 4 × 20 by default and blank; rows and columns are configurable', async () => {
  const display = new SimDisplay();
  assert.equal(display.kind, 'sim');
  assert.deepEqual([display.rows, display.columns], [4, 20]);
  assert.deepEqual(
    display.lines(),
    Array.from({ length: 4 }, () => ' '.repeat(20)),
  );
  const small = new SimDisplay({ rows: 2, columns: 16 });
  await small.open();
  await small.show(['Balance', '$1,234.56', 'dropped']);
  assert.deepEqual(small.lines(), ['Balance         ', '$1,234.56       ']);
  assert.throws(() => new SimDisplay({ rows: 0 }), /rows/);
  assert.throws(() => new SimDisplay({ columns: 41 }), /columns/);
});

test('sim display: control characters become ?, and an emoji is one character', async () => {
  const display = new SimDisplay({ rows: 2, columns: 8 });
  await display.open();
  await display.show(['a\tb\nc\x7f', 'PIN 😀 ok']);
  assert.deepEqual(display.lines(), ['a?b?c?  ', 'PIN ? ok']);
});

test('sim display: show() rejects before open and after close, and shows nothing', async () => {
  const display = new SimDisplay();
  await assert.rejects(display.show(['early']), /offline/);
  await display.open();
  await display.show(['hello']);
  await display.close();
  await assert.rejects(display.show(['late']), /offline/);
  assert.equal(display.lines()[0], 'hello'.padEnd(20));
  assert.equal(display.history.length, 1);
});

test('sim display: history keeps the last 100 shows, normalised, oldest first, as copies', async () => {
  const display = new SimDisplay({ rows: 2, columns: 4 });
  await display.open();
  for (let index = 0; index < DISPLAY_HISTORY_MAX + 5; index += 1) await display.show([String(index)]);
  const history = display.history;
  assert.equal(history.length, DISPLAY_HISTORY_MAX);
  assert.deepEqual(history[0], ['5   ', '    ']);
  assert.deepEqual(history.at(-1), ['104 ', '    ']);
  history[0].splice(0);
  assert.deepEqual(display.history[0], ['5   ', '    ']);
});

test('sim display: onChange mirrors every show and the blank screen of an unplug', async () => {
  const display = new SimDisplay({ rows: 2, columns: 5 });
  const changes: string[][] = [];
  const unsubscribe = display.onChange((lines) => changes.push(lines));
  await display.open();
  await display.show(['hi']);
  display.unplug();
  display.replug();
  unsubscribe();
  await display.show(['gone']);
  assert.deepEqual(changes, [
    ['hi   ', '     '],
    ['     ', '     '],
  ]);
  assert.deepEqual(display.lines(), ['gone ', '     ']);
});

test('sim display: a throwing onChange listener does not stop the others or the show', async () => {
  const display = new SimDisplay({ rows: 1, columns: 3 });
  const seen: string[][] = [];
  const thrown: unknown[] = [];
  display.onChange(() => {
    throw new Error('panel bug');
  });
  display.onChange((lines) => seen.push(lines));
  // The listener's error surfaces on a microtask; catch it there so this test can observe it.
  const original = globalThis.queueMicrotask;
  globalThis.queueMicrotask = (callback) => {
    try {
      callback();
    } catch (error) {
      thrown.push(error);
    }
  };
  try {
    await display.open();
    await display.show(['ok']);
  } finally {
    globalThis.queueMicrotask = original;
  }
  assert.deepEqual(seen, [['ok ']]);
  assert.equal(thrown.length, 1);
  assert.match(String(thrown[0]), /panel bug/);
});

// ---------------------------------------------------------------------------------------------
// Sim dispenser.

/** A sleep the test releases by hand, so "Dispensing…" can be observed without waiting. */
function manualSleep(): { sleep: (ms: number) => Promise<void>; requestedMs: number[]; release: () => void } {
  const requestedMs: number[] = [];
  const waiting: (() => void)[] = [];
  return {
    requestedMs,
    sleep: (ms) => {
      requestedMs.push(ms);
      return new Promise<void>((resolve) => waiting.push(resolve));
    },
    release: () => {
      for (const resolve of waiting.splice(0)) resolve();
    },
  };
}

test('sim dispenser: by default 100 notes of 2000 cents and 100 of 1000 cents, so 50.00 can be paid', async () => {
  const dispenser = new SimDispenser();
  assert.equal(dispenser.kind, 'sim');
  assert.deepEqual(dispenser.cassettes(), [...SIM_CASSETTES_DEFAULT]);
  assert.deepEqual(dispenser.cassettes(), [
    { denominationCents: 2000, count: 100 },
    { denominationCents: 1000, count: 100 },
  ]);
  assert.equal(dispenser.state(), 'offline');
  await dispenser.open();
  assert.deepEqual(dispenser.notesFor(5000), [
    { denominationCents: 2000, count: 2 },
    { denominationCents: 1000, count: 1 },
  ]);
  assert.deepEqual(await dispenser.dispense(10_000), { ok: true, dispensedCents: 10_000 });
  assert.deepEqual(dispenser.cassettes(), [
    { denominationCents: 2000, count: 95 },
    { denominationCents: 1000, count: 100 },
  ]);
  assert.equal(dispenser.notesFor(500), null);
  assert.deepEqual(dispenser.notesFor(290_000), [
    { denominationCents: 2000, count: 95 },
    { denominationCents: 1000, count: 100 },
  ]);
  assert.equal(dispenser.notesFor(291_000), null);
});

/** One cassette of twenties, for the tests below that count notes of a single size. */
const TWENTIES = [{ denominationCents: 2000, count: 100 }];

test('sim dispenser: cassettes() and notesFor() hand out copies', async () => {
  const dispenser = new SimDispenser({ cassettes: TWENTIES });
  const cassettes = dispenser.cassettes();
  const first = cassettes[0];
  assert.ok(first !== undefined);
  first.count = 0;
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 2000, count: 100 }]);
});

test('sim dispenser: jamNext() defaults to jamming before the first note', async () => {
  const dispenser = new SimDispenser({ cassettes: TWENTIES });
  await dispenser.open();
  dispenser.jamNext();
  const result = await dispenser.dispense(6000);
  assert.deepEqual(result, { ok: false, fault: 'jam', dispensedCents: 0, detail: 'notes jammed after 0 presented' });
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 2000, count: 100 }]);
  assert.equal(dispenser.state(), 'hardwareError');
});

test('sim dispenser: a jam stays armed through refused dispenses until notes move', async () => {
  const dispenser = new SimDispenser({ cassettes: TWENTIES });
  await dispenser.open();
  dispenser.jamNext({ afterNotes: 1 });
  const refused = await dispenser.dispense(1000);
  assert.equal(faultOf(refused), 'cannotMake');
  assert.equal(dispenser.state(), 'online');
  const jammed = await dispenser.dispense(6000);
  assert.equal(faultOf(jammed), 'jam');
  assert.equal(jammed.dispensedCents, 2000);
  dispenser.clearJam();
  assert.deepEqual(await dispenser.dispense(2000), { ok: true, dispensedCents: 2000 });
});

test('sim dispenser: a jam armed past the last note presents everything, then reports the jam', async () => {
  const dispenser = new SimDispenser({ cassettes: TWENTIES });
  await dispenser.open();
  dispenser.jamNext({ afterNotes: 50 });
  const result = await dispenser.dispense(4000);
  assert.equal(faultOf(result), 'jam');
  assert.equal(result.dispensedCents, 4000);
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 2000, count: 98 }]);
});

test('sim dispenser: isLow() once any cassette is at or below lowCashCount', async () => {
  const dispenser = new SimDispenser({ cassettes: [{ denominationCents: 2000, count: 12 }], lowCashCount: 10 });
  await dispenser.open();
  assert.equal(dispenser.lowCashCount, 10);
  assert.equal(dispenser.isLow(), false);
  await dispenser.dispense(2000);
  assert.equal(dispenser.isLow(), false);
  await dispenser.dispense(2000);
  assert.equal(dispenser.isLow(), true);
  assert.equal(new SimDispenser().isLow(), false);
  dispenser.setCassettes([
    { denominationCents: 5000, count: 50 },
    { denominationCents: 1000, count: 0 },
  ]);
  assert.equal(dispenser.isLow(), true, 'an empty cassette is low');
});

test('sim dispenser: with delayMs it is deviceBusy while picking, through the injected sleep', async () => {
  const clock = manualSleep();
  const dispenser = new SimDispenser({ cassettes: TWENTIES, delayMs: 1500, sleep: clock.sleep });
  await dispenser.open();
  const states = recordStates(dispenser);
  const pending = dispenser.dispense(4000);
  assert.deepEqual(clock.requestedMs, [1500]);
  assert.equal(dispenser.state(), 'deviceBusy');
  const concurrent = dispenser.dispense(2000);
  assert.throws(() => dispenser.setCassettes([{ denominationCents: 2000, count: 1 }]), /during a dispense/);
  clock.release();
  const second = await concurrent;
  assert.equal(faultOf(second), 'hardwareError');
  assert.match(detailOf(second), /one at a time/);
  assert.equal(second.dispensedCents, 0);
  assert.deepEqual(await pending, { ok: true, dispensedCents: 4000 });
  assert.deepEqual(states, ['deviceBusy', 'online']);
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 2000, count: 98 }]);
});

test('sim dispenser: unplugged while picking, nothing is presented', async () => {
  const clock = manualSleep();
  const dispenser = new SimDispenser({ cassettes: TWENTIES, delayMs: 10, sleep: clock.sleep });
  await dispenser.open();
  const pending = dispenser.dispense(4000);
  dispenser.unplug();
  clock.release();
  const result = await pending;
  assert.equal(faultOf(result), 'offline');
  assert.equal(result.dispensedCents, 0);
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 2000, count: 100 }]);
});

test('sim dispenser: a failing sleep is a hardwareError result, not a rejection', async () => {
  const dispenser = new SimDispenser({ delayMs: 10, sleep: () => Promise.reject(new Error('motor stalled')) });
  await dispenser.open();
  const result = await dispenser.dispense(2000);
  assert.equal(faultOf(result), 'hardwareError');
  assert.match(detailOf(result), /motor stalled/);
  assert.equal(result.dispensedCents, 0);
  assert.equal(dispenser.state(), 'online');
});

test('sim dispenser: setCassettes replaces the load; bad loads are programmer errors', () => {
  const dispenser = new SimDispenser({ cassettes: TWENTIES });
  dispenser.setCassettes([
    { denominationCents: 1000, count: 5 },
    { denominationCents: 5000, count: 2 },
  ]);
  assert.deepEqual(dispenser.notesFor(13_000), [
    { denominationCents: 5000, count: 2 },
    { denominationCents: 1000, count: 3 },
  ]);
  assert.throws(() => dispenser.setCassettes([]), /cassettes/);
  assert.throws(() => dispenser.setCassettes([{ denominationCents: 0, count: 1 }]), /denomination/);
  assert.throws(() => dispenser.setCassettes([{ denominationCents: 2000, count: -1 }]), /count/);
  assert.throws(() => dispenser.setCassettes([{ denominationCents: 2000, count: 1.5 }]), /count/);
  assert.throws(
    () =>
      dispenser.setCassettes([
        { denominationCents: 2000, count: 1 },
        { denominationCents: 2000, count: 2 },
      ]),
    /one cassette per denomination/,
  );
  assert.throws(
    () =>
      dispenser.setCassettes(
        Array.from({ length: 9 }, (_, index) => ({ denominationCents: 100 * (index + 1), count: 1 })),
      ),
    /cassettes/,
  );
  assert.throws(() => new SimDispenser({ lowCashCount: -1 }), /lowCashCount/);
  assert.throws(() => new SimDispenser({ delayMs: 0.5 }), /delayMs/);
});

test('notesForAmount: backtracks as deep as needed, within a bounded number of steps', () => {
  // Greedy takes 500 × 2 and then cannot make 400 from 300s and one 200; 500 + 300 × 3 works.
  const cassettes: Cassette[] = [
    { denominationCents: 500, count: 3 },
    { denominationCents: 300, count: 3 },
    { denominationCents: 200, count: 1 },
  ];
  assert.deepEqual(notesForAmount(cassettes, 1400), [
    { denominationCents: 500, count: 1 },
    { denominationCents: 300, count: 3 },
  ]);
  assert.deepEqual(notesForAmount(cassettes, 1500), [{ denominationCents: 500, count: 3 }]);
  assert.deepEqual(notesForAmount(cassettes, 200), [{ denominationCents: 200, count: 1 }]);
  assert.equal(notesForAmount(cassettes, 100), null);
  assert.deepEqual(notesForAmount(cassettes, 2600)?.length, 3, 'everything it holds');
  assert.equal(notesForAmount(cassettes, 2700), null, 'more than it holds');
  // Past the step bound the answer is null: never a wrong combination, only a refusal.
  assert.equal(notesForAmount(cassettes, 1400, 2), null);
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- guards the constant against a later edit
  assert.ok(NOTES_SEARCH_STEPS_MAX >= 10_000);
});

test('createSimDevices: sim devices with their test powers, options passed through', async () => {
  const { keypad, display, dispenser } = createSimDevices({
    display: { rows: 2, columns: 16 },
    dispenser: { cassettes: [{ denominationCents: 5000, count: 3 }] },
  });
  assert.ok(keypad instanceof SimKeypad);
  assert.deepEqual([display.rows, display.columns], [2, 16]);
  assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 5000, count: 3 }]);
  assert.deepEqual(createSimDevices().display.rows, 4);
});

// ---------------------------------------------------------------------------------------------
// Keyboard → keypad map. The fixtures are what blessed passes to 'keypress' for each key
// (lib/keys.js, then program.js, which renames '\n' to 'linefeed' and re-emits '\r' as
// 'enter' before the original 'return'); printable keys come as ch with no key name.

type Keypress = [
  ch: string | undefined,
  key: { name?: string; full?: string; ctrl?: boolean; shift?: boolean } | undefined,
];
const typed = (ch: string): Keypress => [ch, { full: ch }];
const named = (name: string, ch?: string): Keypress => [ch, { name, full: name }];
const letter = (ch: string): Keypress => [
  ch,
  {
    name: ch.toLowerCase(),
    full: ch === ch.toUpperCase() ? `S-${ch.toLowerCase()}` : ch,
    shift: ch === ch.toUpperCase(),
  },
];
const digit = (ch: KeyName, numLockOffName: string): Keypress[] => [typed(ch), named(numLockOffName)];

const KEYPRESSES: Readonly<Record<KeyName, readonly Keypress[]>> = {
  '0': digit('0', 'insert'),
  '1': digit('1', 'end'),
  '2': digit('2', 'down'),
  '3': digit('3', 'pagedown'),
  '4': digit('4', 'left'),
  // blessed names numpad 5 (NumLock off, ESC [ E) 'clear'; other libraries say 'begin'.
  '5': [...digit('5', 'clear'), named('begin')],
  '6': digit('6', 'right'),
  '7': digit('7', 'home'),
  '8': digit('8', 'up'),
  '9': digit('9', 'pageup'),
  enter: [named('enter', '\r'), typed('#'), named('linefeed', '\n')],
  clear: [typed('*'), named('delete'), typed('.'), typed('+')],
  cancel: [named('escape', '\x1b'), typed('-')],
  backspace: [named('backspace', '\x7f'), typed('/')],
  A: [named('f1'), letter('a'), letter('A')],
  B: [named('f2'), letter('b'), letter('B')],
  C: [named('f3'), letter('c'), letter('C')],
  D: [named('f4'), letter('d'), letter('D')],
};

test('keymap: the table has exactly one row per keypad key', () => {
  assert.deepEqual(KEYBOARD_MAP_TABLE.map((row) => row.keypad).sort(), [...KEY_NAMES].sort());
  for (const row of KEYBOARD_MAP_TABLE) assert.ok(row.keyboard.length > 0 && row.meaning.length > 0);
});

test("keymap: every key of every row maps to that row's keypad key", () => {
  for (const row of KEYBOARD_MAP_TABLE) {
    const keypresses = KEYPRESSES[row.keypad];
    assert.ok(keypresses.length >= 1, `fixtures for ${row.keypad}`);
    for (const [ch, key] of keypresses)
      assert.equal(keyFromTerminal(ch, key), row.keypad, `${row.keyboard}: ${JSON.stringify([ch, key])}`);
  }
});

test('keymap: one Enter is one enter, although blessed reports it twice', () => {
  const presses = [named('enter', '\r'), named('return', '\r')].map(([ch, key]) => keyFromTerminal(ch, key));
  assert.deepEqual(presses, ['enter', null]);
});

test('keymap: other keys, Ctrl and Alt combinations, and mouse events map to null', () => {
  const unknown: Keypress[] = [
    typed('e'),
    letter('E'),
    letter('z'),
    named('space', ' '),
    named('tab', '\t'),
    named('f5'),
    named('f12'),
    typed('='),
    typed('é'),
    [undefined, undefined],
    ['12', undefined],
    [undefined, { name: 'mouse' }],
    ['\x03', { name: 'c', full: 'C-c', ctrl: true }],
    ['\x01', { name: 'a', full: 'C-a', ctrl: true }],
    ['5', { full: 'C-5', ctrl: true }],
    [undefined, { name: 'a', full: 'M-a' }],
    [undefined, { name: '5', full: 'M-5' }],
  ];
  for (const [ch, key] of unknown) assert.equal(keyFromTerminal(ch, key), null, JSON.stringify([ch, key]));
});
