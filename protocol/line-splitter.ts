// [SL-2.5] Splitting a serial byte stream into lines, with a bounded buffer and counts of what
// was dropped, shared by the host driver and the firmware simulator.
import { assert } from './assert.js';
import { LINE_BYTES_MAX, UNKNOWN_VERB } from './serial-line-spec.js';

export interface LineStats {
  /** Every non-empty line that ended in '\n', whether delivered or dropped. */
  lines: number;
  /** Dropped: longer than maxBytes (with its '\n'). */
  oversize: number;
  /** Dropped by the splitter (a byte outside 0x20-0x7e), or counted by countRejected. */
  corrupt: number;
  /** Counted by countRejected: a well-formed line with a verb the parser does not know. */
  unknown: number;
}

export class LineSplitter {
  readonly stats: LineStats = { lines: 0, oversize: 0, corrupt: 0, unknown: 0 };
  private readonly buffer: Buffer;
  private length = 0;
  private overflowed = false;

  /** maxBytes counts the '\n'; one byte more is buffered so that a trailing '\r' can be stripped. */
  constructor(readonly maxBytes: number = LINE_BYTES_MAX) {
    assert(Number.isSafeInteger(maxBytes) && maxBytes >= 2 && maxBytes <= 65_536, 'maxBytes must be 2..65536');
    this.buffer = Buffer.alloc(maxBytes);
  }

  /** The complete, printable-ASCII lines in chunk (with what came before), without '\r\n'. */
  push(chunk: Buffer | string): string[] {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
    const lines: string[] = [];
    for (const byte of bytes) {
      if (byte === 0x0a) {
        const line = this.endLine();
        if (line !== null) lines.push(line);
      } else if (this.length === this.maxBytes) {
        // [SL-2.3] Past the limit the rest of the line is discarded as it arrives.
        this.overflowed = true;
      } else if (!this.overflowed) {
        this.buffer[this.length] = byte;
        this.length += 1;
      }
    }
    return lines;
  }

  /** The line was cut (cable pulled, port reopened): forget a partial line, keep the stats. */
  discardPartialLine(): void {
    this.length = 0;
    this.overflowed = false;
  }

  /** Counts a line the parser refused: 'unknown verb' as unknown, any other reason as corrupt. */
  countRejected(reason: string): void {
    if (reason === UNKNOWN_VERB) this.stats.unknown += 1;
    else this.stats.corrupt += 1;
  }

  private endLine(): string | null {
    const overflowed = this.overflowed;
    const end = this.length > 0 && this.buffer[this.length - 1] === 0x0d ? this.length - 1 : this.length;
    this.length = 0;
    this.overflowed = false;
    if (!overflowed && end === 0) return null; // [SL-2.5] an empty line resynchronises; not counted
    this.stats.lines += 1;
    if (overflowed || end + 1 > this.maxBytes) {
      this.stats.oversize += 1;
      return null;
    }
    for (let index = 0; index < end; index += 1) {
      const byte = this.buffer[index] as number;
      if (byte < 0x20 || byte > 0x7e) {
        this.stats.corrupt += 1;
        return null;
      }
    }
    return this.buffer.toString('latin1', 0, end);
  }
}
