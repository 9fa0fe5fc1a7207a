// The ReceiptPrinter contract's text rule (types.ts), shared by every printer driver so a
// receipt reads the same on the sim's file and on paper.
import { assert } from '../protocol/index.js';
import type { PrintFault, PrintResult } from './types.js';

/** An 80 mm roll in Epson's font A (12 × 24 dots, 576 dots a line on a TM-T88): 42 characters. */
export const RECEIPT_COLUMNS_WIDE = 42;
/** A 58 mm roll in font A: 32 characters. */
export const RECEIPT_COLUMNS_NARROW = 32;
export type ReceiptColumns = typeof RECEIPT_COLUMNS_WIDE | typeof RECEIPT_COLUMNS_NARROW;
/** The kiosk's printer takes an 80 mm roll unless configured otherwise. */
export const RECEIPT_COLUMNS_DEFAULT: ReceiptColumns = RECEIPT_COLUMNS_WIDE;
/**
 * A receipt's printed lines, after wrapping: an ATM receipt is a dozen lines, so 60 is room
 * to spare while one runaway receipt still cannot empty the roll (60 lines ≈ 25 cm).
 */
export const RECEIPT_LINES_MAX = 60;

export function assertReceiptColumns(columns: number): asserts columns is ReceiptColumns {
  assert(
    columns === RECEIPT_COLUMNS_WIDE || columns === RECEIPT_COLUMNS_NARROW,
    `printer columns must be ${RECEIPT_COLUMNS_WIDE} (80 mm) or ${RECEIPT_COLUMNS_NARROW} (58 mm), got ${columns}`,
  );
}

/**
 * The lines as printed: each character a code point, anything outside printable ASCII a '?'
 * (a control character would be a printer command), lines longer than `columns` wrapped (an
 * amount at the end of a long line must not be cut off), trailing blanks dropped, and at most
 * RECEIPT_LINES_MAX lines. An empty line stays, as a blank line.
 */
export function normaliseReceiptLines(lines: readonly string[], columns: number): string[] {
  assertReceiptColumns(columns);
  const printed: string[] = [];
  for (const line of lines) {
    const characters = Array.from(line).map((character) => (/^[\x20-\x7e]$/.test(character) ? character : '?'));
    const text = characters.join('').trimEnd();
    for (let start = 0; start === 0 || start < text.length; start += columns) {
      if (printed.length === RECEIPT_LINES_MAX) return printed;
      printed.push(text.slice(start, start + columns).trimEnd());
    }
  }
  return printed;
}

export const printFailure = (fault: PrintFault, detail: string): PrintResult => ({ ok: false, fault, detail });
