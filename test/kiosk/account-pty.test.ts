// Issue 17, item 5, as a customer meets it: the real, compiled `atm kiosk` in a real
// pseudo-terminal of 80×24 (node-pty, kept in a headless xterm.js), on a real bank in-process
// (LevelDB in a temp dir, loopback TCP). Twelve transactions are made at the bank directly; the
// kiosk's mini statement must show the newest ten, each whole on one row of the main panel, with
// the keys below them, and nothing drawn past the screen's edge.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_PASSWORD, makeTempDir, startTestBank, type TestBank } from '../helpers/bank.js';
import { cleanEnv } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';

const USERNAME = 'ledger';
const SCREEN_WAIT_MS = 10_000;
const COLUMNS = 80;
const ROWS = 24;

interface Seed {
  txnId: string;
  kind: 'deposit' | 'withdraw';
  amountCents: number;
}

/** Twelve transactions, oldest first: deposits of 50.0x and withdrawals of 20.0x, every third a withdrawal. */
const SEEDS: Seed[] = Array.from({ length: 12 }, (_, index) => ({
  txnId: `seed-txn-${String(index + 1).padStart(4, '0')}`,
  kind: index % 3 === 2 ? 'withdraw' : 'deposit',
  amountCents: (index % 3 === 2 ? 20_00 : 50_00) + index + 1,
}));

async function seedAtBank(bank: TestBank): Promise<void> {
  const connection = await bank.loginAs(USERNAME);
  try {
    for (const { txnId, kind, amountCents } of SEEDS) {
      if (kind === 'deposit') {
        assert.ok((await connection.request({ op: 'deposit', txnId, amountCents })).ok, txnId);
        continue;
      }
      assert.ok((await connection.request({ op: 'withdraw.hold', txnId, amountCents })).ok, txnId);
      const posted = await connection.request({ op: 'withdraw.post', txnId, dispensedCents: amountCents });
      assert.ok(posted.ok, txnId);
    }
    await connection.request({ op: 'logout' });
  } finally {
    connection.close();
  }
}

async function startKiosk(t: TestContext, bank: TestBank, dataDir: string): Promise<PtyProcess> {
  const pty = spawnPty(
    process.execPath,
    [
      atmBin,
      'kiosk',
      '--bank',
      `127.0.0.1:${bank.host.port}`,
      '--kiosk',
      bank.kiosk.kioskId,
      '--key',
      bank.kiosk.keyFile,
      '--data',
      dataDir,
    ],
    { env: cleanEnv(), cols: COLUMNS, rows: ROWS },
  );
  t.after(() => pty.kill().then(() => undefined));
  await pty.waitFor(/welcome to secure atm\./i, SCREEN_WAIT_MS);
  return pty;
}

const escaped = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

test('atm kiosk at 80x24: the mini statement shows the newest ten transactions whole, in order, with its keys', async (t) => {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  const root = makeTempDir('atm-account-pty-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  await seedAtBank(bank);
  const pty = await startKiosk(t, bank, path.join(root, 'kiosk'));

  pty.type('a');
  await pty.waitFor('Type your username, then Enter.');
  pty.type(USERNAME);
  pty.press('enter');
  await pty.waitFor(`Username: ${USERNAME}`);
  pty.type(TEST_PASSWORD);
  pty.press('enter');
  await pty.waitFor(`Main menu — ${USERNAME}`);
  assert.match(pty.screenText(), /\[5\] Mini statement/);
  assert.match(pty.screenText(), /\[6\] Change password/);
  assert.match(pty.screenText(), /5: statement {2}6: password {2}D\/Esc: log out/, 'the whole help line fits');

  pty.type('5');
  await pty.waitFor('Your last 10 transactions, newest first (UTC):');
  const screen = pty.screenText();
  const rows = screen.split('\n');
  assert.equal(rows.length, ROWS);
  for (const row of rows) assert.ok(row.length <= COLUMNS, `a row past the edge: ${row}`);
  assert.match(rows[0] ?? '', /SECURE ATM — Mini statement/);

  // Newest first: the last seed at the top, the two oldest left out. Each line is whole inside
  // the main panel's borders, one row below the other.
  const newest = SEEDS.slice(-10).reverse();
  const header = rows.findIndex((row) => /^│ Date {2}Time {2}Type {11}Amount Ref +│/.test(row));
  assert.ok(header > 0, `the column header:\n${screen}`);
  const signedOf = (seed: Seed): string =>
    `${seed.kind === 'deposit' ? '+' : '-'}${(seed.amountCents / 100).toFixed(2)}`;
  newest.forEach((seed, index) => {
    const signed = signedOf(seed);
    const kind = seed.kind === 'deposit' ? 'Deposit' : 'Withdrawal';
    const line = new RegExp(`^│ \\d\\d-\\d\\d \\d\\d:\\d\\d ${kind} +${escaped(signed)} ${seed.txnId.slice(-8)} +│`);
    assert.match(rows[header + 1 + index] ?? '', line, `row ${index + 1} of the statement:\n${screen}`);
  });
  for (const gone of SEEDS.slice(0, 2)) assert.ok(!screen.includes(gone.txnId.slice(-8)), `${gone.txnId} listed`);
  for (const choice of ['[A] Print receipt', '[B] Another transaction', '[D] Log out'])
    assert.ok(screen.includes(choice), `${choice} is on the screen:\n${screen}`);
  assert.match(screen, /A: receipt {3}B \/ Enter: menu {3}D \/ Esc: log out/);
  // The display panel: a summary, the latest amount whole.
  assert.match(screen, /│MINI STATEMENT +│/);
  assert.match(screen, /│10 transactions +│/);
  assert.match(screen, new RegExp(`│Last: ${escaped(signedOf(newest[0] ?? assert.fail('no seeds')))} +│`));

  // The receipt prints the statement; its screen shows the start and fits too.
  pty.type('a');
  await pty.waitFor('Your receipt:');
  await pty.waitFor('more lines on the printed receipt');
  assert.match(pty.screenText(), /Any key: menu {3}D: log out/);
  const receipts = fs.readFileSync(path.join(root, 'kiosk', 'receipts.txt'), 'utf8');
  for (const seed of newest) assert.ok(receipts.includes(seed.txnId.slice(-8)), `${seed.txnId} printed`);
  pty.press('enter');
  await pty.waitFor('What would you like to do?');
});
