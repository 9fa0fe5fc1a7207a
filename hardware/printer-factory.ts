// Chooses the receipt printer from a --printer spec: `sim` (receipts appended to a file in the
// kiosk's data folder) or `escpos:PATH` (an ESC/POS printer on a serial port). A printer is its
// own box on its own cable, so it is chosen apart from the --device bundle; the kiosk sees only
// the ReceiptPrinter interface.
import { AtmError } from '../protocol/index.js';
import { DeviceError } from './factory.js';
import type { ReceiptColumns } from './receipt.js';
import type { SerialPrinterOptions } from './serial-printer-options.js';
import { SimPrinter } from './sim-printer.js';
import type { ReceiptPrinter } from './types.js';

export interface PrinterOptions {
  /** Where the sim printer writes its receipts file (the kiosk's data folder). */
  dataDir: string;
  columns?: ReceiptColumns;
  serial?: Omit<SerialPrinterOptions, 'columns'>;
  log?: (line: string) => void;
}

/** Not yet opened. The serial driver loads lazily, so a sim kiosk never loads serialport for it. */
export async function createPrinter(spec: string, options: PrinterOptions): Promise<ReceiptPrinter> {
  if (spec === 'sim') return new SimPrinter({ dir: options.dataDir, columns: options.columns });
  const prefix = 'escpos:';
  if (!spec.startsWith(prefix) || spec.length === prefix.length)
    throw new AtmError(DeviceError.BAD_SPEC, `--printer must be sim or escpos:PATH, got ${JSON.stringify(spec)}`);
  const { SerialPrinter } = await import('./serial-printer.js');
  return new SerialPrinter(spec.slice(prefix.length), {
    log: options.log,
    ...options.serial,
    columns: options.columns,
  });
}
