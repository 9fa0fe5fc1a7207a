// The kiosk flow's vocabulary: limits, screens, state, events, effects and their results, the
// initial state, and the small helpers every part of the flow builds its steps with.
import type { Cassette, CashInFault, EscrowCount, KeyName } from '../hardware/index.js';
import { ClientError, type DeviceState, type LimitDetail, type StatementTxn } from '../protocol/index.js';
import { text, type LcdLine } from './lcd.js';
import type { LinkCause, LinkState } from './seams.js';
import type { Say } from './flow-words.js';

export type { LinkState } from './seams.js';

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
  /** [ATM-4.14] A password change: the passwords typed so far live here only until it is sent. */
  | { name: 'passwordOld'; text: string }
  | { name: 'passwordNew'; oldPassword: string; text: string }
  | { name: 'passwordRepeat'; oldPassword: string; newPassword: string; text: string }
  | { name: 'busy'; message: string; lcd: LcdLine[] }
  | { name: 'menu' }
  /** The cash-in slot is open: notes are counted into the escrow (state.escrow) as they come. */
  | { name: 'insertNotes' }
  | { name: 'amount'; kind: TxnKind; digits: string }
  | { name: 'confirm'; kind: TxnKind; amountCents: number; notes: Cassette[] | null; digits: string }
  | { name: 'result'; title: string; lines: string[]; receipt: string | null; lcd: LcdLine[] }
  | { name: 'receipt'; body: string };

export interface Devices {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  /** 'noDevice' on a kiosk without a cash-in module: it takes typed (envelope) deposits. */
  acceptor: DeviceState;
}

export const EMPTY_ESCROW: EscrowCount = { notes: [], totalCents: 0, rejected: 0 };

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
  /** The deposit or withdrawal under way, or whose answer never came; null once its outcome is known. */
  txn: PendingTxn | null;
  /** What the cash-in module's escrow holds now (the notes a customer put in, not yet stored or returned). */
  escrow: EscrowCount;
}

/**
 * A deposit or withdrawal the customer confirmed. Its id is created once, when it starts (the
 * controller's newTxnId, through StepContext), and kept here until the bank's answer is known,
 * so a retry of the same transaction carries the same id and the bank answers it with its first
 * answer instead of moving money twice ([ATM-4.2]): cash comes out at most once.
 */
export interface PendingTxn {
  kind: TxnKind;
  amountCents: number;
  txnId: string;
  /**
   * True from the confirmation until the teller's result: the bank was (or is being) asked. A
   * deposit in flight outlives its customer's session (the link may drop while the kiosk asks
   * again under the same id), so the flow keeps it, and the screen, until the result comes.
   */
  inFlight: boolean;
  /** A deposit's escrowed notes; null for a withdrawal or a typed deposit. */
  notes: Cassette[] | null;
}

/** What became of a deposit's notes: stored, handed back, retained (not taken), or a fault left them in the escrow. */
export type EscrowFate = 'stored' | 'returned' | 'retained' | CashInFault;

/** What step() may need besides state and event: randomness is injected, as time is (atMs). */
export interface StepContext {
  /** A new, globally unique transaction id; needed only when a transaction starts. */
  newTxnId?: () => string;
}

/**
 * Codes that mean no answer came (the link's, see BankLink): the bank may or may not have acted,
 * so the transaction stays pending and a retry reuses its id. Every other result is an answer.
 */
export const OUTCOME_UNKNOWN_CODES: readonly string[] = [
  ClientError.UNREACHABLE,
  ClientError.CLOSED,
  ClientError.TIMEOUT,
];

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
  | {
      effect: 'deposit';
      ok: true;
      amountCents: number;
      balanceCents: number;
      txnId: string;
      /** null: a typed deposit (no notes). */
      escrow: EscrowFate | null;
    }
  | ({ effect: 'deposit'; ok: false; code: string; escrow: EscrowFate | null } & DeclineDetail)
  /** A step of the cash-in module outside a deposit: the slot opened or closed, notes handed back. */
  | { effect: 'cashIn'; step: 'open' | 'close' | 'return'; ok: true; escrow: EscrowCount }
  | { effect: 'cashIn'; step: 'open' | 'close' | 'return'; ok: false; fault: CashInFault; escrow: EscrowCount }
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
  | ({ effect: 'balance'; ok: false; code: string } & DeclineDetail)
  /** [ATM-4.13] Newest first, at most STATEMENT_TXNS_MAX (the link refuses any other list). */
  | { effect: 'statement'; ok: true; transactions: StatementTxn[] }
  | ({ effect: 'statement'; ok: false; code: string } & DeclineDetail)
  | { effect: 'changePassword'; ok: true }
  | ({ effect: 'changePassword'; ok: false; code: string } & DeclineDetail)
  | { effect: 'logout'; ok: boolean }
  /** A receipt printed, or why not: a printer fault never touches the transaction. */
  | { effect: 'receipt'; ok: true }
  | { effect: 'receipt'; ok: false; fault: string };

export type KioskEvent =
  | { type: 'key'; key: KeyName; source: 'keypad' | 'keyboard'; atMs: number }
  | { type: 'char'; ch: string; atMs: number }
  | { type: 'tick'; atMs: number }
  | { type: 'link'; state: LinkState; detail: string; cause?: LinkCause }
  | { type: 'device'; device: keyof Devices; state: DeviceState }
  | { type: 'cash'; cassettes: Cassette[] }
  | { type: 'escrow'; escrow: EscrowCount }
  /** Cash of the withdrawal in flight is at the slot, waiting to be taken. */
  | { type: 'cashPresented'; txnId: string; amountCents: number }
  /** The teller got no answer to the transaction in flight and is asking again under its id. */
  | { type: 'txnWaiting'; txnId: string }
  | { type: 'result'; result: EffectResult; atMs: number };

export type Effect =
  | { kind: 'login'; username: string; password: string }
  | { kind: 'register'; username: string; password: string }
  | { kind: 'checkUsername'; username: string }
  | { kind: 'balance' }
  | { kind: 'statement' }
  | { kind: 'changePassword'; oldPassword: string; newPassword: string }
  | { kind: 'deposit'; amountCents: number; txnId: string; notes: Cassette[] | null }
  | { kind: 'cashIn'; step: 'open' | 'close' | 'return' }
  | { kind: 'withdraw'; amountCents: number; txnId: string }
  | { kind: 'logout' }
  | { kind: 'receipt'; text: string };

export interface Step {
  state: KioskState;
  effects: Effect[];
}

export function initialState(
  kioskId: string,
  nowMs: number,
  options: {
    noteCents?: number;
    cassettes?: Cassette[];
    idleWarnMs?: number;
    idleLogoutMs?: number;
    /** The kiosk has a cash-in module: deposits are notes, not typed amounts. */
    cashIn?: boolean;
  } = {},
): KioskState {
  const cassettes = options.cassettes ?? [];
  return {
    kioskId,
    screen: { name: 'outOfService', reason: 'Connecting to the bank…' },
    username: null,
    link: 'connecting',
    linkCause: 'unreachable',
    devices: {
      keypad: 'online',
      display: 'online',
      dispenser: 'online',
      acceptor: options.cashIn === true ? 'online' : 'noDevice',
    },
    noteCents: options.noteCents ?? smallestNoteCents(cassettes) ?? 20_00,
    cassettes,
    message: null,
    messageLcd: null,
    lastInputMs: nowMs,
    idleWarned: false,
    multitap: null,
    idleWarnMs: options.idleWarnMs ?? 20_000,
    idleLogoutMs: options.idleLogoutMs ?? 30_000,
    txn: null,
    escrow: EMPTY_ESCROW,
  };
}

export function smallestNoteCents(cassettes: readonly Cassette[]): number | null {
  const loaded = cassettes.filter((cassette) => cassette.count > 0).map((cassette) => cassette.denominationCents);
  return loaded.length > 0 ? Math.min(...loaded) : null;
}

export const stay = (state: KioskState): Step => ({ state, effects: [] });
export const tell = (state: KioskState, message: Say | null): KioskState => ({
  ...state,
  message: message?.text ?? null,
  messageLcd: message?.lcd ?? null,
});
export const go = (state: KioskState, screen: Screen, effects: Effect[] = [], message: Say | null = null): Step => ({
  state: { ...tell(state, message), screen, multitap: null },
  effects,
});

export const busy = (message: string, ...lcd: LcdLine[]): Screen => ({
  name: 'busy',
  message,
  lcd: [text(0, 'PLEASE WAIT', 'WAIT'), ...lcd],
});
