// The firmware simulator (firmware-sim/): the device side of hardware/PROTOCOL.md as a state
// machine driven by a fake clock (silent before HELLO, HELLO/CASH/HB, dispensing, faults,
// unplug, reset), its script language and console keys; then over a REAL socat pty pair with
// serialport on both ends: the module, and `atm firmware-sim --pty` as a child process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import type { SerialPort } from 'serialport';
import {
  LineDevice,
  closeSerialPort,
  consoleCommands,
  openSerialPath,
  parseScript,
  runScript,
  startFirmwareSim,
  terminalKeys,
  DISPENSE_MEMORY_MAX,
  HOST_SILENCE_MS,
} from '../../firmware-sim/index.js';
import type { LineDeviceOptions } from '../../firmware-sim/index.js';
import type { Cassette } from '../../hardware/index.js';
import { HEARTBEAT_INTERVAL_MS, LineSplitter, encodeHostMessage, parseDeviceLine } from '../../protocol/serial-line.js';
import type { DeviceMessage, HostMessage } from '../../protocol/serial-line.js';
import { FakeClock } from '../helpers/clock.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty } from '../helpers/pty.js';
import { pause } from '../helpers/wait.js';

/** 3 × 50.00 and 10 × 20.00, as the hardware contract suites load every dispenser. */
const CASSETTES: readonly Cassette[] = [
  { denominationCents: 5000, count: 3 },
  { denominationCents: 2000, count: 10 },
];

interface Rig {
  device: LineDevice;
  clock: FakeClock;
  /** Every message the device sent so far (each line must parse). */
  sent: DeviceMessage[];
  /** Raw bytes the device sent. */
  bytes: Buffer[];
  /** The messages sent since the last call. */
  readonly take: () => DeviceMessage[];
  readonly host: (...messages: HostMessage[]) => void;
  readonly advance: (ms: number) => void;
}

function rig(options: Partial<LineDeviceOptions> = {}): Rig {
  const clock = new FakeClock(50_000);
  const sent: DeviceMessage[] = [];
  const bytes: Buffer[] = [];
  const splitter = new LineSplitter();
  let taken = 0;
  const device = new LineDevice({
    cassettes: CASSETTES,
    lowCashCount: 0, // low only when empty: no FAULT cashLow unless a test asks for it
    ...options,
    nowMs: clock.nowMs,
    send: (chunk) => {
      bytes.push(chunk);
      for (const line of splitter.push(chunk)) {
        const parsed = parseDeviceLine(line);
        assert.ok(parsed.ok, `the device sent a bad line ${JSON.stringify(line)}`);
        sent.push(parsed.message);
      }
    },
  });
  return {
    device,
    clock,
    sent,
    bytes,
    take: () => sent.slice(taken, (taken = sent.length)),
    host: (...messages) => device.receive(messages.map((message) => encodeHostMessage(message)).join('')),
    advance: (ms) => {
      clock.advance(ms);
      device.tick();
    },
  };
}

const HELLO: HostMessage = { verb: 'HELLO', version: 1 };
const cash = (cassettes: readonly Cassette[]): DeviceMessage => ({
  verb: 'CASH',
  cassettes: cassettes.map((c) => ({ ...c })),
});

test('[SL-1.3] before the host says HELLO the device sends nothing: no heartbeat, answer, key or display change', () => {
  const { device, sent, host, advance } = rig();
  host(
    { verb: 'PING', seq: 1 },
    { verb: 'COUNTS' },
    { verb: 'LCD', row: 0, col: 0, text: 'early' },
    { verb: 'DISPENSE', id: 1, amountCents: 2000 },
  );
  assert.equal(device.press('1'), false);
  assert.equal(device.nextDeadlineMs(), null);
  for (let step = 0; step < 10; step += 1) advance(HEARTBEAT_INTERVAL_MS);
  device.setLowCash();
  device.setTamper(true);
  assert.deepEqual(sent, []);
  assert.equal(device.state, 'awaitingHello');
  assert.equal(device.displayLines()[0], ' '.repeat(20));
  assert.deepEqual(
    device.cassettes(),
    [
      { denominationCents: 5000, count: 0 },
      { denominationCents: 2000, count: 0 },
    ],
    'set low, but nothing said',
  );
});

test('[SL-3.1] HELLO is answered with HELLO and caps, then CASH; then HB every interval with the uptime', () => {
  const { device, take, host, advance } = rig({ rows: 2, columns: 16, deviceName: 'bench-uno' });
  advance(250);
  host({ verb: 'HELLO', version: 7 });
  assert.deepEqual(take(), [
    { verb: 'HELLO', version: 1, device: 'bench-uno', caps: ['keypad4x4', 'lcd16x2', 'dispenser'] },
    cash(CASSETTES),
  ]);
  assert.equal(device.state, 'running');
  advance(HEARTBEAT_INTERVAL_MS - 1);
  assert.deepEqual(take(), []);
  advance(1);
  assert.deepEqual(take(), [{ verb: 'HB', uptimeMs: 250 + HEARTBEAT_INTERVAL_MS }]);
  advance(HEARTBEAT_INTERVAL_MS);
  advance(HEARTBEAT_INTERVAL_MS / 2);
  assert.deepEqual(take(), [{ verb: 'HB', uptimeMs: 250 + 2 * HEARTBEAT_INTERVAL_MS }]);
  assert.equal(device.nextDeadlineMs(), 50_000 + 250 + 3 * HEARTBEAT_INTERVAL_MS);
});

test('[SL-3.2] [SL-3.7] PING is answered with PONG, COUNTS with CASH; keys go out as KEY', () => {
  const { device, take, host } = rig();
  host(HELLO);
  take();
  host({ verb: 'PING', seq: 99 }, { verb: 'COUNTS' });
  assert.equal(device.press('enter'), true);
  assert.deepEqual(take(), [{ verb: 'PONG', seq: 99 }, cash(CASSETTES), { verb: 'KEY', key: 'enter' }]);
});

test('[SL-3.3] [SL-3.4] [SL-3.5] LCD writes at row and column, clipped to the glass; CLEAR; BACKLIGHT', () => {
  const { device, host, take } = rig();
  host(HELLO);
  host(
    { verb: 'LCD', row: 0, col: 0, text: 'Welcome' },
    { verb: 'LCD', row: 1, col: 15, text: 'overflowing' },
    { verb: 'LCD', row: 0, col: 8, text: '*' },
  );
  host({ verb: 'LCD', row: 3, col: 25, text: 'off the glass' }, { verb: 'BACKLIGHT', on: false });
  assert.deepEqual(device.displayLines(), [
    'Welcome *'.padEnd(20),
    `${' '.repeat(15)}overf`,
    ' '.repeat(20),
    ' '.repeat(20),
  ]);
  assert.equal(device.backlightOn, false);
  const small = rig({ rows: 2 });
  small.host(HELLO, { verb: 'LCD', row: 3, col: 0, text: 'no row 3 here' });
  assert.deepEqual(small.device.displayLines(), [' '.repeat(20), ' '.repeat(20)]);
  host({ verb: 'CLEAR' }, { verb: 'BACKLIGHT', on: true });
  assert.deepEqual(
    device.displayLines(),
    Array.from({ length: 4 }, () => ' '.repeat(20)),
  );
  assert.equal(device.backlightOn, true);
  assert.deepEqual(take().slice(2), [], 'display verbs are not answered');
});

test('[SL-4.8] a dispense takes its delay, then CASH with the new counts, then DISPENSED', () => {
  const { device, take, host, advance } = rig({ dispenseDelayMs: 400 });
  host(HELLO);
  take();
  host({ verb: 'DISPENSE', id: 1, amountCents: 14_000 });
  assert.equal(device.dispensing, true);
  assert.equal(device.nextDeadlineMs(), 50_400);
  advance(399);
  assert.deepEqual(take(), []);
  advance(1);
  const after = [
    { denominationCents: 5000, count: 1 },
    { denominationCents: 2000, count: 8 },
  ];
  assert.deepEqual(take(), [cash(after), { verb: 'DISPENSED', id: 1, dispensedCents: 14_000, fault: null }]);
  assert.deepEqual(device.cassettes(), after);
  assert.equal(device.dispensing, false);
});

test('[SL-4.8] a jam part-way reports the notes presented, FAULT jam first; refused until cleared (FAULT ok)', () => {
  const { device, take, host } = rig({ jamAfterNotes: 3 });
  host(HELLO);
  take();
  // 14000 = 5000 × 2 + 2000 × 2, presented largest first: 5000, 5000, 2000, then the jam.
  host({ verb: 'DISPENSE', id: 5, amountCents: 14_000 });
  const after = [
    { denominationCents: 5000, count: 1 },
    { denominationCents: 2000, count: 9 },
  ];
  assert.deepEqual(take(), [
    cash(after),
    { verb: 'FAULT', fault: 'jam' },
    { verb: 'DISPENSED', id: 5, dispensedCents: 12_000, fault: 'jam' },
  ]);
  assert.deepEqual(device.faults(), ['jam']);
  host({ verb: 'DISPENSE', id: 6, amountCents: 2000 });
  assert.deepEqual(take(), [{ verb: 'DISPENSED', id: 6, dispensedCents: 0, fault: 'hardwareError' }]);
  device.clearJam();
  device.clearJam();
  assert.deepEqual(take(), [{ verb: 'FAULT', fault: 'ok' }]);
  host({ verb: 'DISPENSE', id: 7, amountCents: 2000 });
  assert.deepEqual(take().at(-1), { verb: 'DISPENSED', id: 7, dispensedCents: 2000, fault: null });
});

test('[SL-4.8] an armed jam survives refused dispenses; jamNext(0) presents nothing', () => {
  const { device, take, host } = rig();
  host(HELLO);
  device.jamNext();
  assert.equal(device.jamArmedAfterNotes, 0);
  take();
  host({ verb: 'DISPENSE', id: 1, amountCents: 3000 });
  assert.deepEqual(take(), [{ verb: 'DISPENSED', id: 1, dispensedCents: 0, fault: 'cannotMake' }]);
  host({ verb: 'DISPENSE', id: 2, amountCents: 4000 });
  assert.deepEqual(take().at(-1), { verb: 'DISPENSED', id: 2, dispensedCents: 0, fault: 'jam' });
  assert.deepEqual(device.cassettes(), CASSETTES);
  assert.equal(device.jamArmedAfterNotes, null);
});

test('[SL-4.8] an amount the cassettes cannot make is refused with nothing moved', () => {
  const { device, take, host } = rig();
  host(HELLO);
  take();
  for (const [id, amountCents] of [
    [1, 1000],
    [2, 2500],
    [3, 10_000_000],
  ] as const)
    host({ verb: 'DISPENSE', id, amountCents });
  assert.deepEqual(
    take(),
    [1, 2, 3].map((id) => ({ verb: 'DISPENSED', id, dispensedCents: 0, fault: 'cannotMake' })),
  );
  assert.deepEqual(device.cassettes(), CASSETTES);
});

test('[SL-4.8] a repeated DISPENSE id is answered from memory and pays nothing twice; a new HELLO forgets', () => {
  const { device, take, host } = rig();
  host(HELLO);
  take();
  host({ verb: 'DISPENSE', id: 9, amountCents: 4000 });
  take();
  host({ verb: 'DISPENSE', id: 9, amountCents: 4000 });
  assert.deepEqual(take(), [{ verb: 'DISPENSED', id: 9, dispensedCents: 4000, fault: null }]);
  assert.equal(device.cassettes()[1]?.count, 8);
  for (let id = 100; id < 100 + DISPENSE_MEMORY_MAX; id += 1) host({ verb: 'DISPENSE', id, amountCents: 1 });
  host({ verb: 'DISPENSE', id: 9, amountCents: 4000 });
  assert.equal(device.cassettes()[1]?.count, 6, 'id 9 fell out of the memory of 32');
  host(HELLO, { verb: 'DISPENSE', id: 100, amountCents: 2000 });
  assert.deepEqual(
    take().at(-1),
    { verb: 'DISPENSED', id: 100, dispensedCents: 2000, fault: null },
    'ids are scoped to a session',
  );
});

test('[SL-4.8] one dispense at a time: another id is refused, the same id is ignored while picking', () => {
  const { device, take, host, advance } = rig({ dispenseDelayMs: 1000 });
  host(HELLO);
  take();
  host(
    { verb: 'DISPENSE', id: 1, amountCents: 2000 },
    { verb: 'DISPENSE', id: 1, amountCents: 2000 },
    { verb: 'DISPENSE', id: 2, amountCents: 2000 },
  );
  assert.deepEqual(take(), [{ verb: 'DISPENSED', id: 2, dispensedCents: 0, fault: 'hardwareError' }]);
  advance(1000);
  assert.deepEqual(
    take().filter((message) => message.verb === 'DISPENSED'),
    [{ verb: 'DISPENSED', id: 1, dispensedCents: 2000, fault: null }],
  );
  assert.equal(device.cassettes()[1]?.count, 9);
});

test('[SL-2.3] cassettes whose CASH line would not fit are refused (a programmer error), as are two of one denomination', () => {
  const eight = (denominationCents: number, count: number): Cassette[] =>
    Array.from({ length: 8 }, (_, index) => ({ denominationCents: denominationCents + index, count }));
  assert.doesNotThrow(() => rig({ cassettes: eight(10_000, 9999) }));
  assert.throws(() => rig({ cassettes: eight(100_000, 9999) }), /exceeds 96/);
  assert.throws(() => rig().device.setCassettes(eight(10_000, 10_000)), /exceeds 96/);
  assert.throws(
    () =>
      rig({
        cassettes: [
          { denominationCents: 2000, count: 1 },
          { denominationCents: 2000, count: 2 },
        ],
      }),
    /one per denomination/,
  );
  assert.throws(() => rig({ cassettes: [] }), /one per denomination/);
});

test('[SL-4.9] low cash: FAULT cashLow once when a cassette reaches the threshold; a refill says FAULT ok', () => {
  const { device, take, host } = rig({
    lowCashCount: 8,
    cassettes: [
      { denominationCents: 5000, count: 20 },
      { denominationCents: 2000, count: 10 },
    ],
  });
  host(HELLO);
  take();
  host({ verb: 'DISPENSE', id: 1, amountCents: 2000 });
  assert.deepEqual(
    take().map((message) => message.verb),
    ['CASH', 'DISPENSED'],
  );
  host({ verb: 'DISPENSE', id: 2, amountCents: 2000 });
  assert.deepEqual(take(), [
    cash([
      { denominationCents: 5000, count: 20 },
      { denominationCents: 2000, count: 8 },
    ]),
    { verb: 'FAULT', fault: 'cashLow' },
    { verb: 'DISPENSED', id: 2, dispensedCents: 2000, fault: null },
  ]);
  host({ verb: 'DISPENSE', id: 3, amountCents: 2000 });
  assert.deepEqual(
    take().map((message) => message.verb),
    ['CASH', 'DISPENSED'],
    'announced once',
  );
  device.setCassettes([{ denominationCents: 2000, count: 50 }]);
  assert.deepEqual(take(), [cash([{ denominationCents: 2000, count: 50 }]), { verb: 'FAULT', fault: 'ok' }]);
  device.setLowCash();
  assert.deepEqual(take(), [cash([{ denominationCents: 2000, count: 8 }]), { verb: 'FAULT', fault: 'cashLow' }]);
  assert.deepEqual(device.faults(), ['cashLow']);
});

test('[SL-4.9] tamper: FAULT tamper refuses dispensing; closing it says FAULT ok and repeats what is still wrong', () => {
  const { device, take, host } = rig();
  host(HELLO);
  device.setLowCash();
  take();
  device.setTamper(true);
  device.setTamper(true);
  host({ verb: 'DISPENSE', id: 1, amountCents: 2000 });
  assert.deepEqual(take(), [
    { verb: 'FAULT', fault: 'tamper' },
    { verb: 'DISPENSED', id: 1, dispensedCents: 0, fault: 'hardwareError' },
  ]);
  device.setTamper(false);
  assert.deepEqual(take(), [
    { verb: 'FAULT', fault: 'ok' },
    { verb: 'FAULT', fault: 'cashLow' },
  ]);
});

test('[SL-4.9] every HELLO re-announces the active faults, so a reconnecting host starts from the truth', () => {
  const { device, take, host } = rig({ jamAfterNotes: 0 });
  host(HELLO, { verb: 'DISPENSE', id: 1, amountCents: 2000 });
  device.setTamper(true);
  take();
  host(HELLO);
  assert.deepEqual(take().slice(1), [
    cash(CASSETTES),
    { verb: 'FAULT', fault: 'jam' },
    { verb: 'FAULT', fault: 'tamper' },
  ]);
});

test('[SL-5.4] unplugged: no heartbeats, keys and host lines are lost; replug sends HB at once and what changed', () => {
  const { device, take, host, advance } = rig();
  host(HELLO);
  take();
  device.unplug();
  assert.equal(device.isPlugged, false);
  assert.equal(device.press('1'), false);
  host({ verb: 'PING', seq: 1 }, { verb: 'LCD', row: 0, col: 0, text: 'lost' });
  device.setTamper(true);
  device.garbage(10);
  for (let step = 0; step < 5; step += 1) advance(HEARTBEAT_INTERVAL_MS);
  assert.deepEqual(take(), []);
  assert.equal(device.displayLines()[0], ' '.repeat(20));
  device.replug();
  assert.deepEqual(take(), [
    { verb: 'HB', uptimeMs: 5 * HEARTBEAT_INTERVAL_MS },
    { verb: 'FAULT', fault: 'ok' },
    { verb: 'FAULT', fault: 'tamper' },
  ]);
  advance(HEARTBEAT_INTERVAL_MS);
  assert.deepEqual(take(), [{ verb: 'HB', uptimeMs: 6 * HEARTBEAT_INTERVAL_MS }]);
  device.unplug();
  device.replug();
  assert.deepEqual(
    take(),
    [{ verb: 'HB', uptimeMs: 6 * HEARTBEAT_INTERVAL_MS }],
    'nothing changed: just the heartbeat',
  );
});

test('[SL-5.6] a host silent for HOST_SILENCE_MS ends the session: no more heartbeats until a new HELLO', () => {
  const { device, take, host, advance } = rig();
  host(HELLO);
  for (let second = 1; second <= 40; second += 1) {
    advance(1000);
    if (second % 10 === 0) host({ verb: 'PING', seq: second });
  }
  assert.equal(take().filter((message) => message.verb === 'HB').length, 40, 'pinged every 10 s: still in session');
  for (let second = 1; second < HOST_SILENCE_MS / 1000; second += 1) advance(1000);
  assert.equal(device.state, 'running');
  assert.equal(device.nextDeadlineMs(), 90_000 + HOST_SILENCE_MS, 'the silence deadline is planned');
  advance(1000);
  assert.equal(device.state, 'awaitingHello');
  take();
  advance(5000);
  host({ verb: 'PING', seq: 1 });
  assert.equal(device.press('1'), false);
  assert.deepEqual(take(), []);
  host(HELLO);
  assert.deepEqual(
    take().map((message) => message.verb),
    ['HELLO', 'CASH'],
  );
});

test('[SL-5.5] a power cycle blanks the LCD and goes silent until HELLO; the jam is physical and stays', () => {
  const { device, take, host, advance } = rig({ jamAfterNotes: 0, dispenseDelayMs: 500 });
  host(HELLO, { verb: 'LCD', row: 0, col: 0, text: 'Hello' }, { verb: 'DISPENSE', id: 1, amountCents: 2000 });
  advance(500);
  host({ verb: 'DISPENSE', id: 2, amountCents: 2000 });
  take();
  device.reset();
  assert.equal(device.state, 'awaitingHello');
  assert.deepEqual(
    device.displayLines(),
    Array.from({ length: 4 }, () => ' '.repeat(20)),
  );
  advance(5 * HEARTBEAT_INTERVAL_MS);
  assert.deepEqual(take(), []);
  host(HELLO);
  assert.deepEqual(take().slice(1), [cash(CASSETTES), { verb: 'FAULT', fault: 'jam' }]);
  advance(HEARTBEAT_INTERVAL_MS);
  assert.deepEqual(take(), [{ verb: 'HB', uptimeMs: 6 * HEARTBEAT_INTERVAL_MS }], 'uptime counts from the reset');
});

test('[SL-2.7] garbage is n seeded random bytes then a newline: the host loses exactly one line', () => {
  const first = rig({ seed: 7 });
  const second = rig({ seed: 7 });
  for (const { device, host } of [first, second]) {
    host(HELLO);
    device.garbage(40);
    device.press('3');
  }
  assert.deepEqual(first.bytes, second.bytes, 'deterministic for a seed');
  const noise = first.bytes[2] as Buffer;
  assert.equal(noise.length, 41);
  assert.equal(noise.indexOf(0x0a), 40);
  const splitter = new LineSplitter();
  const lines = first.bytes.flatMap((chunk) => splitter.push(chunk));
  assert.equal(lines.length, 3, 'HELLO, CASH and the KEY after the noise');
  assert.equal(splitter.stats.corrupt + splitter.stats.oversize, 1);
  assert.throws(() => first.device.garbage(0), /garbage bytes/);
});

test('[SL-2.6] bad lines from the host are counted and ignored; random bytes never throw', () => {
  const { device, take, host } = rig();
  host(HELLO);
  take();
  device.receive('PING 1*00\nFROB 1*7E\nPING 1\n' + 'x'.repeat(200) + '\n' + 'PING \x01\n');
  assert.deepEqual(take(), []);
  const stats = device.stats;
  assert.equal(stats.oversize, 1);
  assert.equal(stats.corrupt + stats.unknown, 4);
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 120 }), { maxLength: 8 }), (chunks) => {
      for (const chunk of chunks) device.receive(Buffer.from(chunk));
    }),
    { numRuns: 300 },
  );
  device.receive('\n');
  host({ verb: 'PING', seq: 5 });
  assert.deepEqual(
    take()
      .filter((message) => message.verb === 'PONG')
      .at(-1),
    { verb: 'PONG', seq: 5 },
    'still answering',
  );
});

test('[SL-7.3] scripts: every action parses; bad lines are named; runScript applies them after each delay', async () => {
  const steps = parseScript(
    '# demo\n\n500 KEY 1\n200 KEY #\n0 key esc\n0 JAM 2\n0 JAM\n0 CLEARJAM\n10 LOWCASH\n0 TAMPER\n0 TAMPER off\n0 UNPLUG\n0 REPLUG\n0 GARBAGE 5\n0 RESET\r\n',
  );
  assert.deepEqual(
    steps.map((step) => [step.delayMs, step.action.kind]),
    [
      [500, 'key'],
      [200, 'key'],
      [0, 'key'],
      [0, 'jam'],
      [0, 'jam'],
      [0, 'clearJam'],
      [10, 'lowCash'],
      [0, 'tamper'],
      [0, 'tamper'],
      [0, 'unplug'],
      [0, 'replug'],
      [0, 'garbage'],
      [0, 'reset'],
    ],
  );
  assert.deepEqual(steps[1]?.action, { kind: 'key', key: 'enter' });
  assert.deepEqual(steps[2]?.action, { kind: 'key', key: 'cancel' });
  assert.deepEqual(steps[3]?.action, { kind: 'jam', afterNotes: 2 });
  assert.equal(steps[0]?.line, 3);
  for (const [text, message] of [
    ['1 KEY E', /line 1: KEY needs one of/],
    ['0 KEY 1\nsoon KEY 2', /line 2: delay must be/],
    ['0 WAVE', /unknown action "WAVE"/],
    ['0 UNPLUG now', /UNPLUG takes no argument/],
    ['0 GARBAGE 0', /GARBAGE takes 1\.\.4096/],
    ['700000 KEY 1', /delay must be 0\.\.600000/],
  ] as const) {
    assert.throws(() => parseScript(text), message);
  }
  const { device, take, host } = rig();
  host(HELLO);
  take();
  const slept: number[] = [];
  await runScript(parseScript('300 KEY 4\n0 KEY *\n100 UNPLUG\n0 KEY 5'), device, async (ms) => void slept.push(ms));
  assert.deepEqual(slept, [300, 0, 100, 0]);
  assert.deepEqual(take(), [
    { verb: 'KEY', key: '4' },
    { verb: 'KEY', key: 'clear' },
  ]);
  assert.equal(device.isPlugged, false);
});

test('[SL-7.2] console keys: keypad keys, F5–F10 (xterm and Linux console) and letters for the faults', () => {
  assert.deepEqual(terminalKeys('1\x1b[15~\x1bOPa\x1b[[E\x1b'), ['1', '\x1b[15~', '\x1bOP', 'a', '\x1b[[E', '\x1b']);
  const kinds = (input: string): string[] =>
    consoleCommands(input).map((command) =>
      command.kind === 'action'
        ? `${command.action.kind}${command.action.kind === 'key' ? `:${command.action.key}` : ''}`
        : command.kind,
    );
  assert.deepEqual(kinds('9d#\r*\x1b[3~\x1b\x7f'), [
    'key:9',
    'key:D',
    'key:enter',
    'key:enter',
    'key:clear',
    'key:clear',
    'key:cancel',
    'key:backspace',
  ]);
  assert.deepEqual(kinds('\x1b[15~\x1b[17~\x1b[18~\x1b[19~\x1b[20~\x1b[21~'), [
    'jam',
    'lowCash',
    'toggleTamper',
    'togglePlug',
    'garbage',
    'reset',
  ]);
  assert.deepEqual(kinds('jxltugrq\x03'), [
    'jam',
    'clearJam',
    'lowCash',
    'toggleTamper',
    'togglePlug',
    'garbage',
    'reset',
    'quit',
    'quit',
  ]);
  assert.deepEqual(kinds('zZ!\x1b[A'), [], 'other keys do nothing');
});

// ---------------------------------------------------------------- a real pty pair (socat + serialport)

/** Lines from a real port, with a poll-until-deadline wait. */
function lineReader(port: SerialPort): {
  lines: DeviceMessage[];
  waitFor: (predicate: (message: DeviceMessage) => boolean, what: string, timeoutMs?: number) => Promise<DeviceMessage>;
} {
  const splitter = new LineSplitter();
  const lines: DeviceMessage[] = [];
  port.on('data', (chunk: Buffer) => {
    for (const line of splitter.push(chunk)) {
      const parsed = parseDeviceLine(line);
      assert.ok(parsed.ok, `bad line from the device: ${line}`);
      lines.push(parsed.message);
    }
  });
  const waitFor = async (
    predicate: (message: DeviceMessage) => boolean,
    what: string,
    timeoutMs = 3000,
  ): Promise<DeviceMessage> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines.find(predicate);
      if (found !== undefined) return found;
      if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(lines)}`);
      await pause(10);
    }
  };
  return { lines, waitFor };
}

const write = (port: SerialPort, ...messages: HostMessage[]): Promise<void> =>
  new Promise((resolve, reject) =>
    port.write(messages.map((message) => encodeHostMessage(message)).join(''), (error) =>
      error ? reject(error) : resolve(),
    ),
  );

test('[SL-7.1] over a real socat pty pair: HELLO exchange, heartbeats on real timers, a delayed dispense, LCD', async () => {
  const sim = await startFirmwareSim({ device: { cassettes: CASSETTES, dispenseDelayMs: 50 } });
  let port: SerialPort | null = null;
  try {
    assert.ok(sim.hostPath !== null && fs.existsSync(sim.hostPath));
    port = await openSerialPath(sim.hostPath);
    const { waitFor } = lineReader(port);
    await write(port, HELLO, { verb: 'LCD', row: 1, col: 2, text: 'over the wire' });
    await waitFor((message) => message.verb === 'HELLO', 'HELLO');
    await write(port, { verb: 'DISPENSE', id: 3, amountCents: 7000 });
    assert.deepEqual(await waitFor((message) => message.verb === 'DISPENSED', 'DISPENSED'), {
      verb: 'DISPENSED',
      id: 3,
      dispensedCents: 7000,
      fault: null,
    });
    assert.equal(sim.device.displayLines()[1], '  over the wire     ');
    const heartbeat = await waitFor((message) => message.verb === 'HB', 'HB', 2 * HEARTBEAT_INTERVAL_MS);
    assert.ok(heartbeat.verb === 'HB' && heartbeat.uptimeMs >= HEARTBEAT_INTERVAL_MS);
  } finally {
    if (port !== null) await closeSerialPort(port);
    await sim.close();
  }
  assert.equal(fs.existsSync(path.dirname(sim.hostPath)), false, 'socat stopped and its links removed');
});

test('[SL-7.3] `atm firmware-sim --pty --script` as a child: prints the path first, answers HELLO, the script presses keys, exits 0 and cleans up', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-sl-test-'));
  const scriptFile = path.join(folder, 'keys.txt');
  fs.writeFileSync(scriptFile, '# a customer\n100 KEY 1\n0 KEY #\n');
  const child = spawn(
    process.execPath,
    [
      atmBin,
      'firmware-sim',
      '--pty',
      '--script',
      scriptFile,
      '--exit-after-script',
      '--notes',
      '5000:3,2000:10',
      '--low-cash',
      '2',
      '--dispense-delay-ms',
      '0',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  let port: SerialPort | null = null;
  try {
    const deadline = Date.now() + 5000;
    while (!stdout.includes('\n') && Date.now() < deadline && child.exitCode === null) await pause(10);
    const first = /^device ready: (\S+)\n/.exec(stdout);
    assert.ok(
      first !== null,
      `first line is "device ready: PATH"; stdout ${JSON.stringify(stdout)} stderr ${JSON.stringify(stderr)}`,
    );
    const hostPath = first[1] as string;
    port = await openSerialPath(hostPath);
    const { lines, waitFor } = lineReader(port);
    await write(port, HELLO);
    await waitFor((message) => message.verb === 'KEY' && message.key === 'enter', 'KEY #');
    assert.deepEqual(lines.filter((message) => message.verb !== 'HB').slice(0, 4), [
      {
        verb: 'HELLO',
        version: 1,
        device: 'atm-firmware-sim',
        caps: ['keypad4x4', 'lcd20x4', 'dispenser', 'cashin'], // the simulator has a cash-in module unless --no-cash-in
      },
      cash(CASSETTES),
      { verb: 'KEY', key: '1' },
      { verb: 'KEY', key: 'enter' },
    ]);
    assert.equal(await exited, 0, stderr);
    assert.equal(fs.existsSync(path.dirname(hostPath)), false, 'socat stopped and its links removed');
    assert.match(stdout, /host said HELLO \(version 1\)/);
  } finally {
    if (port !== null) await closeSerialPort(port);
    if (child.exitCode === null) child.kill('SIGKILL');
    await exited;
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('[SL-7.1] a SIGKILLed `atm firmware-sim` leaves no socat and no links behind (the watchdog stops socat)', async () => {
  const child = spawn(process.execPath, [atmBin, 'firmware-sim'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    let stdout = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    const deadline = Date.now() + 5000;
    while (!/device ready: \S+\n/.test(stdout) && Date.now() < deadline) await pause(10);
    const hostPath = /device ready: (\S+)\n/.exec(stdout)?.[1];
    assert.ok(hostPath !== undefined && fs.existsSync(hostPath), stdout);
    child.kill('SIGKILL');
    await exited;
    const gone = Date.now() + 3000;
    while (fs.existsSync(path.dirname(hostPath)) && Date.now() < gone) await pause(10);
    assert.equal(fs.existsSync(path.dirname(hostPath)), false, 'socat removed its links and the watchdog the folder');
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  }
});

test('`atm firmware-sim` refuses bad options and scripts (exit 2) and a port it cannot open (exit 1), in one line', async () => {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-sl-test-'));
  try {
    const scriptFile = path.join(folder, 'bad.txt');
    fs.writeFileSync(scriptFile, '0 KEY 1\n0 KEY Z\n');
    const cases = [
      [['--script', scriptFile], /script line 2: KEY needs one of/],
      [['--notes', '2000:x'], /--notes must be/],
      [['--notes', '2000:1,2000:2'], /one cassette per denomination/],
      [
        ['--notes', Array.from({ length: 8 }, (_, index) => `${100_000 + index}:1000`).join(',')],
        /do not fit one 96-byte CASH line/,
      ],
      [['--pty', '--port', '/dev/null'], /alternatives/],
      [['--accept', '5000,20x0'], /--accept must be denominations in cents/],
      [['--accept', '5000,5000'], /each once/],
      [['--no-cash-in', '--deposit-capacity', '10'], /--no-cash-in and --deposit-capacity are alternatives/],
      [
        ['--accept', Array.from({ length: 8 }, (_, index) => 99_999_999 - index).join(',')],
        /the cash-in module's lines do not fit 96 bytes/,
      ],
      [['--exit-after-script'], /needs --script/],
      [
        ['--port', path.join(folder, 'no-such-tty')],
        /cannot start the firmware simulator: .*no-such-tty \[FIRMWARE_SIM_START_FAILED\]/,
        1,
      ],
    ] as const;
    await Promise.all(
      cases.map(async ([args, message, exitCode = 2]) => {
        const child = spawn(process.execPath, [atmBin, 'firmware-sim', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
        let stderr = '';
        child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
        const code = await new Promise<number | null>((resolve) => child.once('exit', (exitCode) => resolve(exitCode)));
        assert.equal(code, exitCode, `${args.join(' ')}: ${stderr}`);
        assert.match(stderr, message);
        assert.match(stderr, /^atm: /);
      }),
    );
  } finally {
    fs.rmSync(folder, { recursive: true, force: true });
  }
});

test('[SL-7.2] on a terminal: the panel shows the LCD the kiosk writes, its keyboard is the keypad, F5 and u are fault switches, q quits', async () => {
  const sim = spawnPty(process.execPath, [atmBin, 'firmware-sim', '--dispense-delay-ms', '0'], { cols: 110, rows: 30 });
  let port: SerialPort | null = null;
  try {
    await sim.waitFor(/device ready: \S+/);
    const hostPath = /device ready: (\S+)/.exec(sim.screenText())?.[1] as string;
    await sim.waitFor('waiting for HELLO');
    port = await openSerialPath(hostPath);
    const { lines, waitFor } = lineReader(port);
    await write(port, HELLO, { verb: 'LCD', row: 2, col: 1, text: 'Hello from the kiosk' });
    await sim.waitFor('| Hello from the kios|'); // 20 columns from column 1: the rest falls off the glass
    await sim.waitFor('talking to the kiosk');
    sim.type('7#');
    sim.press('escape');
    await waitFor((message) => message.verb === 'KEY' && message.key === 'cancel', 'KEY ESC');
    assert.deepEqual(
      lines.filter((message) => message.verb === 'KEY'),
      [
        { verb: 'KEY', key: '7' },
        { verb: 'KEY', key: 'enter' },
        { verb: 'KEY', key: 'cancel' },
      ],
    );
    sim.type('\x1b[15~');
    await sim.waitFor('jam armed after 1 note');
    sim.type('u');
    await sim.waitFor('UNPLUGGED');
    sim.type('q');
    assert.equal((await sim.exited).exitCode, 0);
    assert.equal(fs.existsSync(path.dirname(hostPath)), false, 'socat stopped and its links removed');
  } finally {
    if (port !== null) await closeSerialPort(port);
    await sim.kill();
  }
});
