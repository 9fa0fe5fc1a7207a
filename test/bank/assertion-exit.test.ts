// A broken ledger invariant ends a real `atm bank` process with one log line (ARCHITECTURE.md
// 27): the store is corrupted behind the bank's back (an account holding more than its
// balance), and the next request that reads it must not be answered INTERNAL, as an operating
// failure (disk full) is; the process exits non-zero for its supervisor to restart.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { LevelLedgerStore } from '../../bank/level-store.js';
import { emptyBatch } from '../../bank/types.js';
import { BankConnection } from '../../protocol/client.js';
import { startBankProcess, tempDir, type BankProcess } from '../helpers/cli.js';

const KIOSK_ID = 'kiosk-01';
const USERNAME = 'assertme';
const PASSWORD = 'correct horse battery';
const BANK_ARGS = ['--bcrypt-cost', '4', '--no-mqtt'];
/** bin/cli.ts ExitCode.INTERNAL. */
const EXIT_INTERNAL = 4;

const root = tempDir('atm-assert-');
const banks: BankProcess[] = [];
after(async () => {
  for (const bank of banks) await bank.kill();
  root.remove();
});

async function started(dataDir: string): Promise<BankProcess> {
  const bank = await startBankProcess(dataDir, BANK_ARGS);
  banks.push(bank);
  return bank;
}

test('a bank that reads an account with held > balance exits with one log line instead of answering INTERNAL', async () => {
  const dataDir = path.join(root.dir, 'data');
  initKeystore(dataDir);
  const psk = Buffer.from(addKiosk(dataDir, KIOSK_ID, path.join(root.dir, 'kiosk.key')).psk, 'hex');
  const connect = (port: number): Promise<BankConnection> =>
    BankConnection.connect({ host: '127.0.0.1', port, kioskId: KIOSK_ID, psk, requestTimeoutMs: 10_000 });

  const first = await started(dataDir);
  const setup = await connect(first.port);
  assert.ok((await setup.request({ op: 'register', username: USERNAME, password: PASSWORD })).ok);
  assert.ok((await setup.request({ op: 'login', username: USERNAME, password: PASSWORD })).ok);
  const deposit = await setup.request({ op: 'deposit', txnId: 'assert-000001', amountCents: 10_000 });
  assert.ok(deposit.ok, JSON.stringify(deposit));
  setup.close();
  assert.equal((await first.stop()).code, 0);

  // The corruption: 100.01 held on a balance of 100.00, written straight into the ledger.
  const store = await LevelLedgerStore.open(path.join(dataDir, 'ledger'));
  const account = await store.getAccount(USERNAME);
  assert.ok(account !== null && account.balanceCents === 10_000);
  await store.commit({ ...emptyBatch(), accounts: [{ ...account, heldCents: 10_001 }] });
  await store.close();

  const bank = await started(dataDir);
  const connection = await connect(bank.port);
  // Login reads the account: the read-back assertion fires inside the request handler.
  const answer = await connection.request({ op: 'login', username: USERNAME, password: PASSWORD }).then(
    (response) => ({ response }),
    (error: unknown) => ({ error }),
  );
  assert.ok('error' in answer, `the bank answered instead of exiting: ${JSON.stringify(answer)}`);
  const exit = await bank.exited;
  assert.deepEqual(exit, { code: EXIT_INTERNAL, signal: null });
  assert.equal(
    bank.stderr(),
    `bank: assertion failed: ledger invariant (on read) of ${USERNAME}: held 10001 > balance 10000\n`,
    'one line, no stack trace',
  );
  assert.doesNotMatch(bank.stdout(), /INTERNAL/, 'no INTERNAL decline was logged');
  connection.close();
});
