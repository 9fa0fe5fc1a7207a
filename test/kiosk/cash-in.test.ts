// Deposits through the cash-in module (issue 17): the kiosk controller in-process against a real
// bank (LevelDB in a temp dir, TCP on loopback) through a byte-level proxy that can lose the
// bank's answer, with the sim devices (the cash-in module's escrow in a state file, as the notes
// would stay in a real one) and a real journal. A deposit is credited once or its notes handed
// back, never guessed: a lost answer is asked again under the same id until the bank answers,
// in the session and after a power cut.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createSimDevices, type SimDevices } from '../../hardware/sim.js';
import { SimPrinter } from '../../hardware/sim-printer.js';
import type { KeyName } from '../../hardware/types.js';
import type { KioskController } from '../../kiosk/controller.js';
import type { KioskState } from '../../kiosk/flow.js';
import type { KioskJournal } from '../../kiosk/journal.js';
import { view } from '../../kiosk/view.js';
import { FakeClock } from '../helpers/clock.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { TEST_PASSWORD, makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { auditRecords } from '../helpers/audit.js';
import { startProxy, type Proxy, type ProxyFrame } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const WAIT_MS = 5_000;
const USER = 'cashin';

interface Kiosk {
  controller: KioskController;
  devices: SimDevices & { acceptor: NonNullable<SimDevices['acceptor']>; printer: SimPrinter };
  journal: KioskJournal;
  until(predicate: (state: KioskState) => boolean, what: string): Promise<KioskState>;
  press(...keys: KeyName[]): void;
  text(): string;
  stop(): Promise<void>;
}

/**
 * The proxy between kiosk and bank. lose() arms it: the bank's answer to the next request is
 * dropped and the link cut ('after': the bank has committed), or the request itself is dropped
 * and the link cut ('before': the bank never sees it). With andStay, every frame after that is
 * dropped too (the kiosk cannot get through again, as when its power is about to go).
 */
async function lossyProxy(
  t: TestContext,
  bank: TestBank,
): Promise<Proxy & { lose(when: 'before' | 'after', andStay?: boolean): void }> {
  let armed: 'before' | 'after' | null = null;
  let stay = false;
  let dead = false;
  let requestSeen = false;
  const fire = (link: { endToBank(): void }): Buffer[] => {
    armed = null;
    requestSeen = false;
    dead = stay;
    link.endToBank();
    return [];
  };
  const proxy = await startProxy(bank.host.port, (frame: ProxyFrame, link) => {
    if (dead) return [];
    if (armed === 'before' && frame.direction === 'toBank') return fire(link);
    if (armed === 'after' && frame.direction === 'toBank') requestSeen = true;
    // The bank answered, so it has committed; the answer never arrives.
    if (armed === 'after' && requestSeen && frame.direction === 'toKiosk') return fire(link);
    return [frame.bytes];
  });
  t.after(() => proxy.close());
  return Object.assign(proxy, {
    lose(when: 'before' | 'after', andStay = false) {
      armed = when;
      stay = andStay;
      requestSeen = false;
    },
  });
}

async function startKiosk(t: TestContext, bank: TestBank, port: number, dir: string): Promise<Kiosk> {
  const clock = new FakeClock();
  const devices = createSimDevices({ acceptor: { stateFile: path.join(dir, 'cash-in.json') } });
  const acceptor = devices.acceptor ?? assert.fail('a sim cash-in module');
  const printer = new SimPrinter({ dir });
  let txnCount = 0;
  const { controller, journal } = kioskOnTestBank(bank, {
    devices: { ...devices, printer },
    dir,
    port,
    nowMs: clock.nowMs,
    newTxnId: () => `cash-in-txn-${String(++txnCount).padStart(4, '0')}-${path.basename(dir)}`,
  });
  const waiters = new Set<() => void>();
  controller.onChange(() => {
    for (const waiter of [...waiters]) waiter();
  });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await controller.stop();
  };
  t.after(stop);
  await controller.start();
  const kiosk: Kiosk = {
    controller,
    devices: { ...devices, acceptor, printer },
    journal,
    until: (predicate, what) =>
      new Promise((resolve, reject) => {
        if (predicate(controller.state)) {
          resolve(controller.state);
          return;
        }
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timed out waiting for ${what}; screen: ${kiosk.text()}`));
        }, WAIT_MS);
        const check = (): void => {
          if (!predicate(controller.state)) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(controller.state);
        };
        waiters.add(check);
      }),
    press: (...keys) => {
      for (const key of keys) {
        clock.advance(100);
        assert.ok(devices.keypad.press(key), `the keypad took ${key}`);
      }
    },
    text: () => {
      const shown = view(controller.state);
      return [shown.title, ...shown.body, controller.state.message ?? ''].join('\n');
    },
    stop,
  };
  return kiosk;
}

async function loggedIn(kiosk: Kiosk): Promise<void> {
  await kiosk.until((state) => state.screen.name === 'welcome', 'the welcome screen');
  kiosk.press('A');
  for (const ch of USER) kiosk.controller.input({ type: 'char', ch, atMs: 0 });
  kiosk.press('enter');
  for (const ch of TEST_PASSWORD) kiosk.controller.input({ type: 'char', ch, atMs: 0 });
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'menu', 'the menu');
}

/** Menu → deposit: the slot opens, the notes go in one by one. */
async function insertNotes(kiosk: Kiosk, notes: (number | 'torn')[]): Promise<void> {
  kiosk.press('B');
  await kiosk.until(
    (state) => state.screen.name === 'insertNotes' && state.devices.acceptor === 'deviceBusy',
    'the slot',
  );
  for (const note of notes) kiosk.devices.acceptor.insert(note);
  const totalCents = notes.reduce<number>((sum, note) => sum + (note === 'torn' ? 0 : note), 0);
  await kiosk.until((state) => state.escrow.totalCents === totalCents, `${totalCents} cents counted`);
}

async function balanceOf(bank: TestBank): Promise<number> {
  const connection = await bank.loginAs(USER);
  try {
    const balance = await connection.request({ op: 'balance' });
    assert.ok(balance.ok);
    return balance.balanceCents;
  } finally {
    connection.close();
  }
}

async function setUp(
  t: TestContext,
): Promise<{ bank: TestBank; proxy: Awaited<ReturnType<typeof lossyProxy>>; dir: string }> {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  const registered = await bank.loginAs(USER);
  registered.close();
  const proxy = await lossyProxy(t, bank);
  const dir = makeTempDir('atm-cash-in-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { bank, proxy, dir };
}

const depositStory = (bank: TestBank, txnId: string): string[] =>
  auditRecords(bank.dataDir)
    .filter((record) => record.txnId === txnId)
    .map((record) => `${record.action} ${record.outcome} ${record.amountCents ?? ''}`.trim());

test('notes counted into the escrow, confirmed, credited once and stored in the cassette; a torn note is refused', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [2000, 2000, 1000, 'torn']);
  assert.match(kiosk.text(), /Counted: 2 x 20\.00 \+ 1 x 10\.00/);
  assert.match(kiosk.text(), /Total: +50\.00/);
  assert.match(kiosk.text(), /1 note refused/);
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'confirm', 'the confirmation');
  assert.match(kiosk.text(), /Deposit 50\.00\?/);
  assert.match(kiosk.text(), /Notes counted: 2 x 20\.00 \+ 1 x 10\.00/);
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'result', 'the result');
  assert.match(kiosk.text(), /Deposit accepted/);
  assert.match(kiosk.text(), /New balance: 50\.00/);
  assert.equal(await balanceOf(bank), 5000);
  assert.deepEqual(kiosk.devices.acceptor.escrow(), { notes: [], totalCents: 0, rejected: 0 });
  // The deposit cassette's counts reach the bank with the kiosk's device report.
  await eventually(
    () => {
      const report = bank.host.service.deviceReports.get(bank.kiosk.kioskId);
      return report?.cashIn === 'online' && report.deposited?.length === 2 ? true : null;
    },
    'the cash-in module reported',
    WAIT_MS,
    10,
  );
  assert.deepEqual(kiosk.devices.acceptor.cassette(), [
    { denominationCents: 2000, count: 2 },
    { denominationCents: 1000, count: 1 },
  ]);
  const txnId = kiosk.journal.entries().find((event) => event.type === 'deposit.sent')?.txnId ?? assert.fail();
  assert.deepEqual(
    kiosk.journal.entries().map((event) => event.type),
    ['deposit.sent', 'deposit.result', 'escrow'],
  );
  assert.deepEqual(kiosk.journal.unfinished(), []);
  assert.deepEqual(depositStory(bank, txnId), ['deposit ok 5000']);
});

test('cancel hands the notes back: balance unchanged, nothing stored, nothing journaled', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [2000, 1000]);
  kiosk.press('cancel');
  await kiosk.until((state) => state.screen.name === 'menu' && state.escrow.totalCents === 0, 'the notes back');
  assert.match(kiosk.text(), /Please take your notes/);
  // The same from the confirmation screen.
  await insertNotes(kiosk, [5000]);
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'confirm', 'the confirmation');
  kiosk.press('cancel');
  await kiosk.until((state) => state.screen.name === 'menu' && state.escrow.totalCents === 0, 'the notes back');
  assert.equal(await balanceOf(bank), 0);
  assert.deepEqual(kiosk.devices.acceptor.cassette(), []);
  assert.deepEqual(kiosk.journal.entries(), []);
});

test('the link cut right after the bank committed: please wait, the same id asked again, credited once, one deposit and one replayed', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [2000, 2000, 2000]);
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'confirm', 'the confirmation');
  proxy.lose('after');
  kiosk.press('enter');
  await kiosk.until(
    (state) => state.screen.name === 'busy' && state.screen.message.includes('connection to the bank was interrupted'),
    'please wait',
  );
  await kiosk.until((state) => state.screen.name === 'result', 'the real outcome');
  assert.match(kiosk.text(), /Deposit accepted/);
  assert.match(kiosk.text(), /New balance: 60\.00/);
  assert.match(kiosk.text(), /Any other key: done/, 'the session went with the link');
  assert.equal(await balanceOf(bank), 6000);
  const txnId = kiosk.journal.entries()[0]?.txnId ?? assert.fail();
  assert.deepEqual(depositStory(bank, txnId), ['deposit ok 6000', 'deposit.resolve replayed 6000']);
  assert.deepEqual(
    kiosk.journal.entries().map((event) => event.type),
    ['deposit.sent', 'deposit.result', 'escrow'],
  );
  assert.equal(kiosk.devices.acceptor.cassette()[0]?.count, 3);
  kiosk.press('B');
  await kiosk.until((state) => state.screen.name === 'welcome', 'the welcome screen');
});

test('a power cut with notes in the escrow and the answer unknown: on restart the same id is asked and the notes stored', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const first = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(first);
  await insertNotes(first, [1000, 1000]);
  first.press('enter');
  await first.until((state) => state.screen.name === 'confirm', 'the confirmation');
  proxy.lose('after', true);
  first.press('enter');
  await first.until(
    (state) => state.screen.name === 'busy' && state.screen.message.includes('interrupted'),
    'please wait',
  );
  const txnId = first.journal.entries()[0]?.txnId ?? assert.fail();
  await proxy.close(); // the kiosk cannot reach the bank any more; then its power goes
  await first.stop();
  assert.equal(first.devices.acceptor.escrow().totalCents, 2000, 'the notes are still in the escrow');
  assert.deepEqual(
    first.journal.unfinished().map((item) => item.txnId),
    [txnId],
  );

  const second = await startKiosk(t, bank, bank.host.port, dir);
  assert.equal(second.devices.acceptor.escrow().totalCents, 2000, 'the restarted kiosk finds them');
  await second.until((state) => state.screen.name === 'welcome', 'the welcome screen, after recovery');
  assert.deepEqual(second.journal.unfinished(), []);
  assert.deepEqual(second.devices.acceptor.escrow().totalCents, 0);
  assert.deepEqual(second.devices.acceptor.cassette(), [{ denominationCents: 1000, count: 2 }]);
  assert.equal(await balanceOf(bank), 2000);
  assert.deepEqual(depositStory(bank, txnId), ['deposit ok 2000', 'deposit.resolve replayed 2000']);
});

test('a power cut before the bank saw the deposit, then a decline on restart: the notes are handed back, nothing credited', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const first = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(first);
  await insertNotes(first, [5000, 5000]);
  first.press('enter');
  await first.until((state) => state.screen.name === 'confirm', 'the confirmation');
  proxy.lose('before', true);
  first.press('enter');
  await first.until(
    (state) => state.screen.name === 'busy' && state.screen.message.includes('interrupted'),
    'please wait',
  );
  const txnId = first.journal.entries()[0]?.txnId ?? assert.fail();
  await proxy.close();
  await first.stop();
  // While the kiosk was down, the bank's deposit limit was lowered below the amount.
  await bank.restart({ limits: { depositCentsMax: 5_000 } });
  const second = await startKiosk(t, bank, bank.host.port, dir);
  await second.until((state) => state.screen.name === 'welcome', 'the welcome screen, after recovery');
  assert.deepEqual(second.journal.unfinished(), []);
  assert.equal(second.devices.acceptor.escrow().totalCents, 0);
  assert.deepEqual(second.devices.acceptor.cassette(), [], 'nothing stored after a decline');
  assert.deepEqual(
    second.journal
      .entries()
      .filter((event) => event.txnId === txnId)
      .map((event) => (event.type === 'escrow' ? `escrow ${event.outcome}` : event.type)),
    ['deposit.sent', 'deposit.result', 'escrow returned'],
  );
  assert.equal(await balanceOf(bank), 0);
  assert.deepEqual(depositStory(bank, txnId), ['deposit.resolve LIMIT_EXCEEDED 10000']);
});

test('notes left in the escrow by a power cut before any bank was asked go back at start', async (t) => {
  const { bank, dir } = await setUp(t);
  const seeded =
    createSimDevices({ acceptor: { stateFile: path.join(dir, 'cash-in.json') } }).acceptor ?? assert.fail();
  await seeded.open();
  await seeded.openSlot();
  seeded.insert(2000);
  await seeded.close();
  const kiosk = await startKiosk(t, bank, bank.host.port, dir);
  assert.equal(kiosk.devices.acceptor.escrow().totalCents, 0);
  assert.deepEqual(kiosk.devices.acceptor.cassette(), []);
  assert.deepEqual(kiosk.journal.entries(), []);
});

test('an escrow jam after an approval keeps the deposit credited and open until the notes are stored', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [2000]);
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'confirm', 'the confirmation');
  kiosk.devices.acceptor.jamNext();
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'result', 'the result');
  assert.match(kiosk.text(), /Deposit accepted/);
  assert.match(kiosk.text(), /held safely in the machine/);
  assert.equal(await balanceOf(bank), 2000);
  assert.equal(kiosk.journal.unfinished().length, 1, 'open until the notes are stored');
  // The technician clears the jam; the next recovery (after this customer) stores them, once.
  kiosk.devices.acceptor.clearJam();
  kiosk.press('D');
  await kiosk.until((state) => state.screen.name === 'welcome', 'the welcome screen');
  const deadline = Date.now() + WAIT_MS;
  while (kiosk.journal.unfinished().length > 0 && Date.now() < deadline)
    await new Promise((resolve) => setTimeout(resolve, 10));
  assert.deepEqual(kiosk.journal.unfinished(), []);
  assert.deepEqual(kiosk.devices.acceptor.cassette(), [{ denominationCents: 2000, count: 1 }]);
  assert.equal(await balanceOf(bank), 2000);
});

test('cash presented and not taken is retracted: the hold voided, the balance unchanged, journal and audit agree', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [5000, 5000]);
  kiosk.press('enter', 'enter');
  await kiosk.until((state) => state.screen.name === 'result', 'the deposit');
  kiosk.press('B', 'C');
  await kiosk.until((state) => state.screen.name === 'amount', 'the withdrawal amounts');
  kiosk.devices.dispenser.leaveNextPresented(); // the customer walks away from the cash
  kiosk.press('A', 'enter'); // fast cash 20.00
  await kiosk.until((state) => state.screen.name === 'result', 'the result');
  assert.match(kiosk.text(), /Cash retracted/);
  assert.match(kiosk.text(), /Nothing was taken from your account\./);
  assert.equal(await balanceOf(bank), 10_000, 'the balance is unchanged');
  assert.deepEqual(kiosk.devices.dispenser.retractCounters(), { notes: 1, cents: 2000, times: 1 });
  const txnId = kiosk.journal.entries().find((event) => event.type === 'hold.sent')?.txnId ?? assert.fail();
  assert.deepEqual(
    kiosk.journal
      .entries()
      .filter((event) => event.txnId === txnId)
      .map((event) => (event.type === 'settled' ? `settled ${event.outcome}` : event.type)),
    ['hold.sent', 'hold.result', 'dispense.started', 'dispense.result', 'retracted', 'settled voided'],
  );
  assert.deepEqual(kiosk.journal.unfinished(), []);
  const voids = auditRecords(bank.dataDir).filter((record) => record.txnId === txnId);
  assert.deepEqual(
    voids.map((record) => `${record.action} ${record.outcome}`),
    ['withdraw.hold ok', 'withdraw.void ok'],
  );
  assert.equal(voids[1]?.detail, 'cash not taken: retracted');
  // The retraction reaches the bank with the kiosk's device report (its dispenser's retract bin).
  await eventually(
    () => (bank.host.service.deviceReports.get(bank.kiosk.kioskId)?.retractedNotes === 1 ? true : null),
    'the retract counter reported',
    WAIT_MS,
    10,
  );
});

test('a receipt is printed on request; with the paper out mid-session the transaction stands and the customer is told', async (t) => {
  const { bank, proxy, dir } = await setUp(t);
  const kiosk = await startKiosk(t, bank, proxy.port, dir);
  await loggedIn(kiosk);
  await insertNotes(kiosk, [2000]);
  kiosk.press('enter', 'enter');
  await kiosk.until((state) => state.screen.name === 'result', 'the deposit');
  kiosk.press('A');
  await kiosk.until((state) => state.screen.name === 'receipt', 'the receipt');
  const printed = await eventually(
    async () => {
      const receipts = await kiosk.devices.printer.receipts();
      return receipts.length > 0 ? receipts : null;
    },
    'the receipt printed',
    WAIT_MS,
    10,
  );
  assert.equal(printed.length, 1);
  assert.ok(printed[0]?.includes('DEPOSIT'));
  assert.ok(printed[0]?.includes('Amount: 20.00'));
  // The roll runs out: the next transaction is unaffected, and its receipt is refused in words.
  kiosk.devices.printer.setPaper('out');
  kiosk.press('enter');
  await kiosk.until((state) => state.screen.name === 'menu', 'the menu');
  await insertNotes(kiosk, [1000]);
  kiosk.press('enter', 'enter');
  await kiosk.until((state) => state.screen.name === 'result', 'the second deposit');
  kiosk.press('A');
  await kiosk.until((state) => state.message?.includes('out of paper') === true, 'the customer told');
  assert.match(kiosk.text(), /No receipt: the printer is out of paper\. Your transaction is complete\./);
  assert.equal((await kiosk.devices.printer.receipts()).length, 1, 'nothing more printed');
  assert.equal(await balanceOf(bank), 3000, 'both deposits stand');
  assert.deepEqual(kiosk.journal.unfinished(), []);
});
