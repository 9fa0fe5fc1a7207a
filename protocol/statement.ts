// [ATM-4.13] The mini statement: what one `statement` approval lists, and the kiosk-side check
// of it. The list is the money that moved on the account, newest first, so the check holds the
// bank to the order as well as to each entry's shape: a screen never shows a list it must sort.
import { TXN_ID_PATTERN } from './messages.js';

/** [ATM-4.13] At most this many transactions in one statement (a receipt's worth). */
export const STATEMENT_TXNS_MAX = 10;

export type StatementTxnKind = 'deposit' | 'withdraw';
/** Only money that moved is listed; an open hold shows in the available balance instead. */
export type StatementTxnState = 'posted';
export const STATEMENT_TXN_KINDS: readonly StatementTxnKind[] = ['deposit', 'withdraw'];
export const STATEMENT_TXN_STATES: readonly StatementTxnState[] = ['posted'];

/** One line of a statement. */
export interface StatementTxn {
  txnId: string;
  kind: StatementTxnKind;
  /** What moved: the deposit, or what the dispenser gave out (a partial dispense's part). */
  amountCents: number;
  state: StatementTxnState;
  /** When it moved (epoch ms): a deposit's creation, a withdrawal's post. */
  atMs: number;
}

const STATEMENT_TXN_FIELDS = ['amountCents', 'atMs', 'kind', 'state', 'txnId'];

function entryInvalid(value: unknown): string | null {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'is not an object';
  const entry = value as Record<string, unknown>;
  if (Object.keys(entry).sort().join() !== STATEMENT_TXN_FIELDS.join())
    return `has fields other than ${STATEMENT_TXN_FIELDS.join(', ')}`;
  if (typeof entry.txnId !== 'string' || !TXN_ID_PATTERN.test(entry.txnId)) return 'has an invalid txnId';
  if (!(STATEMENT_TXN_KINDS as readonly unknown[]).includes(entry.kind)) return 'has an invalid kind';
  if (!Number.isSafeInteger(entry.amountCents) || (entry.amountCents as number) <= 0)
    return 'has an invalid amountCents';
  if (!(STATEMENT_TXN_STATES as readonly unknown[]).includes(entry.state)) return 'has an invalid state';
  if (!Number.isSafeInteger(entry.atMs) || (entry.atMs as number) < 0) return 'has an invalid atMs';
  return null;
}

/**
 * Why `value` is not a statement's transaction list, or null: an array of at most
 * STATEMENT_TXNS_MAX entries, each exactly the fields of StatementTxn, newest first (atMs never
 * rising). Never throws.
 */
export function statementTxnsInvalid(value: unknown): string | null {
  if (!Array.isArray(value)) return 'is not an array';
  if (value.length > STATEMENT_TXNS_MAX) return `has more than ${STATEMENT_TXNS_MAX} entries`;
  for (const [index, entry] of value.entries()) {
    const invalid = entryInvalid(entry);
    if (invalid !== null) return `entry ${index} ${invalid}`;
    const previous = value[index - 1] as StatementTxn | undefined;
    if (previous !== undefined && (entry as StatementTxn).atMs > previous.atMs) return `entry ${index} is out of order`;
  }
  return null;
}
