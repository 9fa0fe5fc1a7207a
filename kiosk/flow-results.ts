// What the customer sees once the bank (and the dispenser) answered: the result screens, their
// display lines and the receipt text.
import { formatCents, maskUsername } from '../protocol/index.js';
import { OUTCOME_UNKNOWN_CODES, go, stay, tell } from './flow-state.js';
import type { EffectResult, EscrowFate, KioskState, Step } from './flow-state.js';
import { declineWords, say, sayLine, type Say } from './flow-words.js';
import { STATEMENT_HEADER, passwordChangeResult, signedCents, statementLine } from './flow-account.js';
import { amount, text, type LcdLine } from './lcd.js';

export function onResult(state: KioskState, result: EffectResult, nowMs: number): Step {
  // An answer ends the pending transaction; when none came, it stays, so a retry reuses its id.
  const money = result.effect === 'deposit' || result.effect === 'withdraw';
  const answered = money && (result.ok || !OUTCOME_UNKNOWN_CODES.includes(result.code));
  let next = state;
  if (answered) next = { ...state, txn: null };
  else if (money && state.txn !== null) next = { ...state, txn: { ...state.txn, inFlight: false } };
  return resultScreen(next, result, nowMs);
}

/** What became of the notes, in words, under a deposit's result; nothing for a typed deposit. */
function escrowWords(fate: EscrowFate | null): Say | null {
  switch (fate) {
    case null:
    case 'stored':
      return null;
    case 'returned':
      return say('Please take your notes.', 'Take your notes');
    case 'retained':
      return say('Your notes were not taken and were retained: contact your bank.', 'Notes retained');
    default:
      return say(
        'Your notes are held safely in the machine (a fault stopped them); staff will complete this.',
        'Notes held: staff',
      );
  }
}

/** A cash-in step outside a deposit: the slot opened, closed, or notes were handed back. */
function cashInResult(state: KioskState, result: Extract<EffectResult, { effect: 'cashIn' }>): Step {
  const next = { ...state, escrow: result.escrow };
  const home: KioskState['screen'] = state.username === null ? { name: 'welcome' } : { name: 'menu' };
  if (result.step === 'close') return stay(next);
  if (result.step === 'open') {
    if (result.ok) return stay(next);
    return go(next, { name: 'menu' }, [], say('The note slot could not open: deposits are unavailable', 'No deposits'));
  }
  // Notes handed back (a cancel, a customer leaving): only the busy "returning" screen moves on.
  const shown = state.screen.name === 'busy' ? home : state.screen;
  if (result.ok) return go(next, shown, [], say('Please take your notes.', 'Take your notes'));
  if (result.fault === 'notesNotTaken')
    return go(
      next,
      shown,
      [],
      say('Your notes were not taken and were retained: contact your bank.', 'Notes retained'),
    );
  return go(
    next,
    shown,
    [],
    say(
      'Your notes could not be returned (a fault): they are safe in the machine; staff will return them.',
      'Notes held: staff',
    ),
  );
}

function resultScreen(state: KioskState, result: EffectResult, nowMs: number): Step {
  switch (result.effect) {
    case 'login':
    case 'register':
      if (result.ok)
        return go(
          { ...state, username: result.username },
          { name: 'menu' },
          [],
          result.effect === 'register' ? say('Account created. Welcome!', 'Welcome!') : null,
        );
      return authRefused(state, result, nowMs);
    case 'checkUsername': {
      if (result.ok) return go(state, { name: 'signupPassword', username: result.username, text: '' });
      const words =
        result.code === 'USERNAME_TAKEN'
          ? say('That username is taken: choose another', 'Name is taken')
          : declineWords(result.code, nowMs);
      return go(state, { name: 'signupUser', text: result.username }, [], words);
    }
    case 'logout':
      return stay(state);
    case 'balance':
      if (!result.ok) return go(state, { name: 'menu' }, [], declineWords(result.code, nowMs, result));
      return result_(
        state,
        'Balance',
        [`Available balance: ${formatCents(result.balanceCents)}`],
        receipt(state, nowMs, ['BALANCE INQUIRY', `Available: ${formatCents(result.balanceCents)}`]),
        [text(0, 'BALANCE'), amount(0, ['Available:', 'Balance:', 'Bal:'], result.balanceCents)],
      );
    case 'statement':
      return statementResult(state, result, nowMs);
    case 'changePassword':
      return passwordChangeResult(state, result, nowMs);
    case 'cashIn':
      return cashInResult(state, result);
    case 'receipt':
      if (result.ok) return stay(state);
      return stay(
        tell(
          state,
          say(
            result.fault === 'paperOut'
              ? 'No receipt: the printer is out of paper. Your transaction is complete.'
              : 'No receipt: the printer is not working. Your transaction is complete.',
            'No receipt',
          ),
        ),
      );
    case 'deposit': {
      const notesSay = escrowWords(result.escrow);
      if (!result.ok) {
        const words = declineWords(result.code, nowMs, result);
        return result_(state, 'Deposit declined', [words.text, ...(notesSay === null ? [] : [notesSay.text])], null, [
          text(0, 'DEPOSIT DECLINED', 'DECLINED'),
          sayLine(words),
          ...(notesSay === null ? [] : [sayLine(notesSay)]),
        ]);
      }
      return result_(
        state,
        'Deposit accepted',
        [
          `Amount: ${formatCents(result.amountCents)}`,
          `New balance: ${formatCents(result.balanceCents)}`,
          ...(notesSay === null ? [] : [notesSay.text]),
        ],
        receipt(state, nowMs, [
          'DEPOSIT',
          `Amount: ${formatCents(result.amountCents)}`,
          `Balance: ${formatCents(result.balanceCents)}`,
          `Ref: ${result.txnId}`,
        ]),
        [
          text(1, 'DEPOSIT ACCEPTED', 'DEPOSITED'),
          amount(0, ['Amount:', 'Paid in:', 'In:'], result.amountCents),
          amount(0, ['New balance:', 'Balance:', 'Bal:'], result.balanceCents),
        ],
      );
    }
    case 'withdraw':
      return withdrawResult(state, result, nowMs);
    default: {
      const exhaustive: never = result;
      return exhaustive;
    }
  }
}

/**
 * [ATM-4.13] The last transactions as a result screen, so it has the receipt and the way back
 * every result has. The receipt prints the screen's lines; an empty account has no receipt.
 */
function statementResult(
  state: KioskState,
  result: Extract<EffectResult, { effect: 'statement' }>,
  nowMs: number,
): Step {
  if (!result.ok) return go(state, { name: 'menu' }, [], declineWords(result.code, nowMs, result));
  const txns = result.transactions;
  const latest = txns[0];
  if (latest === undefined)
    return result_(state, 'Mini statement', ['There are no transactions on this account yet.'], null, [
      text(0, 'MINI STATEMENT', 'STATEMENT'),
      text(0, 'No transactions', 'None yet'),
    ]);
  const lines = [STATEMENT_HEADER, ...txns.map(statementLine)];
  const latestSigned = signedCents(latest);
  return result_(
    state,
    'Mini statement',
    [
      txns.length === 1 ? 'Your last transaction (UTC):' : `Your last ${txns.length} transactions, newest first (UTC):`,
      ...lines,
    ],
    receipt(state, nowMs, ['MINI STATEMENT (UTC)', ...lines]),
    [
      text(0, 'MINI STATEMENT', 'STATEMENT'),
      text(0, txns.length === 1 ? '1 transaction' : `${txns.length} transactions`, `${txns.length} txns`),
      text(1, `Last: ${latestSigned}`, latestSigned),
    ],
  );
}

/** [item 7] A wrong password keeps the username: only the password is typed again. */
function authRefused(
  state: KioskState,
  result: Extract<EffectResult, { effect: 'login' | 'register'; ok: false }>,
  nowMs: number,
): Step {
  const words = declineWords(result.code, nowMs, result);
  if (result.effect === 'login' && result.code === 'AUTH_FAILED' && result.username !== undefined)
    return go(state, { name: 'loginPassword', username: result.username, text: '' }, [], words);
  return go(state, { name: result.effect === 'login' ? 'loginUser' : 'signupUser', text: '' }, [], words);
}

function withdrawResult(state: KioskState, result: Extract<EffectResult, { effect: 'withdraw' }>, nowMs: number): Step {
  if (result.ok) {
    const partial = result.dispensedCents < result.requestedCents;
    const lines = partial
      ? [
          `Only ${formatCents(result.dispensedCents)} of ${formatCents(result.requestedCents)} could be dispensed.`,
          `You were charged ${formatCents(result.dispensedCents)} only.`,
          `New balance: ${formatCents(result.balanceCents)}`,
        ]
      : [
          'Please take your cash.',
          `Amount: ${formatCents(result.dispensedCents)}`,
          `New balance: ${formatCents(result.balanceCents)}`,
        ];
    const lcd = partial
      ? [
          text(0, 'PARTIAL: TAKE CASH', 'PARTIAL PAYOUT'),
          amount(0, ['Charged only', 'Charged:', 'Paid:'], result.dispensedCents),
          amount(1, ['Requested:', 'Asked:'], result.requestedCents),
          amount(2, ['New balance:', 'Balance:', 'Bal:'], result.balanceCents),
        ]
      : [
          text(0, 'TAKE YOUR CASH', 'TAKE CASH'),
          amount(0, ['Amount:', 'Cash:'], result.dispensedCents),
          amount(1, ['New balance:', 'Balance:', 'Bal:'], result.balanceCents),
        ];
    return result_(
      state,
      partial ? 'Partial withdrawal' : 'Cash dispensed',
      lines,
      receipt(state, nowMs, [
        'WITHDRAWAL',
        `Requested: ${formatCents(result.requestedCents)}`,
        `Dispensed: ${formatCents(result.dispensedCents)}`,
        `Balance: ${formatCents(result.balanceCents)}`,
        `Ref: ${result.txnId}`,
      ]),
      lcd,
    );
  }
  if (result.code === 'DISPENSE_FAULT') {
    return result_(
      state,
      'Withdrawal failed',
      [
        'The cash dispenser failed: no cash was dispensed.',
        'Nothing was taken from your account.',
        ...(result.balanceCents === undefined ? [] : [`Balance: ${formatCents(result.balanceCents)}`]),
      ],
      null,
      [
        text(0, 'DISPENSER FAULT', 'DISPENSE FAULT'),
        text(0, 'Nothing charged'),
        ...(result.balanceCents === undefined ? [] : [amount(1, ['Balance:', 'Bal:'], result.balanceCents)]),
      ],
    );
  }
  if (result.code === 'CASH_RETRACTED') {
    return result_(
      state,
      'Cash retracted',
      [
        'Your cash was not taken in time and was taken back into the machine.',
        'Nothing was taken from your account.',
        ...(result.balanceCents === undefined ? [] : [`Balance: ${formatCents(result.balanceCents)}`]),
      ],
      null,
      [text(0, 'CASH RETRACTED', 'RETRACTED'), text(0, 'Nothing charged')],
    );
  }
  if (result.code === 'SETTLE_PENDING') {
    return result_(
      state,
      'Please take your cash',
      [
        `Dispensed: ${formatCents(result.dispensedCents)}`,
        'The bank did not confirm yet: your account will be',
        'updated with exactly this amount shortly.',
      ],
      null,
      [
        text(0, 'TAKE YOUR CASH', 'TAKE CASH'),
        amount(0, ['Dispensed:', 'Cash:'], result.dispensedCents),
        text(1, 'Bank confirms soon', 'Confirming...'),
      ],
    );
  }
  if (result.code === 'CANNOT_DISPENSE') {
    return result_(
      state,
      'Withdrawal not possible',
      ['This machine cannot dispense that amount.', 'Try a different amount.'],
      null,
      [text(0, 'CANNOT PAY THAT', 'CANNOT PAY'), text(1, 'Try other amount', 'Other amount')],
    );
  }
  const words = declineWords(result.code, nowMs, result);
  return result_(state, 'Withdrawal declined', [words.text], null, [text(0, 'DECLINED'), sayLine(words)]);
}

function result_(state: KioskState, title: string, lines: string[], receiptText: string | null, lcd: LcdLine[]): Step {
  return go(state, { name: 'result', title, lines, receipt: receiptText, lcd });
}

function receipt(state: KioskState, nowMs: number, lines: string[]): string {
  const when = new Date(nowMs).toISOString().replace('T', ' ').slice(0, 19);
  return [
    'SECURE ATM',
    `Kiosk ${state.kioskId}`,
    `${when} UTC`,
    `Customer ${maskUsername(state.username)}`,
    ...lines,
    'Thank you',
  ].join('\n');
}
