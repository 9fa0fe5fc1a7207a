// The simulated receipt printer: each receipt appended to one file in a folder it is given (the
// kiosk's data folder), with test powers for the paper and the cable like the other sim drivers.
//
// One append-only file rather than a file per receipt: it is what a paper roll is (one strip,
// receipts one after another), `tail -f` follows it, and no numbering has to survive a restart.
// Each receipt ends with RECEIPT_END, a form feed on a line of its own: normalised text is
// printable ASCII, so the mark can never occur inside a receipt. The file is created 0600
// (receipts name accounts and amounts) and set to 0600 again at open().
import fs from 'node:fs/promises';
import path from 'node:path';
import { AtmError, assert } from '../protocol/index.js';
import { DeviceError } from './factory.js';
import { Listeners } from './listeners.js';
import {
  assertReceiptColumns,
  normaliseReceiptLines,
  printFailure,
  RECEIPT_COLUMNS_DEFAULT,
  type ReceiptColumns,
} from './receipt.js';
import { SimDevice } from './sim-device.js';
import type { PaperStatus, PrintResult, ReceiptPrinter, Unsubscribe } from './types.js';

export const SIM_RECEIPTS_FILE = 'receipts.txt';
/** Ends every receipt in the sim's file: a form feed, "next page", on a line of its own. */
export const RECEIPT_END = '\f\n';
const FILE_MODE = 0o600;

export interface SimPrinterOptions {
  /** The folder the receipts file goes in (the kiosk's data folder); it must exist by open(). */
  dir: string;
  columns?: ReceiptColumns;
}

export class SimPrinter extends SimDevice implements ReceiptPrinter {
  readonly kind = 'sim';
  readonly columns: ReceiptColumns;
  /** The receipts file: RECEIPT_END after each receipt. */
  readonly file: string;
  private roll: Exclude<PaperStatus, 'unknown'> = 'ok';
  private lastPaper: PaperStatus = 'unknown';
  private queue: Promise<unknown> = Promise.resolve();
  private readonly paperListeners = new Listeners<PaperStatus>();

  constructor(options: SimPrinterOptions) {
    super();
    assert(options.dir !== '', 'the sim printer needs a folder');
    const columns = options.columns ?? RECEIPT_COLUMNS_DEFAULT;
    assertReceiptColumns(columns);
    this.columns = columns;
    this.file = path.join(options.dir, SIM_RECEIPTS_FILE);
  }

  /** Rejects with BAD_DEVICE_SPEC when the folder is missing: a configuration error, not a fault. */
  override async open(): Promise<void> {
    const folder = path.dirname(this.file);
    const stat = await fs.stat(folder).catch(() => null);
    if (stat?.isDirectory() !== true)
      throw new AtmError(DeviceError.BAD_SPEC, `the sim printer's folder ${folder} is not a folder`);
    await fs.chmod(this.file, FILE_MODE).catch(() => undefined); // absent until the first receipt
    await super.open();
  }

  paper(): PaperStatus {
    return this.state() === 'online' ? this.roll : 'unknown';
  }

  onPaper(listener: (paper: PaperStatus) => void): Unsubscribe {
    return this.paperListeners.add(listener);
  }

  print(lines: readonly string[]): Promise<PrintResult> {
    const printed = this.queue.then(() => this.printNow(lines));
    this.queue = printed;
    return printed;
  }

  /** Test power: what the sensors see. 'low' still prints; 'out' refuses every receipt. */
  setPaper(paper: Exclude<PaperStatus, 'unknown'>): void {
    this.roll = paper;
    this.refreshState();
  }

  /** Test power: every receipt in the file, oldest first, as its printed lines. */
  async receipts(): Promise<string[][]> {
    const text = await fs.readFile(this.file, 'latin1').catch(() => '');
    const receipts = text.split(RECEIPT_END);
    receipts.pop(); // what follows the last mark: nothing, or a receipt cut short by a crash
    return receipts.map((receipt) => (receipt === '' ? [] : receipt.slice(0, -1).split('\n')));
  }

  /** Paper listeners hear changes too: paper() turns 'unknown' while the printer is offline. */
  protected override refreshState(): void {
    super.refreshState();
    const paper = this.paper();
    if (paper === this.lastPaper) return;
    this.lastPaper = paper;
    this.paperListeners.emit(paper);
  }

  private async printNow(lines: readonly string[]): Promise<PrintResult> {
    const state = this.state();
    if (state !== 'online') return printFailure('offline', `printer is ${state}: receipt not printed`);
    if (this.roll === 'out') return printFailure('paperOut', 'printer is out of paper: receipt not printed');
    const text = normaliseReceiptLines(lines, this.columns)
      .map((line) => `${line}\n`)
      .join('');
    try {
      await fs.appendFile(this.file, text + RECEIPT_END, { encoding: 'latin1', mode: FILE_MODE });
    } catch (error) {
      return printFailure('writeFailed', `receipt not written to ${this.file}: ${String(error)}`);
    }
    return { ok: true };
  }
}
