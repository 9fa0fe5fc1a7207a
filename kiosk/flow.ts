// The kiosk's screen flow as a pure state machine: (state, event) → (state, effects).
// Key presses, time, link and device changes and the results of effects come in; the screen
// to show and the work to do (bank calls, dispensing, receipts) go out. No I/O, no clock
// reads: the controller (controller.ts) runs the effects and feeds their results back.
import { notesForAmount } from '../hardware/index.js';
import type { Cassette, KeyName } from '../hardware/index.js';
import type { DeviceState, LimitDetail } from '../protocol/index.js';
import { declineText, isDeclineCode } from '../protocol/index.js';
import { formatCents } from '../protocol/index.js';
import { amount, text, type LcdLine } from './lcd.js';
import type { LinkCause } from './link.js';

export const AMOUNT_DIGITS_MAX = 7; // 99,999.99: far above any limit, far below 2^53
export const TEXT_CHARS_MAX = 72;
export const MULTITAP_MS = 1_200;
export const FAST_CASH_CENTS: Record<'A' | 'B' | 'C' | 'D', number> = { A: 20_00, B: 60_00, C: 100_00, D: 200_00 };

/** Phone-style letters on the keypad digits, so a keypad alone can type a username. */
export const MULTITAP: Record<string, string> = {
  '1': '1.-_',
  '2': 'abc2',
  '3': 'def3',
  '4': 'ghi4',
  '5': 'jkl5',
  '6': 'mno6',
  '7': 'pqrs7',
  '8': 'tuv8',
  '9': 'wxyz9',
  '0': '0',
};

export type LinkState = 'connecting' | 'online' | 'offline';
export type TxnKind = 'deposit' | 'withdraw';
export type FastCashKey = keyof typeof FAST_CASH_CENTS;

export type Screen =
  | { name: 'outOfService'; reason: string }
  | { name: 'welcome' }
  | { name: 'loginUser'; text: string }
  | { name: 'loginPassword'; username: string; text: string }
  | { name: 'signupUser'; text: string }
  | { name: 'signupPassword'; username: string; text: string }
  | { name: 'signupConfirm'; username: string; password: string; text: string }
  | { name: 'busy'; message: string; lcd: LcdLine[] }
  | { name: 'menu' }
  | { name: 'amount'; kind: TxnKind; digits: string }
  | { name: 'confirm'; kind: TxnKind; amountCents: number; notes: Cassette[] | null; digits: string }
  | { name: 'result'; title: string; lines: string[]; receipt: string | null; lcd: LcdLine[] }
  | { name: 'receipt'; body: string };

export interface Devices {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
}

export interface KioskState {
  kioskId: string;
  screen: Screen;
  username: string | null;
  link: LinkState;
  devices: Devices;
  linkCause: LinkCause;
  noteCents: number; // smallest note the dispenser holds
  cassettes: Cassette[]; // what the dispenser holds now: which amounts it can pay
  message: string | null; // one line of feedback under the screen ("Wrong username or password")
  messageLcd: string | null; // the same, in at most LCD_COLUMNS_MIN characters for the display
  lastInputMs: number;
  idleWarned: boolean;
  multitap: { key: string; atMs: number } | null;
  idleWarnMs: number;
  idleLogoutMs: number;
}

/** What a decline says beyond its code ([ATM-4.10], [ATM-4.11]). */
export interface DeclineDetail {
  lockedUntil?: string;
  attemptsLeft?: number;
  limit?: LimitDetail;
}

export type EffectResult =
  | { effect: 'login' | 'register'; ok: true; username: string }
  | ({ effect: 'login' | 'register'; ok: false; code: string; username?: string } & DeclineDetail)
  | { effect: 'checkUsername'; ok: true; username: string }
  | { effect: 'checkUsername'; ok: false; code: string; username: string }
  | { effect: 'balance'; ok: true; balanceCents: number }
  | { effect: 'deposit'; ok: true; amountCents: number; balanceCents: number; txnId: string }
  | {
      effect: 'withdraw';
      ok: true;
      requestedCents: number;
      dispensedCents: number;
      balanceCents: number;
      txnId: string;
    }
  | ({
      effect: 'withdraw';
      ok: false;
      code: string;
      requestedCents: number;
      dispensedCents: number;
      balanceCents?: number;
      txnId?: string;
      detail?: string;
    } & DeclineDetail)
  | ({ effect: 'balance' | 'deposit'; ok: false; code: string } & DeclineDetail)
  | { effect: 'logout'; ok: boolean };

export type KioskEvent =
  | { type: 'key'; key: KeyName; source: 'keypad' | 'keyboard'; atMs: number }
  | { type: 'char'; ch: string; atMs: number }
  | { type: 'tick'; atMs: number }
  | { type: 'link'; state: LinkState; detail: string; cause?: LinkCause }
  | { type: 'device'; device: keyof Devices; state: DeviceState }
  | { type: 'cash'; cassettes: Cassette[] }
  | { type: 'result'; result: EffectResult; atMs: number };

export type Effect =
  | { kind: 'login'; username: string; password: string }
  | { kind: 'register'; username: string; password: string }
  | { kind: 'checkUsername'; username: string }
  | { kind: 'balance' }
  | { kind: 'deposit'; amountCents: number }
  | { kind: 'withdraw'; amountCents: number }
  | { kind: 'logout' }
  | { kind: 'receipt'; text: string };

export interface Step {
  state: KioskState;
  effects: Effect[];
}

export function initialState(
  kioskId: string,
  nowMs: number,
  options: { noteCents?: number; cassettes?: Cassette[]; idleWarnMs?: number; idleLogoutMs?: number } = {},
): KioskState {
  const cassettes = options.cassettes ?? [];
  return {
    kioskId,
    screen: { name: 'outOfService', reason: 'Connecting to the bank…' },
    username: null,
    link: 'connecting',
    linkCause: 'unreachable',
    devices: { keypad: 'online', display: 'online', dispenser: 'online' },
    noteCents: options.noteCents ?? smallestNoteCents(cassettes) ?? 20_00,
    cassettes,
    message: null,
    messageLcd: null,
    lastInputMs: nowMs,
    idleWarned: false,
    multitap: null,
    idleWarnMs: options.idleWarnMs ?? 20_000,
    idleLogoutMs: options.idleLogoutMs ?? 30_000,
  };
}

/** A feedback line: the sentence for the screen, and its short form for the display. */
export interface Say {
  text: string;
  lcd: string; // at most LCD_COLUMNS_MIN characters
  lcdWide?: string; // a longer form for a 20-column display
  amountCents?: number; // the amount the words are about: the display's last resort, whole
}
const say = (textLine: string, lcd: string, extra: { lcdWide?: string; amountCents?: number } = {}): Say => ({
  text: textLine,
  lcd,
  ...extra,
});
/** A decline's line on the display: the widest form that fits, the bare amount at worst. */
const sayLine = (words: Say): LcdLine =>
  text(
    0,
    ...(words.lcdWide === undefined ? [] : [words.lcdWide]),
    words.lcd,
    ...(words.amountCents === undefined ? [] : [formatCents(words.amountCents)]),
  );

const stay = (state: KioskState): Step => ({ state, effects: [] });
const tell = (state: KioskState, message: Say | null): KioskState => ({
  ...state,
  message: message?.text ?? null,
  messageLcd: message?.lcd ?? null,
});
const go = (state: KioskState, screen: Screen, effects: Effect[] = [], message: Say | null = null): Step => ({
  state: { ...tell(state, message), screen, multitap: null },
  effects,
});

/** The one entry point: every event goes through here. */
export function step(state: KioskState, event: KioskEvent): Step {
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
        ? onKey(touched, event.key, event.source, event.atMs)
        : onChar(touched, event.ch, event.atMs);
    }
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

function smallestNoteCents(cassettes: readonly Cassette[]): number | null {
  const loaded = cassettes.filter((cassette) => cassette.count > 0).map((cassette) => cassette.denominationCents);
  return loaded.length > 0 ? Math.min(...loaded) : null;
}

/** Why the link is down, in words a customer (and the engineer called) can act on. */
export function linkReason(link: LinkState, cause: LinkCause): string {
  if (link === 'connecting') return 'Connecting to the bank…';
  if (cause === 'refused') return 'The bank refused this machine’s key. A technician must check its key file.';
  if (cause === 'unreachable') return 'The bank cannot be reached. Retrying…';
  return 'The connection to the bank was lost. Reconnecting…';
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
  return go({ ...next, username: null }, { name: 'outOfService', reason: linkReason(link, cause) });
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

type TextScreen = Extract<Screen, { text: string }>;
function isTextScreen(screen: Screen): screen is TextScreen {
  return (
    screen.name === 'loginUser' ||
    screen.name === 'loginPassword' ||
    screen.name === 'signupUser' ||
    screen.name === 'signupPassword' ||
    screen.name === 'signupConfirm'
  );
}

/** Username fields take only a-z 0-9 . _ -, so a typed * and # keep their keypad meaning there. */
function isUsernameScreen(screen: Screen): boolean {
  return screen.name === 'loginUser' || screen.name === 'signupUser';
}

function onChar(state: KioskState, ch: string, atMs: number): Step {
  const screen = state.screen;
  if (!isTextScreen(screen)) return stay(state);
  if (isUsernameScreen(screen) && (ch === '*' || ch === '#'))
    return onTextKey(state, screen, ch === '*' ? 'clear' : 'enter', 'keyboard', atMs);
  if (screen.text.length >= TEXT_CHARS_MAX) return stay(state);
  return stay({ ...tell(state, null), screen: { ...screen, text: screen.text + ch }, multitap: null });
}

function onKey(state: KioskState, key: KeyName, source: 'keypad' | 'keyboard', atMs: number): Step {
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
      return onTextKey(state, screen, key, source, atMs);
    case 'menu':
      return onMenuKey(state, key);
    case 'amount':
      return onAmountKey(state, screen, key);
    case 'confirm':
      return onConfirmKey(state, screen, key);
    case 'result':
      // Digits 1/2/4 mirror A/B/D so a plain numeric keypad reaches every choice.
      if ((key === 'A' || key === '1') && screen.receipt !== null)
        return go(state, { name: 'receipt', body: screen.receipt }, [{ kind: 'receipt', text: screen.receipt }]);
      if (key === 'B' || key === '2' || key === 'enter') return go(state, { name: 'menu' });
      if (key === 'D' || key === '4' || key === 'cancel') return logout(state);
      return stay(state);
    case 'receipt':
      if (key === 'D' || key === 'cancel') return logout(state);
      return go(state, { name: 'menu' });
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

function logout(state: KioskState): Step {
  return go(
    { ...state, username: null },
    { name: 'welcome' },
    state.username !== null ? [{ kind: 'logout' }] : [],
    say('Thank you. Goodbye.', 'Goodbye'),
  );
}

function onTextKey(
  state: KioskState,
  screen: TextScreen,
  key: KeyName,
  source: 'keypad' | 'keyboard',
  atMs: number,
): Step {
  if (key === 'cancel') {
    // From the password, back to the username (kept, to correct it); from elsewhere, out.
    if (screen.name === 'loginPassword') return go(state, { name: 'loginUser', text: screen.username });
    return go(state, { name: 'welcome' });
  }
  if (key === 'backspace')
    return stay({ ...state, screen: { ...screen, text: screen.text.slice(0, -1) }, multitap: null });
  if (key === 'clear') return stay({ ...state, screen: { ...screen, text: '' }, multitap: null });
  if (key === 'enter') return submitText(state, screen);
  if (/^[0-9]$/.test(key)) {
    if (source === 'keyboard') return onChar(state, key, atMs);
    return multitap(state, screen, key, atMs);
  }
  return stay(state);
}

/** Keypad digits in a text field cycle letters like a phone: 2 → a, 22 → b, 222 → c, 2222 → 2. */
function multitap(state: KioskState, screen: TextScreen, key: string, atMs: number): Step {
  const letters = MULTITAP[key] ?? key;
  const previous = state.multitap;
  if (previous !== null && previous.key === key && atMs - previous.atMs <= MULTITAP_MS && screen.text.length > 0) {
    const last = screen.text.at(-1) as string;
    const next = letters[(letters.indexOf(last) + 1) % letters.length] as string;
    return stay({ ...state, screen: { ...screen, text: screen.text.slice(0, -1) + next }, multitap: { key, atMs } });
  }
  if (screen.text.length >= TEXT_CHARS_MAX) return stay(state);
  return stay({
    ...tell(state, null),
    screen: { ...screen, text: screen.text + (letters[0] as string) },
    multitap: { key, atMs },
  });
}

const busy = (message: string, ...lcd: LcdLine[]): Screen => ({
  name: 'busy',
  message,
  lcd: [text(0, 'PLEASE WAIT', 'WAIT'), ...lcd],
});

function submitText(state: KioskState, screen: TextScreen): Step {
  switch (screen.name) {
    case 'loginUser':
      if (screen.text.length === 0) return stay(tell(state, say('Enter your username', 'Enter username')));
      return go(state, { name: 'loginPassword', username: screen.text, text: '' });
    case 'loginPassword':
      return go(state, busy('Checking your details…', text(1, 'Checking details', 'Checking...')), [
        { kind: 'login', username: screen.username, password: screen.text },
      ]);
    case 'signupUser':
      if (!/^[A-Za-z0-9._-]{3,32}$/.test(screen.text))
        return stay(tell(state, say('Username: 3-32 letters, digits, . _ -', '3-32 a-z 0-9._-')));
      // Ask the bank now, not after the password was typed twice.
      return go(state, busy('Checking the username…', text(1, 'Checking username', 'Checking name')), [
        { kind: 'checkUsername', username: screen.text },
      ]);
    case 'signupPassword': {
      const bytes = Buffer.byteLength(screen.text, 'utf8');
      if (bytes < 8 || bytes > 72)
        return stay(
          tell({ ...state, screen: { ...screen, text: '' } }, say('Password: 8 to 72 characters', 'Password: 8-72')),
        );
      return go(state, { name: 'signupConfirm', username: screen.username, password: screen.text, text: '' });
    }
    case 'signupConfirm':
      if (screen.text !== screen.password)
        return go(
          state,
          { name: 'signupPassword', username: screen.username, text: '' },
          [],
          say('Passwords did not match: enter it again', 'No match: again'),
        );
      return go(state, busy('Creating your account…', text(1, 'Creating account', 'Creating...')), [
        { kind: 'register', username: screen.username, password: screen.password },
      ]);
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

const WITHDRAW_UNAVAILABLE = say('Withdrawals are unavailable at this machine right now', 'No withdrawals');

function onMenuKey(state: KioskState, key: KeyName): Step {
  if (key === 'A' || key === '1')
    return go(state, busy('Fetching your balance…', text(1, 'Getting balance', 'Balance...')), [{ kind: 'balance' }]);
  if (key === 'B' || key === '2') return go(state, { name: 'amount', kind: 'deposit', digits: '' });
  if (key === 'C' || key === '3') {
    if (!withdrawAvailable(state)) return stay(tell(state, WITHDRAW_UNAVAILABLE));
    return go(state, { name: 'amount', kind: 'withdraw', digits: '' });
  }
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

function onAmountKey(state: KioskState, screen: Extract<Screen, { name: 'amount' }>, key: KeyName): Step {
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

function onConfirmKey(state: KioskState, screen: Extract<Screen, { name: 'confirm' }>, key: KeyName): Step {
  // Enter only: a second press of the fast-cash key (C, C) must not pay out by itself.
  if (key === 'enter') {
    const shown = formatCents(screen.amountCents);
    if (screen.kind === 'withdraw')
      return go(state, busy(`Withdrawing ${shown}…`, text(1, 'Withdrawing'), amount(0, [], screen.amountCents)), [
        { kind: 'withdraw', amountCents: screen.amountCents },
      ]);
    return go(state, busy(`Depositing ${shown}…`, text(1, 'Depositing'), amount(0, [], screen.amountCents)), [
      { kind: 'deposit', amountCents: screen.amountCents },
    ]);
  }
  if (key === 'cancel' || key === 'D' || key === '4' || key === 'clear')
    return go(state, { name: 'amount', kind: screen.kind, digits: screen.digits });
  return stay(state);
}

/** "5 x 20.00 + 1 x 10.00": what the customer will take from the slot. */
export function notesText(notes: readonly Cassette[]): string {
  return notes.map((note) => `${note.count} x ${formatCents(note.denominationCents)}`).join(' + ');
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
  if (code === 'BANK_UNREACHABLE' || code === 'SESSION_CLOSED' || code === 'REQUEST_TIMEOUT')
    return say('The bank did not answer. Please try again.', 'No bank answer');
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

function onResult(state: KioskState, result: EffectResult, nowMs: number): Step {
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
    case 'deposit': {
      if (!result.ok) {
        const words = declineWords(result.code, nowMs, result);
        return result_(state, 'Deposit declined', [words.text], null, [
          text(0, 'DEPOSIT DECLINED', 'DECLINED'),
          sayLine(words),
        ]);
      }
      return result_(
        state,
        'Deposit accepted',
        [`Amount: ${formatCents(result.amountCents)}`, `New balance: ${formatCents(result.balanceCents)}`],
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
    `Customer ${maskName(state.username)}`,
    ...lines,
    'Thank you',
  ].join('\n');
}

function maskName(username: string | null): string {
  return username === null ? '-' : `${username.slice(0, 2)}***`;
}
