// One contract suite for the LedgerStore seam (bank/store.ts), run against every
// implementation: the in-memory fake, LevelDB in a temp dir and a real PostgreSQL. [DESIGN §4] Atomicity,
// Storage seam. LevelDB-only properties (reopen, the lock) follow the shared suite.
import { after, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Level } from 'level';
import { LevelLedgerStore } from '../../bank/level-store.js';
import { MemoryLedgerStore, type LedgerStore } from '../../bank/store.js';
import { CachedLedgerStore, copyPlain } from '../../bank/cached-store.js';
import {
  EMPTY_AUDIT_HEAD,
  emptyBatch,
  type Account,
  type AuditToken,
  type LedgerBatch,
  type TxnRecord,
} from '../../bank/types.js';
import { makeTempDir } from '../helpers/bank.js';
import { TestPostgres } from '../helpers/postgres.js';
import { PgLedgerStore } from '../../bank/pg-store.js';
import { MIGRATIONS, RECENT_POSTED_SQL, migrate, schemaVersion } from '../../bank/pg-schema.js';
import pg from 'pg';

const NOW_MS = Date.UTC(2026, 10, 27, 12, 0, 0);

/** A store under test plus a way to make its commits fail and to come back afterwards. */
interface StoreHarness {
  readonly store: LedgerStore;
  /** From now on commit() must reject, as with a full disk or a closed handle. */
  breakCommits(): Promise<void>;
  /** Commits work again; everything durably committed before is readable. */
  heal(): Promise<void>;
  dispose(): Promise<void>;
}

function account(username: string, balanceCents: number): Account {
  return {
    username,
    passwordHash: '$2b$04$hash',
    balanceCents,
    heldCents: 0,
    failedLogins: 0,
    lockedUntilMs: 0,
    withdrawnDay: '2026-11-27',
    withdrawnTodayCents: 0,
    createdAtMs: NOW_MS,
  };
}

function txn(txnId: string, username: string, fields: Partial<TxnRecord> = {}): TxnRecord {
  return {
    txnId,
    kind: 'withdraw',
    username,
    kioskId: 'kiosk-01',
    amountCents: 500,
    postedCents: 0,
    state: 'held',
    createdAtMs: NOW_MS,
    holdExpiresAtMs: NOW_MS + 60_000,
    response: { ok: true, txnId, heldCents: 500, holdExpiresAt: new Date(NOW_MS + 60_000).toISOString() },
    ...fields,
  };
}

function batch(fields: Partial<LedgerBatch>): LedgerBatch {
  return { ...emptyBatch(), ...fields };
}

function tokens(fromSeq: number, toSeq: number): AuditToken[] {
  const list: AuditToken[] = [];
  for (let seq = fromSeq; seq <= toSeq; seq++) list.push({ seq, token: `token-${seq}` });
  return list;
}

function storeContract(name: string, build: () => Promise<StoreHarness>): void {
  const open = async (t: TestContext): Promise<StoreHarness> => {
    const harness = await build();
    t.after(() => harness.dispose());
    return harness;
  };

  test(`${name}: a new store is empty and its audit head is EMPTY_AUDIT_HEAD`, async (t) => {
    const { store } = await open(t);
    assert.equal(await store.getAccount('austin'), null);
    assert.equal(await store.getTxn('txn-00000001'), null);
    assert.deepEqual(await store.listOpenHolds(), []);
    assert.deepEqual(await store.getAuditHead(), EMPTY_AUDIT_HEAD);
    assert.deepEqual(await store.getAuditHead(), { seq: 0, hash: '0'.repeat(64) });
    assert.deepEqual(await store.listAuditTokensAfter(0), []);
  });

  test(`${name}: every part of a commit is visible as soon as commit resolves`, async (t) => {
    const { store } = await open(t);
    const head = { seq: 2, hash: 'ab'.repeat(32) };
    await store.commit(
      batch({
        accounts: [account('austin', 15000), account('bob', 7)],
        txns: [txn('txn-00000001', 'austin')],
        openHoldsAdded: ['txn-00000001'],
        auditTokens: tokens(1, 2),
        auditHead: head,
      }),
    );
    assert.deepEqual(await store.getAccount('austin'), account('austin', 15000));
    assert.deepEqual(await store.getAccount('bob'), account('bob', 7));
    assert.deepEqual(await store.getTxn('txn-00000001'), txn('txn-00000001', 'austin'));
    assert.deepEqual(await store.listOpenHolds(), ['txn-00000001']);
    assert.deepEqual(await store.listAuditTokensAfter(0), tokens(1, 2));
    assert.deepEqual(await store.getAuditHead(), head);
  });

  test(`${name}: a later commit replaces an account and a txn by key`, async (t) => {
    const { store } = await open(t);
    await store.commit(batch({ accounts: [account('austin', 15000)], txns: [txn('txn-00000001', 'austin')] }));
    await store.commit(
      batch({
        accounts: [account('austin', 10000)],
        txns: [txn('txn-00000001', 'austin', { state: 'posted', postedCents: 500 })],
      }),
    );
    assert.equal((await store.getAccount('austin'))?.balanceCents, 10000);
    assert.equal((await store.getTxn('txn-00000001'))?.state, 'posted');
  });

  test(`${name}: reads return copies, so mutating one changes nothing stored`, async (t) => {
    const { store } = await open(t);
    const written = account('austin', 15000);
    await store.commit(batch({ accounts: [written] }));
    written.balanceCents = 1;
    const read = await store.getAccount('austin');
    assert.ok(read !== null);
    read.balanceCents = 2;
    assert.equal((await store.getAccount('austin'))?.balanceCents, 15000);
  });

  test(`${name}: a batch with nothing in it changes nothing and resolves`, async (t) => {
    const { store } = await open(t);
    await store.commit(batch({ accounts: [account('austin', 1)], auditHead: { seq: 1, hash: 'cd'.repeat(32) } }));
    await store.commit(emptyBatch());
    assert.equal((await store.getAccount('austin'))?.balanceCents, 1);
    assert.deepEqual(
      await store.getAuditHead(),
      { seq: 1, hash: 'cd'.repeat(32) },
      'a null auditHead leaves the head unchanged',
    );
  });

  test(`${name}: a failed commit writes nothing at all, and commits work again afterwards`, async (t) => {
    const harness = await open(t);
    const head1 = { seq: 1, hash: '11'.repeat(32) };
    await harness.store.commit(
      batch({ accounts: [account('austin', 15000)], auditTokens: tokens(1, 1), auditHead: head1 }),
    );
    await harness.breakCommits();
    await assert.rejects(
      harness.store.commit(
        batch({
          accounts: [account('austin', 0), account('bob', 99)],
          txns: [txn('txn-00000002', 'austin')],
          openHoldsAdded: ['txn-00000002'],
          auditTokens: tokens(2, 3),
          auditHead: { seq: 3, hash: '33'.repeat(32) },
          auditTokensPrunedThrough: 1,
        }),
      ),
      Error,
    );
    await harness.heal();
    const { store } = harness;
    assert.equal((await store.getAccount('austin'))?.balanceCents, 15000);
    assert.equal(await store.getAccount('bob'), null);
    assert.equal(await store.getTxn('txn-00000002'), null);
    assert.deepEqual(await store.listOpenHolds(), []);
    assert.deepEqual(await store.listAuditTokensAfter(0), tokens(1, 1), 'neither the new tokens nor the prune landed');
    assert.deepEqual(await store.getAuditHead(), head1);
    await store.commit(batch({ accounts: [account('bob', 5)] }));
    assert.equal((await store.getAccount('bob'))?.balanceCents, 5);
  });

  test(`${name}: open holds are added and removed by txn id`, async (t) => {
    const { store } = await open(t);
    await store.commit(batch({ openHoldsAdded: ['hold-000a', 'hold-000b', 'hold-000c'] }));
    assert.deepEqual((await store.listOpenHolds()).sort(), ['hold-000a', 'hold-000b', 'hold-000c']);
    await store.commit(batch({ openHoldsRemoved: ['hold-000b'], openHoldsAdded: ['hold-000d'] }));
    assert.deepEqual((await store.listOpenHolds()).sort(), ['hold-000a', 'hold-000c', 'hold-000d']);
    await store.commit(batch({ openHoldsRemoved: ['hold-000a', 'hold-000c', 'hold-000d', 'never-added'] }));
    assert.deepEqual(await store.listOpenHolds(), []);
  });

  test(`${name}: a hold added and removed in one batch is not left open`, async (t) => {
    const { store } = await open(t);
    await store.commit(batch({ openHoldsAdded: ['hold-000a', 'hold-000b'], openHoldsRemoved: ['hold-000a'] }));
    assert.deepEqual(await store.listOpenHolds(), ['hold-000b']);
  });

  test(`${name}: listAuditTokensAfter returns tokens past seq in numeric order`, async (t) => {
    const { store } = await open(t);
    // Committed out of order and across the 9 → 10 and 99 → 100 digit boundaries.
    await store.commit(batch({ auditTokens: [...tokens(95, 101), ...tokens(8, 12)].reverse() }));
    await store.commit(batch({ auditTokens: tokens(1, 7) }));
    const all = await store.listAuditTokensAfter(0);
    assert.deepEqual(
      all.map((t) => t.seq),
      [...Array.from({ length: 12 }, (_, i) => i + 1), 95, 96, 97, 98, 99, 100, 101],
    );
    assert.deepEqual(all[9], { seq: 10, token: 'token-10' });
    assert.deepEqual(await store.listAuditTokensAfter(9), [...tokens(10, 12), ...tokens(95, 101)]);
    assert.deepEqual(await store.listAuditTokensAfter(99), tokens(100, 101));
    assert.deepEqual(await store.listAuditTokensAfter(101), []);
    assert.deepEqual(await store.listAuditTokensAfter(1000), []);
  });

  test(`${name}: auditTokensPrunedThrough deletes the tokens audit.log already has (a store that is the audit log keeps them)`, async (t) => {
    const { store } = await open(t);
    const keeps = store.keepsAuditRecords === true;
    await store.commit(batch({ auditTokens: tokens(1, 5), auditHead: { seq: 5, hash: '55'.repeat(32) } }));
    await store.commit(
      batch({ auditTokens: tokens(6, 7), auditHead: { seq: 7, hash: '77'.repeat(32) }, auditTokensPrunedThrough: 3 }),
    );
    assert.deepEqual(await store.listAuditTokensAfter(0), keeps ? tokens(1, 7) : tokens(4, 7));
    await store.commit(batch({ auditTokensPrunedThrough: 7 }));
    assert.deepEqual(await store.listAuditTokensAfter(0), keeps ? tokens(1, 7) : []);
    assert.deepEqual(await store.getAuditHead(), { seq: 7, hash: '77'.repeat(32) }, 'pruning never moves the head');
  });

  test(`${name}: listRecentPostedTxns lists one account's posted transactions, newest moved first, at most limit`, async (t) => {
    const { store } = await open(t);
    const at = (minutes: number): number => NOW_MS + minutes * 60_000;
    const deposit = (txnId: string, username: string, minutes: number): TxnRecord =>
      txn(txnId, username, {
        kind: 'deposit',
        state: 'posted',
        amountCents: 1_000,
        postedCents: 1_000,
        createdAtMs: at(minutes),
        holdExpiresAtMs: undefined,
      });
    await store.commit(batch({ accounts: [account('austin', 15000), account('bob', 7)] }));
    await store.commit(
      batch({
        txns: [
          deposit('dep-00000001', 'austin', 1),
          // Held at minute 2, posted (300 of 500 dispensed) at minute 9: it moved at minute 9.
          txn('wd-000000002', 'austin', { state: 'posted', postedCents: 300, createdAtMs: at(2), settledAtMs: at(9) }),
          txn('wd-000000003', 'austin', { createdAtMs: at(3) }), // still held: nothing moved
          txn('wd-000000004', 'austin', { state: 'voided', createdAtMs: at(4), settledAtMs: at(5) }),
          txn('wd-000000005', 'austin', { state: 'declined', createdAtMs: at(6) }),
          deposit('dep-00000006', 'austin', 7),
          // Two in one millisecond: the higher txnId (byte order: 'Z' < '_' < 'a') first.
          deposit('dep-0000007Z', 'austin', 8),
          deposit('dep-0000007_', 'austin', 8),
          deposit('dep-00000008', 'bob', 10),
        ],
      }),
    );
    const ids = async (username: string, limit: number): Promise<string[]> =>
      (await store.listRecentPostedTxns(username, limit)).map((record) => record.txnId);
    assert.deepEqual(await ids('austin', 10), [
      'wd-000000002',
      'dep-0000007_',
      'dep-0000007Z',
      'dep-00000006',
      'dep-00000001',
    ]);
    assert.deepEqual(await ids('austin', 2), ['wd-000000002', 'dep-0000007_']);
    assert.deepEqual(await ids('bob', 10), ['dep-00000008']);
    assert.deepEqual(await ids('nobody', 10), []);
    assert.deepEqual(await ids('austi', 10), [], 'a prefix of a name is another name');
    const [posted] = await store.listRecentPostedTxns('austin', 1);
    assert.deepEqual(
      posted,
      txn('wd-000000002', 'austin', { state: 'posted', postedCents: 300, createdAtMs: at(2), settledAtMs: at(9) }),
      'the whole record, as getTxn reads it',
    );
    await assert.rejects(async () => store.listRecentPostedTxns('austin', 0), /limit/);
  });

  test(`${name}: a hold that is posted later joins the list at the time it was posted`, async (t) => {
    const { store } = await open(t);
    await store.commit(batch({ accounts: [account('austin', 15000)] }));
    const hold = txn('wd-000000001', 'austin', { createdAtMs: NOW_MS });
    const deposit = txn('dep-00000002', 'austin', {
      kind: 'deposit',
      state: 'posted',
      postedCents: 500,
      createdAtMs: NOW_MS + 1_000,
    });
    await store.commit(batch({ txns: [hold, deposit], openHoldsAdded: [hold.txnId] }));
    assert.deepEqual(
      (await store.listRecentPostedTxns('austin', 10)).map((record) => record.txnId),
      ['dep-00000002'],
    );
    await store.commit(
      batch({
        txns: [{ ...hold, state: 'posted', postedCents: 500, settledAtMs: NOW_MS + 2_000 }],
        openHoldsRemoved: [hold.txnId],
      }),
    );
    assert.deepEqual(
      (await store.listRecentPostedTxns('austin', 10)).map((record) => record.txnId),
      ['wd-000000001', 'dep-00000002'],
    );
  });
}

storeContract('MemoryLedgerStore', async () => {
  const store = new MemoryLedgerStore();
  return {
    store,
    breakCommits: async () => {
      store.failCommits = true;
    },
    heal: async () => {
      store.failCommits = false;
    },
    dispose: () => store.close(),
  };
});

storeContract('LevelLedgerStore', async () => {
  const root = makeTempDir('atm-store-');
  const location = path.join(root, 'ledger');
  let store: LedgerStore = await LevelLedgerStore.open(location);
  let closed = false;
  return {
    get store() {
      return store;
    },
    // A closed handle is the fault LevelDB lets a test cause: every write must then reject.
    breakCommits: async () => {
      await store.close();
      closed = true;
    },
    heal: async () => {
      store = await LevelLedgerStore.open(location);
      closed = false;
    },
    dispose: async () => {
      if (!closed) await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
});

// One cluster for this file; each test gets a fresh migrated database.
let postgres: Promise<TestPostgres> | null = null;
after(async () => {
  if (postgres !== null) await (await postgres).stop();
});

storeContract('PgLedgerStore', async () => {
  postgres ??= TestPostgres.start();
  const server = await postgres;
  const url = await server.freshDatabase();
  const database = new URL(url).pathname.slice(1);
  let store = await PgLedgerStore.open(url, { poolSize: 4 });
  // The fault a database lets a test cause: it turns read-only (as a demoted primary does) and
  // every session is cut, so each write from then on is refused by the server.
  const cutSessions = (): Promise<unknown> =>
    server.sql('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [database]);
  return {
    get store() {
      return store;
    },
    breakCommits: async () => {
      await server.sql(`ALTER DATABASE ${database} SET default_transaction_read_only = on`);
      await cutSessions();
    },
    heal: async () => {
      await server.sql(`ALTER DATABASE ${database} RESET default_transaction_read_only`);
      await store.close();
      store = await PgLedgerStore.open(url, { poolSize: 4 });
    },
    dispose: () => store.close(),
  };
});

async function levelInTemp(t: TestContext): Promise<{ location: string; store: LevelLedgerStore }> {
  const root = makeTempDir('atm-store-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const location = path.join(root, 'ledger');
  return { location, store: await LevelLedgerStore.open(location) };
}

test('LevelLedgerStore: everything committed survives close and reopen', async (t) => {
  const { location, store } = await levelInTemp(t);
  const head = { seq: 4, hash: '44'.repeat(32) };
  await store.commit(
    batch({
      accounts: [account('austin', 15000)],
      txns: [txn('txn-00000001', 'austin')],
      openHoldsAdded: ['txn-00000001', 'txn-00000002'],
      auditTokens: tokens(1, 4),
      auditHead: head,
    }),
  );
  await store.commit(batch({ openHoldsRemoved: ['txn-00000002'], auditTokensPrunedThrough: 2 }));
  await store.close();
  const reopened = await LevelLedgerStore.open(location);
  t.after(() => reopened.close());
  assert.deepEqual(await reopened.getAccount('austin'), account('austin', 15000));
  assert.deepEqual(await reopened.getTxn('txn-00000001'), txn('txn-00000001', 'austin'));
  assert.deepEqual(await reopened.listOpenHolds(), ['txn-00000001']);
  assert.deepEqual(await reopened.listAuditTokensAfter(0), tokens(3, 4));
  assert.deepEqual(await reopened.getAuditHead(), head);
});

test('LevelLedgerStore: a prune is a mark in the synced batch; the pruned tokens are deleted on disk behind it, also after a crash between the two', async (t) => {
  const { location, store } = await levelInTemp(t);
  await store.commit(batch({ auditTokens: tokens(1, 6), auditHead: { seq: 6, hash: '66'.repeat(32) } }));
  await store.commit(batch({ auditTokensPrunedThrough: 4 }));
  assert.deepEqual(await store.listAuditTokensAfter(0), tokens(5, 6), 'gone for readers as the commit resolves');
  assert.deepEqual(await store.listAuditTokensAfter(5), tokens(6, 6));
  await store.close(); // waits for the background delete
  const raw = new Level<string, unknown>(location, { valueEncoding: 'json' });
  const auditKeys = async (): Promise<string[]> => {
    const keys: string[] = [];
    for await (const key of raw.keys({ gt: 'audit!', lt: 'audit!\xff' })) keys.push(key);
    return keys;
  };
  await raw.open();
  assert.deepEqual(await auditKeys(), ['audit!000000000005', 'audit!000000000006'], 'deleted on disk');
  // Written through classic-level's native batch, read back through level's own JSON encoding.
  assert.equal(store.batchPath, 'native');
  assert.equal(await raw.get('audit!000000000005'), 'token-5');
  assert.deepEqual(await raw.get('meta!auditHead'), { seq: 6, hash: '66'.repeat(32) });
  // A crash after the synced mark but before the delete: the tokens are back on disk.
  await raw.batch(
    [1, 2, 3, 4].map((seq) => ({ type: 'put', key: `audit!${String(seq).padStart(12, '0')}`, value: `token-${seq}` })),
  );
  await raw.close();
  const reopened = await LevelLedgerStore.open(location);
  assert.deepEqual(await reopened.listAuditTokensAfter(0), tokens(5, 6), 'never listed again');
  await reopened.close();
  await raw.open();
  t.after(() => raw.close());
  assert.deepEqual(await auditKeys(), ['audit!000000000005', 'audit!000000000006'], 'and deleted by the next open');
});

test('LevelLedgerStore: a second open of the same directory in this process fails on the lock', async (t) => {
  const { location, store } = await levelInTemp(t);
  t.after(() => store.close());
  await assert.rejects(
    LevelLedgerStore.open(location),
    (error: Error & { code?: string; cause?: { code?: string } }) => {
      assert.equal(error.code ?? '', 'LEVEL_DATABASE_NOT_OPEN');
      assert.equal(error.cause?.code, 'LEVEL_LOCKED');
      return true;
    },
  );
  // The first handle is unharmed by the refused second one.
  await store.commit(batch({ accounts: [account('austin', 1)] }));
  assert.equal((await store.getAccount('austin'))?.balanceCents, 1);
});

test('LevelLedgerStore: a second bank process cannot open a directory that one holds', async (t) => {
  const { location, store } = await levelInTemp(t);
  t.after(() => store.close());
  const storeModule = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bank', 'level-store.js');
  const script = `import(${JSON.stringify(storeModule)}).then(({ LevelLedgerStore }) => LevelLedgerStore.open(process.argv[1]))
    .then(() => { console.log('opened'); process.exit(0); }, (e) => { console.log(e.cause?.code ?? e.code); process.exit(3); });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script, location], {
    encoding: 'utf8',
    timeout: 20_000,
  });
  assert.equal(child.status, 3, `child stdout=${child.stdout} stderr=${child.stderr}`);
  assert.equal(child.stdout.trim(), 'LEVEL_LOCKED');
});

test('LevelLedgerStore: a batch with one unencodable value is refused whole', async (t) => {
  const { store } = await levelInTemp(t);
  t.after(() => store.close());
  await store.commit(batch({ accounts: [account('austin', 15000)] }));
  // JSON cannot carry a BigInt: the encoder throws on the txn op, after the account op was queued.
  const poisoned = { ...txn('txn-00000009', 'austin'), response: { big: 1n } } as unknown as TxnRecord;
  await assert.rejects(
    store.commit(batch({ accounts: [account('austin', 0)], openHoldsAdded: ['txn-00000009'], txns: [poisoned] })),
  );
  assert.equal((await store.getAccount('austin'))?.balanceCents, 15000);
  assert.deepEqual(await store.listOpenHolds(), []);
  assert.equal(await store.getTxn('txn-00000009'), null);
});

/** A posted deposit of `username` made at NOW_MS + `seconds` s. */
function postedDeposit(txnId: string, username: string, seconds: number): TxnRecord {
  return txn(txnId, username, {
    kind: 'deposit',
    state: 'posted',
    postedCents: 500,
    createdAtMs: NOW_MS + seconds * 1_000,
    holdExpiresAtMs: undefined,
  });
}

test('LevelLedgerStore: a ledger written before the posted index is indexed once at open, then never again', async (t) => {
  const root = makeTempDir('atm-store-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const location = path.join(root, 'ledger');
  // The layout before this change: accounts and transactions, no posted! keys, no layout mark.
  const old = new Level<string, unknown>(location, { valueEncoding: 'json' });
  await old.open();
  const oldTxns = [
    ...Array.from({ length: 1_205 }, (_, index) =>
      postedDeposit(`dep-${String(index).padStart(8, '0')}`, 'austin', index),
    ),
    txn('wd-000000001', 'austin', { createdAtMs: NOW_MS + 5_000_000 }), // held: not indexed
    postedDeposit('dep-bob-00001', 'bob', 1),
  ];
  await old.batch([
    { type: 'put', key: 'acct!austin', value: account('austin', 1_205 * 500) },
    { type: 'put', key: 'acct!bob', value: account('bob', 500) },
    ...oldTxns.map((record) => ({ type: 'put' as const, key: `txn!${record.txnId}`, value: record })),
  ]);
  await old.close();

  const store = await LevelLedgerStore.open(location);
  assert.equal(store.backfilledTxns, 1_206, 'every posted transaction, over more than one backfill batch');
  assert.deepEqual(
    (await store.listRecentPostedTxns('austin', 3)).map((record) => record.txnId),
    ['dep-00001204', 'dep-00001203', 'dep-00001202'],
  );
  assert.deepEqual(
    (await store.listRecentPostedTxns('bob', 3)).map((record) => record.txnId),
    ['dep-bob-00001'],
  );
  // A commit after the backfill indexes as it writes.
  await store.commit(batch({ txns: [postedDeposit('dep-new-00001', 'bob', 99_999)] }));
  await store.close();

  const reopened = await LevelLedgerStore.open(location);
  t.after(() => reopened.close());
  assert.equal(reopened.backfilledTxns, 0, 'the layout mark says the index is whole');
  assert.deepEqual(
    (await reopened.listRecentPostedTxns('bob', 3)).map((record) => record.txnId),
    ['dep-new-00001', 'dep-bob-00001'],
  );
});

test('PgLedgerStore: migration 2 adds the posted index to a database at schema 1 with its transactions, and the statement query walks it', async (t) => {
  postgres ??= TestPostgres.start();
  const server = await postgres;
  const url = await server.emptyDatabase();
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  t.after(() => client.end());
  // A database as a bank before this change left it: schema 1, a posted deposit in it.
  const v1 = MIGRATIONS[0];
  assert.ok(v1?.version === 1);
  await client.query(v1.sql);
  await client.query(
    'CREATE TABLE atm_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())',
  );
  await client.query('INSERT INTO atm_migrations (version, name) VALUES (1, $1)', [v1.name]);
  const v1Store = (json: string): Promise<unknown> => client.query('SELECT atm_commit($1::jsonb)', [json]);
  await v1Store(
    JSON.stringify({
      accounts: [account('austin', 1_000)],
      txns: [postedDeposit('dep-00000001', 'austin', 1), postedDeposit('dep-00000002', 'austin', 2)],
      holdsAdded: [],
      holdsRemoved: [],
      audit: [],
      head: null,
      hostId: 'old-bank',
    }),
  );
  await assert.rejects(PgLedgerStore.open(url), /schema 1, this bank needs 2/);

  assert.deepEqual(await migrate(client), [2]);
  assert.equal(await schemaVersion(client), 2);
  const store = await PgLedgerStore.open(url, { poolSize: 2 });
  t.after(() => store.close());
  assert.deepEqual(
    (await store.listRecentPostedTxns('austin', 10)).map((record) => record.txnId),
    ['dep-00000002', 'dep-00000001'],
  );
  // The query has the index's shape: with sequential scans priced out the plan reads
  // txns_posted_by_user in order, with no sort of its own.
  await client.query('SET enable_seqscan = off');
  const plan = await client.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${RECENT_POSTED_SQL}`, ['austin', 10]);
  const text = plan.rows.map((row) => row['QUERY PLAN']).join('\n');
  assert.match(text, /txns_posted_by_user/, text);
  assert.doesNotMatch(text, /Sort/, text);
});

// The bank's own arrangement (bank/host.ts): LevelDB behind the cache of recent accounts and
// transactions. Tiny caches, so the contract also runs through evictions.
storeContract('CachedLedgerStore over LevelLedgerStore', async () => {
  const root = makeTempDir('atm-store-');
  const location = path.join(root, 'ledger');
  const open = async (): Promise<LedgerStore> =>
    new CachedLedgerStore(await LevelLedgerStore.open(location), { accountsMax: 2, txnsMax: 2 });
  let store = await open();
  let closed = false;
  return {
    get store() {
      return store;
    },
    breakCommits: async () => {
      await store.close();
      closed = true;
    },
    heal: async () => {
      store = await open();
      closed = false;
    },
    dispose: async () => {
      if (!closed) await store.close();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
});

test('the cache answers reads of what the bank committed, never a value a failed commit wrote, and copies what it hands out', async (t) => {
  const inner = new MemoryLedgerStore();
  const store = new CachedLedgerStore(inner, { accountsMax: 2, txnsMax: 2 });
  t.after(() => store.close());
  await store.commit(batch({ accounts: [account('alice', 1_000)], txns: [txn('t-1', 'alice')] }));
  const read = await store.getAccount('alice');
  assert.ok(read !== null);
  assert.equal(read.balanceCents, 1_000);
  assert.equal(inner.commits, 1);
  read.balanceCents = 5; // a careless caller
  assert.equal((await store.getAccount('alice'))?.balanceCents, 1_000, 'the cached account is a copy');
  assert.equal(store.misses, 0, 'what was committed is read from memory');
  inner.failCommits = true;
  await assert.rejects(store.commit(batch({ accounts: [account('alice', 9_999)] })));
  assert.equal((await store.getAccount('alice'))?.balanceCents, 1_000, 'a failed commit changed nothing');
  inner.failCommits = false;
  // Past the bound the least recently used goes; reading it again goes to the store.
  await store.commit(batch({ accounts: [account('bob', 1), account('carol', 2)] }));
  assert.equal((await store.getAccount('alice'))?.balanceCents, 1_000);
  assert.equal(store.misses, 1, 'alice was evicted and read back from the store');
  assert.equal((await store.getTxn('t-1'))?.username, 'alice');
});

test('copyPlain copies ledger records deeply, as structuredClone does, keeping undefined fields', () => {
  const record = {
    txnId: 't-9',
    amountCents: 500,
    settledAtMs: undefined,
    response: { ok: true, balanceCents: 1_500, limit: { kind: 'withdrawalDaily', limitCents: 200_000 } },
    tags: ['a', { b: [1, 2] }],
    nothing: null,
  };
  const copy = copyPlain(record);
  assert.deepEqual(copy, structuredClone(record));
  assert.ok('settledAtMs' in copy);
  copy.response.limit.limitCents = 1;
  (copy.tags[1] as { b: number[] }).b.push(3);
  assert.equal(record.response.limit.limitCents, 200_000, 'nested objects are not shared');
  assert.deepEqual(record.tags[1], { b: [1, 2] }, 'nested arrays are not shared');
});
