// A bank host SIGKILLed mid-load (issue 16): two real `atm bank --store` processes on one real
// PostgreSQL, the torture suite's kiosks (test/torture/workload.ts) on both, one host killed
// from outside while requests are in flight. The dead host's kiosks move to the other and
// settle what they did not hear back with the same ids, as a kiosk's journal recovery does; a
// hold whose kiosk never comes back is swept by the surviving host. Then the ledger is held to
// everything the kiosks were told (acknowledged = there once, declined = absent, sums exact),
// and the one audit chain verifies and lists each step once.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import {
  PgLedgerStore,
  auditKeyOf,
  decryptAuditToken,
  loadKeystore,
  verifyAuditRecords,
  type AuditRecord,
} from '../../bank/index.js';
import { BankConnection } from '../../protocol/index.js';
import { makeTempDir } from '../helpers/bank.js';
import { startBankProcess } from '../helpers/cli.js';
import { TestPostgres, networkDataDirs } from '../helpers/postgres.js';
import { eventually } from '../helpers/wait.js';
import { checkAuditRecords, checkLedger, readLedgerFrom } from '../torture/ledger-check.js';
import { Workload, type TxnKnowledge, type WorkloadOptions } from '../torture/workload.js';

let postgres: TestPostgres;
before(async () => {
  postgres = await TestPostgres.start();
});
after(() => postgres.stop());

const PASSWORD = 'correct horse battery';
const USERNAMES = ['fo-ann', 'fo-bob', 'fo-cat', 'fo-dan'];
const SESSIONS_PER_HOST = 8;

test('SIGKILL one of two bank hosts mid-load: kiosks move to the other, nothing acknowledged is lost, holds are settled or swept', async (t) => {
  const url = await postgres.freshDatabase();
  const root = makeTempDir('atm-pg-failover-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const kioskIds = Array.from(
    { length: 2 * SESSIONS_PER_HOST + 1 },
    (_, i) => `fo-kiosk-${String(i).padStart(2, '0')}`,
  );
  const { dirs, psks } = networkDataDirs(root, 2, kioskIds);
  const common = ['--bcrypt-cost', '4', '--no-mqtt', '--store', url, '--hold-timeout-ms', '2000'];
  const a = await startBankProcess(dirs[0] as string, [...common, '--host-id', 'a', '--sweep-interval-ms', '100000']);
  t.after(() => a.kill());
  const b = await startBankProcess(dirs[1] as string, [...common, '--host-id', 'b', '--sweep-interval-ms', '200']);
  t.after(() => b.stop());

  const psk = (kioskId: string): Buffer => psks.get(kioskId) as Buffer;
  const deadKiosk = kioskIds.at(-1) as string;
  for (const username of USERNAMES) {
    const setup = await BankConnection.connect({
      host: '127.0.0.1',
      port: b.port,
      kioskId: deadKiosk,
      psk: psk(deadKiosk),
    });
    assert.ok((await setup.request({ op: 'register', username, password: PASSWORD })).ok);
    assert.ok((await setup.request({ op: 'login', username, password: PASSWORD })).ok);
    assert.ok((await setup.request({ op: 'deposit', txnId: `fo-fund-${username}`, amountCents: 5_000_00 })).ok);
    setup.close();
  }
  // A kiosk that places a hold on host A and is never heard from again: the sweep must release it.
  const lost = await BankConnection.connect({
    host: '127.0.0.1',
    port: a.port,
    kioskId: deadKiosk,
    psk: psk(deadKiosk),
  });
  assert.ok((await lost.request({ op: 'login', username: 'fo-ann', password: PASSWORD })).ok);
  assert.ok((await lost.request({ op: 'withdraw.hold', txnId: 'fo-abandoned-0001', amountCents: 40_00 })).ok);

  const txns = new Map<string, TxnKnowledge>();
  const options = (port: number, offset: number, prefix: string): WorkloadOptions => ({
    host: '127.0.0.1',
    port,
    kioskIds: kioskIds.slice(offset, offset + SESSIONS_PER_HOST),
    psk,
    usernames: USERNAMES,
    password: PASSWORD,
    sessions: SESSIONS_PER_HOST,
    requestsPerSession: 1_000_000,
    seed: 16,
    txnPrefix: prefix,
    requestTimeoutMs: 10_000,
  });
  const onA = new Workload(options(a.port, 0, 'foa'), txns);
  const onB = new Workload(options(b.port, SESSIONS_PER_HOST, 'fob'), txns);
  const running = [onA.run(), onB.run()];
  await eventually(() => (onA.requests > 400 && onB.requests > 400 ? true : null), 'load on both hosts', 20_000, 20);
  const killed = await a.kill();
  assert.equal(killed.signal, 'SIGKILL');
  lost.close();
  // Host B keeps serving its own kiosks meanwhile.
  const atKill = onB.requests;
  await eventually(() => (onB.requests > atKill + 200 ? true : null), 'host B serving on', 20_000, 20);
  onB.stop();
  await Promise.all(running);
  onA.close();
  onB.close();
  const unknownAtKill = [...txns.values()].filter(
    (txn) => txn.first === 'unknown' || txn.settle?.outcome === 'unknown' || txn.postAfterVoid === 'unknown',
  ).length;
  t.diagnostic(`requests: ${onA.requests} on A (killed), ${onB.requests} on B; ${unknownAtKill} in flight at the kill`);
  assert.ok(unknownAtKill > 0, 'the kill caught requests in flight');

  // The dead host's kiosks come back through the other host and ask again with the same ids.
  const movedOver = new Workload({ ...options(b.port, 0, 'foa') }, txns);
  const resolved = await movedOver.resolveUnknown();
  movedOver.close();
  assert.ok(resolved >= unknownAtKill, `resolved ${resolved} of ${unknownAtKill}`);

  const store = await PgLedgerStore.open(url, { poolSize: 2, hostId: 'checker' });
  t.after(() => store.close());
  // The abandoned hold (2 s) is voided by host B's sweep, though host A placed it.
  await eventually(
    async () => ((await store.getTxn('fo-abandoned-0001'))?.state === 'voided' ? true : null),
    'the abandoned hold swept',
    15_000,
    100,
  );
  // What the kiosks know, plus the funding deposits and the abandoned hold made outside the workload.
  const otherIds = [...USERNAMES.map((username) => `fo-fund-${username}`), 'fo-abandoned-0001'];
  const snapshot = await readLedgerFrom(store, USERNAMES, [...txns.keys(), ...otherIds]);
  assert.deepEqual(checkLedger(snapshot, txns, USERNAMES), []);
  assert.deepEqual([...snapshot.openHolds], [], 'no hold left open');
  const acknowledged = [...txns.values()].filter((txn) => txn.first === 'ok').length;
  t.diagnostic(`${txns.size} transaction ids, ${acknowledged} acknowledged; 0 lost`);

  const key = auditKeyOf(loadKeystore(dirs[1] as string));
  const verified = await verifyAuditRecords(
    (after, limit) => store.auditPage(after, limit),
    await store.getAuditHead(),
    key,
  );
  assert.ok(verified.ok, `the chain verifies: ${JSON.stringify(verified)}`);
  const records = (await store.listAuditTokensAfter(0)).map(
    ({ token }) => decryptAuditToken(key, token) as AuditRecord,
  );
  assert.deepEqual(checkAuditRecords(records, snapshot), []);
});
