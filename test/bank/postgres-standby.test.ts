// The primary dies (issue 16): a PostgreSQL primary with a synchronous standby (two local
// clusters, streaming replication), two real `atm bank --store` processes reaching the
// database through one address (here a TCP front door standing in for a floating IP or a load
// balancer), the torture suite's kiosks on both. The primary is SIGKILLed mid-load (every one
// of its processes: a power cut), the standby promoted and the address moved to it. The bank
// hosts carry on through the same URL without a restart; a commit whose answer the dead
// primary took with it is asked after on the new one before anything is answered. Then: not
// one acknowledged transaction missing on the new primary, and its audit chain verifies.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import pg from 'pg';
import {
  PgLedgerStore,
  auditKeyOf,
  decryptAuditToken,
  loadKeystore,
  migrate,
  verifyAuditRecords,
  type AuditRecord,
} from '../../bank/index.js';
import { PgCluster } from '../../bench/reference/postgres-cluster.js';
import { BankConnection } from '../../protocol/index.js';
import { makeTempDir } from '../helpers/bank.js';
import { startBankProcess } from '../helpers/cli.js';
import { DatabaseFrontDoor, networkDataDirs } from '../helpers/postgres.js';
import { eventually } from '../helpers/wait.js';
import { checkAuditRecords, checkLedger, readLedgerFrom } from '../torture/ledger-check.js';
import { Workload, type TxnKnowledge, type WorkloadOptions } from '../torture/workload.js';

const PASSWORD = 'correct horse battery';
const USERNAMES = ['sb-ann', 'sb-bob', 'sb-cat', 'sb-dan'];
const SESSIONS_PER_HOST = 6;

test('SIGKILL the primary mid-load, promote its synchronous standby: the banks carry on through the same URL, nothing acknowledged is lost, the chain verifies', async (t) => {
  const primary = await PgCluster.start();
  t.after(() => primary.stop());
  const standby = await primary.startStandby({ name: 'atm_standby', synchronous: true });
  t.after(() => standby.stop());
  const admin = new pg.Client({ connectionString: primary.url() });
  await admin.connect();
  await admin.query('CREATE DATABASE atm');
  await admin.end();
  const migrator = new pg.Client({ connectionString: primary.url('atm') });
  await migrator.connect();
  await migrator.query('SHOW synchronous_standby_names').then((result) => {
    assert.equal((result.rows[0] as { synchronous_standby_names: string }).synchronous_standby_names, 'atm_standby');
  });
  await migrate(migrator);
  await migrator.end();
  const door = await DatabaseFrontDoor.open(primary);
  t.after(() => door.close());
  const url = door.url('atm');

  const root = makeTempDir('atm-pg-standby-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const kioskIds = Array.from(
    { length: 2 * SESSIONS_PER_HOST + 1 },
    (_, i) => `sb-kiosk-${String(i).padStart(2, '0')}`,
  );
  const { dirs, psks } = networkDataDirs(root, 2, kioskIds);
  const common = ['--bcrypt-cost', '4', '--no-mqtt', '--store', url, '--pg-statement-timeout-ms', '3000'];
  const hosts = [
    await startBankProcess(dirs[0] as string, [...common, '--host-id', 'a']),
    await startBankProcess(dirs[1] as string, [...common, '--host-id', 'b']),
  ];
  for (const host of hosts) t.after(() => host.stop());
  const psk = (kioskId: string): Buffer => psks.get(kioskId) as Buffer;
  const setupKiosk = kioskIds.at(-1) as string;
  for (const username of USERNAMES) {
    const setup = await BankConnection.connect({
      host: '127.0.0.1',
      port: (hosts[0] as { port: number }).port,
      kioskId: setupKiosk,
      psk: psk(setupKiosk),
    });
    assert.ok((await setup.request({ op: 'register', username, password: PASSWORD })).ok);
    assert.ok((await setup.request({ op: 'login', username, password: PASSWORD })).ok);
    assert.ok((await setup.request({ op: 'deposit', txnId: `sb-fund-${username}`, amountCents: 5_000_00 })).ok);
    setup.close();
  }

  const txns = new Map<string, TxnKnowledge>();
  const options = (index: number): WorkloadOptions => ({
    host: '127.0.0.1',
    port: (hosts[index] as { port: number }).port,
    kioskIds: kioskIds.slice(index * SESSIONS_PER_HOST, (index + 1) * SESSIONS_PER_HOST),
    psk,
    usernames: USERNAMES,
    password: PASSWORD,
    sessions: SESSIONS_PER_HOST,
    requestsPerSession: 1_000_000,
    seed: 15,
    txnPrefix: `sb${index}`,
    requestTimeoutMs: 40_000,
  });
  const workloads = [new Workload(options(0), txns), new Workload(options(1), txns)];
  const running = workloads.map((workload) => workload.run());
  const requests = (): number => workloads.reduce((sum, workload) => sum + workload.requests, 0);
  await eventually(() => (requests() > 600 ? true : null), 'load on both hosts', 20_000, 20);

  primary.kill(); // a power cut: the postmaster and every backend at once
  const atKill = requests();
  await standby.promote();
  door.moveTo(standby);
  t.diagnostic(`primary killed after ${atKill} requests; standby promoted, the address moved to it`);
  // The banks serve again through the same URL (new acknowledgements after the fail-over).
  const acknowledged = (): number => [...txns.values()].filter((txn) => txn.first === 'ok').length;
  const ackedAtMove = acknowledged();
  await eventually(
    () => (acknowledged() > ackedAtMove + 100 ? true : null),
    () =>
      `service after the fail-over; the banks' last lines:\n${hosts.map((host) => host.stdout().split('\n').slice(-8).join('\n')).join('\n')}`,
    60_000,
    50,
  );
  for (const workload of workloads) workload.stop();
  await Promise.all(running);
  for (const workload of workloads) workload.close();

  const recovery = new Workload(options(1), txns);
  const resolved = await recovery.resolveUnknown();
  recovery.close();
  t.diagnostic(`requests: ${requests()}; ${resolved} unknown or open at the end, resolved with the same ids`);

  const store = await PgLedgerStore.open(standby.url('atm'), { poolSize: 2, hostId: 'checker' });
  t.after(() => store.close());
  const fundIds = USERNAMES.map((username) => `sb-fund-${username}`);
  const snapshot = await readLedgerFrom(store, USERNAMES, [...txns.keys(), ...fundIds]);
  assert.deepEqual(checkLedger(snapshot, txns, USERNAMES), []);
  const key = auditKeyOf(loadKeystore(dirs[0] as string));
  const verified = await verifyAuditRecords(
    (after, limit) => store.auditPage(after, limit),
    await store.getAuditHead(),
    key,
  );
  assert.ok(verified.ok, `the chain verifies on the promoted standby: ${JSON.stringify(verified)}`);
  const records = (await store.listAuditTokensAfter(0)).map(
    ({ token }) => decryptAuditToken(key, token) as AuditRecord,
  );
  assert.deepEqual(checkAuditRecords(records, snapshot), []);
  const ok = [...txns.values()].filter((txn) => txn.first === 'ok').length;
  t.diagnostic(
    `${txns.size} transaction ids, ${ok} acknowledged, all on the promoted standby; ${verified.records} audit records`,
  );
});
