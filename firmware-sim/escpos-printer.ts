// A simulated Epson TM-series receipt printer as a state machine: the host's ESC/POS bytes in,
// receipts and real-time status bytes out through the injected send(). No ports or timers: the
// edge (escpos-runner.ts) feeds it from a pseudo-terminal, tests feed it directly.
//
// It understands what a receipt uses, read from Epson's ESC/POS reference, not from our encoder
// (hardware/escpos.ts), so the two check each other: ESC @ (initialise: the unprinted line is
// discarded), printable ASCII and LF (print the line), CR (ignored, as with auto line feed off),
// ESC d n (print and feed n lines), GS V m [n] (cut: m 0/48 full, 1/49 partial, 65/66 the same
// after feeding n units), and DLE EOT n (real-time status, n = 1..4, answered at once). Text
// wraps at `columns`, as the paper does. Anything else is counted and skipped: an unknown ESC
// or GS command is taken to have no parameters, which a real printer would not assume.
import { assert } from '../protocol/index.js';

export type SimPaper = 'ok' | 'low' | 'out';

export interface PrintedReceipt {
  /** The printed lines, blank ones included; the feed before the cut is not a line. */
  lines: string[];
  cut: 'full' | 'partial';
  /** Lines fed by ESC d since the last text line (the margin above the cut). */
  feedLines: number;
}

export interface EscposPrinterStats {
  /** Bytes that were no command this printer knows, or text lost to a paper-end stop. */
  unknownBytes: number;
  lostBytes: number;
  statusRequests: number;
  receipts: number;
}

export interface EscposPrinterOptions {
  /** Bytes to the host (the status answers). */
  send: (bytes: Uint8Array) => void;
  onReceipt?: (receipt: PrintedReceipt) => void;
  /** Characters a line before the paper wraps: 42 on 80 mm, 32 on 58 mm. Default 42. */
  columns?: number;
}

/** A receipt longer than this without a cut is cut here: the sim never holds an unbounded strip. */
export const SIM_RECEIPT_LINES_MAX = 500;
/** Receipts kept for receipts(); older ones are dropped (onReceipt has heard them all). */
export const SIM_RECEIPTS_KEPT_MAX = 100;

type ParserState = 'text' | 'esc' | 'escD' | 'gs' | 'gsV' | 'gsVn' | 'dle' | 'dleEot';

export class EscposPrinter {
  readonly columns: number;
  private parser: ParserState = 'text';
  private cutMode: PrintedReceipt['cut'] = 'partial';
  private lineBuffer = '';
  private lines: string[] = [];
  private feedLines = 0;
  private readonly kept: PrintedReceipt[] = [];
  private roll: SimPaper = 'ok';
  private plugged = true;
  private readonly counts: EscposPrinterStats = { unknownBytes: 0, lostBytes: 0, statusRequests: 0, receipts: 0 };

  constructor(private readonly options: EscposPrinterOptions) {
    this.columns = options.columns ?? 42;
    assert(Number.isSafeInteger(this.columns) && this.columns >= 1 && this.columns <= 80, 'columns 1..80');
  }

  get paper(): SimPaper {
    return this.roll;
  }

  get isPlugged(): boolean {
    return this.plugged;
  }

  get stats(): EscposPrinterStats {
    return { ...this.counts };
  }

  /** The last SIM_RECEIPTS_KEPT_MAX receipts cut, oldest first, as copies. */
  receipts(): PrintedReceipt[] {
    return this.kept.map((receipt) => ({ ...receipt, lines: [...receipt.lines] }));
  }

  /** Test power: what the roll's sensors see. At 'out' printing stops and text is lost. */
  setPaper(paper: SimPaper): void {
    this.roll = paper;
  }

  /** Test power: the cable out. Bytes either way are lost; the host hears silence. */
  unplug(): void {
    this.plugged = false;
  }

  replug(): void {
    this.plugged = true;
  }

  /** Bytes from the host. Lost while unplugged. */
  receive(bytes: Uint8Array): void {
    if (!this.plugged) return;
    for (const byte of bytes) this.step(byte);
  }

  private step(byte: number): void {
    const state = this.parser;
    this.parser = 'text';
    switch (state) {
      case 'text':
        this.text(byte);
        return;
      case 'esc':
        if (byte === 0x40) this.lineBuffer = '';
        else if (byte === 0x64) this.parser = 'escD';
        else this.counts.unknownBytes += 2;
        return;
      case 'escD':
        this.printLine(false);
        this.feedLines += byte;
        return;
      case 'gs':
        if (byte === 0x56) this.parser = 'gsV';
        else this.counts.unknownBytes += 2;
        return;
      case 'gsV':
        this.cutCommand(byte);
        return;
      case 'gsVn':
        this.cut();
        return;
      case 'dle':
        if (byte === 0x04) this.parser = 'dleEot';
        else this.counts.unknownBytes += 2;
        return;
      case 'dleEot':
        this.status(byte);
        return;
    }
  }

  private text(byte: number): void {
    if (byte === 0x1b) this.parser = 'esc';
    else if (byte === 0x1d) this.parser = 'gs';
    else if (byte === 0x10) this.parser = 'dle';
    else if (byte === 0x0a) this.printLine(true);
    else if (byte === 0x0d) return;
    else if (byte < 0x20 || byte > 0x7e) this.counts.unknownBytes += 1;
    else if (this.roll === 'out') this.counts.lostBytes += 1;
    else {
      if (this.lineBuffer.length === this.columns) this.printLine(true);
      this.lineBuffer += String.fromCharCode(byte);
    }
  }

  /** LF prints the buffer as a line even when empty (a blank line); ESC d only when it holds text. */
  private printLine(evenIfEmpty: boolean): void {
    if (this.lineBuffer === '' && !evenIfEmpty) return;
    if (this.roll === 'out') {
      this.lineBuffer = '';
      return;
    }
    this.lines.push(this.lineBuffer);
    this.lineBuffer = '';
    this.feedLines = 0;
    if (this.lines.length === SIM_RECEIPT_LINES_MAX) this.cut();
  }

  private cutCommand(mode: number): void {
    if (mode === 0 || mode === 48 || mode === 1 || mode === 49) {
      this.cutMode = mode === 0 || mode === 48 ? 'full' : 'partial';
      this.cut();
    } else if (mode === 65 || mode === 66) {
      this.cutMode = mode === 65 ? 'full' : 'partial';
      this.parser = 'gsVn';
    } else this.counts.unknownBytes += 3;
  }

  private cut(): void {
    this.printLine(false);
    if (this.roll === 'out') return; // the cutter does not run on a stopped printer
    const receipt: PrintedReceipt = { lines: this.lines, cut: this.cutMode, feedLines: this.feedLines };
    this.lines = [];
    this.feedLines = 0;
    this.counts.receipts += 1;
    this.kept.push(receipt);
    if (this.kept.length > SIM_RECEIPTS_KEPT_MAX) this.kept.shift();
    this.options.onReceipt?.({ ...receipt, lines: [...receipt.lines] });
  }

  /**
   * DLE EOT n, per Epson's tables: every answer has bits 1 and 4 on (0x12). n = 1 printer: bit 3
   * offline (a paper-end stop). n = 2 offline cause: bit 5 paper-end stop. n = 3 errors: none.
   * n = 4 roll paper: bits 2-3 near-end, bits 5-6 end (the near-end sensor sees an empty roll too).
   */
  private status(n: number): void {
    this.counts.statusRequests += 1;
    const out = this.roll === 'out';
    const answers: Readonly<Record<number, number>> = {
      1: 0x12 | (out ? 0x08 : 0),
      2: 0x12 | (out ? 0x20 : 0),
      3: 0x12,
      4: 0x12 | (this.roll === 'ok' ? 0 : 0x0c) | (out ? 0x60 : 0),
    };
    const answer = answers[n];
    if (answer === undefined) this.counts.unknownBytes += 3;
    else this.options.send(Uint8Array.of(answer));
  }
}
