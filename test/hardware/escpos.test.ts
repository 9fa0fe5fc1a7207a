// The pure half of the receipt printer: the ReceiptPrinter text rule (hardware/receipt.ts),
// the ESC/POS encoder against a committed golden file, and the DLE EOT 4 status byte against
// the values in Epson's tables (hardware/escpos.ts).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import {
  PAPER_STATUS_REQUEST,
  RECEIPT_LINES_MAX,
  encodeReceipt,
  normaliseReceiptLines,
  parsePaperStatus,
} from '../../hardware/index.js';
import { goldenDir } from '../helpers/paths.js';

/** The receipt of test/golden/receipt.escpos: an 80 mm roll, 42 columns. */
const GOLDEN_LINES = [
  'SECURE ATM',
  'Kiosk kiosk-01',
  '2026-11-27 12:00 UTC',
  '',
  'WITHDRAWAL                          $40.00',
  'Balance                            $160.00',
  '',
  'Thank you',
];

test('escpos: a fixed receipt encodes to the committed golden bytes', () => {
  // The golden file was checked by hand once against Epson's ESC/POS reference (TM-T88 pages):
  //   1B 40        ESC @      initialise printer
  //   53 45 … 0A   text, LF   "SECURE ATM", print and line feed; likewise each line, 0A alone for a blank one
  //   1B 64 03     ESC d 3    print and feed 3 lines
  //   1D 56 42 00  GS V 66 0  feed to the cutting position (+ 0 units) and cut partially
  const golden = fs.readFileSync(path.join(goldenDir, 'receipt.escpos'));
  const bytes = encodeReceipt(normaliseReceiptLines(GOLDEN_LINES, 42));
  assert.deepEqual(Buffer.from(bytes), golden);
  assert.deepEqual([...golden.subarray(0, 2)], [0x1b, 0x40]);
  assert.deepEqual([...golden.subarray(-7)], [0x1b, 0x64, 0x03, 0x1d, 0x56, 0x42, 0x00]);
  assert.equal(golden.filter((byte) => byte === 0x0a).length, GOLDEN_LINES.length);
});

test('escpos: every encoded byte is 7-bit, and a line that is not printable ASCII is a programmer error', () => {
  fc.assert(
    fc.property(fc.array(fc.string({ unit: 'binary', maxLength: 100 }), { maxLength: 80 }), (lines) => {
      const bytes = encodeReceipt(normaliseReceiptLines(lines, 32));
      assert.ok(bytes.every((byte) => byte < 0x80));
    }),
  );
  assert.throws(() => encodeReceipt(['tab\there']), /printable ASCII/);
  assert.throws(() => encodeReceipt([], 128), /feedLines/);
});

test('escpos: DLE EOT 4 is 10 04 04, and its answers read as Epson tabulates them', () => {
  assert.deepEqual(PAPER_STATUS_REQUEST, [0x10, 0x04, 0x04]);
  // Fixed bits 1 and 4 on: 0x12 is paper adequate and present.
  assert.equal(parsePaperStatus(0x12), 'ok');
  // Bits 2-3 (0x0C): near-end sensor sees the paper near its end.
  assert.equal(parsePaperStatus(0x1e), 'low');
  // Bits 5-6 (0x60): end sensor sees no paper; with the near-end bits too, as an empty roll gives.
  assert.equal(parsePaperStatus(0x72), 'out');
  assert.equal(parsePaperStatus(0x7e), 'out');
  // Printers that set one bit of a pair.
  assert.equal(parsePaperStatus(0x16), 'low');
  assert.equal(parsePaperStatus(0x32), 'out');
  // Fixed bits wrong: not a status byte (noise, an echo).
  for (const byte of [0x00, 0x10, 0x02, 0x13, 0x92, 0xff, 0x0a, -1, 256, 1.5])
    assert.equal(parsePaperStatus(byte), null);
});

test('escpos: any byte value reads as a paper status or null, never a throw', () => {
  const read = Array.from({ length: 256 }, (_, byte) => parsePaperStatus(byte));
  assert.equal(read.filter((paper) => paper !== null).length, 16, 'bits 2, 3, 5 and 6 free: 16 status bytes');
});

test('receipt text: non-ASCII and control characters become ?, long lines wrap, trailing blanks go', () => {
  assert.deepEqual(normaliseReceiptLines(['Café ✓', 'a\tb\x1b@', '😀!', 'end   '], 32), [
    'Caf? ?',
    'a?b?@',
    '?!',
    'end',
  ]);
  const long = `${'a'.repeat(32)}${'b'.repeat(32)}c`;
  assert.deepEqual(normaliseReceiptLines([long], 32), ['a'.repeat(32), 'b'.repeat(32), 'c']);
  assert.deepEqual(normaliseReceiptLines([`${'a'.repeat(31)} ${'b'.repeat(3)}`], 32), ['a'.repeat(31), 'bbb']);
  assert.deepEqual(normaliseReceiptLines(['', '   ', 'x'], 42), ['', '', 'x']);
  assert.deepEqual(normaliseReceiptLines([], 42), []);
});

test('receipt text: at most RECEIPT_LINES_MAX lines, counted after wrapping', () => {
  const lines = Array.from({ length: RECEIPT_LINES_MAX }, () => 'y'.repeat(42 * 2));
  const printed = normaliseReceiptLines(lines, 42);
  assert.equal(printed.length, RECEIPT_LINES_MAX);
  assert.ok(printed.every((line) => line === 'y'.repeat(42)));
  assert.throws(() => normaliseReceiptLines(['x'], 40), /42 \(80 mm\) or 32 \(58 mm\)/);
});
