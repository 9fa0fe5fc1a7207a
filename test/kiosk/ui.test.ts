// The kiosk as a customer meets it: the real, compiled `atm kiosk` process runs in a real
// pseudo-terminal (node-pty, TERM=xterm-256color, LANG=C.UTF-8, 80×24) whose output is kept
// in a headless xterm.js terminal; each test waits for text on that screen, sends keys and
// checks the outcome on a real bank host (LevelDB in a temp dir, real loopback TCP):
//   - in-process (startTestBank) where the bank only has to serve,
//   - an `atm bank` child process where it must be stopped and restarted mid-session.
// Waits poll the screen with a deadline; no sleep is an assertion. The kiosk runs on the
// real clock, so the idle timeout is shortened with its own flags instead of a fake clock.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addKiosk, initKeystore, type AuditRecord } from '../../bank/index.js';
import { TEST_PASSWORD, makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { cleanEnv, startBankProcess, type BankProcess } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';
import { auditOf } from '../helpers/audit.js';
import { pause } from '../helpers/wait.js';

const KIOSK_ID = 'kiosk-01';
const WRONG_PASSWORD = 'wrong horse battery';
const STACK_TRACE = /at .*\(.*:\d+:\d+\)|Error:/;
const WELCOME = 'Welcome to Secure ATM.';
const FIRST_SCREEN_TIMEOUT_MS = 10_000;
const ESCAPE_SEQUENCE = /\x1b(?:\[[0-9;?>=]*[ -/]*[@-~]|\][^\x07\x1b]*(?:\x07|\x1b\\)|[()][0-9A-Za-z]|[78=>cMDE])/g;

/** Every kiosk this file started, for the final "no stack trace" check over all flows. */
const kiosks: { name: string; pty: PtyProcess }[] = [];

interface KioskLaunch {
  port: number;
  keyFile: string;
  dataDir: string;
  extra?: string[];
}

interface StartedKiosk {
  pty: PtyProcess;
  firstScreenMs: number; // spawn → the first frame of the UI (title bar drawn)
  welcomeMs: number; // spawn → the welcome screen (connected to the bank)
}

async function startKiosk(t: TestContext, launch: KioskLaunch): Promise<StartedKiosk> {
  const startedAt = performance.now();
  const pty = spawnPty(
    process.execPath,
    [
      atmBin,
      'kiosk',
      '--bank',
      `127.0.0.1:${launch.port}`,
      '--kiosk',
      KIOSK_ID,
      '--key',
      launch.keyFile,
      '--data',
      launch.dataDir,
      // Deposits here are typed amounts (a kiosk without a cash-in module), so these tests keep
      // exercising amount entry; deposits through the note slot are cash-in-pty.test.ts's.
      '--no-cash-in',
      ...(launch.extra ?? []),
    ],
    { env: cleanEnv() },
  );
  kiosks.push({ name: t.name, pty });
  // Killed however the test ends; a clean exit the test waited for makes this a no-op.
  t.after(() => pty.kill().then(() => undefined));
  await pty.waitFor(/SECURE ATM — /i, FIRST_SCREEN_TIMEOUT_MS);
  const firstScreenMs = performance.now() - startedAt;
  await pty.waitFor(/welcome to secure atm\./i, FIRST_SCREEN_TIMEOUT_MS);
  const welcomeMs = performance.now() - startedAt;
  t.diagnostic(`kiosk start → first screen ${firstScreenMs.toFixed(0)} ms, → welcome ${welcomeMs.toFixed(0)} ms`);
  return { pty, firstScreenMs, welcomeMs };
}

/** The text a crash or a leaked exception would leave, on any screen or in the raw output. */
function stackTraces(pty: PtyProcess): string[] {
  const found = pty.screens().filter((screen) => STACK_TRACE.test(screen));
  // Every escape sequence becomes a line break, so the UI's cursor-positioned fragments are
  // never glued together, while a plainly printed trace stays on its own lines.
  const plain = pty.output().replace(ESCAPE_SEQUENCE, '\n');
  found.push(...plain.split('\n').filter((line) => STACK_TRACE.test(line)));
  return found;
}

/** The amount line of the amount screens: "│     150.00    │". */
const amountLine = (amount: string): RegExp => new RegExp(`│ {4,}${amount.replace('.', '\\.')} +│`);

async function signUp(pty: PtyProcess, username: string, password: string): Promise<void> {
  pty.type('b');
  await pty.waitFor('Choose a username:');
  pty.type(username);
  await pty.waitFor(`  ${username}_`);
  pty.press('enter');
  await pty.waitFor('Choose a password:');
  assert.match(pty.screenText(), /Password rules: 8 to 72 characters/);
  pty.type(password);
  await pty.waitFor(`  ${'*'.repeat(password.length)}_`);
  assert.ok(!pty.screenText().includes(password), 'the password is masked');
  pty.press('enter');
  await pty.waitFor('Repeat the password:');
  pty.type(password);
  await pty.waitFor(`  ${'*'.repeat(password.length)}_`);
  pty.press('enter');
  await pty.waitFor(`Main menu — ${username}`);
}

async function logIn(pty: PtyProcess, username: string, password: string): Promise<void> {
  pty.type('a');
  await pty.waitFor('Type your username, then Enter.');
  await enterCredentials(pty, username, password);
}

/** From the login screen (where a failed login returns to): username, Enter, password, Enter. */
async function enterCredentials(pty: PtyProcess, username: string, password: string): Promise<void> {
  assert.match(pty.screenText(), /Type your username, then Enter\./);
  pty.type(username);
  await pty.waitFor(`  ${username}_`);
  pty.press('enter');
  await pty.waitFor(`Username: ${username}`);
  pty.type(password);
  await pty.waitFor(`  ${'*'.repeat(password.length)}_`);
  pty.press('enter');
}

/** The decrypted audit records of one user, polled until `done` holds (lines are appended asynchronously). */
const summary = (records: AuditRecord[]): string[] =>
  records.map(
    (record) => `${record.action} ${record.outcome}${record.amountCents !== undefined ? ` ${record.amountCents}` : ''}`,
  );

async function depositDirect(bank: TestBank, username: string, amountCents: number): Promise<void> {
  const connection = await bank.loginAs(username);
  try {
    const deposit = await connection.request({ op: 'deposit', txnId: `seed-${username}`, amountCents });
    assert.ok(deposit.ok, JSON.stringify(deposit));
    await connection.request({ op: 'logout' });
  } finally {
    connection.close();
  }
}

// Issue 12, item 1: the bank session has a lifetime ([ATM-3.6]); a customer must never notice
// it. The bank here has a 3 s lifetime (the test flag: BankHostOptions.timeouts), so the kiosk
// renews its session about every 2.3 s; the customer stays logged in across more than two
// lifetimes and deposits right at a renewal.
describe('atm kiosk in a pseudo-terminal across bank session lifetimes', { concurrency: 1, timeout: 60_000 }, () => {
  const LIFETIME_MS = 3_000;
  let bank: TestBank;
  let root: string;
  before(async () => {
    bank = await startTestBank({ timeouts: { lifetimeMs: LIFETIME_MS } });
    root = makeTempDir('atm-kiosk-lifetime-');
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await bank?.cleanup();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  test('a customer stays logged in across two session lifetimes, and a deposit at the boundary is applied once', async (t) => {
    await depositDirect(bank, 'longstay', 10_00);
    const dataDir = path.join(root, 'kiosk');
    const { pty } = await startKiosk(t, { port: bank.host.port, keyFile: bank.kiosk.keyFile, dataDir });
    await logIn(pty, 'longstay', TEST_PASSWORD);
    await pty.waitFor('Main menu — longstay');
    const loggedInAt = performance.now();
    const screensBefore = pty.screens().length;
    const log = (): string => fs.readFileSync(path.join(dataDir, 'kiosk.log'), 'utf8');
    const renewals = (): number => (log().match(/bank session renewed \(customer login carried over\)/g) ?? []).length;
    // The deposit is confirmed right as the first renewal happens: typed ahead, Enter on it.
    pty.type('b');
    await pty.waitFor('Enter the amount to deposit:');
    pty.type('2500');
    await pty.waitFor(amountLine('25.00'));
    pty.press('enter');
    await pty.waitFor('Deposit 25.00?');
    for (const deadline = performance.now() + LIFETIME_MS; renewals() === 0 && performance.now() < deadline;)
      await pause(5);
    pty.press('enter');
    await pty.waitFor('Deposit accepted');
    assert.match(pty.screenText(), /New balance: 35\.00/);
    pty.type('b');
    await pty.waitFor('What would you like to do?');
    // Past the second lifetime, still the same customer's menu; then a balance through the newest session.
    while (performance.now() - loggedInAt < 2 * LIFETIME_MS + 500) {
      await pause(100);
      assert.doesNotMatch(pty.screenText(), /Welcome to Secure ATM|out of service/i);
    }
    pty.type('a');
    await pty.waitFor('Available balance: 35.00');
    assert.ok(renewals() >= 2, `renewed at least twice with the login carried over:\n${log()}`);
    assert.doesNotMatch(log(), /LIFETIME|bank link offline/, 'no session ran out under the customer');
    const after = pty.screens().slice(screensBefore);
    assert.ok(
      !after.some((screen) => /Welcome to Secure ATM\.|Temporarily out of service/.test(screen)),
      "no screen change but the customer's own",
    );
    const records = await auditOf(
      bank.dataDir,
      'longstay',
      (mine) => mine.filter((record) => record.action === 'session.resume').length >= 2,
    );
    assert.deepEqual(
      summary(records).filter((line) => line.startsWith('deposit')),
      ['deposit ok 1000', 'deposit ok 2500'],
      'the deposit applied once',
    );
    assert.ok(records.filter((record) => record.action === 'session.resume' && record.outcome === 'ok').length >= 2);
  });
});

describe('atm kiosk in a pseudo-terminal against an in-process bank', { concurrency: 1, timeout: 60_000 }, () => {
  let bank: TestBank;
  let root: string;
  let kioskSerial = 0;
  const launch = (extra: string[] = []): KioskLaunch => {
    const dataDir = path.join(root, `kiosk-${kioskSerial++}`);
    return { port: bank.host.port, keyFile: bank.kiosk.keyFile, dataDir, extra };
  };

  before(async () => {
    bank = await startTestBank();
    root = makeTempDir('atm-kiosk-ui-');
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await bank?.cleanup();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
  });

  test('a customer signs up, deposits, withdraws, prints a receipt, is declined, checks the balance and logs out', async (t) => {
    const where = launch();
    const { pty } = await startKiosk(t, where);
    assert.match(pty.screenText(), /\[A\] Log in/);
    assert.match(pty.screenText(), /\[B\] Sign up/);

    await signUp(pty, 'austin', TEST_PASSWORD);
    assert.match(pty.screenText(), /Account created\. Welcome!/);

    // Deposit: digits fill in from the right, shown as they are typed.
    pty.type('b');
    await pty.waitFor('Enter the amount to deposit:');
    await pty.waitFor(amountLine('0.00'));
    const typed: [string, string][] = [
      ['1', '0.01'],
      ['5', '0.15'],
      ['0', '1.50'],
      ['0', '15.00'],
      ['0', '150.00'],
    ];
    for (const [digit, shown] of typed) {
      pty.type(digit);
      await pty.waitFor(amountLine(shown));
    }
    pty.press('enter');
    // [item 5] One confirmation before money moves.
    await pty.waitFor('Deposit 150.00?');
    pty.press('enter');
    await pty.waitFor('Deposit accepted');
    assert.match(pty.screenText(), /Amount: 150\.00/);
    assert.match(pty.screenText(), /New balance: 150\.00/);

    // Withdraw 50.00 and print its receipt.
    pty.type('b');
    await pty.waitFor('What would you like to do?');
    pty.type('c');
    await pty.waitFor('Or enter another amount:');
    pty.type('5000');
    await pty.waitFor(amountLine('50.00'));
    pty.press('enter');
    await pty.waitFor('You will receive: 2 x 20.00 + 1 x 10.00');
    assert.match(pty.screenText(), /Withdraw 50\.00\?/);
    pty.press('enter');
    await pty.waitFor('Cash dispensed', 10_000);
    assert.match(pty.screenText(), /Cash dispensed/);
    assert.match(pty.screenText(), /New balance: 100\.00/);
    pty.type('a');
    await pty.waitFor('Your receipt:');
    const receiptScreen = pty.screenText();
    for (const line of [
      'SECURE ATM',
      `Kiosk ${KIOSK_ID}`,
      'Customer au***',
      'WITHDRAWAL',
      'Requested: 50.00',
      'Dispensed: 50.00',
      'Balance: 100.00',
    ]) {
      assert.ok(receiptScreen.includes(line), `receipt shows ${line}:\n${receiptScreen}`);
    }
    const ref = /Ref: ([0-9a-f-]{36})/.exec(receiptScreen);
    assert.ok(ref !== null, `receipt shows the transaction reference:\n${receiptScreen}`);
    const receipts = fs.readFileSync(path.join(where.dataDir, 'receipts.txt'), 'utf8');
    assert.match(
      receipts,
      new RegExp(
        `WITHDRAWAL\\nRequested: 50\\.00\\nDispensed: 50\\.00\\nBalance: 100\\.00\\nRef: ${ref[1]}\\nThank you\\n\\f\\n$`,
      ),
    );

    // A withdrawal above the balance is declined.
    pty.press('enter');
    await pty.waitFor('What would you like to do?');
    pty.type('c');
    await pty.waitFor('Or enter another amount:');
    pty.type('15000');
    await pty.waitFor(amountLine('150.00'));
    pty.press('enter');
    await pty.waitFor('Withdraw 150.00?');
    pty.press('enter');
    await pty.waitFor('Insufficient funds');
    assert.match(pty.screenText(), /Withdrawal declined/);

    // Balance, then log out.
    pty.type('b');
    await pty.waitFor('What would you like to do?');
    pty.type('a');
    await pty.waitFor('Available balance: 100.00');
    pty.type('d');
    await pty.waitFor(WELCOME);
    assert.match(pty.screenText(), /Thank you\. Goodbye\./);

    // The bank agrees: the audit log tells the same story, and the balance is 100.00.
    const expected = [
      'username.check ok',
      'register ok',
      'login ok',
      'deposit ok 15000',
      'withdraw.hold ok 5000',
      'withdraw.post ok 5000',
      'withdraw.hold INSUFFICIENT_FUNDS 15000',
      'balance ok',
      'logout ok',
    ];
    const records = await auditOf(bank.dataDir, 'austin', (mine) => mine.some((record) => record.action === 'logout'));
    assert.deepEqual(summary(records), expected);
    const held = records.find((record) => record.action === 'withdraw.hold' && record.outcome === 'ok');
    assert.equal(
      records.find((record) => record.action === 'withdraw.post')?.txnId,
      held?.txnId,
      'the post settles the hold',
    );
    assert.equal(held?.txnId, ref[1], 'the receipt reference is the bank transaction id');
    const connection = await bank.loginAs('austin', TEST_PASSWORD);
    try {
      const balance = await connection.request({ op: 'balance' });
      assert.ok(balance.ok);
      assert.equal(balance.balanceCents, 10_000);
    } finally {
      connection.close();
    }
  });

  test('fast cash A withdraws 20.00 from the withdraw screen', async (t) => {
    await depositDirect(bank, 'fastcash', 100_00);
    const { pty } = await startKiosk(t, launch());
    await logIn(pty, 'fastcash', TEST_PASSWORD);
    await pty.waitFor('Main menu — fastcash');
    pty.type('c');
    await pty.waitFor('Fast cash:');
    assert.match(pty.screenText(), /\[A\] 20\.00 +\[B\] 60\.00/);
    assert.match(pty.screenText(), /\[C\] 100\.00 +\[D\] 200\.00/);
    pty.type('a');
    // [item 5] Fast cash confirms first: the amount and the notes, nothing paid yet.
    await pty.waitFor('You will receive: 1 x 20.00');
    assert.deepEqual(
      summary(await auditOf(bank.dataDir, 'fastcash', () => false, 0)).filter((line) => line.startsWith('withdraw')),
      [],
    );
    pty.press('enter');
    await pty.waitFor('Cash dispensed', 10_000);
    assert.match(pty.screenText(), /Amount: 20\.00/);
    assert.match(pty.screenText(), /New balance: 80\.00/);
    const records = await auditOf(bank.dataDir, 'fastcash', (mine) =>
      mine.some((record) => record.action === 'withdraw.post'),
    );
    assert.deepEqual(summary(records).slice(-2), ['withdraw.hold ok 2000', 'withdraw.post ok 2000']);
  });

  test('wrong passwords: the username stays, the tries left are told, and the fifth announces the lock', async (t) => {
    (await bank.loginAs('lockme')).close();
    const { pty } = await startKiosk(t, launch());
    pty.type('a');
    await pty.waitFor('Type your username, then Enter.');
    pty.type('lockme');
    await pty.waitFor('  lockme_');
    pty.press('enter');
    for (let attempt = 1; attempt <= 4; attempt++) {
      // [item 7] Only the password is typed again: the username is kept.
      await pty.waitFor('Username: lockme');
      pty.type(WRONG_PASSWORD);
      await pty.waitFor(`  ${'*'.repeat(WRONG_PASSWORD.length)}_`);
      pty.press('enter');
      const left = 5 - attempt;
      await pty.waitFor(`Wrong password: ${left === 1 ? '1 try' : `${left} tries`} left`);
      assert.match(pty.screenText(), /Choose|Password:/, `attempt ${attempt} ends on the password field`);
    }
    pty.type(WRONG_PASSWORD);
    await pty.waitFor(`  ${'*'.repeat(WRONG_PASSWORD.length)}_`);
    pty.press('enter');
    // The attempt that locks says so at once.
    await pty.waitFor(/Account locked — try again in \d+ min/);
    const minutes = Number(/try again in (\d+) min/.exec(pty.screenText())?.[1]);
    assert.ok(minutes === 14 || minutes === 15, `locked for about 15 min, shows ${minutes}`);
    await enterCredentials(pty, 'lockme', TEST_PASSWORD);
    await pty.waitFor(/Account locked — try again in \d+ min/);
    assert.doesNotMatch(pty.screenText(), /Main menu/);
    const records = await auditOf(
      bank.dataDir,
      'lockme',
      (mine) => mine.filter((record) => record.action === 'login').length >= 7,
    );
    const logins = records.filter((record) => record.action === 'login');
    assert.deepEqual(summary(logins), [
      'login ok',
      ...Array<string>(4).fill('login AUTH_FAILED'),
      'login ACCOUNT_LOCKED',
      'login ACCOUNT_LOCKED',
    ]);
    assert.equal(logins[5]?.detail, 'failed login 5');
  });

  test('an idle customer is warned, then logged out', async (t) => {
    (await bank.loginAs('idler')).close();
    const { pty } = await startKiosk(t, launch(['--idle-warn-ms', '1000', '--idle-logout-ms', '2000']));
    await logIn(pty, 'idler', TEST_PASSWORD);
    const lastKeyAt = performance.now();
    await pty.waitFor('Main menu — idler');
    await pty.waitFor('Are you still there?', 5_000);
    const warnedMs = performance.now() - lastKeyAt;
    await pty.waitFor('Session ended after no activity', 5_000);
    const endedMs = performance.now() - lastKeyAt;
    assert.match(pty.screenText(), new RegExp(WELCOME.replace('.', '\\.')));
    t.diagnostic(`idle warning after ${warnedMs.toFixed(0)} ms, logout after ${endedMs.toFixed(0)} ms`);
    assert.ok(warnedMs >= 1_000, `no warning before 1 s of inactivity (${warnedMs} ms)`);
    assert.ok(endedMs >= 2_000, `no logout before 2 s of inactivity (${endedMs} ms)`);
    const screens = pty.screens();
    const warning = screens.findIndex(
      (screen) => screen.includes('Are you still there?') && screen.includes('Main menu — idler'),
    );
    const ended = screens.findIndex((screen) => screen.includes('Session ended after no activity'));
    assert.ok(warning >= 0 && warning < ended, 'the warning is shown over the menu before the session ends');
    const records = await auditOf(bank.dataDir, 'idler', (mine) => mine.some((record) => record.action === 'logout'));
    assert.deepEqual(summary(records).slice(-2), ['login ok', 'logout ok'], 'the bank session is logged out too');
  });

  test('the screen re-renders on resize to 100×30 and back to 80×24', async (t) => {
    const { pty } = await startKiosk(t, launch());
    const topBorder = (mainInner: number): RegExp => new RegExp(`^┌─{${mainInner}}┐┌─ Display ─{14}┐$`, 'm');
    const statusLast = /\n kiosk-01 │ bank online[^\n]*$/; // the status bar on the last row
    assert.match(pty.screenText(), topBorder(52));
    pty.resize(100, 30);
    await pty.waitFor(topBorder(72));
    await pty.waitFor(statusLast);
    assert.equal(pty.screenText().split('\n').length, 30);
    assert.match(pty.screenText(), /^ SECURE ATM — Welcome/);
    assert.match(pty.screenText(), /Welcome to Secure ATM\./);
    pty.resize(80, 24);
    await pty.waitFor(topBorder(52));
    await pty.waitFor(statusLast);
    assert.match(pty.screenText(), /^ SECURE ATM — Welcome/);
    // Still working after the resizes.
    pty.type('b');
    await pty.waitFor('Choose a username:');
  });

  test('[item 8] a key the bank refuses: out of service saying so, and the first log line says what to do', async (t) => {
    // The same kiosk id with another bank's key: the handshake fails, as with a copied wrong file.
    const other = path.join(root, 'other-bank');
    initKeystore(other);
    const wrongKey = path.join(other, 'wrong.key');
    addKiosk(other, KIOSK_ID, wrongKey);
    const dataDir = path.join(root, `kiosk-wrong-key-${kioskSerial++}`);
    const pty = spawnPty(
      process.execPath,
      [
        atmBin,
        'kiosk',
        '--bank',
        `127.0.0.1:${bank.host.port}`,
        '--kiosk',
        KIOSK_ID,
        '--key',
        wrongKey,
        '--data',
        dataDir,
      ],
      { env: cleanEnv() },
    );
    kiosks.push({ name: t.name, pty });
    t.after(() => pty.kill().then(() => undefined));
    await pty.waitFor('The bank refused this machine’s key', FIRST_SCREEN_TIMEOUT_MS);
    assert.match(pty.screenText(), /Temporarily out of service/);
    assert.doesNotMatch(pty.screenText(), /\[A\] Log in|connection to the bank was lost/);
    const first = fs.readFileSync(path.join(dataDir, 'kiosk.log'), 'utf8').split('\n')[0] ?? '';
    assert.match(
      first,
      /bank link offline: .*the bank refused kiosk 'kiosk-01': check that its key file is the one `atm keys add-kiosk kiosk-01` wrote/,
    );
  });

  test('[item 14] at 60x20 fast cash fits without wrapping; below 40x12 the kiosk says the terminal is too small', async (t) => {
    await depositDirect(bank, 'narrow', 100_00);
    const { pty } = await startKiosk(t, launch());
    await logIn(pty, 'narrow', TEST_PASSWORD);
    await pty.waitFor('Main menu — narrow');
    pty.type('c');
    await pty.waitFor('Fast cash:');
    pty.resize(60, 20);
    await pty.waitFor(/^┌─{58}┐$/m);
    await pty.waitFor(/│ {3}\[A\] 20\.00 +\[B\] 60\.00 +│/);
    await pty.waitFor(/│ {3}\[C\] 100\.00 +\[D\] 200\.00 +│/);
    assert.doesNotMatch(
      pty.screenText(),
      /─ Display ─/,
      'no side panels at 60 columns: the main panel keeps the width',
    );
    pty.resize(38, 11);
    await pty.waitFor('Terminal too small for the kiosk');
    assert.match(pty.screenText().replace(/\s+/g, ' '), /needs at least 40x12, this one is 38x11/);
    pty.resize(80, 24);
    await pty.waitFor('Or enter another amount:');
    await pty.waitFor('─ Display ─');
  });

  test('[items 6, 12] sign-up: * clears the name, a taken name is said before any password; a withdrawal over the limit names it', async (t) => {
    await depositDirect(bank, 'limited', 2_000_00);
    const { pty } = await startKiosk(t, launch());
    pty.type('b');
    await pty.waitFor('Choose a username:');
    pty.type('bob');
    await pty.waitFor('  bob_');
    pty.type('*');
    await pty.waitFor(/│ {3}_ +│/);
    assert.doesNotMatch(pty.screenText(), /bob|\*_/, '* cleared the field instead of typing a star');
    pty.type('limited');
    pty.press('enter');
    await pty.waitFor('That username is taken: choose another');
    assert.match(pty.screenText(), /Choose a username:/, 'still on the name, no password asked');
    assert.match(pty.screenText(), / {2}limited_/, 'the name kept to change it');
    pty.press('escape');
    await pty.waitFor(WELCOME);
    await logIn(pty, 'limited', TEST_PASSWORD);
    await pty.waitFor('Main menu — limited');
    pty.type('c');
    await pty.waitFor('Or enter another amount:');
    pty.type('120000');
    await pty.waitFor(amountLine('1200.00'));
    pty.press('enter');
    await pty.waitFor('Withdraw 1200.00?');
    pty.press('enter');
    await pty.waitFor('Over the 1000.00 limit per withdrawal; 2000.00');
    assert.match(pty.screenText(), /left of today's limit/, 'the rest of the sentence, wrapped');
    assert.match(pty.screenText(), /Limit 1000\.00 each/, 'the display says it too');
  });

  test('Ctrl-C quits with exit code 0 and gives the terminal its normal screen back', async (t) => {
    const { pty } = await startKiosk(t, launch());
    assert.match(pty.output(), /\x1b\[\?1049h/, 'the UI runs on the alternate screen');
    pty.press('ctrl-c');
    const exit = await Promise.race([
      pty.exited,
      new Promise<never>((_, reject) =>
        setTimeout(
          () => reject(new Error(`no exit within 5 s of Ctrl-C; the screen:\n${pty.screenText()}`)),
          5_000,
        ).unref(),
      ),
    ]);
    assert.equal(exit.exitCode, 0);
    await pty.waitForOutput('\x1b[?1049l', 2_000);
    assert.match(pty.output(), /\x1b\[\?25h/, 'the cursor is visible again');
  });

  test('--theme high-contrast starts on the welcome screen with an upper-case title', async (t) => {
    const { pty } = await startKiosk(t, launch(['--theme', 'high-contrast']));
    assert.match(pty.screenText(), /^ SECURE ATM — WELCOME/);
    assert.match(pty.screenText(), /WELCOME TO SECURE ATM\./);
    assert.match(pty.screenText(), /\[A\] LOG IN/);
  });
});

describe('atm kiosk in a pseudo-terminal when the bank process stops and comes back', { timeout: 60_000 }, () => {
  let root: { dir: string; remove: () => void };
  let dataDir: string;
  let keyFile: string;
  const banks: BankProcess[] = [];

  before(() => {
    const dir = makeTempDir('atm-kiosk-ui-outage-');
    root = { dir, remove: () => fs.rmSync(dir, { recursive: true, force: true }) };
    dataDir = path.join(dir, 'bank');
    keyFile = path.join(dir, `${KIOSK_ID}.key`);
    initKeystore(dataDir);
    addKiosk(dataDir, KIOSK_ID, keyFile);
  });
  after(async () => {
    for (const bank of banks) await bank.kill();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    root?.remove();
  });

  test('out of service within 2 s of the bank stopping; reconnects by itself when it is back', async (t) => {
    const first = await startBankProcess(dataDir);
    banks.push(first);
    const { pty } = await startKiosk(t, { port: first.port, keyFile, dataDir: path.join(root.dir, 'kiosk') });
    await signUp(pty, 'outage', TEST_PASSWORD);

    const stoppedAt = performance.now();
    const stopping = first.stop();
    await pty.waitFor('Temporarily out of service', 2_000);
    const outOfServiceMs = performance.now() - stoppedAt;
    t.diagnostic(`SIGTERM → out-of-service screen in ${outOfServiceMs.toFixed(0)} ms`);
    assert.ok(outOfServiceMs < 2_000);
    assert.doesNotMatch(pty.screenText(), /Main menu/);
    const exit = await stopping;
    assert.equal(exit.code, 0, `the bank stopped cleanly: ${first.stderr()}`);
    // Still out of service while nothing listens (the kiosk keeps retrying).
    await pty.waitFor(/bank (offline|connecting)/);
    assert.match(pty.screenText(), /Temporarily out of service/);

    const restartedAt = performance.now();
    const second = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--port', String(first.port)]);
    banks.push(second);
    assert.equal(second.port, first.port, 'restarted on the same port');
    await pty.waitFor(WELCOME, 10_000);
    t.diagnostic(`bank restart → welcome screen in ${(performance.now() - restartedAt).toFixed(0)} ms`);
    assert.match(pty.screenText(), /bank online/);

    await logIn(pty, 'outage', TEST_PASSWORD);
    await pty.waitFor('Main menu — outage');
    pty.type('a');
    await pty.waitFor('Available balance: 0.00');
    const records = await auditOf(dataDir, 'outage', (mine) => mine.some((record) => record.action === 'balance'));
    assert.deepEqual(summary(records), ['username.check ok', 'register ok', 'login ok', 'login ok', 'balance ok']);
  });
});

describe('atm kiosk output', () => {
  test('no stack trace or "Error:" ever reached the terminal in any flow above', () => {
    assert.ok(kiosks.length > 0, 'the flows above ran');
    for (const { name, pty } of kiosks) assert.deepEqual(stackTraces(pty), [], `in "${name}"`);
  });
});
