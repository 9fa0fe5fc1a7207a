// Wiring of one kiosk process: devices, journal, bank link, controller and the full-screen
// UI. Used by `atm kiosk` and `atm demo`. Ctrl-C (or SIGTERM) stops everything and gives the
// terminal back in a usable state.
import fs from 'node:fs';
import path from 'node:path';
import { EspeakSpeaker, createDevices, createPrinter } from '../hardware/index.js';
import { KioskController } from './controller.js';
import { KioskJournal, deriveJournalKey } from './journal.js';
import { deviceStateWords, makeDataDir, type DeviceState } from '../protocol/index.js';
import { KioskLink, type BankEndpoint, type LinkCause } from './link.js';
import { startKioskUi, type ThemeName } from './ui.js';

export interface KioskAppOptions {
  host: string;
  port: number;
  /** Every bank host of a network, tried in order (the first is host:port); default just that one. */
  banks?: readonly BankEndpoint[];
  kioskId: string;
  psk: Buffer;
  dataDir: string; // the kiosk's own folder: journal.log, receipts.txt, kiosk.log
  theme?: ThemeName;
  idleWarnMs?: number;
  idleLogoutMs?: number;
  dispenseDelayMs?: number;
  /** sim (default), serial:PATH or firmata:PATH */
  device?: string;
  /** The sim's cash-in module (default true); its escrow is kept in the data folder (cash-in.json). */
  cashIn?: boolean;
  /** sim (default: receipts.txt in the data folder) or escpos:PATH */
  printer?: string;
  /** Presented cash not taken within this is retracted. */
  takeTimeoutMs?: number;
  /** Speech guidance through espeak-ng and aplay (off by default); audioDevice: aplay -D. */
  speech?: { audioDevice?: string };
}

export async function runKioskApp(options: KioskAppOptions): Promise<void> {
  makeDataDir(options.dataDir);
  const logFile = path.join(options.dataDir, 'kiosk.log');
  const log = (line: string): void =>
    fs.appendFileSync(logFile, `${new Date().toISOString()} ${line}\n`, { mode: 0o600 });
  // The sim's default sleep resolves at once (for tests); the kiosk really waits, so the
  // customer sees "Withdrawing…" while notes are picked, as on a real machine.
  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const devices = await createDevices(options.device ?? 'sim', {
    sim: {
      dispenser: { delayMs: options.dispenseDelayMs ?? 800, sleep },
      acceptor: options.cashIn === false ? false : { stateFile: path.join(options.dataDir, 'cash-in.json') },
    },
    log,
  });
  const printer = await createPrinter(options.printer ?? 'sim', { dataDir: options.dataDir, log });
  let previousPaper = 'ok';
  printer.onPaper((paper) => {
    if (paper !== previousPaper && paper !== 'unknown')
      log(`receipt printer paper ${paper}${paper === 'ok' ? '' : ' — load a new roll'}`);
    previousPaper = paper;
  });
  const speaker =
    options.speech === undefined ? undefined : new EspeakSpeaker({ audioDevice: options.speech.audioDevice ?? null });
  speaker?.onState((state) =>
    log(`speech ${state.kind === 'fault' ? `fault ${state.fault}: ${state.detail}` : state.kind}`),
  );
  const journal = KioskJournal.open({
    dir: options.dataDir,
    kioskId: options.kioskId,
    key: deriveJournalKey(options.psk),
  });
  const link = new KioskLink({
    host: options.host,
    port: options.port,
    banks: options.banks,
    kioskId: options.kioskId,
    psk: options.psk,
    requestTimeoutMs: 10_000,
    log,
  });
  // Each line says what happened and, where a person must act, what to do.
  link.onState((state, detail, cause) => log(`bank link ${state}: ${detail}${linkAdvice(cause, options)}`));
  for (const [name, device] of [
    ['keypad', devices.keypad],
    ['display', devices.display],
    ['dispenser', devices.dispenser],
  ] as const) {
    // A device coming up is not news; one failing, and its return, are.
    let previous: DeviceState = 'online';
    device.onState((state) => {
      if (state !== previous)
        log(`${name} ${deviceStateWords(state)}${deviceAdvice(name, state, options.device ?? 'sim')}`);
      previous = state;
    });
  }
  const controller = new KioskController({
    kioskId: options.kioskId,
    link,
    devices: { ...devices, printer },
    journal,
    receiptsFile: path.join(options.dataDir, 'receipts.txt'),
    ...(options.takeTimeoutMs === undefined ? {} : { takeTimeoutMs: options.takeTimeoutMs }),
    ...(speaker === undefined ? {} : { speaker }),
    idleWarnMs: options.idleWarnMs,
    idleLogoutMs: options.idleLogoutMs,
    log,
  });
  let quit!: () => void;
  const stopped = new Promise<void>((resolve) => (quit = resolve));
  const screen = startKioskUi({
    controller,
    theme: options.theme,
    lcd: devices.mirror,
    ...(devices.noteSlot === undefined ? {} : { noteSlot: devices.noteSlot }),
    onQuit: () => quit(),
  });
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

function linkAdvice(cause: LinkCause, options: KioskAppOptions): string {
  if (cause === 'refused') {
    return ` — the bank refused kiosk '${options.kioskId}': check that its key file is the one \`atm keys add-kiosk ${options.kioskId}\` wrote for this bank (or rotate it), that the kiosk is not revoked, and that both clocks are right`;
  }
  if (cause === 'unreachable') {
    const where = (options.banks ?? [options]).map((bank) => `${bank.host}:${bank.port}`).join(' or ');
    return ` — is \`atm bank\` running on ${where}? Retrying.`;
  }
  return '';
}

function deviceAdvice(name: string, state: DeviceState, device: string): string {
  if (state === 'noDevice' || state === 'offline')
    return ` — check that ${device} is the ${name}'s port and that it is plugged in`;
  if (state === 'fraudAttempt') return ' — the tamper switch is open: the kiosk is out of service until it is closed';
  return '';
}
