// The customer's own account beyond money: the mini statement's lines ([ATM-4.13]) and the
// password change ([ATM-4.14]). The change is three masked fields; the passwords live in those
// screens only while typed, and the busy screen that follows the effect holds neither.
import { formatCents, type StatementTxn } from '../protocol/index.js';
import { OUTCOME_UNKNOWN_CODES, busy, go, stay, tell } from './flow-state.js';
import type { EffectResult, KioskState, Screen, Step } from './flow-state.js';
import { logout } from './flow-transaction.js';
import { declineWords, say } from './flow-words.js';
import { text } from './lcd.js';

/** The register policy ([ATM-4.3]): 8-72 UTF-8 bytes, what bcrypt takes whole. */
export function passwordFits(password: string): boolean {
  const bytes = Buffer.byteLength(password, 'utf8');
  return bytes >= 8 && bytes <= 72;
}
export const PASSWORD_RULE = say('Password: 8 to 72 characters', 'Password: 8-72');

export type PasswordChangeScreen = Extract<Screen, { name: 'passwordOld' | 'passwordNew' | 'passwordRepeat' }>;
export function isPasswordChangeScreen(screen: Screen): screen is PasswordChangeScreen {
  return screen.name === 'passwordOld' || screen.name === 'passwordNew' || screen.name === 'passwordRepeat';
}

/** Enter on a password-change field: the two new ones must fit the rule and match before anything is sent. */
export function submitPasswordChange(state: KioskState, screen: PasswordChangeScreen): Step {
  switch (screen.name) {
    case 'passwordOld':
      if (screen.text.length === 0) return stay(tell(state, say('Enter your current password', 'Enter password')));
      return go(state, { name: 'passwordNew', oldPassword: screen.text, text: '' });
    case 'passwordNew':
      if (!passwordFits(screen.text)) return stay(tell({ ...state, screen: { ...screen, text: '' } }, PASSWORD_RULE));
      // The bank refuses it too (WEAK_PASSWORD); saying so here costs no bcrypt and no round trip.
      if (screen.text === screen.oldPassword)
        return stay(
          tell(
            { ...state, screen: { ...screen, text: '' } },
            say('The new password must differ from the current one', 'Same as current'),
          ),
        );
      return go(state, { name: 'passwordRepeat', oldPassword: screen.oldPassword, newPassword: screen.text, text: '' });
    case 'passwordRepeat':
      if (screen.text !== screen.newPassword)
        return go(
          state,
          { name: 'passwordNew', oldPassword: screen.oldPassword, text: '' },
          [],
          say('Passwords did not match: enter the new one again', 'No match: again'),
        );
      return go(state, busy('Changing your password…', text(1, 'Changing password', 'Changing...')), [
        { kind: 'changePassword', oldPassword: screen.oldPassword, newPassword: screen.newPassword },
      ]);
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

/** [ATM-4.14] The bank's answer to a change. The passwords are gone: a retry types them again. */
export function passwordChangeResult(
  state: KioskState,
  result: Extract<EffectResult, { effect: 'changePassword' }>,
  nowMs: number,
): Step {
  if (result.ok) return go(state, { name: 'menu' }, [], say('Password changed', 'Password changed'));
  switch (result.code) {
    case 'AUTH_FAILED':
      return go(
        state,
        { name: 'passwordOld', text: '' },
        [],
        result.attemptsLeft === undefined
          ? say('Wrong current password', 'Wrong password')
          : declineWords(result.code, nowMs, result),
      );
    case 'ACCOUNT_LOCKED': {
      // Wrong old passwords count as failed logins: the lock ends this session, as it would a login.
      const out = logout(state);
      return { ...out, state: tell(out.state, declineWords(result.code, nowMs, result)) };
    }
    case 'WEAK_PASSWORD':
      return go(state, { name: 'passwordOld', text: '' }, [], PASSWORD_RULE);
    default:
      // No answer: the bank may have committed the change, so "try again" would be wrong words.
      if (OUTCOME_UNKNOWN_CODES.includes(result.code))
        return go(
          state,
          { name: 'menu' },
          [],
          say('The bank did not answer: your password may or may not have changed', 'No bank answer'),
        );
      return go(state, { name: 'menu' }, [], declineWords(result.code, nowMs, result));
  }
}

/** The id's last 8 characters: with the date, enough to find it in the bank's records. */
export const shortTxnId = (txnId: string): string => txnId.slice(-8);

/**
 * One statement line, at most 42 characters (an 80 mm receipt's width; the 80×24 screen's panel
 * has 50) for amounts up to 999999.99: "11-27 12:00 Withdrawal     -60.00 0e1f2a3b". Times are UTC,
 * as the receipt's header is.
 */
export function statementLine(txn: StatementTxn): string {
  const iso = new Date(txn.atMs).toISOString();
  const when = `${iso.slice(5, 10)} ${iso.slice(11, 16)}`;
  const kind = txn.kind === 'deposit' ? 'Deposit' : 'Withdrawal';
  return `${when} ${kind.padEnd(10)} ${signedCents(txn).padStart(10)} ${shortTxnId(txn.txnId)}`;
}

/** '+' for money in, '-' for money out: "+150.00", "-60.00". */
export const signedCents = (txn: StatementTxn): string =>
  `${txn.kind === 'deposit' ? '+' : '-'}${formatCents(txn.amountCents)}`;
export const STATEMENT_HEADER = `${'Date  Time'.padEnd(11)} ${'Type'.padEnd(10)} ${'Amount'.padStart(10)} Ref`;
