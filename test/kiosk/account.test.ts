// Issue 17, item 5: the mini statement ([ATM-4.13]) and the password change ([ATM-4.14]) from
// the kiosk's menu, through the controller against a real bank (LevelDB in a temp dir, TCP on
// loopback), the sim devices and a real journal. The controller's clock is injected and its
// ticker is off; every wait is for a state the test names.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createSimDevices, normaliseDisplayLines, type SimDevices } from '../../hardware/sim.js';
import type { KeyName } from '../../hardware/types.js';
import type { KioskController } from '../../kiosk/controller.js';
import type { KioskState, Screen } from '../../kiosk/flow.js';
import type { KioskJournal } from '../../kiosk/journal.js';
import { lcdLines, view } from '../../kiosk/view.js';
import { FakeClock } from '../helpers/clock.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { TEST_PASSWORD, makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { auditRecords } from '../helpers/audit.js';
import { eventually } from '../helpers/wait.js';

const WAIT_MS = 5_000;
const NEW_PASSWORD = 'a new phrase 2026';
const WRONG_PASSWORD = 'not the password';

interface Kiosk {
  controller: KioskController;
  devices: SimDevices;
  journal: KioskJournal;
  dir: string;
  logLines: string[];
  until(predicate: (state: KioskState) => boolean, what: string): Promise<KioskState>;
  untilScreen(name: Screen['name']): Promise<KioskState>;
  press(...keys: KeyName[]): void;
  /** Keyboard characters into a text field (the UI sends these as char events). */
  type(text: string): void;
}

async function startKiosk(t: TestContext, bank: TestBank): Promise<Kiosk> {
  const dir = makeTempDir('atm-account-');
  const clock = new FakeClock();
  const devices = createSimDevices();
  const logLines: string[] = [];
  let txnCount = 0;
  const { controller, journal } = kioskOnTestBank(bank, {
    devices,
    dir,
    nowMs: clock.nowMs,
    newTxnId: () => `acct-txn-${String(++txnCount).padStart(4, '0')}`,
    log: (line) => logLines.push(line),
  });
  const waiters = new Set<() => void>();
  controller.onChange(() => [...waiters].forEach((waiter) => waiter()));
  t.after(async () => {
    await controller.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const until = (predicate: (state: KioskState) => boolean, what: string): Promise<KioskState> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (!predicate(controller.state)) return false;
        clearTimeout(timer);
        waiters.delete(check);
        resolve(controller.state);
        return true;
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        const { screen, message } = controller.state;
        reject(new Error(`timed out waiting for ${what}; screen: ${JSON.stringify(screen)} message: ${message}`));
      }, WAIT_MS);
      if (!check()) waiters.add(check);
    });
  await controller.start();
  return {
    controller,
    devices,
    journal,
    dir,
    logLines,
    until,
    untilScreen: (name) => until((state) => state.screen.name === name, `the ${name} screen`),
    press(...keys) {
      for (const key of keys) {
        clock.advance(100);
        assert.ok(devices.keypad.press(key), `the keypad took ${key}`);
      }
    },
    type(text) {
      for (const ch of text) {
        clock.advance(10);
        controller.input({ type: 'char', ch, atMs: clock.ms });
      }
    },
  };
}

async function startBank(t: TestContext): Promise<TestBank> {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  return bank;
}

/** A customer made directly at the bank, with no transactions yet. */
async function newCustomer(bank: TestBank, username: string): Promise<void> {
  const connection = await bank.loginAs(username);
  await connection.request({ op: 'logout' });
  connection.close();
}

async function logIn(kiosk: Kiosk, username: string, password: string): Promise<KioskState> {
  kiosk.press('A');
  kiosk.type(username);
  kiosk.press('enter');
  kiosk.type(password);
  kiosk.press('enter');
  return kiosk.until((state) => state.screen.name !== 'busy', 'the answer to the login');
}

/** From the menu: a typed amount (digits fill from the right), confirmed, then its result screen. */
async function transact(kiosk: Kiosk, kind: 'deposit' | 'withdraw', digits: string): Promise<KioskState> {
  kiosk.press(kind === 'deposit' ? 'B' : 'C', ...([...digits] as KeyName[]), 'enter', 'enter');
  const result = await kiosk.untilScreen('result');
  kiosk.press('B');
  assert.equal(screenName(kiosk), 'menu');
  return result;
}

const bodyOf = (state: KioskState): string[] => view(state).body;
/** A call, so that asserting one screen name does not narrow the type for the next assert. */
const screenName = (kiosk: Kiosk): Screen['name'] => kiosk.controller.state.screen.name;

test('the statement lists what this kiosk deposited and withdrew, newest first as the bank has it, and prints it on the receipt', async (t) => {
  const bank = await startBank(t);
  await newCustomer(bank, 'stmt.user');
  const kiosk = await startKiosk(t, bank);
  await kiosk.untilScreen('welcome');
  assert.equal((await logIn(kiosk, 'stmt.user', TEST_PASSWORD)).screen.name, 'menu');

  kiosk.press('5');
  assert.equal(screenName(kiosk), 'busy');
  const empty = await kiosk.untilScreen('result');
  assert.deepEqual(bodyOf(empty).slice(0, 1), ['There are no transactions on this account yet.']);
  kiosk.press('B');

  await transact(kiosk, 'deposit', '15000');
  await transact(kiosk, 'deposit', '2550');
  const withdrawn = await transact(kiosk, 'withdraw', '6000');
  assert.match(bodyOf(withdrawn).join('\n'), /New balance: 115\.50/);

  kiosk.press('5');
  const shown = await kiosk.untilScreen('result');
  const body = bodyOf(shown);
  assert.equal(view(shown).title, 'Mini statement');
  assert.equal(body[0], 'Your last 3 transactions, newest first (UTC):');
  const listed = body.slice(2, 5);
  const when = String.raw`\d\d-\d\d \d\d:\d\d`;
  assert.match(listed[0] ?? '', new RegExp(`^${when} Withdrawal {5}-60\\.00 txn-0003$`));
  assert.match(listed[1] ?? '', new RegExp(`^${when} Deposit {8}\\+25\\.50 txn-0002$`));
  assert.match(listed[2] ?? '', new RegExp(`^${when} Deposit {7}\\+150\\.00 txn-0001$`));
  assert.equal(body[5], '', 'nothing else is listed');

  // The bank's own answer, asked directly: the same transactions in the same order.
  const connection = await bank.loginAs('stmt.user');
  const statement = await connection.request({ op: 'statement' });
  connection.close();
  assert.ok(statement.ok);
  assert.deepEqual(
    statement.transactions.map((txn) => txn.txnId),
    ['acct-txn-0003', 'acct-txn-0002', 'acct-txn-0001'],
  );

  assert.deepEqual(
    kiosk.devices.display.lines(),
    normaliseDisplayLines(['MINI STATEMENT', '3 transactions', 'Last: -60.00'], 4, 20),
  );
  assert.deepEqual(kiosk.devices.display.lines(), normaliseDisplayLines(lcdLines(shown), 4, 20));

  kiosk.press('A');
  assert.equal(screenName(kiosk), 'receipt');
  const receipts = path.join(kiosk.dir, 'receipts.txt');
  // Polled, not awaited as a state: a receipt is written beside the flow, not through it.
  const printed = await eventually(() => {
    const text = fs.existsSync(receipts) ? fs.readFileSync(receipts, 'utf8') : '';
    return text.includes('Thank you') ? text.split('\n') : null;
  }, 'the receipt');
  const heading = printed.indexOf('MINI STATEMENT (UTC)');
  assert.ok(heading > 0, printed.join('\n'));
  assert.deepEqual(printed.slice(heading + 1, heading + 5), body.slice(1, 5));
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'menu');
});

test('a password changed at the kiosk is the one that logs in next, the old one is refused, and neither is logged, journaled or audited', async (t) => {
  const bank = await startBank(t);
  await newCustomer(bank, 'pw.user');
  const kiosk = await startKiosk(t, bank);
  await kiosk.untilScreen('welcome');
  await logIn(kiosk, 'pw.user', TEST_PASSWORD);

  // A wrong current password first: the bank counts it, the customer stays logged in.
  kiosk.press('6');
  kiosk.type(WRONG_PASSWORD);
  kiosk.press('enter');
  kiosk.type(NEW_PASSWORD);
  kiosk.press('enter');
  kiosk.type(NEW_PASSWORD);
  kiosk.press('enter');
  const wrong = await kiosk.until((state) => state.screen.name === 'passwordOld', 'the current password again');
  assert.equal(wrong.message, 'Wrong password: 4 tries left before a lock');
  assert.equal(wrong.username, 'pw.user');

  kiosk.type(TEST_PASSWORD);
  kiosk.press('enter');
  kiosk.type(NEW_PASSWORD);
  kiosk.press('enter');
  kiosk.type(NEW_PASSWORD);
  kiosk.press('enter');
  assert.equal(screenName(kiosk), 'busy');
  const changed = await kiosk.untilScreen('menu');
  assert.equal(changed.message, 'Password changed');
  assert.equal(changed.username, 'pw.user', 'the session stays logged in');

  kiosk.press('D');
  await kiosk.untilScreen('welcome');
  const refused = await logIn(kiosk, 'pw.user', TEST_PASSWORD);
  assert.equal(refused.screen.name, 'loginPassword');
  assert.match(refused.message ?? '', /^Wrong password: \d tries left/);
  kiosk.type(NEW_PASSWORD);
  kiosk.press('enter');
  const menu = await kiosk.until((state) => state.screen.name !== 'busy', 'the answer to the login');
  assert.equal(menu.screen.name, 'menu');
  assert.equal(menu.username, 'pw.user');

  const records = auditRecords(bank.dataDir).filter((record) => record.username === 'pw.user');
  assert.deepEqual(
    records.filter((record) => record.action === 'password.change').map((record) => record.outcome),
    ['AUTH_FAILED', 'ok'],
  );
  const written = [
    JSON.stringify(records),
    kiosk.logLines.join('\n'),
    JSON.stringify(kiosk.journal.entries()),
    JSON.stringify(kiosk.controller.state),
  ].join('\n');
  for (const password of [TEST_PASSWORD, NEW_PASSWORD, WRONG_PASSWORD])
    assert.ok(!written.includes(password), `${password} was written somewhere`);
});

test('wrong current passwords lock the account as wrong logins do: the kiosk logs the customer out and says for how long', async (t) => {
  const bank = await startBank(t);
  await newCustomer(bank, 'lock.user');
  const kiosk = await startKiosk(t, bank);
  await kiosk.untilScreen('welcome');
  await logIn(kiosk, 'lock.user', TEST_PASSWORD);
  kiosk.press('6');
  let answered = kiosk.controller.state;
  for (let attempt = 1; answered.screen.name === 'passwordOld'; attempt += 1) {
    assert.ok(attempt <= 5, `still not locked after ${attempt - 1} wrong passwords`);
    kiosk.type(WRONG_PASSWORD);
    kiosk.press('enter');
    kiosk.type(NEW_PASSWORD);
    kiosk.press('enter');
    kiosk.type(NEW_PASSWORD);
    kiosk.press('enter');
    answered = await kiosk.until((state) => state.screen.name !== 'busy', `the answer to attempt ${attempt}`);
  }
  assert.equal(answered.screen.name, 'welcome');
  assert.equal(answered.username, null);
  assert.match(answered.message ?? '', /^Account locked — try again in \d+ min$/);
  const again = await logIn(kiosk, 'lock.user', TEST_PASSWORD);
  assert.match(again.message ?? '', /^Account locked/, 'the right password waits for the lock too');
});
