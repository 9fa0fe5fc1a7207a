// The sim receipt printer (hardware/sim-printer.ts): the ReceiptPrinter contract, then its file
// (one append-only file, 0600, a form feed after each receipt) and the printer factory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  RECEIPT_END,
  SIM_RECEIPTS_FILE,
  SimPrinter,
  createPrinter,
  type ReceiptPrinter,
} from '../../hardware/index.js';
import { makeTempDir } from '../helpers/bank.js';
import { printFaultOf, printerContract } from '../helpers/printer-contract.js';

printerContract('sim', async () => {
  const dir = makeTempDir('atm-sim-printer-');
  const printer = new SimPrinter({ dir });
  return {
    printer,
    printed: () => printer.receipts(),
    setPaper: async (paper) => printer.setPaper(paper),
    unplug: async () => printer.unplug(),
    replug: async () => printer.replug(),
    dispose: async () => {
      await printer.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
});

test('sim printer: one append-only file, created 0600, each receipt ended by a form feed line', async (t) => {
  const dir = makeTempDir('atm-sim-printer-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const printer = new SimPrinter({ dir, columns: 32 });
  await printer.open();
  await printer.print(['A', 'B']);
  await printer.print(['C']);
  const file = path.join(dir, SIM_RECEIPTS_FILE);
  assert.equal(printer.file, file);
  assert.equal(fs.readFileSync(file, 'latin1'), `A\nB\n${RECEIPT_END}C\n${RECEIPT_END}`);
  assert.equal(fs.statSync(file).mode & 0o777, 0o600);
  fs.chmodSync(file, 0o644);
  await printer.close();
  await printer.open();
  assert.equal(fs.statSync(file).mode & 0o777, 0o600, 'open() tightens a loosened file');
  assert.deepEqual(await printer.receipts(), [['A', 'B'], ['C']]);
});

test('sim printer: an empty receipt and a receipt of one blank line read back apart', async (t) => {
  const dir = makeTempDir('atm-sim-printer-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const printer = new SimPrinter({ dir });
  await printer.open();
  await printer.print([]);
  await printer.print(['']);
  assert.deepEqual(await printer.receipts(), [[], ['']]);
});

test('sim printer: a folder that is missing rejects open() (configuration); one that vanishes is writeFailed', async (t) => {
  const dir = makeTempDir('atm-sim-printer-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const missing = new SimPrinter({ dir: path.join(dir, 'nope') });
  await assert.rejects(missing.open(), { code: 'BAD_DEVICE_SPEC' });
  const inner = path.join(dir, 'inner');
  fs.mkdirSync(inner);
  const printer = new SimPrinter({ dir: inner });
  await printer.open();
  fs.rmSync(inner, { recursive: true });
  const result = await printer.print(['gone']);
  assert.equal(printFaultOf(result), 'writeFailed');
  assert.match(result.ok ? '' : result.detail, /ENOENT/);
});

test('sim printer: columns other than 42 or 32 are a programmer error', () => {
  assert.throws(() => new SimPrinter({ dir: '/tmp', columns: 40 as 42 }), /42 \(80 mm\) or 32 \(58 mm\)/);
});

test('createPrinter: sim writes to the data folder; escpos:PATH is the serial driver, not opened; bad specs are typed', async (t) => {
  const dir = makeTempDir('atm-sim-printer-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const sim: ReceiptPrinter = await createPrinter('sim', { dataDir: dir, columns: 32 });
  assert.equal(sim.kind, 'sim');
  assert.equal(sim.columns, 32);
  assert.ok(sim instanceof SimPrinter && sim.file === path.join(dir, SIM_RECEIPTS_FILE));
  const serial = await createPrinter('escpos:/dev/ttyUSB9', { dataDir: dir });
  assert.equal(serial.kind, 'escpos');
  assert.equal(serial.columns, 42);
  assert.equal(serial.state(), 'offline');
  for (const spec of ['escpos:', 'serial:/dev/ttyS0', '', 'SIM'])
    await assert.rejects(createPrinter(spec, { dataDir: dir }), { code: 'BAD_DEVICE_SPEC' });
});
