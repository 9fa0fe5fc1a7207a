// The kiosk's screen flow as a pure state machine: (state, event) → (state, effects).
// Key presses, time, link and device changes and the results of effects come in; the screen
// to show and the work to do (bank calls, dispensing, receipts) go out. No I/O, no clock
// reads: the controller (controller.ts) runs the effects and feeds their results back. Time
// comes in the events (atMs); a new transaction id comes from step's context (newTxnId).
//
// The parts: flow-state.ts (state, events, effects), flow-fields.ts (text fields),
// flow-transaction.ts (menu, amounts, confirmation), flow-account.ts (statement lines, password
// change), flow-results.ts (result screens, receipts), flow-words.ts (plain words for declines
// and the link). This file is the entry point.
import type { KeyName } from '../hardware/index.js';
import { busy, go, smallestNoteCents, stay, tell } from './flow-state.js';
import type { Effect, KioskEvent, KioskState, Step, StepContext } from './flow-state.js';
import { onChar, onTextKey } from './flow-fields.js';
import { escrowEffects, logout, onAmountKey, onConfirmKey, onInsertKey, onMenuKey } from './flow-transaction.js';
import { amount, text } from './lcd.js';
import { formatCents } from '../protocol/index.js';
import { onResult } from './flow-results.js';
import { linkReason, say } from './flow-words.js';
import type { LinkCause, LinkState } from './seams.js';

export {
  AMOUNT_DIGITS_MAX,
  TEXT_CHARS_MAX,
  MULTITAP_MS,
  FAST_CASH_CENTS,
  MULTITAP,
  OUTCOME_UNKNOWN_CODES,
  initialState,
  type PendingTxn,
  type EscrowFate,
  EMPTY_ESCROW,
  type StepContext,
  type LinkState,
  type TxnKind,
  type FastCashKey,
  type Screen,
  type Devices,
  type KioskState,
  type DeclineDetail,
  type EffectResult,
  type KioskEvent,
  type Effect,
  type Step,
} from './flow-state.js';
export { withdrawAvailable, canDispense, fastCashOffered, notesText } from './flow-transaction.js';
export { declineWords, linkReason, type Say } from './flow-words.js';

/** The one entry point: every event goes through here. */
export function step(state: KioskState, event: KioskEvent, context: StepContext = {}): Step {
  const next = dispatch(state, event, context);
  // A transaction belongs to its customer's session. When the customer is logged out the
  // controller settles what the journal left open (an unanswered hold is voided), so its id
  // must never be reused: the bank would replay its first answer for a hold that is gone.
  // model: protocol/settlement.pml, k_hold_result (no answer: the customer leaves, recovery voids)
  // A transaction in flight is the exception: its answer is still coming, and the customer waits for it.
  if (next.state.username === null && next.state.txn !== null && !next.state.txn.inFlight)
    return { ...next, state: { ...next.state, txn: null } };
  return next;
}

function dispatch(state: KioskState, event: KioskEvent, context: StepContext): Step {
  switch (event.type) {
    case 'link':
      return onLink(state, event.state, event.cause);
    case 'device': {
      const next = { ...state, devices: { ...state.devices, [event.device]: event.state } };
      // A device coming back clears a message about it being unavailable.
      return stay(event.state === 'online' ? tell(next, null) : next);
    }
    case 'cash':
      return stay({
        ...state,
        cassettes: event.cassettes,
        noteCents: smallestNoteCents(event.cassettes) ?? state.noteCents,
      });
    case 'escrow':
      return stay({ ...state, escrow: event.escrow });
    case 'cashPresented':
      if (state.txn?.txnId !== event.txnId || !state.txn.inFlight) return stay(state);
      return go(
        state,
        busy(
          `Please take your cash: ${formatCents(event.amountCents)}`,
          text(0, 'TAKE YOUR CASH', 'TAKE CASH'),
          amount(0, ['Cash:', ''], event.amountCents),
        ),
      );
    case 'txnWaiting':
      if (state.txn?.txnId !== event.txnId || !state.txn.inFlight) return stay(state);
      return go(state, waitingScreen());
    case 'tick':
      return onTick(state, event.atMs);
    case 'result':
      return onResult({ ...state, lastInputMs: event.atMs, idleWarned: false }, event.result, event.atMs);
    case 'key':
    case 'char': {
      // [item 8] Keys mean nothing while the machine is stopped (tamper, keypad gone).
      if (deviceStop(state) !== null) return stay(state);
      const touched = { ...state, lastInputMs: event.atMs, idleWarned: false };
      // A key that only dismisses the idle warning does nothing else.
      if (state.idleWarned) return stay(tell(touched, null));
      return event.type === 'key'
        ? onKey(touched, event.key, event.source, event.atMs, context)
        : onChar(touched, event.ch, event.atMs);
    }
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

/**
 * A device fault that stops the whole machine, in plain words; null when it can serve. The
 * keypad is the only way in, and a tamper switch means the safe may be open: either stops it.
 * A broken display does not (the screen is the primary output); a broken dispenser only stops
 * withdrawals (withdrawAvailable).
 */
export function deviceStop(state: KioskState): { reason: string; lcd: string } | null {
  const { keypad, dispenser } = state.devices;
  if (keypad === 'fraudAttempt' || dispenser === 'fraudAttempt')
    return {
      reason: 'The machine’s enclosure is open (tamper switch). It stays out of service until it is closed.',
      lcd: 'Tamper switch',
    };
  if (keypad === 'noDevice')
    return { reason: 'The keypad was not found: a technician must check its cable.', lcd: 'Keypad not found' };
  if (keypad === 'offline')
    return { reason: 'The keypad is not answering: a technician must check its cable.', lcd: 'Keypad offline' };
  if (keypad === 'hardwareError')
    return { reason: 'The keypad reports a fault: a technician must check it.', lcd: 'Keypad fault' };
  return null;
}

function onLink(state: KioskState, link: LinkState, cause: LinkCause = link === 'online' ? 'connected' : 'lost'): Step {
  const next = { ...state, link, linkCause: cause };
  if (link === 'online') {
    return state.screen.name === 'outOfService' ? go(next, { name: 'welcome' }) : stay(next);
  }
  // The bank session is gone: whoever was logged in is logged out with it.
  // The technical detail (event.detail) goes to the kiosk's log (app.ts), not to the customer.
  // A deposit in flight keeps its customer waiting: the teller asks again until the bank answers.
  if (state.txn?.inFlight === true) return go({ ...next, username: null }, waitingScreen());
  // Notes in the escrow of a deposit never confirmed go back to the customer.
  return go(
    { ...next, username: null },
    { name: 'outOfService', reason: linkReason(link, cause) },
    escrowEffects(state),
  );
}

/** While the answer to a transaction is lost and asked again: the customer waits, told why. */
function waitingScreen(): KioskState['screen'] {
  return busy(
    'Please wait: the connection to the bank was interrupted. Your transaction is being confirmed…',
    text(1, 'Confirming...', 'Confirming'),
  );
}

function onTick(state: KioskState, nowMs: number): Step {
  const idleScreens =
    state.screen.name !== 'welcome' && state.screen.name !== 'outOfService' && state.screen.name !== 'busy';
  if (!idleScreens) return stay(state);
  const idleMs = nowMs - state.lastInputMs;
  if (idleMs >= state.idleLogoutMs) {
    const effects: Effect[] = state.username !== null ? [{ kind: 'logout' }] : [];
    return go(
      { ...state, username: null, idleWarned: false },
      { name: 'welcome' },
      effects,
      say('Session ended after no activity', 'Session ended'),
    );
  }
  if (idleMs >= state.idleWarnMs && !state.idleWarned) {
    const secondsLeft = Math.ceil((state.idleLogoutMs - idleMs) / 1000);
    return stay(
      tell(
        { ...state, idleWarned: true },
        say(`Are you still there? Press any key within ${secondsLeft} s`, `Still there? ${secondsLeft}s`),
      ),
    );
  }
  return stay(state);
}

function onKey(
  state: KioskState,
  key: KeyName,
  source: 'keypad' | 'keyboard',
  atMs: number,
  context: StepContext,
): Step {
  const screen = state.screen;
  switch (screen.name) {
    case 'outOfService':
    case 'busy':
      return stay(state);
    case 'welcome':
      if (key === 'A' || key === 'enter' || key === '1') return go(state, { name: 'loginUser', text: '' });
      if (key === 'B' || key === '2') return go(state, { name: 'signupUser', text: '' });
      return stay(state);
    case 'loginUser':
    case 'loginPassword':
    case 'signupUser':
    case 'signupPassword':
    case 'signupConfirm':
    case 'passwordOld':
    case 'passwordNew':
    case 'passwordRepeat':
      return onTextKey(state, screen, key, source, atMs);
    case 'menu':
      return onMenuKey(state, key);
    case 'insertNotes':
      return onInsertKey(state, key);
    case 'amount':
      return onAmountKey(state, screen, key);
    case 'confirm':
      return onConfirmKey(state, screen, key, context);
    case 'result':
      // Digits 1/2/4 mirror A/B/D so a plain numeric keypad reaches every choice.
      if ((key === 'A' || key === '1') && screen.receipt !== null)
        return go(state, { name: 'receipt', body: screen.receipt }, [{ kind: 'receipt', text: screen.receipt }]);
      // The customer's session went with the link while the answer was awaited: done.
      if (state.username === null)
        return state.link === 'online'
          ? go(state, { name: 'welcome' })
          : go(state, { name: 'outOfService', reason: linkReason(state.link, state.linkCause) });
      if (key === 'B' || key === '2' || key === 'enter') return go(state, { name: 'menu' });
      if (key === 'D' || key === '4' || key === 'cancel') return logout(state);
      return stay(state);
    case 'receipt':
      if (key === 'D' || key === 'cancel' || state.username === null) return logout(state);
      return go(state, { name: 'menu' });
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}
