// The message rules of PROTOCOL.md [ATM-4.2]-[ATM-4.6] restated as a reference for the message
// fuzzer: which requests parseRequest must take (and which decline a refusal becomes), which
// responses parseResponseTo must take, and what the bank's boundary must say of an amount. Written
// from the document, not from messages.ts/responses.ts, so the two can disagree.
import { CODE_GROUPS } from '../../protocol/codes.js';
import type { RequestOp } from '../../protocol/messages.js';

export type RequestFieldKind =
  'username' | 'password' | 'txnId' | 'cents' | 'reason' | 'token' | 'deviceState' | 'cassettes';

/** [ATM-4.2] Each op and exactly its fields. */
export const REQUEST_FIELDS: Record<RequestOp, Record<string, RequestFieldKind>> = {
  register: { username: 'username', password: 'password' },
  login: { username: 'username', password: 'password' },
  logout: {},
  balance: {},
  statement: {},
  'password.change': { oldPassword: 'password', newPassword: 'password' },
  deposit: { txnId: 'txnId', amountCents: 'cents' },
  'deposit.resolve': { txnId: 'txnId', username: 'username', amountCents: 'cents' },
  'withdraw.hold': { txnId: 'txnId', amountCents: 'cents' },
  'withdraw.post': { txnId: 'txnId', dispensedCents: 'cents' },
  'withdraw.void': { txnId: 'txnId', reason: 'reason' },
  ping: {},
  'username.check': { username: 'username' },
  'session.handover': {},
  'session.resume': { token: 'token' },
  'device.report': { keypad: 'deviceState', display: 'deviceState', dispenser: 'deviceState', cassettes: 'cassettes' },
};
export const REQUEST_OPS = Object.keys(REQUEST_FIELDS) as RequestOp[];
export const DEVICE_STATE_NAMES = [
  'online',
  'offline',
  'hardwareError',
  'userError',
  'deviceBusy',
  'fraudAttempt',
  'noDevice',
];
export const MESSAGE_BYTES_LIMIT = 4096;
/** [ATM-4.7] INVALID_AMOUNT: a safe integer from 1 to 10,000,000,000 cents. */
export const AMOUNT_CENTS_LIMIT = 10_000_000_000;

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);
const isString = (value: unknown, charsMax: number): boolean => typeof value === 'string' && value.length <= charsMax;
const isCount = (value: unknown, min: number): boolean => Number.isSafeInteger(value) && (value as number) >= min;

/** [ATM-4.3] item 5, the schema column. */
export function requestFieldValid(kind: RequestFieldKind, value: unknown): boolean {
  switch (kind) {
    case 'username':
      return isString(value, 64);
    case 'password':
      return isString(value, 1024);
    case 'txnId':
      return typeof value === 'string' && /^[A-Za-z0-9_-]{8,64}$/.test(value);
    case 'cents':
      return typeof value === 'number';
    case 'reason':
      return isString(value, 256);
    case 'token':
      return typeof value === 'string' && /^[A-Za-z0-9_-]{43}$/.test(value);
    case 'deviceState':
      return typeof value === 'string' && DEVICE_STATE_NAMES.includes(value);
    case 'cassettes':
      return (
        Array.isArray(value) &&
        value.length <= 8 &&
        value.every(
          (cassette) =>
            isObject(cassette) &&
            Object.keys(cassette).sort().join() === 'count,denominationCents' &&
            isCount(cassette.denominationCents, 1) &&
            isCount(cassette.count, 0),
        )
      );
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

export interface RequestVerdict {
  ok: boolean;
  /** The id a refusal echoes, when one could be read ([ATM-4.6]). */
  id: number | null;
  /** The kinds of the op's fields that break the schema (unknown fields checked first). */
  badKinds: RequestFieldKind[];
}

/** [ATM-4.3] items 1-5, in their order. */
export function requestVerdict(text: string): RequestVerdict {
  const refused = (id: number | null, badKinds: RequestFieldKind[] = []): RequestVerdict => ({
    ok: false,
    id,
    badKinds,
  });
  if (Buffer.byteLength(text, 'utf8') > MESSAGE_BYTES_LIMIT) return refused(null);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return refused(null);
  }
  if (!isObject(value)) return refused(null);
  if (!isCount(value.id, 0)) return refused(null);
  const id = value.id as number;
  const op = value.op;
  if (typeof op !== 'string' || !Object.hasOwn(REQUEST_FIELDS, op)) return refused(id);
  const fields = REQUEST_FIELDS[op as RequestOp];
  if (Object.keys(value).some((key) => key !== 'id' && key !== 'op' && !Object.hasOwn(fields, key))) return refused(id);
  const badKinds = Object.entries(fields)
    .filter(([field, kind]) => !requestFieldValid(kind, value[field]))
    .map(([, kind]) => kind);
  return badKinds.length === 0 ? { ok: true, id, badKinds } : refused(id, badKinds);
}

/** [ATM-4.6] The decline a refused request gets, when the reference can tell (one bad field or none). */
export function expectedDecline(verdict: RequestVerdict): string | null {
  if (verdict.badKinds.length > 1) return null;
  const kind = verdict.badKinds[0];
  if (kind === 'cents') return 'INVALID_AMOUNT';
  if (kind === 'username') return 'INVALID_USERNAME';
  if (kind === 'password') return 'WEAK_PASSWORD';
  return 'BAD_REQUEST';
}

/** [ATM-4.7] What the bank takes as an amount: a safe integer, 1 ..= 10,000,000,000 cents. */
export function amountValid(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 1 && (value as number) <= AMOUNT_CENTS_LIMIT;
}

export type ResponseFieldKind = 'text' | 'cents' | 'centsOrZero' | 'isoTime' | 'statement';

/** [ATM-4.2] "Answer when ok", with [ATM-4.4]'s rules: amounts safe-integer cents, times ISO-8601. */
export const APPROVAL_FIELDS: Record<
  RequestOp,
  { required: Record<string, ResponseFieldKind>; optional?: Record<string, ResponseFieldKind>; together?: boolean }
> = {
  register: { required: { username: 'text' } },
  login: { required: { username: 'text' } },
  logout: { required: {} },
  balance: { required: { balanceCents: 'centsOrZero' } },
  statement: { required: { transactions: 'statement' } },
  'password.change': { required: {} },
  deposit: { required: { txnId: 'text', balanceCents: 'centsOrZero' } },
  'deposit.resolve': { required: { txnId: 'text', balanceCents: 'centsOrZero' } },
  'withdraw.hold': { required: { txnId: 'text', heldCents: 'cents', holdExpiresAt: 'isoTime' } },
  'withdraw.post': { required: { txnId: 'text', postedCents: 'centsOrZero', balanceCents: 'centsOrZero' } },
  'withdraw.void': { required: { txnId: 'text', postedCents: 'centsOrZero', balanceCents: 'centsOrZero' } },
  ping: { required: {}, optional: { sessionLeftMs: 'centsOrZero' } },
  'username.check': { required: { username: 'text' } },
  'session.handover': { required: {}, optional: { username: 'text', resumeToken: 'text' }, together: true },
  'session.resume': { required: { username: 'text' } },
  'device.report': { required: {} },
};

export function responseFieldValid(kind: ResponseFieldKind, value: unknown): boolean {
  switch (kind) {
    case 'text':
      return typeof value === 'string' && value !== '';
    case 'cents':
      return isCount(value, 1);
    case 'centsOrZero':
      return isCount(value, 0);
    case 'isoTime':
      return typeof value === 'string' && !Number.isNaN(Date.parse(value));
    case 'statement':
      return statementValid(value);
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

/** [ATM-4.13] At most 10 of exactly {txnId, kind, amountCents, state, atMs}, atMs never rising. */
function statementValid(value: unknown): boolean {
  if (!Array.isArray(value) || value.length > 10) return false;
  return value.every(
    (entry: unknown, index) =>
      isObject(entry) &&
      Object.keys(entry).sort().join() === 'amountCents,atMs,kind,state,txnId' &&
      typeof entry.txnId === 'string' &&
      /^[A-Za-z0-9_-]{8,64}$/.test(entry.txnId) &&
      (entry.kind === 'deposit' || entry.kind === 'withdraw') &&
      isCount(entry.amountCents, 1) &&
      entry.state === 'posted' &&
      isCount(entry.atMs, 0) &&
      (index === 0 || (entry.atMs as number) <= ((value[index - 1] as Record<string, unknown>).atMs as number)),
  );
}

/** [ATM-4.4] Does the kiosk take this text as the response to a request of `op`? */
export function responseAccepted(op: RequestOp, text: string): boolean {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return false;
  }
  if (!isObject(value) || !Number.isSafeInteger(value.id)) return false;
  if (value.ok === false)
    return (CODE_GROUPS.decline as readonly unknown[]).includes(value.code) && typeof value.message === 'string';
  if (value.ok !== true) return false;
  const schema = APPROVAL_FIELDS[op];
  const requiredOk = Object.entries(schema.required).every(([field, kind]) => responseFieldValid(kind, value[field]));
  const optional = Object.entries(schema.optional ?? {});
  const optionalOk = optional.every(
    ([field, kind]) => value[field] === undefined || responseFieldValid(kind, value[field]),
  );
  const present = optional.filter(([field]) => value[field] !== undefined).length;
  const togetherOk = schema.together !== true || present === 0 || present === optional.length;
  return requiredOk && optionalOk && togetherOk;
}
