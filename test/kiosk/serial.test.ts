// The kiosk on real serial hardware, as far as software goes: the compiled `atm kiosk
// --device serial:PATH` runs in a real pseudo-terminal (node-pty + headless xterm), opens one
// end of a socat pty pair with serialport's real native binding, and `atm firmware-sim --pty`
// plays the keypad/display/dispenser microcontroller on the other end. The customer is a
// script file of timed key presses (letters by multi-tap, as on a phone), run by the firmware
// simulator once the kiosk has said HELLO; the bank is real (startTestBank: LevelDB, TCP).
// Each test checks the kiosk's screen, the LCD the simulator shows (its stdout), and the bank.
// Timed scripts leave generous gaps after each transaction; every wait polls with a deadline.
// The stacks (simulator + kiosk each) run side by side, sharing one bank. Deposits take notes
// when the device names `cashin` (the simulator's default: the customer's notes are script lines),
// typed amounts with `--no-cash-in`. The escrow jam runs the kiosk controller in-process on the
// same real pty and serial driver, so the test can look into its journal between two moments.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type AuditRecord } from '../../bank/index.js';
import { startFirmwareSim as startDevice } from '../../firmware-sim/index.js';
import { createSerialDevices } from '../../hardware/serial.js';
import type { KeyName } from '../../hardware/index.js';
import { MULTITAP, MULTITAP_MS, type KioskState } from '../../kiosk/flow.js';
import { view } from '../../kiosk/view.js';
import { HEARTBEAT_LOSS_MS } from '../../protocol/serial-line.js';
import { makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { cleanEnv } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';
import { auditOf } from '../helpers/audit.js';
import { waitUntil } from '../helpers/wait.js';

const KIOSK_ID = 'kiosk-01';
/** Typed on the keypad as 2 3 4 5 6 7 8 9: the first letter of each key. */
const PASSWORD = 'adgjmptw';
const PASSWORD_KEYS = '23456789';
const KEY_GAP_MS = 120;
/** After a key that asks the bank something: far more than a local bank needs. */
const BANK_GAP_MS = 1_000;
const STACK_TRACE = /at .*\(.*:\d+:\d+\)|Error:/;

// ---------------------------------------------------------------------------------------------
// Scripts: `DELAY_MS ACTION [ARG]`, each delay counted from the previous line.

/** The keypad presses that type `word` by multi-tap, waiting out MULTITAP_MS between two letters on one key. */
function multitap(word: string): string[] {
  const lines: string[] = [];
  let previousKey: string | null = null;
  for (const letter of word) {
    const entry = Object.entries(MULTITAP).find(([, letters]) => letters.includes(letter));
    assert.ok(entry !== undefined, `no key types ${letter}`);
    const [key, letters] = entry;
    lines.push(`${key === previousKey ? MULTITAP_MS + 400 : KEY_GAP_MS} KEY ${key}`);
    for (let press = 1; press <= letters.indexOf(letter); press += 1) lines.push(`${KEY_GAP_MS} KEY ${key}`);
    previousKey = key;
  }
  return lines;
}

const keys = (sequence: string, firstGapMs = KEY_GAP_MS): string[] =>
  [...sequence].map((key, index) => `${index === 0 ? firstGapMs : KEY_GAP_MS} KEY ${key}`);

/** The kiosk says HELLO when it opens the port, then connects to the bank: its welcome screen comes well within this. */
const WELCOME_GAP_MS = 2_500;

/** From the moment the kiosk says HELLO: wait for its welcome screen, A (log in), username, password. */
function logIn(username: string): string[] {
  return [
    `${WELCOME_GAP_MS} KEY A`,
    ...multitap(username),
    `${KEY_GAP_MS} KEY #`,
    ...keys(PASSWORD_KEYS),
    `${KEY_GAP_MS} KEY #`,
  ];
}

// ---------------------------------------------------------------------------------------------
// The firmware simulator as a child process (stdout is a pipe, so it logs one line per event).

interface SimProcess {
  hostPath: string;
  stdout(): string;
  /** The LCD as the simulator logged it after each write: "|row|row|row|row|". */
  lcds(): string[];
  waitForOutput(pattern: RegExp, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

const poll = (condition: () => boolean, what: () => string, timeoutMs: number): Promise<void> =>
  waitUntil(condition, what, timeoutMs, 20);

async function startFirmwareSim(
  t: TestContext,
  dir: string,
  script: string[],
  args: string[] = [],
): Promise<SimProcess> {
  const scriptFile = path.join(dir, 'customer.script');
  fs.writeFileSync(scriptFile, `${script.join('\n')}\n`);
  const child: ChildProcess = spawn(
    process.execPath,
    [atmBin, 'firmware-sim', '--pty', '--script', scriptFile, ...args],
    { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM'); // it stops socat and removes the pty links itself
    const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
    await exited;
    clearTimeout(killer);
  };
  t.after(stop);
  await poll(
    () => /^device ready: .+\n/.test(stdout),
    () => `"device ready" from atm firmware-sim (stdout ${JSON.stringify(stdout)}, stderr ${JSON.stringify(stderr)})`,
    10_000,
  );
  const hostPath = (/^device ready: (.+)\n/.exec(stdout) as RegExpExecArray)[1] as string;
  return {
    hostPath,
    stdout: () => stdout,
    lcds: () => [...stdout.matchAll(/^lcd on +\|(.*)\|$/gm)].map((match) => `|${match[1] as string}|`),
    waitForOutput: (pattern, timeoutMs = 10_000) =>
      poll(
        () => pattern.test(stdout),
        () => `${String(pattern)} from atm firmware-sim; it said:\n${stdout.slice(-2_000)}`,
        timeoutMs,
      ),
    stop,
  };
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The LCD's four rows as the simulator logs them. */
const lcd = (...rows: string[]): string => `|${[0, 1, 2, 3].map((row) => (rows[row] ?? '').padEnd(20)).join('|')}|`;

// ---------------------------------------------------------------------------------------------
// The bank's view.

const summary = (records: AuditRecord[]): string[] =>
  records.map(
    (record) => `${record.action} ${record.outcome}${record.amountCents !== undefined ? ` ${record.amountCents}` : ''}`,
  );

describe(
  'atm kiosk --device serial: with atm firmware-sim on a real pty pair',
  { concurrency: 4, timeout: 60_000 },
  () => {
    let bank: TestBank;
    let root: string;
    const kiosks: PtyProcess[] = [];

    /** A user registered at the bank beforehand (the keypad types only letters by multi-tap). */
    const customer = async (username: string, depositCents = 0): Promise<void> => {
      const connection = await bank.loginAs(username, PASSWORD);
      try {
        if (depositCents > 0)
          assert.ok(
            (await connection.request({ op: 'deposit', txnId: `seed-${username}`, amountCents: depositCents })).ok,
          );
        await connection.request({ op: 'logout' });
      } finally {
        connection.close();
      }
    };

    const balanceOf = async (username: string): Promise<number | undefined> => {
      const connection = await bank.loginAs(username, PASSWORD);
      try {
        const balance = await connection.request({ op: 'balance' });
        return balance.ok ? balance.balanceCents : undefined;
      } finally {
        connection.close();
      }
    };

    /** firmware-sim with the script, then the kiosk on its pty; both stopped after the test. */
    const startStack = async (
      t: TestContext,
      name: string,
      script: string[],
      simArgs: string[] = [],
    ): Promise<{ sim: SimProcess; pty: PtyProcess; dataDir: string }> => {
      const dir = path.join(root, name);
      fs.mkdirSync(dir);
      const sim = await startFirmwareSim(t, dir, script, ['--dispense-delay-ms', '200', ...simArgs]);
      const dataDir = path.join(dir, 'kiosk');
      // 120 columns, so the status line shows all three device states.
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
          bank.kiosk.keyFile,
          '--data',
          dataDir,
          '--device',
          `serial:${sim.hostPath}`,
        ],
        { cols: 120, rows: 30, env: cleanEnv() },
      );
      kiosks.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor('Welcome to Secure ATM.', 15_000);
      await sim.waitForOutput(/host said HELLO \(version 1\)/);
      return { sim, pty, dataDir };
    };

    before(async () => {
      bank = await startTestBank();
      root = makeTempDir('atm-kiosk-serial-');
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      await bank?.cleanup();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      if (root !== undefined) fs.rmSync(root, { recursive: true, force: true });
      for (const pty of kiosks) {
        const plain = pty.screens().filter((screen) => STACK_TRACE.test(screen));
        assert.deepEqual(plain, [], 'no stack trace ever reached a kiosk screen');
      }
    });

    test('a customer on the serial keypad logs in, deposits (typed: the device has no cash-in module), withdraws cash from the dispenser, checks the balance and logs out', async (t) => {
      await customer('bead');
      const script = [
        ...logIn('bead'),
        `${BANK_GAP_MS} KEY B`, // menu → deposit
        ...keys('15000'), // 150.00
        `${KEY_GAP_MS} KEY #`,
        `${KEY_GAP_MS * 3} KEY #`, // confirm the deposit
        `${BANK_GAP_MS} KEY B`, // result → menu
        `${KEY_GAP_MS * 3} KEY C`, // withdraw
        `${KEY_GAP_MS * 3} KEY A`, // fast cash 20.00
        `${KEY_GAP_MS * 3} KEY #`, // confirm it
        `${BANK_GAP_MS * 2} KEY B`, // result → menu
        `${KEY_GAP_MS * 3} KEY A`, // balance
        `${BANK_GAP_MS} KEY D`, // log out
      ];
      // [SL-4.1] a device whose HELLO does not name cashin: the kiosk takes typed (envelope) deposits.
      const { sim, pty } = await startStack(t, 'story', script, ['--no-cash-in']);
      assert.match(pty.screenText(), /keypad ok · display ok · dispenser ok\b(?! · cash-in)/);
      await sim.waitForOutput(new RegExp(escapeRegExp(lcd('WELCOME', 'A: Log in', 'B: Sign up'))));

      await pty.waitFor('Thank you. Goodbye.', 25_000);
      const screens = pty.screens().join('\n====\n');
      for (const text of [
        'Username: bead',
        'Main menu — bead',
        'Deposit accepted',
        'New balance: 150.00',
        'Cash dispensed',
        'New balance: 130.00',
        'Available balance: 130.00',
      ]) {
        assert.ok(screens.includes(text), `the kiosk showed ${JSON.stringify(text)}`);
      }
      // The LCD the microcontroller holds followed the screens, written row by row.
      const lcds = sim.lcds();
      for (const expected of [
        lcd('LOG IN', 'Username:', 'bead'),
        lcd('DEPOSIT', 'Amount: 150.00', '#=OK *=Clear'),
        lcd('CONFIRM WITHDRAWAL', 'Withdraw 20.00', '1x20.00', '#=Yes *=Change'),
        lcd('TAKE YOUR CASH', 'Amount: 20.00', 'New balance: 130.00'),
        lcd('BALANCE', 'Available: 130.00'),
      ]) {
        assert.ok(lcds.includes(expected), `the LCD showed ${expected}; it showed:\n${lcds.slice(-40).join('\n')}`);
      }
      assert.match(sim.stdout(), /dispense \d+: asked 2000 cents, dispensed 2000\n/);
      assert.doesNotMatch(sim.stdout(), /dropped a line from the host/);

      // The first logout is the set-up's (customer()); the second is the kiosk's.
      const records = await auditOf(
        bank.dataDir,
        'bead',
        (mine) => mine.filter((record) => record.action === 'logout').length >= 2,
      );
      assert.deepEqual(summary(records).slice(-6), [
        'login ok',
        'deposit ok 15000',
        'withdraw.hold ok 2000',
        'withdraw.post ok 2000',
        'balance ok',
        'logout ok',
      ]);
      assert.equal(await balanceOf('bead'), 13_000);
    });

    test('[issue 17] notes inserted at the serial device: counted on screen as they come, confirmed, stored once, the balance up by exactly that', async (t) => {
      await customer('nora', 1_000);
      const script = [
        ...logIn('nora'),
        `${BANK_GAP_MS} KEY B`, // menu → deposit: the kiosk opens the slot (SLOT OPEN)
        '600 NOTE 2000',
        '150 NOTE 2000',
        '150 NOTE torn', // refused by the validator
        '150 NOTE 1000',
        `${BANK_GAP_MS} KEY #`, // done: the confirmation
        `${KEY_GAP_MS * 5} KEY #`, // confirm: the bank, then STORE
        `${BANK_GAP_MS * 2} KEY B`, // result → menu
        `${KEY_GAP_MS * 3} KEY D`, // log out
      ];
      const { sim, pty } = await startStack(t, 'notes', script);
      assert.match(pty.screenText(), /keypad ok · display ok · dispenser ok · cash-in ok/);
      await pty.waitFor('Insert your notes into the slot', 15_000);
      await pty.waitFor(/Counted: 2 x 20\.00 \+ 1 x 10\.00/, 10_000);
      await pty.waitFor(/Total: +50\.00/);
      await pty.waitFor('1 note refused');
      await pty.waitFor('Deposit 50.00?', 10_000);
      await pty.waitFor('Deposit accepted', 10_000);
      await pty.waitFor('Thank you. Goodbye.', 15_000);
      assert.ok(
        pty.screens().some((screen) => screen.includes('New balance: 60.00')),
        'the receipt screen showed the new balance',
      );
      await sim.waitForOutput(/store \d+: 5000 cents\n/);
      assert.match(sim.stdout(), /note torn: rejected/);
      assert.doesNotMatch(sim.stdout(), /the slot is closed|dropped a line from the host/);
      const records = await auditOf(bank.dataDir, 'nora', (mine) => mine.some((record) => record.amountCents === 5000));
      assert.deepEqual(
        summary(records).filter((line) => line.startsWith('deposit')),
        ['deposit ok 1000', 'deposit ok 5000'],
        'the seed, then the notes: credited once',
      );
      assert.equal(await balanceOf('nora'), 6_000);
    });

    test('[issue 17] an escrow jam after the bank approved: the customer is told the notes are held, the deposit stays open in the journal until the jam is cleared and the notes stored', async (t) => {
      await customer('jude');
      const dir = path.join(root, 'escrow-jam');
      fs.mkdirSync(dir);
      const sim = await startDevice({ device: { cashIn: {} } });
      let stopKiosk = (): Promise<void> => Promise.resolve();
      t.after(async () => {
        await stopKiosk(); // closes the serial port before the device's pty goes
        await sim.close();
      });
      assert.ok(sim.hostPath !== null);
      const devices = await createSerialDevices(sim.hostPath, { serial: { heartbeatLossMs: 1_500 } });
      const { controller, journal } = kioskOnTestBank(bank, { devices, dir });
      stopKiosk = () => controller.stop();
      const until = (predicate: (state: KioskState) => boolean, what: string): Promise<void> =>
        waitUntil(
          () => predicate(controller.state),
          () => `${what}; the screen: ${text()}`,
          10_000,
          10,
        );
      const text = (): string => {
        const shown = view(controller.state);
        return [shown.title, ...shown.body, controller.state.message ?? ''].join('\n');
      };
      // Keys on the device's keypad, over the line; letters from the kiosk's keyboard.
      const press = (key: KeyName): void => assert.ok(sim.device.press(key), `the device sent KEY ${key}`);
      const type = (word: string): void => {
        for (const ch of word) controller.input({ type: 'char', ch, atMs: 0 });
      };
      await controller.start();
      assert.equal(controller.state.devices.acceptor, 'online', 'the device named cashin');
      await until((state) => state.screen.name === 'welcome', 'the welcome screen');
      // Keys travel the line and letters do not: each waits for the screen the one before led to.
      press('A');
      await until((state) => state.screen.name === 'loginUser', 'the username prompt');
      type('jude');
      press('enter');
      await until((state) => state.screen.name === 'loginPassword', 'the password prompt');
      type(PASSWORD);
      press('enter');
      await until((state) => state.screen.name === 'menu', 'the menu');
      press('B');
      await until(
        (state) => state.screen.name === 'insertNotes' && state.devices.acceptor === 'deviceBusy',
        'the slot open',
      );
      assert.equal(sim.device.insertNote(2000), 'counted');
      await until((state) => state.escrow.totalCents === 2000, 'the note counted on screen');
      press('enter');
      await until((state) => state.screen.name === 'confirm', 'the confirmation');
      sim.device.jamEscrowNext();
      press('enter');
      await until((state) => state.screen.name === 'result', 'the result');
      assert.match(text(), /Deposit accepted/);
      assert.match(text(), /held safely in the machine/);
      assert.equal(await balanceOf('jude'), 2_000, 'the bank credited it');
      await until((state) => state.devices.acceptor === 'hardwareError', 'the jam on the status line');
      assert.deepEqual(
        journal.unfinished().map((item) => item.kind),
        ['deposit'],
        'open until the notes are stored',
      );
      assert.deepEqual(sim.device.escrow().notes, [{ denominationCents: 2000, count: 1 }], 'still in the escrow');
      assert.deepEqual(sim.device.deposits(), []);
      // The technician clears the jam; the next recovery (after this customer) stores the notes, once.
      sim.device.clearJam();
      await until((state) => state.devices.acceptor === 'online', 'the jam cleared');
      assert.equal(journal.unfinished().length, 1, 'clearing the jam alone moves nothing');
      press('D');
      await until((state) => state.screen.name === 'welcome', 'the welcome screen');
      await waitUntil(() => journal.unfinished().length === 0, 'the deposit finished by recovery', 10_000, 10);
      assert.deepEqual(sim.device.deposits(), [{ denominationCents: 2000, count: 1 }]);
      assert.equal(sim.device.escrow().totalCents, 0);
      assert.deepEqual(
        journal.entries().map((event) => (event.type === 'escrow' ? `escrow ${event.outcome}` : event.type)),
        ['deposit.sent', 'deposit.result', 'escrow stored'],
      );
      assert.equal(await balanceOf('jude'), 2_000, 'credited once');
    });

    test('unplugged mid-session: out of service naming the keypad, no money moves, and back on the same screen on replug', async (t) => {
      await customer('page', 5_000);
      const script = [...logIn('page'), `${BANK_GAP_MS} KEY B`, ...keys('25'), '300 UNPLUG', '5000 REPLUG'];
      const { sim, pty, dataDir } = await startStack(t, 'unplug', script, ['--no-cash-in']);
      await pty.waitFor('Enter the amount to deposit:', 15_000);
      await sim.waitForOutput(/status: UNPLUGGED/);
      const unpluggedAt = performance.now();
      await pty.waitFor('keypad offline · display offline · dispenser offline', HEARTBEAT_LOSS_MS + 2_000);
      t.diagnostic(`UNPLUG → status line offline in ${(performance.now() - unpluggedAt).toFixed(0)} ms`);
      // [item 8] A machine without its keypad says so, in words, instead of looking ready.
      await pty.waitFor('The keypad is not answering');
      assert.match(pty.screenText(), /Temporarily out of service/);
      pty.type('c');
      pty.press('enter');
      await pty.waitFor('keypad ok · display ok · dispenser ok', 15_000);
      // Back where the customer was, the half-typed amount still there and never submitted.
      await pty.waitFor('Enter the amount to deposit:');
      assert.match(pty.screenText(), /0\.25/);
      await sim.waitForOutput(
        /host said HELLO \(version 1\)[\s\S]*host said HELLO \(version 1\)[\s\S]*lcd on +\|DEPOSIT +\|Amount: 0\.25/,
      );
      const log = fs.readFileSync(path.join(dataDir, 'kiosk.log'), 'utf8');
      assert.match(log, /keypad offline — check that serial:.* is the keypad's port and that it is plugged in/);
      const records = await auditOf(bank.dataDir, 'page', () => false, 200);
      assert.deepEqual(
        summary(records).filter((line) => /^(deposit|withdraw)/.test(line)),
        ['deposit ok 5000'],
        'only the seed deposit',
      );
      assert.equal(await balanceOf('page'), 5_000);
    });

    test('[item 4, 8] three 20.00 notes left: fast cash offers 20.00 and 60.00 only; after paying them withdrawals are unavailable; the tamper switch stops the machine', async (t) => {
      await customer('gail', 10_000);
      const script = [
        ...logIn('gail'),
        `${BANK_GAP_MS} KEY C`, // withdraw
        `${KEY_GAP_MS * 3} KEY C`, // 100.00: not offered
        `${KEY_GAP_MS * 3} KEY B`, // 60.00
        `${KEY_GAP_MS * 3} KEY #`, // confirmed
        `${BANK_GAP_MS * 2} KEY B`, // result → menu
        `${KEY_GAP_MS * 3} KEY C`, // withdraw again: unavailable now
        `${BANK_GAP_MS} TAMPER on`,
        `${BANK_GAP_MS} KEY D`, // ignored while tampered
        `${BANK_GAP_MS} TAMPER off`,
      ];
      const { sim, pty } = await startStack(t, 'empty', script, ['--notes', '2000:3']);
      await pty.waitFor('Fast cash:', 20_000);
      assert.match(pty.screenText(), /\[A\] 20\.00 +\[B\] 60\.00/);
      assert.doesNotMatch(pty.screenText(), /\[C\] 100\.00|\[D\] 200\.00/);
      await pty.waitFor('100.00 cannot be paid at this machine now');
      await pty.waitFor('You will receive: 3 x 20.00');
      await pty.waitFor('Cash dispensed', 10_000);
      await pty.waitFor('Withdraw cash (unavailable)', 10_000);
      await pty.waitFor('Withdrawals are unavailable at this machine right now');
      await pty.waitFor('enclosure is open (tamper switch)', 10_000);
      assert.match(pty.screenText(), /Temporarily out of service/);
      await sim.waitForOutput(/lcd on +\|OUT OF SERVICE +\|Tamper switch/);
      // Closed again: back on the menu, the D pressed meanwhile ignored (still logged in).
      await pty.waitFor('What would you like to do?', 10_000);
      assert.match(pty.screenText(), /Main menu — gail/);
      const records = await auditOf(bank.dataDir, 'gail', (mine) =>
        mine.some((record) => record.action === 'withdraw.post'),
      );
      assert.deepEqual(
        summary(records).filter((line) => line.startsWith('withdraw')),
        ['withdraw.hold ok 6000', 'withdraw.post ok 6000'],
      );
      assert.equal(await balanceOf('gail'), 4_000);
    });

    test('a dispenser jam before any note: the hold is voided, the balance is unchanged, and the dispenser shows hardwareError', async (t) => {
      await customer('jade', 10_000);
      const script = [
        ...logIn('jade'),
        `${BANK_GAP_MS} KEY C`,
        `${KEY_GAP_MS * 3} KEY A`,
        `${KEY_GAP_MS * 3} KEY #`,
        `${BANK_GAP_MS * 2} KEY B`,
        `${KEY_GAP_MS * 3} KEY C`,
        `${BANK_GAP_MS} KEY D`,
      ];
      const { sim, pty } = await startStack(t, 'jam', script, ['--jam-after', '0']);
      await pty.waitFor('Withdrawal failed', 20_000);
      assert.match(pty.screenText(), /The cash dispenser failed: no cash was dispensed\./);
      assert.match(pty.screenText(), /Nothing was taken from your account\./);
      await pty.waitFor('dispenser hardware fault');
      await sim.waitForOutput(/dispense \d+: asked 2000 cents, dispensed 0, fault jam\n/);
      await pty.waitFor('Thank you. Goodbye.', 15_000);
      assert.ok(
        pty.screens().some((screen) => screen.includes('Withdrawals are unavailable at this machine right now')),
        'a jammed dispenser takes no second withdrawal',
      );
      const records = await auditOf(bank.dataDir, 'jade', (mine) =>
        mine.some((record) => record.action === 'withdraw.void'),
      );
      const money = summary(records).filter((line) => line.startsWith('withdraw'));
      assert.equal(money.length, 2, money.join(', '));
      assert.equal(money[0], 'withdraw.hold ok 2000');
      assert.match(money[1] as string, /^withdraw\.void ok/);
      const hold = records.find((record) => record.action === 'withdraw.hold');
      assert.equal(
        records.find((record) => record.action === 'withdraw.void')?.txnId,
        hold?.txnId,
        'the void releases that hold',
      );
      assert.equal(await balanceOf('jade'), 10_000);
    });

    test('a burst of garbage bytes and over-long lines from the device is counted and dropped; the kiosk carries on', async (t) => {
      await customer('gate', 4_200);
      const noise = Array.from({ length: 5 }, () => ['0 GARBAGE 40', '0 GARBAGE 400']).flat();
      const login = logIn('gate');
      // Noise before the first key, in the middle of the username and before the password's Enter.
      const script = [
        ...noise,
        ...login.slice(0, 3),
        ...noise,
        ...login.slice(3, -1),
        ...noise,
        ...login.slice(-1),
        `${BANK_GAP_MS} KEY A`,
        `${BANK_GAP_MS} KEY D`,
      ];
      const { pty, dataDir } = await startStack(t, 'garbage', script);
      await pty.waitFor('Available balance: 42.00', 20_000);
      await pty.waitFor('Thank you. Goodbye.', 10_000);
      assert.ok(
        !pty.screens().some((screen) => /keypad (offline|hardwareError)/.test(screen)),
        'the keypad never dropped out',
      );
      pty.press('ctrl-c'); // a clean stop: the driver logs its counts when it closes the port
      const exit = await pty.exited;
      assert.equal(exit.exitCode, 0);
      const log = fs.readFileSync(path.join(dataDir, 'kiosk.log'), 'utf8');
      const closed =
        /serial .*: closed; (\d+) lines, (\d+) messages; dropped (\d+) oversize, (\d+) corrupt, (\d+) unknown; (\d+) connects, (\d+) disconnects/.exec(
          log,
        );
      assert.ok(closed !== null, `the driver's counts in kiosk.log:\n${log}`);
      const [oversize, corrupt, unknown, disconnects] = [closed[3], closed[4], closed[5], closed[7]].map(Number);
      assert.equal(oversize, 15, 'GARBAGE 400 × 15');
      assert.equal((corrupt as number) + (unknown as number), 15, 'GARBAGE 40 × 15');
      assert.equal(disconnects, 0);
      assert.match(log, /dropping lines/);
      const records = await auditOf(bank.dataDir, 'gate', (mine) => mine.some((record) => record.action === 'balance'));
      assert.deepEqual(summary(records).slice(-3), ['login ok', 'balance ok', 'logout ok']);
    });
  },
);
