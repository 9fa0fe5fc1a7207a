// The firmata driver (hardware/firmata.ts). First unit tests with fake timers and mock-firmata:
// the line pacing, the keypad gestures, the diff writes decoded by a PCF8574/HD44780 model, the
// reconnect loop and the device contracts. Then the driver over an emulated Uno running the
// real StandardFirmata (firmware-sim/): exact LCD text over many updates, every key, the
// contracts, the relay pin. Those skip, saying why, when the StandardFirmata hex is not
// cached (`node scripts/fetch-firmata.mjs` fetches it). Waits poll with deadlines.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { KEY_NAMES, createDevices } from '../../hardware/index.js';
import type { KeyName } from '../../hardware/index.js';
import {
  FirmataDispenser,
  FirmataDisplay,
  FirmataKeypad,
  KEYPAD_LEGENDS,
  KEY_FOR_HELD_LEGEND,
  KEY_FOR_LEGEND,
  KeypadGestures,
  PACING_BYTES_PER_INTERVAL_DEFAULT,
  PacedLine,
  createFirmataDevicesOverTransport,
  type FirmataBoardLink,
  type FirmataDeviceBundle,
  type FirmataDriverOptions,
  type FirmataIo,
  type FirmataOptions,
  type FirmataTransport,
  type KeypadLegend,
} from '../../hardware/firmata.js';
import type { SerialTimers } from '../../hardware/shared-line.js';
import { PinState } from 'avr8js';
import { startEmulatedArduino, type EmulatedArduino } from '../../firmware-sim/emulated-arduino.js';
import { loadStandardFirmata } from '../../firmware-sim/firmata-hex.js';
import { Pcf8574Lcd } from '../../firmware-sim/pcf8574-lcd.js';
import {
  dispenserContract,
  displayContract,
  keypadContract,
  recordStates,
  type DispenserHarness,
  type DisplayHarness,
  type KeypadHarness,
} from '../helpers/hardware-contracts.js';
import { waitUntil } from '../helpers/wait.js';

const until = (condition: () => boolean, what: string, timeoutMs = 10_000): Promise<void> =>
  waitUntil(condition, what, timeoutMs, 2);

const padded = (lines: readonly string[], rows = 4, columns = 20): string[] =>
  Array.from({ length: rows }, (_, row) => (lines[row] ?? '').padEnd(columns));

// ---------------------------------------------------------------------------------------------
// Fakes: a clock that moves only when told, and a line that records what it carries.

class ManualTimers implements SerialTimers {
  private now = 0;
  private sequence = 0;
  private tasks: { atMs: number; sequence: number; callback: () => void }[] = [];

  nowMs = (): number => this.now;

  schedule = (delayMs: number, callback: () => void): (() => void) => {
    const task = { atMs: this.now + delayMs, sequence: this.sequence++, callback };
    this.tasks.push(task);
    return () => void (this.tasks = this.tasks.filter((other) => other !== task));
  };

  advance(ms: number): void {
    const endMs = this.now + ms;
    for (;;) {
      this.tasks.sort((a, b) => a.atMs - b.atMs || a.sequence - b.sequence);
      const next = this.tasks[0];
      if (next === undefined || next.atMs > endMs) break;
      this.tasks.shift();
      this.now = next.atMs;
      next.callback();
    }
    this.now = endMs;
  }
}

class FakeTransport extends EventEmitter implements FirmataTransport {
  isOpen = true;
  readonly writes: { atMs: number; bytes: Buffer }[] = [];

  constructor(private readonly nowMs: () => number = () => 0) {
    super();
  }

  write(data: Buffer, callback?: (error?: Error | null) => void): boolean {
    this.writes.push({ atMs: this.nowMs(), bytes: Buffer.from(data) });
    process.nextTick(() => callback?.(null));
    return true;
  }

  close(callback?: (error?: Error | null) => void): void {
    this.unplug();
    callback?.(null);
  }

  unplug(): void {
    if (!this.isOpen) return;
    this.isOpen = false;
    this.emit('close');
  }
}

const ticks = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

// ---------------------------------------------------------------------------------------------
// PacedLine.

test('paced line: no 20 ms span carries more than 48 bytes, the bytes keep their order, drained() waits for the last', async () => {
  const timers = new ManualTimers();
  const inner = new FakeTransport(timers.nowMs);
  const line = new PacedLine(inner, { bytesPerInterval: 48, intervalMs: 20 }, timers, () =>
    assert.fail('the line was not lost'),
  );
  // 100 one-byte I2C writes as firmata-io frames them (7 bytes each): 25 LCD characters.
  const frames = Array.from({ length: 100 }, (_, index) =>
    Buffer.from([0xf0, 0x76, 0x27, 0x00, index & 0x7f, 0x00, 0xf7]),
  );
  const callbacks: (Error | null | undefined)[] = [];
  for (const frame of frames) line.write(frame, (error) => callbacks.push(error));
  let drained = false;
  void line.drained().then(() => (drained = true));
  for (let ms = 0; ms < 279; ms += 1) timers.advance(1);
  await ticks();
  assert.equal(drained, false, '700 bytes at 48 per 20 ms need 15 windows: the last starts at 280 ms');
  timers.advance(1);
  await ticks();
  assert.equal(drained, true);
  assert.equal(callbacks.length, 100);
  assert.ok(callbacks.every((error) => error === null));
  assert.deepEqual(Buffer.concat(inner.writes.map((write) => write.bytes)), Buffer.concat(frames));
  for (const { atMs } of inner.writes) {
    const inSpan = inner.writes
      .filter((write) => write.atMs >= atMs && write.atMs < atMs + 20)
      .reduce((sum, write) => sum + write.bytes.length, 0);
    assert.ok(inSpan <= 48, `${inSpan} bytes in the 20 ms from ${atMs} ms`);
  }
  assert.equal(line.windowBytesMax, 48);
});

test('paced line: losing the line fails pending writes and drained(), calls onLost once, refuses later writes', async () => {
  const timers = new ManualTimers();
  const inner = new FakeTransport(timers.nowMs);
  const reasons: string[] = [];
  const line = new PacedLine(inner, { bytesPerInterval: 48, intervalMs: 20 }, timers, (reason) => reasons.push(reason));
  const errors: (Error | null | undefined)[] = [];
  line.write(Buffer.alloc(200), (error) => errors.push(error));
  const drained = line.drained();
  inner.unplug();
  inner.emit('error', new Error('EIO'));
  await assert.rejects(drained, /line is gone: port closed/);
  await ticks();
  assert.equal(errors.length, 1);
  assert.match(String(errors[0]?.message), /line is gone/);
  assert.deepEqual(reasons, ['port closed']);
  const late: (Error | null | undefined)[] = [];
  assert.equal(
    line.write(Buffer.from([1]), (error) => late.push(error)),
    false,
  );
  await ticks();
  assert.match(String(late[0]?.message), /line is gone/);
  timers.advance(100);
  assert.equal(Buffer.concat(inner.writes.map((write) => write.bytes)).length, 48, 'nothing after the first window');
});

test("paced line: a budget that could fill StandardFirmata's 64-byte receive buffer is refused", () => {
  const timers = new ManualTimers();
  assert.throws(
    () => new PacedLine(new FakeTransport(), { bytesPerInterval: 64, intervalMs: 20 }, timers, () => undefined),
    /bytesPerInterval/,
  );
  assert.throws(
    () => createFirmataDevicesOverTransport(new FakeTransport(), { firmata: { pacing: { bytesPerInterval: 80 } } }),
    /bytesPerInterval/,
  );
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- guards the constant against a later edit
  assert.ok(PACING_BYTES_PER_INTERVAL_DEFAULT < 64);
});

// ---------------------------------------------------------------------------------------------
// Keypad gestures.

/** The 16 legends tapped in the backpack's order (KEYPAD_LEGENDS), as the kiosk must receive them: DESIGN §5's layout. */
const TAPPED_KEYS: readonly KeyName[] = [
  '1',
  '2',
  '3',
  'A',
  '4',
  '5',
  '6',
  'B',
  '7',
  '8',
  '9',
  'C',
  'clear',
  '0',
  'enter',
  'D',
];

/** How a harness produces each KeyName on a 4×4 keypad: a tap, or a hold of * or #. */
const GESTURE_FOR_KEY = new Map<KeyName, { legend: KeypadLegend; hold: boolean }>([
  ...KEYPAD_LEGENDS.map((legend): [KeyName, { legend: KeypadLegend; hold: boolean }] => [
    KEY_FOR_LEGEND[legend],
    { legend, hold: false },
  ]),
  ...KEYPAD_LEGENDS.flatMap((legend): [KeyName, { legend: KeypadLegend; hold: boolean }][] => {
    const held = KEY_FOR_HELD_LEGEND[legend];
    return held === undefined ? [] : [[held, { legend, hold: true }]];
  }),
]);

test('keypad gestures: every legend taps its key; * and # on release; holding them is cancel and backspace, once', () => {
  const keys: KeyName[] = [];
  const gestures = new KeypadGestures((key) => keys.push(key));
  for (const legend of KEYPAD_LEGENDS) {
    gestures.onDown([legend]);
    gestures.onUp([legend]);
  }
  assert.deepEqual(keys, TAPPED_KEYS);
  keys.length = 0;
  gestures.onDown(['*']);
  assert.deepEqual(keys, [], '* waits: it may become a hold');
  gestures.onHold(['*']);
  gestures.onHold(['*']);
  gestures.onUp(['*']);
  gestures.onDown(['#']);
  gestures.onHold(['#']);
  gestures.onUp(['#']);
  gestures.onDown(['5']);
  gestures.onHold(['5']);
  gestures.onUp(['5']);
  assert.deepEqual(keys, ['cancel', 'backspace', '5']);
  assert.deepEqual([...GESTURE_FOR_KEY.keys()].sort(), KEY_NAMES.filter((key) => GESTURE_FOR_KEY.has(key)).sort());
  assert.deepEqual(
    KEY_NAMES.filter((key) => !GESTURE_FOR_KEY.has(key)),
    [],
    'every KeyName can be typed on the 4×4 keypad',
  );
});

test("keypad gestures: a release whose press johnny-five's debounce swallowed still counts; unknown legends are ignored", () => {
  const keys: KeyName[] = [];
  const gestures = new KeypadGestures((key) => keys.push(key));
  gestures.onDown(['1']);
  gestures.onUp(['1', '7']); // rollover: 7 went down and up between our events
  gestures.onDown(['9']);
  gestures.onDown(['9']); // johnny-five only reports a down after an up: a lost 'up' must not eat the press
  gestures.onDown(['X', '10']);
  gestures.onUp(['#']);
  assert.deepEqual(keys, ['1', '7', '9', '9', 'enter']);
});

// ---------------------------------------------------------------------------------------------
// Rigs: the world around the driver, with the powers the harnesses need.

/** A board the harnesses can press keys on, unplug and replug. */
interface BoardRig {
  readonly bundle: FirmataDeviceBundle;
  readonly link: FirmataBoardLink;
  readonly plugged: boolean;
  pressLegend(legend: KeypadLegend): void;
  releaseLegends(): void;
  /** Resolves once the board has sampled the keypad `count` more times. */
  samplesPass(count: number): Promise<void>;
  /** The text on the LCD's glass, once what the driver sent has been executed. */
  glass(): Promise<string[]>;
  unplug(): Promise<void>;
  replug(): Promise<void>;
  stop(): Promise<void>;
}

function nextLinkKey(link: FirmataBoardLink, key: KeyName, timeoutMs = 5_000): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      unsubscribe();
      reject(new Error(`key ${key} never reached the driver`));
    }, timeoutMs);
    const unsubscribe = link.onKey((delivered) => {
      if (delivered !== key) return;
      clearTimeout(timer);
      unsubscribe();
      resolve();
    });
  });
}

/**
 * A finger on the keypad; resolves once the driver could have noticed. Keys that count on
 * 'down' (and holds) are held until the board reports them; a tap of * or # (which counts on
 * release) lasts two keypad samples, well under keypadHoldMs. After the release the board
 * samples the keypad again, so the next press is a new one.
 */
async function pressKey(rig: BoardRig, key: KeyName): Promise<void> {
  const gesture = GESTURE_FOR_KEY.get(key);
  assert.ok(gesture !== undefined, `no gesture for ${key}`);
  if (!rig.plugged) return;
  const delivered = rig.link.online ? nextLinkKey(rig.link, key) : null;
  const countsOnRelease = !gesture.hold && KEY_FOR_HELD_LEGEND[gesture.legend] !== undefined;
  rig.pressLegend(gesture.legend);
  if (delivered === null || countsOnRelease) await rig.samplesPass(2);
  else await delivered;
  rig.releaseLegends();
  await delivered;
  await rig.samplesPass(3);
}

interface MockIo extends FirmataIo {
  emit(event: string): boolean;
  i2cConfig(options: unknown): void;
  i2cWrite(address: number, data: number | number[]): void;
  i2cRead(address: number, bytes: number, callback: (data: number[]) => void): void;
}

const require = createRequire(import.meta.url);
const { Firmata: MockFirmata } = require('mock-firmata') as { Firmata: new () => MockIo };

const FAST_LINK: FirmataOptions = {
  readyTimeoutMs: 8_000,
  reconnectDelayMsMin: 10,
  reconnectDelayMsMax: 100,
  keypadHoldMs: 300,
  openWaitMs: 15_000,
};

/**
 * johnny-five on mock-firmata: I2C writes to 0x27 drive the firmware simulator's PCF8574/HD44780
 * model, the keypad backpack is sampled every 4 ms, and the "cable" is a FakeTransport.
 */
class MockRig implements BoardRig {
  plugged = true;
  /** False: the next boards never say ready. */
  answers = true;
  /** True: the board stops talking (wedged) while its port stays open. */
  silent = false;
  lcd = new Pcf8574Lcd();
  samples = 0;
  connections = 0;
  readonly digitalWrites: [number, number][] = [];
  readonly bundle: FirmataDeviceBundle;
  private bits = 0;
  private transport: FakeTransport | null = null;
  private reader: ((data: number[]) => void) | null = null;
  private readonly sampler = setInterval(() => this.sample(), 4);

  constructor(options: FirmataOptions = {}) {
    this.bundle = createFirmataDevicesOverTransport(() => this.connect(), {
      firmata: { ...FAST_LINK, ...options, createIo: () => this.createIo() },
    });
  }

  get link(): FirmataBoardLink {
    return this.bundle.link;
  }

  pressLegend(legend: KeypadLegend): void {
    this.bits |= 1 << KEYPAD_LEGENDS.indexOf(legend);
  }

  releaseLegends(): void {
    this.bits = 0;
  }

  async samplesPass(count: number): Promise<void> {
    const start = this.samples;
    await until(() => this.samples >= start + count, `${count} keypad samples`);
  }

  async glass(): Promise<string[]> {
    return this.lcd.lines();
  }

  async unplug(): Promise<void> {
    this.plugged = false;
    this.transport?.unplug();
  }

  async replug(): Promise<void> {
    this.plugged = true;
    await until(() => this.link.online, 'the mock board online');
  }

  async stop(): Promise<void> {
    clearInterval(this.sampler);
    await this.bundle.close();
  }

  private connect(): FirmataTransport {
    if (!this.plugged) throw new Error('no board on the cable');
    this.connections += 1;
    this.lcd = new Pcf8574Lcd(); // the board (and the LCD it powers) starts afresh
    this.reader = null;
    this.transport = new FakeTransport();
    return this.transport;
  }

  private createIo(): FirmataIo {
    const io = new MockFirmata();
    io.i2cConfig = () => undefined;
    io.i2cWrite = (address, data) => {
      if (address !== 0x27) return;
      this.lcd.connect(true);
      for (const byte of [data].flat()) this.lcd.writeByte(byte);
      this.lcd.stop();
    };
    io.i2cRead = (address, _bytes, callback) => {
      if (address === 0x0a) this.reader = callback;
    };
    io.digitalWrite = (pin, value) => void this.digitalWrites.push([pin, value]);
    if (this.answers) {
      setImmediate(() => {
        io.emit('connect');
        io.emit('ready');
      });
    }
    return io;
  }

  /** StandardFirmata's continuous I2C read: a reply on the line every sample. */
  private sample(): void {
    if (!this.plugged || this.silent || this.reader === null) return;
    this.samples += 1;
    this.transport?.emit('data', Buffer.from([0xf0, 0x77, 0x0a, 0x00, 0x00, 0x00, 0xf7]));
    this.reader([(this.bits >> 8) & 0xff, this.bits & 0xff]);
  }
}

// ---------------------------------------------------------------------------------------------
// The driver on mock-firmata.

test('mock-firmata: show() puts exact text on the glass; the next show() writes only the changed span', async () => {
  const rig = new MockRig();
  try {
    const { display } = rig.bundle;
    await display.open();
    assert.equal(display.state(), 'online');
    assert.equal(display.kind, 'firmata');
    await display.show(['WELCOME', 'A: Log in', 'B: Sign up']);
    assert.deepEqual(await rig.glass(), padded(['WELCOME', 'A: Log in', 'B: Sign up']));
    const written = display.charactersWritten;
    const dataBefore = rig.lcd.controller.dataCount;
    await display.show(['WELCOME', 'A: Log on', 'B: Sign up']);
    assert.deepEqual(await rig.glass(), padded(['WELCOME', 'A: Log on', 'B: Sign up']));
    assert.equal(display.charactersWritten - written, 1, "only 'i' → 'o' is written");
    assert.equal(rig.lcd.controller.dataCount - dataBefore, 1);
    await display.show(['WELCOME', 'A: Log on', 'B: Sign up']);
    assert.equal(display.charactersWritten - written, 1, 'an unchanged screen writes nothing');
    assert.deepEqual(rig.bundle.mirror.lines(), padded(['WELCOME', 'A: Log on', 'B: Sign up']));
    assert.equal(
      rig.lcd.controller.displayOn && !rig.lcd.controller.cursorOn && rig.lcd.backlight,
      true,
      'display on, cursor off, backlight on',
    );
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: shows in quick succession all resolve and the glass ends with the last one', async () => {
  const rig = new MockRig();
  try {
    await rig.bundle.display.open();
    const shows = Array.from({ length: 5 }, (_, index) =>
      rig.bundle.display.show([`screen ${index}`, `line ${index * 11}`]),
    );
    await Promise.all(shows);
    assert.deepEqual(await rig.glass(), padded(['screen 4', 'line 44']));
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: every keypad key reaches onKey as its KeyName; * and # held are cancel and backspace', async () => {
  const rig = new MockRig();
  try {
    const { keypad } = rig.bundle;
    await keypad.open();
    const keys: KeyName[] = [];
    keypad.onKey((key) => keys.push(key));
    for (const legend of KEYPAD_LEGENDS) await pressKey(rig, KEY_FOR_LEGEND[legend]);
    await pressKey(rig, 'cancel');
    await pressKey(rig, 'backspace');
    assert.deepEqual(keys, [...TAPPED_KEYS, 'cancel', 'backspace']);
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: absent at open(), the devices open offline; when the board appears they come online and the text is put back', async () => {
  const rig = new MockRig({ openWaitMs: 50 });
  try {
    rig.plugged = false;
    const { display, keypad } = rig.bundle;
    const states = recordStates(display);
    await Promise.all([display.open(), keypad.open()]);
    assert.equal(display.state(), 'offline');
    assert.equal(keypad.state(), 'offline');
    await assert.rejects(display.show(['nobody home']), /offline/);
    await rig.replug();
    assert.equal(keypad.state(), 'online');
    await display.show(['HELLO', 'again']);
    await rig.unplug();
    assert.equal(display.state(), 'offline');
    await rig.replug();
    await until(() => rig.lcd.lines()[0] === 'HELLO'.padEnd(20), 'the text put back after the reconnect');
    assert.deepEqual(await rig.glass(), padded(['HELLO', 'again']));
    assert.deepEqual(states, ['online', 'offline', 'online']);
    assert.ok(rig.link.stats.disconnects >= 2);
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: a board that never says ready is dropped after readyTimeoutMs and the line reopened', async () => {
  const rig = new MockRig({ readyTimeoutMs: 100, openWaitMs: 50 });
  try {
    rig.answers = false;
    await rig.bundle.keypad.open();
    assert.equal(rig.bundle.keypad.state(), 'offline');
    await until(() => rig.connections >= 2, 'a second attempt');
    assert.match(String(rig.link.stats.lastDisconnect), /did not answer within 100 ms/);
    rig.answers = true;
    await until(() => rig.link.online, 'online once the board answers');
    assert.equal(rig.bundle.keypad.state(), 'online');
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: a board that stops talking while its port stays open is dropped after silenceTimeoutMs and reopened', async () => {
  const rig = new MockRig({ silenceTimeoutMs: 200 });
  try {
    const { keypad } = rig.bundle;
    await keypad.open();
    const states = recordStates(keypad);
    rig.silent = true;
    await until(() => keypad.state() === 'offline', 'offline after the silence');
    assert.match(String(rig.link.stats.lastDisconnect), /no byte from the board for \d+ ms/);
    rig.silent = false;
    await until(() => keypad.state() === 'online', 'online on a fresh line');
    assert.deepEqual(states, ['offline', 'online']);
    assert.equal(rig.connections, 2);
  } finally {
    await rig.stop();
  }
});

test('mock-firmata: with a relay pin, a dispense pulses it once per note', async () => {
  const rig = new MockRig({
    relayPin: 8,
    relayPulseMs: 5,
    relayGapMs: 5,
    dispenser: {
      cassettes: [
        { denominationCents: 5000, count: 3 },
        { denominationCents: 2000, count: 10 },
      ],
    },
  });
  try {
    const { dispenser } = rig.bundle;
    await dispenser.open();
    assert.deepEqual(rig.digitalWrites, [[8, 0]], 'the relay starts off');
    assert.deepEqual(await dispenser.dispense(14_000), { ok: true, dispensedCents: 14_000 });
    assert.deepEqual(rig.digitalWrites.slice(1), [
      [8, 1],
      [8, 0],
      [8, 1],
      [8, 0],
      [8, 1],
      [8, 0],
      [8, 1],
      [8, 0],
    ]);
    assert.deepEqual(dispenser.cassettes(), [
      { denominationCents: 5000, count: 1 },
      { denominationCents: 2000, count: 8 },
    ]);
    const refused = await dispenser.dispense(1000);
    assert.equal(refused.ok, false);
    assert.equal(rig.digitalWrites.length, 9, 'an amount it cannot make moves nothing');
  } finally {
    await rig.stop();
  }
});

test('factory: firmata:PATH with no such port opens the devices offline (never throws) and keeps retrying', async () => {
  const logs: string[] = [];
  const options: FirmataDriverOptions = {
    log: (line) => logs.push(line),
    firmata: { openWaitMs: 100, reconnectDelayMsMin: 20, reconnectDelayMsMax: 40 },
  };
  const bundle = await createDevices('firmata:/dev/secure-atm-no-such-port', options);
  try {
    await Promise.all([bundle.keypad.open(), bundle.display.open(), bundle.dispenser.open()]);
    assert.deepEqual(
      [bundle.keypad.state(), bundle.display.state(), bundle.dispenser.state()],
      ['offline', 'offline', 'offline'],
    );
    assert.equal(bundle.keypad.kind, 'firmata');
    await until(() => logs.length >= 2, 'two failed attempts in the log');
    assert.match(logs[0] ?? '', /cannot open the line/);
  } finally {
    await Promise.allSettled([bundle.keypad.close(), bundle.display.close(), bundle.dispenser.close()]);
  }
});

// ---------------------------------------------------------------------------------------------
// Contracts on mock-firmata: a fresh rig per test.

keypadContract('firmata (mock-firmata)', async (): Promise<KeypadHarness> => {
  const rig = new MockRig();
  return {
    keypad: rig.bundle.keypad,
    press: (key) => pressKey(rig, key),
    unplug: () => rig.unplug(),
    replug: () => rig.replug(),
    dispose: () => rig.stop(),
  };
});

displayContract('firmata (mock-firmata)', async (): Promise<DisplayHarness> => {
  const rig = new MockRig();
  return {
    display: rig.bundle.display,
    shown: () => rig.glass(),
    unplug: () => rig.unplug(),
    replug: () => rig.replug(),
    dispose: () => rig.stop(),
  };
});

dispenserContract('firmata (mock-firmata)', async (cassettes): Promise<DispenserHarness> => {
  const rig = new MockRig({ dispenser: { cassettes } });
  const { dispenser } = rig.bundle;
  return {
    dispenser,
    jamNext: async (afterNotes) => dispenser.cassetteModel.jamNext({ afterNotes }),
    clearJam: async () => dispenser.cassetteModel.clearJam(),
    unplug: () => rig.unplug(),
    replug: () => rig.replug(),
    dispose: () => rig.stop(),
  };
});

// ---------------------------------------------------------------------------------------------
// The driver on an emulated Uno running the real StandardFirmata.

const firmware = loadStandardFirmata();
const skip =
  'reason' in firmware
    ? `StandardFirmata hex not available (node scripts/fetch-firmata.mjs fetches it): ${firmware.reason}`
    : false;

/**
 * The emulated kiosk board. The driver's line source boots a fresh Uno each time it is asked
 * (a replug power-cycles the board, LCD included) and refuses while unplugged. One rig serves
 * the whole file: `start()` holds the line open, so each contract test gets fresh devices over
 * a board that is already up, as devices are in a kiosk.
 */
class EmulatorRig implements BoardRig {
  plugged = true;
  arduino: EmulatedArduino | null = null;
  boots = 0;
  readonly bundle: FirmataDeviceBundle;

  constructor(options: FirmataOptions = {}) {
    this.bundle = createFirmataDevicesOverTransport(() => this.connect(), {
      firmata: { ...FAST_LINK, reportVersionTimeoutMs: 3_000, ...options },
    });
  }

  get link(): FirmataBoardLink {
    return this.bundle.link;
  }

  async start(): Promise<this> {
    await this.link.acquire();
    assert.equal(this.link.online, true, `the emulated board came online (${String(this.link.stats.lastDisconnect)})`);
    return this;
  }

  pressLegend(legend: KeypadLegend): void {
    this.arduino?.keypad.press(legend);
  }

  releaseLegends(): void {
    this.arduino?.keypad.release();
  }

  async samplesPass(count: number): Promise<void> {
    const arduino = this.arduino;
    if (arduino === null) return;
    const start = arduino.keypadBackpack.reads;
    await until(() => arduino.keypadBackpack.reads >= start + count, `${count} keypad reads by the firmware`);
  }

  /** Once 3 simulated ms passed, the firmware has executed the last bytes that reached its UART. */
  async glass(): Promise<string[]> {
    const arduino = this.arduino;
    assert.ok(arduino !== null, 'the board is plugged in');
    const untilMs = arduino.board.simulatedMs + 3;
    await until(() => arduino.board.simulatedMs >= untilMs, 'the firmware to run 3 ms');
    return arduino.lcd.lines();
  }

  async unplug(): Promise<void> {
    this.plugged = false;
    this.arduino?.stop();
    this.arduino = null;
  }

  async replug(): Promise<void> {
    this.plugged = true;
    await until(() => this.link.online, 'the emulated board online again', 15_000);
  }

  async stop(): Promise<void> {
    await this.link.release();
    this.arduino?.stop();
  }

  private connect(): FirmataTransport {
    if (!this.plugged || 'reason' in firmware) throw new Error('the Uno is unplugged');
    this.arduino?.stop();
    this.boots += 1;
    this.arduino = startEmulatedArduino({ hex: firmware.program });
    return this.arduino.transport;
  }
}

// A relay on D8, pulsed per note, for every dispenser on the emulated board.
const RELAY_PIN = 8;
let sharedRig: Promise<EmulatorRig> | null = null;
const emulator = (): Promise<EmulatorRig> =>
  (sharedRig ??= new EmulatorRig({ relayPin: RELAY_PIN, relayPulseMs: 5, relayGapMs: 5 }).start());
after(async () => {
  if (sharedRig !== null) await (await sharedRig).stop();
});

test(
  'emulated Uno: the welcome screen and 20 changing screens after it are exact on the LCD, paced at ≤ 48 bytes per 20 ms',
  { skip },
  async () => {
    const rig = await emulator();
    const display = new FirmataDisplay(rig.link);
    try {
      await display.open();
      await display.show(['WELCOME', 'A: Log in', 'B: Sign up']);
      assert.deepEqual(await rig.glass(), padded(['WELCOME', 'A: Log in', 'B: Sign up']));
      // Mostly small changes, as a kiosk makes them (a digit typed, a balance), and every tenth
      // a whole new screen: the bursts that would overrun an unpaced line.
      for (let update = 0; update < 20; update += 1) {
        const screen =
          update % 10 === 9
            ? [
                String.fromCharCode(65 + update).repeat(20),
                `Screen ${update} of 20`.padStart(20, '.'),
                '0123456789!"#$%&()+,',
                `${update}`.repeat(20).slice(0, 20),
              ]
            : [
                `Balance ${(update * 1234.56).toFixed(2)}`,
                update % 2 === 0 ? 'A: Log in' : 'A: Log on',
                `${'*'.repeat(update % 9)}#`,
                `Update ${update}/20`,
              ];
        await display.show(screen);
        assert.deepEqual(await rig.glass(), padded(screen), `update ${update}`);
      }
      const arduino = rig.arduino as EmulatedArduino;
      assert.equal(arduino.lcd.controller.writesWhileBusy, 0, 'no strobe reached a busy HD44780');
      assert.ok(
        (rig.link.current?.line.windowBytesMax ?? 99) <= 48,
        'the line never carried more than 48 bytes in a window',
      );
      assert.equal(
        arduino.board.serialBytesDelivered,
        rig.link.current?.line.bytesSent,
        'every paced byte reached the UART',
      );
    } finally {
      await display.close();
    }
  },
);

test(
  'emulated Uno: every one of the 16 keys reaches onKey as its KeyName; holding * and # gives cancel and backspace',
  { skip },
  async () => {
    const rig = await emulator();
    const keypad = new FirmataKeypad(rig.link);
    try {
      await keypad.open();
      const keys: KeyName[] = [];
      keypad.onKey((key) => keys.push(key));
      for (const legend of KEYPAD_LEGENDS) await pressKey(rig, KEY_FOR_LEGEND[legend]);
      await pressKey(rig, 'cancel');
      await pressKey(rig, 'backspace');
      assert.deepEqual(keys, [...TAPPED_KEYS, 'cancel', 'backspace']);
    } finally {
      await keypad.close();
    }
  },
);

test('emulated Uno: a relay on D8 sees one pulse per note, driven through the real firmware', { skip }, async () => {
  const rig = await emulator();
  const dispenser = new FirmataDispenser(rig.link, {
    cassettes: [
      { denominationCents: 5000, count: 2 },
      { denominationCents: 2000, count: 10 },
    ],
  });
  try {
    const arduino = rig.arduino as EmulatedArduino;
    const { port, bit } = arduino.board.pin(RELAY_PIN);
    let pulses = 0;
    port.addListener((value, oldValue) => {
      if ((value & (1 << bit)) !== 0 && (oldValue & (1 << bit)) === 0) pulses += 1;
    });
    await dispenser.open();
    assert.deepEqual(await dispenser.dispense(9000), { ok: true, dispensedCents: 9000 });
    await rig.glass(); // the last LOW has reached the pin
    assert.equal(pulses, 3, '5000 + 2000 + 2000: three notes');
    assert.equal(port.pinState(bit), PinState.Low, 'the relay is left off');
  } finally {
    await dispenser.close();
  }
});

if (skip !== false) {
  test('emulated Uno: the keypad, display and dispenser contracts', { skip }, () => undefined);
} else {
  keypadContract('firmata (emulated Uno)', async (): Promise<KeypadHarness> => {
    const rig = await emulator();
    const keypad = new FirmataKeypad(rig.link);
    return {
      keypad,
      press: (key) => pressKey(rig, key),
      unplug: () => rig.unplug(),
      replug: () => rig.replug(),
      dispose: () => keypad.close(),
    };
  });

  displayContract('firmata (emulated Uno)', async (): Promise<DisplayHarness> => {
    const rig = await emulator();
    const display = new FirmataDisplay(rig.link);
    return {
      display,
      shown: () => rig.glass(),
      unplug: () => rig.unplug(),
      replug: () => rig.replug(),
      dispose: () => display.close(),
    };
  });

  dispenserContract('firmata (emulated Uno)', async (cassettes): Promise<DispenserHarness> => {
    const rig = await emulator();
    const dispenser = new FirmataDispenser(rig.link, { cassettes });
    return {
      dispenser,
      jamNext: async (afterNotes) => dispenser.cassetteModel.jamNext({ afterNotes }),
      clearJam: async () => dispenser.cassetteModel.clearJam(),
      unplug: () => rig.unplug(),
      replug: () => rig.replug(),
      dispose: () => dispenser.close(),
    };
  });
}
