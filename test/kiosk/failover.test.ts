// Kiosk fail-over between bank hosts of a network (issue 16): the real controller, its real
// KioskLink given two hosts, its journal in a temp dir, the sim devices; two real bank hosts on
// one real PostgreSQL. The host a withdrawal began on dies while the notes are coming out: the
// link moves to the other host, and the withdrawal is settled there with the same txn id.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  auditKeyOf,
  decryptAuditToken,
  loadKeystore,
  silentObserver,
  startBankHost,
  type BankHost,
} from '../../bank/index.js';
import { createSimDevices } from '../../hardware/sim.js';
import { KioskController } from '../../kiosk/controller.js';
import { KioskJournal, deriveJournalKey } from '../../kiosk/journal.js';
import { KioskLink } from '../../kiosk/link.js';
import type { KioskState } from '../../kiosk/flow.js';
import { BankConnection } from '../../protocol/index.js';
import { TEST_PASSWORD, makeTempDir } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { TestPostgres, networkDataDirs } from '../helpers/postgres.js';

let postgres: TestPostgres;
before(async () => {
  postgres = await TestPostgres.start();
});
after(() => postgres.stop());

const WAIT_MS = 10_000;

test('the bank host dies while notes are coming out: the kiosk moves to the other host and posts there, with the same id, once', async (t) => {
  const url = await postgres.freshDatabase();
  const root = makeTempDir('atm-failover-');
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  const { dirs, psks } = networkDataDirs(root, 2, ['kiosk-01']);
  const hosts: BankHost[] = [];
  for (const [index, dataDir] of dirs.entries()) {
    const host = await startBankHost({
      dataDir,
      port: 0,
      storeUrl: url,
      hostId: `bank-${index}`,
      bcryptCost: 4,
      observer: silentObserver,
      sweepIntervalMs: 0,
    });
    hosts.push(host);
    t.after(() => host.close());
  }
  const [a, b] = hosts as [BankHost, BankHost];
  const psk = psks.get('kiosk-01') as Buffer;

  // A customer with 200.00, made at host B.
  const setup = await BankConnection.connect({ host: '127.0.0.1', port: b.port, kioskId: 'kiosk-01', psk });
  assert.ok((await setup.request({ op: 'register', username: 'mover', password: TEST_PASSWORD })).ok);
  assert.ok((await setup.request({ op: 'login', username: 'mover', password: TEST_PASSWORD })).ok);
  assert.ok((await setup.request({ op: 'deposit', txnId: 'seed-mover-0001', amountCents: 200_00 })).ok);
  setup.close();

  let releaseNotes: () => void = () => undefined;
  const notesOut = new Promise<void>((resolve) => (releaseNotes = resolve));
  const devices = createSimDevices({ dispenser: { delayMs: 1, sleep: () => notesOut } });
  const journal = KioskJournal.open({ dir: root, kioskId: 'kiosk-01', key: deriveJournalKey(psk) });
  const link = new KioskLink({
    host: '127.0.0.1',
    port: a.port,
    banks: [
      { host: '127.0.0.1', port: a.port },
      { host: '127.0.0.1', port: b.port },
    ],
    kioskId: 'kiosk-01',
    psk,
    backoffInitialMs: 20,
    backoffMaxMs: 100,
    requestTimeoutMs: 5_000,
  });
  const clock = new FakeClock();
  const controller = new KioskController({
    kioskId: 'kiosk-01',
    link,
    devices,
    journal,
    receiptsFile: path.join(root, 'receipts.txt'),
    nowMs: clock.nowMs,
    tickMs: 0,
    newTxnId: () => 'failover-txn-0001',
  });
  t.after(() => controller.stop());
  const until = (predicate: (state: KioskState) => boolean, what: string): Promise<void> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`timed out waiting for ${what}: ${JSON.stringify(controller.state.screen)}`)),
        WAIT_MS,
      );
      const check = (): void => {
        if (!predicate(controller.state)) return;
        clearTimeout(timer);
        resolve();
      };
      controller.onChange(check);
      check();
    });
  const press = (key: Parameters<typeof devices.keypad.press>[0]): void => {
    clock.advance(100);
    assert.ok(devices.keypad.press(key));
  };
  const type = (text: string): void => {
    for (const ch of text) {
      clock.advance(10);
      controller.input({ type: 'char', ch, atMs: clock.ms });
    }
  };

  await controller.start();
  await until((state) => state.screen.name === 'welcome', 'the welcome screen');
  assert.equal(link.endpoint.port, a.port, 'the first host in the list serves while it is up');
  press('A');
  type('mover');
  press('enter');
  type(TEST_PASSWORD);
  press('enter');
  await until((state) => state.screen.name === 'menu', 'the menu');
  press('C'); // withdraw
  press('B'); // fast cash 60.00
  press('enter');
  await until(() => journal.entries().some((event) => event.type === 'dispense.started'), 'the dispense to start');

  await a.close(); // host A is gone: its sessions end, its port refuses
  await until(() => link.state === 'online' && link.endpoint.port === b.port, 'the link on host B');
  releaseNotes();
  await until(
    () => journal.entries().some((event) => event.type === 'settled' && event.txnId === 'failover-txn-0001'),
    'the withdrawal settled',
  );
  const settled = journal.entries().find((event) => event.type === 'settled');
  assert.deepEqual(settled, { type: 'settled', txnId: 'failover-txn-0001', outcome: 'posted', postedCents: 60_00 });
  const account = await b.store.getAccount('mover');
  assert.deepEqual({ balance: account?.balanceCents, held: account?.heldCents }, { balance: 140_00, held: 0 });

  const key = auditKeyOf(loadKeystore(dirs[0] as string));
  const rows = await postgres.sql('SELECT token, host_id FROM audit_records ORDER BY seq', [], url);
  const story = (rows.rows as { token: string; host_id: string }[])
    .map((row) => ({ record: decryptAuditToken(key, row.token), host: row.host_id }))
    .filter(({ record }) => record?.txnId === 'failover-txn-0001')
    .map(({ record, host }) => `${record?.action} ${record?.outcome} on ${host}`);
  assert.deepEqual(story, ['withdraw.hold ok on bank-0', 'withdraw.post ok on bank-1']);
});
