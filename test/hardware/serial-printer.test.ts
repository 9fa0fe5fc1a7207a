// The ESC/POS serial printer driver (hardware/serial-printer.ts) against the firmware-sim
// printer (firmware-sim/escpos-printer.ts) over a real socat pseudo-terminal pair, with the real
// serialport binding on both ends: the ReceiptPrinter contract, then what only a wire has (the
// status poll, a roll ending mid-receipt, the port vanishing). Last, the poll's timing and
// bounded retry with injected time and a scripted port. Waits poll with deadlines; no sleeps.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  startEscposPrinterSim,
  type EscposPrinterSim,
  type EscposPrinterSimOptions,
} from '../../firmware-sim/index.js';
import { SerialPrinter, type SerialPrinterOptions } from '../../hardware/serial-printer.js';
import type { OpenSerialConnection } from '../../hardware/serial-port.js';
import { makeTempDir } from '../helpers/bank.js';
import { FakeTimers } from '../helpers/fake-timers.js';
import { recordStates } from '../helpers/hardware-contracts.js';
import { printFaultOf, printerContract, recordPaper } from '../helpers/printer-contract.js';
import { waitUntil } from '../helpers/wait.js';

const until = (condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> =>
  waitUntil(condition, what, timeoutMs, 10);

/** Short polls and backoff keep the pty runs fast; an unplug is noticed within ~0.4 s. */
const FAST: SerialPrinterOptions = {
  statusTimeoutMs: 150,
  statusAttempts: 2,
  pollIntervalMs: 100,
  reconnectDelayMsMin: 50,
  reconnectDelayMsMax: 300,
};

interface Rig {
  sim: EscposPrinterSim;
  printer: SerialPrinter;
  log: string[];
  dispose(): Promise<void>;
}

async function startRig(options: SerialPrinterOptions = {}, simOptions: EscposPrinterSimOptions = {}): Promise<Rig> {
  const sim = await startEscposPrinterSim(simOptions);
  assert.ok(sim.hostPath !== null);
  const log: string[] = [];
  const printer = new SerialPrinter(sim.hostPath, { ...FAST, ...options, log: (line) => log.push(line) });
  return {
    sim,
    printer,
    log,
    dispose: () => rigDispose(printer, sim),
  };
}

async function rigDispose(printer: SerialPrinter, sim: EscposPrinterSim): Promise<void> {
  await printer.close();
  await sim.close();
}

printerContract('escpos serial', async () => {
  const rig = await startRig();
  const { printer, sim } = rig;
  return {
    printer,
    printed: async () => sim.printer.receipts().map((receipt) => receipt.lines),
    setPaper: async (paper) => sim.printer.setPaper(paper),
    unplug: async () => {
      sim.printer.unplug();
      await until(() => printer.state() === 'offline', 'the driver to notice the unplug');
    },
    replug: async () => {
      sim.printer.replug();
      await until(() => printer.state() === 'online', 'the driver to reconnect');
    },
    dispose: () => rig.dispose(),
  };
});

describe('escpos serial printer on the wire', { timeout: 30_000 }, () => {
  test('the status poll reports paper low and out with no receipt printed, and the new roll', async (t) => {
    const { printer, sim } = await startRig();
    t.after(() => rigDispose(printer, sim));
    await printer.open();
    const papers = recordPaper(printer);
    for (const paper of ['low', 'out', 'ok'] as const) {
      sim.printer.setPaper(paper);
      await until(() => printer.paper() === paper, `the poll to see paper ${paper}`);
    }
    assert.deepEqual(papers, ['low', 'out', 'ok']);
    assert.equal(sim.printer.stats.receipts, 0);
    assert.equal(printer.noiseBytes, 0);
  });

  test('a roll that ends during a receipt: the receipt went out, the result is paperOut, the next is refused', async (t) => {
    // The sim's roll ends as it cuts: only the driver's ask after the receipt can see it.
    let runOut = (): void => undefined;
    const { printer, sim } = await startRig({ pollIntervalMs: 60_000 }, { onReceipt: () => runOut() });
    t.after(() => rigDispose(printer, sim));
    runOut = () => sim.printer.setPaper('out');
    await printer.open();
    const result = await printer.print(['last of the roll']);
    assert.equal(printFaultOf(result), 'paperOut');
    assert.match(result.ok ? '' : result.detail, /ran out during this receipt/);
    assert.deepEqual(
      sim.printer.receipts().map((receipt) => receipt.lines),
      [['last of the roll']],
    );
    assert.equal(printer.paper(), 'out');
    const refused = await printer.print(['refused']);
    assert.equal(printFaultOf(refused), 'paperOut');
    assert.match(refused.ok ? '' : refused.detail, /out of paper: receipt not printed/);
    assert.equal(sim.printer.stats.receipts, 1);
  });

  test('the port vanishing: offline at once, noDevice while missing, online when a printer appears on the path', async (t) => {
    const dir = makeTempDir('atm-printer-replug-');
    const stablePath = path.join(dir, 'printer');
    let sim: EscposPrinterSim | null = await startEscposPrinterSim();
    t.after(async () => {
      await sim?.close();
      fs.rmSync(dir, { recursive: true, force: true });
    });
    fs.symlinkSync(sim.hostPath ?? '', stablePath);
    const printer = new SerialPrinter(stablePath, { ...FAST, pollIntervalMs: 60_000 });
    t.after(() => printer.close());
    await printer.open();
    assert.equal(printer.state(), 'online');
    const states = recordStates(printer);
    await sim.close(); // socat gone: the pty vanishes
    sim = null;
    // As udev removes a /dev/serial/by-id link on unplug. Left in place, the link could name a
    // pty number that another program's pseudo-terminal reuses (seen once in a full test run).
    fs.rmSync(stablePath);
    await until(() => printer.state() === 'noDevice', 'noDevice once the path is missing');
    assert.equal(printFaultOf(await printer.print(['lost'])), 'offline');
    sim = await startEscposPrinterSim();
    fs.symlinkSync(sim.hostPath ?? '', stablePath);
    await until(() => printer.state() === 'online', 'online on the new port');
    assert.deepEqual(await printer.print(['after the replug']), { ok: true });
    assert.deepEqual(
      sim.printer.receipts().map((receipt) => receipt.lines),
      [['after the replug']],
    );
    assert.deepEqual(states.at(-1), 'online');
    assert.ok(states.includes('noDevice'), JSON.stringify(states));
  });
});

// ---------------------------------------------------------------------------------------------
// The poll's timing and retry with injected time and a scripted port (no pty): exact, and instant.

const DLE_EOT_4 = '\x10\x04\x04';

/** A printer that answers DLE EOT 4 with `answer` (null: silence) and takes receipts unless `writeHangs`. */
function scriptedPrinter(): {
  open: OpenSerialConnection;
  port: { answer: number | null; writeHangs: boolean; asks: number; receipts: number };
  timers: FakeTimers;
} {
  const timers = new FakeTimers();
  const port = { answer: 0x12 as number | null, writeHangs: false, asks: 0, receipts: 0 };
  const open: OpenSerialConnection = async (_path, _baudRate, events) => ({
    write: (data) => {
      if (data !== DLE_EOT_4) {
        if (port.writeHangs) return new Promise<void>(() => undefined);
        port.receipts += 1;
        return Promise.resolve();
      }
      port.asks += 1;
      const answer = port.answer;
      if (answer !== null) queueMicrotask(() => events.onData(Buffer.of(0x00, answer))); // a noise byte first
      return Promise.resolve();
    },
    close: async () => undefined,
  });
  return { open, port, timers };
}

describe('escpos serial printer timing (injected clock)', () => {
  const settings = { statusTimeoutMs: 500, statusAttempts: 3, pollIntervalMs: 2_000, reconnectDelayMsMin: 250 };

  test('silence: offline after exactly statusAttempts asks of statusTimeoutMs each, not before; back when it answers', async () => {
    const { open, port, timers } = scriptedPrinter();
    const printer = new SerialPrinter('/dev/scripted', { ...settings, timers, openConnection: open });
    const opening = printer.open();
    await timers.advance(0);
    await opening;
    assert.equal(printer.state(), 'online');
    assert.equal(port.asks, 1, 'asked once on open');
    assert.equal(printer.noiseBytes, 1, 'the noise byte before the answer was counted, not read as status');
    port.answer = null;
    await timers.advance(settings.pollIntervalMs); // the poll's first ask goes out now
    const asksBefore = port.asks;
    await timers.advance(settings.statusTimeoutMs * settings.statusAttempts - 1);
    assert.equal(printer.state(), 'online', 'not before the last ask timed out');
    assert.equal(port.asks - asksBefore, settings.statusAttempts - 1);
    await timers.advance(1);
    assert.equal(printer.state(), 'offline');
    assert.equal(port.asks - asksBefore, settings.statusAttempts - 1, 'bounded: no ask after the last timeout');
    assert.equal(printFaultOf(await printer.print(['lost'])), 'offline');
    port.answer = 0x1e;
    await timers.advance(settings.reconnectDelayMsMin);
    assert.equal(printer.state(), 'online');
    assert.equal(printer.paper(), 'low');
    await printer.close();
  });

  test('a print whose ask goes unanswered resolves with timeout; one whose bytes never drain with timeout after writeTimeoutMs', async () => {
    const { open, port, timers } = scriptedPrinter();
    const printer = new SerialPrinter('/dev/scripted', {
      ...settings,
      writeTimeoutMs: 3_000,
      timers,
      openConnection: open,
    });
    const opening = printer.open();
    await timers.advance(0);
    await opening;
    port.answer = null;
    const unanswered = printer.print(['a']);
    await timers.advance(settings.statusTimeoutMs * settings.statusAttempts);
    const first = await unanswered;
    assert.equal(printFaultOf(first), 'timeout');
    assert.match(first.ok ? '' : first.detail, /no answer to DLE EOT 4 in 3 attempts of 500 ms/);
    assert.equal(port.receipts, 0);
    port.answer = 0x12;
    await timers.advance(settings.reconnectDelayMsMin);
    assert.equal(printer.state(), 'online');
    port.writeHangs = true;
    const wedged = printer.print(['b']);
    await timers.advance(2_999);
    let settled = false;
    void wedged.then(() => (settled = true));
    await timers.advance(0);
    assert.equal(settled, false);
    await timers.advance(1);
    assert.equal(printFaultOf(await wedged), 'timeout');
    assert.equal(printer.state(), 'offline', 'a wedged line is dropped and reopened');
    await printer.close();
  });
});
