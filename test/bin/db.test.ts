// The PostgreSQL ledger through the real `atm` CLI (issue 16): `atm db migrate|status`,
// `atm bank --store URL --host-id NAME` as real processes, `atm client` against two of them,
// `atm audit verify|show|export --store`, and the refusals: an unmigrated database, a store
// that is not there (its password never printed), PostgreSQL flags without --store.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { initKeystore, addKiosk } from '../../bank/key-store.js';
import { LevelLedgerStore } from '../../bank/level-store.js';
import { PgLedgerStore } from '../../bank/pg-store.js';
import { makeTempDir, startTestBank } from '../helpers/bank.js';
import { runAtm, startBankProcess } from '../helpers/cli.js';
import { TestPostgres } from '../helpers/postgres.js';

let postgres: TestPostgres;
let root: string;
before(async () => {
  postgres = await TestPostgres.start();
  root = makeTempDir('atm-db-cli-');
});
after(async () => {
  await postgres.stop();
  fs.rmSync(root, { recursive: true, force: true });
});

const PASSWORD = { ATM_PASSWORD: 'correct horse battery' };

test('atm db status and migrate: an empty database is migrated once, then up to date', async () => {
  const url = await postgres.emptyDatabase();
  const before = await runAtm(['db', 'status', '--store', url]);
  assert.equal(before.code, 1, before.stderr);
  assert.match(before.stdout, /schema 0, this bank's 2 \(run 'atm db migrate'\)/);
  const migrated = await runAtm(['db', 'migrate', '--store', url]);
  assert.equal(migrated.code, 0, migrated.stderr);
  assert.match(migrated.stdout, /schema 0 -> 2 \(applied 1, 2\)/);
  const again = await runAtm(['db', 'migrate', '--json'], { env: { ATM_STORE: url } });
  assert.equal(again.code, 0, again.stderr);
  assert.deepEqual(JSON.parse(again.stdout), { ok: true, from: 2, to: 2, applied: [] });
  const status = await runAtm(['db', 'status', '--store', url, '--json']);
  assert.deepEqual(JSON.parse(status.stdout), { ok: true, schema: 2, bankSchema: 2 });
});

test('a store that is not there is STORE_UNAVAILABLE, and the password in its URL is never printed', async () => {
  const url = `postgres://atm:s3cret-pw@localhost/atm?host=${encodeURIComponent(path.join(root, 'nowhere'))}&port=1`;
  for (const args of [
    ['db', 'migrate', '--store', url],
    ['audit', 'verify', '--data', path.join(root, 'no-such'), '--store', url],
  ]) {
    if (args[0] === 'audit') initKeystore(path.join(root, 'no-such'));
    const result = await runAtm(args);
    assert.equal(result.code, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(result.stderr, /\[STORE_UNAVAILABLE\]$/m);
    assert.doesNotMatch(result.stdout + result.stderr, /s3cret-pw/);
    assert.match(result.stderr, /atm:\*\*\*@/);
  }
});

test('atm bank refuses an unmigrated database, a --store that is not PostgreSQL, and --pg-* without --store', async () => {
  const dataDir = path.join(root, 'refusing');
  initKeystore(dataDir);
  const url = await postgres.emptyDatabase();
  const unmigrated = await runAtm(['bank', '--data', dataDir, '--port', '0', '--no-mqtt', '--store', url]);
  assert.equal(unmigrated.code, 1);
  assert.match(unmigrated.stderr, /no ledger schema: run 'atm db migrate --store URL' first \[STORE_SCHEMA\]/);
  const notPg = await runAtm(['bank', '--data', dataDir, '--no-mqtt', '--store', 'mysql://db/atm']);
  assert.equal(notPg.code, 2);
  assert.match(notPg.stderr, /--store takes a postgres:\/\//);
  const stray = await runAtm(['bank', '--data', dataDir, '--no-mqtt', '--pg-pool-size', '4']);
  assert.equal(stray.code, 2);
  assert.match(stray.stderr, /--pg-pool-size goes with --store/);
  assert.ok(!fs.existsSync(path.join(dataDir, 'ledger')), 'no LevelDB ledger was made by the refusals');
});

test('two `atm bank --store` processes serve one ledger; the chain verifies, shows and exports; a tampered record fails', async () => {
  const url = await postgres.freshDatabase();
  const east = path.join(root, 'east');
  const west = path.join(root, 'west');
  initKeystore(east);
  const keyFile = path.join(root, 'kiosk-01.key');
  addKiosk(east, 'kiosk-01', keyFile);
  fs.mkdirSync(west, { mode: 0o700 });
  fs.copyFileSync(path.join(east, 'keystore.json'), path.join(west, 'keystore.json'));
  const args = ['--bcrypt-cost', '4', '--no-mqtt', '--store', url];
  const a = await startBankProcess(east, [...args, '--host-id', 'east']);
  const b = await startBankProcess(west, [...args, '--host-id', 'west', '--pg-pool-size', '4']);
  try {
    assert.equal(a.hostId, 'east');
    assert.equal(b.hostId, 'west');
    const client = (bank: { port: number }, ...rest: string[]) =>
      runAtm(['client', '--bank', `127.0.0.1:${bank.port}`, '--key', keyFile, ...rest], { env: PASSWORD });
    assert.equal((await client(a, 'register', '--user', 'ann')).code, 0);
    const deposit = await client(b, 'deposit', '--user', 'ann', '--amount', '25.00');
    assert.match(deposit.stdout, /deposit ok: balance 25\.00/);
    const withdraw = await client(a, 'withdraw', '--user', 'ann', '--amount', '5.00');
    assert.match(withdraw.stdout, /withdraw ok: balance 20\.00/);
    const balance = await client(b, 'balance', '--user', 'ann');
    assert.match(balance.stdout, /balance ok: balance 20\.00/);
  } finally {
    await a.stop();
    await b.stop();
  }
  const verified = await runAtm(['audit', 'verify', '--data', west, '--store', url, '--json']);
  assert.equal(verified.code, 0, verified.stdout);
  const { records } = JSON.parse(verified.stdout) as { records: number };
  assert.ok(records >= 10, `records: ${records}`);
  const shown = await runAtm(['audit', 'show', '--data', east, '--store', url, '--user', 'ann', '--json']);
  const actions = (JSON.parse(shown.stdout) as { records: { action: string }[] }).records.map((r) => r.action);
  assert.ok(actions.includes('deposit') && actions.includes('withdraw.post'), actions.join(','));

  const out = path.join(root, 'export');
  const exported = await runAtm(['audit', 'export', '--data', east, '--store', url, '--out', out]);
  assert.equal(exported.code, 0, exported.stderr);
  assert.equal(fs.statSync(path.join(out, 'audit.log')).mode & 0o777, 0o600);
  const fromFile = await runAtm(['audit', 'verify', '--data', east, '--log', out]);
  assert.equal(fromFile.stdout, `OK ${records} records\n`, 'the export verifies as an embedded audit log');
  const twice = await runAtm(['audit', 'export', '--data', east, '--store', url, '--out', out]);
  assert.equal(twice.code, 2, 'an export never overwrites one');

  // One record replaced by another's token: the chain breaks there.
  await postgres.sql(
    'UPDATE audit_records SET token = (SELECT token FROM audit_records WHERE seq = 2) WHERE seq = 3',
    [],
    url,
  );
  const tampered = await runAtm(['audit', 'verify', '--data', east, '--store', url]);
  assert.equal(tampered.code, 1);
  assert.match(tampered.stdout, /^FAILED at record 3: /);
});

test('atm db import moves a branch ledger of 10,000 transactions: balances, holds and the audit chain identical afterwards', async () => {
  const bank = await startTestBank();
  const SESSIONS = 16;
  const TXNS_PER_SESSION = 625; // 16 × 625 = 10,000 transaction ids
  try {
    await Promise.all(
      Array.from({ length: SESSIONS }, async (_, index) => {
        const session = await bank.loginAs(`branch-${String(index).padStart(2, '0')}`);
        for (let n = 0; n < TXNS_PER_SESSION; n++) {
          const txnId = `imp-${String(index).padStart(2, '0')}-${String(n).padStart(5, '0')}`;
          const roll = n % 5;
          if (roll < 2) {
            assert.ok((await session.request({ op: 'deposit', txnId, amountCents: 1_00 + n })).ok);
            continue;
          }
          const held = await session.request({ op: 'withdraw.hold', txnId, amountCents: 10 + (n % 50) });
          if (!held.ok) continue; // declined holds are transactions too
          if (roll === 2) assert.ok((await session.request({ op: 'withdraw.post', txnId, dispensedCents: 10 })).ok);
          else if (roll === 3) assert.ok((await session.request({ op: 'withdraw.void', txnId, reason: 'test' })).ok);
          // roll 4: the hold stays open
        }
        session.close();
      }),
    );
  } finally {
    await bank.stop();
  }
  const url = await postgres.freshDatabase();
  const imported = await runAtm(['db', 'import', '--from', bank.dataDir, '--store', url, '--json'], {
    timeoutMs: 120_000,
  });
  assert.equal(imported.code, 0, imported.stderr);
  const report = JSON.parse(imported.stdout) as { txns: number; accounts: number; openHolds: number };
  assert.equal(report.txns, SESSIONS * TXNS_PER_SESSION);
  assert.equal(report.accounts, SESSIONS);

  const level = await LevelLedgerStore.open(path.join(bank.dataDir, 'ledger'));
  const store = await PgLedgerStore.open(url, { poolSize: 2 });
  try {
    let compared = 0;
    for await (const account of level.allAccounts()) {
      assert.deepEqual(await store.getAccount(account.username), account);
      compared += 1;
    }
    for await (const txn of level.allTxns()) {
      assert.deepEqual(await store.getTxn(txn.txnId), txn);
      compared += 1;
    }
    assert.equal(compared, SESSIONS + SESSIONS * TXNS_PER_SESSION);
    const holds = await level.listOpenHolds();
    assert.ok(holds.length > 1_000, `open holds: ${holds.length}`);
    assert.equal(report.openHolds, holds.length);
    assert.deepEqual([...(await store.listOpenHolds())].sort(), [...holds].sort());
    // The chain record for record: audit.log's lines and the ledger's unsynced tail, then the same head.
    const fileLines = fs
      .readFileSync(path.join(bank.dataDir, 'audit.log'), 'latin1')
      .split('\n')
      .filter((line) => line.length > 0);
    const branchChain = [...fileLines, ...(await level.listAuditTokensAfter(fileLines.length)).map((t) => t.token)];
    assert.deepEqual(
      (await store.listAuditTokensAfter(0)).map((t) => t.token),
      branchChain,
    );
    assert.deepEqual(await store.getAuditHead(), await level.getAuditHead());
  } finally {
    await level.close();
    await store.close();
  }
  const verified = await runAtm(['audit', 'verify', '--data', bank.dataDir, '--store', url]);
  assert.match(verified.stdout, /^OK \d+ records$/m);
  const again = await runAtm(['db', 'import', '--from', bank.dataDir, '--store', url]);
  assert.equal(again.code, 1);
  assert.match(again.stderr, /already holds a ledger/);
  await bank.cleanup();
});
