// The crash loop's invariants, checked on the ledger itself (LevelDB opened by the checker while
// the bank is down) and on the audit log (after the restart has repaired it). Each check returns
// the violations it found as sentences, so one run reports every broken promise at once.
import path from 'node:path';
import { AUDIT_LOG_FILE, LEDGER_DIR, auditKeyOf, loadKeystore, verifyAuditLog } from '../../bank/index.js';
import { LevelLedgerStore } from '../../bank/level-store.js';
import type { Account, TxnRecord } from '../../bank/types.js';
import type { LedgerStore } from '../../bank/store.js';
import type { AuditRecord } from '../../bank/index.js';
import { readChainFile } from '../helpers/audit.js';
import type { TxnKnowledge } from './workload.js';

export interface LedgerSnapshot {
  accounts: Map<string, Account>;
  txns: Map<string, TxnRecord>;
  openHolds: Set<string>;
}

/** Reads the accounts and the transactions the kiosks know of; the bank must not be running. */
export async function readLedger(
  dataDir: string,
  usernames: readonly string[],
  txnIds: Iterable<string>,
): Promise<LedgerSnapshot> {
  const store = await LevelLedgerStore.open(path.join(dataDir, LEDGER_DIR));
  try {
    return await readLedgerFrom(store, usernames, txnIds);
  } finally {
    await store.close();
  }
}

/** The same from any store (a shared PostgreSQL ledger is read while its hosts run). */
export async function readLedgerFrom(
  store: LedgerStore,
  usernames: readonly string[],
  txnIds: Iterable<string>,
): Promise<LedgerSnapshot> {
  const accounts = new Map<string, Account>();
  for (const username of usernames) {
    const account = await store.getAccount(username);
    if (account !== null) accounts.set(username, account);
  }
  const txns = new Map<string, TxnRecord>();
  for (const txnId of txnIds) {
    const txn = await store.getTxn(txnId);
    if (txn !== null) txns.set(txnId, txn);
  }
  return { accounts, txns, openHolds: new Set(await store.listOpenHolds()) };
}

/** Declines a hold leaves on record (a retry gets the same answer); INVALID_AMOUNT is not recorded. */
const RECORDED_HOLD_DECLINES = new Set(['INSUFFICIENT_FUNDS', 'LIMIT_EXCEEDED']);

/** What the kiosks know against what the ledger holds; then each account's sums. */
export function checkLedger(
  snapshot: LedgerSnapshot,
  knowledge: ReadonlyMap<string, TxnKnowledge>,
  usernames: readonly string[],
): string[] {
  const violations: string[] = [];
  const fail = (text: string): void => void violations.push(text);
  for (const known of knowledge.values()) {
    const txn = snapshot.txns.get(known.txnId) ?? null;
    const id = `${known.kind} ${known.txnId}`;
    if (
      txn !== null &&
      (txn.kind !== known.kind || txn.username !== known.username || txn.amountCents !== known.amountCents)
    )
      fail(`${id}: the ledger holds ${txn.kind} ${txn.username} ${txn.amountCents}, not what was sent`);
    if (known.kind === 'deposit') {
      if (known.first === 'ok' && txn?.state !== 'posted')
        fail(`${id}: acknowledged, but the ledger has ${txn?.state ?? 'nothing'}`);
      if (known.first === 'declined' && txn !== null)
        fail(`${id}: the kiosk was told it failed, but the ledger credited it`);
      if (txn !== null && txn.state !== 'posted') fail(`${id}: a deposit in state ${txn.state}`);
      continue;
    }
    const settled = txn?.state === 'posted' || txn?.state === 'voided' || txn?.state === 'held';
    if (known.first === 'ok' && !settled)
      fail(`${id}: hold acknowledged, but the ledger has ${txn?.state ?? 'nothing'}`);
    if (known.first === 'declined') {
      const recorded = RECORDED_HOLD_DECLINES.has(known.firstCode ?? '');
      if (recorded ? txn?.state !== 'declined' : txn !== null)
        fail(`${id}: declined ${known.firstCode ?? ''}, but the ledger has ${txn?.state ?? 'nothing'}`);
    }
    const settle = known.settle;
    if (settle?.outcome === 'ok') {
      const want = settle.op === 'post' ? 'posted' : 'voided';
      if (txn?.state !== want) fail(`${id}: ${settle.op} acknowledged, but the ledger has ${txn?.state ?? 'nothing'}`);
      if (settle.op === 'post' && txn?.postedCents !== settle.dispensedCents)
        fail(`${id}: posted ${settle.dispensedCents}, the ledger says ${txn?.postedCents ?? 'nothing'}`);
    }
    // UNKNOWN_TXN: the hold was voided first (by its expiry); any other decline moved nothing.
    if (
      settle?.outcome === 'declined' &&
      (settle.code === 'UNKNOWN_TXN' ? txn?.state !== 'voided' : txn?.state === 'posted')
    )
      fail(`${id}: ${settle.op} declined ${settle.code ?? ''}, yet the hold is ${txn?.state ?? 'gone'}`);
    if (settle?.op === 'post' && txn?.state === 'posted' && txn.postedCents !== settle.dispensedCents)
      fail(`${id}: the ledger posted ${txn.postedCents}, the kiosk dispensed ${settle.dispensedCents}`);
    if (settle === undefined && txn?.state === 'posted') fail(`${id}: posted although nobody posted it`);
    if (known.postAfterVoid === 'ok') fail(`${id}: a post after an acknowledged void was approved`);
    if (known.postAfterVoid !== undefined && txn?.state !== 'voided')
      fail(`${id}: a post after its void left it ${txn?.state ?? 'gone'}`);
  }
  for (const txnId of snapshot.openHolds) {
    const txn = snapshot.txns.get(txnId);
    if (txn?.state !== 'held') fail(`open hold ${txnId} is ${txn?.state ?? 'not a transaction the kiosks know'}`);
  }
  let totalCents = 0;
  let expectedTotalCents = 0;
  for (const username of usernames) {
    const account = snapshot.accounts.get(username);
    if (account === undefined) {
      fail(`account ${username} is missing`);
      continue;
    }
    let balanceCents = 0;
    let heldCents = 0;
    for (const txn of snapshot.txns.values()) {
      if (txn.username !== username) continue;
      if (txn.kind === 'deposit' && txn.state === 'posted') balanceCents += txn.postedCents;
      if (txn.kind === 'withdraw' && txn.state === 'posted') balanceCents -= txn.postedCents;
      if (txn.kind === 'withdraw' && txn.state === 'held') {
        heldCents += txn.amountCents;
        if (!snapshot.openHolds.has(txn.txnId)) fail(`hold ${txn.txnId} is held but not in the open holds`);
      }
    }
    if (account.balanceCents !== balanceCents)
      fail(
        `${username}: balance ${account.balanceCents}, its transactions sum to ${balanceCents} (lost or doubled update)`,
      );
    if (account.heldCents !== heldCents)
      fail(`${username}: held ${account.heldCents}, its open holds sum to ${heldCents}`);
    if (account.balanceCents < 0) fail(`${username}: negative balance ${account.balanceCents}`);
    if (account.heldCents > account.balanceCents)
      fail(`${username}: held ${account.heldCents} > balance ${account.balanceCents}`);
    totalCents += account.balanceCents;
    expectedTotalCents += balanceCents;
  }
  if (totalCents !== expectedTotalCents)
    fail(`all accounts hold ${totalCents}, the transactions sum to ${expectedTotalCents}: money appeared or vanished`);
  return violations;
}

/** `atm audit verify`'s check, then: the audit log and the ledger list the same transactions. */
export function checkAudit(dataDir: string, snapshot: LedgerSnapshot): string[] {
  const key = auditKeyOf(loadKeystore(dataDir));
  const verified = verifyAuditLog(dataDir, key);
  if (!verified.ok) return [`audit verify: record ${verified.badRecord}: ${verified.reason}`];
  return checkAuditRecords(readChainFile(path.join(dataDir, AUDIT_LOG_FILE), key), snapshot);
}

/** The audit records (of a chain that verified) list each ledger transaction's steps once. */
export function checkAuditRecords(records: readonly AuditRecord[], snapshot: LedgerSnapshot): string[] {
  const violations: string[] = [];
  const counts = new Map<string, number>();
  for (const record of records) {
    if (record.txnId === undefined || record.outcome !== 'ok') continue;
    const name = `${record.action} ${record.txnId}`;
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  const expected = new Map<string, number>();
  for (const txn of snapshot.txns.values()) {
    if (txn.kind === 'deposit') expected.set(`deposit ${txn.txnId}`, 1);
    if (txn.kind === 'withdraw' && txn.state !== 'declined') expected.set(`withdraw.hold ${txn.txnId}`, 1);
    if (txn.kind === 'withdraw' && txn.state === 'posted') expected.set(`withdraw.post ${txn.txnId}`, 1);
    if (txn.kind === 'withdraw' && txn.state === 'voided') expected.set(`withdraw.void ${txn.txnId}`, 1);
  }
  for (const [name, count] of expected)
    if ((counts.get(name) ?? 0) !== count)
      violations.push(`audit: ${name} recorded ${counts.get(name) ?? 0} times, not once`);
  for (const [name, count] of counts) {
    const txnId = name.split(' ')[1] ?? '';
    // Ids the kiosks do not know (another round's, never read) are checked when they are read.
    if (snapshot.txns.has(txnId) && !expected.has(name))
      violations.push(`audit: ${count} × ${name} ok, but the ledger has it ${snapshot.txns.get(txnId)?.state ?? ''}`);
  }
  return violations;
}
