// The device seams (hardware/types.ts): one contract suite per interface, run against every
// driver (MQTT.js's abstractStoreTest(build)): the sim drivers in test/hardware/sim.test.ts,
// the serial driver in test/hardware/serial-driver.test.ts. They live here, not in a test file, so
// importing them does not re-run another file's tests. [DESIGN §5]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_NAMES } from '../../hardware/index.js';
import type {
  CashDispenser,
  Cassette,
  DeviceState,
  DispenseFault,
  DispenseResult,
  Display,
  KeyName,
  Keypad,
} from '../../hardware/index.js';

export const faultOf = (result: DispenseResult): DispenseFault | null => (result.ok ? null : result.fault);

// ---------------------------------------------------------------------------------------------
// Contract suites. A harness is a device plus the powers of the world around it; for a serial
// driver the powers act on the firmware simulator at the other end of the pseudo-terminal.
// Every power resolves once the driver could have noticed (delivered the key, seen the cable).

export interface KeypadHarness {
  readonly keypad: Keypad;
  readonly press: (key: KeyName) => Promise<void>;
  readonly unplug: () => Promise<void>;
  readonly replug: () => Promise<void>;
  readonly dispose: () => Promise<void>;
}

export interface DisplayHarness {
  readonly display: Display;
  /** The text the physical device holds now, one string per row. */
  readonly shown: () => Promise<string[]>;
  readonly unplug: () => Promise<void>;
  readonly replug: () => Promise<void>;
  readonly dispose: () => Promise<void>;
}

export interface DispenserHarness {
  readonly dispenser: CashDispenser;
  /** The next dispense presents only afterNotes notes, then jams. */
  readonly jamNext: (afterNotes: number) => Promise<void>;
  readonly clearJam: () => Promise<void>;
  readonly unplug: () => Promise<void>;
  readonly replug: () => Promise<void>;
  readonly dispose: () => Promise<void>;
}

export function recordStates(device: { onState(listener: (state: DeviceState) => void): unknown }): DeviceState[] {
  const states: DeviceState[] = [];
  device.onState((state) => states.push(state));
  return states;
}

export function keypadContract(name: string, build: () => Promise<KeypadHarness>): void {
  const withKeypad = (title: string, body: (harness: KeypadHarness) => Promise<void>): void => {
    test(`${name} keypad: ${title}`, async () => {
      const harness = await build();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });
  };

  withKeypad('after open it is online and delivers every press once, in order', async ({ keypad, press }) => {
    await keypad.open();
    assert.equal(keypad.state(), 'online');
    const keys: KeyName[] = [];
    keypad.onKey((key) => keys.push(key));
    for (const key of KEY_NAMES) await press(key);
    await press('1');
    assert.deepEqual(keys, [...KEY_NAMES, '1']);
  });

  withKeypad('no presses reach listeners after close()', async ({ keypad, press }) => {
    await keypad.open();
    const keys: KeyName[] = [];
    keypad.onKey((key) => keys.push(key));
    await press('4');
    await keypad.close();
    await press('5');
    assert.deepEqual(keys, ['4']);
  });

  withKeypad('an unsubscribed listener hears nothing more; the others still do', async ({ keypad, press }) => {
    await keypad.open();
    const first: KeyName[] = [];
    const second: KeyName[] = [];
    const unsubscribe = keypad.onKey((key) => first.push(key));
    keypad.onKey((key) => second.push(key));
    await press('1');
    unsubscribe();
    await press('2');
    assert.deepEqual(first, ['1']);
    assert.deepEqual(second, ['1', '2']);
  });

  withKeypad(
    'unplug reports offline, drops presses; replug reports online again',
    async ({ keypad, press, unplug, replug }) => {
      await keypad.open();
      const states = recordStates(keypad);
      const keys: KeyName[] = [];
      keypad.onKey((key) => keys.push(key));
      await unplug();
      assert.equal(keypad.state(), 'offline');
      await press('7');
      await replug();
      assert.equal(keypad.state(), 'online');
      await press('8');
      assert.deepEqual(states, ['offline', 'online']);
      assert.deepEqual(keys, ['8']);
    },
  );
}

export function displayContract(name: string, build: () => Promise<DisplayHarness>): void {
  const withDisplay = (title: string, body: (harness: DisplayHarness) => Promise<void>): void => {
    test(`${name} display: ${title}`, async () => {
      const harness = await build();
      try {
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });
  };
  const blank = (display: Display): string => ' '.repeat(display.columns);

  withDisplay('show() replaces the whole display, padding each line and missing rows', async ({ display, shown }) => {
    assert.ok(display.rows >= 2 && display.rows <= 4, 'DESIGN §5: 2-4 text lines');
    await display.open();
    assert.equal(display.state(), 'online');
    await display.show(['first', 'second']);
    await display.show(['only']);
    const expected = [
      'only'.padEnd(display.columns),
      ...Array.from({ length: display.rows - 1 }, () => blank(display)),
    ];
    assert.deepEqual(await shown(), expected);
  });

  withDisplay('show() cuts long lines, drops extra rows, and turns non-ASCII into ?', async ({ display, shown }) => {
    await display.open();
    const long = 'x'.repeat(display.columns + 5);
    const rows = Array.from({ length: display.rows + 2 }, (_, row) =>
      row === 0 ? long : row === 1 ? 'Café ✓' : `row ${row}`,
    );
    await display.show(rows);
    const text = await shown();
    assert.equal(text.length, display.rows);
    assert.equal(text[0], 'x'.repeat(display.columns));
    assert.equal(text[1], 'Caf? ?'.padEnd(display.columns));
    for (const line of text) assert.equal(line.length, display.columns);
  });

  withDisplay(
    'show() while unplugged rejects (never throws synchronously); replug accepts again',
    async ({ display, shown, unplug, replug }) => {
      await display.open();
      const states = recordStates(display);
      await unplug();
      assert.equal(display.state(), 'offline');
      let pending: Promise<void> | undefined;
      assert.doesNotThrow(() => {
        pending = display.show(['lost']);
      });
      await assert.rejects(pending as Promise<void>, Error);
      await replug();
      await display.show(['back']);
      assert.equal((await shown())[0], 'back'.padEnd(display.columns));
      assert.deepEqual(states, ['offline', 'online']);
    },
  );
}

/** Every dispenser under the contract is loaded with these: 3 × 5000 and 10 × 2000 cents. */
export const CONTRACT_CASSETTES: readonly Cassette[] = [
  { denominationCents: 5000, count: 3 },
  { denominationCents: 2000, count: 10 },
];

const totalCents = (cassettes: readonly Cassette[]): number =>
  cassettes.reduce((sum, cassette) => sum + cassette.denominationCents * cassette.count, 0);

export function dispenserContract(
  name: string,
  build: (cassettes: readonly Cassette[]) => Promise<DispenserHarness>,
): void {
  const withDispenser = (title: string, body: (harness: DispenserHarness) => Promise<void>): void => {
    test(`${name} dispenser: ${title}`, async () => {
      const harness = await build(CONTRACT_CASSETTES);
      try {
        await harness.dispenser.open();
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });
  };

  withDispenser('notesFor gives an exact combination, largest notes first', async ({ dispenser }) => {
    assert.deepEqual(dispenser.notesFor(14_000), [
      { denominationCents: 5000, count: 2 },
      { denominationCents: 2000, count: 2 },
    ]);
    assert.deepEqual(dispenser.notesFor(4000), [{ denominationCents: 2000, count: 2 }]);
  });

  withDispenser(
    'notesFor backs off from greedy when the rest cannot be made (6000 = 3 × 2000)',
    async ({ dispenser }) => {
      assert.deepEqual(dispenser.notesFor(6000), [{ denominationCents: 2000, count: 3 }]);
      assert.deepEqual(dispenser.notesFor(11_000), [
        { denominationCents: 5000, count: 1 },
        { denominationCents: 2000, count: 3 },
      ]);
    },
  );

  withDispenser('notesFor is null for amounts the cassettes cannot make exactly', async ({ dispenser }) => {
    for (const amountCents of [
      1000,
      3000,
      2500,
      totalCents(CONTRACT_CASSETTES) + 2000,
      0,
      -2000,
      2000.5,
      Number.NaN,
      Number.POSITIVE_INFINITY,
    ]) {
      assert.equal(dispenser.notesFor(amountCents), null, `amount ${amountCents}`);
    }
  });

  withDispenser('dispense pays out exactly and the cassettes reflect it', async ({ dispenser }) => {
    assert.deepEqual(await dispenser.dispense(14_000), { ok: true, dispensedCents: 14_000 });
    assert.deepEqual(dispenser.cassettes(), [
      { denominationCents: 5000, count: 1 },
      { denominationCents: 2000, count: 8 },
    ]);
    assert.equal(dispenser.state(), 'online');
  });

  withDispenser(
    'an amount it cannot make is refused with nothing dispensed, and never rejects',
    async ({ dispenser }) => {
      for (const amountCents of [3000, 1_000_000, 0, -5000, 20.5, Number.NaN]) {
        const result = await dispenser.dispense(amountCents);
        assert.equal(result.ok, false);
        assert.equal(faultOf(result), 'cannotMake', `amount ${amountCents}`);
        assert.equal(result.dispensedCents, 0);
      }
      assert.deepEqual(dispenser.cassettes(), CONTRACT_CASSETTES);
    },
  );

  withDispenser('counts never go negative: after emptying it, every dispense is refused', async ({ dispenser }) => {
    assert.deepEqual(await dispenser.dispense(totalCents(CONTRACT_CASSETTES)), {
      ok: true,
      dispensedCents: totalCents(CONTRACT_CASSETTES),
    });
    assert.deepEqual(
      dispenser.cassettes().map((cassette) => cassette.count),
      [0, 0],
    );
    assert.equal(dispenser.notesFor(2000), null);
    const result = await dispenser.dispense(2000);
    assert.equal(faultOf(result), 'cannotMake');
  });

  withDispenser(
    'a jam part-way reports the notes already presented and leaves a hardwareError',
    async ({ dispenser, jamNext, clearJam }) => {
      const states = recordStates(dispenser);
      await jamNext(3);
      // 14000 = 5000 × 2 + 2000 × 2, presented largest first: 5000, 5000, 2000, then the jam.
      const result = await dispenser.dispense(14_000);
      assert.equal(result.ok, false);
      assert.equal(faultOf(result), 'jam');
      assert.equal(result.dispensedCents, 12_000);
      assert.deepEqual(dispenser.cassettes(), [
        { denominationCents: 5000, count: 1 },
        { denominationCents: 2000, count: 9 },
      ]);
      assert.equal(dispenser.state(), 'hardwareError');
      const refused = await dispenser.dispense(2000);
      assert.equal(faultOf(refused), 'hardwareError');
      assert.equal(refused.dispensedCents, 0);
      await clearJam();
      assert.equal(dispenser.state(), 'online');
      assert.equal(states.at(-1), 'online');
      assert.ok(states.includes('hardwareError'));
      assert.deepEqual(await dispenser.dispense(2000), { ok: true, dispensedCents: 2000 });
    },
  );

  withDispenser(
    'offline: dispense reports fault offline with nothing dispensed; replug restores it',
    async ({ dispenser, unplug, replug }) => {
      const states = recordStates(dispenser);
      await unplug();
      assert.equal(dispenser.state(), 'offline');
      const result = await dispenser.dispense(2000);
      assert.equal(faultOf(result), 'offline');
      assert.equal(result.dispensedCents, 0);
      assert.deepEqual(dispenser.cassettes(), CONTRACT_CASSETTES);
      await replug();
      assert.equal(dispenser.state(), 'online');
      assert.deepEqual(states, ['offline', 'online']);
    },
  );
}
