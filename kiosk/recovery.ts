// [DESIGN §5] Start-up recovery: from the journal's unfinished transactions, what the kiosk
// must tell the bank before serving anyone (post what was dispensed, void what was not).
import type { JournalEvent } from './journal-events.js';

export interface UnfinishedWithdrawal {
  /** Absent or 'withdrawal' for a hold; 'deposit' for a deposit sent without a result (only txnId, username, amountCents matter then). */
  kind?: 'withdrawal' | 'deposit';
  txnId: string;
  username: string;
  amountCents: number;
  holdOutcome: string | null;
  dispenseStarted: boolean;
  dispensedCents: number | null;
  fault: string | null;
}

export type RecoveryAction =
  | { txnId: string; action: 'post'; dispensedCents: number }
  | { txnId: string; action: 'void'; reason: string }
  | { txnId: string; action: 'none'; reason: string };

export const RECOVERY_REASON = {
  DEPOSIT_UNKNOWN: "deposit outcome unknown; the bank's answer to a retry of the same id tells",
  HOLD_UNKNOWN: 'hold outcome unknown; void is harmless if the bank never placed it',
  HOLD_REFUSED: 'hold was refused; nothing to settle',
  NOT_DISPENSED: 'hold placed but nothing dispensed',
  DISPENSED_NOTHING: 'dispense reported 0 cents',
  DISPENSE_INTERRUPTED: 'dispense interrupted: count the cassettes',
} as const;

/**
 * What to tell the bank about each unfinished transaction after a restart. Pure. The rules:
 * - a deposit sent without a result: 'none'. The kiosk cannot know whether the bank applied
 *   it; retrying with the same txn id is safe (the bank answers a repeat with the first result).
 * - a dispense.result with dispensedCents > 0: 'post' exactly that (a partial dispense too):
 *   the cash has left the machine, so the customer's account must carry it. This rule is
 *   checked first because it is the strongest evidence the journal can hold.
 * - a dispense.result with 0: 'void'.
 * - dispense.started without a result (power cut during the dispense itself): 'void' with
 *   DISPENSE_INTERRUPTED. The journal cannot know how many notes left; voiding is the safe
 *   default for the customer, and an operator reconciles by counting the cassettes.
 * - hold sent but no result: 'void'. The bank may or may not have placed it; a void of an
 *   unknown hold is harmless (the bank answers UNKNOWN_TXN).
 * - hold result not 'ok': 'none'; no hold exists.
 * - hold 'ok', dispense not started: 'void'.
 */
// model: protocol/settlement.pml, recover_all (the op it picks for an item) and OPEN_ITEM; the
// model's deposits follow the intended rule (ask again, same id), -DTODAY_DEPOSIT_UNKNOWN this one
export function planRecovery(unfinished: UnfinishedWithdrawal[]): RecoveryAction[] {
  return unfinished.map((item): RecoveryAction => {
    const { txnId } = item;
    if (item.kind === 'deposit') return { txnId, action: 'none', reason: RECOVERY_REASON.DEPOSIT_UNKNOWN };
    if (item.dispensedCents !== null) {
      return item.dispensedCents > 0
        ? { txnId, action: 'post', dispensedCents: item.dispensedCents }
        : { txnId, action: 'void', reason: RECOVERY_REASON.DISPENSED_NOTHING };
    }
    if (item.dispenseStarted) return { txnId, action: 'void', reason: RECOVERY_REASON.DISPENSE_INTERRUPTED };
    if (item.holdOutcome === null) return { txnId, action: 'void', reason: RECOVERY_REASON.HOLD_UNKNOWN };
    if (item.holdOutcome !== 'ok')
      return { txnId, action: 'none', reason: `${RECOVERY_REASON.HOLD_REFUSED} (${item.holdOutcome})` };
    return { txnId, action: 'void', reason: RECOVERY_REASON.NOT_DISPENSED };
  });
}

/**
 * Withdrawals whose hold was sent and that are not settled, and deposits sent without a result, in first-sent order.
 * model: protocol/settlement.pml, OPEN_ITEM over the journal (j_stage, j_settled)
 */
export function unfinishedOf(events: readonly JournalEvent[]): UnfinishedWithdrawal[] {
  const open = new Map<string, UnfinishedWithdrawal>();
  const finished = new Set<string>();
  for (const event of events) {
    const current = open.get(event.txnId);
    switch (event.type) {
      case 'deposit.sent':
      case 'hold.sent': {
        const kind = event.type === 'hold.sent' ? 'withdrawal' : 'deposit';
        if (current === undefined) {
          open.set(event.txnId, {
            kind,
            txnId: event.txnId,
            username: event.username,
            amountCents: event.amountCents,
            holdOutcome: null,
            dispenseStarted: false,
            dispensedCents: null,
            fault: null,
          });
        }
        break;
      }
      case 'deposit.result':
        if (current?.kind === 'deposit') finished.add(event.txnId);
        break;
      case 'hold.result':
        if (current !== undefined) current.holdOutcome = event.outcome;
        break;
      case 'dispense.started':
        if (current !== undefined) current.dispenseStarted = true;
        break;
      case 'dispense.result':
        if (current !== undefined) {
          current.dispenseStarted = true;
          current.dispensedCents = event.dispensedCents;
          current.fault = event.fault;
        }
        break;
      case 'settled':
        finished.add(event.txnId);
        break;
    }
  }
  return [...open.values()].filter((item) => !finished.has(item.txnId));
}
