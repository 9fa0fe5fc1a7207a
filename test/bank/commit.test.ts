// The group committer's assertions (bank/commit.ts): the append side of the paired ledger and
// audit-chain checks. A batch that breaks them is a bug in the bank, so it throws an
// AssertionError (the process ends) instead of being written or declined.
import { after, test } from 'node:test';
import fs from 'node:fs';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { AuditChain, AuditLogFile, type AuditEntry } from '../../bank/audit.js';
import { GroupCommitter, assertBatchFollows } from '../../bank/commit.js';
import { newAccount } from '../../bank/ledger.js';
import { MemoryLedgerStore } from '../../bank/store.js';
import { EMPTY_AUDIT_HEAD, emptyBatch, type LedgerBatch } from '../../bank/types.js';
import { AssertionError } from '../../protocol/assert.js';
import { fernetKeyFromRaw } from '../../protocol/fernet.js';
import { FakeClock } from '../helpers/clock.js';
import { makeTempDir } from '../helpers/bank.js';

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
});

const ENTRY: AuditEntry = { kioskId: 'kiosk-01', username: 'austin', action: 'deposit', outcome: 'ok' };

function setUp(): { committer: GroupCommitter; store: MemoryLedgerStore; chain: AuditChain } {
  const key = fernetKeyFromRaw(crypto.randomBytes(32));
  const clock = new FakeClock();
  const store = new MemoryLedgerStore();
  const chain = new AuditChain(key, EMPTY_AUDIT_HEAD);
  const dir = makeTempDir('atm-commit-');
  dirs.push(dir);
  const auditLog = new AuditLogFile(dir, key, clock.nowMs);
  return { committer: new GroupCommitter(store, chain, auditLog, clock.nowMs), store, chain };
}

test('submit asserts every account of the batch before sealing anything', async () => {
  const { committer, store, chain } = setUp();
  const overHeld = { ...newAccount('austin', 'hash', 0), balanceCents: 100, heldCents: 101 };
  assert.throws(() => committer.submit({ accounts: [overHeld] }, [ENTRY]), AssertionError);
  assert.deepEqual(chain.currentHead, EMPTY_AUDIT_HEAD, 'no record was sealed for the refused batch');
  const sound = { ...overHeld, heldCents: 100 };
  await committer.submit({ accounts: [sound] }, [ENTRY]);
  assert.equal(store.commits, 1);
  assert.equal((await store.getAccount('austin'))?.heldCents, 100);
});

test('submit asserts that every transaction moves a safe positive amount, no more than it names', () => {
  const { committer, chain } = setUp();
  const txn = {
    txnId: 'txn-1',
    kind: 'withdraw' as const,
    username: 'austin',
    kioskId: 'kiosk-01',
    amountCents: 500,
    postedCents: 0,
    state: 'held' as const,
    createdAtMs: 0,
    response: { ok: true as const, txnId: 'txn-1', heldCents: 500, holdExpiresAt: '1970-01-01T00:05:00.000Z' },
  };
  for (const broken of [{ amountCents: 0 }, { amountCents: 1.5 }, { postedCents: 501 }, { postedCents: -1 }]) {
    assert.throws(
      () => committer.submit({ txns: [{ ...txn, ...broken }] }, [ENTRY]),
      AssertionError,
      JSON.stringify(broken),
    );
  }
  assert.deepEqual(chain.currentHead, EMPTY_AUDIT_HEAD);
});

test('a merged batch must continue the durable audit chain with no gap', () => {
  const head = { seq: 4, hash: 'a'.repeat(64) };
  const batch = (seqs: number[], headSeq: number | null): LedgerBatch => ({
    ...emptyBatch(),
    auditTokens: seqs.map((seq) => ({ seq, token: `t${seq}` })),
    auditHead: headSeq === null ? null : { seq: headSeq, hash: 'b'.repeat(64) },
  });
  assertBatchFollows(batch([5, 6, 7], 7), head);
  assertBatchFollows(batch([], null), head);
  assert.throws(() => assertBatchFollows(batch([6, 7], 7), head), /audit token 6 in a batch after head 4/);
  assert.throws(() => assertBatchFollows(batch([5, 7], 7), head), /audit token 7/);
  assert.throws(() => assertBatchFollows(batch([5, 6], 7), head), /batch head 7 is not its last token 6/);
  assert.throws(() => assertBatchFollows(batch([], 4), head), /without audit tokens moves the audit head/);
});
