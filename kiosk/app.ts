// Wiring of one kiosk process: devices, journal, bank link, controller and the full-screen
// UI. Used by `atm kiosk` and `atm demo`. Ctrl-C (or SIGTERM) stops everything and gives the
// terminal back in a usable state.
import fs from 'node:fs';
import path from 'node:path';
import { createDevices } from '../hardware/index.js';
import { KioskController } from './controller.js';
import { KioskJournal, deriveJournalKey } from './journal.js';
import { KioskLink } from './link.js';
import { startKioskUi, type ThemeName } from './ui.js';

export interface KioskAppOptions {
  host: string;
  port: number;
  kioskId: string;
  psk: Buffer;
  dataDir: string; // the kiosk's own folder: journal.log, receipts.txt, kiosk.log
  theme?: ThemeName;
  idleWarnMs?: number;
  idleLogoutMs?: number;
  dispenseDelayMs?: number;
  /** sim (default), serial:PATH or firmata:PATH */
  device?: string;
}

export async function runKioskApp(options: KioskAppOptions): Promise<void> {
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(options.dataDir, 'kiosk.log');
  const log = (line: string): void => fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
  // The sim's default sleep resolves at once (for tests); the kiosk really waits, so the
  // customer sees "Withdrawing…" while notes are picked, as on a real machine.
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const devices = await createDevices(options.device ?? 'sim', { sim: { dispenser: { delayMs: options.dispenseDelayMs ?? 800, sleep } }, log });
  const journal = KioskJournal.open({ dir: options.dataDir, kioskId: options.kioskId, key: deriveJournalKey(options.psk) });
  const link = new KioskLink({ host: options.host, port: options.port, kioskId: options.kioskId, psk: options.psk, requestTimeoutMs: 10_000 });
  link.onState((state, detail) => log(`bank link ${state}: ${detail}`));
  const controller = new KioskController({
    kioskId: options.kioskId,
    link,
    devices,
    journal,
    receiptsFile: path.join(options.dataDir, 'receipts.txt'),
    idleWarnMs: options.idleWarnMs,
    idleLogoutMs: options.idleLogoutMs,
    log,
  });
  let quit!: () => void;
  const stopped = new Promise<void>((resolve) => (quit = resolve));
  const screen = startKioskUi({ controller, theme: options.theme, lcd: devices.mirror, onQuit: () => quit() });
  process.once('SIGTERM', () => quit());
  process.once('SIGINT', () => quit());
  // Last line of defence: a bug must never paint a stack trace over the customer's screen.
  // Give the terminal back, log the detail, say one line, and let a supervisor restart us.
  const crash = (error: unknown): void => {
    log(`fatal: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    screen.destroy();
    process.stderr.write(`atm kiosk: internal error (details in ${logFile})\n`);
    process.exit(4);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  try {
    await controller.start();
    await stopped;
  } finally {
    screen.destroy();
    await controller.stop();
  }
}
