// What a SerialPrinter (hardware/serial-printer.ts) can be told, its defaults and their limits.
import { assert } from '../protocol/index.js';
import type { OpenSerialConnection } from './serial-port.js';
import type { ReceiptColumns } from './receipt.js';
import type { SerialTimers } from './shared-line.js';

export interface SerialPrinterOptions {
  columns?: ReceiptColumns;
  /** Epson's TM-T88 serial models ship set to 38400 baud. */
  baudRate?: number;
  /** How long one DLE EOT 4 waits for its answer byte. Default 500 ms. */
  statusTimeoutMs?: number;
  /** Asks before the line counts as lost (the first and its repeats). Default 3, at most 10. */
  statusAttempts?: number;
  /** The status is asked this often while idle: the printer's heartbeat. Default 2 s. */
  pollIntervalMs?: number;
  /** A receipt's bytes must drain to the port within this. Default 10 s (60 lines at 9600 baud take 3 s). */
  writeTimeoutMs?: number;
  /** Reconnect backoff: the first retry after reconnectDelayMsMin, doubling up to reconnectDelayMsMax. */
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  /** open() waits at most this long for the printer before resolving with it offline. */
  openWaitMs?: number;
  timers?: SerialTimers;
  openConnection?: OpenSerialConnection;
  log?: (line: string) => void;
}

export type SerialPrinterSettings = Required<
  Omit<SerialPrinterOptions, 'columns' | 'timers' | 'openConnection' | 'log'>
>;

export const STATUS_ATTEMPTS_MAX = 10;

export function serialPrinterSettings(options: SerialPrinterOptions): SerialPrinterSettings {
  const settings: SerialPrinterSettings = {
    baudRate: options.baudRate ?? 38_400,
    statusTimeoutMs: options.statusTimeoutMs ?? 500,
    statusAttempts: options.statusAttempts ?? 3,
    pollIntervalMs: options.pollIntervalMs ?? 2_000,
    writeTimeoutMs: options.writeTimeoutMs ?? 10_000,
    reconnectDelayMsMin: options.reconnectDelayMsMin ?? 250,
    reconnectDelayMsMax: options.reconnectDelayMsMax ?? 2_000,
    openWaitMs: options.openWaitMs ?? 3_000,
  };
  for (const [name, value] of Object.entries(settings))
    assert(Number.isSafeInteger(value) && value > 0, `printer ${name} must be a positive integer`);
  assert(settings.statusAttempts <= STATUS_ATTEMPTS_MAX, `printer statusAttempts must be 1..${STATUS_ATTEMPTS_MAX}`);
  assert(settings.reconnectDelayMsMin <= settings.reconnectDelayMsMax, 'reconnectDelayMsMin above reconnectDelayMsMax');
  return settings;
}
