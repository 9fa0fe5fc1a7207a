// [ATM-4.2, ATM-4.4] One response type per request op, stating exactly what an approval carries,
// and the kiosk-side parser that holds the bank to it. A response was trusted for its MAC but
// read as a bag of optional fields, so a missing balance became 0 on a customer's screen; now an
// approval without a field its op promises is refused (BAD_RESPONSE), never filled in.
import { isDeclineCode } from './codes.js';
import type { DeclineResponse, Request, RequestOp } from './messages.js';
import { statementTxnsInvalid, type StatementTxn } from './statement.js';

/** The request of one op, and the same without the id (which the connection assigns). */
export type RequestOf<Op extends RequestOp> = Extract<Request, { op: Op }>;
export type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

/** [ATM-4.2] What each op's approval carries beyond `id` and `ok: true`. */
export interface ApprovalFields {
  register: { username: string };
  login: { username: string };
  logout: object;
  balance: { balanceCents: number };
  /** [ATM-4.13] At most STATEMENT_TXNS_MAX, newest first. */
  statement: { transactions: StatementTxn[] };
  /** [ATM-4.14] The new password is in force; the session stays logged in. */
  'password.change': object;
  deposit: { txnId: string; balanceCents: number };
  'deposit.resolve': { txnId: string; balanceCents: number };
  'withdraw.hold': { txnId: string; heldCents: number; holdExpiresAt: string };
  'withdraw.post': { txnId: string; postedCents: number; balanceCents: number };
  'withdraw.void': { txnId: string; postedCents: number; balanceCents: number };
  /** Absent only from a session with no lifetime (tests); the kiosk then keeps its default plan. */
  ping: { sessionLeftMs?: number };
  'username.check': { username: string };
  /** Both present when a customer was logged in, both absent between customers ([ATM-4.9]). */
  'session.handover': { username: string; resumeToken: string } | { username?: undefined; resumeToken?: undefined };
  'session.resume': { username: string };
  'device.report': object;
}

export type ApprovalOf<Op extends RequestOp> = { id: number; ok: true } & ApprovalFields[Op];
export type ResponseOf<Op extends RequestOp> = ApprovalOf<Op> | DeclineResponse;
/** Any approval, of whichever op. */
export type OkResponse = { [Op in RequestOp]: ApprovalOf<Op> }[RequestOp];

/** A response as stored for a repeat of its transaction id: the id is the repeat's own. */
export type StoredResponse<Op extends RequestOp> = Op extends RequestOp
  ? Omit<ApprovalOf<Op>, 'id'> | Omit<DeclineResponse, 'id'>
  : never;

type FieldCheck = 'username' | 'txnId' | 'cents' | 'centsOrZero' | 'isoTime' | 'ms' | 'token' | 'statementTxns';
interface ApprovalSchema {
  required: Record<string, FieldCheck>;
  optional?: Record<string, FieldCheck>;
  /** Fields that come all together or not at all. */
  together?: readonly string[];
}

const approvalSchemas: Record<RequestOp, ApprovalSchema> = {
  register: { required: { username: 'username' } },
  login: { required: { username: 'username' } },
  logout: { required: {} },
  balance: { required: { balanceCents: 'centsOrZero' } },
  statement: { required: { transactions: 'statementTxns' } },
  'password.change': { required: {} },
  deposit: { required: { txnId: 'txnId', balanceCents: 'centsOrZero' } },
  'deposit.resolve': { required: { txnId: 'txnId', balanceCents: 'centsOrZero' } },
  'withdraw.hold': { required: { txnId: 'txnId', heldCents: 'cents', holdExpiresAt: 'isoTime' } },
  'withdraw.post': { required: { txnId: 'txnId', postedCents: 'centsOrZero', balanceCents: 'centsOrZero' } },
  'withdraw.void': { required: { txnId: 'txnId', postedCents: 'centsOrZero', balanceCents: 'centsOrZero' } },
  ping: { required: {}, optional: { sessionLeftMs: 'ms' } },
  'username.check': { required: { username: 'username' } },
  'session.handover': {
    required: {},
    optional: { username: 'username', resumeToken: 'token' },
    together: ['username', 'resumeToken'],
  },
  'session.resume': { required: { username: 'username' } },
  'device.report': { required: {} },
};

function fieldValid(check: FieldCheck, value: unknown): boolean {
  switch (check) {
    case 'username':
    case 'txnId':
    case 'token':
      return typeof value === 'string' && value.length > 0;
    case 'cents':
      return Number.isSafeInteger(value) && (value as number) > 0;
    case 'centsOrZero':
    case 'ms':
      return Number.isSafeInteger(value) && (value as number) >= 0;
    case 'isoTime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'statementTxns':
      return statementTxnsInvalid(value) === null;
    default: {
      const exhaustive: never = check;
      return exhaustive;
    }
  }
}

export type ParsedResponse<Op extends RequestOp> =
  { ok: true; response: ResponseOf<Op> } | { ok: false; reason: string };

/**
 * Kiosk side: the response to a request of `op`. Never throws; a reason names what is wrong.
 * A decline needs a known code and a message; an approval every field its op promises.
 */
export function parseResponseTo<Op extends RequestOp>(op: Op, bytes: Uint8Array): ParsedResponse<Op> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { ok: false, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, reason: 'not an object' };
  const record = value as Record<string, unknown>;
  if (!Number.isSafeInteger(record.id)) return { ok: false, reason: 'missing or invalid id' };
  if (record.ok === false) {
    if (!isDeclineCode(record.code)) return { ok: false, reason: 'decline without a known code' };
    if (typeof record.message !== 'string') return { ok: false, reason: 'decline without a message' };
    return { ok: true, response: record as unknown as DeclineResponse };
  }
  if (record.ok !== true) return { ok: false, reason: 'ok is not a boolean' };
  const schema = approvalSchemas[op];
  for (const [field, check] of Object.entries(schema.required)) {
    if (!fieldValid(check, record[field])) return { ok: false, reason: `${op} approval without a valid ${field}` };
  }
  for (const [field, check] of Object.entries(schema.optional ?? {})) {
    if (record[field] !== undefined && !fieldValid(check, record[field]))
      return { ok: false, reason: `${op} approval with an invalid ${field}` };
  }
  const together = schema.together ?? [];
  const present = together.filter((field) => record[field] !== undefined).length;
  if (present !== 0 && present !== together.length)
    return { ok: false, reason: `${op} approval with only some of ${together.join(', ')}` };
  return { ok: true, response: record as unknown as ApprovalOf<Op> };
}
