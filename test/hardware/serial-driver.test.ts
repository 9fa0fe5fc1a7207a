// The serial driver (hardware/serial.ts) against the firmware simulator's line device
// (firmware-sim/), over a real socat pseudo-terminal pair with serialport's real native
// binding on both ends. First the device contract suites (test/helpers/hardware-contracts.ts),
// then what only a wire has: line noise, an unplugged cable (silence, or the port vanishing),
// a dispense that never answers, device faults. Waits poll with deadlines; no sleep asserts.
import { after, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  LineDevice,
  closeSerialPort,
  openPtyPair,
  openSerialPath,
  startFirmwareSim,
  type FirmwareSim,
  type LineDeviceOptions,
} from '../../firmware-sim/index.js';
import {
  SerialLink,
  createSerialDevices,
  displaySizeOf,
  type OpenSerialConnection,
  type SerialDevices,
  type SerialDevicesOptions,
} from '../../hardware/serial.js';
import type { DeviceState, KeyName } from '../../hardware/index.js';
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_LOSS_MS,
  SERIAL_PROTOCOL_VERSION,
  encodeDeviceMessage,
  parseHostLine,
  serialLineChecksum,
  type DeviceMessage,
} from '../../protocol/serial-line.js';
import { makeTempDir } from '../helpers/bank.js';
import {
  CONTRACT_ACCEPTED,
  CONTRACT_CAPACITY_NOTES,
  acceptorContract,
  dispenserContract,
  displayContract,
  faultOf,
  keypadContract,
  recordStates,
} from '../helpers/hardware-contracts.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { waitUntil } from '../helpers/wait.js';

const POLL_MS = 10;
const WAIT_MS = 5_000;

const until = (condition: () => boolean, what: string, timeoutMs = WAIT_MS): Promise<void> =>
  waitUntil(condition, what, timeoutMs, POLL_MS);

/** Driver settings for the contract runs: a shorter heartbeat loss and backoff keep them fast. */
const FAST: SerialDevicesOptions['serial'] = {
  heartbeatLossMs: 1_500,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 300,
  helloTimeoutMs: 1_000,
};

interface Rig {
  sim: FirmwareSim;
  devices: SerialDevices;
  log: string[];
  /** The device's 'display' events: one per LCD (or CLEAR, or BACKLIGHT) line it handled. */
  lcdWrites(): number;
  dispose(): Promise<void>;
}

async function startRig(
  options: {
    device?: Omit<LineDeviceOptions, 'send' | 'nowMs' | 'onEvent'>;
    serial?: SerialDevicesOptions['serial'];
  } = {},
): Promise<Rig> {
  let lcdWrites = 0;
  const sim = await startFirmwareSim({
    device: options.device,
    onEvent: (event) => {
      if (event.kind === 'display') lcdWrites += 1;
    },
  });
  assert.ok(sim.hostPath !== null);
  const log: string[] = [];
  const devices = await createSerialDevices(sim.hostPath, {
    serial: { ...FAST, ...options.serial, log: (line) => log.push(line) },
  });
  return {
    sim,
    devices,
    log,
    lcdWrites: () => lcdWrites,
    async dispose() {
      await Promise.all([
        devices.keypad.close(),
        devices.display.close(),
        devices.dispenser.close(),
        devices.acceptor.close(),
      ]);
      await sim.close();
    },
  };
}

/** The cable: UNPLUG silences the device; the driver must notice by the heartbeat alone. */
const cable = (rig: Rig) => ({
  unplug: async (): Promise<void> => {
    rig.sim.device.unplug();
    await until(() => !rig.devices.link.online, 'the driver to notice the unplug', HEARTBEAT_LOSS_MS + 2_000);
  },
  replug: async (): Promise<void> => {
    rig.sim.device.replug();
    await until(() => rig.devices.link.online, 'the driver to reconnect');
  },
});

keypadContract('serial', async () => {
  const rig = await startRig();
  const { keypad } = rig.devices;
  let delivered = 0;
  keypad.onKey(() => (delivered += 1));
  return {
    keypad,
    // Resolves once the KEY line reached the keypad; when the driver cannot hear it (closed,
    // unplugged) nothing can arrive, so there is nothing to wait for.
    press: async (key) => {
      const before = delivered;
      const sent = rig.sim.device.press(key);
      if (sent && keypad.state() === 'online') await until(() => delivered > before, `KEY ${key} to arrive`);
    },
    ...cable(rig),
    dispose: () => rig.dispose(),
  };
});

displayContract('serial', async () => {
  const rig = await startRig();
  return {
    display: rig.devices.display,
    shown: async () => rig.sim.device.displayLines(),
    ...cable(rig),
    dispose: () => rig.dispose(),
  };
});

dispenserContract('serial', async (cassettes) => {
  const rig = await startRig({ device: { cassettes } });
  const { dispenser } = rig.devices;
  return {
    dispenser,
    jamNext: async (afterNotes) => rig.sim.device.jamNext(afterNotes),
    clearJam: async () => {
      rig.sim.device.clearJam();
      await until(() => dispenser.state() !== 'hardwareError', 'FAULT ok to arrive');
    },
    ...cable(rig),
    dispose: () => rig.dispose(),
  };
});

acceptorContract('serial', async () => {
  const rig = await startRig({
    device: { cashIn: { denominationsCents: CONTRACT_ACCEPTED, capacityNotes: CONTRACT_CAPACITY_NOTES } },
  });
  let acceptor = rig.devices.acceptor;
  const restarted: SerialDevices[] = [];
  /** The driver has heard the device's last ESCROW (when it can hear at all). */
  const inStep = (): boolean => JSON.stringify(acceptor.escrow()) === JSON.stringify(rig.sim.device.escrow());
  return {
    get acceptor() {
      return acceptor;
    },
    insert: async (note) => {
      rig.sim.device.insertNote(note);
      if (rig.devices.link.online) await until(inStep, `the escrow after a ${note} note`);
    },
    jamNext: async () => rig.sim.device.jamEscrowNext(),
    clearJam: async () => {
      rig.sim.device.clearJam();
      await until(() => acceptor.state() !== 'hardwareError', 'ESCROW closed after the jam');
    },
    leaveNextReturn: async () => rig.sim.device.leaveNextReturn(),
    ...cable(rig),
    // The kiosk's power goes: a new driver on the same device, which keeps its escrow.
    restart: async () => {
      await acceptor.close();
      assert.ok(rig.sim.hostPath !== null);
      const devices = await createSerialDevices(rig.sim.hostPath, { serial: FAST });
      restarted.push(devices);
      acceptor = devices.acceptor;
      return acceptor;
    },
    dispose: async () => {
      for (const devices of restarted) await devices.acceptor.close();
      await rig.dispose();
    },
  };
});

describe('serial driver on the wire', { timeout: 30_000 }, () => {
  const rigs: Rig[] = [];
  const rig = async (options: Parameters<typeof startRig>[0] = {}): Promise<Rig> => {
    const started = await startRig(options);
    rigs.push(started);
    return started;
  };
  after(async () => {
    for (const started of rigs) await started.dispose();
  });

  test('opens online with the device greeted, its cassettes known and its LCD written row by row, never CLEAR', async () => {
    const started = await rig({ device: { cassettes: [{ denominationCents: 5000, count: 40 }] } });
    const { devices, sim } = started;
    const { keypad, display, dispenser } = devices;
    await Promise.all([keypad.open(), display.open(), dispenser.open()]);
    assert.deepEqual([keypad.state(), display.state(), dispenser.state()], ['online', 'online', 'online']);
    assert.equal(keypad.kind, 'serial');
    assert.deepEqual(devices.link.hello?.caps, ['keypad4x4', 'lcd20x4', 'dispenser']);
    assert.deepEqual(dispenser.cassettes(), [{ denominationCents: 5000, count: 40 }]);
    await display.show(['WELCOME', 'A: Log in']);
    assert.equal(started.lcdWrites(), 4, 'the first show writes every row: what the glass held was unknown');
    await display.show(['WELCOME', 'A: Log out']);
    assert.equal(started.lcdWrites(), 5, 'one row changed: one LCD line');
    assert.deepEqual(sim.device.displayLines(), [
      'WELCOME'.padEnd(20),
      'A: Log out'.padEnd(20),
      ' '.repeat(20),
      ' '.repeat(20),
    ]);
    await display.show(['WELCOME', 'A: Log out']);
    assert.equal(started.lcdWrites(), 5, 'nothing sent when nothing changed');
    assert.deepEqual(devices.mirror.lines().slice(0, 2), ['WELCOME'.padEnd(20), 'A: Log out'.padEnd(20)]);
    const stats = sim.device.stats;
    assert.deepEqual(
      [stats.oversize, stats.corrupt, stats.unknown],
      [0, 0, 0],
      'the device understood every line we sent',
    );
  });

  test('garbage bytes and over-long lines are counted and dropped; the line stays up and keys still arrive', async () => {
    const { devices, sim } = await rig();
    const { keypad } = devices;
    await keypad.open();
    const keys: KeyName[] = [];
    keypad.onKey((key) => keys.push(key));
    const states = recordStates(keypad);
    for (let burst = 0; burst < 20; burst += 1) {
      sim.device.garbage(40); // random bytes: a corrupt line (or, by chance, one that fails its checksum)
      sim.device.garbage(300); // longer than LINE_BYTES_MAX
      sim.device.press(burst % 2 === 0 ? '1' : '2');
    }
    await until(() => keys.length === 20, 'the 20 keys between the noise');
    assert.deepEqual(
      keys,
      Array.from({ length: 20 }, (_, index) => (index % 2 === 0 ? '1' : '2')),
    );
    const stats = devices.stats();
    assert.equal(stats.oversize, 20, JSON.stringify(stats));
    assert.equal(stats.corrupt + stats.unknown, 20, JSON.stringify(stats));
    assert.deepEqual(states, [], 'never offline');
    assert.equal(stats.disconnects, 0);
  });

  test('unplugged (silent): offline within HEARTBEAT_LOSS_MS; replugged: online again and the LCD rewritten', async () => {
    const { devices, sim } = await rig({ serial: { heartbeatLossMs: HEARTBEAT_LOSS_MS, reconnectDelayMsMax: 500 } });
    const { keypad, display } = devices;
    await Promise.all([keypad.open(), display.open()]);
    await display.show(['BEFORE']);
    const states = recordStates(display);
    const unpluggedAt = performance.now();
    sim.device.unplug();
    await until(() => display.state() === 'offline', 'offline', HEARTBEAT_LOSS_MS + 2_000);
    const detectedMs = performance.now() - unpluggedAt;
    // The last heartbeat came up to an interval before the unplug, the check runs every 250 ms.
    assert.ok(detectedMs <= HEARTBEAT_LOSS_MS + 300, `offline after ${detectedMs.toFixed(0)} ms`);
    assert.ok(
      detectedMs >= HEARTBEAT_LOSS_MS - 1_300,
      `not before the heartbeat was really missed (${detectedMs.toFixed(0)} ms)`,
    );
    assert.equal(keypad.state(), 'offline');
    await assert.rejects(display.show(['LOST']), /offline/);
    sim.device.reset(); // a power cycle while unplugged: blank LCD, waits for HELLO again
    sim.device.replug();
    await until(() => display.state() === 'online', 'online again');
    await display.show(['BEFORE']);
    assert.equal(sim.device.displayLines()[0], 'BEFORE'.padEnd(20), 'every row is rewritten after a reconnect');
    assert.deepEqual(states, ['offline', 'online']);
    assert.equal(devices.stats().disconnects, 1);
  });

  test('the port vanishing (socat killed) is offline within a heartbeat interval, whatever the loss setting; a new device on the same path comes online', async (t) => {
    const dir = makeTempDir('atm-serial-replug-');
    const hostPath = path.join(dir, 'kiosk');
    const devicePath = path.join(dir, 'device');
    let socat: ChildProcess | null = null;
    let sim: FirmwareSim | null = null;
    const plugIn = async (): Promise<void> => {
      socat = spawn('socat', ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let log = '';
      socat.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await until(() => log.includes('starting data transfer loop'), 'socat to start');
      sim = await startFirmwareSim({ portPath: devicePath });
    };
    const pullOut = async (): Promise<void> => {
      const running = socat;
      socat = null;
      if (running !== null && running.exitCode === null) {
        const exited = new Promise((resolve) => running.once('exit', resolve));
        running.kill('SIGKILL');
        await exited;
      }
      await sim?.close();
      sim = null;
    };
    t.after(async () => {
      await pullOut();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    await plugIn();
    const devices = await createSerialDevices(hostPath, { serial: { ...FAST, heartbeatLossMs: 60_000 } });
    t.after(() => devices.keypad.close());
    await devices.keypad.open();
    assert.equal(devices.keypad.state(), 'online');
    const pulledAt = performance.now();
    await pullOut();
    // The binding usually reports the hangup at once; when it does not, the next PING's write
    // fails (EIO), one HEARTBEAT_INTERVAL_MS later at most. Either way long before 60 s.
    await until(() => devices.keypad.state() === 'offline', 'offline by the port closing', HEARTBEAT_INTERVAL_MS + 500);
    t.diagnostic(`port gone → offline in ${(performance.now() - pulledAt).toFixed(0)} ms (heartbeat loss set to 60 s)`);
    await plugIn();
    await until(() => devices.keypad.state() === 'online', 'online on the new port');
    const keys: KeyName[] = [];
    devices.keypad.onKey((key) => keys.push(key));
    (sim as FirmwareSim | null)?.device.press('9');
    await until(() => keys.length === 1, 'a key from the new device');
    assert.deepEqual(keys, ['9']);
  });

  test('a port that does not exist: open() resolves after openWaitMs, the keypad is noDevice (not found), the log says what to check, and the link keeps retrying', async (t) => {
    const dir = makeTempDir('atm-serial-absent-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const log: string[] = [];
    const devices = await createSerialDevices(path.join(dir, 'nothing-here'), {
      serial: { ...FAST, openWaitMs: 200, log: (line) => log.push(line) },
    });
    t.after(() => devices.keypad.close());
    const states: string[] = [];
    devices.keypad.onState((state) => states.push(state));
    await devices.keypad.open();
    await until(
      () => devices.keypad.state() === 'noDevice',
      `the keypad to be noDevice; it is ${devices.keypad.state()}`,
    );
    assert.match(
      log[0] ?? '',
      /nothing-here: no such port: check the path \(ls \/dev\/serial\/by-id\/\) and that the device is plugged in; reconnecting/,
    );
    await assert.rejects(createSerialDevices('', {}), /not a path/);
  });

  test('a DISPENSE that is never answered is a hardwareError with nothing dispensed; the late answer is logged', async () => {
    const started = await rig({ device: { dispenseDelayMs: 600 }, serial: { dispenser: { dispenseTimeoutMs: 150 } } });
    const { dispenser } = started.devices;
    await dispenser.open();
    const result = await dispenser.dispense(4000);
    assert.equal(faultOf(result), 'hardwareError');
    assert.equal(result.dispensedCents, 0);
    assert.match(result.ok ? '' : result.detail, /count the cassettes/);
    await until(() => started.log.some((line) => /late DISPENSED \d+: 4000 cents/.test(line)), 'the late DISPENSED');
    await until(() => dispenser.cassettes()[0]?.count === 98, 'the counts after the late dispense');
    assert.equal(dispenser.state(), 'online');
  });

  test('unplugged mid-dispense: the dispense ends as offline with nothing counted as dispensed', async () => {
    const started = await rig({ device: { dispenseDelayMs: 3_000 } });
    const { dispenser } = started.devices;
    await dispenser.open();
    const pending = dispenser.dispense(2000);
    await until(() => dispenser.state() === 'deviceBusy', 'deviceBusy');
    started.sim.device.unplug();
    const result = await pending;
    assert.equal(faultOf(result), 'offline');
    assert.equal(result.dispensedCents, 0);
  });

  test("after a reconnect the device's fault list is the truth: a jam cleared while unplugged is gone, one still there is back", async () => {
    const { devices, sim } = await rig();
    const { dispenser } = devices;
    await dispenser.open();
    sim.device.jamNext(0);
    assert.equal(faultOf(await dispenser.dispense(2000)), 'jam');
    assert.equal(dispenser.state(), 'hardwareError');
    const { unplug, replug } = cable({ sim, devices } as Rig);
    await unplug();
    await replug();
    assert.equal(dispenser.state(), 'hardwareError', 'the jam is announced again after HELLO');
    await unplug();
    sim.device.clearJam(); // its FAULT ok is lost: the cable is out
    await replug();
    assert.equal(dispenser.state(), 'online');
    assert.deepEqual(await dispenser.dispense(2000), { ok: true, dispensedCents: 2000 });
  });

  test('FAULT tamper: keypad and dispenser fraudAttempt, keys dropped, no cash; FAULT ok restores; cashLow stays online', async () => {
    const { devices, sim } = await rig();
    const { keypad, display, dispenser } = devices;
    await Promise.all([keypad.open(), display.open(), dispenser.open()]);
    assert.equal(dispenser.isLow(), false);
    const keys: KeyName[] = [];
    keypad.onKey((key) => keys.push(key));
    sim.device.setTamper(true);
    await until(() => keypad.state() === 'fraudAttempt', 'fraudAttempt');
    assert.deepEqual<DeviceState[]>([dispenser.state(), display.state()], ['fraudAttempt', 'online']);
    sim.device.press('5');
    const refused = await dispenser.dispense(2000);
    assert.equal(faultOf(refused), 'hardwareError');
    sim.device.setTamper(false);
    await until(() => keypad.state() === 'online', 'online after FAULT ok');
    sim.device.press('6');
    await until(() => keys.length > 0, 'a key after the tamper');
    assert.deepEqual(keys, ['6'], 'the key pressed under tamper was dropped');
    sim.device.setLowCash();
    await until(() => dispenser.isLow(), 'cashLow');
    assert.equal(dispenser.state(), 'online');
    assert.deepEqual(dispenser.cassettes(), [
      { denominationCents: 2000, count: 10 },
      { denominationCents: 1000, count: 10 },
    ]);
  });

  /**
   * A line device wired by hand to one end of a pty pair (no runner), so a test can write raw
   * bytes to the driver and filter what the device says. Its clock moves 100 ms per 100 ms.
   */
  const rawDevice = async (
    t: TestContext,
    filter: (line: string) => boolean = () => true,
    options: Pick<LineDeviceOptions, 'cashIn'> = {},
  ): Promise<{ device: LineDevice; writeRaw: (text: string) => void; hostPath: string }> => {
    const pair = await openPtyPair();
    const port = await openSerialPath(pair.devicePath);
    let nowMs = 0;
    const device = new LineDevice({
      ...options,
      send: (bytes) => {
        if (filter(bytes.toString('latin1'))) port.write(bytes);
      },
      nowMs: () => nowMs,
    });
    port.on('data', (chunk: Buffer) => device.receive(chunk));
    const beat = setInterval(() => {
      nowMs += 100;
      device.tick();
    }, 100);
    t.after(async () => {
      clearInterval(beat);
      await closeSerialPort(port);
      await pair.close();
    });
    return { device, writeRaw: (text) => void port.write(text), hostPath: pair.hostPath };
  };

  test('lines the parser refuses (bad checksum, unknown verb, bad field) are counted by kind and dropped', async (t) => {
    const { writeRaw, hostPath } = await rawDevice(t);
    const devices = await createSerialDevices(hostPath, { serial: FAST });
    t.after(() => devices.keypad.close());
    await devices.keypad.open();
    assert.equal(devices.keypad.state(), 'online');
    const keys: KeyName[] = [];
    devices.keypad.onKey((key) => keys.push(key));
    const framed = (body: string): string =>
      `${body}*${serialLineChecksum(body).toString(16).toUpperCase().padStart(2, '0')}\n`;
    writeRaw(`KEY 1*00\n${framed('ZAP 1')}${framed('KEY Q')}${framed('CASH 2000:x')}\r\n\n${framed('KEY 3')}`);
    await until(() => keys.length === 1, 'the one good KEY');
    assert.deepEqual(keys, ['3']);
    const stats = devices.stats();
    assert.equal(stats.unknown, 1, JSON.stringify(stats));
    assert.equal(stats.corrupt, 3, JSON.stringify(stats)); // checksum, key, cassette field
    assert.equal(devices.link.online, true);
  });

  test('a DISPENSED lost to noise is recovered by repeating the DISPENSE: the device answers from memory and pays once', async (t) => {
    let lost = 0;
    const { device, hostPath } = await rawDevice(t, (line) => {
      if (!line.startsWith('DISPENSED ') || lost > 0) return true;
      lost += 1;
      return false;
    });
    const devices = await createSerialDevices(hostPath, {
      serial: { ...FAST, dispenser: { dispenseRepeatMs: 200, dispenseTimeoutMs: 5_000 } },
    });
    t.after(() => devices.dispenser.close());
    await devices.dispenser.open();
    const result = await devices.dispenser.dispense(6000);
    assert.equal(lost, 1, 'the first answer was lost');
    assert.deepEqual(result, { ok: true, dispensedCents: 6000 });
    assert.deepEqual(
      device.cassettes(),
      [
        { denominationCents: 2000, count: 97 },
        { denominationCents: 1000, count: 100 },
      ],
      'paid once',
    );
    assert.deepEqual(devices.dispenser.cassettes(), device.cassettes());
  });

  test('[SL-4.14] a STORED lost to noise is recovered by repeating the STORE: the device answers from memory and stores once', async (t) => {
    let lost = 0;
    const { device, hostPath } = await rawDevice(
      t,
      (line) => {
        if (!line.startsWith('STORED ') || lost > 0) return true;
        lost += 1;
        return false;
      },
      { cashIn: { denominationsCents: [2000, 1000] } },
    );
    const devices = await createSerialDevices(hostPath, {
      serial: { ...FAST, acceptor: { moveRepeatMs: 200, moveTimeoutMs: 5_000 } },
    });
    t.after(() => devices.acceptor.close());
    const { acceptor } = devices;
    await acceptor.open();
    assert.deepEqual(acceptor.denominationsCents, [2000, 1000], 'ACCEPTS after CASHIN at the greeting');
    assert.ok((await acceptor.openSlot()).ok);
    device.insertNote(2000);
    device.insertNote(1000);
    await until(() => acceptor.escrow().totalCents === 3000, 'the notes counted');
    const result = await acceptor.store();
    assert.equal(lost, 1, 'the first answer was lost');
    assert.deepEqual(result, { ok: true, escrow: { notes: [], totalCents: 0, rejected: 0 } });
    const stored = [
      { denominationCents: 2000, count: 1 },
      { denominationCents: 1000, count: 1 },
    ];
    assert.deepEqual(device.deposits(), stored, 'stored once');
    assert.deepEqual(acceptor.cassette(), stored);
  });

  test('[SL-4.1] a device without cashin: the acceptor is noDevice (the kiosk then takes typed deposits) and refuses every step', async () => {
    const started = await rig();
    const { acceptor, keypad } = started.devices;
    await Promise.all([keypad.open(), acceptor.open()]);
    assert.equal(keypad.state(), 'online');
    assert.equal(acceptor.state(), 'noDevice');
    const result = await acceptor.openSlot();
    assert.deepEqual(result.ok ? null : result.fault, 'cashInFault');
    assert.deepEqual(acceptor.escrow(), { notes: [], totalCents: 0, rejected: 0 });
    assert.equal((await acceptor.store()).ok, false);
    assert.equal(acceptor.capacityNotes, 0, 'no ACCEPTS: nothing asked of a device without the module');
  });

  test('[SL-5.4] a note inserted while the cable is out reaches the driver on replug; after a reconnect the driver reopens the slot it had open', async () => {
    const started = await rig({ device: { cashIn: {} } });
    const { acceptor } = started.devices;
    const { device } = started.sim;
    await acceptor.open();
    assert.ok((await acceptor.openSlot()).ok);
    device.unplug();
    assert.equal(device.insertNote(5000), 'counted');
    device.replug();
    await until(() => acceptor.escrow().totalCents === 5000, 'the escrow repeated on replug');
    assert.equal(started.devices.stats().disconnects, 0, 'no reconnect was needed');
    device.reset(); // the device's power cycle shuts its slot; the kiosk still wants it open
    await until(() => acceptor.state() === 'offline', 'the silence noticed', HEARTBEAT_LOSS_MS + 2_000);
    await until(() => device.slot === 'open', 'SLOT OPEN again after the new HELLO');
    assert.equal(acceptor.state(), 'deviceBusy');
    assert.equal(acceptor.escrow().totalCents, 5000, 'the escrow is physical');
    assert.ok((await acceptor.closeSlot()).ok);
    assert.equal(device.slot, 'closed');
  });

  test('steps wait for a SLOT round trip: a STORE asked before the slot has closed goes through; another while notes move is busy', async () => {
    const started = await rig({ device: { cashIn: { moveDelayMs: 200 } } });
    const { acceptor } = started.devices;
    await acceptor.open();
    await acceptor.openSlot();
    started.sim.device.insertNote(2000);
    await until(() => acceptor.escrow().totalCents === 2000, 'the note counted');
    const closing = acceptor.closeSlot(); // the kiosk does not wait for it before the customer confirms
    const storing = acceptor.store();
    const second = await acceptor.store();
    assert.equal(second.ok ? null : second.fault, 'cashInBusy');
    assert.equal(acceptor.state(), 'deviceBusy');
    assert.ok((await closing).ok);
    assert.deepEqual(await storing, { ok: true, escrow: { notes: [], totalCents: 0, rejected: 0 } });
    assert.deepEqual(acceptor.cassette(), [{ denominationCents: 2000, count: 1 }]);
    assert.equal(acceptor.state(), 'online');
  });

  test('[SL-4.14] a STORE never answered in time is a cashInFault that keeps the escrow; the late STORED is logged', async () => {
    const started = await rig({
      device: { cashIn: { moveDelayMs: 600 } },
      serial: { acceptor: { moveTimeoutMs: 150, moveRepeatMs: 100 } },
    });
    const { acceptor } = started.devices;
    await acceptor.open();
    await acceptor.openSlot();
    started.sim.device.insertNote(2000);
    await until(() => acceptor.escrow().totalCents === 2000, 'the note counted');
    const result = await acceptor.store();
    assert.equal(result.ok ? null : result.fault, 'cashInFault');
    assert.match(result.ok ? '' : result.detail, /no answer to STORE \d+ within 150 ms/);
    await until(() => started.log.some((line) => /late STORED \d+: 2000 cents/.test(line)), 'the late STORED');
    assert.deepEqual(acceptor.escrow().totalCents, 0, 'the ESCROW before it told the truth');
    assert.deepEqual(acceptor.cassette(), [{ denominationCents: 2000, count: 1 }]);
  });
});

// ---------------------------------------------------------------------------------------------
// The link's timing with injected time and a scripted port (no pty): exact, and instant.

/** A port whose device answers HELLO, COUNTS and PING while `answering`, and cannot be opened while not `present`. */
function scriptedPort(version = SERIAL_PROTOCOL_VERSION): {
  open: OpenSerialConnection;
  state: { present: boolean; answering: boolean; opensAtMs: number[] };
  timers: FakeTimers;
} {
  const timers = new FakeTimers();
  const state = { present: true, answering: true, opensAtMs: [] as number[] };
  const open: OpenSerialConnection = async (_path, _baudRate, events) => {
    state.opensAtMs.push(timers.ms);
    if (!state.present) throw new Error('ENOENT: no such file');
    const say = (message: DeviceMessage): void =>
      queueMicrotask(() => events.onData(Buffer.from(encodeDeviceMessage(message), 'latin1')));
    return {
      write: async (data) => {
        const parsed = parseHostLine(data.replace(/\n$/, ''));
        assert.ok(parsed.ok, `the driver sends valid lines: ${data}`);
        if (!state.answering) return;
        const message = parsed.message;
        if (message.verb === 'HELLO') say({ verb: 'HELLO', version, device: 'scripted', caps: [] });
        if (message.verb === 'HELLO' || message.verb === 'COUNTS')
          say({ verb: 'CASH', cassettes: [{ denominationCents: 2000, count: 5 }] });
        if (message.verb === 'PING') say({ verb: 'PONG', seq: message.seq });
      },
      close: async () => undefined,
    };
  };
  return { open, state, timers };
}

describe('serial link timing (injected clock)', () => {
  test('offline once HEARTBEAT_LOSS_MS of silence has passed, not before; reconnect backoff doubles to its cap and resets', async () => {
    const { open, state, timers } = scriptedPort();
    const link = new SerialLink('/dev/scripted', {
      timers,
      openConnection: open,
      reconnectDelayMsMin: 250,
      reconnectDelayMsMax: 2_000,
    });
    const acquired = link.acquire();
    await timers.advance(0);
    await acquired;
    assert.equal(link.online, true);
    await timers.advance(10_000);
    assert.equal(link.online, true, 'PONGs keep it alive');
    state.answering = false;
    const silentFromMs = timers.ms;
    await timers.advance(HEARTBEAT_LOSS_MS - 1_000);
    assert.equal(link.online, true, 'not before the loss time');
    let offlineAtMs: number | null = null;
    link.onOnline((online) => {
      if (!online) offlineAtMs = timers.ms;
    });
    state.present = false;
    await timers.advance(1_500);
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the onOnline listener sets it; set by a callback while awaiting; TypeScript keeps the narrowing (microsoft/TypeScript#9998)
    assert.ok(offlineAtMs !== null);
    // The last PONG came at most one PING interval before the silence began; the check runs every 250 ms.
    assert.ok(
      offlineAtMs - silentFromMs >= HEARTBEAT_LOSS_MS - HEARTBEAT_INTERVAL_MS &&
        offlineAtMs - silentFromMs <= HEARTBEAT_LOSS_MS + 250,
      `offline ${offlineAtMs - silentFromMs} ms into the silence`,
    );
    await timers.advance(8_000);
    const reopens = state.opensAtMs.filter((atMs) => atMs > (offlineAtMs as number));
    const gaps = reopens.map((atMs, index) => atMs - (reopens[index - 1] ?? (offlineAtMs as number)));
    assert.deepEqual(gaps.slice(0, 6), [250, 500, 1_000, 2_000, 2_000, 2_000]);
    state.present = true;
    state.answering = true;
    await timers.advance(2_000);
    assert.equal(link.online, true, 'back once the port opens and the device answers');
    await link.release();
    assert.equal(link.online, false);
  });

  test('a device that answers HELLO with another protocol version is never used; the link keeps retrying', async () => {
    const { open, state, timers } = scriptedPort(2);
    const lines: string[] = [];
    const link = new SerialLink('/dev/scripted', {
      timers,
      openConnection: open,
      openWaitMs: 1_000,
      log: (line) => lines.push(line),
    });
    const acquired = link.acquire();
    await timers.advance(5_000);
    await acquired;
    assert.equal(link.online, false);
    assert.ok(state.opensAtMs.length >= 3, `retried: ${state.opensAtMs.join(', ')}`);
    assert.match(lines.join('\n'), /device speaks protocol version 2, we speak 1/);
    await link.release();
  });
});

test('[SL-4.1] the display size comes from the device HELLO (lcdCxR) unless the kiosk set one', () => {
  assert.deepEqual(displaySizeOf(['keypad4x4', 'lcd16x2', 'dispenser']), { rows: 2, columns: 16 });
  assert.deepEqual(displaySizeOf(['lcd20x4']), { rows: 4, columns: 20 });
  assert.equal(displaySizeOf(['keypad4x4', 'dispenser']), null);
  assert.equal(displaySizeOf(['lcd0x2', 'lcd99x9', 'lcdx']), null);
});
