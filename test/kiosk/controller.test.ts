// The kiosk controller (kiosk/controller.ts) in-process against a real bank (real LevelDB in a
// temp dir, real TCP on loopback), the sim devices and a real journal in a temp dir.
// [DESIGN §5] Every withdrawal step is journaled before the kiosk acts, a jam voids, a partial
// dispense posts what came out, and after a power cut the kiosk settles what its journal left
// unfinished before the welcome screen. The controller's clock is injected (multi-tap windows
// are crossed by moving it), its ticker is off (tickMs 0), and every wait is for an event.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { type AuditRecord } from '../../bank/index.js';
import { createSimDevices, normaliseDisplayLines, type SimDevices } from '../../hardware/sim.js';
import type { KeyName } from '../../hardware/types.js';
import type { KioskController } from '../../kiosk/controller.js';
import { MULTITAP, MULTITAP_MS, type KioskState, type Screen } from '../../kiosk/flow.js';
import { KioskJournal, deriveJournalKey, type JournalEvent } from '../../kiosk/journal.js';
import { lcdLines, view } from '../../kiosk/view.js';
import { FakeClock } from '../helpers/clock.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { TEST_PASSWORD, makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { auditRecords } from '../helpers/audit.js';
import { eventually } from '../helpers/wait.js';

const WAIT_MS = 5_000;

/** Decrypts the bank's audit.log with the keystore's audit key, as an auditor would. */
const storyOf = (records: AuditRecord[], username: string): string[] =>
  records
    .filter((record) => record.username === username)
    .map(
      (record) =>
        `${record.action} ${record.outcome}${record.amountCents === undefined ? '' : ` ${record.amountCents}`}`,
    );

const journalOf = (journal: KioskJournal, txnId: string): JournalEvent[] =>
  journal.entries().filter((event) => event.txnId === txnId);

/** Polls an async condition; for effects that leave no event the test can hear (a logout's audit record). */
const eventuallyIn = <T>(check: () => Promise<T | null> | T | null, what: string, timeoutMs = WAIT_MS): Promise<T> =>
  eventually(check, what, timeoutMs, 10);

interface Kiosk {
  controller: KioskController;
  devices: SimDevices;
  journal: KioskJournal;
  clock: FakeClock;
  dir: string;
  /** Resolves at the first state (now or later) that matches; rejects with the screen after WAIT_MS. */
  until(predicate: (state: KioskState) => boolean, what: string): Promise<KioskState>;
  untilScreen(name: Screen['name']): Promise<KioskState>;
  /** A keypad press, the clock moved gapMs first. */
  press(key: KeyName, gapMs?: number): void;
  /** Types text with keypad multi-tap only: the right key the right number of times, waiting out the window between letters on one key. */
  tap(text: string): void;
  /** Keyboard characters into a text field (the UI sends these as char events). */
  type(text: string): void;
  stop(): Promise<void>;
}

async function startKiosk(
  t: TestContext,
  bank: TestBank,
  options: { dir?: string; journal?: KioskJournal; start?: boolean } = {},
): Promise<Kiosk> {
  const dir = options.dir ?? makeTempDir('atm-kiosk-');
  const clock = new FakeClock();
  const devices = createSimDevices();
  let txnCount = 0;
  const { controller, journal } = kioskOnTestBank(bank, {
    devices,
    dir,
    ...(options.journal === undefined ? {} : { journal: options.journal }),
    nowMs: clock.nowMs,
    newTxnId: () => `kf-txn-${String(++txnCount).padStart(4, '0')}`,
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
  t.after(async () => {
    await stop();
    if (options.dir === undefined) fs.rmSync(dir, { recursive: true, force: true });
  });
  const until = (predicate: (state: KioskState) => boolean, what: string): Promise<KioskState> =>
    new Promise((resolve, reject) => {
      if (predicate(controller.state)) {
        resolve(controller.state);
        return;
      }
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(
          new Error(
            `timed out waiting for ${what}; screen: ${JSON.stringify(controller.state.screen)} message: ${controller.state.message}`,
          ),
        );
      }, WAIT_MS);
      const check = (): void => {
        if (!predicate(controller.state)) return;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(controller.state);
      };
      waiters.add(check);
    });
  const press = (key: KeyName, gapMs = 100): void => {
    clock.advance(gapMs);
    assert.ok(devices.keypad.press(key), `the keypad took ${key}`);
  };
  const kiosk: Kiosk = {
    controller,
    devices,
    journal,
    clock,
    dir,
    until,
    untilScreen: (name) => until((state) => state.screen.name === name, `the ${name} screen`),
    press,
    tap(text) {
      let previousKey: string | null = null;
      for (const ch of text) {
        const entry =
          Object.entries(MULTITAP).find(([, letters]) => letters.includes(ch)) ?? assert.fail(`no key types ${ch}`);
        const [key, letters] = entry;
        // Same key as the letter before: wait out the window, or this press would cycle that letter.
        press(key as KeyName, key === previousKey ? MULTITAP_MS + 1 : 100);
        for (let index = 0; index < letters.indexOf(ch); index += 1) press(key as KeyName, 100);
        previousKey = key;
      }
    },
    type(text) {
      for (const ch of text) {
        clock.advance(10);
        controller.input({ type: 'char', ch, atMs: clock.ms });
      }
    },
    stop,
  };
  if (options.start !== false) await controller.start();
  return kiosk;
}

/** The display shows exactly the LCD text of the current state (as a 4×20 display normalises it). */
function assertDisplayMirrors(kiosk: Kiosk): void {
  assert.deepEqual(kiosk.devices.display.lines(), normaliseDisplayLines(lcdLines(kiosk.controller.state), 4, 20));
}

/** A call, so that asserting one screen name does not narrow the type for the next assert. */
const screenName = (kiosk: Kiosk): Screen['name'] => kiosk.controller.state.screen.name;

const viewText = (state: KioskState): string => {
  const shown = view(state);
  return [shown.title, ...shown.body, state.message ?? ''].join('\n');
};

async function startBank(t: TestContext): Promise<TestBank> {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  return bank;
}

/** A customer with money, made directly at the bank (not through the kiosk under test). */
async function customerWith(bank: TestBank, username: string, depositCents: number): Promise<void> {
  const connection = await bank.loginAs(username);
  const deposited = await connection.request({
    op: 'deposit',
    txnId: `seed-${username}-0001`,
    amountCents: depositCents,
  });
  assert.ok(deposited.ok);
  connection.close();
}

async function logIn(kiosk: Kiosk, username: string): Promise<void> {
  await kiosk.untilScreen('welcome');
  kiosk.press('A');
  kiosk.type(username);
  kiosk.press('enter');
  kiosk.type(TEST_PASSWORD);
  kiosk.press('enter');
  await kiosk.untilScreen('menu');
}

async function balanceAtBank(bank: TestBank, username: string): Promise<{ balanceCents: number; heldCents: number }> {
  const account = (await bank.host.store.getAccount(username)) ?? assert.fail(`no account ${username}`);
  return { balanceCents: account.balanceCents, heldCents: account.heldCents };
}

// ---------------------------------------------------------------------------------------------

test('a customer does everything with the keypad alone: multi-tap sign-up, deposit 150.00, withdraw 50.00, balance 100.00, log out', async (t) => {
  const bank = await startBank(t);
  const kiosk = await startKiosk(t, bank);
  const { controller, devices } = kiosk;
  const username = 'cab.b2'; // c, then a and b on the same key (the window waited out), '.', b, 2
  const password = 'password1';

  assert.equal((await kiosk.untilScreen('welcome')).screen.name, 'welcome');
  assertDisplayMirrors(kiosk);
  assert.equal(devices.display.lines()[0]?.trimEnd(), 'WELCOME');

  kiosk.press('B');
  assert.deepEqual(controller.state.screen, { name: 'signupUser', text: '' });
  kiosk.tap(username);
  assert.deepEqual(controller.state.screen, { name: 'signupUser', text: username });
  assertDisplayMirrors(kiosk);
  assert.equal(devices.display.lines()[2]?.trimEnd(), username, 'the LCD shows the username as it is typed');
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'busy', 'the bank is asked whether the name is free');
  await kiosk.untilScreen('signupPassword');
  kiosk.tap(password);
  assert.ok(!viewText(controller.state).includes(password), 'the password is masked');
  assert.equal(devices.display.lines()[2]?.trimEnd(), '*'.repeat(password.length));
  kiosk.press('enter');
  kiosk.tap(password);
  assert.equal(screenName(kiosk), 'signupConfirm');
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'busy');
  assertDisplayMirrors(kiosk);
  const menu = await kiosk.untilScreen('menu');
  assert.equal(menu.username, username);
  assert.equal(menu.message, 'Account created. Welcome!');
  assertDisplayMirrors(kiosk);

  // Deposit 150.00: digits fill from the right.
  kiosk.press('B');
  for (const digit of ['1', '5', '0', '0', '0'] as const) kiosk.press(digit);
  assert.match(viewText(controller.state), / {4}150\.00/);
  assert.equal(devices.display.lines()[1]?.trimEnd(), 'Amount: 150.00');
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'confirm');
  assert.equal(devices.display.lines()[1]?.trimEnd(), 'Deposit 150.00');
  kiosk.press('enter');
  const deposited = await kiosk.untilScreen('result');
  assert.equal(view(deposited).title, 'Deposit accepted');
  assert.match(viewText(deposited), /New balance: 150\.00/);
  assertDisplayMirrors(kiosk);

  // Withdraw 50.00 (a 20.00 and a 10.00 cassette can make it).
  kiosk.press('B');
  assert.equal(screenName(kiosk), 'menu');
  kiosk.press('C');
  for (const digit of ['5', '0', '0', '0'] as const) kiosk.press(digit);
  assert.equal(devices.display.lines()[1]?.trimEnd(), 'Amount: 50.00');
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'confirm');
  assert.match(viewText(controller.state), /You will receive: 2 x 20\.00 \+ 1 x 10\.00/);
  kiosk.press('enter');
  const withdrawn = await kiosk.untilScreen('result');
  assert.equal(view(withdrawn).title, 'Cash dispensed');
  assert.match(viewText(withdrawn), /Amount: 50\.00\nNew balance: 100\.00/);
  assertDisplayMirrors(kiosk);
  assert.deepEqual(devices.dispenser.cassettes(), [
    { denominationCents: 2000, count: 98 },
    { denominationCents: 1000, count: 99 },
  ]);

  // Balance.
  kiosk.press('B');
  kiosk.press('A');
  const balance = await kiosk.untilScreen('result');
  assert.match(viewText(balance), /Available balance: 100\.00/);
  assertDisplayMirrors(kiosk);

  // Log out.
  kiosk.press('D');
  assert.equal(screenName(kiosk), 'welcome');
  assert.equal(controller.state.username, null);
  assert.equal(controller.state.message, 'Thank you. Goodbye.');
  assertDisplayMirrors(kiosk);
  await eventuallyIn(
    () => (storyOf(auditRecords(bank.dataDir), username).includes('logout ok') ? true : null),
    'the logout at the bank',
  );

  assert.deepEqual(await balanceAtBank(bank, username), { balanceCents: 10_000, heldCents: 0 });
  assert.deepEqual(storyOf(auditRecords(bank.dataDir), username), [
    'username.check ok',
    'register ok',
    'login ok',
    'deposit ok 15000',
    'withdraw.hold ok 5000',
    'withdraw.post ok 5000',
    'balance ok',
    'logout ok',
  ]);
  assert.deepEqual(
    kiosk.journal.entries().map((event) => event.type),
    ['deposit.sent', 'deposit.result', 'hold.sent', 'hold.result', 'dispense.started', 'dispense.result', 'settled'],
  );
  assert.deepEqual(journalOf(kiosk.journal, 'kf-txn-0002').at(-1), {
    type: 'settled',
    txnId: 'kf-txn-0002',
    outcome: 'posted',
    postedCents: 5000,
  });
  assert.deepEqual(kiosk.journal.entries()[0], {
    type: 'deposit.sent',
    txnId: 'kf-txn-0001',
    username,
    amountCents: 15_000,
  });
});

test('a jam before any note: the hold is voided, the balance is unchanged and the screen says no cash was dispensed', async (t) => {
  const bank = await startBank(t);
  await customerWith(bank, 'jammed', 20_000);
  const kiosk = await startKiosk(t, bank);
  await logIn(kiosk, 'jammed');
  kiosk.devices.dispenser.jamNext();
  kiosk.press('C');
  kiosk.press('B'); // fast cash 60.00
  kiosk.press('enter');
  const result = await kiosk.untilScreen('result');
  assert.equal(view(result).title, 'Withdrawal failed');
  assert.match(viewText(result), /no cash was dispensed/);
  assert.match(viewText(result), /Nothing was taken from your account\.\nBalance: 200\.00/);
  assertDisplayMirrors(kiosk);

  assert.deepEqual(await balanceAtBank(bank, 'jammed'), { balanceCents: 20_000, heldCents: 0 });
  const txnId = 'kf-txn-0001';
  assert.deepEqual(
    journalOf(kiosk.journal, txnId).map((event) => event.type),
    ['hold.sent', 'hold.result', 'dispense.started', 'dispense.result', 'settled'],
  );
  const [, holdResult, , dispensed, settled] = journalOf(kiosk.journal, txnId);
  assert.deepEqual(holdResult, { type: 'hold.result', txnId, outcome: 'ok' });
  assert.deepEqual(dispensed, { type: 'dispense.result', txnId, dispensedCents: 0, fault: 'jam' });
  assert.deepEqual(settled, { type: 'settled', txnId, outcome: 'voided', postedCents: 0 });
  const audit = auditRecords(bank.dataDir).filter((record) => record.txnId === txnId);
  assert.deepEqual(
    audit.map((record) => `${record.action} ${record.outcome}`),
    ['withdraw.hold ok', 'withdraw.void ok'],
  );

  // The jammed dispenser reports hardwareError: the menu no longer offers withdrawals.
  assert.equal(kiosk.devices.dispenser.state(), 'hardwareError');
  kiosk.press('B');
  kiosk.press('C');
  assert.equal(screenName(kiosk), 'menu');
  assert.equal(kiosk.controller.state.message, 'Withdrawals are unavailable at this machine right now');
});

test('a jam after 3 notes of a 100.00 withdrawal: exactly 60.00 is posted and the screen says partial', async (t) => {
  const bank = await startBank(t);
  await customerWith(bank, 'partial', 20_000);
  const kiosk = await startKiosk(t, bank);
  await logIn(kiosk, 'partial');
  kiosk.devices.dispenser.jamNext({ afterNotes: 3 });
  kiosk.press('C');
  kiosk.press('C'); // fast cash 100.00: five 20.00 notes, the fourth jams
  assert.equal(screenName(kiosk), 'confirm', 'C, C asks first: nothing is paid before Enter');
  kiosk.press('enter');
  const result = await kiosk.untilScreen('result');
  assert.equal(view(result).title, 'Partial withdrawal');
  assert.match(viewText(result), /Only 60\.00 of 100\.00 could be dispensed\./);
  assert.match(viewText(result), /New balance: 140\.00/);
  assert.deepEqual(await balanceAtBank(bank, 'partial'), { balanceCents: 14_000, heldCents: 0 });
  const txnId = 'kf-txn-0001';
  assert.deepEqual(journalOf(kiosk.journal, txnId).slice(-2), [
    { type: 'dispense.result', txnId, dispensedCents: 6000, fault: 'jam' },
    { type: 'settled', txnId, outcome: 'posted', postedCents: 6000 },
  ]);
  const post = auditRecords(bank.dataDir).find((record) => record.txnId === txnId && record.action === 'withdraw.post');
  assert.equal(post?.outcome, 'ok');
  assert.equal(post.amountCents, 6000);
});

// ---------------------------------------------------------------------------------------------
// Recovery at start-up: the journal a power cut left behind, written by hand.

interface RecoveryCase {
  bank: TestBank;
  dir: string;
  username: string;
}

/** A customer with 200.00 and a real 60.00 hold at the bank under txnId, placed by this kiosk. */
async function heldAtBank(t: TestContext, txnId: string): Promise<RecoveryCase> {
  const bank = await startBank(t);
  const username = 'powercut';
  await customerWith(bank, username, 20_000);
  const connection = await bank.loginAs(username);
  const held = await connection.request({ op: 'withdraw.hold', txnId, amountCents: 6000 });
  assert.ok(held.ok, 'the hold is placed');
  connection.close();
  assert.deepEqual(await balanceAtBank(bank, username), { balanceCents: 20_000, heldCents: 6000 });
  const dir = makeTempDir('atm-kiosk-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return { bank, dir, username };
}

function writeJournal(dir: string, bank: TestBank, events: JournalEvent[]): void {
  const journal = KioskJournal.open({ dir, kioskId: bank.kiosk.kioskId, key: deriveJournalKey(bank.kiosk.psk) });
  for (const event of events) journal.append(event);
}

/** Starts a controller on the journal and records what the bank had done when the welcome screen first showed. */
async function restartAndWatch(
  t: TestContext,
  recovery: RecoveryCase,
): Promise<{ kiosk: Kiosk; auditAtWelcome: AuditRecord[]; screensBefore: Screen['name'][] }> {
  const kiosk = await startKiosk(t, recovery.bank, { dir: recovery.dir, start: false });
  const screensBefore: Screen['name'][] = [];
  const seen: { auditAtWelcome: AuditRecord[] | null } = { auditAtWelcome: null };
  kiosk.controller.onChange((state) => {
    if (seen.auditAtWelcome !== null) return;
    // Read synchronously, at the very moment the welcome screen is first drawn.
    if (state.screen.name === 'welcome') seen.auditAtWelcome = auditRecords(recovery.bank.dataDir);
    else screensBefore.push(state.screen.name);
  });
  await kiosk.controller.start();
  await kiosk.untilScreen('welcome');
  return {
    kiosk,
    auditAtWelcome: seen.auditAtWelcome ?? assert.fail('the welcome screen was never drawn'),
    screensBefore,
  };
}

test('recovery: a hold whose dispense finished (60.00 out) but was never settled is posted before the welcome screen', async (t) => {
  const txnId = 'kf-cut-after-dispense';
  const recovery = await heldAtBank(t, txnId);
  writeJournal(recovery.dir, recovery.bank, [
    { type: 'hold.sent', txnId, username: recovery.username, amountCents: 6000 },
    { type: 'hold.result', txnId, outcome: 'ok' },
    { type: 'dispense.started', txnId, amountCents: 6000 },
    { type: 'dispense.result', txnId, dispensedCents: 6000, fault: null },
  ]);
  const { kiosk, auditAtWelcome, screensBefore } = await restartAndWatch(t, recovery);
  assert.ok(
    screensBefore.every((name) => name === 'outOfService'),
    `only out of service before welcome: ${screensBefore.join(', ')}`,
  );
  const post = auditAtWelcome.find((record) => record.txnId === txnId && record.action === 'withdraw.post');
  assert.ok(post !== undefined, 'withdraw.post was in the bank audit log when the welcome screen first showed');
  assert.equal(post.outcome, 'ok');
  assert.equal(post.amountCents, 6000);
  assert.equal(post.username, recovery.username);
  assert.deepEqual(await balanceAtBank(recovery.bank, recovery.username), { balanceCents: 14_000, heldCents: 0 });
  assert.deepEqual(journalOf(kiosk.journal, txnId).at(-1), {
    type: 'settled',
    txnId,
    outcome: 'posted',
    postedCents: 6000,
  });
  assert.deepEqual(kiosk.journal.unfinished(), []);
  // The settlement is durable in the file, not only in memory: a reopened journal has nothing left to do.
  await kiosk.stop();
  const reopened = KioskJournal.open({
    dir: recovery.dir,
    kioskId: recovery.bank.kiosk.kioskId,
    key: deriveJournalKey(recovery.bank.kiosk.psk),
  });
  assert.deepEqual(reopened.unfinished(), []);
});

test('recovery: a hold placed but never dispensed is voided before the welcome screen; a hold the bank never saw is refused harmlessly', async (t) => {
  const txnId = 'kf-cut-before-dispense';
  const lostId = 'kf-cut-hold-lost';
  const recovery = await heldAtBank(t, txnId);
  writeJournal(recovery.dir, recovery.bank, [
    { type: 'hold.sent', txnId, username: recovery.username, amountCents: 6000 },
    { type: 'hold.result', txnId, outcome: 'ok' },
    { type: 'hold.sent', txnId: lostId, username: recovery.username, amountCents: 2000 },
  ]);
  const { kiosk, auditAtWelcome, screensBefore } = await restartAndWatch(t, recovery);
  assert.ok(screensBefore.every((name) => name === 'outOfService'));
  const settled = auditAtWelcome
    .filter((record) => record.txnId === txnId)
    .map((record) => `${record.action} ${record.outcome}`);
  assert.deepEqual(settled, ['withdraw.hold ok', 'withdraw.void ok'], 'voided before the welcome screen');
  assert.deepEqual(await balanceAtBank(recovery.bank, recovery.username), { balanceCents: 20_000, heldCents: 0 });
  assert.deepEqual(journalOf(kiosk.journal, txnId).at(-1), {
    type: 'settled',
    txnId,
    outcome: 'voided',
    postedCents: 0,
  });
  assert.deepEqual(journalOf(kiosk.journal, lostId).at(-1), {
    type: 'settled',
    txnId: lostId,
    outcome: 'refused',
    postedCents: 0,
    detail: 'UNKNOWN_TXN',
  });
  assert.deepEqual(kiosk.journal.unfinished(), []);
});

// ---------------------------------------------------------------------------------------------

test('the bank going away puts the kiosk out of service and logs the customer out; the bank back on its port brings the welcome screen', async (t) => {
  const bank = await startBank(t);
  await customerWith(bank, 'patient', 5000);
  const kiosk = await startKiosk(t, bank);
  await logIn(kiosk, 'patient');
  const port = bank.host.port;
  await bank.stop();
  const out = await kiosk.untilScreen('outOfService');
  assert.equal(out.username, null);
  assert.notEqual(out.link, 'online');
  assert.equal(view(out).title, 'Temporarily out of service');
  assertDisplayMirrors(kiosk);
  assert.equal(kiosk.devices.display.lines()[0]?.trimEnd(), 'OUT OF SERVICE');
  kiosk.press('A');
  assert.equal(screenName(kiosk), 'outOfService', 'keys do nothing while out of service');

  await bank.restart({ port });
  const back = await kiosk.untilScreen('welcome');
  assert.equal(back.link, 'online');
  assert.equal(back.username, null, 'nobody is logged in after the reconnect');
  await logIn(kiosk, 'patient');
  kiosk.press('A');
  assert.match(viewText(await kiosk.untilScreen('result')), /Available balance: 50\.00/);
});
