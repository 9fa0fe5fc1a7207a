// What each screen shows, as plain text: the blessed UI renders it, the character display
// mirrors its first lines, and tests read it. Pure: state in, text out.
import { formatCents } from '../protocol/amount.js';
import { FAST_CASH_CENTS, withdrawAvailable, type KioskState } from './flow.js';

export interface View {
  title: string;
  body: string[];
  keys: string; // the help line: which key does what on this screen
  lcd: string[]; // at most 4 lines of at most 20 characters, for the character display
}

const mask = (text: string): string => '*'.repeat(text.length);
const cents = (digits: string): string => formatCents(Number(digits || '0'));
/** The last 20 characters: a character display scrolls with the cursor, as a phone's does. */
const tail = (text: string): string => text.slice(-20);

export function view(state: KioskState): View {
  const screen = state.screen;
  switch (screen.name) {
    case 'outOfService':
      return {
        title: 'Temporarily out of service',
        body: ['We are sorry: this machine cannot serve you right now.', '', screen.reason, '', 'It will be back by itself as soon as possible.'],
        keys: '',
        lcd: ['OUT OF SERVICE', 'Sorry for the', 'inconvenience'],
      };
    case 'welcome':
      return {
        title: 'Welcome',
        body: ['Welcome to Secure ATM.', '', '  [A] Log in', '  [B] Sign up'],
        keys: 'A / Enter: log in   B: sign up',
        lcd: ['WELCOME', 'A: Log in', 'B: Sign up'],
      };
    case 'loginUser':
      return field('Log in', 'Username', screen.text, 'Type your username, then Enter.', ['LOG IN', 'Username:', tail(screen.text)]);
    case 'loginPassword':
      return field('Log in', 'Password', mask(screen.text), `Username: ${screen.username}`, ['LOG IN', 'Password:', tail(mask(screen.text))]);
    case 'signupUser':
      return field('Sign up', 'Choose a username', screen.text, '3-32 characters: letters, digits, . _ -', ['SIGN UP', 'Username:', tail(screen.text)]);
    case 'signupPassword':
      return field('Sign up', 'Choose a password', mask(screen.text), 'Password rules: 8 to 72 characters; a long phrase is best.', ['SIGN UP', 'Password:', tail(mask(screen.text))]);
    case 'signupConfirm':
      return field('Sign up', 'Repeat the password', mask(screen.text), 'Type the same password again.', ['SIGN UP', 'Repeat password:', tail(mask(screen.text))]);
    case 'busy':
      return { title: 'Please wait', body: [screen.message], keys: '', lcd: ['PLEASE WAIT', screen.message.slice(0, 20)] };
    case 'menu': {
      const withdraw = withdrawAvailable(state) ? '  [C] Withdraw cash' : '  [C] Withdraw cash (unavailable)';
      return {
        title: `Main menu — ${state.username ?? ''}`,
        body: ['What would you like to do?', '', '  [A] Balance', '  [B] Deposit', withdraw, '  [D] Log out'],
        keys: 'A: balance   B: deposit   C: withdraw   D / Esc: log out',
        lcd: ['A:Balance B:Deposit', 'C:Withdraw D:Logout'],
      };
    }
    case 'amount': {
      const amount = cents(screen.digits);
      if (screen.kind === 'deposit') {
        return {
          title: 'Deposit',
          body: ['Enter the amount to deposit:', '', `    ${amount}`, '', 'Digits fill in from the right: 1 5 0 0 0 = 150.00'],
          keys: 'digits: amount   Enter: confirm   *: clear   Esc: back',
          lcd: ['DEPOSIT', `Amount: ${amount}`, '#=OK *=Clear'],
        };
      }
      const fast = (['A', 'B', 'C', 'D'] as const).map((key) => `[${key}] ${formatCents(FAST_CASH_CENTS[key])}`).join('   ');
      return {
        title: 'Withdraw cash',
        body: ['Fast cash:', `  ${fast}`, '', 'Or enter another amount:', '', `    ${amount}`, '', `Amounts in multiples of ${formatCents(state.noteCents)}.`],
        keys: 'A-D: fast cash   digits: amount   Enter: confirm   *: clear   Esc: back',
        lcd: ['WITHDRAW', `Amount: ${amount}`, 'A20 B60 C100 D200', '#=OK *=Clear'],
      };
    }
    case 'result':
      return {
        title: screen.title,
        body: [...screen.lines, '', ...(screen.receipt !== null ? ['  [A] Print receipt'] : []), '  [B] Another transaction', '  [D] Log out'],
        keys: `${screen.receipt !== null ? 'A: receipt   ' : ''}B / Enter: menu   D / Esc: log out`,
        lcd: [screen.title.slice(0, 20), ...screen.lines.map((line) => line.slice(0, 20))].slice(0, 4),
      };
    case 'receipt':
      return {
        title: 'Receipt',
        body: ['Your receipt:', '', ...screen.body.split('\n').map((line) => `  ${line}`), '', 'Any key: menu   D: log out'],
        keys: 'any key: menu   D / Esc: log out',
        lcd: ['RECEIPT PRINTED', 'Any key: menu'],
      };
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

function field(title: string, label: string, shown: string, hint: string, lcd: string[]): View {
  return {
    title,
    body: [hint, '', `${label}:`, `  ${shown}_`],
    keys: 'Enter: next   Backspace: delete   *: clear   Esc: cancel   (keypad: 2=abc … 9=wxyz)',
    lcd,
  };
}

/** The character display's text for a state: its view's lines, or the feedback line first. */
export function lcdLines(state: KioskState): string[] {
  const lines = view(state).lcd;
  return state.message !== null ? [...lines.slice(0, 3), state.message.slice(0, 20)] : lines;
}
