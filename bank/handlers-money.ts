// The bank's money handlers: balance, deposit, and the two-phase withdrawal (hold, then post
// what was dispensed or void), with the sweeper that voids holds left unsettled. Each takes the
// transaction id's and the account's locks, decides with ledger.ts, and commits one batch (state
// and audit record) before answering; a repeated transaction id gets the first answer again.
import { DeclineCode, formatCents, planted } from '../protocol/index.js';
import type { ApprovalOf, Request } from '../protocol/index.js';
import { availableCents, decideDeposit, decideHold, decidePost } from './ledger.js';
import {
  decline,
  safeAmount,
  stripId,
  type ActionBase,
  type Handled,
  type ServiceCore,
  type SessionContext,
} from './service-core.js';
import type { TxnKind, TxnRecord } from './types.js';
import { voidHold, withHold } from './holds.js';

export async function onBalance(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'balance' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'balance', username };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  return core.locks.withKeys([`user:${username}`], async () => {
    const account = await core.readAccount(username);
    if (account === null) return core.declined(session, request.id, base, DeclineCode.INTERNAL);
    await core.audit(core.entry(session, base, 'ok'));
    return {
      response: { id: request.id, ok: true, balanceCents: availableCents(account) },
      outcome: { ...base, outcome: 'ok' },
    };
  });
}

/**
 * A transaction id already in the ledger: the same request (kind, user, amount) gets its first
 * answer again and moves nothing; anything else under that id is DUPLICATE_TXN.
 * model: protocol/settlement.pml, decide() b_repeat (P3: a repeated id credits nothing twice)
 */
function answerRepeat(
  core: ServiceCore,
  session: SessionContext,
  request: { id: number; txnId: string; amountCents: number },
  base: ActionBase,
  existing: TxnRecord,
  kind: TxnKind,
  username: string,
): Promise<Handled> {
  const same = existing.kind === kind && existing.username === username && existing.amountCents === request.amountCents;
  return same
    ? core.replayed(session, request.id, base, existing)
    : core.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
}

export function onDeposit(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'deposit' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'deposit', username, amountCents: safeAmount(request.amountCents) };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  return creditDeposit(core, session, request, base, username);
}

/**
 * [ATM-4.15] A deposit the kiosk asked for and got no answer to (the link dropped, the kiosk lost
 * power): asked again under the same id, for the customer who confirmed it, whose session is gone.
 * A repeat gets the first answer ('replayed'); an id the bank never saw is credited now, because
 * the customer's notes are in the kiosk's escrow and the kiosk journaled the deposit before asking.
 * The kiosk is trusted here as it is for counting the notes in the first place; the deposit
 * limits apply as to any deposit, and the audit names the kiosk.
 */
export async function onDepositResolve(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'deposit.resolve' }>,
): Promise<Handled> {
  const base: ActionBase = {
    action: 'deposit.resolve',
    username: request.username,
    amountCents: safeAmount(request.amountCents),
  };
  // A logged-in session may resolve only its own customer's deposits.
  if (session.username !== null && session.username !== request.username)
    return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN, undefined, request.txnId);
  if ((await core.readAccount(request.username)) === null)
    return core.declined(session, request.id, base, DeclineCode.INVALID_USERNAME, undefined, request.txnId);
  return creditDeposit(core, session, request, base, request.username);
}

function creditDeposit(
  core: ServiceCore,
  session: SessionContext,
  request: { id: number; txnId: string; amountCents: number },
  base: ActionBase,
  username: string,
): Promise<Handled> {
  return core.locks.withKeys([`txn:${request.txnId}`, `user:${username}`], async () => {
    // model: protocol/settlement.pml, Bank b_request (the whole handler is one step under these locks)
    const existing = await core.options.store.getTxn(request.txnId);
    if (existing !== null) return answerRepeat(core, session, request, base, existing, 'deposit', username);
    const account = await core.readAccount(username);
    if (account === null) return core.declined(session, request.id, base, DeclineCode.INTERNAL);
    const decision = decideDeposit(account, request.amountCents, core.limits);
    if (!decision.ok)
      return core.declined(
        session,
        request.id,
        base,
        decision.code,
        undefined,
        request.txnId,
        undefined,
        decision.limit,
      );
    const response: ApprovalOf<'deposit'> = {
      id: request.id,
      ok: true,
      txnId: request.txnId,
      balanceCents: availableCents(decision.account),
    };
    const txn = core.txn(
      session,
      request.txnId,
      'deposit',
      username,
      request.amountCents,
      'posted',
      request.amountCents,
      response,
    );
    // model: protocol/settlement.pml, decide() b_deposit, then b_commit (credit and txn record in
    // one durable batch) and b_answer (only after it); deposit declines are not modelled
    await core.commit(
      { accounts: [decision.account], txns: [txn] },
      core.entry(session, base, 'ok', { txnId: request.txnId }),
    );
    return { response, outcome: { ...base, outcome: 'ok' } };
  });
}

export async function onHold(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'withdraw.hold' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'withdraw.hold', username, amountCents: safeAmount(request.amountCents) };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  return core.locks.withKeys([`txn:${request.txnId}`, `user:${username}`], async () => {
    // model: protocol/settlement.pml, Bank b_request
    const existing = await core.options.store.getTxn(request.txnId);
    if (existing !== null) return answerRepeat(core, session, request, base, existing, 'withdraw', username);
    const account = await core.readAccount(username);
    if (account === null) return core.declined(session, request.id, base, DeclineCode.INTERNAL);
    const nowMs = core.now();
    const decision = decideHold(account, request.amountCents, core.limits, nowMs);
    if (!decision.ok) {
      if (decision.code === DeclineCode.INVALID_AMOUNT) return core.declined(session, request.id, base, decision.code);
      // Remember the decline so a retry of this id gets the same answer, not a fresh try.
      // model: protocol/settlement.pml, decide() b_hold declined (R_DECLINED)
      const response = decline(request.id, decision.code);
      if (decision.limit !== undefined) response.limit = decision.limit;
      const txn = core.txn(session, request.txnId, 'withdraw', username, request.amountCents, 'declined', 0, response);
      await core.commit({ txns: [txn] }, core.entry(session, base, decision.code, { txnId: request.txnId }));
      return { response, outcome: { ...base, outcome: decision.code } };
    }
    const holdExpiresAtMs = nowMs + core.holdTimeoutMs;
    const response: ApprovalOf<'withdraw.hold'> = {
      id: request.id,
      ok: true,
      txnId: request.txnId,
      heldCents: request.amountCents,
      holdExpiresAt: new Date(holdExpiresAtMs).toISOString(),
    };
    const txn = {
      ...core.txn(session, request.txnId, 'withdraw', username, request.amountCents, 'held', 0, response),
      holdExpiresAtMs,
    };
    // model: protocol/settlement.pml, decide() b_hold (R_HELD), b_commit, b_answer
    await core.commit(
      { accounts: [decision.account], txns: [txn], openHoldsAdded: [request.txnId] },
      core.entry(session, base, 'ok', { txnId: request.txnId }),
    );
    return { response, outcome: { ...base, outcome: 'ok' } };
  });
}

export async function onPost(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'withdraw.post' }>,
): Promise<Handled> {
  return withHold(
    core,
    session,
    request.txnId,
    { action: 'withdraw.post', amountCents: safeAmount(request.dispensedCents) },
    request.id,
    async (hold, base) => {
      const username = hold.username;
      // model: protocol/settlement.pml, decide() b_post (a replay of the first answer)
      if (hold.state === 'posted') {
        return hold.postedCents === request.dispensedCents && hold.settleResponse !== undefined
          ? core.replayed(session, request.id, base, hold, hold.settleResponse)
          : core.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
      }
      if (hold.state === 'voided' && planted('post-without-hold')) {
        // The torture suite's planted bug (protocol/faults.ts): debits a hold that is gone.
        // model: protocol/settlement.pml, -DBUG_POST_WITHOUT_HOLD
        const account = await core.readAccount(username);
        if (account === null) return core.declined(session, request.id, base, DeclineCode.INTERNAL);
        const debited = { ...account, balanceCents: Math.max(0, account.balanceCents - request.dispensedCents) };
        const response: ApprovalOf<'withdraw.post'> = {
          id: request.id,
          ok: true,
          txnId: request.txnId,
          postedCents: request.dispensedCents,
          balanceCents: availableCents(debited),
        };
        const settled: TxnRecord = { ...hold, state: 'posted', postedCents: request.dispensedCents };
        await core.commit(
          { accounts: [debited], txns: [settled] },
          core.entry(session, base, 'ok', { txnId: request.txnId }),
        );
        return { response, outcome: { ...base, outcome: 'ok' } };
      }
      if (hold.state === 'voided') {
        // The hold expired (or was voided) before this report. Cash may have left the kiosk:
        // the audit record flags it for reconciliation instead of debiting an unheld balance.
        // model: protocol/settlement.pml, decide() b_post_after_void (P1's first exception)
        return core.declined(
          session,
          request.id,
          base,
          DeclineCode.UNKNOWN_TXN,
          undefined,
          request.txnId,
          'post after void: reconcile',
        );
      }
      const account = await core.readAccount(username);
      if (account === null) return core.declined(session, request.id, base, DeclineCode.INTERNAL);
      const nowMs = core.now();
      // model: protocol/settlement.pml, decide() b_post: debit what came out (P2), release the hold
      const decision = decidePost(account, hold, request.dispensedCents, nowMs);
      if (!decision.ok) return core.declined(session, request.id, base, decision.code, undefined, request.txnId);
      const response: ApprovalOf<'withdraw.post'> = {
        id: request.id,
        ok: true,
        txnId: request.txnId,
        postedCents: request.dispensedCents,
        balanceCents: availableCents(decision.account),
      };
      const settled: TxnRecord = {
        ...hold,
        state: 'posted',
        postedCents: request.dispensedCents,
        settledAtMs: nowMs,
        settleResponse: stripId(response),
      };
      await core.commit(
        { accounts: [decision.account], txns: [settled], openHoldsRemoved: [request.txnId] },
        core.entry(session, base, 'ok', { txnId: request.txnId, detail: `held ${formatCents(hold.amountCents)}` }),
      );
      return { response, outcome: { ...base, outcome: 'ok' } };
    },
  );
}

export async function onVoid(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'withdraw.void' }>,
): Promise<Handled> {
  return withHold(core, session, request.txnId, { action: 'withdraw.void' }, request.id, async (hold, base) => {
    // model: protocol/settlement.pml, decide() b_void (a replay, DUPLICATE_TXN, or voidHold)
    if (hold.state === 'voided')
      return core.replayed(session, request.id, { ...base, amountCents: hold.amountCents }, hold, hold.settleResponse);
    if (hold.state === 'posted')
      return core.declined(session, request.id, base, DeclineCode.DUPLICATE_TXN, undefined, request.txnId);
    const result = await voidHold(core, session, hold, request.reason, request.id);
    return { response: result, outcome: { ...base, amountCents: hold.amountCents, outcome: 'ok' } };
  });
}
