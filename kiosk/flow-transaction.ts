// The money screens: the menu, amount entry (digits and fast cash), and the confirmation after
// which a deposit or a withdrawal starts; plus what the cassettes allow.
import { notesForAmount } from '../hardware/index.js';
import type { Cassette, KeyName } from '../hardware/index.js';
import { assert, formatCents } from '../protocol/index.js';
import { FAST_CASH_CENTS, AMOUNT_DIGITS_MAX, busy, go, stay, tell } from './flow-state.js';
import type { Effect, FastCashKey, KioskState, PendingTxn, Screen, Step, StepContext, TxnKind } from './flow-state.js';
import { say } from './flow-words.js';
import { amount, text } from './lcd.js';

export function logout(state: KioskState): Step {
  return go(
    { ...state, username: null },
    { name: 'welcome' },
    [...(state.username !== null ? [{ kind: 'logout' } as const] : []), ...escrowEffects(state)],
    say('Thank you. Goodbye.', 'Goodbye'),
  );
}

/**
 * What leaving a screen does to the cash-in slot: an open slot is closed, and notes in the escrow
 * of a deposit not yet confirmed are handed back. A deposit in flight keeps its notes: its answer
 * decides (the teller stores or returns them).
 */
export function escrowEffects(state: KioskState): Effect[] {
  if (state.txn?.inFlight === true || state.devices.acceptor === 'noDevice') return [];
  if (state.escrow.totalCents > 0 || state.escrow.rejected > 0) return [{ kind: 'cashIn', step: 'return' }];
  return state.screen.name === 'insertNotes' ? [{ kind: 'cashIn', step: 'close' }] : [];
}

const DEPOSIT_UNAVAILABLE = say('Deposits are unavailable at this machine right now', 'No deposits');

/** A working cash-in module, or none at all (then deposits are typed, as envelope deposits). */
export function depositAvailable(state: KioskState): boolean {
  const acceptor = state.devices.acceptor;
  return acceptor === 'noDevice' || acceptor === 'online';
}

/** [item 5] The slot is open: notes are counted as they come; Enter goes on, Esc hands them back. */
export function onInsertKey(state: KioskState, key: KeyName): Step {
  const escrow = state.escrow;
  if (key === 'enter') {
    if (escrow.totalCents === 0) return stay(tell(state, say('Insert your notes into the slot first', 'Insert notes')));
    return go(
      state,
      { name: 'confirm', kind: 'deposit', amountCents: escrow.totalCents, notes: escrow.notes, digits: '' },
      [{ kind: 'cashIn', step: 'close' }],
    );
  }
  if (key === 'cancel' || key === 'D' || key === 'clear') return returnNotes(state);
  return stay(state);
}

/** Cancel with notes in the escrow: hand them back, then the menu. */
function returnNotes(state: KioskState): Step {
  if (state.escrow.totalCents === 0 && state.escrow.rejected === 0)
    return go(state, { name: 'menu' }, [{ kind: 'cashIn', step: 'close' }]);
  return go(state, busy('Returning your notes…', text(1, 'Take your notes', 'Take notes')), [
    { kind: 'cashIn', step: 'return' },
  ]);
}

const WITHDRAW_UNAVAILABLE = say('Withdrawals are unavailable at this machine right now', 'No withdrawals');

export function onMenuKey(state: KioskState, key: KeyName): Step {
  if (key === 'A' || key === '1')
    return go(state, busy('Fetching your balance…', text(1, 'Getting balance', 'Balance...')), [{ kind: 'balance' }]);
  if (key === 'B' || key === '2') {
    if (!depositAvailable(state)) return stay(tell(state, DEPOSIT_UNAVAILABLE));
    if (state.devices.acceptor === 'noDevice') return go(state, { name: 'amount', kind: 'deposit', digits: '' });
    return go(state, { name: 'insertNotes' }, [{ kind: 'cashIn', step: 'open' }]);
  }
  if (key === 'C' || key === '3') {
    if (!withdrawAvailable(state)) return stay(tell(state, WITHDRAW_UNAVAILABLE));
    return go(state, { name: 'amount', kind: 'withdraw', digits: '' });
  }
  // Digits past the four side keys: the keypad has no E or F.
  if (key === '5')
    return go(state, busy('Fetching your statement…', text(1, 'Getting statement', 'Statement...')), [
      { kind: 'statement' },
    ]);
  if (key === '6') return go(state, { name: 'passwordOld', text: '' });
  if (key === 'D' || key === '4' || key === 'cancel') return logout(state);
  return stay(state);
}

/** A working dispenser that can pay at least its smallest note. */
export function withdrawAvailable(state: KioskState): boolean {
  const working = state.devices.dispenser === 'online' || state.devices.dispenser === 'deviceBusy';
  return working && state.cassettes.some((cassette) => cassette.count > 0);
}

/** Whether the cassettes can pay this amount exactly (the same arithmetic as the dispenser's). */
export function canDispense(state: KioskState, amountCents: number): boolean {
  return notesForAmount(state.cassettes, amountCents) !== null;
}

/** The fast-cash keys the cassettes can pay right now: an empty machine offers none. */
export function fastCashOffered(state: KioskState): FastCashKey[] {
  if (!withdrawAvailable(state)) return [];
  return (Object.keys(FAST_CASH_CENTS) as FastCashKey[]).filter((key) => canDispense(state, FAST_CASH_CENTS[key]));
}

export function onAmountKey(state: KioskState, screen: Extract<Screen, { name: 'amount' }>, key: KeyName): Step {
  if (key === 'cancel') return go(state, { name: 'menu' });
  if (key === 'clear') return stay(tell({ ...state, screen: { ...screen, digits: '' } }, null));
  if (key === 'backspace')
    return stay(tell({ ...state, screen: { ...screen, digits: screen.digits.slice(0, -1) } }, null));
  if (/^[0-9]$/.test(key)) {
    if (screen.digits.length >= AMOUNT_DIGITS_MAX || (screen.digits === '' && key === '0')) return stay(state);
    return stay(tell({ ...state, screen: { ...screen, digits: screen.digits + key } }, null));
  }
  if (screen.kind === 'withdraw' && (key === 'A' || key === 'B' || key === 'C' || key === 'D')) {
    if (!fastCashOffered(state).includes(key))
      return stay(
        tell(state, say(`${formatCents(FAST_CASH_CENTS[key])} cannot be paid at this machine now`, 'Not available')),
      );
    return submitAmount(state, screen, FAST_CASH_CENTS[key]);
  }
  if (key === 'enter') return submitAmount(state, screen, Number(screen.digits || '0'));
  return stay(state);
}

/** [item 5] Nothing moves before the customer has seen the amount (and the notes) and said yes. */
function submitAmount(state: KioskState, screen: Extract<Screen, { name: 'amount' }>, amountCents: number): Step {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0)
    return stay(tell(state, say('Enter an amount', 'Enter an amount')));
  if (screen.kind === 'deposit')
    return go(state, { name: 'confirm', kind: 'deposit', amountCents, notes: null, digits: screen.digits });
  if (amountCents % state.noteCents !== 0)
    return stay(
      tell(
        state,
        say(`Amounts in multiples of ${formatCents(state.noteCents)}`, `Multiples of ${formatCents(state.noteCents)}`),
      ),
    );
  const notes = notesForAmount(state.cassettes, amountCents);
  if (notes === null)
    return stay(
      tell(
        state,
        say(`This machine cannot pay ${formatCents(amountCents)} right now: try another amount`, 'Cannot pay that'),
      ),
    );
  return go(state, { name: 'confirm', kind: 'withdraw', amountCents, notes, digits: screen.digits });
}

export function onConfirmKey(
  state: KioskState,
  screen: Extract<Screen, { name: 'confirm' }>,
  key: KeyName,
  context: StepContext,
): Step {
  // Enter only: a second press of the fast-cash key (C, C) must not pay out by itself.
  if (key === 'enter') {
    const txn = startTxn(
      state,
      screen.kind,
      screen.amountCents,
      screen.kind === 'deposit' ? screen.notes : null,
      context,
    );
    const shown = formatCents(screen.amountCents);
    const started = { ...state, txn };
    if (screen.kind === 'withdraw')
      return go(started, busy(`Withdrawing ${shown}…`, text(1, 'Withdrawing'), amount(0, [], screen.amountCents)), [
        { kind: 'withdraw', amountCents: screen.amountCents, txnId: txn.txnId },
      ]);
    return go(started, busy(`Depositing ${shown}…`, text(1, 'Depositing'), amount(0, [], screen.amountCents)), [
      { kind: 'deposit', amountCents: screen.amountCents, txnId: txn.txnId, notes: txn.notes },
    ]);
  }
  if (key === 'cancel' || key === 'D' || key === '4' || key === 'clear') {
    // Notes in the escrow: changing the amount means taking them back.
    if (screen.kind === 'deposit' && screen.notes !== null) return returnNotes(state);
    return go(state, { name: 'amount', kind: screen.kind, digits: screen.digits });
  }
  return stay(state);
}

/**
 * The transaction this confirmation starts: the pending one again when it is the same kind and
 * amount (a retry after no answer came: same id, so the bank cannot apply it twice), else a new
 * one with a new id. A pending one that is replaced is left to the journal's recovery.
 */
function startTxn(
  state: KioskState,
  kind: TxnKind,
  amountCents: number,
  notes: Cassette[] | null,
  context: StepContext,
): PendingTxn {
  const pending = state.txn;
  if (pending !== null && pending.kind === kind && pending.amountCents === amountCents)
    return { ...pending, inFlight: true, notes };
  assert(context.newTxnId !== undefined, 'step() starts a transaction only with a newTxnId in its context');
  return { kind, amountCents, txnId: context.newTxnId(), inFlight: true, notes };
}

/** "5 x 20.00 + 1 x 10.00": what the customer will take from the slot. */
export function notesText(notes: readonly Cassette[]): string {
  return notes.map((note) => `${note.count} x ${formatCents(note.denominationCents)}`).join(' + ');
}
