// [DESIGN §5] Start-up recovery: from the journal's unfinished transactions, what the kiosk
// must tell the bank before serving anyone (post what was dispensed, void what was not, ask
// again about a deposit whose answer was lost) and do with the notes in the escrow.
import type { Cassette } from '../protocol/index.js';
import type { JournalEvent } from './journal-events.js';

export interface UnfinishedWithdrawal {
  /** Absent or 'withdrawal' for a hold; 'deposit' for a deposit (the hold and dispense fields stay unset). */
  kind?: 'withdrawal' | 'deposit';
  txnId: string;
  username: string;
  amountCents: number;
  holdOutcome: string | null;
  dispenseStarted: boolean;
  dispensedCents: number | null;
  fault: string | null;
  /** A withdrawal whose cash was presented, not taken and retracted: nothing left the machine. */
  retracted?: boolean;
  /** A deposit: the bank's answer ('ok' or its decline code), null while none came. */
  depositOutcome?: string | null;
  /** A deposit: the notes its escrow holds; null for one typed at a kiosk with no cash-in module. */
  notes?: Cassette[] | null;
}

/** A transaction recovery has to finish, whichever kind: one lifecycle for both. */
export type UnfinishedTxn = UnfinishedWithdrawal;

export type RecoveryAction =
  | { txnId: string; action: 'post'; dispensedCents: number }
  | { txnId: string; action: 'void'; reason: string }
  | { txnId: string; action: 'none'; reason: string }
  | { txnId: string; action: 'resolve'; username: string; amountCents: number; escrowed: boolean }
  | { txnId: string; action: 'store' }
  | { txnId: string; action: 'return' };

export const RECOVERY_REASON = {
  HOLD_UNKNOWN: 'hold outcome unknown; void is harmless if the bank never placed it',
  HOLD_REFUSED: 'hold was refused; nothing to settle',
  NOT_DISPENSED: 'hold placed but nothing dispensed',
  DISPENSED_NOTHING: 'dispense reported 0 cents',
  DISPENSE_INTERRUPTED: 'dispense interrupted: count the cassettes',
  RETRACTED: 'cash not taken: retracted',
} as const;

/**
 * What to tell the bank about each unfinished transaction after a restart. Pure. The rules:
 * - a deposit sent without an answer: 'resolve', i.e. ask again under the same txn id
 *   (deposit.resolve, [ATM-4.15]) until an answer comes; the bank answers a repeat with its first
 *   answer and credits an id it never saw once. Then the escrow follows the answer.
 * - a deposit answered 'ok' whose escrow is not stored yet: 'store'; answered with a decline:
 *   'return'. Notes are stored only after an approval and returned only after a decline.
 * - cash retracted (presented, not taken in time, pulled back in): 'void'. Nothing left the machine.
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
// deposits follow the model's rule (ask again, same id); -DTODAY_DEPOSIT_UNKNOWN is the old code
export function planRecovery(unfinished: UnfinishedWithdrawal[]): RecoveryAction[] {
  return unfinished.map((item): RecoveryAction => {
    const { txnId } = item;
    if (item.kind === 'deposit') {
      const escrowed = (item.notes ?? null) !== null;
      const outcome = item.depositOutcome ?? null;
      if (outcome === null)
        return { txnId, action: 'resolve', username: item.username, amountCents: item.amountCents, escrowed };
      return outcome === 'ok' ? { txnId, action: 'store' } : { txnId, action: 'return' };
    }
    // Retracted cash went back into the machine: it is the strongest evidence that nothing left.
    if (item.retracted === true) return { txnId, action: 'void', reason: RECOVERY_REASON.RETRACTED };
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
 * Withdrawals whose hold was sent and that are not settled, and deposits without an answer or whose
 * escrow was neither stored nor returned, in first-sent order.
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
        if (current === undefined) {
          open.set(event.txnId, {
            kind: event.type === 'hold.sent' ? 'withdrawal' : 'deposit',
            txnId: event.txnId,
            username: event.username,
            amountCents: event.amountCents,
            holdOutcome: null,
            dispenseStarted: false,
            dispensedCents: null,
            fault: null,
            ...(event.type === 'deposit.sent' ? { depositOutcome: null, notes: event.notes ?? null } : {}),
          });
        }
        break;
      }
      case 'deposit.result':
        if (current?.kind === 'deposit') {
          current.depositOutcome = event.outcome;
          // A typed deposit ends with the answer; an escrowed one when its notes are stored or returned.
          if ((current.notes ?? null) === null) finished.add(event.txnId);
        }
        break;
      case 'escrow':
        if (current?.kind === 'deposit') finished.add(event.txnId);
        break;
      case 'retracted':
        if (current !== undefined) current.retracted = true;
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
