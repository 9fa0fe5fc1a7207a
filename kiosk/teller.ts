// The money-moving steps the controller runs for the flow: a deposit (notes in the escrow, the
// bank asked until it answers, then the notes stored or handed back), the two-phase withdrawal
// (hold → dispense → post what came out, or void), and the settling of what a power cut or a
// lost answer left open. Each step is journaled before the kiosk acts on it ([DESIGN §5]).
// The transaction id comes from the flow's state (created once, reused on a retry).
import type { CashAcceptor, Cassette, CashInResult, CashDispenser } from '../hardware/index.js';
import { AtmError, type DeclineResponse, type ResponseOf } from '../protocol/index.js';
import { OUTCOME_UNKNOWN_CODES, type DeclineDetail, type EffectResult, type EscrowFate } from './flow.js';
import type { EscrowOutcome } from './journal-events.js';
import { RECOVERY_REASON, planRecovery, type RecoveryAction, type UnfinishedTxn } from './recovery.js';
import type { BankLink, Journal } from './seams.js';

/** Between two askings of a deposit whose answer was lost: doubling from the first to the last. */
export const DEPOSIT_RETRY_FIRST_MS = 250;
export const DEPOSIT_RETRY_MAX_MS = 5_000;
/** Presented cash not taken within this is retracted (a common ATM setting is 20–45 s). */
export const TAKE_TIMEOUT_MS_DEFAULT = 30_000;

export interface TellerOptions {
  link: BankLink;
  journal: Journal;
  dispenser: CashDispenser;
  /** The cash-in module, when the kiosk has one. */
  acceptor?: CashAcceptor;
  /** How long presented cash waits to be taken before the dispenser retracts it. */
  takeTimeoutMs?: number;
  /** Cash is presented at the slot: the customer is told to take it. */
  onPresented?: (txnId: string, amountCents: number) => void;
  /** A deposit's answer was lost and it is being asked again: the customer is told to wait. */
  onWaiting?: (txnId: string) => void;
  /** Waits between askings; ends early (resolving false) once the kiosk is stopping. */
  pause?: (ms: number) => Promise<boolean>;
  /** After each dispense (notes left the cassettes): the flow and the bank hear of it. */
  onDispensed: () => void;
  log: (line: string) => void;
  /**
   * The withdrawals this kiosk is carrying out right now. Recovery (settleUnfinished) runs on every
   * reconnect and must leave these alone: their journal says "dispense started, no result" only
   * because the notes are still coming out, not because a power cut interrupted them. Voiding one
   * mid-dispense let cash out with no debit (found by the SPIN model, -DTODAY_RECONNECT_SETTLE).
   */
  active: Set<string>;
}

type WithdrawFailure = Extract<EffectResult, { effect: 'withdraw'; ok: false }>;

/**
 * A deposit: journaled, then asked under its id until the bank answers, then the escrow stored
 * (approval) or handed back (decline). Never guessed: with no answer it asks again (deposit.resolve,
 * the customer's session having gone with the link) until one comes or the kiosk stops, and then
 * the journal keeps it open for recovery at the next start. notes null: a typed deposit.
 */
export async function deposit(
  options: TellerOptions,
  txn: { txnId: string; username: string; amountCents: number; notes: Cassette[] | null },
): Promise<EffectResult> {
  const { txnId, amountCents, notes } = txn;
  const { acceptor } = options;
  if (notes !== null) {
    // What is asked for must be what the escrow holds: the customer confirmed these notes.
    if (acceptor?.escrow().totalCents !== amountCents)
      return { effect: 'deposit', ok: false, code: 'ESCROW_MISMATCH', escrow: null };
  }
  const { username } = txn;
  // model: protocol/settlement.pml, k_deposit_sent
  options.journal.append({ type: 'deposit.sent', txnId, username, amountCents, ...(notes === null ? {} : { notes }) });
  options.active.add(txnId);
  try {
    const response = await askDeposit(options, txn);
    if (response === null) throw new AtmError('SESSION_CLOSED', 'the kiosk stopped before the bank answered');
    return await finishDeposit(options, txn, response);
  } finally {
    options.active.delete(txnId);
  }
}

/**
 * The declines of a deposit.resolve that answer for the deposit itself: the bank decided it now
 * (the id was new to it) and refused, or the account does not exist, so nothing was credited.
 * Any other decline (BUSY, INTERNAL, DUPLICATE_TXN, BAD_REQUEST, ...) says nothing about whether
 * the first asking was credited: the notes stay in the escrow and the bank is asked again.
 */
export const DEPOSIT_REFUSALS: readonly string[] = ['INVALID_AMOUNT', 'LIMIT_EXCEEDED', 'INVALID_USERNAME'];

/** Whether an answer to a deposit.resolve settles the deposit (see DEPOSIT_REFUSALS). */
export function resolveSettles(response: ResponseOf<'deposit.resolve'>): boolean {
  return response.ok || DEPOSIT_REFUSALS.includes(response.code);
}

/** model: k_deposit_ask. No answer: the same id again until one comes; null once the kiosk stops. */
async function askDeposit(
  options: TellerOptions,
  txn: { txnId: string; username: string; amountCents: number },
): Promise<ResponseOf<'deposit'> | null> {
  const { link } = options;
  const { txnId, username, amountCents } = txn;
  let waitMs = DEPOSIT_RETRY_FIRST_MS;
  for (let asking = 0; ; asking += 1) {
    try {
      // The first asking is the customer's own request: any decline means nothing was credited.
      // Later ones are the kiosk's (no login needed), and only some declines answer for the deposit.
      if (asking === 0) return await link.request({ op: 'deposit', txnId, amountCents });
      const response = await link.request({ op: 'deposit.resolve', txnId, username, amountCents });
      if (response.ok || DEPOSIT_REFUSALS.includes(response.code)) return response;
      options.log(`deposit ${txnId}: the bank answered ${response.code} to asking again; asking again`);
    } catch (error) {
      if (!(error instanceof AtmError) || !OUTCOME_UNKNOWN_CODES.includes(error.code)) throw error;
      options.log(`deposit ${txnId}: no answer (${error.code}); asking again under the same id`);
      options.onWaiting?.(txnId);
    }
    const pause = options.pause ?? ((ms: number) => new Promise<boolean>((resolve) => setTimeout(resolve, ms, true)));
    if (!(await pause(waitMs))) return null;
    waitMs = Math.min(waitMs * 2, DEPOSIT_RETRY_MAX_MS);
  }
}

/** The answer journaled, then the escrow follows it. */
async function finishDeposit(
  options: Pick<TellerOptions, 'journal' | 'acceptor' | 'log'>,
  txn: { txnId: string; amountCents: number; notes: Cassette[] | null },
  response: ResponseOf<'deposit'>,
): Promise<EffectResult> {
  const { txnId, amountCents } = txn;
  options.journal.append({ type: 'deposit.result', txnId, outcome: response.ok ? 'ok' : response.code }); // model: k_deposit_result
  const escrow = txn.notes === null ? null : await moveEscrow(options, txnId, amountCents, response.ok);
  if (!response.ok) return { effect: 'deposit', ok: false, code: response.code, escrow, ...declineDetail(response) };
  return { effect: 'deposit', ok: true, amountCents, balanceCents: response.balanceCents, txnId, escrow };
}

/**
 * Stores the escrow (approved) or hands it back (declined), journaling what became of the notes.
 * A fault (a jam, a full cassette, the module offline) journals nothing: the deposit stays open and
 * recovery tries the same movement again, so notes are never stored after a decline or returned
 * after an approval.
 */
async function moveEscrow(
  options: Pick<TellerOptions, 'journal' | 'acceptor' | 'log'>,
  txnId: string,
  amountCents: number,
  approved: boolean,
): Promise<EscrowFate> {
  const acceptor = options.acceptor;
  if (acceptor === undefined) return 'cashInOffline';
  const moved: CashInResult = approved ? await acceptor.store() : await acceptor.returnNotes();
  let outcome: EscrowOutcome;
  if (moved.ok) outcome = approved ? 'stored' : 'returned';
  else if (moved.fault === 'notesNotTaken') outcome = 'retained';
  else {
    options.log(`deposit ${txnId}: escrow ${approved ? 'store' : 'return'} failed: ${moved.fault} (${moved.detail})`);
    return moved.fault;
  }
  options.journal.append({ type: 'escrow', txnId, outcome, amountCents });
  return outcome;
}

/** hold → dispense → post what came out (partial included) or void; each step journaled first. */
export async function withdraw(
  options: TellerOptions,
  txn: { txnId: string; username: string; amountCents: number },
): Promise<EffectResult> {
  options.active.add(txn.txnId);
  try {
    return await withdrawSteps(options, txn);
  } finally {
    options.active.delete(txn.txnId);
  }
}

async function withdrawSteps(
  options: TellerOptions,
  txn: { txnId: string; username: string; amountCents: number },
): Promise<EffectResult> {
  const { txnId, username, amountCents } = txn;
  const { link, journal, dispenser } = options;
  const failed = (code: string, extra: Partial<WithdrawFailure> = {}): EffectResult => ({
    effect: 'withdraw',
    ok: false,
    code,
    requestedCents: amountCents,
    dispensedCents: 0,
    ...extra,
  });
  if (dispenser.notesFor(amountCents) === null) return failed('CANNOT_DISPENSE');
  journal.append({ type: 'hold.sent', txnId, username, amountCents }); // model: protocol/settlement.pml, k_hold_sent
  const hold = await link.request({ op: 'withdraw.hold', txnId, amountCents }); // model: k_hold_ask
  journal.append({ type: 'hold.result', txnId, outcome: hold.ok ? 'ok' : hold.code }); // model: k_hold_result
  if (!hold.ok) return failed(hold.code, { txnId, ...declineDetail(hold) });
  journal.append({ type: 'dispense.started', txnId, amountCents }); // model: k_dispense_started
  // model: k_dispense. If the link drops and comes back while this await runs, controller.ts runs
  // settleUnfinished, which skips this transaction: it is in options.active (the model's
  // -DTODAY_RECONNECT_SETTLE shows what happened before it was: the hold voided mid-dispense).
  const dispensed = await dispenser.dispense(amountCents);
  // model: k_dispense_result
  journal.append({
    type: 'dispense.result',
    txnId,
    dispensedCents: dispensed.dispensedCents,
    fault: dispensed.ok ? null : dispensed.fault,
  });
  options.onDispensed();
  // Item 4: cash presented and not taken in time is retracted; it never left, so the hold is voided.
  if (dispensed.dispensedCents > 0 && dispenser.awaitTake !== undefined) {
    options.onPresented?.(txnId, dispensed.dispensedCents);
    const take = await dispenser.awaitTake(options.takeTimeoutMs ?? TAKE_TIMEOUT_MS_DEFAULT);
    if (take === 'retracted') {
      journal.append({ type: 'retracted', txnId, amountCents: dispensed.dispensedCents });
      options.onDispensed();
      const voided = await settle(options, txnId, { action: 'void', reason: RECOVERY_REASON.RETRACTED });
      return failed('CASH_RETRACTED', {
        txnId,
        ...(voided?.ok === true ? { balanceCents: voided.balanceCents } : {}),
      });
    }
  }
  // model: k_settle: void for nothing dispensed, else post exactly what came out
  if (dispensed.dispensedCents === 0) {
    const voided = await settle(options, txnId, {
      action: 'void',
      reason: `dispenser fault: ${dispensed.ok ? 'none' : dispensed.fault}`,
    });
    return failed('DISPENSE_FAULT', {
      txnId,
      ...(voided?.ok === true ? { balanceCents: voided.balanceCents } : {}),
    });
  }
  const posted = await settle(options, txnId, { action: 'post', dispensedCents: dispensed.dispensedCents });
  if (!posted?.ok) return failed('SETTLE_PENDING', { txnId, dispensedCents: dispensed.dispensedCents });
  return {
    effect: 'withdraw',
    ok: true,
    requestedCents: amountCents,
    dispensedCents: dispensed.dispensedCents,
    balanceCents: posted.balanceCents,
    txnId,
  };
}

/** Posts or voids one hold and journals the outcome; null when the bank could not be asked. */
async function settle(
  options: Pick<TellerOptions, 'link' | 'journal'>,
  txnId: string,
  action: { action: 'post'; dispensedCents: number } | { action: 'void'; reason: string },
): Promise<ResponseOf<'withdraw.post' | 'withdraw.void'> | null> {
  let response: ResponseOf<'withdraw.post' | 'withdraw.void'>;
  try {
    response =
      action.action === 'post'
        ? await options.link.request({ op: 'withdraw.post', txnId, dispensedCents: action.dispensedCents })
        : await options.link.request({ op: 'withdraw.void', txnId, reason: action.reason });
  } catch {
    return null; // stays unfinished in the journal: settled on the next start or reconnect
  }
  // model: protocol/settlement.pml, k_settled / k_recover_settled (JOURNAL_ANSWER)
  const outcome = response.ok ? (action.action === 'post' ? 'posted' : 'voided') : 'refused';
  options.journal.append({
    type: 'settled',
    txnId,
    outcome,
    postedCents: response.ok && action.action === 'post' ? action.dispensedCents : 0,
    ...(response.ok ? {} : { detail: response.code }),
  });
  return response;
}

/**
 * Recovery from the journal: post what was dispensed, void what was not.
 * model: protocol/settlement.pml, k_recover / recover_all (one attempt per open item)
 */
export async function settleUnfinished(
  options: Pick<TellerOptions, 'link' | 'journal' | 'log'> & Partial<Pick<TellerOptions, 'active' | 'acceptor'>>,
): Promise<void> {
  const unfinished = options.journal.unfinished();
  const plan = planRecovery(unfinished);
  for (const [index, action] of plan.entries()) {
    if (action.action === 'none' || options.active?.has(action.txnId) === true) continue;
    if (action.action === 'resolve' || action.action === 'store' || action.action === 'return') {
      await settleDeposit(options, action, unfinished[index] as UnfinishedTxn);
      continue;
    }
    const response = await settle(
      options,
      action.txnId,
      action.action === 'post'
        ? { action: 'post', dispensedCents: action.dispensedCents }
        : { action: 'void', reason: action.reason },
    );
    options.log(
      `recovery ${action.action} ${action.txnId}: ${response === null ? 'bank unreachable, will retry' : response.ok ? 'ok' : response.code}`,
    );
  }
}

/** A deposit left open: asked once more under its id (no answer leaves it open), then its escrow moved. */
async function settleDeposit(
  options: Pick<TellerOptions, 'link' | 'journal' | 'log'> & Partial<Pick<TellerOptions, 'acceptor'>>,
  action: Extract<RecoveryAction, { action: 'resolve' | 'store' | 'return' }>,
  item: UnfinishedTxn,
): Promise<void> {
  const notes = item.notes ?? null;
  if (action.action !== 'resolve') {
    const fate = await moveEscrow(options, action.txnId, item.amountCents, action.action === 'store');
    options.log(`recovery ${action.action} escrow of ${action.txnId}: ${fate}`);
    return;
  }
  let response: ResponseOf<'deposit.resolve'>;
  try {
    response = await options.link.request({
      op: 'deposit.resolve',
      txnId: action.txnId,
      username: action.username,
      amountCents: action.amountCents,
    });
  } catch (error) {
    options.log(
      `recovery resolve ${action.txnId}: ${error instanceof AtmError ? error.code : String(error)}, will retry`,
    );
    return;
  }
  if (!resolveSettles(response)) {
    options.log(`recovery resolve ${action.txnId}: an answer that says nothing of the deposit; will ask again`);
    return;
  }
  const result = await finishDeposit(options, { txnId: action.txnId, amountCents: item.amountCents, notes }, response);
  options.log(
    `recovery resolve ${action.txnId}: ${response.ok ? 'credited' : response.code}${result.effect === 'deposit' && result.escrow !== null ? `, notes ${result.escrow}` : ''}`,
  );
}

/** What a decline says beyond its code, for the customer's screen. */
export function declineDetail(response: DeclineResponse): DeclineDetail {
  const detail: DeclineDetail = {};
  if (response.lockedUntil !== undefined) detail.lockedUntil = response.lockedUntil;
  if (typeof response.attemptsLeft === 'number') detail.attemptsLeft = response.attemptsLeft;
  if (response.limit !== undefined) detail.limit = response.limit;
  return detail;
}
