// One action record: what happened, in the one shape the bank's audit log, the kiosk's journal,
// the bank's log line and telemetry's event all carry. The four used to be four interfaces with
// `action` and `outcome` as free strings; now the action names and outcomes are closed unions,
// so a typo or a new name is a compile error where it is made, not a surprise in a dashboard.
// The JSON field names are those the audit log has always had (DESIGN §4).
import { CODE_GROUPS, type Code } from './codes.js';
import type { RequestOp } from './messages.js';

const REQUEST_OPS = [
  'register',
  'login',
  'logout',
  'balance',
  'statement',
  'password.change',
  'deposit',
  'deposit.resolve',
  'withdraw.hold',
  'withdraw.post',
  'withdraw.void',
  'ping',
  'username.check',
  'session.handover',
  'session.resume',
  'device.report',
] as const satisfies readonly RequestOp[];
/** Compiles only while every request op is listed above, so a new op cannot miss its action name. */
export const EVERY_REQUEST_OP_IS_AN_ACTION: [Exclude<RequestOp, (typeof REQUEST_OPS)[number]>] extends [never]
  ? true
  : never = true;

/** The bank's actions: one per request op, a request it could not parse, a security close. */
export const BANK_ACTIONS = [...REQUEST_OPS, 'request', 'security'] as const;
/** The kiosk journal's actions: the steps of a deposit and of a withdrawal (DESIGN §5). */
export const JOURNAL_ACTIONS = [
  'deposit.sent',
  'deposit.result',
  'hold.sent',
  'hold.result',
  'dispense.started',
  'dispense.result',
  'settled',
  'escrow',
  'retracted',
] as const;
export type BankAction = (typeof BANK_ACTIONS)[number];
export type JournalAction = (typeof JOURNAL_ACTIONS)[number];
export type ActionName = BankAction | JournalAction;

/** The journal's step outcomes that are not codes: a request sent, a dispense started, a hold settled. */
export const JOURNAL_OUTCOMES = [
  'sent',
  'started',
  'posted',
  'voided',
  'refused',
  'stored',
  'returned',
  'retained',
  'retracted',
] as const;
/**
 * 'ok'; 'replayed' (a repeated transaction id: nothing moved, so summing 'ok' never counts it
 * twice); a code of the catalogue (a decline, a close reason for 'security', a dispense fault);
 * or a journal step outcome.
 */
export type ActionOutcome = 'ok' | 'replayed' | Code | (typeof JOURNAL_OUTCOMES)[number];

/** One thing that happened. The audit log and the kiosk journal store exactly these fields. */
export interface ActionRecord<Action extends ActionName = ActionName> {
  kioskId: string;
  username: string | null;
  action: Action;
  outcome: ActionOutcome;
  amountCents?: number;
  txnId?: string;
  detail?: string;
}

const ACTION_NAMES: ReadonlySet<string> = new Set<string>([...BANK_ACTIONS, ...JOURNAL_ACTIONS]);
const ACTION_OUTCOMES: ReadonlySet<string> = new Set<string>([
  'ok',
  'replayed',
  ...JOURNAL_OUTCOMES,
  ...Object.values(CODE_GROUPS).flat(),
]);

export function isActionName(value: unknown): value is ActionName {
  return typeof value === 'string' && ACTION_NAMES.has(value);
}

export function isBankAction(value: unknown): value is BankAction {
  return typeof value === 'string' && (BANK_ACTIONS as readonly string[]).includes(value);
}

export function isActionOutcome(value: unknown): value is ActionOutcome {
  return typeof value === 'string' && ACTION_OUTCOMES.has(value);
}
