// What each screen shows, as plain text: the blessed UI renders it, the character display
// mirrors its first lines, and tests read it. Pure: state in, text out.
import { formatCents } from '../protocol/index.js';
import type { Cassette } from '../hardware/index.js';
import { FAST_CASH_CENTS, deviceStop, fastCashOffered, notesText, withdrawAvailable, type KioskState } from './flow.js';
import { amount, fitLcd, text, type LcdLine, type LcdSize } from './lcd.js';

export interface View {
  title: string;
  body: string[];
  keys: string; // the help line: which key does what on this screen
  lcd: LcdLine[]; // the character display's lines, fitted to its size by lcdLines
}

/** The sim display's size, and the most common HD44780 module. */
export const LCD_SIZE_DEFAULT: LcdSize = { rows: 4, columns: 20 };

const mask = (typed: string): string => '*'.repeat(typed.length);
/** A text field on the display: its end, as a phone scrolls with the cursor (20 or 16 wide). */
const tail = (rank: number, shown: string): LcdLine => text(rank, shown.slice(-20), shown.slice(-16));

const OUT_OF_SERVICE_BODY = (reason: string): string[] => [
  'We are sorry: this machine cannot serve you right now.',
  '',
  reason,
  '',
  'It will be back by itself as soon as possible.',
];

export function view(state: KioskState): View {
  // A device fault stops the machine whatever screen is underneath (flow.deviceStop).
  const stop = deviceStop(state);
  if (stop !== null && state.screen.name !== 'outOfService') {
    return {
      title: 'Temporarily out of service',
      body: OUT_OF_SERVICE_BODY(stop.reason),
      keys: '',
      lcd: [text(0, 'OUT OF SERVICE'), text(0, stop.lcd)],
    };
  }
  const screen = state.screen;
  switch (screen.name) {
    case 'outOfService': {
      const reason = stop?.reason ?? screen.reason;
      const short = stop?.lcd ?? LINK_LCD[state.link === 'connecting' ? 'connecting' : state.linkCause];
      return {
        title: 'Temporarily out of service',
        body: OUT_OF_SERVICE_BODY(reason),
        keys: '',
        lcd: [text(0, 'OUT OF SERVICE'), text(0, short)],
      };
    }
    case 'welcome':
      return {
        title: 'Welcome',
        body: ['Welcome to Secure ATM.', '', '  [A] Log in', '  [B] Sign up'],
        keys: 'A / Enter: log in   B: sign up',
        lcd: [text(1, 'WELCOME'), text(0, 'A: Log in'), text(0, 'B: Sign up')],
      };
    case 'loginUser':
      return field(
        'Log in',
        'Username',
        screen.text,
        'Type your username, then Enter.',
        [text(1, 'LOG IN'), text(2, 'Username:'), tail(0, screen.text)],
        USERNAME_KEYS,
      );
    case 'loginPassword':
      return field(
        'Log in',
        'Password',
        mask(screen.text),
        `Username: ${screen.username}   (Esc: change it)`,
        [text(1, 'LOG IN'), text(2, 'Password:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'signupUser':
      return field(
        'Sign up',
        'Choose a username',
        screen.text,
        '3-32 characters: letters, digits, . _ -',
        [text(1, 'SIGN UP'), text(2, 'Username:'), tail(0, screen.text)],
        USERNAME_KEYS,
      );
    case 'signupPassword':
      return field(
        'Sign up',
        'Choose a password',
        mask(screen.text),
        'Password rules: 8 to 72 characters; a long phrase is best.',
        [text(1, 'SIGN UP'), text(2, 'Password:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'signupConfirm':
      return field(
        'Sign up',
        'Repeat the password',
        mask(screen.text),
        'Type the same password again.',
        [text(1, 'SIGN UP'), text(2, 'Repeat password:', 'Repeat:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'passwordOld':
      return field(
        'Change password',
        'Current password',
        mask(screen.text),
        'Type your current password, then Enter.',
        [text(1, 'CHANGE PASSWORD'), text(2, 'Current password:', 'Current:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'passwordNew':
      return field(
        'Change password',
        'New password',
        mask(screen.text),
        'Password rules: 8 to 72 characters; a long phrase is best.',
        [text(1, 'CHANGE PASSWORD'), text(2, 'New password:', 'New:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'passwordRepeat':
      return field(
        'Change password',
        'Repeat the new password',
        mask(screen.text),
        'Type the same new password again.',
        [text(1, 'CHANGE PASSWORD'), text(2, 'Repeat new:', 'Repeat:'), tail(0, mask(screen.text))],
        PASSWORD_KEYS,
      );
    case 'busy':
      return { title: 'Please wait', body: [screen.message], keys: '', lcd: screen.lcd };
    case 'menu': {
      const canWithdraw = withdrawAvailable(state);
      const withdraw = canWithdraw ? '  [C] Withdraw cash' : '  [C] Withdraw cash (unavailable)';
      return {
        title: `Main menu — ${state.username ?? ''}`,
        body: [
          'What would you like to do?',
          '',
          '  [A] Balance',
          '  [B] Deposit',
          withdraw,
          '  [5] Mini statement',
          '  [6] Change password',
          '  [D] Log out',
        ],
        // Two spaces apart, so the longest still fits an 80-column help line.
        keys: `A: balance  B: deposit  ${canWithdraw ? 'C: withdraw  ' : ''}5: statement  6: password  D/Esc: log out`,
        lcd: [
          text(0, 'A:Balance B:Deposit', 'A:Bal B:Deposit'),
          canWithdraw ? text(0, 'C:Withdraw D:Logout', 'C:Cash D:Logout') : text(0, 'C:No cash D:Logout', 'D:Logout'),
        ],
      };
    }
    case 'insertNotes':
      return insertNotesView(state);
    case 'amount':
      return amountView(state, screen.kind, Number(screen.digits || '0'));
    case 'confirm':
      return confirmView(screen.kind, screen.amountCents, screen.notes);
    case 'result':
      // The customer's session went with the link while the answer was awaited: nothing more to do here.
      if (state.username === null)
        return {
          title: screen.title,
          body: [
            ...screen.lines,
            '',
            ...(screen.receipt !== null ? ['  [A] Print receipt'] : []),
            '  Any other key: done',
          ],
          keys: `${screen.receipt !== null ? 'A: receipt   ' : ''}any key: done`,
          lcd: screen.lcd,
        };
      return {
        title: screen.title,
        body: [
          ...screen.lines,
          '',
          ...(screen.receipt !== null ? ['  [A] Print receipt'] : []),
          '  [B] Another transaction',
          '  [D] Log out',
        ],
        keys: `${screen.receipt !== null ? 'A: receipt   ' : ''}B / Enter: menu   D / Esc: log out`,
        lcd: screen.lcd,
      };
    case 'receipt':
      return {
        title: 'Receipt',
        body: [
          'Your receipt:',
          '',
          ...receiptShown(screen.body).map((line) => `  ${line}`),
          '',
          'Any key: menu   D: log out',
        ],
        keys: 'any key: menu   D / Esc: log out',
        lcd: [text(0, 'RECEIPT PRINTED', 'RECEIPT PRINTED'), text(0, 'Any key: menu')],
      };
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

const LINK_LCD: Record<'connecting' | KioskState['linkCause'], string> = {
  connecting: 'Connecting...',
  connected: 'Connecting...',
  unreachable: 'No bank link',
  refused: 'Key refused',
  lost: 'Bank link lost',
};

function amountView(state: KioskState, kind: 'deposit' | 'withdraw', amountCents: number): View {
  const shown = formatCents(amountCents);
  if (kind === 'deposit') {
    return {
      title: 'Deposit',
      body: [
        'Enter the amount to deposit:',
        '',
        `    ${shown}`,
        '',
        'Digits fill in from the right: 1 5 0 0 0 = 150.00',
      ],
      keys: 'digits: amount   Enter: next   *: clear   Esc: back',
      lcd: [text(1, 'DEPOSIT'), amount(0, ['Amount:', 'Amt:'], amountCents), text(0, '#=OK *=Clear')],
    };
  }
  const offered = fastCashOffered(state);
  // Two to a line, so the list fits a 60-column terminal's panel without wrapping.
  const choices = offered.map((key) => `[${key}] ${formatCents(FAST_CASH_CENTS[key])}`.padEnd(13));
  const rows = [choices.slice(0, 2), choices.slice(2, 4)]
    .filter((row) => row.length > 0)
    .map((row) => `  ${row.join(' ').trimEnd()}`);
  const fastLcd = offered.map((key) => `${key}${FAST_CASH_CENTS[key] / 100}`);
  return {
    title: 'Withdraw cash',
    body: [
      ...(offered.length > 0 ? ['Fast cash:', ...rows] : ['Fast cash: none this machine can pay now']),
      '',
      'Or enter another amount:',
      '',
      `    ${shown}`,
      '',
      `Amounts in multiples of ${formatCents(state.noteCents)}.`,
    ],
    keys: `${offered.length > 0 ? `${offered.join(' ')}: fast cash   ` : ''}digits: amount   Enter: next   *: clear   Esc: back`,
    lcd: [
      text(1, 'WITHDRAW'),
      amount(0, ['Amount:', 'Amt:'], amountCents),
      text(2, fastLcd.join(' '), fastLcd.join('')),
      text(0, '#=OK *=Clear'),
    ],
  };
}

/** The open note slot: what has been counted so far, and what was refused. */
function insertNotesView(state: KioskState): View {
  const { notes, totalCents, rejected } = state.escrow;
  return {
    title: 'Deposit notes',
    body: [
      'Insert your notes into the slot, then press Enter.',
      '',
      `Counted: ${notes.length > 0 ? notesText(notes) : 'none yet'}`,
      `Total:   ${formatCents(totalCents)}`,
      ...(rejected > 0
        ? [`${rejected} note${rejected === 1 ? '' : 's'} refused (torn or unknown): handed back at the slot.`]
        : []),
      '',
      '  [#] / Enter: done',
      '  [D] / Esc: cancel, notes returned',
    ],
    keys: 'Enter: done   Esc: cancel',
    lcd: [text(1, 'INSERT NOTES'), amount(0, ['Total:', 'Tot:'], totalCents), text(0, '#=Done *=Cancel', '#=OK *=No')],
  };
}

function confirmView(kind: 'deposit' | 'withdraw', amountCents: number, notes: Cassette[] | null): View {
  const shown = formatCents(amountCents);
  const what = kind === 'withdraw' ? 'Withdraw' : 'Deposit';
  const escrowed = kind === 'deposit' && notes !== null;
  const notesLine =
    notes !== null && notes.length > 0
      ? [`${kind === 'withdraw' ? 'You will receive' : 'Notes counted'}: ${notesText(notes)}`]
      : [];
  return {
    title: `Confirm ${kind === 'withdraw' ? 'withdrawal' : 'deposit'}`,
    body: [
      `${what} ${shown}?`,
      '',
      ...notesLine,
      ...(notesLine.length > 0 ? [''] : []),
      '  [#] / Enter: confirm',
      escrowed ? '  [D] / Esc: cancel, notes returned' : '  [D] / Esc: change the amount',
    ],
    keys: escrowed
      ? 'Enter / #: confirm   D / Esc / *: cancel (notes returned)'
      : 'Enter / #: confirm   D / Esc / *: change',
    lcd: [
      kind === 'withdraw' ? text(1, 'CONFIRM WITHDRAWAL', 'CONFIRM CASH') : text(1, 'CONFIRM DEPOSIT'),
      amount(0, [what, kind === 'withdraw' ? 'Cash' : 'In'], amountCents),
      ...(notes !== null && notes.length > 0 ? [text(2, notesText(notes).replaceAll(' ', ''), notesShort(notes))] : []),
      text(0, '#=Yes *=Change', '#=Yes *=No'),
    ],
  };
}

/** "5x20+1x10": whole notes without their cents, for a 16-column display. */
function notesShort(notes: readonly Cassette[]): string {
  return notes
    .map(
      (note) =>
        `${note.count}x${note.denominationCents % 100 === 0 ? note.denominationCents / 100 : formatCents(note.denominationCents)}`,
    )
    .join('+');
}

/**
 * A receipt's lines on the receipt screen, at most RECEIPT_SHOWN_LINES_MAX so the screen fits an
 * 80×24 terminal with a feedback line: a longer one (a mini statement's) shows its start and says
 * the rest is on the paper, which the customer saw on the screen before anyway.
 */
export const RECEIPT_SHOWN_LINES_MAX = 12;
function receiptShown(body: string): string[] {
  const lines = body.split('\n');
  if (lines.length <= RECEIPT_SHOWN_LINES_MAX) return lines;
  const shown = lines.slice(0, RECEIPT_SHOWN_LINES_MAX - 1);
  return [...shown, `… and ${lines.length - shown.length} more lines on the printed receipt`];
}

const USERNAME_KEYS = 'Enter / #: next   Backspace: delete   *: clear   Esc: cancel   (keypad: 2=abc … 9=wxyz)';
// In a password every printable character counts, * and # included: Delete clears instead.
const PASSWORD_KEYS = 'Enter: next   Backspace: delete   Delete: clear   Esc: back   (keypad: 2=abc … 9=wxyz)';

function field(title: string, label: string, shown: string, hint: string, lcd: LcdLine[], keys: string): View {
  return { title, body: [hint, '', `${label}:`, `  ${shown}_`], keys, lcd };
}

/** The character display's text for a state, fitted to the display, feedback line last. */
export function lcdLines(state: KioskState, size: LcdSize = LCD_SIZE_DEFAULT): string[] {
  const lines = view(state).lcd;
  return fitLcd(state.messageLcd !== null ? [...lines, text(0, state.messageLcd)] : lines, size);
}
