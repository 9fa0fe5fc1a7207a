// A real kiosk on a test bank: the controller over a real KioskLink (with the fast reconnects
// tests use), its journal in the kiosk's folder, receipts beside it, and no ticking timer of its
// own (tests send ticks, or a fake clock drives them). For the controller without sockets, see
// kiosk-fakes.ts.
import path from 'node:path';
import { KioskController, type KioskControllerOptions } from '../../kiosk/controller.js';
import { KioskJournal, deriveJournalKey } from '../../kiosk/journal.js';
import { KioskLink } from '../../kiosk/link.js';
import type { TestBank } from './bank.js';

/** A kiosk link to the test bank: reconnects after 20 ms, doubling to 100 ms. */
export function linkToTestBank(bank: TestBank, port = bank.host.port): KioskLink {
  return new KioskLink({
    host: '127.0.0.1',
    port,
    kioskId: bank.kiosk.kioskId,
    psk: bank.kiosk.psk,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    requestTimeoutMs: 5_000,
  });
}

export interface TestKiosk {
  controller: KioskController;
  link: KioskLink;
  journal: KioskJournal;
}

/** A controller for the test bank's kiosk, with its journal (unless given) and receipts in dir; port: a proxy's. */
export function kioskOnTestBank(
  bank: TestBank,
  options: { dir: string; journal?: KioskJournal; port?: number } & Pick<KioskControllerOptions, 'devices'> &
    Partial<Omit<KioskControllerOptions, 'link' | 'journal'>>,
): TestKiosk {
  const { dir, port, ...controllerOptions } = options;
  const { kioskId, psk } = bank.kiosk;
  const journal = options.journal ?? KioskJournal.open({ dir, kioskId, key: deriveJournalKey(psk) });
  const link = linkToTestBank(bank, port);
  const controller = new KioskController({
    kioskId,
    receiptsFile: path.join(dir, 'receipts.txt'),
    tickMs: 0,
    ...controllerOptions,
    link,
    journal,
  });
  return { controller, link, journal };
}
