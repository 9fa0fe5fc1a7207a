// The flow's words: feedback lines (for the screen and, shorter, for the display), why the
// link is down, and a decline in plain words (which limit, what is left, tries left, the lock).
import type { LimitDetail } from '../protocol/index.js';
import { declineText, isDeclineCode } from '../protocol/index.js';
import { formatCents } from '../protocol/index.js';
import { text, type LcdLine } from './lcd.js';
import { OUTCOME_UNKNOWN_CODES, type DeclineDetail } from './flow-state.js';
import type { LinkCause, LinkState } from './seams.js';

/** A feedback line: the sentence for the screen, and its short form for the display. */
export interface Say {
  text: string;
  lcd: string; // at most LCD_COLUMNS_MIN characters
  lcdWide?: string; // a longer form for a 20-column display
  amountCents?: number; // the amount the words are about: the display's last resort, whole
}
export const say = (textLine: string, lcd: string, extra: { lcdWide?: string; amountCents?: number } = {}): Say => ({
  text: textLine,
  lcd,
  ...extra,
});
/** A decline's line on the display: the widest form that fits, the bare amount at worst. */
export const sayLine = (words: Say): LcdLine =>
  text(
    0,
    ...(words.lcdWide === undefined ? [] : [words.lcdWide]),
    words.lcd,
    ...(words.amountCents === undefined ? [] : [formatCents(words.amountCents)]),
  );

/** Why the link is down, in words a customer (and the engineer called) can act on. */
export function linkReason(link: LinkState, cause: LinkCause): string {
  if (link === 'connecting') return 'Connecting to the bank…';
  if (cause === 'refused') return 'The bank refused this machine’s key. A technician must check its key file.';
  if (cause === 'unreachable') return 'The bank cannot be reached. Retrying…';
  return 'The connection to the bank was lost. Reconnecting…';
}

/** Plain words for a decline: which limit and what is left, tries left, the lock's time. */
export function declineWords(code: string, nowMs: number, detail: DeclineDetail = {}): Say {
  if (code === 'ACCOUNT_LOCKED' && detail.lockedUntil !== undefined) {
    const minutes = Math.max(1, Math.ceil((Date.parse(detail.lockedUntil) - nowMs) / 60_000));
    return say(`Account locked — try again in ${minutes} min`, `Locked ${minutes} min`);
  }
  if (code === 'AUTH_FAILED' && detail.attemptsLeft !== undefined) {
    const tries = detail.attemptsLeft === 1 ? '1 try' : `${detail.attemptsLeft} tries`;
    const warning = detail.attemptsLeft === 1 ? ' before the account locks' : ' before a lock';
    return say(`Wrong password: ${tries} left${warning}`, `Wrong: ${tries} left`);
  }
  if (code === 'LIMIT_EXCEEDED' && detail.limit !== undefined) return limitWords(detail.limit);
  if (isDeclineCode(code)) return say(declineText[code], DECLINE_LCD[code]);
  if (OUTCOME_UNKNOWN_CODES.includes(code)) return say('The bank did not answer. Please try again.', 'No bank answer');
  return say('The transaction could not be completed', 'Not completed');
}

function limitWords(limit: LimitDetail): Say {
  const limitText = formatCents(limit.limitCents);
  switch (limit.kind) {
    case 'withdrawal':
      return say(
        `Over the ${limitText} limit per withdrawal${limit.leftCents === undefined ? '' : `; ${formatCents(limit.leftCents)} left of today's limit`}`,
        `Max ${limitText}`,
        { lcdWide: `Limit ${limitText} each`, amountCents: limit.limitCents },
      );
    case 'withdrawalDaily': {
      const leftCents = limit.leftCents ?? 0;
      return say(
        `Over the daily limit of ${limitText}: ${formatCents(leftCents)} left today`,
        `Left ${formatCents(leftCents)}`,
        { lcdWide: `Left today ${formatCents(leftCents)}`, amountCents: leftCents },
      );
    }
    case 'deposit':
      return say(`Over the ${limitText} limit per deposit`, `Max ${limitText}`, {
        lcdWide: `Limit ${limitText} each`,
        amountCents: limit.limitCents,
      });
    case 'balance':
      return say(
        `The balance may not exceed ${limitText}: at most ${formatCents(limit.leftCents ?? 0)} more`,
        `Max ${formatCents(limit.leftCents ?? 0)}`,
        { amountCents: limit.leftCents ?? 0 },
      );
    default: {
      const exhaustive: never = limit.kind;
      return exhaustive;
    }
  }
}

/** Each decline in at most LCD_COLUMNS_MIN characters, for the display's feedback line. */
const DECLINE_LCD: Record<keyof typeof declineText, string> = {
  INSUFFICIENT_FUNDS: 'Not enough funds',
  INVALID_AMOUNT: 'Invalid amount',
  LIMIT_EXCEEDED: 'Over the limit',
  AUTH_FAILED: 'Wrong user/pass',
  ACCOUNT_LOCKED: 'Account locked',
  USERNAME_TAKEN: 'Name is taken',
  INVALID_USERNAME: '3-32 a-z 0-9._-',
  WEAK_PASSWORD: 'Password: 8-72',
  DUPLICATE_TXN: 'Duplicate txn',
  NOT_LOGGED_IN: 'Not logged in',
  KIOSK_REVOKED: 'Kiosk revoked',
  BUSY: 'Busy, try again',
  INTERNAL: 'Bank error',
  UNKNOWN_TXN: 'Unknown txn',
  BAD_REQUEST: 'Bad request',
};
