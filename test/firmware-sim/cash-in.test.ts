// The firmware simulator's cash-in module (firmware-sim/cash-in-mechanism.ts) through the line
// device, with a fake clock: hardware/PROTOCOL.md [SL-3.8]–[SL-3.10], [SL-4.10]–[SL-4.14] line by
// line (quiet until asked, snapshots after every change, at most once by id, one movement at a
// time, jams, a full cassette, notes not taken, sessions, power cycles, the cable), and its
// script actions and console keys.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LineDevice, consoleCommands, parseScript, runScript } from '../../firmware-sim/index.js';
import type { CashInOptions } from '../../firmware-sim/index.js';
import { ESCROW_NOTES_MAX } from '../../hardware/index.js';
import { LineSplitter, encodeHostMessage, parseDeviceLine, parseHostLine } from '../../protocol/serial-line.js';
import type { DeviceMessage, HostMessage } from '../../protocol/serial-line.js';
import { FakeClock } from '../helpers/clock.js';
import { repoRoot } from '../helpers/paths.js';

interface Rig {
  device: LineDevice;
  /** The messages the device sent since the last call (each line must parse). */
  readonly take: () => DeviceMessage[];
  readonly host: (...messages: HostMessage[]) => void;
  readonly advance: (ms: number) => void;
}

/** cashIn null: a device without a cash-in module. */
function rig(cashIn: CashInOptions | null = { denominationsCents: [2000, 1000], capacityNotes: 5 }): Rig {
  const clock = new FakeClock(50_000);
  const sent: DeviceMessage[] = [];
  const splitter = new LineSplitter();
  let taken = 0;
  const device = new LineDevice({
    lowCashCount: 0,
    ...(cashIn === null ? {} : { cashIn }),
    nowMs: clock.nowMs,
    send: (chunk) => {
      for (const line of splitter.push(chunk)) {
        const parsed = parseDeviceLine(line);
        assert.ok(parsed.ok, `the device sent a bad line ${JSON.stringify(line)}`);
        sent.push(parsed.message);
      }
    },
  });
  const take = (): DeviceMessage[] => sent.slice(taken, (taken = sent.length));
  return {
    device,
    // Heartbeats are the session's business, not cash-in's: left out of what a test compares.
    take: () => take().filter((message) => message.verb !== 'HB'),
    host: (...messages) => device.receive(messages.map((message) => encodeHostMessage(message)).join('')),
    advance: (ms) => {
      clock.advance(ms);
      device.tick();
    },
  };
}

const HELLO: HostMessage = { verb: 'HELLO', version: 1 };
const escrow = (slot: 'closed' | 'open' | 'moving' | 'jam', rejected: number, ...pairs: [number, number][]) =>
  ({
    verb: 'ESCROW',
    slot,
    rejected,
    notes: pairs.map(([denominationCents, count]) => ({ denominationCents, count })),
  }) as const satisfies DeviceMessage;

/** HELLO, CASHIN, SLOT OPEN, the notes in, SLOT CLOSE; what was said is taken. */
function withNotes(r: Rig, notes: (number | 'torn')[]): void {
  r.host(HELLO, { verb: 'CASHIN' }, { verb: 'SLOT', open: true });
  for (const note of notes) r.device.insertNote(note);
  r.host({ verb: 'SLOT', open: false });
  r.take();
}

test('[SL-4.1, SL-4.14] HELLO names cashin; nothing of cash-in is said until CASHIN, which answers ACCEPTS, DEPOSITS, ESCROW', () => {
  const r = rig();
  r.host(HELLO);
  const hello = r.take()[0];
  assert.ok(hello?.verb === 'HELLO');
  assert.deepEqual(hello.caps, ['keypad4x4', 'lcd20x4', 'dispenser', 'cashin']);
  assert.equal(r.device.insertNote(2000), 'slotClosed', 'the slot is shut');
  r.device.jamEscrowNext();
  r.device.clearJam();
  assert.deepEqual(r.take(), [], 'an older host hears no cash-in line');
  r.host({ verb: 'CASHIN' });
  assert.deepEqual(r.take(), [
    { verb: 'ACCEPTS', capacityNotes: 5, denominationsCents: [2000, 1000] },
    { verb: 'DEPOSITS', notes: [] },
    escrow('closed', 0),
  ]);
});

test('[SL-3.9, SL-4.12] with the slot open each note is counted or refused and the full escrow is said; shut, nothing comes in', () => {
  const r = rig();
  r.host(HELLO, { verb: 'CASHIN' });
  r.take();
  r.host({ verb: 'SLOT', open: true }, { verb: 'SLOT', open: true });
  assert.deepEqual(r.take(), [escrow('open', 0), escrow('open', 0)], 'idempotent');
  assert.deepEqual(
    [2000, 1000, 2000, 'torn', 500].map((note) => r.device.insertNote(note as number | 'torn')),
    ['counted', 'counted', 'counted', 'rejected', 'rejected'],
  );
  assert.deepEqual(r.take(), [
    escrow('open', 0, [2000, 1]),
    escrow('open', 0, [2000, 1], [1000, 1]),
    escrow('open', 0, [2000, 2], [1000, 1]),
    escrow('open', 1, [2000, 2], [1000, 1]),
    escrow('open', 2, [2000, 2], [1000, 1]),
  ]);
  r.host({ verb: 'SLOT', open: false });
  assert.deepEqual(r.take(), [escrow('closed', 2, [2000, 2], [1000, 1])]);
  assert.equal(r.device.insertNote(2000), 'slotClosed');
  assert.deepEqual(r.take(), []);
});

test('[SL-4.12] an escrow of ESCROW_NOTES_MAX notes refuses the next one', () => {
  const r = rig({ denominationsCents: [1000], capacityNotes: 1_000 });
  withNotes(
    r,
    Array.from({ length: ESCROW_NOTES_MAX }, () => 1000),
  );
  r.host({ verb: 'SLOT', open: true });
  assert.equal(r.device.insertNote(1000), 'rejected');
  assert.deepEqual(r.device.escrow().notes, [{ denominationCents: 1000, count: ESCROW_NOTES_MAX }]);
  assert.equal(r.device.escrow().rejected, 1);
});

test('[SL-3.10, SL-4.14] STORE: DEPOSITS, ESCROW, then STORED; the same id again is answered from memory and stores nothing', () => {
  const r = rig();
  withNotes(r, [2000, 2000, 'torn']);
  r.host({ verb: 'STORE', id: 7 });
  assert.deepEqual(r.take(), [
    escrow('moving', 1, [2000, 2]),
    { verb: 'DEPOSITS', notes: [{ denominationCents: 2000, count: 2 }] },
    escrow('closed', 0),
    { verb: 'STORED', id: 7, storedCents: 4000, fault: null },
  ]);
  r.host({ verb: 'SLOT', open: true });
  r.device.insertNote(1000);
  r.host({ verb: 'STORE', id: 7 });
  assert.deepEqual(r.take().at(-1), { verb: 'STORED', id: 7, storedCents: 4000, fault: null });
  assert.deepEqual(r.device.deposits(), [{ denominationCents: 2000, count: 2 }], 'stored once');
  assert.equal(r.device.escrow().totalCents, 1000, 'the new note is still in the escrow');
  r.host({ verb: 'RETURN', id: 7 }); // another verb: another movement
  assert.deepEqual(r.take().at(-1), { verb: 'RETURNED', id: 7, returnedCents: 1000, fault: null });
  r.host({ verb: 'RETURN', id: 8 });
  assert.deepEqual(r.take().at(-1), { verb: 'RETURNED', id: 8, returnedCents: 0, fault: null }, 'empty: moves nothing');
});

test('[SL-4.14] one movement at a time: another id is busy, the same id is ignored, the slot stays shut while notes move', () => {
  const r = rig({ denominationsCents: [2000, 1000], capacityNotes: 5, moveDelayMs: 500 });
  withNotes(r, [1000]);
  r.host({ verb: 'RETURN', id: 1 });
  assert.deepEqual(r.take(), [escrow('moving', 0, [1000, 1])]);
  r.host({ verb: 'STORE', id: 2 }, { verb: 'RETURN', id: 1 }, { verb: 'SLOT', open: true });
  assert.deepEqual(r.take(), [
    { verb: 'STORED', id: 2, storedCents: 0, fault: 'cashInBusy' },
    escrow('moving', 0, [1000, 1]),
  ]);
  assert.equal(r.device.insertNote(2000), 'slotClosed');
  r.advance(499);
  assert.deepEqual(r.take(), []);
  r.advance(1);
  assert.deepEqual(r.take(), [escrow('closed', 0), { verb: 'RETURNED', id: 1, returnedCents: 1000, fault: null }]);
});

test('[SL-4.13] a jam keeps the notes in the escrow and the slot shut until cleared; then the store goes through', () => {
  const r = rig();
  withNotes(r, [2000]);
  r.device.jamEscrowNext();
  r.host({ verb: 'STORE', id: 1 });
  assert.deepEqual(r.take(), [
    escrow('moving', 0, [2000, 1]),
    escrow('jam', 0, [2000, 1]),
    { verb: 'STORED', id: 1, storedCents: 0, fault: 'escrowJam' },
  ]);
  r.host({ verb: 'RETURN', id: 2 }, { verb: 'SLOT', open: true });
  assert.deepEqual(r.take(), [
    { verb: 'RETURNED', id: 2, returnedCents: 0, fault: 'escrowJam' },
    escrow('jam', 0, [2000, 1]),
  ]);
  r.device.clearJam();
  assert.deepEqual(r.take(), [escrow('closed', 0, [2000, 1])]);
  r.host({ verb: 'STORE', id: 3 });
  assert.deepEqual(r.take().at(-1), { verb: 'STORED', id: 3, storedCents: 2000, fault: null });
  assert.deepEqual(r.device.deposits(), [{ denominationCents: 2000, count: 1 }]);
});

test('[SL-4.13] a cassette that cannot take the escrow refuses the store and keeps the notes; notes not taken back are retained', () => {
  const r = rig();
  withNotes(r, [1000, 1000, 1000, 1000, 1000, 1000]);
  r.host({ verb: 'STORE', id: 1 });
  assert.deepEqual(r.take().slice(-2), [
    escrow('closed', 0, [1000, 6]),
    { verb: 'STORED', id: 1, storedCents: 0, fault: 'cassetteFull' },
  ]);
  r.device.leaveNextReturn();
  r.host({ verb: 'RETURN', id: 2 });
  assert.deepEqual(r.take().slice(-2), [
    escrow('closed', 0),
    { verb: 'RETURNED', id: 2, returnedCents: 6000, fault: 'notesNotTaken' },
  ]);
  assert.deepEqual(r.device.deposits(), [], 'retained, not deposited');
});

test('[SL-4.14, SL-5.5] a HELLO shuts the slot and forgets ids; a power cycle too; the notes, the cassette and a jam stay', () => {
  const r = rig();
  withNotes(r, [2000]);
  r.host({ verb: 'STORE', id: 1 }, { verb: 'SLOT', open: true });
  r.device.insertNote(1000);
  r.take();
  r.host(HELLO);
  assert.deepEqual(
    r.take().map((message) => message.verb),
    ['HELLO', 'CASH'],
    'quiet about cash-in again until asked',
  );
  assert.equal(r.device.slot, 'closed');
  r.host({ verb: 'CASHIN' }, { verb: 'STORE', id: 1 });
  assert.deepEqual(r.take().at(-1), { verb: 'STORED', id: 1, storedCents: 1000, fault: null }, 'a new movement');
  assert.deepEqual(r.device.deposits(), [
    { denominationCents: 2000, count: 1 },
    { denominationCents: 1000, count: 1 },
  ]);
  r.host({ verb: 'SLOT', open: true });
  r.device.insertNote(2000);
  r.device.jamEscrowNext();
  r.host({ verb: 'RETURN', id: 2 });
  r.device.reset();
  r.host(HELLO, { verb: 'CASHIN' });
  assert.deepEqual(r.take().slice(-3), [
    { verb: 'ACCEPTS', capacityNotes: 5, denominationsCents: [2000, 1000] },
    {
      verb: 'DEPOSITS',
      notes: [
        { denominationCents: 2000, count: 1 },
        { denominationCents: 1000, count: 1 },
      ],
    },
    escrow('jam', 0, [2000, 1]),
  ]);
});

test('[SL-5.4] a note inserted while the cable is out is counted; the replug repeats the picture, to a host that asked', () => {
  const r = rig();
  r.host(HELLO, { verb: 'CASHIN' }, { verb: 'SLOT', open: true });
  r.take();
  r.device.unplug();
  assert.equal(r.device.insertNote(2000), 'counted');
  r.device.replug();
  assert.deepEqual(r.take(), [
    { verb: 'ACCEPTS', capacityNotes: 5, denominationsCents: [2000, 1000] },
    { verb: 'DEPOSITS', notes: [] },
    escrow('open', 0, [2000, 1]),
  ]);
  r.device.unplug();
  r.device.replug();
  assert.deepEqual(r.take(), [], 'nothing changed: nothing repeated');
});

test('[SL-4.14] a device without a cash-in module ignores the verbs and names no cashin', () => {
  const r = rig(null);
  r.host(HELLO);
  const hello = r.take()[0];
  assert.ok(hello?.verb === 'HELLO' && !hello.caps.includes('cashin'));
  r.host({ verb: 'CASHIN' }, { verb: 'SLOT', open: true }, { verb: 'STORE', id: 1 });
  assert.deepEqual(r.take(), []);
  assert.equal(r.device.insertNote(2000), 'slotClosed');
  assert.equal(r.device.slot, null);
});

test('[SL-2.3] accepted notes and a capacity whose lines would not fit are refused (a programmer error)', () => {
  const huge = Array.from({ length: 8 }, (_, index) => 99_999_999 - index);
  assert.throws(() => rig({ denominationsCents: huge, capacityNotes: 999_999 }), /exceeds 96/);
  assert.throws(
    () => rig({ denominationsCents: Array.from({ length: 9 }, (_, index) => 100 + index) }),
    /ACCEPTS denominations/,
  );
});

test('[SL-7.2, SL-7.3] the cash-in script actions and console keys', async () => {
  const steps = parseScript('0 NOTE 2000\n0 NOTE torn\n0 ESCROWJAM\n0 LEAVENOTES\n');
  assert.deepEqual(
    steps.map((step) => step.action),
    [{ kind: 'note', note: 2000 }, { kind: 'note', note: 'torn' }, { kind: 'escrowJam' }, { kind: 'leaveNotes' }],
  );
  for (const bad of ['0 NOTE', '0 NOTE 0', '0 NOTE twenty', '0 ESCROWJAM now'])
    assert.throws(() => parseScript(bad), /script line 1/);
  const r = rig();
  r.host(HELLO, { verb: 'CASHIN' }, { verb: 'SLOT', open: true });
  await runScript(steps, r.device, () => Promise.resolve());
  assert.deepEqual(r.device.escrow(), {
    notes: [{ denominationCents: 2000, count: 1 }],
    totalCents: 2000,
    rejected: 1,
  });
  assert.equal(r.device.escrowJamArmed, true);
  assert.deepEqual(consoleCommands('\x1bOPe\x1b[[B\x1b[13~i\x1b[23~okm'), [
    { kind: 'insertNote', rank: 0 },
    { kind: 'insertNote', rank: 0 },
    { kind: 'insertNote', rank: 1 },
    { kind: 'insertNote', rank: 2 },
    { kind: 'insertNote', rank: 3 },
    { kind: 'action', action: { kind: 'note', note: 'torn' } },
    { kind: 'action', action: { kind: 'note', note: 'torn' } },
    { kind: 'action', action: { kind: 'escrowJam' } },
    { kind: 'action', action: { kind: 'leaveNotes' } },
  ]);
});

test('[SL-8] the deposit transcript in hardware/PROTOCOL.md is what the device says, line for line', () => {
  const document = fs.readFileSync(path.join(repoRoot, 'hardware', 'PROTOCOL.md'), 'utf8');
  const transcript = document.slice(document.indexOf('A deposit with the cash-in module'));
  const lines = transcript.slice(0, transcript.indexOf('```\n\n') + 1).split('\n');
  const r = rig({ denominationsCents: [5000, 2000, 1000, 500], capacityNotes: 1000 });
  r.host(HELLO);
  r.take();
  const said: DeviceMessage[] = [];
  for (const line of lines.filter((text) => text.startsWith('→ '))) {
    const parsed = parseHostLine(line.slice(2));
    assert.ok(parsed.ok, line);
    r.host(parsed.message);
    // The customer inserts two notes once the slot is open (after the PING that confirms it).
    if (line.startsWith('→ PING 2')) for (const note of [2000, 2000]) r.device.insertNote(note);
    said.push(...r.take());
  }
  const documented = lines.filter((text) => text.startsWith('← ')).map((line) => parseDeviceLine(line.slice(2)));
  assert.ok(documented.length >= 12, 'the transcript is there');
  assert.deepEqual(
    said,
    documented.map((parsed) => (parsed.ok ? parsed.message : assert.fail(parsed.reason))),
  );
});
