// One contract suite for the kiosk's Journal seam (kiosk/seams.ts), run against every
// implementation: the real KioskJournal (a Fernet file in a temp dir) and the MemoryJournal
// fake the controller's unit tests use, so the fake cannot drift from what the real one does.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { KioskJournal, deriveJournalKey, type JournalEvent } from '../../kiosk/journal.js';
import type { Journal } from '../../kiosk/seams.js';
import { makeTempDir } from '../helpers/bank.js';
import { MemoryJournal } from '../helpers/kiosk-fakes.js';

interface Subject {
  journal: Journal;
  /** The journal a restart would open. */
  reopen(): Journal;
}

const implementations: [string, (t: TestContext) => Subject][] = [
  [
    'KioskJournal',
    (t) => {
      const dir = makeTempDir('atm-journal-contract-');
      const key = deriveJournalKey(crypto.randomBytes(32));
      const open = (): KioskJournal => KioskJournal.open({ dir, kioskId: 'kiosk-01', key });
      t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
      return { journal: open(), reopen: open };
    },
  ],
  [
    'MemoryJournal',
    () => {
      const journal = new MemoryJournal();
      return { journal, reopen: () => journal.reopen() };
    },
  ],
];

const hold = (txnId: string, amountCents: number): JournalEvent[] => [
  { type: 'hold.sent', txnId, username: 'alice', amountCents },
  { type: 'hold.result', txnId, outcome: 'ok' },
];

for (const [name, build] of implementations) {
  test(`${name}: a withdrawal is unfinished from its hold until it is settled; a deposit until its result`, (t) => {
    const { journal } = build(t);
    for (const event of hold('txn-held-0001', 6000)) journal.append(event);
    journal.append({ type: 'deposit.sent', txnId: 'txn-deposit-01', username: 'alice', amountCents: 100 });
    assert.deepEqual(
      journal.unfinished().map((item) => [item.txnId, item.kind, item.holdOutcome]),
      [
        ['txn-held-0001', 'withdrawal', 'ok'],
        ['txn-deposit-01', 'deposit', null],
      ],
    );
    journal.append({ type: 'settled', txnId: 'txn-held-0001', outcome: 'voided', postedCents: 0 });
    journal.append({ type: 'deposit.result', txnId: 'txn-deposit-01', outcome: 'ok' });
    assert.deepEqual(journal.unfinished(), []);
  });

  test(`${name}: what was appended is there after a reopen, dispense outcome included`, (t) => {
    const subject = build(t);
    for (const event of hold('txn-cut-00001', 6000)) subject.journal.append(event);
    subject.journal.append({ type: 'dispense.started', txnId: 'txn-cut-00001', amountCents: 6000 });
    subject.journal.append({ type: 'dispense.result', txnId: 'txn-cut-00001', dispensedCents: 4000, fault: 'jam' });
    assert.deepEqual(subject.reopen().unfinished(), [
      {
        kind: 'withdrawal',
        txnId: 'txn-cut-00001',
        username: 'alice',
        amountCents: 6000,
        holdOutcome: 'ok',
        dispenseStarted: true,
        dispensedCents: 4000,
        fault: 'jam',
      },
    ]);
  });

  test(`${name}: a malformed event throws and records nothing`, (t) => {
    const subject = build(t);
    assert.throws(() =>
      subject.journal.append({ type: 'hold.sent', txnId: 'txn-bad-00001', username: 'a', amountCents: 0 }),
    );
    assert.throws(() => subject.journal.append({ type: 'deposit.result', txnId: '', outcome: 'ok' }));
    assert.deepEqual(subject.journal.unfinished(), []);
    assert.deepEqual(subject.reopen().unfinished(), []);
  });
}
