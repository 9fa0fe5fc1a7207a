// The device seams (hardware/types.ts): one contract suite per interface, run against every
// driver (MQTT.js's abstractStoreTest(build)): the sim drivers in test/hardware/sim.test.ts,
// the serial driver in test/hardware/serial-driver.test.ts. They live here, not in a test file, so
// importing them does not re-run another file's tests. [DESIGN §5]
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KEY_NAMES } from '../../hardware/index.js';
import type {
  CashAcceptor,
  CashInFault,
  CashInResult,
  EscrowCount,
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

// ---------------------------------------------------------------------------------------------
// The cash-in module (CashAcceptor). The harness inserts notes as a customer would.

export interface AcceptorHarness {
  readonly acceptor: CashAcceptor;
  /** A note into the slot (a denomination, or 'torn' for one the validator refuses). */
  readonly insert: (note: number | 'torn') => Promise<void>;
  /** The next store or return jams with the notes in the escrow. */
  readonly jamNext: () => Promise<void>;
  readonly clearJam: () => Promise<void>;
  /** The customer does not take the next returned notes. */
  readonly leaveNextReturn: () => Promise<void>;
  readonly unplug: () => Promise<void>;
  readonly replug: () => Promise<void>;
  /** Power off and on again (a new driver on the same device): what the escrow kept. */
  readonly restart: () => Promise<CashAcceptor>;
  readonly dispose: () => Promise<void>;
}

/** Accepted by every contract acceptor: 20.00 and 10.00 notes, a cassette of 5 notes. */
export const CONTRACT_ACCEPTED: readonly number[] = [2000, 1000];
export const CONTRACT_CAPACITY_NOTES = 5;

const cashInFault = (result: CashInResult): CashInFault | null => (result.ok ? null : result.fault);

export function acceptorContract(name: string, build: () => Promise<AcceptorHarness>): void {
  const withAcceptor = (title: string, body: (harness: AcceptorHarness) => Promise<void>): void => {
    test(`${name} cash-in: ${title}`, async () => {
      const harness = await build();
      try {
        await harness.acceptor.open();
        await body(harness);
      } finally {
        await harness.dispose();
      }
    });
  };

  withAcceptor('notes are counted into the escrow by denomination, refused ones counted apart', async (h) => {
    const heard: EscrowCount[] = [];
    h.acceptor.onEscrow((escrow) => heard.push(escrow));
    assert.deepEqual(await h.acceptor.openSlot(), { ok: true, escrow: { notes: [], totalCents: 0, rejected: 0 } });
    assert.equal(h.acceptor.state(), 'deviceBusy');
    for (const note of [2000, 1000, 2000, 'torn', 500] as const) await h.insert(note);
    const expected = {
      notes: [
        { denominationCents: 2000, count: 2 },
        { denominationCents: 1000, count: 1 },
      ],
      totalCents: 5000,
      rejected: 2,
    };
    assert.deepEqual(h.acceptor.escrow(), expected);
    assert.deepEqual(heard.at(-1), expected);
    assert.deepEqual(await h.acceptor.closeSlot(), { ok: true, escrow: expected });
    assert.equal(h.acceptor.state(), 'online');
  });

  withAcceptor('no note is counted while the slot is closed', async (h) => {
    await h.insert(2000);
    assert.deepEqual(h.acceptor.escrow(), { notes: [], totalCents: 0, rejected: 0 });
  });

  withAcceptor('store moves the escrow into the cassette, exactly once', async (h) => {
    await h.acceptor.openSlot();
    await h.insert(2000);
    await h.insert(2000);
    await h.acceptor.closeSlot();
    assert.deepEqual(await h.acceptor.store(), { ok: true, escrow: { notes: [], totalCents: 0, rejected: 0 } });
    assert.deepEqual(h.acceptor.cassette(), [{ denominationCents: 2000, count: 2 }]);
    await h.acceptor.store();
    assert.deepEqual(h.acceptor.cassette(), [{ denominationCents: 2000, count: 2 }]);
  });

  withAcceptor('returned notes leave the escrow and never reach the cassette', async (h) => {
    await h.acceptor.openSlot();
    await h.insert(1000);
    await h.acceptor.closeSlot();
    assert.equal((await h.acceptor.returnNotes()).ok, true);
    assert.equal(h.acceptor.escrow().totalCents, 0);
    assert.deepEqual(h.acceptor.cassette(), []);
  });

  withAcceptor('notes not taken back are retained and reported, not kept in the escrow', async (h) => {
    await h.acceptor.openSlot();
    await h.insert(2000);
    await h.acceptor.closeSlot();
    await h.leaveNextReturn();
    const result = await h.acceptor.returnNotes();
    assert.equal(cashInFault(result), 'notesNotTaken');
    assert.equal(h.acceptor.escrow().totalCents, 0);
    assert.deepEqual(h.acceptor.cassette(), []);
  });

  withAcceptor('a jam keeps the notes in the escrow until cleared; nothing is lost', async (h) => {
    const states = recordStates(h.acceptor);
    await h.acceptor.openSlot();
    await h.insert(2000);
    await h.acceptor.closeSlot();
    await h.jamNext();
    assert.equal(cashInFault(await h.acceptor.store()), 'escrowJam');
    assert.equal(h.acceptor.state(), 'hardwareError');
    assert.equal(h.acceptor.escrow().totalCents, 2000);
    assert.equal(cashInFault(await h.acceptor.store()), 'escrowJam');
    await h.clearJam();
    assert.equal(h.acceptor.state(), 'online');
    assert.ok(states.includes('hardwareError'));
    assert.equal((await h.acceptor.store()).ok, true);
    assert.deepEqual(h.acceptor.cassette(), [{ denominationCents: 2000, count: 1 }]);
  });

  withAcceptor('a full cassette refuses to store and keeps the escrow', async (h) => {
    await h.acceptor.openSlot();
    for (let note = 0; note < CONTRACT_CAPACITY_NOTES + 1; note += 1) await h.insert(1000);
    await h.acceptor.closeSlot();
    const result = await h.acceptor.store();
    assert.equal(cashInFault(result), 'cassetteFull');
    assert.equal(h.acceptor.escrow().totalCents, (CONTRACT_CAPACITY_NOTES + 1) * 1000);
    assert.equal((await h.acceptor.returnNotes()).ok, true);
  });

  withAcceptor('unplugged: every step answers offline and the escrow is kept', async (h) => {
    await h.acceptor.openSlot();
    await h.insert(2000);
    await h.acceptor.closeSlot();
    await h.unplug();
    assert.equal(h.acceptor.state(), 'offline');
    assert.equal(cashInFault(await h.acceptor.store()), 'cashInOffline');
    await h.replug();
    assert.equal(h.acceptor.state(), 'online');
    assert.equal(h.acceptor.escrow().totalCents, 2000);
  });

  withAcceptor('the escrow survives a power cut: a restarted driver finds the notes', async (h) => {
    await h.acceptor.openSlot();
    await h.insert(2000);
    await h.insert(1000);
    const restarted = await h.restart();
    await restarted.open();
    assert.equal(restarted.escrow().totalCents, 3000);
    assert.equal((await restarted.store()).ok, true);
    assert.deepEqual(restarted.cassette(), [
      { denominationCents: 2000, count: 1 },
      { denominationCents: 1000, count: 1 },
    ]);
    await restarted.close();
  });
}
