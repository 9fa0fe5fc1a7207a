// Issue 17, the real kiosk: `atm bank` as a child process and `atm kiosk` in a real
// pseudo-terminal with the sim devices, the customer putting notes into the sim's slot with the
// function keys (F5 50.00, F6 20.00, F7 10.00, F8 5.00, F9 a torn note; the help line says so). Between them a proxy that
// can lose the bank's answer to the deposit, or every frame after it. Each test checks what the
// customer sees, the bank's ledger and audit log, and the kiosk's journal and escrow. The tests
// run in order and share one bank and one kiosk folder, as a real kiosk restarts on its journal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { loadKioskKeyFile, type AuditRecord } from '../../bank/index.js';
import { JOURNAL_FILE, deriveJournalKey } from '../../kiosk/journal.js';
import { BankConnection } from '../../protocol/client.js';
import type { FernetKey } from '../../protocol/fernet.js';
import { cleanEnv, runAtm, startBankProcess, tempDir, type BankProcess } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { startProxy, type Proxy } from '../helpers/proxy.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';
import { auditRecords as auditRecordsIn, readChainFile } from '../helpers/audit.js';
import { eventually } from '../helpers/wait.js';

const KIOSK_ID = 'kiosk-01';
const USERNAME = 'notes';
const PASSWORD = 'correct horse battery';
const SCREEN_WAIT_MS = 10_000;

interface World {
  root: { dir: string; remove: () => void };
  bankDir: string;
  kioskDir: string;
  keyFile: string;
  psk: Buffer;
  journalKey: FernetKey;
  bank: BankProcess;
  proxy: Proxy & { lose(andStay: boolean): void };
  kiosks: PtyProcess[];
}

let world: World;

/**
 * The proxy: once lose() is armed, the bank's answer to the next request is dropped and the link
 * cut (the bank has committed; the kiosk never hears), and with andStay every frame after that too.
 */
async function lossyProxy(bankPort: number): Promise<World['proxy']> {
  let armed = false;
  let stay = false;
  let dead = false;
  let requestSeen = false;
  const proxy = await startProxy(bankPort, (frame, link) => {
    if (dead) return [];
    if (armed && frame.direction === 'toBank') requestSeen = true;
    if (armed && requestSeen && frame.direction === 'toKiosk') {
      armed = false;
      dead = stay;
      link.endToBank();
      return [];
    }
    return [frame.bytes];
  });
  return Object.assign(proxy, {
    lose(andStay: boolean) {
      armed = true;
      requestSeen = false;
      stay = andStay;
    },
  });
}

before(async () => {
  const root = tempDir('atm-cash-in-pty-');
  const bankDir = path.join(root.dir, 'bank');
  const keyFile = path.join(root.dir, `${KIOSK_ID}.key`);
  for (const args of [
    ['keys', 'init', '--data', bankDir],
    ['keys', 'add-kiosk', KIOSK_ID, '--data', bankDir, '--out', keyFile],
  ]) {
    const result = await runAtm(args);
    assert.equal(result.code, 0, `atm ${args.join(' ')}: ${result.stderr}`);
  }
  const { psk } = loadKioskKeyFile(keyFile);
  const bank = await startBankProcess(bankDir);
  world = {
    root,
    bankDir,
    kioskDir: path.join(root.dir, 'kiosk'),
    keyFile,
    psk,
    journalKey: deriveJournalKey(psk),
    bank,
    proxy: await lossyProxy(bank.port),
    kiosks: [],
  };
  const connection = await connect();
  assert.ok((await connection.request({ op: 'register', username: USERNAME, password: PASSWORD })).ok);
  connection.close();
});

after(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
  if (world === undefined) return;
  for (const kiosk of world.kiosks) await kiosk.kill();
  await world.proxy.close();
  await world.bank.kill();
  world.root.remove();
});

function connect(): Promise<BankConnection> {
  return BankConnection.connect({ host: '127.0.0.1', port: world.bank.port, kioskId: KIOSK_ID, psk: world.psk });
}

async function balanceCents(): Promise<number> {
  const connection = await connect();
  try {
    assert.ok((await connection.request({ op: 'login', username: USERNAME, password: PASSWORD })).ok);
    const balance = await connection.request({ op: 'balance' });
    assert.ok(balance.ok);
    return balance.balanceCents;
  } finally {
    connection.close();
  }
}

const journalRecords = (): AuditRecord[] =>
  readChainFile(path.join(world.kioskDir, JOURNAL_FILE), world.journalKey, 'journal');
const storyOf = (records: AuditRecord[], txnId: string): string[] =>
  records
    .filter((record) => record.txnId === txnId)
    .map(
      (record) =>
        `${record.action} ${record.outcome}${record.amountCents === undefined ? '' : ` ${record.amountCents}`}`,
    );
const lastDepositId = (): string =>
  journalRecords()
    .filter((record) => record.action === 'deposit.sent')
    .map((record) => record.txnId as string)
    .at(-1) ?? assert.fail('no deposit journaled');
/** What the sim's cash-in module holds, from its state file (escrow and deposit cassette). */
const cashIn = (): { escrow: { count: number }[]; cassette: { denominationCents: number; count: number }[] } =>
  JSON.parse(fs.readFileSync(path.join(world.kioskDir, 'cash-in.json'), 'utf8')) as ReturnType<typeof cashIn>;
const notesCount = (notes: { count: number }[]): number => notes.reduce((sum, note) => sum + note.count, 0);

function startKiosk(port: number): PtyProcess {
  const kiosk = spawnPty(
    process.execPath,
    [atmBin, 'kiosk', '--bank', `127.0.0.1:${port}`, '--key', world.keyFile, '--data', world.kioskDir],
    { env: cleanEnv(), cols: 100, rows: 30 },
  );
  world.kiosks.push(kiosk);
  return kiosk;
}

/** Welcome → log in → deposit: the slot is open. */
async function toTheSlot(kiosk: PtyProcess): Promise<void> {
  await kiosk.waitFor('Welcome to Secure ATM', SCREEN_WAIT_MS);
  kiosk.type('a');
  await kiosk.waitFor('Type your username');
  kiosk.type(USERNAME);
  kiosk.press('enter');
  await kiosk.waitFor(`Username: ${USERNAME}`);
  kiosk.type(PASSWORD);
  kiosk.press('enter');
  await kiosk.waitFor('Main menu');
  kiosk.type('b');
  await kiosk.waitFor('Insert your notes into the slot');
  await kiosk.waitFor('F5 50 F6 20');
}

test('notes into the slot, the counted total shown, confirmed: the balance goes up by exactly that', async () => {
  const before = await balanceCents();
  const kiosk = startKiosk(world.proxy.port);
  await toTheSlot(kiosk);
  kiosk.press('f5'); // 50.00
  kiosk.press('f6'); // 20.00
  kiosk.press('f6'); // 20.00
  kiosk.press('f9'); // a torn note: refused
  await kiosk.waitFor(/Counted: 1 x 50\.00 \+ 2 x 20\.00/);
  await kiosk.waitFor(/Total: +90\.00/);
  await kiosk.waitFor('1 note refused');
  kiosk.press('enter');
  await kiosk.waitFor('Deposit 90.00?');
  kiosk.press('enter');
  await kiosk.waitFor('Deposit accepted', SCREEN_WAIT_MS);
  assert.equal(await balanceCents(), before + 9000);
  assert.deepEqual(storyOf(auditRecordsIn(world.bankDir), lastDepositId()), ['deposit ok 9000']);
  assert.equal(notesCount(cashIn().escrow), 0);
  assert.equal(notesCount(cashIn().cassette), 3);
  kiosk.type('d');
  await kiosk.waitFor('Welcome to Secure ATM');
  await kiosk.kill();
});

test('cancel: the notes are handed back and the balance is unchanged', async () => {
  const before = await balanceCents();
  const storedBefore = notesCount(cashIn().cassette);
  const kiosk = startKiosk(world.proxy.port);
  await toTheSlot(kiosk);
  kiosk.press('f7');
  kiosk.press('f7');
  await kiosk.waitFor(/Total: +20\.00/);
  kiosk.press('escape');
  await kiosk.waitFor('Please take your notes.');
  await kiosk.waitFor('Main menu');
  assert.equal(await balanceCents(), before);
  assert.equal(notesCount(cashIn().escrow), 0);
  assert.equal(notesCount(cashIn().cassette), storedBefore);
  await kiosk.kill();
});

test('the bank link cut right after the bank committed: please wait, the same id again, success; credited once, one deposit and one replayed', async () => {
  const before = await balanceCents();
  const kiosk = startKiosk(world.proxy.port);
  await toTheSlot(kiosk);
  kiosk.press('f6');
  kiosk.press('f6');
  kiosk.press('f6');
  await kiosk.waitFor(/Total: +60\.00/);
  kiosk.press('enter');
  await kiosk.waitFor('Deposit 60.00?');
  world.proxy.lose(false);
  kiosk.press('enter');
  await kiosk.waitFor('Deposit accepted', SCREEN_WAIT_MS);
  assert.ok(
    kiosk.screens().some((screen) => /Please wait: the connection to the bank was interrupted/i.test(screen)),
    'the customer was told to wait, never that it failed',
  );
  assert.ok(!kiosk.screens().some((screen) => /declined|failed/i.test(screen)), 'never a failure on screen');
  assert.equal(await balanceCents(), before + 6000, 'credited once');
  const txnId = lastDepositId();
  assert.deepEqual(storyOf(auditRecordsIn(world.bankDir), txnId), ['deposit ok 6000', 'deposit.resolve replayed 6000']);
  assert.deepEqual(
    journalRecords()
      .filter((record) => record.txnId === txnId)
      .map((record) => `${record.action} ${record.outcome}`),
    ['deposit.sent sent', 'deposit.result ok', 'escrow stored'],
  );
  await kiosk.kill();
});

test('a power cut with notes in the escrow and the answer unknown: the restarted kiosk asks the same id and stores the notes', async () => {
  const before = await balanceCents();
  const kiosk = startKiosk(world.proxy.port);
  await toTheSlot(kiosk);
  kiosk.press('f5');
  await kiosk.waitFor(/Total: +50\.00/);
  kiosk.press('enter');
  await kiosk.waitFor('Deposit 50.00?');
  world.proxy.lose(true);
  kiosk.press('enter');
  await kiosk.waitFor('Please wait: the connection to the bank was interrupted', SCREEN_WAIT_MS);
  const txnId = lastDepositId();
  const exit = await kiosk.kill();
  assert.equal(exit.signal, 9, 'SIGKILLed: the power went');
  assert.equal(notesCount(cashIn().escrow), 1, 'the note is still in the escrow');
  assert.deepEqual(storyOf(auditRecordsIn(world.bankDir), txnId), ['deposit ok 5000'], 'the bank committed it');

  const restarted = startKiosk(world.bank.port);
  await restarted.waitFor('Welcome to Secure ATM', SCREEN_WAIT_MS);
  await eventually(
    () => (journalRecords().some((record) => record.txnId === txnId && record.action === 'escrow') ? true : null),
    'the escrow stored',
    SCREEN_WAIT_MS,
    20,
  );
  assert.equal(await balanceCents(), before + 5000, 'credited once');
  assert.deepEqual(storyOf(auditRecordsIn(world.bankDir), txnId), ['deposit ok 5000', 'deposit.resolve replayed 5000']);
  assert.equal(notesCount(cashIn().escrow), 0);
  await restarted.kill();
});
