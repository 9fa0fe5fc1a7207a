// [ATM-4.13] the mini statement and [ATM-4.14] the password change, end to end: a real host
// (LevelDB in a temp dir, TCP on 127.0.0.1) driven through BankConnection, time a FakeClock,
// bcrypt at cost 4. The bank's log lines are captured to show no password reaches them.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { LogLineObserver } from '../../bank/index.js';
import type { BankHostOptions } from '../../bank/host.js';
import type { BankConnection } from '../../protocol/client.js';
import type { DeclineCode } from '../../protocol/errors.js';
import type { DeclineResponse, Response } from '../../protocol/messages.js';
import type { OkResponse } from '../../protocol/responses.js';
import { STATEMENT_TXNS_MAX } from '../../protocol/statement.js';
import { TEST_PASSWORD, startTestBank, type TestBank } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { auditRecords } from '../helpers/audit.js';

const MINUTE_MS = 60_000;
const NEW_PASSWORD = 'Tr0ub4dor&3-new';

interface Run {
  bank: TestBank;
  clock: FakeClock;
  logLines: string[];
}

async function start(t: TestContext, options: Partial<BankHostOptions> = {}): Promise<Run> {
  const clock = new FakeClock();
  const logLines: string[] = [];
  const bank = await startTestBank({
    nowMs: clock.nowMs,
    observer: new LogLineObserver((line) => logLines.push(line)),
    ...options,
  });
  t.after(() => bank.cleanup());
  return { bank, clock, logLines };
}

async function loggedIn(t: TestContext, bank: TestBank, username: string, password = TEST_PASSWORD) {
  const connection = await bank.loginAs(username, password);
  t.after(() => connection.close());
  return connection;
}

function expectOk<Approval extends OkResponse>(response: Approval | DeclineResponse): Approval {
  assert.ok(response.ok, `expected ok, got ${response.ok ? '' : `${response.code}: ${response.message}`}`);
  return response;
}

function expectDecline(response: Response, code: DeclineCode): DeclineResponse {
  assert.ok(!response.ok, `expected ${code}, got ok ${JSON.stringify(response)}`);
  assert.equal(response.code, code, response.message);
  return response;
}

async function deposit(connection: BankConnection, txnId: string, amountCents: number): Promise<void> {
  expectOk(await connection.request({ op: 'deposit', txnId, amountCents }));
}

/** Every regular file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

test('[ATM-4.13] statement: the last 10 posted transactions, newest moved first, with what moved and when', async (t) => {
  const { bank, clock } = await start(t);
  const kiosk = await loggedIn(t, bank, 'stella');
  const other = await loggedIn(t, bank, 'otto');
  expectDecline(await (await bank.connect()).request({ op: 'statement' }), 'NOT_LOGGED_IN');
  assert.deepEqual(expectOk(await kiosk.request({ op: 'statement' })).transactions, [], 'a new account has none');

  const expected: { txnId: string; kind: string; amountCents: number; atMs: number }[] = [];
  for (let index = 1; index <= 11; index++) {
    clock.advance(1_000);
    await deposit(kiosk, `st-dep-${String(index).padStart(4, '0')}`, index * 1_000);
    expected.unshift({
      txnId: `st-dep-${String(index).padStart(4, '0')}`,
      kind: 'deposit',
      amountCents: index * 1_000,
      atMs: clock.ms,
    });
  }
  await deposit(other, 'st-other-0001', 9_999); // another account's: never listed
  // Held first, posted (60.00 of 100.00 dispensed) after a later deposit: it moved when posted.
  clock.advance(1_000);
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'st-wd-00001', amountCents: 100_00 }));
  clock.advance(1_000);
  await deposit(kiosk, 'st-dep-0012', 1_200);
  expected.unshift({ txnId: 'st-dep-0012', kind: 'deposit', amountCents: 1_200, atMs: clock.ms });
  clock.advance(1_000);
  expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'st-wd-00001', dispensedCents: 60_00 }));
  expected.unshift({ txnId: 'st-wd-00001', kind: 'withdraw', amountCents: 60_00, atMs: clock.ms });
  // A voided hold, an open hold and a declined hold moved nothing: none is listed.
  clock.advance(1_000);
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'st-wd-00002', amountCents: 500 }));
  expectOk(await kiosk.request({ op: 'withdraw.void', txnId: 'st-wd-00002', reason: 'jam' }));
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'st-wd-00003', amountCents: 700 }));
  expectDecline(
    await kiosk.request({ op: 'withdraw.hold', txnId: 'st-wd-00004', amountCents: 2_000_00 }),
    'LIMIT_EXCEEDED',
  );

  const statement = expectOk(await kiosk.request({ op: 'statement' }));
  assert.equal(statement.transactions.length, STATEMENT_TXNS_MAX);
  assert.deepEqual(
    statement.transactions,
    expected.slice(0, STATEMENT_TXNS_MAX).map((line) => ({ ...line, state: 'posted' })),
  );
  assert.deepEqual(
    expectOk(await other.request({ op: 'statement' })).transactions.map((line) => line.txnId),
    ['st-other-0001'],
  );

  // The same statement after a restart: the index is durable, not a cache.
  await bank.restart();
  const again = await loggedIn(t, bank, 'stella');
  assert.deepEqual(expectOk(await again.request({ op: 'statement' })).transactions, statement.transactions);

  // Audited as balance is: who asked and that it was answered, nothing of what was listed.
  const statements = auditRecords(bank.dataDir).filter((record) => record.action === 'statement');
  assert.deepEqual(
    statements.map((record) => [record.username, record.outcome, record.amountCents ?? null, record.txnId ?? null]),
    [
      [null, 'NOT_LOGGED_IN', null, null],
      ['stella', 'ok', null, null],
      ['stella', 'ok', null, null],
      ['otto', 'ok', null, null],
      ['stella', 'ok', null, null],
    ],
  );
});

test('[ATM-4.14] password.change: the old password stops working, the new one works, and the change is audited', async (t) => {
  const { bank, logLines } = await start(t);
  const kiosk = await loggedIn(t, bank, 'petra');
  expectDecline(
    await (
      await bank.connect()
    ).request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }),
    'NOT_LOGGED_IN',
  );
  expectOk(await kiosk.request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }));
  // Still logged in: the session carries on with the new password in force.
  expectOk(await kiosk.request({ op: 'balance' }));
  expectOk(await kiosk.request({ op: 'logout' }));
  const fresh = await bank.connect();
  t.after(() => fresh.close());
  expectDecline(await fresh.request({ op: 'login', username: 'petra', password: TEST_PASSWORD }), 'AUTH_FAILED');
  expectOk(await fresh.request({ op: 'login', username: 'petra', password: NEW_PASSWORD }));
  // Durable: the new hash survives a restart.
  await bank.restart();
  const afterRestart = await bank.connect();
  t.after(() => afterRestart.close());
  expectOk(await afterRestart.request({ op: 'login', username: 'petra', password: NEW_PASSWORD }));

  const changes = auditRecords(bank.dataDir).filter((record) => record.action === 'password.change');
  assert.deepEqual(
    changes.map((record) => [record.username, record.outcome]),
    [
      [null, 'NOT_LOGGED_IN'],
      ['petra', 'ok'],
    ],
  );
  assert.ok(
    logLines.some((line) => / password\.change ok user=pe\*+ /.test(line)),
    `the log line names the op, masked: ${logLines.join('\n')}`,
  );

  // No password material anywhere: audit records, log lines, data files (keystore aside).
  await bank.stop();
  const secrets = [TEST_PASSWORD, NEW_PASSWORD];
  const auditText = JSON.stringify(auditRecords(bank.dataDir));
  for (const secret of secrets) {
    assert.ok(!auditText.includes(secret), 'a password in the audit records');
    assert.ok(!logLines.some((line) => line.includes(secret)), 'a password in a log line');
    for (const file of filesUnder(bank.dataDir).filter((name) => path.basename(name) !== 'keystore.json'))
      assert.ok(!fs.readFileSync(file).includes(secret), `a password in ${path.relative(bank.dataDir, file)}`);
  }
});

test('[ATM-4.14] a wrong old password counts as a failed login: with wrong logins it locks the account, as login does', async (t) => {
  const { bank, clock } = await start(t);
  const kiosk = await loggedIn(t, bank, 'lockme');
  const other = await bank.connect();
  t.after(() => other.close());
  expectDecline(await other.request({ op: 'login', username: 'lockme', password: 'wrong-password-a' }), 'AUTH_FAILED');
  for (let attempt = 2; attempt <= 4; attempt++) {
    const failed = expectDecline(
      await kiosk.request({
        op: 'password.change',
        oldPassword: `wrong-password-${attempt}`,
        newPassword: NEW_PASSWORD,
      }),
      'AUTH_FAILED',
    );
    assert.equal(failed.attemptsLeft, 5 - attempt, 'the tries left, shared with login');
  }
  // A malformed old password is login's bare AUTH_FAILED: it cannot be the password, and counts nothing.
  const malformed = expectDecline(
    await kiosk.request({ op: 'password.change', oldPassword: 'short', newPassword: NEW_PASSWORD }),
    'AUTH_FAILED',
  );
  assert.equal(malformed.attemptsLeft, undefined);
  const lockedAtMs = clock.ms;
  const locking = expectDecline(
    await kiosk.request({ op: 'password.change', oldPassword: 'wrong-password-5', newPassword: NEW_PASSWORD }),
    'ACCOUNT_LOCKED',
  );
  const lockedUntil = new Date(lockedAtMs + 15 * MINUTE_MS).toISOString();
  assert.equal(locking.lockedUntil, lockedUntil);
  // Locked now for both: the right old password is refused as a login with it is.
  const refused = expectDecline(
    await kiosk.request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }),
    'ACCOUNT_LOCKED',
  );
  assert.equal(refused.lockedUntil, lockedUntil);
  assert.equal(
    expectDecline(await other.request({ op: 'login', username: 'lockme', password: TEST_PASSWORD }), 'ACCOUNT_LOCKED')
      .lockedUntil,
    lockedUntil,
  );
  clock.advance(15 * MINUTE_MS + 1_000);
  expectOk(await kiosk.request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword: NEW_PASSWORD }));
  // The change that worked reset the count, as a login that works does.
  assert.equal(
    expectDecline(await other.request({ op: 'login', username: 'lockme', password: 'wrong-password-b' }), 'AUTH_FAILED')
      .attemptsLeft,
    4,
  );

  const trail = auditRecords(bank.dataDir)
    .filter((record) => record.username === 'lockme' && record.action !== 'register')
    .map((record) => [record.action, record.outcome, record.detail ?? null]);
  assert.deepEqual(trail, [
    ['login', 'ok', null],
    ['login', 'AUTH_FAILED', 'failed login 1'],
    ['password.change', 'AUTH_FAILED', 'failed login 2'],
    ['password.change', 'AUTH_FAILED', 'failed login 3'],
    ['password.change', 'AUTH_FAILED', 'failed login 4'],
    ['password.change', 'AUTH_FAILED', null],
    ['password.change', 'ACCOUNT_LOCKED', 'failed login 5'],
    ['password.change', 'ACCOUNT_LOCKED', null],
    ['login', 'ACCOUNT_LOCKED', null],
    ['password.change', 'ok', null],
    ['login', 'AUTH_FAILED', 'failed login 1'],
  ]);
});

test('[ATM-4.14] a new password that breaks the register policy or repeats the old one is WEAK_PASSWORD and changes nothing', async (t) => {
  const { bank } = await start(t);
  const kiosk = await loggedIn(t, bank, 'weakling');
  for (const newPassword of ['short', 'x'.repeat(73), 'eight\0bytes', 'é'.repeat(37)]) {
    expectDecline(
      await kiosk.request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword }),
      'WEAK_PASSWORD',
    );
  }
  const same = expectDecline(
    await kiosk.request({ op: 'password.change', oldPassword: TEST_PASSWORD, newPassword: TEST_PASSWORD }),
    'WEAK_PASSWORD',
  );
  assert.match(same.message, /differ from the old one/);
  // Policy refusals come before the old password is looked at, so even a wrong old one counts nothing.
  expectDecline(
    await kiosk.request({ op: 'password.change', oldPassword: 'wrong-password', newPassword: 'short' }),
    'WEAK_PASSWORD',
  );
  const fresh = await bank.connect();
  t.after(() => fresh.close());
  expectOk(await fresh.request({ op: 'login', username: 'weakling', password: TEST_PASSWORD }));
  assert.equal(
    expectDecline(await fresh.request({ op: 'login', username: 'weakling', password: 'wrong-password' }), 'AUTH_FAILED')
      .attemptsLeft,
    4,
    'no refusal above counted as a failed login',
  );
  const outcomes = auditRecords(bank.dataDir)
    .filter((record) => record.action === 'password.change')
    .map((record) => [record.outcome, record.detail ?? null]);
  assert.deepEqual(outcomes, [
    ['WEAK_PASSWORD', null],
    ['WEAK_PASSWORD', null],
    ['WEAK_PASSWORD', null],
    ['WEAK_PASSWORD', null],
    ['WEAK_PASSWORD', 'new password is the old one'],
    ['WEAK_PASSWORD', null],
  ]);
});
