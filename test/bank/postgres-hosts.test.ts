// Several bank hosts on one PostgreSQL ledger (issue 16): a real cluster started by the test
// (initdb in a temp dir, a Unix socket, a free port), real `startBankHost`s on loopback, the
// kiosk's own client. What must hold when hosts share a ledger: no overdraft however the
// requests are split, one audit chain that verifies, holds any host can settle or sweep, a
// lost lock that cannot overwrite a newer write, a lost COMMIT answer resolved before replying.
import { after, before, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  LogLineObserver,
  PgLedgerStore,
  auditKeyOf,
  decryptAuditToken,
  initKeystore,
  loadKeystore,
  silentObserver,
  startBankHost,
  verifyAuditRecords,
  type AuditRecord,
  type BankHost,
  type BankHostOptions,
} from '../../bank/index.js';
import { PgGroupCommitter } from '../../bank/pg-commit.js';
import { BankConnection, type FernetKey } from '../../protocol/index.js';
import type { DeclineResponse } from '../../protocol/messages.js';
import type { OkResponse } from '../../protocol/responses.js';
import { TEST_PASSWORD, makeTempDir } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { DatabaseFrontDoor, TestPostgres, networkDataDirs } from '../helpers/postgres.js';
import { eventually } from '../helpers/wait.js';

let postgres: TestPostgres;
before(async () => {
  postgres = await TestPostgres.start();
});
after(() => postgres.stop());

interface Network {
  url: string;
  hosts: BankHost[];
  psk: Buffer;
  auditKey: FernetKey;
  connect(hostIndex: number): Promise<BankConnection>;
  loginAs(hostIndex: number, username: string): Promise<BankConnection>;
  records(): Promise<AuditRecord[]>;
  verify(): Promise<void>;
}

/** N hosts, each with its own data dir holding a copy of one keystore, on one fresh database. */
async function network(t: TestContext, count: number, options: Partial<BankHostOptions> = {}): Promise<Network> {
  const url = await postgres.freshDatabase();
  const root = makeTempDir('atm-pg-hosts-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const { dirs, psks } = networkDataDirs(root, count, ['kiosk-01']);
  const hosts: BankHost[] = [];
  for (const [index, dataDir] of dirs.entries()) {
    const host = await startBankHost({
      dataDir,
      port: 0,
      storeUrl: url,
      hostId: `bank-${index}`,
      pg: { poolSize: 8 },
      bcryptCost: 4,
      observer:
        process.env.ATM_TEST_LOG === '1'
          ? new LogLineObserver((line) => process.stderr.write(`${line}\n`))
          : silentObserver,
      sweepIntervalMs: 0,
      serverLimits: { sessionsPerKioskMax: 256, handshakesPerSecondPerKiosk: 10_000, handshakeBurstPerKiosk: 10_000 },
      loginsPerSecondPerKiosk: 10_000,
      loginBurstPerKiosk: 10_000,
      ...options,
    });
    hosts.push(host);
    t.after(() => host.close());
  }
  const psk = psks.get('kiosk-01') as Buffer;
  const auditKey = auditKeyOf(loadKeystore(dirs[0] as string));
  const net: Network = {
    url,
    hosts,
    psk,
    auditKey,
    async connect(hostIndex) {
      const connection = await BankConnection.connect({
        host: '127.0.0.1',
        port: (hosts[hostIndex] as BankHost).port,
        kioskId: 'kiosk-01',
        psk,
        nowMs: options.nowMs,
      });
      t.after(() => connection.close());
      return connection;
    },
    async loginAs(hostIndex, username) {
      const connection = await net.connect(hostIndex);
      const registered = await connection.request({ op: 'register', username, password: TEST_PASSWORD });
      if (!registered.ok && registered.code !== 'USERNAME_TAKEN') throw new Error(`register: ${registered.code}`);
      expectOk(await connection.request({ op: 'login', username, password: TEST_PASSWORD }));
      return connection;
    },
    async records() {
      const store = hosts[0]?.store as PgLedgerStore;
      const tokens = await store.listAuditTokensAfter(0);
      return tokens.map(({ token }) => decryptAuditToken(auditKey, token) as AuditRecord);
    },
    async verify() {
      const store = hosts[0]?.store as PgLedgerStore;
      const result = await verifyAuditRecords(
        (afterSeq, limit) => store.auditPage(afterSeq, limit),
        await store.getAuditHead(),
        auditKey,
      );
      assert.ok(result.ok, `the chain verifies: ${result.ok ? '' : `record ${result.badRecord}: ${result.reason}`}`);
    },
  };
  return net;
}

function expectOk<Approval extends OkResponse>(response: Approval | DeclineResponse): Approval {
  assert.ok(response.ok, `expected ok, got ${response.ok ? '' : `${response.code}: ${response.message}`}`);
  return response;
}

/** An account and its audit entry, written straight through a store's committer (no bank in front). */
function directWrite(username: string, balanceCents: number) {
  const account = {
    username,
    passwordHash: '$2b$04$x',
    balanceCents,
    heldCents: 0,
    failedLogins: 0,
    lockedUntilMs: 0,
    withdrawnDay: '2026-12-06',
    withdrawnTodayCents: 0,
    createdAtMs: 1,
  };
  const entry = { kioskId: 'kiosk-01', username, action: 'deposit' as const, outcome: 'ok' as const };
  return { account, entry };
}

/** Resolves once a COMMIT in `database` waits for its synchronous standby. */
function commitWaiting(database: string, what: string): Promise<true> {
  return eventually(
    async () => {
      const waiting = await postgres.sql(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event = 'SyncRep' AND datname = $1",
        [database],
      );
      return (waiting.rows[0] as { n: number }).n > 0 ? true : null;
    },
    what,
    10_000,
    20,
  );
}

/** An audit key from a throw-away keystore, whose folder goes when the test ends. */
function auditKeyFor(t: TestContext): FernetKey {
  const dir = makeTempDir('atm-pg-key-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return auditKeyOf(initKeystore(dir).keystore);
}

test('two hosts, one database: 200 concurrent withdrawals of 1.00 split across them against 100.00, exactly 100 succeed, one chain', async (t) => {
  const net = await network(t, 2);
  const funder = await net.loginAs(0, 'shared');
  expectOk(await funder.request({ op: 'deposit', txnId: 'shared-fund-1', amountCents: 100_00 }));

  const SESSIONS_PER_HOST = 20;
  const WITHDRAWALS_PER_SESSION = 5;
  const sessions = await Promise.all(
    Array.from({ length: 2 * SESSIONS_PER_HOST }, (_, index) => net.loginAs(index % 2, 'shared')),
  );
  const outcomes = await Promise.all(
    sessions.map(async (session, sessionIndex) => {
      const codes: string[] = [];
      for (let k = 0; k < WITHDRAWALS_PER_SESSION; k++) {
        const txnId = `split-${sessionIndex}-${k}`;
        const hold = await session.request({ op: 'withdraw.hold', txnId, amountCents: 100 });
        if (!hold.ok) {
          codes.push(hold.code);
          continue;
        }
        expectOk(await session.request({ op: 'withdraw.post', txnId, dispensedCents: 100 }));
        codes.push('ok');
      }
      return codes;
    }),
  );
  const all = outcomes.flat();
  assert.equal(all.length, 200);
  assert.equal(all.filter((code) => code === 'ok').length, 100, `outcomes: ${[...new Set(all)].join(', ')}`);
  assert.equal(all.filter((code) => code === 'INSUFFICIENT_FUNDS').length, 100);
  // Both hosts served successful withdrawals: the split was real.
  const okPerHost = [0, 1].map((host) =>
    outcomes
      .filter((_, i) => i % 2 === host)
      .flat()
      .filter((c) => c === 'ok'),
  );
  assert.ok(
    okPerHost.every((list) => list.length > 0),
    `ok per host: ${okPerHost.map((l) => l.length).join(', ')}`,
  );

  for (const host of net.hosts) {
    const stored = await host.store.getAccount('shared');
    assert.deepEqual({ balance: stored?.balanceCents, held: stored?.heldCents }, { balance: 0, held: 0 });
  }
  assert.deepEqual(await net.hosts[1]?.store.listOpenHolds(), []);

  const shared = (await net.records()).filter((record) => record.username === 'shared');
  const holds = shared.filter((record) => record.action === 'withdraw.hold');
  assert.equal(holds.length, 200);
  assert.equal(holds.filter((record) => record.outcome === 'ok').length, 100);
  const posts = shared.filter((record) => record.action === 'withdraw.post' && record.outcome === 'ok');
  assert.equal(posts.length, 100);
  await net.verify();
  const hostIds = await postgres.sql('SELECT DISTINCT host_id FROM audit_records ORDER BY host_id', [], net.url);
  assert.deepEqual(
    hostIds.rows.map((row: { host_id: string }) => row.host_id),
    ['bank-0', 'bank-1'],
  );
});

test('a hold placed on one host is posted through the other; a repeat of its id on either host replays', async (t) => {
  const net = await network(t, 2);
  const a = await net.loginAs(0, 'austin');
  const b = await net.loginAs(1, 'austin');
  expectOk(await a.request({ op: 'deposit', txnId: 'dep-a-0001', amountCents: 50_00 }));
  const replay = expectOk(await b.request({ op: 'deposit', txnId: 'dep-a-0001', amountCents: 50_00 }));
  assert.equal(replay.balanceCents, 50_00, 'the first answer again, nothing credited twice');
  expectOk(await a.request({ op: 'withdraw.hold', txnId: 'wd-a-00001', amountCents: 20_00 }));
  const posted = expectOk(await b.request({ op: 'withdraw.post', txnId: 'wd-a-00001', dispensedCents: 20_00 }));
  assert.equal(posted.balanceCents, 30_00);
  const again = expectOk(await a.request({ op: 'withdraw.post', txnId: 'wd-a-00001', dispensedCents: 20_00 }));
  assert.equal(again.balanceCents, 30_00);
  const account = await net.hosts[0]?.store.getAccount('austin');
  assert.equal(account?.balanceCents, 30_00);
  const outcomes = (await net.records())
    .filter((r) => r.txnId === 'dep-a-0001' || r.txnId === 'wd-a-00001')
    .map((r) => `${r.action} ${r.outcome}`);
  assert.deepEqual(outcomes, [
    'deposit ok',
    'deposit replayed',
    'withdraw.hold ok',
    'withdraw.post ok',
    'withdraw.post replayed',
  ]);
  await net.verify();
});

test('expired holds are voided once when both hosts sweep at the same moment', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 11, 6, 9, 0, 0));
  const net = await network(t, 2, { nowMs: clock.nowMs, holdTimeoutMs: 60_000 });
  const session = await net.loginAs(0, 'sweepme');
  expectOk(await session.request({ op: 'deposit', txnId: 'sw-dep-0001', amountCents: 100_00 }));
  for (let i = 0; i < 10; i++)
    expectOk(await session.request({ op: 'withdraw.hold', txnId: `sw-hold-000${i}`, amountCents: 5_00 }));
  assert.equal((await net.hosts[1]?.store.getAccount('sweepme'))?.heldCents, 50_00);
  clock.advance(61_000);
  const voided = await Promise.all(net.hosts.map((host) => host.sweep()));
  assert.equal(
    voided.reduce((sum, n) => sum + n, 0),
    10,
    `voided per host: ${voided.join(', ')}`,
  );
  const account = await net.hosts[0]?.store.getAccount('sweepme');
  assert.deepEqual({ balance: account?.balanceCents, held: account?.heldCents }, { balance: 100_00, held: 0 });
  assert.deepEqual(await net.hosts[0]?.store.listOpenHolds(), []);
  const voids = (await net.records()).filter((r) => r.action === 'withdraw.void');
  assert.equal(voids.length, 10, 'one void record per hold');
  await net.verify();
});

test('a write whose lock was lost (another writer moved the row) is refused, and nothing of it lands', async (t) => {
  const url = await postgres.freshDatabase();
  const store = await PgLedgerStore.open(url, { poolSize: 4, hostId: 'fenced' });
  t.after(() => store.close());
  const other = await PgLedgerStore.open(url, { poolSize: 2, hostId: 'other' });
  t.after(() => other.close());
  const key = auditKeyFor(t);
  const committer = new PgGroupCommitter({ store, url, auditKey: key, nowMs: () => Date.now() });
  t.after(() => committer.close());
  const { account, entry } = directWrite('fenced', 10_00);
  await store.locks.withKeys(['user:fenced'], async () => {
    assert.equal(await store.getAccount('fenced'), null);
    await committer.submit({ accounts: [account] }, [entry]);
  });
  await assert.rejects(
    store.locks.withKeys(['user:fenced'], async () => {
      const read = await store.getAccount('fenced');
      assert.equal(read?.balanceCents, 10_00);
      // Another writer that did not wait for this lock (as after a dropped session) moves the row.
      await other.commit({
        accounts: [{ ...account, balanceCents: 99_00 }],
        txns: [],
        openHoldsAdded: [],
        openHoldsRemoved: [],
        auditTokens: [],
        auditHead: null,
        auditTokensPrunedThrough: 0,
      });
      await committer.submit({ accounts: [{ ...account, balanceCents: 20_00 }] }, [entry]);
    }),
    (error: Error) => (error as { code?: string }).code === 'STALE_WRITE',
  );
  assert.equal((await store.getAccount('fenced'))?.balanceCents, 99_00, 'the newer write stands');
  assert.equal((await store.getAuditHead()).seq, 1, 'the refused write sealed no audit record');
  // An account written without being read under its lock is a handler bug, caught before the database.
  await assert.rejects(
    store.locks.withKeys(['user:nobody'], () =>
      committer.submit({ accounts: [{ ...account, username: 'x' }] }, [entry]),
    ),
    /written without being read under its lock/,
  );
});

test('a bank refuses a database with no ledger schema, and names the command that makes one', async () => {
  const url = await postgres.emptyDatabase();
  const dataDir = makeTempDir('atm-pg-refuse-');
  initKeystore(dataDir);
  await assert.rejects(
    startBankHost({ dataDir, port: 0, storeUrl: url, observer: silentObserver, sweepIntervalMs: 0 }),
    (error: Error) => (error as { code?: string }).code === 'STORE_SCHEMA' && error.message.includes('atm db migrate'),
  );
  await postgres.sql('CREATE TABLE atm_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL)', [], url);
  await postgres.sql("INSERT INTO atm_migrations VALUES (99, 'from a newer bank')", [], url);
  await assert.rejects(
    startBankHost({ dataDir, port: 0, storeUrl: url, observer: silentObserver, sweepIntervalMs: 0 }),
    /newer than this bank knows/,
  );
  fs.rmSync(dataDir, { recursive: true, force: true });
});

test('lockouts, the login budget of a kiosk and hand-over tokens are one across hosts', async (t) => {
  const clock = new FakeClock(Date.UTC(2026, 11, 6, 10, 0, 0));
  const net = await network(t, 2, { nowMs: clock.nowMs, loginsPerSecondPerKiosk: 0.01, loginBurstPerKiosk: 8 });
  const setup = await net.connect(0);
  expectOk(await setup.request({ op: 'register', username: 'guarded', password: TEST_PASSWORD }));
  // Five wrong passwords spread over both hosts lock the account on both.
  const codes: string[] = [];
  for (let i = 0; i < 5; i++) {
    const session = await net.connect(i % 2);
    const answer = await session.request({ op: 'login', username: 'guarded', password: 'wrong password!' });
    codes.push(answer.ok ? 'ok' : answer.code);
  }
  assert.deepEqual(codes, ['AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED', 'AUTH_FAILED', 'ACCOUNT_LOCKED']);
  for (const index of [0, 1]) {
    const session = await net.connect(index);
    const answer = await session.request({ op: 'login', username: 'guarded', password: TEST_PASSWORD });
    assert.equal(answer.ok ? 'ok' : answer.code, 'ACCOUNT_LOCKED', `host ${index}`);
  }
  // The kiosk had a burst of 8 attempts in all (its 7 so far); the next two, one per host, go over it.
  const eighth = await (await net.connect(1)).request({ op: 'username.check', username: 'someone' });
  assert.ok(eighth.ok);
  const ninth = await (await net.connect(0)).request({ op: 'username.check', username: 'someone' });
  assert.equal(ninth.ok ? 'ok' : ninth.code, 'BUSY');
  const tenth = await (await net.connect(1)).request({ op: 'login', username: 'guarded', password: TEST_PASSWORD });
  assert.equal(tenth.ok ? 'ok' : tenth.code, 'BUSY');

  // A session renewed on the other host: the hand-over token works there, once.
  clock.advance(3_600_000); // the lock has passed and the bucket has refilled
  const first = await net.loginAs(0, 'renewer');
  const handover = expectOk(await first.request({ op: 'session.handover' }));
  const token = handover.resumeToken;
  assert.ok(token !== undefined);
  const renewed = await net.connect(1);
  assert.equal(expectOk(await renewed.request({ op: 'session.resume', token })).username, 'renewer');
  const again = await (await net.connect(0)).request({ op: 'session.resume', token });
  assert.equal(again.ok ? 'ok' : again.code, 'NOT_LOGGED_IN', 'a token is spent once, on any host');
});

test('a database connection cut while a lock scope holds it (a fail-over) fails that request, not the bank process', async (t) => {
  const url = await postgres.freshDatabase();
  const store = await PgLedgerStore.open(url, { poolSize: 2, hostId: 'cut' });
  t.after(() => store.close());
  const database = new URL(url).pathname.slice(1);
  await assert.rejects(
    store.locks.withKeys(['user:cut'], async () => {
      assert.equal(await store.getAccount('cut'), null);
      // Between two queries of the scope, the server ends every session of this database.
      await postgres.sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
      await new Promise((resolve) => setTimeout(resolve, 100)); // the 'error' event arrives meanwhile
      return store.getAccount('cut');
    }),
  );
  // The broken connection was not pooled again: the next scope gets a working one.
  const read = await store.locks.withKeys(['user:cut'], () => store.getAccount('cut'));
  assert.equal(read, null);
});

test('a COMMIT whose answer is lost is asked after, not guessed: it landed, so the request succeeds; with no database to ask, OUTCOME_UNKNOWN', async (t) => {
  const url = await postgres.freshDatabase();
  const door = await DatabaseFrontDoor.open(postgres.cluster);
  t.after(() => door.close());
  const database = new URL(url).pathname.slice(1);
  const throughDoor = door.url(database);
  const store = await PgLedgerStore.open(throughDoor, { poolSize: 2, hostId: 'lost-answer' });
  t.after(() => store.close());
  const key = auditKeyFor(t);
  const committer = new PgGroupCommitter({ store, url: throughDoor, auditKey: key, nowMs: () => Date.now() });
  t.after(() => committer.close());
  const { account, entry } = directWrite('lostans', 5_00);
  // Every COMMIT now waits for a synchronous standby that does not exist: the answer never comes.
  const setStandbys = async (names: string): Promise<void> => {
    await postgres.sql(`ALTER SYSTEM SET synchronous_standby_names = '${names}'`);
    await postgres.sql('SELECT pg_reload_conf()');
  };
  await setStandbys('nobody');
  t.after(() => setStandbys(''));
  const submitted = store.locks.withKeys(['user:lostans'], async () => {
    assert.equal(await store.getAccount('lostans'), null);
    await committer.submit({ accounts: [account] }, [entry]);
  });
  await commitWaiting(database, 'the COMMIT waiting for its standby');
  // The connection dies with the COMMIT in flight. PostgreSQL keeps the commit (it is durable
  // locally); the committer must find that out rather than tell the kiosk "declined".
  door.moveTo(postgres.cluster);
  await setStandbys('');
  await submitted;
  assert.equal(committer.outcomesResolved, 1);
  assert.equal((await store.getAccount('lostans'))?.balanceCents, 5_00);
  assert.equal((await store.getAuditHead()).seq, 1);

  // The database unreachable for longer than the window: neither yes nor no.
  const stuck = new PgGroupCommitter({
    store,
    url: throughDoor,
    auditKey: key,
    nowMs: () => Date.now(),
    resolveWindowMs: 300,
  });
  t.after(() => stuck.close());
  await setStandbys('nobody');
  const unknown = store.locks.withKeys(['user:lostans'], async () => {
    const read = await store.getAccount('lostans');
    await stuck.submit({ accounts: [{ ...account, balanceCents: (read?.balanceCents ?? 0) + 1_00 }] }, [entry]);
  });
  await commitWaiting(database, 'the second COMMIT waiting');
  await door.close(); // and nothing answers on the database's address any more
  await assert.rejects(unknown, (error: Error) => (error as { code?: string }).code === 'OUTCOME_UNKNOWN');
  await setStandbys('');
});
