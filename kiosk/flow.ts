// The kiosk's screen flow as a pure state machine: (state, event) → (state, effects).
// Key presses, time, link and device changes and the results of effects come in; the screen
// to show and the work to do (bank calls, dispensing, receipts) go out. No I/O, no clock
// reads: the controller (controller.ts) runs the effects and feeds their results back.
import type { KeyName } from '../hardware/types.js';
import type { DeviceState } from '../protocol/messages.js';
import { declineText, isDeclineCode } from '../protocol/errors.js';
import { formatCents } from '../protocol/amount.js';

export const AMOUNT_DIGITS_MAX = 7; // 99,999.99: far above any limit, far below 2^53
export const TEXT_CHARS_MAX = 72;
export const MULTITAP_MS = 1_200;
export const FAST_CASH_CENTS: Record<'A' | 'B' | 'C' | 'D', number> = { A: 20_00, B: 60_00, C: 100_00, D: 200_00 };

/** Phone-style letters on the keypad digits, so a keypad alone can type a username. */
export const MULTITAP: Record<string, string> = {
  '1': '1.-_', '2': 'abc2', '3': 'def3', '4': 'ghi4', '5': 'jkl5', '6': 'mno6', '7': 'pqrs7', '8': 'tuv8', '9': 'wxyz9', '0': '0',
};

export type LinkState = 'connecting' | 'online' | 'offline';
export type TxnKind = 'deposit' | 'withdraw';

export type Screen =
  | { name: 'outOfService'; reason: string }
  | { name: 'welcome' }
  | { name: 'loginUser'; text: string }
  | { name: 'loginPassword'; username: string; text: string }
  | { name: 'signupUser'; text: string }
  | { name: 'signupPassword'; username: string; text: string }
  | { name: 'signupConfirm'; username: string; password: string; text: string }
  | { name: 'busy'; message: string }
  | { name: 'menu' }
  | { name: 'amount'; kind: TxnKind; digits: string }
  | { name: 'result'; title: string; lines: string[]; receipt: string | null }
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
  noteCents: number; // smallest note the dispenser holds
  message: string | null; // one line of feedback under the screen ("Wrong username or password")
  lastInputMs: number;
  idleWarned: boolean;
  multitap: { key: string; atMs: number } | null;
  idleWarnMs: number;
  idleLogoutMs: number;
}

export type EffectResult =
  | { effect: 'login' | 'register'; ok: true; username: string }
  | { effect: 'login' | 'register'; ok: false; code: string; lockedUntil?: string }
  | { effect: 'balance'; ok: true; balanceCents: number }
  | { effect: 'deposit'; ok: true; amountCents: number; balanceCents: number; txnId: string }
  | { effect: 'withdraw'; ok: true; requestedCents: number; dispensedCents: number; balanceCents: number; txnId: string }
  | { effect: 'withdraw'; ok: false; code: string; requestedCents: number; dispensedCents: number; balanceCents?: number; txnId?: string; detail?: string }
  | { effect: 'balance' | 'deposit'; ok: false; code: string }
  | { effect: 'logout'; ok: boolean };

export type KioskEvent =
  | { type: 'key'; key: KeyName; source: 'keypad' | 'keyboard'; atMs: number }
  | { type: 'char'; ch: string; atMs: number }
  | { type: 'tick'; atMs: number }
  | { type: 'link'; state: LinkState; detail: string }
  | { type: 'device'; device: keyof Devices; state: DeviceState }
  | { type: 'result'; result: EffectResult; atMs: number };

export type Effect =
  | { kind: 'login'; username: string; password: string }
  | { kind: 'register'; username: string; password: string }
  | { kind: 'balance' }
  | { kind: 'deposit'; amountCents: number }
  | { kind: 'withdraw'; amountCents: number }
  | { kind: 'logout' }
  | { kind: 'receipt'; text: string };

export interface Step {
  state: KioskState;
  effects: Effect[];
}

export function initialState(kioskId: string, nowMs: number, options: { noteCents?: number; idleWarnMs?: number; idleLogoutMs?: number } = {}): KioskState {
  return {
    kioskId,
    screen: { name: 'outOfService', reason: 'Connecting to the bank…' },
    username: null,
    link: 'connecting',
    devices: { keypad: 'online', display: 'online', dispenser: 'online' },
    noteCents: options.noteCents ?? 20_00,
    message: null,
    lastInputMs: nowMs,
    idleWarned: false,
    multitap: null,
    idleWarnMs: options.idleWarnMs ?? 20_000,
    idleLogoutMs: options.idleLogoutMs ?? 30_000,
  };
}

const stay = (state: KioskState): Step => ({ state, effects: [] });
const go = (state: KioskState, screen: Screen, effects: Effect[] = [], message: string | null = null): Step => ({
  state: { ...state, screen, message, multitap: null },
  effects,
});

/** The one entry point: every event goes through here. */
export function step(state: KioskState, event: KioskEvent): Step {
  switch (event.type) {
    case 'link':
      return onLink(state, event.state);
    case 'device':
      // A device coming back clears a message about it being unavailable.
      return stay({ ...state, devices: { ...state.devices, [event.device]: event.state }, message: event.state === 'online' ? null : state.message });
    case 'tick':
      return onTick(state, event.atMs);
    case 'result':
      return onResult({ ...state, lastInputMs: event.atMs, idleWarned: false }, event.result, event.atMs);
    case 'key':
    case 'char': {
      const touched = { ...state, lastInputMs: event.atMs, idleWarned: false };
      // A key that only dismisses the idle warning does nothing else.
      if (state.idleWarned) return stay({ ...touched, message: null });
      return event.type === 'key' ? onKey(touched, event.key, event.source, event.atMs) : onChar(touched, event.ch);
    }
    default: {
      const exhaustive: never = event;
      return exhaustive;
    }
  }
}

function onLink(state: KioskState, link: LinkState): Step {
  const next = { ...state, link };
  if (link === 'online') {
    return state.screen.name === 'outOfService' ? go(next, { name: 'welcome' }) : stay(next);
  }
  // The bank session is gone: whoever was logged in is logged out with it.
  // The technical detail (event.detail) goes to the kiosk's log (app.ts), not to the customer.
  const reason = link === 'connecting' ? 'Connecting to the bank…' : 'The connection to the bank was lost. Reconnecting…';
  return go({ ...next, username: null }, { name: 'outOfService', reason });
}

function onTick(state: KioskState, nowMs: number): Step {
  const idleScreens = state.screen.name !== 'welcome' && state.screen.name !== 'outOfService' && state.screen.name !== 'busy';
  if (!idleScreens) return stay(state);
  const idleMs = nowMs - state.lastInputMs;
  if (idleMs >= state.idleLogoutMs) {
    const effects: Effect[] = state.username !== null ? [{ kind: 'logout' }] : [];
    return go({ ...state, username: null, idleWarned: false }, { name: 'welcome' }, effects, 'Session ended after no activity');
  }
  if (idleMs >= state.idleWarnMs && !state.idleWarned) {
    const secondsLeft = Math.ceil((state.idleLogoutMs - idleMs) / 1000);
    return stay({ ...state, idleWarned: true, message: `Are you still there? Press any key within ${secondsLeft} s` });
  }
  return stay(state);
}

function onChar(state: KioskState, ch: string): Step {
  const screen = state.screen;
  if (!isTextScreen(screen)) return stay(state);
  if (screen.text.length >= TEXT_CHARS_MAX) return stay(state);
  return stay({ ...state, screen: { ...screen, text: screen.text + ch }, message: null, multitap: null });
}

type TextScreen = Extract<Screen, { text: string }>;
function isTextScreen(screen: Screen): screen is TextScreen {
  return screen.name === 'loginUser' || screen.name === 'loginPassword' || screen.name === 'signupUser' || screen.name === 'signupPassword' || screen.name === 'signupConfirm';
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
    case 'result':
      // Digits 1/2/4 mirror A/B/D so a plain numeric keypad reaches every choice.
      if ((key === 'A' || key === '1') && screen.receipt !== null) return go(state, { name: 'receipt', body: screen.receipt }, [{ kind: 'receipt', text: screen.receipt }]);
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
  return go({ ...state, username: null }, { name: 'welcome' }, state.username !== null ? [{ kind: 'logout' }] : [], 'Thank you. Goodbye.');
}

function onTextKey(state: KioskState, screen: TextScreen, key: KeyName, source: 'keypad' | 'keyboard', atMs: number): Step {
  if (key === 'cancel') return go(state, { name: 'welcome' });
  if (key === 'backspace') return stay({ ...state, screen: { ...screen, text: screen.text.slice(0, -1) }, multitap: null });
  if (key === 'clear') return stay({ ...state, screen: { ...screen, text: '' }, multitap: null });
  if (key === 'enter') return submitText(state, screen);
  if (/^[0-9]$/.test(key)) {
    if (source === 'keyboard') return onChar(state, key);
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
  return stay({ ...state, screen: { ...screen, text: screen.text + (letters[0] as string) }, multitap: { key, atMs }, message: null });
}

function submitText(state: KioskState, screen: TextScreen): Step {
  switch (screen.name) {
    case 'loginUser':
      if (screen.text.length === 0) return stay({ ...state, message: 'Enter your username' });
      return go(state, { name: 'loginPassword', username: screen.text, text: '' });
    case 'loginPassword':
      return go(state, { name: 'busy', message: 'Checking your details…' }, [{ kind: 'login', username: screen.username, password: screen.text }]);
    case 'signupUser':
      if (!/^[A-Za-z0-9._-]{3,32}$/.test(screen.text)) return stay({ ...state, message: 'Username: 3-32 letters, digits, . _ -' });
      return go(state, { name: 'signupPassword', username: screen.text, text: '' });
    case 'signupPassword': {
      const bytes = Buffer.byteLength(screen.text, 'utf8');
      if (bytes < 8 || bytes > 72) return stay({ ...state, screen: { ...screen, text: '' }, message: 'Password: 8 to 72 characters' });
      return go(state, { name: 'signupConfirm', username: screen.username, password: screen.text, text: '' });
    }
    case 'signupConfirm':
      if (screen.text !== screen.password) return go(state, { name: 'signupPassword', username: screen.username, text: '' }, [], 'Passwords did not match: enter it again');
      return go(state, { name: 'busy', message: 'Creating your account…' }, [{ kind: 'register', username: screen.username, password: screen.password }]);
    default: {
      const exhaustive: never = screen;
      return exhaustive;
    }
  }
}

function onMenuKey(state: KioskState, key: KeyName): Step {
  if (key === 'A' || key === '1') return go(state, { name: 'busy', message: 'Fetching your balance…' }, [{ kind: 'balance' }]);
  if (key === 'B' || key === '2') return go(state, { name: 'amount', kind: 'deposit', digits: '' });
  if (key === 'C' || key === '3') {
    if (!withdrawAvailable(state)) return stay({ ...state, message: 'Withdrawals are unavailable at this machine right now' });
    return go(state, { name: 'amount', kind: 'withdraw', digits: '' });
  }
  if (key === 'D' || key === '4' || key === 'cancel') return logout(state);
  return stay(state);
}

export function withdrawAvailable(state: KioskState): boolean {
  return state.devices.dispenser === 'online' || state.devices.dispenser === 'deviceBusy';
}

function onAmountKey(state: KioskState, screen: Extract<Screen, { name: 'amount' }>, key: KeyName): Step {
  if (key === 'cancel') return go(state, { name: 'menu' });
  if (key === 'clear') return stay({ ...state, screen: { ...screen, digits: '' }, message: null });
  if (key === 'backspace') return stay({ ...state, screen: { ...screen, digits: screen.digits.slice(0, -1) }, message: null });
  if (/^[0-9]$/.test(key)) {
    if (screen.digits.length >= AMOUNT_DIGITS_MAX || (screen.digits === '' && key === '0')) return stay(state);
    return stay({ ...state, screen: { ...screen, digits: screen.digits + key }, message: null });
  }
  if (screen.kind === 'withdraw' && (key === 'A' || key === 'B' || key === 'C' || key === 'D')) return submitAmount(state, screen.kind, FAST_CASH_CENTS[key]);
  if (key === 'enter') return submitAmount(state, screen.kind, Number(screen.digits || '0'));
  return stay(state);
}

function submitAmount(state: KioskState, kind: TxnKind, amountCents: number): Step {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) return stay({ ...state, message: 'Enter an amount' });
  if (kind === 'withdraw') {
    if (amountCents % state.noteCents !== 0) return stay({ ...state, message: `Amounts in multiples of ${formatCents(state.noteCents)}` });
    return go(state, { name: 'busy', message: `Withdrawing ${formatCents(amountCents)}…` }, [{ kind: 'withdraw', amountCents }]);
  }
  return go(state, { name: 'busy', message: `Depositing ${formatCents(amountCents)}…` }, [{ kind: 'deposit', amountCents }]);
}

/** Plain words for a decline, with the lock's remaining time where there is one. */
export function declineWords(code: string, nowMs: number, lockedUntil?: string): string {
  if (code === 'ACCOUNT_LOCKED' && lockedUntil !== undefined) {
    const minutes = Math.max(1, Math.ceil((Date.parse(lockedUntil) - nowMs) / 60_000));
    return `Account locked — try again in ${minutes} min`;
  }
  if (isDeclineCode(code)) return declineText[code];
  if (code === 'BANK_UNREACHABLE' || code === 'SESSION_CLOSED' || code === 'REQUEST_TIMEOUT') return 'The bank did not answer. Please try again.';
  return 'The transaction could not be completed';
}

function onResult(state: KioskState, result: EffectResult, nowMs: number): Step {
  switch (result.effect) {
    case 'login':
    case 'register':
      if (result.ok) return go({ ...state, username: result.username }, { name: 'menu' }, [], result.effect === 'register' ? 'Account created. Welcome!' : null);
      return go(state, { name: result.effect === 'login' ? 'loginUser' : 'signupUser', text: '' }, [], declineWords(result.code, nowMs, result.lockedUntil));
    case 'logout':
      return stay(state);
    case 'balance':
      if (!result.ok) return go(state, { name: 'menu' }, [], declineWords(result.code, nowMs));
      return result_(state, 'Balance', [`Available balance: ${formatCents(result.balanceCents)}`], receipt(state, nowMs, ['BALANCE INQUIRY', `Available: ${formatCents(result.balanceCents)}`]));
    case 'deposit':
      if (!result.ok) return result_(state, 'Deposit declined', [declineWords(result.code, nowMs)], null);
      return result_(
        state,
        'Deposit accepted',
        [`Amount: ${formatCents(result.amountCents)}`, `New balance: ${formatCents(result.balanceCents)}`],
        receipt(state, nowMs, ['DEPOSIT', `Amount: ${formatCents(result.amountCents)}`, `Balance: ${formatCents(result.balanceCents)}`, `Ref: ${result.txnId}`]),
      );
    case 'withdraw':
      return withdrawResult(state, result, nowMs);
    default: {
      const exhaustive: never = result;
      return exhaustive;
    }
  }
}

function withdrawResult(state: KioskState, result: Extract<EffectResult, { effect: 'withdraw' }>, nowMs: number): Step {
  if (result.ok) {
    const partial = result.dispensedCents < result.requestedCents;
    const lines = partial
      ? [`Only ${formatCents(result.dispensedCents)} of ${formatCents(result.requestedCents)} could be dispensed.`, `You were charged ${formatCents(result.dispensedCents)} only.`, `New balance: ${formatCents(result.balanceCents)}`]
      : ['Please take your cash.', `Amount: ${formatCents(result.dispensedCents)}`, `New balance: ${formatCents(result.balanceCents)}`];
    return result_(
      state,
      partial ? 'Partial withdrawal' : 'Cash dispensed',
      lines,
      receipt(state, nowMs, ['WITHDRAWAL', `Requested: ${formatCents(result.requestedCents)}`, `Dispensed: ${formatCents(result.dispensedCents)}`, `Balance: ${formatCents(result.balanceCents)}`, `Ref: ${result.txnId}`]),
    );
  }
  if (result.code === 'DISPENSE_FAULT') {
    return result_(state, 'Withdrawal failed', ['The cash dispenser failed: no cash was dispensed.', 'Nothing was taken from your account.', ...(result.balanceCents === undefined ? [] : [`Balance: ${formatCents(result.balanceCents)}`])], null);
  }
  if (result.code === 'SETTLE_PENDING') {
    return result_(state, 'Please take your cash', [`Dispensed: ${formatCents(result.dispensedCents)}`, 'The bank did not confirm yet: your account will be', 'updated with exactly this amount shortly.'], null);
  }
  if (result.code === 'CANNOT_DISPENSE') return result_(state, 'Withdrawal not possible', ['This machine cannot dispense that amount.', 'Try a different amount.'], null);
  return result_(state, 'Withdrawal declined', [declineWords(result.code, nowMs)], null);
}

function result_(state: KioskState, title: string, lines: string[], receiptText: string | null): Step {
  return go(state, { name: 'result', title, lines, receipt: receiptText });
}

function receipt(state: KioskState, nowMs: number, lines: string[]): string {
  const when = new Date(nowMs).toISOString().replace('T', ' ').slice(0, 19);
  return ['SECURE ATM', `Kiosk ${state.kioskId}`, `${when} UTC`, `Customer ${maskName(state.username)}`, ...lines, 'Thank you'].join('\n');
}

function maskName(username: string | null): string {
  return username === null ? '-' : `${username.slice(0, 2)}***`;
}
