// A hold's settlement steps, shared by the post and void handlers and by the sweeper that voids
// holds left unsettled past their expiry: who may touch a hold (withHold) and voiding one.
import type { ApprovalOf } from '../protocol/index.js';
import type { AuditEntry } from './audit.js';
import { availableCents, decideVoid } from './ledger.js';
import { DeclineCode } from '../protocol/index.js';
import { stripId, type ActionBase, type Handled, type ServiceCore, type SessionContext } from './service-core.js';
import type { TxnRecord } from './types.js';

/**
 * Runs fn with the hold's txn and user locks held, after checking who may settle it: the
 * logged-in owner of the hold, or, with nobody logged in, the kiosk that placed it (so a
 * kiosk restarting after a power cut can settle what its journal says, DESIGN §5).
 * The owner is looked up before the locks (a transaction's owner never changes) and the
 * check is made again on the record read under them; both locks are taken at once, never one
 * inside the other: a host on a shared database holds a connection per lock scope, and a
 * scope waiting inside another for the account's lock would pin connections the account's
 * current holder may need.
 */
export async function withHold(
  core: ServiceCore,
  session: SessionContext,
  txnId: string,
  action: Omit<ActionBase, 'username'>,
  requestId: number,
  fn: (hold: TxnRecord, base: ActionBase) => Promise<Handled>,
): Promise<Handled> {
  const allowed = (txn: TxnRecord | null): txn is TxnRecord =>
    txn !== null &&
    txn.kind === 'withdraw' &&
    txn.state !== 'declined' &&
    (session.username !== null ? txn.username === session.username : txn.kioskId === session.kioskId);
  const refuse = (): Promise<Handled> => {
    const base = { ...action, username: session.username };
    return core.declined(session, requestId, base, DeclineCode.UNKNOWN_TXN, undefined, txnId);
  };
  const peek = await core.options.store.getTxn(txnId);
  if (!allowed(peek)) return refuse();
  return core.locks.withKeys([`txn:${txnId}`, `user:${peek.username}`], async () => {
    const hold = await core.options.store.getTxn(txnId);
    // model: protocol/settlement.pml, decide(): post and void of no hold of this kiosk are UNKNOWN_TXN
    if (!allowed(hold) || hold.username !== peek.username) return refuse();
    return fn(hold, { ...action, username: hold.username });
  });
}

/** Caller holds the txn and user locks. */
export async function voidHold(
  core: ServiceCore,
  session: SessionContext,
  hold: TxnRecord,
  reason: string,
  requestId: number,
): Promise<ApprovalOf<'withdraw.void'>> {
  const account = await core.readAccount(hold.username);
  if (account === null) throw new Error(`hold ${hold.txnId} names a missing account`);
  const nowMs = core.now();
  const updated = decideVoid(account, hold, nowMs);
  const response: ApprovalOf<'withdraw.void'> = {
    id: requestId,
    ok: true,
    txnId: hold.txnId,
    postedCents: 0,
    balanceCents: availableCents(updated),
  };
  // model: protocol/settlement.pml, decide() b_void / SWEEP: release the hold in one batch (b_commit)
  const voided: TxnRecord = { ...hold, state: 'voided', settledAtMs: nowMs, settleResponse: stripId(response) };
  const entry: AuditEntry = {
    kioskId: session.kioskId,
    username: hold.username,
    action: 'withdraw.void',
    outcome: 'ok',
    amountCents: hold.amountCents,
    txnId: hold.txnId,
    detail: reason.slice(0, 200),
  };
  await core.commit({ accounts: [updated], txns: [voided], openHoldsRemoved: [hold.txnId] }, entry);
  return response;
}

/**
 * Voids every hold past its expiry; returns how many. Driven by a timer with the injected clock.
 * model: protocol/settlement.pml, proctype Sweeper (any open hold may expire at any moment; P4)
 */

export async function sweepExpiredHolds(core: ServiceCore): Promise<number> {
  let voided = 0;
  for (const txnId of await core.options.store.listOpenHolds()) {
    const peek = await core.options.store.getTxn(txnId);
    if (peek?.state !== 'held' || (peek.holdExpiresAtMs ?? 0) > core.now()) continue;
    await core.locks.withKeys([`txn:${txnId}`, `user:${peek.username}`], async () => {
      const hold = await core.options.store.getTxn(txnId);
      if (hold?.state !== 'held' || (hold.holdExpiresAtMs ?? 0) > core.now()) return;
      await voidHold(
        core,
        { kioskId: hold.kioskId, remote: 'sweeper', username: null },
        hold,
        'hold expired unsettled',
        0,
      );
      voided += 1;
    });
  }
  return voided;
}
