// The bank host end to end: a real host (real LevelDB in a temp dir, real TCP on 127.0.0.1)
// driven through BankConnection, the kiosk's client. Time is a FakeClock wherever it
// matters; bcrypt runs at cost 4. [DESIGN §4] Accounts, Login, Transactions, Atomicity,
// Audit log; [ATM-4] messages validated at the boundary.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { AUDIT_LOG_FILE, auditKeyOf, loadKeystore, verifyAuditLog } from '../../bank/index.js';
import { MemoryLedgerStore } from '../../bank/store.js';
import type { BankHostOptions } from '../../bank/host.js';
import type { BankConnection } from '../../protocol/client.js';
import type { DeclineCode } from '../../protocol/errors.js';
import type { DeclineResponse, Response } from '../../protocol/messages.js';
import type { OkResponse } from '../../protocol/responses.js';
import { TEST_PASSWORD, startTestBank, type TestBank } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { auditRecords } from '../helpers/audit.js';

const MINUTE_MS = 60_000;

async function start(t: TestContext, options: Partial<BankHostOptions> = {}): Promise<TestBank> {
  const bank = await startTestBank(options);
  t.after(() => bank.cleanup());
  return bank;
}

async function session(
  t: TestContext,
  bank: TestBank,
  username?: string,
  password = TEST_PASSWORD,
): Promise<BankConnection> {
  const connection = username === undefined ? await bank.connect() : await bank.loginAs(username, password);
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

function withoutId(response: Response): Omit<Response, 'id'> {
  const { id: _id, ...rest } = response;
  return rest;
}

async function balanceOf(connection: BankConnection): Promise<number> {
  const balance = expectOk(await connection.request({ op: 'balance' })).balanceCents;
  assert.equal(typeof balance, 'number');
  return balance;
}

/** Decrypts audit.log with the keystore's audit key only, as an auditor would. */
function assertAuditVerifies(dataDir: string): number {
  const result = verifyAuditLog(dataDir, auditKeyOf(loadKeystore(dataDir)));
  assert.ok(result.ok, `audit log verifies: ${result.ok ? '' : `record ${result.badRecord}: ${result.reason}`}`);
  return result.records;
}

test('the seed story: register, deposit 150.00, withdraw 50.00, a 150.00 withdrawal declined, all audited', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank);
  assert.equal(
    expectOk(await kiosk.request({ op: 'register', username: 'austin', password: TEST_PASSWORD })).username,
    'austin',
  );
  // Usernames are case-folded, so the same person logs in however they type it.
  assert.equal(
    expectOk(await kiosk.request({ op: 'login', username: 'Austin', password: TEST_PASSWORD })).username,
    'austin',
  );
  assert.equal(
    expectOk(await kiosk.request({ op: 'deposit', txnId: 'seed-dep-0001', amountCents: 15000 })).balanceCents,
    15000,
  );
  assert.equal(await balanceOf(kiosk), 15000);
  const held = expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'seed-wd-0001', amountCents: 5000 }));
  assert.equal(held.heldCents, 5000);
  const posted = expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'seed-wd-0001', dispensedCents: 5000 }));
  assert.deepEqual(
    { postedCents: posted.postedCents, balanceCents: posted.balanceCents },
    { postedCents: 5000, balanceCents: 10000 },
  );
  assert.equal(await balanceOf(kiosk), 10000);
  expectDecline(
    await kiosk.request({ op: 'withdraw.hold', txnId: 'seed-wd-0002', amountCents: 15000 }),
    'INSUFFICIENT_FUNDS',
  );
  assert.equal(await balanceOf(kiosk), 10000);
  expectOk(await kiosk.request({ op: 'logout' }));
  expectDecline(await kiosk.request({ op: 'balance' }), 'NOT_LOGGED_IN');

  const trail = auditRecords(bank.dataDir).map((record) => [
    record.username,
    record.action,
    record.outcome,
    record.amountCents ?? null,
    record.txnId ?? null,
  ]);
  assert.deepEqual(trail, [
    ['austin', 'register', 'ok', null, null],
    ['austin', 'login', 'ok', null, null],
    ['austin', 'deposit', 'ok', 15000, 'seed-dep-0001'],
    ['austin', 'balance', 'ok', null, null],
    ['austin', 'withdraw.hold', 'ok', 5000, 'seed-wd-0001'],
    ['austin', 'withdraw.post', 'ok', 5000, 'seed-wd-0001'],
    ['austin', 'balance', 'ok', null, null],
    ['austin', 'withdraw.hold', 'INSUFFICIENT_FUNDS', 15000, 'seed-wd-0002'],
    ['austin', 'balance', 'ok', null, null],
    ['austin', 'logout', 'ok', null, null],
    [null, 'balance', 'NOT_LOGGED_IN', null, null],
  ]);
  assert.ok(auditRecords(bank.dataDir).every((record) => record.kioskId === bank.kiosk.kioskId));
  assert.equal(assertAuditVerifies(bank.dataDir), trail.length);
});

test('200 concurrent withdrawals over 20 sessions never overdraw: exactly 100 of 100 cents succeed', async (t) => {
  const bank = await start(t);
  const SESSIONS = 20;
  const WITHDRAWALS_PER_SESSION = 10;
  const kiosks = await Promise.all(Array.from({ length: SESSIONS }, () => session(t, bank)));

  // Group commit [DESIGN §4]: requests for different accounts hold different locks, so their
  // batches queue together behind one synced write. (One account's requests are serialised
  // by its lock through the durable write, so they cannot share a write.)
  const { committer } = bank.host;
  const before = { commits: committer.commitsWritten, batches: committer.batchesCommitted };
  await Promise.all(
    kiosks.map(async (kiosk, index) => {
      const username = `owner-${index}`;
      expectOk(await kiosk.request({ op: 'register', username, password: TEST_PASSWORD }));
      expectOk(await kiosk.request({ op: 'login', username, password: TEST_PASSWORD }));
      expectOk(await kiosk.request({ op: 'deposit', txnId: `own-dep-${index}-0`, amountCents: 100 }));
    }),
  );
  const batches = committer.batchesCommitted - before.batches;
  const commits = committer.commitsWritten - before.commits;
  assert.equal(batches, SESSIONS * 3);
  t.diagnostic(`group commit: ${commits} LevelDB writes carried ${batches} batches`);
  assert.ok(commits < batches, `group commit: ${commits} LevelDB writes carried ${batches} batches`);

  const funder = await session(t, bank, 'shared');
  expectOk(await funder.request({ op: 'deposit', txnId: 'shared-fund-1', amountCents: 10000 }));
  await Promise.all(
    kiosks.map(async (kiosk) =>
      expectOk(await kiosk.request({ op: 'login', username: 'shared', password: TEST_PASSWORD })),
    ),
  );

  const outcomes = await Promise.all(
    kiosks.map(async (kiosk, sessionIndex) => {
      const codes: string[] = [];
      for (let k = 0; k < WITHDRAWALS_PER_SESSION; k++) {
        const txnId = `conc-${sessionIndex}-${k}`;
        const hold = await kiosk.request({ op: 'withdraw.hold', txnId, amountCents: 100 });
        if (!hold.ok) {
          codes.push(hold.code);
          continue;
        }
        expectOk(await kiosk.request({ op: 'withdraw.post', txnId, dispensedCents: 100 }));
        codes.push('ok');
      }
      return codes;
    }),
  );
  const all = outcomes.flat();
  assert.equal(all.length, SESSIONS * WITHDRAWALS_PER_SESSION);
  assert.equal(all.filter((code) => code === 'ok').length, 100);
  assert.equal(
    all.filter((code) => code === 'INSUFFICIENT_FUNDS').length,
    100,
    `other outcomes: ${[...new Set(all)].join(', ')}`,
  );
  assert.equal(await balanceOf(funder), 0);
  const stored = await bank.host.store.getAccount('shared');
  assert.deepEqual(
    { balanceCents: stored?.balanceCents, heldCents: stored?.heldCents },
    { balanceCents: 0, heldCents: 0 },
  );
  assert.deepEqual(await bank.host.store.listOpenHolds(), []);

  const shared = auditRecords(bank.dataDir).filter((record) => record.username === 'shared');
  const holds = shared.filter((record) => record.action === 'withdraw.hold');
  assert.equal(holds.length, 200);
  assert.equal(holds.filter((record) => record.outcome === 'ok').length, 100);
  assert.equal(holds.filter((record) => record.outcome === 'INSUFFICIENT_FUNDS').length, 100);
  const posts = shared.filter((record) => record.action === 'withdraw.post');
  assert.equal(posts.length, 100);
  assert.ok(posts.every((record) => record.outcome === 'ok' && record.amountCents === 100));
  assertAuditVerifies(bank.dataDir);
});

test('a repeated deposit txnId credits once and returns the first answer, even after a restart', async (t) => {
  const bank = await start(t);
  // [ATM-4.2] The same txnId with the same content: the first answer again, with the new id.
  const first = await session(t, bank, 'idem');
  const original = expectOk(await first.request({ op: 'deposit', txnId: 'idem-dep-0001', amountCents: 2500 }));
  const repeat = expectOk(await first.request({ op: 'deposit', txnId: 'idem-dep-0001', amountCents: 2500 }));
  assert.notEqual(repeat.id, original.id, 'the repeat echoes its own request id');
  assert.deepEqual(withoutId(repeat), withoutId(original));
  assert.equal(await balanceOf(first), 2500);

  await bank.restart();
  const second = await session(t, bank, 'idem');
  assert.deepEqual(
    withoutId(expectOk(await second.request({ op: 'deposit', txnId: 'idem-dep-0001', amountCents: 2500 }))),
    withoutId(original),
  );
  assert.equal(await balanceOf(second), 2500);

  // [ATM-4.7] DUPLICATE_TXN: the same id for a different request is neither new nor a repeat.
  expectDecline(await second.request({ op: 'deposit', txnId: 'idem-dep-0001', amountCents: 9999 }), 'DUPLICATE_TXN');
  expectDecline(
    await second.request({ op: 'withdraw.hold', txnId: 'idem-dep-0001', amountCents: 2500 }),
    'DUPLICATE_TXN',
  );
  assert.equal(await balanceOf(second), 2500);
  const deposits = auditRecords(bank.dataDir).filter(
    (record) => record.txnId === 'idem-dep-0001' && record.action === 'deposit',
  );
  assert.deepEqual(
    deposits.map((record) => [record.outcome, record.detail !== undefined]),
    [
      ['ok', false],
      ['replayed', true],
      ['replayed', true],
      ['DUPLICATE_TXN', false],
    ],
  );
});

test('[ATM-4.15] deposit.resolve: a lost answer asked again without a login is answered once, an unseen id is credited once', async (t) => {
  const bank = await start(t);
  const customer = await session(t, bank, 'resolver');
  await session(t, bank, 'other');
  const original = expectOk(await customer.request({ op: 'deposit', txnId: 'resolve-0001', amountCents: 6000 }));
  // The link dropped: a new session with no customer asks again under the same id.
  const kiosk = await session(t, bank);
  const resolve = { op: 'deposit.resolve', txnId: 'resolve-0001', username: 'resolver', amountCents: 6000 } as const;
  assert.deepEqual(withoutId(expectOk(await kiosk.request(resolve))), withoutId(original));
  // The power cut came before the request left: the bank never saw the id, and credits it now, once.
  const unseen = { ...resolve, txnId: 'resolve-0002', amountCents: 2000 };
  expectOk(await kiosk.request(unseen));
  expectOk(await kiosk.request(unseen));
  assert.equal(await balanceOf(customer), 8000);
  // The same id for other content, another customer's session, an unknown name: refused, nothing moves.
  expectDecline(await kiosk.request({ ...resolve, amountCents: 6500 }), 'DUPLICATE_TXN');
  const other = await session(t, bank, 'other');
  expectDecline(await other.request({ ...resolve, txnId: 'resolve-0003' }), 'NOT_LOGGED_IN');
  expectDecline(
    await kiosk.request({ ...resolve, txnId: 'resolve-0004', username: 'nobody-here' }),
    'INVALID_USERNAME',
  );
  assert.equal(await balanceOf(customer), 8000);
  const records = auditRecords(bank.dataDir).filter((record) => record.txnId?.startsWith('resolve-') === true);
  assert.deepEqual(
    records.map((record) => [record.action, record.txnId, record.outcome]),
    [
      ['deposit', 'resolve-0001', 'ok'],
      ['deposit.resolve', 'resolve-0001', 'replayed'],
      ['deposit.resolve', 'resolve-0002', 'ok'],
      ['deposit.resolve', 'resolve-0002', 'replayed'],
      ['deposit.resolve', 'resolve-0001', 'DUPLICATE_TXN'],
      ['deposit.resolve', 'resolve-0003', 'NOT_LOGGED_IN'],
      ['deposit.resolve', 'resolve-0004', 'INVALID_USERNAME'],
    ],
  );
  assertAuditVerifies(bank.dataDir);
});

test('a repeated hold returns the same hold and reserves once; a repeated post debits once', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank, 'holdrepeat');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'hr-dep-0001', amountCents: 5000 }));
  const hold = expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'hr-wd-00001', amountCents: 1000 }));
  const again = expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'hr-wd-00001', amountCents: 1000 }));
  assert.deepEqual(withoutId(again), withoutId(hold));
  assert.equal(again.holdExpiresAt, hold.holdExpiresAt);
  assert.equal(await balanceOf(kiosk), 4000);
  expectDecline(await kiosk.request({ op: 'withdraw.hold', txnId: 'hr-wd-00001', amountCents: 999 }), 'DUPLICATE_TXN');

  const post = expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'hr-wd-00001', dispensedCents: 1000 }));
  const postAgain = expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'hr-wd-00001', dispensedCents: 1000 }));
  assert.deepEqual(withoutId(postAgain), withoutId(post));
  assert.equal(await balanceOf(kiosk), 4000);
  expectDecline(
    await kiosk.request({ op: 'withdraw.post', txnId: 'hr-wd-00001', dispensedCents: 500 }),
    'DUPLICATE_TXN',
  );
  expectDecline(
    await kiosk.request({ op: 'withdraw.void', txnId: 'hr-wd-00001', reason: 'too late' }),
    'DUPLICATE_TXN',
  );
  assert.equal(await balanceOf(kiosk), 4000);
});

test('a hold then a void leaves the balance unchanged, and both are audited', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank, 'voider');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'vd-dep-0001', amountCents: 20000 }));
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'vd-wd-00001', amountCents: 5000 }));
  assert.equal(await balanceOf(kiosk), 15000, 'the hold makes the money unavailable');
  const voided = expectOk(await kiosk.request({ op: 'withdraw.void', txnId: 'vd-wd-00001', reason: 'dispenser jam' }));
  assert.deepEqual(
    { postedCents: voided.postedCents, balanceCents: voided.balanceCents },
    { postedCents: 0, balanceCents: 20000 },
  );
  assert.equal(await balanceOf(kiosk), 20000);
  expectDecline(
    await kiosk.request({ op: 'withdraw.post', txnId: 'vd-wd-00001', dispensedCents: 5000 }),
    'UNKNOWN_TXN',
  );
  assert.equal(await balanceOf(kiosk), 20000);
  const stored = await bank.host.store.getAccount('voider');
  assert.deepEqual(
    { balanceCents: stored?.balanceCents, heldCents: stored?.heldCents },
    { balanceCents: 20000, heldCents: 0 },
  );

  const trail = auditRecords(bank.dataDir)
    .filter((record) => record.txnId === 'vd-wd-00001')
    .map((record) => [record.action, record.outcome, record.detail ?? null]);
  assert.deepEqual(trail, [
    ['withdraw.hold', 'ok', null],
    ['withdraw.void', 'ok', 'dispenser jam'],
    ['withdraw.post', 'UNKNOWN_TXN', 'post after void: reconcile'],
  ]);
});

test('a partial dispense posts exactly what came out and releases the rest of the hold', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank, 'partial');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'pt-dep-0001', amountCents: 25000 }));
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'pt-wd-00001', amountCents: 10000 }));
  assert.equal(await balanceOf(kiosk), 15000);
  expectDecline(
    await kiosk.request({ op: 'withdraw.post', txnId: 'pt-wd-00001', dispensedCents: 10001 }),
    'INVALID_AMOUNT',
  );
  const posted = expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'pt-wd-00001', dispensedCents: 6000 }));
  assert.deepEqual(
    { postedCents: posted.postedCents, balanceCents: posted.balanceCents },
    { postedCents: 6000, balanceCents: 19000 },
  );
  assert.equal(await balanceOf(kiosk), 19000);
  const stored = await bank.host.store.getAccount('partial');
  assert.deepEqual(
    {
      balanceCents: stored?.balanceCents,
      heldCents: stored?.heldCents,
      withdrawnTodayCents: stored?.withdrawnTodayCents,
    },
    { balanceCents: 19000, heldCents: 0, withdrawnTodayCents: 6000 },
  );
  assert.deepEqual(await bank.host.store.listOpenHolds(), []);
});

test('a hold never settled is voided by the sweep once its timeout has passed, not before', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, { nowMs: clock.nowMs, holdTimeoutMs: MINUTE_MS });
  const kiosk = await session(t, bank, 'sweepme');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'sw-dep-0001', amountCents: 10000 }));
  const hold = expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'sw-wd-00001', amountCents: 4000 }));
  assert.equal(hold.holdExpiresAt, new Date(clock.ms + MINUTE_MS).toISOString());

  clock.advance(MINUTE_MS - 1);
  assert.equal(await bank.host.sweep(), 0, 'not voided before expiry');
  assert.equal(await balanceOf(kiosk), 6000);
  assert.equal((await bank.host.store.getTxn('sw-wd-00001'))?.state, 'held');

  clock.advance(2);
  assert.equal(await bank.host.sweep(), 1);
  assert.equal(await bank.host.sweep(), 0, 'a voided hold is not voided twice');
  assert.equal(await balanceOf(kiosk), 10000);
  assert.equal((await bank.host.store.getTxn('sw-wd-00001'))?.state, 'voided');
  assert.deepEqual(await bank.host.store.listOpenHolds(), []);

  // [ATM-4.7] UNKNOWN_TXN: a dispense reported after the bank gave up moves nothing, and the
  // audit record flags it for reconciliation.
  expectDecline(
    await kiosk.request({ op: 'withdraw.post', txnId: 'sw-wd-00001', dispensedCents: 4000 }),
    'UNKNOWN_TXN',
  );
  assert.equal(await balanceOf(kiosk), 10000);
  const stored = await bank.host.store.getAccount('sweepme');
  assert.deepEqual(
    { balanceCents: stored?.balanceCents, heldCents: stored?.heldCents },
    { balanceCents: 10000, heldCents: 0 },
  );
  const trail = auditRecords(bank.dataDir)
    .filter((record) => record.txnId === 'sw-wd-00001')
    .map((record) => [record.action, record.outcome, record.detail ?? null]);
  assert.deepEqual(trail, [
    ['withdraw.hold', 'ok', null],
    ['withdraw.void', 'ok', 'hold expired unsettled'],
    ['withdraw.post', 'UNKNOWN_TXN', 'post after void: reconcile'],
  ]);
});

test('bad input gets its decline code, moves no money, and the bank keeps serving', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank, 'badinput');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'bi-dep-0001', amountCents: 1000 }));
  // [ATM-4.3] Each request is checked against a closed schema at the boundary; [ATM-4.6] a
  // field-level failure maps to the decline a person can act on. Raw bytes carry what JSON.stringify cannot.
  // A body that is not JSON has no id to echo, so the bank answers with id 0.
  const raw = (json: string, id: number): Promise<Response> => kiosk.requestRaw(Buffer.from(json, 'utf8'), id);
  const cases: [string, () => Promise<Response>, DeclineCode][] = [
    [
      'negative amount',
      () => kiosk.request({ op: 'deposit', txnId: 'bi-dep-neg1', amountCents: -500 }),
      'INVALID_AMOUNT',
    ],
    ['zero amount', () => kiosk.request({ op: 'deposit', txnId: 'bi-dep-zero', amountCents: 0 }), 'INVALID_AMOUNT'],
    [
      'fractional cent',
      () => kiosk.request({ op: 'deposit', txnId: 'bi-dep-frac', amountCents: 1.5 }),
      'INVALID_AMOUNT',
    ],
    [
      '2^53 + 2',
      () => kiosk.request({ op: 'deposit', txnId: 'bi-dep-huge', amountCents: 2 ** 53 + 2 }),
      'INVALID_AMOUNT',
    ],
    [
      'string amount',
      () => kiosk.request({ op: 'deposit', txnId: 'bi-dep-strg', amountCents: 'abc' as unknown as number }),
      'INVALID_AMOUNT',
    ],
    ['"NaN"', () => raw('{"id":7,"op":"deposit","txnId":"abcdefgh1","amountCents":"NaN"}', 7), 'INVALID_AMOUNT'],
    [
      'null (what JSON.stringify makes of NaN)',
      () => raw('{"id":8,"op":"deposit","txnId":"abcdefgh2","amountCents":null}', 8),
      'INVALID_AMOUNT',
    ],
    [
      '1e400 (Infinity once parsed)',
      () => raw('{"id":9,"op":"deposit","txnId":"abcdefgh3","amountCents":1e400}', 9),
      'INVALID_AMOUNT',
    ],
    [
      'negative hold',
      () => kiosk.request({ op: 'withdraw.hold', txnId: 'bi-wd-neg01', amountCents: -100 }),
      'INVALID_AMOUNT',
    ],
    [
      'username of 33 chars',
      () => kiosk.request({ op: 'register', username: 'a'.repeat(33), password: TEST_PASSWORD }),
      'INVALID_USERNAME',
    ],
    [
      'username with bad chars',
      () => kiosk.request({ op: 'register', username: 'bad name!', password: TEST_PASSWORD }),
      'INVALID_USERNAME',
    ],
    [
      'username of 2 chars',
      () => kiosk.request({ op: 'register', username: 'ab', password: TEST_PASSWORD }),
      'INVALID_USERNAME',
    ],
    [
      'username of 100 chars (schema)',
      () => kiosk.request({ op: 'register', username: 'b'.repeat(100), password: TEST_PASSWORD }),
      'INVALID_USERNAME',
    ],
    [
      'password of 73 bytes',
      () => kiosk.request({ op: 'register', username: 'longpass', password: 'p'.repeat(73) }),
      'WEAK_PASSWORD',
    ],
    [
      'password of 37 chars but 74 bytes',
      () => kiosk.request({ op: 'register', username: 'longpass', password: 'é'.repeat(37) }),
      'WEAK_PASSWORD',
    ],
    [
      'password of 7 bytes',
      () => kiosk.request({ op: 'register', username: 'shortpass', password: 'p'.repeat(7) }),
      'WEAK_PASSWORD',
    ],
    [
      'password with NUL',
      () => kiosk.request({ op: 'register', username: 'nulpass', password: 'abcd\0efgh' }),
      'WEAK_PASSWORD',
    ],
    ['malformed JSON', () => raw('{"id":10,"op":"balance"', 0), 'BAD_REQUEST'],
    [
      'bare NaN literal (not JSON)',
      () => raw('{"id":11,"op":"deposit","txnId":"abcdefgh4","amountCents":NaN}', 0),
      'BAD_REQUEST',
    ],
    ['unknown field', () => raw('{"id":12,"op":"balance","admin":true}', 12), 'BAD_REQUEST'],
    ['unknown op', () => raw('{"id":13,"op":"transfer","to":"mallory"}', 13), 'BAD_REQUEST'],
    ['txnId too short', () => raw('{"id":14,"op":"deposit","txnId":"short","amountCents":100}', 14), 'BAD_REQUEST'],
    ['JSON array', () => raw('[1,2,3]', 0), 'BAD_REQUEST'],
  ];
  for (const [name, send, code] of cases) {
    await t.test(`${name} → ${code}`, async () => {
      expectDecline(await send(), code);
      // The same session carries on, and a fresh session still gets through.
      expectOk(await kiosk.request({ op: 'ping' }));
      const fresh = await bank.connect();
      try {
        expectOk(await fresh.request({ op: 'ping' }));
      } finally {
        fresh.close();
      }
    });
  }
  assert.equal(await balanceOf(kiosk), 1000, 'no bad input moved money');
  for (const username of ['a'.repeat(33), 'ab', 'longpass', 'shortpass', 'nulpass']) {
    assert.equal(await bank.host.store.getAccount(username), null, `${username} was not registered`);
  }

  const anonymous = await session(t, bank);
  expectDecline(await anonymous.request({ op: 'deposit', txnId: 'bi-anon-0001', amountCents: 100 }), 'NOT_LOGGED_IN');
  expectDecline(
    await anonymous.request({ op: 'withdraw.hold', txnId: 'bi-anon-0002', amountCents: 100 }),
    'NOT_LOGGED_IN',
  );
  expectDecline(await anonymous.request({ op: 'balance' }), 'NOT_LOGGED_IN');
  expectOk(await anonymous.request({ op: 'ping' }));
  assertAuditVerifies(bank.dataDir);
});

test('five wrong passwords lock the account for 15 minutes, even against the right password', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, { nowMs: clock.nowMs });
  const kiosk = await session(t, bank);
  expectOk(await kiosk.request({ op: 'register', username: 'locky', password: TEST_PASSWORD }));
  for (let attempt = 1; attempt <= 4; attempt++) {
    // [ATM-4.11] Each failure says how many tries are left before the lock.
    const failed = expectDecline(
      await kiosk.request({ op: 'login', username: 'locky', password: `wrong-password-${attempt}` }),
      'AUTH_FAILED',
    );
    assert.equal(failed.attemptsLeft, 5 - attempt);
  }
  const lockedAtMs = clock.ms;
  // The failure that locks says so at once, with the time it ends.
  const locking = expectDecline(
    await kiosk.request({ op: 'login', username: 'locky', password: 'wrong-password-5' }),
    'ACCOUNT_LOCKED',
  );
  assert.equal(locking.lockedUntil, new Date(lockedAtMs + 15 * MINUTE_MS).toISOString());
  const locked = expectDecline(
    await kiosk.request({ op: 'login', username: 'locky', password: TEST_PASSWORD }),
    'ACCOUNT_LOCKED',
  );
  assert.equal(locked.lockedUntil, new Date(lockedAtMs + 15 * MINUTE_MS).toISOString());
  expectDecline(await kiosk.request({ op: 'balance' }), 'NOT_LOGGED_IN');

  clock.advance(15 * MINUTE_MS - 1_000);
  expectDecline(await kiosk.request({ op: 'login', username: 'locky', password: TEST_PASSWORD }), 'ACCOUNT_LOCKED');
  clock.advance(2_000);
  expectOk(await kiosk.request({ op: 'login', username: 'locky', password: TEST_PASSWORD }));
  assert.equal(await balanceOf(kiosk), 0);

  const logins = auditRecords(bank.dataDir)
    .filter((record) => record.action === 'login')
    .map((record) => record.outcome);
  assert.deepEqual(logins, [
    'AUTH_FAILED',
    'AUTH_FAILED',
    'AUTH_FAILED',
    'AUTH_FAILED',
    'ACCOUNT_LOCKED',
    'ACCOUNT_LOCKED',
    'ACCOUNT_LOCKED',
    'ok',
  ]);
});

test('a successful login resets the failure count', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, { nowMs: clock.nowMs });
  const kiosk = await session(t, bank);
  expectOk(await kiosk.request({ op: 'register', username: 'forgetful', password: TEST_PASSWORD }));
  for (let round = 0; round < 2; round++) {
    for (let attempt = 0; attempt < 4; attempt++)
      expectDecline(
        await kiosk.request({ op: 'login', username: 'forgetful', password: 'not the password' }),
        'AUTH_FAILED',
      );
    expectOk(await kiosk.request({ op: 'login', username: 'forgetful', password: TEST_PASSWORD }));
  }
  expectDecline(
    await kiosk.request({ op: 'login', username: 'forgetful', password: 'not the password' }),
    'AUTH_FAILED',
  );
  expectOk(await kiosk.request({ op: 'login', username: 'forgetful', password: TEST_PASSWORD }));
});

test('the failed-login count and the lock survive a bank restart', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, { nowMs: clock.nowMs });
  const first = await session(t, bank);
  expectOk(await first.request({ op: 'register', username: 'persist', password: TEST_PASSWORD }));
  for (let attempt = 0; attempt < 3; attempt++)
    expectDecline(await first.request({ op: 'login', username: 'persist', password: 'wrong-password' }), 'AUTH_FAILED');

  await bank.restart();
  const second = await session(t, bank);
  assert.equal(
    expectDecline(await second.request({ op: 'login', username: 'persist', password: 'wrong-password' }), 'AUTH_FAILED')
      .attemptsLeft,
    1,
  );
  expectDecline(
    await second.request({ op: 'login', username: 'persist', password: 'wrong-password' }),
    'ACCOUNT_LOCKED',
  );
  expectDecline(await second.request({ op: 'login', username: 'persist', password: TEST_PASSWORD }), 'ACCOUNT_LOCKED');

  await bank.restart();
  const third = await session(t, bank);
  expectDecline(await third.request({ op: 'login', username: 'persist', password: TEST_PASSWORD }), 'ACCOUNT_LOCKED');
  clock.advance(15 * MINUTE_MS + 1_000);
  expectOk(await third.request({ op: 'login', username: 'persist', password: TEST_PASSWORD }));
});

test('an unknown user, a bad name and a bad password get the identical AUTH_FAILED; a wrong password also says the tries left', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank);
  expectOk(await kiosk.request({ op: 'register', username: 'known', password: TEST_PASSWORD }));
  // [ATM-4.7] AUTH_FAILED: an unknown name, or a name or password that breaks the rules, look the
  // same. A wrong password of an existing account adds the tries left ([ATM-4.11]): that tells
  // the account exists, as sign-up's USERNAME_TAKEN does anyway (PROTOCOL.md, limitations).
  const wrongPassword = expectDecline(
    await kiosk.request({ op: 'login', username: 'known', password: 'wrong-password' }),
    'AUTH_FAILED',
  );
  const unknownUser = expectDecline(
    await kiosk.request({ op: 'login', username: 'nobody', password: 'wrong-password' }),
    'AUTH_FAILED',
  );
  const invalidName = expectDecline(
    await kiosk.request({ op: 'login', username: 'x', password: 'wrong-password' }),
    'AUTH_FAILED',
  );
  const invalidPassword = expectDecline(
    await kiosk.request({ op: 'login', username: 'known', password: 'short' }),
    'AUTH_FAILED',
  );
  assert.deepEqual(withoutId(invalidName), withoutId(unknownUser));
  assert.deepEqual(withoutId(invalidPassword), withoutId(unknownUser));
  assert.equal(unknownUser.attemptsLeft, undefined);
  assert.deepEqual(withoutId(wrongPassword), { ...withoutId(unknownUser), attemptsLeft: 4 });
  assert.equal(wrongPassword.lockedUntil, undefined);
});

test('a failed durable write (disk full) answers INTERNAL, moves nothing, and the audit chain stays whole', async (t) => {
  const store = new MemoryLedgerStore();
  const bank = await start(t, { store });
  const kiosk = await session(t, bank, 'diskfull');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'df-dep-0001', amountCents: 1000 }));

  // [ATM-4.7] INTERNAL: the durable write failed, so nothing was acknowledged or moved.
  store.failCommits = true;
  expectDecline(await kiosk.request({ op: 'deposit', txnId: 'df-dep-0002', amountCents: 500 }), 'INTERNAL');
  expectDecline(await kiosk.request({ op: 'withdraw.hold', txnId: 'df-wd-00001', amountCents: 500 }), 'INTERNAL');
  store.failCommits = false;

  assert.equal(await balanceOf(kiosk), 1000);
  assert.equal(await store.getTxn('df-dep-0002'), null, 'the failed deposit left no trace');
  // Nothing of the failed request was kept, so the kiosk's retry is a first attempt.
  assert.equal(
    expectOk(await kiosk.request({ op: 'deposit', txnId: 'df-dep-0002', amountCents: 500 })).balanceCents,
    1500,
  );
  expectOk(await kiosk.request({ op: 'withdraw.hold', txnId: 'df-wd-00001', amountCents: 500 }));
  expectOk(await kiosk.request({ op: 'withdraw.post', txnId: 'df-wd-00001', dispensedCents: 500 }));
  assert.equal(await balanceOf(kiosk), 1000);

  const records = assertAuditVerifies(bank.dataDir);
  assert.equal(records, (await store.getAuditHead()).seq, "audit.log ends at the ledger's head");
  const df2 = auditRecords(bank.dataDir).filter((record) => record.txnId === 'df-dep-0002');
  assert.deepEqual(
    df2.map((record) => record.outcome),
    ['ok'],
    'the refused attempt was never audited as done',
  );
});

/** Every regular file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    return entry.isDirectory() ? filesUnder(full) : entry.isFile() ? [full] : [];
  });
}

test('no secret reaches any data file but keystore.json, and the key files are 0600', async (t) => {
  const bank = await start(t);
  const password = 'Zq7-unique-Pa55phrase!';
  const kiosk = await session(t, bank);
  expectOk(await kiosk.request({ op: 'register', username: 'secretive', password }));
  expectOk(await kiosk.request({ op: 'login', username: 'secretive', password }));
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'sec-dep-0001', amountCents: 4242 }));
  expectOk(await kiosk.request({ op: 'logout' }));
  kiosk.close();

  const keystore = loadKeystore(bank.dataDir);
  const pskHex = bank.kiosk.psk.toString('hex');
  const secrets: [string, Buffer][] = [
    ['password', Buffer.from(password, 'utf8')],
    ['PSK hex', Buffer.from(pskHex, 'ascii')],
    ['PSK hex upper-case', Buffer.from(pskHex.toUpperCase(), 'ascii')],
    ['raw PSK', bank.kiosk.psk],
    ['audit key text', Buffer.from(keystore.auditKey, 'ascii')],
  ];
  const scan = (stage: string): void => {
    const files = filesUnder(bank.dataDir).filter((file) => path.basename(file) !== 'keystore.json');
    const names = files.map((file) => path.relative(bank.dataDir, file));
    assert.ok(names.includes(AUDIT_LOG_FILE) && names.includes('audit.head'), `${stage}: ${names.join(', ')}`);
    assert.ok(
      names.some((name) => name.startsWith('ledger') && /\.(log|ldb)$/.test(name)),
      `${stage}: LevelDB data files present`,
    );
    const contents = files.map((file) => ({ name: path.relative(bank.dataDir, file), bytes: fs.readFileSync(file) }));
    // The scan can see plaintext: the username is a LevelDB key, stored in the clear.
    assert.ok(
      contents.some(({ name, bytes }) => name.startsWith('ledger') && bytes.includes('secretive')),
      `${stage}: the scan reads LevelDB files`,
    );
    assert.ok(
      !contents.some(({ name, bytes }) => name === AUDIT_LOG_FILE && bytes.includes('secretive')),
      `${stage}: audit.log is encrypted`,
    );
    for (const { name, bytes } of contents) {
      for (const [what, secret] of secrets) assert.ok(!bytes.includes(secret), `${stage}: ${what} found in ${name}`);
    }
  };
  await bank.stop();
  scan('after the run (write-ahead log)');
  await bank.restart(); // LevelDB turns its write-ahead log into a table file on open
  await bank.stop();
  scan('after a restart (table files)');

  const mode = (file: string): string => (fs.statSync(file).mode & 0o777).toString(8);
  assert.equal(mode(path.join(bank.dataDir, 'keystore.json')), '600');
  assert.equal(mode(bank.kiosk.keyFile), '600');
  assert.equal(mode(path.join(bank.dataDir, AUDIT_LOG_FILE)), '600');
  assert.equal(mode(bank.dataDir), '700');
});

// ---------------------------------------------------------------------------------------------
// Issue 12: what a customer is told, and sessions renewed without a logout

test('[ATM-4.10] a limit decline says which limit, its value and what is left today', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, {
    nowMs: clock.nowMs,
    limits: { withdrawalCentsMax: 1_000_00, withdrawalCentsMaxDaily: 2_000_00, depositCentsMax: 10_000_00 },
  });
  const kiosk = await session(t, bank, 'limited');
  expectOk(await kiosk.request({ op: 'deposit', txnId: 'lim-dep-0001', amountCents: 5_000_00 }));
  const tooBig = expectDecline(
    await kiosk.request({ op: 'deposit', txnId: 'lim-dep-0002', amountCents: 10_000_01 }),
    'LIMIT_EXCEEDED',
  );
  assert.deepEqual(tooBig.limit, { kind: 'deposit', limitCents: 10_000_00 });
  const perWithdrawal = expectDecline(
    await kiosk.request({ op: 'withdraw.hold', txnId: 'lim-wd-00001', amountCents: 1_000_01 }),
    'LIMIT_EXCEEDED',
  );
  assert.deepEqual(perWithdrawal.limit, { kind: 'withdrawal', limitCents: 1_000_00, leftCents: 2_000_00 });
  for (const txnId of ['lim-wd-00002', 'lim-wd-00003']) {
    expectOk(await kiosk.request({ op: 'withdraw.hold', txnId, amountCents: 800_00 }));
    expectOk(await kiosk.request({ op: 'withdraw.post', txnId, dispensedCents: 800_00 }));
  }
  const daily = expectDecline(
    await kiosk.request({ op: 'withdraw.hold', txnId: 'lim-wd-00004', amountCents: 500_00 }),
    'LIMIT_EXCEEDED',
  );
  assert.deepEqual(daily.limit, { kind: 'withdrawalDaily', limitCents: 2_000_00, leftCents: 400_00 });
  // A retry of the declined id gets the same answer, detail included.
  assert.deepEqual(
    withoutId(
      expectDecline(
        await kiosk.request({ op: 'withdraw.hold', txnId: 'lim-wd-00004', amountCents: 500_00 }),
        'LIMIT_EXCEEDED',
      ),
    ),
    withoutId(daily),
  );
});

test('[ATM-4.9] username.check: a free name is ok, a taken or malformed one declined, before any password', async (t) => {
  const bank = await start(t);
  const kiosk = await session(t, bank);
  expectOk(await kiosk.request({ op: 'register', username: 'taken', password: TEST_PASSWORD }));
  assert.equal(expectOk(await kiosk.request({ op: 'username.check', username: 'Free.Name' })).username, 'free.name');
  expectDecline(await kiosk.request({ op: 'username.check', username: 'TAKEN' }), 'USERNAME_TAKEN');
  expectDecline(await kiosk.request({ op: 'username.check', username: 'no' }), 'INVALID_USERNAME');
});

test('[ATM-4.9] ping reports what is left of the session; a hand-over token carries the login to a new session once', async (t) => {
  const clock = new FakeClock();
  const bank = await start(t, { nowMs: clock.nowMs, timeouts: { lifetimeMs: 60_000 } });
  const old = await session(t, bank, 'renewer');
  expectOk(await old.request({ op: 'deposit', txnId: 'renew-dep-01', amountCents: 1234 }));
  clock.advance(10_000);
  assert.equal(expectOk(await old.request({ op: 'ping' })).sessionLeftMs, 50_000);

  const handover = expectOk(await old.request({ op: 'session.handover' }));
  assert.match(handover.resumeToken ?? '', /^[A-Za-z0-9_-]{43}$/);
  const token = handover.resumeToken as string;
  // Another kiosk cannot redeem it (and its attempt does not spend it).
  const other = bank.addKiosk('kiosk-other');
  const stranger = await bank.connect({ kioskId: other.kioskId, psk: other.psk });
  t.after(() => stranger.close());
  expectDecline(await stranger.request({ op: 'session.resume', token }), 'NOT_LOGGED_IN');
  expectDecline(await stranger.request({ op: 'balance' }), 'NOT_LOGGED_IN');

  const fresh = await session(t, bank);
  assert.equal(expectOk(await fresh.request({ op: 'session.resume', token })).username, 'renewer');
  assert.equal(await balanceOf(fresh), 1234);
  // Once only: a second redemption (a replay) is refused.
  const again = await session(t, bank);
  expectDecline(await again.request({ op: 'session.resume', token }), 'NOT_LOGGED_IN');
  // Nobody logged in: nothing to carry, no token, no decline.
  assert.equal(expectOk(await again.request({ op: 'session.handover' })).resumeToken, undefined);

  // A token past its 30 s is refused.
  const late = expectOk(await fresh.request({ op: 'session.handover' })).resumeToken as string;
  clock.advance(30_001);
  const after = await session(t, bank);
  expectDecline(await after.request({ op: 'session.resume', token: late }), 'NOT_LOGGED_IN');
  expectDecline(await after.request({ op: 'session.resume', token: 'x'.repeat(42) }), 'BAD_REQUEST');
  const actions = auditRecords(bank.dataDir)
    .filter((record) => record.action.startsWith('session.'))
    .map((record) => `${record.action} ${record.outcome}`);
  assert.deepEqual(actions, [
    'session.handover ok',
    'session.resume NOT_LOGGED_IN',
    'session.resume ok',
    'session.resume NOT_LOGGED_IN',
    'session.handover ok',
    'session.resume NOT_LOGGED_IN',
  ]);
});
