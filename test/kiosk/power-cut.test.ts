// [DESIGN §5] Power cuts at the two moments that matter, with the real processes: `atm bank` as
// a child process and `atm kiosk` in a real pseudo-terminal, SIGKILLed mid-withdrawal.
// 1. The dispenser paid out but the bank never heard of it (the proxy between them holds back
//    every kiosk→bank frame once the kiosk's journal shows dispense.result): on restart the
//    kiosk posts the dispensed amount before it shows the welcome screen.
// 2. The hold is placed and the dispense started but did not finish (the app's sim dispenser
//    takes 800 ms): on restart the kiosk voids the hold.
// The restarted kiosk goes through a gate that holds its first request (the settlement), so the
// test sees that no welcome screen appears before the bank has the post or void.
// Afterwards the bank's ledger, its audit log and the kiosk's journal tell the same story, and
// `atm audit verify` passes. The tests run in order and share one bank and one kiosk folder,
// as a real kiosk restarts on the same journal.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { LEDGER_DIR, LevelLedgerStore, loadKioskKeyFile, type AuditRecord } from '../../bank/index.js';
import { JOURNAL_FILE, KioskJournal, deriveJournalKey } from '../../kiosk/journal.js';
import { BankConnection } from '../../protocol/client.js';
import type { FernetKey } from '../../protocol/fernet.js';
import { cleanEnv, runAtm, startBankProcess, tempDir, type BankProcess } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { startProxy, type Proxy, type ProxyFrame, type ProxyLink } from '../helpers/proxy.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';
import { auditRecords as auditRecordsIn, readChainFile } from '../helpers/audit.js';
import { eventually, pause } from '../helpers/wait.js';

const journalRecords = (): AuditRecord[] =>
  readChainFile(path.join(world.kioskDir, JOURNAL_FILE), world.journalKey, 'journal');
const auditRecords = (): AuditRecord[] => auditRecordsIn(world.bankDir);

const KIOSK_ID = 'kiosk-01';
const USERNAME = 'powercut';
const PASSWORD = 'correct horse battery';
const DEPOSIT_CENTS = 20_000;
const FAST_CASH_B_CENTS = 6000;
const SCREEN_WAIT_MS = 10_000;
const GATE_WINDOW_MS = 300;

interface World {
  root: { dir: string; remove: () => void };
  bankDir: string;
  kioskDir: string;
  keyFile: string;
  psk: Buffer;
  journalKey: FernetKey;
  bank: BankProcess;
  proxy: Proxy | null;
  kiosks: PtyProcess[];
}

let world: World;

before(async () => {
  const root = tempDir('atm-power-cut-');
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
    proxy: null,
    kiosks: [],
  };
  // The customer and the money, straight at the bank.
  const connection = await connect();
  assert.ok((await connection.request({ op: 'register', username: USERNAME, password: PASSWORD })).ok);
  assert.ok((await connection.request({ op: 'login', username: USERNAME, password: PASSWORD })).ok);
  assert.ok((await connection.request({ op: 'deposit', txnId: 'power-cut-seed-0001', amountCents: DEPOSIT_CENTS })).ok);
  connection.close();
});

after(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
  if (world === undefined) return;
  for (const kiosk of world.kiosks) await kiosk.kill();
  await world.proxy?.close();
  await world.bank.kill();
  world.root.remove();
});

function connect(): Promise<BankConnection> {
  return BankConnection.connect({ host: '127.0.0.1', port: world.bank.port, kioskId: KIOSK_ID, psk: world.psk });
}

/** The customer's available balance (ledger balance less open holds), asked at the bank. */
async function availableCents(): Promise<number> {
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

/** The kiosk journal's records, read the way an auditor would (complete lines only: the kiosk may be writing). */
/** The bank's audit records (the bank appends each before it answers). */
const actionsOf = (records: AuditRecord[], txnId: string): string[] =>
  records
    .filter((record) => record.txnId === txnId)
    .map(
      (record) =>
        `${record.action} ${record.outcome}${record.amountCents === undefined ? '' : ` ${record.amountCents}`}`,
    );

/** The txn ids of withdrawals this kiosk journaled, oldest first. */
const holdIds = (): string[] =>
  journalRecords()
    .filter((record) => record.action === 'hold.sent')
    .map((record) => record.txnId as string);

const until = <T>(check: () => T | null, what: string, timeoutMs = SCREEN_WAIT_MS): Promise<T> =>
  eventually(check, what, timeoutMs, 10);

function startKiosk(port: number): PtyProcess {
  const kiosk = spawnPty(
    process.execPath,
    [atmBin, 'kiosk', '--bank', `127.0.0.1:${port}`, '--key', world.keyFile, '--data', world.kioskDir],
    { env: cleanEnv(), cols: 100, rows: 30 },
  );
  world.kiosks.push(kiosk);
  return kiosk;
}

/**
 * Restarts the kiosk through a gate: the handshake (m1, m3) passes, then every kiosk→bank frame
 * waits until the test opens the gate. The first one is the recovery's settlement, so while it
 * waits the kiosk must not show the welcome screen; the window gives a kiosk that drew the
 * welcome screen before settling (it would have drawn it before even sending the frame) time
 * to show it. Then the gate opens, the settlement reaches the bank, and the welcome screen follows.
 */
async function restartThroughGate(): Promise<PtyProcess> {
  const held: { frame: ProxyFrame; link: ProxyLink }[] = [];
  let open = false;
  world.proxy = await startProxy(world.bank.port, (frame, link) => {
    if (!open && frame.direction === 'toBank' && frame.index >= 2) {
      held.push({ frame, link });
      return [];
    }
    return [frame.bytes];
  });
  const kiosk = startKiosk(world.proxy.port);
  await until(() => (held.length > 0 ? true : null), 'the first request after the handshake');
  await pause(GATE_WINDOW_MS);
  assert.doesNotMatch(
    kiosk.screenText(),
    /Welcome to Secure ATM/,
    'no welcome screen while the settlement is unanswered',
  );
  assert.match(kiosk.screenText(), /out of service/);
  open = true;
  for (const { frame, link } of held) link.send('toBank', frame.bytes);
  await kiosk.waitFor('Welcome to Secure ATM', SCREEN_WAIT_MS);
  return kiosk;
}

/** SIGKILLs the kiosk and closes the proxy it went through, if any. */
async function powerCut(kiosk: PtyProcess): Promise<void> {
  const exit = await kiosk.kill();
  assert.equal(exit.signal, 9, 'SIGKILLed');
  await world.proxy?.close();
  world.proxy = null;
}

/** Welcome → log in → withdraw → fast cash B (60.00) → confirm, all typed at the terminal. */
async function withdrawFastCashB(kiosk: PtyProcess): Promise<void> {
  await kiosk.waitFor('Welcome to Secure ATM', SCREEN_WAIT_MS);
  kiosk.type('a');
  await kiosk.waitFor('Type your username');
  kiosk.type(USERNAME);
  kiosk.press('enter');
  await kiosk.waitFor(`Username: ${USERNAME}`);
  kiosk.type(PASSWORD);
  kiosk.press('enter');
  await kiosk.waitFor('Main menu');
  kiosk.type('c');
  await kiosk.waitFor('Fast cash:');
  kiosk.type('b');
  await kiosk.waitFor('Withdraw 60.00?');
  kiosk.press('enter');
  await kiosk.waitFor('Withdrawing 60.00');
}

test('SIGKILL after the dispenser paid out but before the bank heard of it: the restarted kiosk posts 60.00 before the welcome screen', async () => {
  const availableBefore = await availableCents();
  // Hold back every kiosk→bank frame once the journal says notes came out and nothing settled them.
  const heldBack: ProxyFrame[] = [];
  const dispensedUnsettled = (): boolean => {
    const records = journalRecords();
    const settled = new Set(records.filter((record) => record.action === 'settled').map((record) => record.txnId));
    return records.some((record) => record.action === 'dispense.result' && !settled.has(record.txnId));
  };
  world.proxy = await startProxy(world.bank.port, (frame) => {
    if (frame.direction === 'toBank' && dispensedUnsettled()) {
      heldBack.push(frame);
      return [];
    }
    return [frame.bytes];
  });
  const kiosk = startKiosk(world.proxy.port);
  await withdrawFastCashB(kiosk);
  await until(() => (heldBack.length > 0 ? true : null), 'the kiosk to send something after the dispense');
  await powerCut(kiosk);

  const [txnId] = holdIds();
  assert.ok(txnId !== undefined, 'the kiosk journaled a hold');
  const journaled = journalRecords()
    .filter((record) => record.txnId === txnId)
    .map((record) => `${record.action} ${record.outcome} ${record.amountCents ?? ''}`.trim());
  assert.deepEqual(
    journaled,
    ['hold.sent sent 6000', 'hold.result ok', 'dispense.started started 6000', 'dispense.result ok 6000'],
    'cash out, no settlement',
  );
  assert.deepEqual(
    actionsOf(auditRecords(), txnId),
    ['withdraw.hold ok 6000'],
    'the bank holds 60.00 and has heard nothing more',
  );
  assert.equal(await availableCents(), availableBefore - FAST_CASH_B_CENTS, 'the hold still stands');

  // The restart: the post reaches the bank before the welcome screen shows.
  const restarted = await restartThroughGate();
  assert.deepEqual(actionsOf(auditRecords(), txnId), [
    'withdraw.hold ok 6000',
    `withdraw.post ok ${FAST_CASH_B_CENTS}`,
  ]);
  const settled = await until(
    () => journalRecords().find((record) => record.txnId === txnId && record.action === 'settled') ?? null,
    'the journal to record the settlement',
  );
  assert.equal(settled.outcome, 'posted');
  assert.equal(settled.amountCents, FAST_CASH_B_CENTS);
  assert.equal(
    await availableCents(),
    availableBefore - FAST_CASH_B_CENTS,
    'the hold became a debit of exactly what was dispensed',
  );
  await powerCut(restarted);
});

test('SIGKILL after the hold, while the notes are still being picked: the restarted kiosk voids the hold', async () => {
  const availableBefore = await availableCents();
  const known = new Set(holdIds());
  const kiosk = startKiosk(world.bank.port);
  await withdrawFastCashB(kiosk);
  // The app's sim dispenser takes 800 ms: cut the power inside that window.
  const txnId = await until(() => {
    const records = journalRecords().filter((record) => !known.has(record.txnId as string));
    const started = records.find((record) => record.action === 'dispense.started');
    return started !== undefined && !records.some((record) => record.action === 'dispense.result')
      ? (started.txnId as string)
      : null;
  }, 'dispense.started without a result');
  await powerCut(kiosk);
  assert.deepEqual(
    journalRecords()
      .filter((record) => record.txnId === txnId)
      .map((record) => record.action),
    ['hold.sent', 'hold.result', 'dispense.started'],
    'killed between dispense.started and dispense.result',
  );
  assert.deepEqual(actionsOf(auditRecords(), txnId), ['withdraw.hold ok 6000']);
  assert.equal(await availableCents(), availableBefore - FAST_CASH_B_CENTS, 'the hold stands while the kiosk is dead');

  const restarted = await restartThroughGate();
  assert.deepEqual(
    actionsOf(auditRecords(), txnId),
    ['withdraw.hold ok 6000', 'withdraw.void ok 6000'],
    'voided before the welcome screen',
  );
  const settled = await until(
    () => journalRecords().find((record) => record.txnId === txnId && record.action === 'settled') ?? null,
    'the journal to record the void',
  );
  assert.equal(settled.outcome, 'voided');
  assert.equal(await availableCents(), availableBefore, 'nothing was taken');
  await powerCut(restarted);
});

test('afterwards the ledger, the bank audit log and the kiosk journal agree, and atm audit verify passes', async () => {
  const stopped = await world.bank.stop();
  assert.equal(stopped.code, 0);
  const journal = KioskJournal.open({ dir: world.kioskDir, kioskId: KIOSK_ID, key: world.journalKey });
  assert.deepEqual(journal.unfinished(), [], 'nothing left for the next start');
  const audit = auditRecords();
  const withdrawals = journal.entries().filter((event) => event.type === 'hold.sent');
  assert.equal(withdrawals.length, 2);
  let postedCents = 0;
  for (const { txnId } of withdrawals) {
    const settled = journal.entries().find((event) => event.txnId === txnId && event.type === 'settled');
    assert.ok(settled?.type === 'settled', `${txnId} settled in the journal`);
    const bankSide = actionsOf(audit, txnId).filter((line) => !line.startsWith('withdraw.hold'));
    assert.deepEqual(
      bankSide,
      [settled.outcome === 'posted' ? `withdraw.post ok ${settled.postedCents}` : 'withdraw.void ok 6000'],
      txnId,
    );
    postedCents += settled.postedCents;
  }
  assert.equal(postedCents, FAST_CASH_B_CENTS, 'one withdrawal posted, one voided');

  const store = await LevelLedgerStore.open(path.join(world.bankDir, LEDGER_DIR));
  try {
    const account = await store.getAccount(USERNAME);
    assert.equal(account?.balanceCents, DEPOSIT_CENTS - postedCents);
    assert.equal(account.heldCents, 0);
    assert.deepEqual(await store.listOpenHolds(), []);
  } finally {
    await store.close();
  }

  const verify = await runAtm(['audit', 'verify', '--data', world.bankDir]);
  assert.equal(verify.code, 0, verify.stdout + verify.stderr);
  assert.match(verify.stdout, new RegExp(`^OK ${audit.length} records`));
});
