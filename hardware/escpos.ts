// ESC/POS, Epson's command set for its TM receipt printers, as far as a receipt needs it: a pure
// encoder (lines in, bytes out) and the reader of one real-time status byte. The reference is
// Epson's ESC/POS Command Reference (https://reference.epson-biz.com/modules/ref_escpos/); the
// TM-T88 pages were read for every command used here. A receipt, byte by byte:
//
//   1B 40         ESC @      Initialize printer: clears the print buffer and any mode a previous
//                            (perhaps half-sent) job left behind, so each receipt starts clean.
//   xx … 0A       text, LF   Each line as ASCII bytes, then LF: print the buffer and feed one line.
//   1B 64 n       ESC d n    Print and feed n lines: a margin below the last line.
//   1D 56 42 n    GS V m n   Select cut mode and cut paper, m = 66 (0x42): feed to the cutting
//                            position plus n vertical motion units, then a partial cut (one point
//                            left uncut, so the receipt hangs until taken rather than falling).
//
// The paper, asked before and after each receipt and at an interval:
//
//   10 04 04      DLE EOT 4  Real-time status transmission, n = 4: roll paper sensor status. The
//                            printer answers one byte at once, even while offline or its buffer
//                            is full. Bits 1 and 4 are always on and bits 0 and 7 always off (how
//                            a status byte is told from noise); bits 2-3 on: the near-end sensor
//                            sees the paper near its end; bits 5-6 on: the end sensor sees no paper.
//
// Every byte written is 7-bit (text is printable ASCII, n is at most ESCPOS_N_MAX), so the serial
// port's string writes carry it unchanged.
import { assert } from '../protocol/index.js';
import type { PaperStatus } from './types.js';

export const ESC = 0x1b;
export const GS = 0x1d;
export const DLE = 0x10;
export const EOT = 0x04;
export const LF = 0x0a;

/** The largest parameter sent: keeps every byte 7-bit, and is far more feed than a receipt needs. */
export const ESCPOS_N_MAX = 0x7f;
/** Blank lines fed below the text before the cut. */
export const RECEIPT_FEED_LINES = 3;

/** DLE EOT 4: the roll paper sensor status, answered with one byte. */
export const PAPER_STATUS_REQUEST: readonly number[] = [DLE, EOT, 4];

/** The fixed bits of every DLE EOT answer: bits 1 and 4 on, bits 0 and 7 off. */
const STATUS_FIXED_MASK = 0x93;
const STATUS_FIXED_BITS = 0x12;
const PAPER_NEAR_END_BITS = 0x0c;
const PAPER_END_BITS = 0x60;

/**
 * The bytes of one receipt. The lines must be normalised already (receipt.ts): printable ASCII,
 * as the printer would otherwise read a control character as a command.
 */
export function encodeReceipt(lines: readonly string[], feedLines = RECEIPT_FEED_LINES): Uint8Array {
  assert(Number.isSafeInteger(feedLines) && feedLines >= 0 && feedLines <= ESCPOS_N_MAX, 'feedLines must be 0..127');
  const bytes: number[] = [ESC, 0x40];
  for (const line of lines) {
    assert(/^[\x20-\x7e]*$/.test(line), 'receipt lines must be printable ASCII (normaliseReceiptLines)');
    for (let index = 0; index < line.length; index += 1) bytes.push(line.charCodeAt(index));
    bytes.push(LF);
  }
  bytes.push(ESC, 0x64, feedLines);
  bytes.push(GS, 0x56, 66, 0);
  return Uint8Array.from(bytes);
}

/**
 * The paper as one DLE EOT 4 answer says it, or null when the byte cannot be a status byte
 * (its fixed bits are wrong): noise, or an answer to something else. Either sensor bit of a
 * pair counts, since some printers set only one of the two.
 */
export function parsePaperStatus(byte: number): Exclude<PaperStatus, 'unknown'> | null {
  if (!Number.isInteger(byte) || byte < 0 || byte > 0xff) return null;
  if ((byte & STATUS_FIXED_MASK) !== STATUS_FIXED_BITS) return null;
  if ((byte & PAPER_END_BITS) !== 0) return 'out';
  return (byte & PAPER_NEAR_END_BITS) !== 0 ? 'low' : 'ok';
}
