// The money-moving steps the controller runs for the flow: a deposit, the two-phase withdrawal
// (hold → dispense → post what came out, or void), and the settling of what a power cut or a
// lost answer left open. Each step is journaled before the kiosk acts on it ([DESIGN §5]).
// The transaction id comes from the flow's state (created once, reused on a retry).
import type { CashDispenser } from '../hardware/index.js';
import type { DeclineResponse, ResponseOf } from '../protocol/index.js';
import type { DeclineDetail, EffectResult } from './flow.js';
import { planRecovery } from './recovery.js';
import type { BankLink, Journal } from './seams.js';

export interface TellerOptions {
  link: BankLink;
  journal: Journal;
  dispenser: CashDispenser;
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

export async function deposit(
  options: TellerOptions,
  txn: { txnId: string; username: string; amountCents: number },
): Promise<EffectResult> {
  const { txnId, username, amountCents } = txn;
  const { link, journal } = options;
  journal.append({ type: 'deposit.sent', txnId, username, amountCents }); // model: protocol/settlement.pml, k_deposit_sent
  // model: k_deposit_ask. No answer: the model asks again under the same id until one comes (the
  // intended rule); this code throws, and recovery plans 'none' (model: -DTODAY_DEPOSIT_UNKNOWN).
  const response = await link.request({ op: 'deposit', txnId, amountCents });
  journal.append({ type: 'deposit.result', txnId, outcome: response.ok ? 'ok' : response.code }); // model: k_deposit_result
  if (!response.ok) return { effect: 'deposit', ok: false, code: response.code, ...declineDetail(response) };
  if (typeof response.balanceCents !== 'number') return { effect: 'deposit', ok: false, code: 'BAD_RESPONSE' };
  return { effect: 'deposit', ok: true, amountCents, balanceCents: response.balanceCents, txnId };
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
  options: Pick<TellerOptions, 'link' | 'journal' | 'log'> & Partial<Pick<TellerOptions, 'active'>>,
): Promise<void> {
  for (const action of planRecovery(options.journal.unfinished())) {
    if (action.action === 'none' || options.active?.has(action.txnId) === true) continue;
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

/** What a decline says beyond its code, for the customer's screen. */
export function declineDetail(response: DeclineResponse): DeclineDetail {
  const detail: DeclineDetail = {};
  if (response.lockedUntil !== undefined) detail.lockedUntil = response.lockedUntil;
  if (typeof response.attemptsLeft === 'number') detail.attemptsLeft = response.attemptsLeft;
  if (response.limit !== undefined) detail.limit = response.limit;
  return detail;
}
