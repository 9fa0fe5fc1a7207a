// The simulated ESC/POS printer's edge: the only place it touches a port. It opens a pty pair
// (or a given port) with the real serialport binding, feeds the port's bytes to an EscposPrinter
// and writes back what it answers. The printer has no deadlines of its own, so no timer either.
import type { SerialPort } from 'serialport';
import { EscposPrinter, type EscposPrinterOptions, type PrintedReceipt } from './escpos-printer.js';
import { closeSerialPort, openPtyPair, openSerialPath, type PtyPair } from './pty.js';

export interface EscposPrinterSimOptions {
  /** Open this port (a real UART, or an end of a socat pair made by hand); default: make a pty pair. */
  portPath?: string;
  /** The rate the driver uses (hardware/serial-printer-options.ts); a pty ignores it. */
  baudRate?: number;
  columns?: number;
  onReceipt?: (receipt: PrintedReceipt) => void;
  log?: (line: string) => void;
}

export interface EscposPrinterSim {
  readonly printer: EscposPrinter;
  readonly devicePath: string;
  /** The other end of the pty pair, for the driver; null when portPath was given. */
  readonly hostPath: string | null;
  /** Resolves, with why, if the port or socat goes away by itself. */
  readonly ended: Promise<string>;
  close(): Promise<void>;
}

export async function startEscposPrinterSim(options: EscposPrinterSimOptions = {}): Promise<EscposPrinterSim> {
  const log = options.log ?? (() => undefined);
  let port: SerialPort | null = null;
  let closed = false;
  const printerOptions: EscposPrinterOptions = {
    columns: options.columns,
    onReceipt: options.onReceipt,
    send: (bytes) => {
      if (!closed)
        port?.write(Buffer.from(bytes), (error) => (error ? log(`write failed: ${error.message}`) : undefined));
    },
  };
  const printer = new EscposPrinter(printerOptions); // bad options fail here, before a pty is made

  let pair: PtyPair | null = null;
  let devicePath = options.portPath;
  if (devicePath === undefined) {
    pair = await openPtyPair();
    devicePath = pair.devicePath;
  }
  try {
    port = await openSerialPath(devicePath, options.baudRate ?? 38_400);
  } catch (error) {
    await pair?.close();
    throw error;
  }
  const opened: SerialPort = port;
  opened.on('data', (chunk: Buffer) => printer.receive(chunk));
  opened.on('error', (error: Error) => log(`port error: ${error.message}`));
  const ended = new Promise<string>((resolve) => {
    opened.once('close', () => (closed ? undefined : resolve(`port ${devicePath} closed`)));
    void pair?.exited.then(() => (closed ? undefined : resolve('socat exited')));
  });

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    await closeSerialPort(opened);
    await pair?.close();
  };
  return { printer, devicePath, hostPath: pair?.hostPath ?? null, ended, close };
}
