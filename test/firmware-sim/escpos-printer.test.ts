// The simulated ESC/POS printer's state machine (firmware-sim/escpos-printer.ts), fed bytes
// directly: the golden receipt parses back to its lines, DLE EOT answers follow Epson's tables,
// and what it does not know is counted, never thrown. Its pty edge runs in serial-printer.test.ts.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { EscposPrinter, SIM_RECEIPTS_KEPT_MAX, SIM_RECEIPT_LINES_MAX } from '../../firmware-sim/index.js';
import type { PrintedReceipt } from '../../firmware-sim/index.js';
import { goldenDir } from '../helpers/paths.js';

function rig(columns = 42): { printer: EscposPrinter; sent: number[]; heard: PrintedReceipt[] } {
  const sent: number[] = [];
  const heard: PrintedReceipt[] = [];
  const printer = new EscposPrinter({ columns, send: (bytes) => sent.push(...bytes), onReceipt: (r) => heard.push(r) });
  return { printer, sent, heard };
}

const bytesOf = (...parts: (string | number[])[]): Uint8Array =>
  Uint8Array.from(parts.flatMap((part) => (typeof part === 'string' ? [...Buffer.from(part, 'latin1')] : part)));

test('escpos sim: the golden receipt prints as its lines, fed 3 lines and cut partially', () => {
  const { printer, heard } = rig();
  printer.receive(fs.readFileSync(path.join(goldenDir, 'receipt.escpos')));
  assert.equal(heard.length, 1);
  assert.deepEqual(heard[0], {
    lines: [
      'SECURE ATM',
      'Kiosk kiosk-01',
      '2026-11-27 12:00 UTC',
      '',
      'WITHDRAWAL                          $40.00',
      'Balance                            $160.00',
      '',
      'Thank you',
    ],
    cut: 'partial',
    feedLines: 3,
  });
  assert.deepEqual(printer.stats, { unknownBytes: 0, lostBytes: 0, statusRequests: 0, receipts: 1 });
});

test('escpos sim: byte by byte is the same as all at once', () => {
  const golden = fs.readFileSync(path.join(goldenDir, 'receipt.escpos'));
  const whole = rig();
  whole.printer.receive(golden);
  const split = rig();
  for (const byte of golden) split.printer.receive(Uint8Array.of(byte));
  assert.deepEqual(split.heard, whole.heard);
});

test('escpos sim: DLE EOT 1-4 answer at once with the bits of the Epson tables, mid-line too', () => {
  const { printer, sent } = rig();
  const ask = (n: number): number => {
    sent.length = 0;
    printer.receive(bytesOf([0x10, 0x04, n]));
    assert.equal(sent.length, 1);
    return sent[0] ?? -1;
  };
  assert.deepEqual([ask(1), ask(2), ask(3), ask(4)], [0x12, 0x12, 0x12, 0x12]);
  printer.setPaper('low');
  assert.equal(ask(4), 0x1e, 'near-end: bits 2-3');
  assert.equal(ask(1), 0x12, 'still online');
  printer.setPaper('out');
  assert.deepEqual([ask(1), ask(2), ask(4)], [0x1a, 0x32, 0x7e], 'offline, paper-end stop, paper end');
  printer.setPaper('ok');
  printer.receive(bytesOf('half', [0x10, 0x04, 0x04], ' line\n', [0x1d, 0x56, 0x01]));
  assert.deepEqual(
    printer.receipts().map((receipt) => receipt.lines),
    [['half line']],
  );
  sent.length = 0;
  printer.receive(bytesOf([0x10, 0x04, 0x09]));
  assert.deepEqual(sent, [], 'n outside 1..4 is not answered');
  assert.equal(printer.stats.statusRequests, 11, 'the one with a bad n is counted too');
});

test('escpos sim: paper out stops printing and cutting; unplugged it hears and says nothing', () => {
  const { printer, sent, heard } = rig();
  printer.setPaper('out');
  printer.receive(bytesOf([0x1b, 0x40], 'lost\n', [0x1d, 0x56, 0x42, 0x00]));
  assert.deepEqual(heard, []);
  assert.equal(printer.stats.lostBytes, 4);
  printer.setPaper('ok');
  printer.unplug();
  printer.receive(bytesOf('unheard\n', [0x10, 0x04, 0x04, 0x1d, 0x56, 0x00]));
  assert.deepEqual([heard, sent], [[], []]);
  printer.replug();
  printer.receive(bytesOf([0x1b, 0x40], 'heard\n', [0x1d, 0x56, 0x00]));
  assert.deepEqual(heard, [{ lines: ['heard'], cut: 'full', feedLines: 0 }]);
});

test('escpos sim: ESC @ discards the unprinted line; text wraps at the paper width; CR is ignored', () => {
  const { printer } = rig(32);
  printer.receive(bytesOf('never printed', [0x1b, 0x40], 'a'.repeat(40), '\r\n', [0x1d, 0x56, 0x42, 0x05]));
  assert.deepEqual(printer.receipts(), [{ lines: ['a'.repeat(32), 'a'.repeat(8)], cut: 'partial', feedLines: 0 }]);
});

test('escpos sim: unknown commands and bytes are counted and skipped; random bytes never throw', () => {
  const { printer } = rig();
  printer.receive(
    bytesOf([0x1b, 0x7a, 0x1d, 0x21, 0x1d, 0x56, 0x07, 0x10, 0x05, 0x07, 0xff], 'ok\n', [0x1d, 0x56, 0x30]),
  );
  assert.deepEqual(
    printer.receipts().map((receipt) => receipt.lines),
    [['ok']],
  );
  assert.equal(printer.stats.unknownBytes, 2 + 2 + 3 + 2 + 1 + 1);
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 2_000 }), (bytes) => {
      const fuzzed = rig();
      fuzzed.printer.receive(bytes);
      assert.ok(fuzzed.printer.receipts().every((receipt) => receipt.lines.every((line) => line.length <= 42)));
    }),
  );
});

test('escpos sim: a strip without a cut is cut at SIM_RECEIPT_LINES_MAX; only SIM_RECEIPTS_KEPT_MAX are kept', () => {
  const { printer, heard } = rig();
  printer.receive(bytesOf('x\n'.repeat(SIM_RECEIPT_LINES_MAX + 1)));
  assert.equal(heard.length, 1);
  assert.equal(heard[0]?.lines.length, SIM_RECEIPT_LINES_MAX);
  for (let index = 0; index < SIM_RECEIPTS_KEPT_MAX + 5; index += 1)
    printer.receive(bytesOf(`r${index}\n`, [0x1d, 0x56, 0x01]));
  const kept = printer.receipts();
  assert.equal(kept.length, SIM_RECEIPTS_KEPT_MAX);
  assert.deepEqual(kept.at(-1)?.lines, [`r${SIM_RECEIPTS_KEPT_MAX + 4}`]);
});
