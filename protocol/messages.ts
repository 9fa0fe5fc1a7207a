// [ATM-4] Application messages: JSON inside data records. Every request is validated at the
// boundary against a closed schema (unknown fields, wrong types and oversize strings are
// refused) and answered with a response that echoes its id. One request is in flight per
// session at a time.
import { isDeclineCode, type DeclineCode } from './errors.js';
import type { OkResponse } from './responses.js';

export const USERNAME_PATTERN = /^[a-z0-9._-]{3,32}$/;
export const PASSWORD_BYTES_MIN = 8;
export const PASSWORD_BYTES_MAX = 72; // bcrypt ignores bytes past 72, so we refuse them
export const TXN_ID_PATTERN = /^[A-Za-z0-9_-]{8,64}$/;
export const MESSAGE_BYTES_MAX = 4096;
/** [ATM-4.9] A hand-over token: 32 random bytes, base64url without padding. */
export const RESUME_TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
const STRING_CHARS_MAX = 256;

export type DeviceState =
  'online' | 'offline' | 'hardwareError' | 'userError' | 'deviceBusy' | 'fraudAttempt' | 'noDevice';
export const DEVICE_STATES: readonly DeviceState[] = [
  'online',
  'offline',
  'hardwareError',
  'userError',
  'deviceBusy',
  'fraudAttempt',
  'noDevice',
];

/** Each device state in plain words, for any screen a person reads (the kiosk's, the operator's). */
const DEVICE_STATE_WORDS: Record<DeviceState, string> = {
  online: 'ok',
  offline: 'offline',
  hardwareError: 'hardware fault',
  userError: 'misused',
  deviceBusy: 'busy',
  fraudAttempt: 'tampering suspected',
  noDevice: 'missing',
};

export const deviceStateWords = (state: DeviceState): string => DEVICE_STATE_WORDS[state];
export const CASSETTES_MAX = 8;

export interface CassetteReport {
  denominationCents: number;
  count: number;
}

export type Request =
  | { id: number; op: 'register'; username: string; password: string }
  | { id: number; op: 'login'; username: string; password: string }
  | { id: number; op: 'logout' }
  | { id: number; op: 'balance' }
  | { id: number; op: 'statement' }
  | { id: number; op: 'password.change'; oldPassword: string; newPassword: string }
  | { id: number; op: 'deposit'; txnId: string; amountCents: number }
  /** [ATM-4.15] A deposit whose answer was lost, asked again by the kiosk with the same id (no login needed). */
  | { id: number; op: 'deposit.resolve'; txnId: string; username: string; amountCents: number }
  | { id: number; op: 'withdraw.hold'; txnId: string; amountCents: number }
  | { id: number; op: 'withdraw.post'; txnId: string; dispensedCents: number }
  | { id: number; op: 'withdraw.void'; txnId: string; reason: string }
  | { id: number; op: 'ping' }
  | { id: number; op: 'username.check'; username: string }
  | { id: number; op: 'session.handover' }
  | { id: number; op: 'session.resume'; token: string }
  | {
      id: number;
      op: 'device.report';
      keypad: DeviceState;
      display: DeviceState;
      dispenser: DeviceState;
      cassettes: CassetteReport[];
      /** The cash-in module and its deposit cassette, on a kiosk that has one. */
      cashIn?: DeviceState;
      deposited?: CassetteReport[];
      /** The receipt printer, on a kiosk that has one. */
      printer?: DeviceState;
      /** Notes retracted into the dispenser's bin (cash presented and not taken), on one with a presenter. */
      retractedNotes?: number;
    };

export type RequestOp = Request['op'];

/** [ATM-4.10] Which limit a LIMIT_EXCEEDED decline hit, so a person is told what they can do. */
export type LimitKind = 'withdrawal' | 'withdrawalDaily' | 'deposit' | 'balance';
export interface LimitDetail {
  kind: LimitKind;
  limitCents: number;
  /** withdrawalDaily: what may still be withdrawn today; balance: what may still be deposited. */
  leftCents?: number;
}

export interface DeclineResponse {
  id: number;
  ok: false;
  code: DeclineCode;
  message: string;
  lockedUntil?: string;
  /** [ATM-4.11] AUTH_FAILED for an existing account: wrong passwords left before it locks. */
  attemptsLeft?: number;
  limit?: LimitDetail;
}
export type Response = OkResponse | DeclineResponse;

type FieldKind =
  | 'string'
  | 'password'
  | 'username'
  | 'txnId'
  | 'cents'
  | 'centsOrZero'
  | 'count'
  | 'deviceState'
  | 'cassettes'
  | 'token';
const schemas: Record<RequestOp, Record<string, FieldKind>> = {
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
  'withdraw.void': { txnId: 'txnId', reason: 'string' },
  ping: {},
  'username.check': { username: 'username' },
  'session.handover': {},
  'session.resume': { token: 'token' },
  'device.report': { keypad: 'deviceState', display: 'deviceState', dispenser: 'deviceState', cassettes: 'cassettes' },
};

/** Fields an op may carry or leave out (a kiosk without a cash-in module has none to report). */
const optionalSchemas: Partial<Record<RequestOp, Record<string, FieldKind>>> = {
  'device.report': { cashIn: 'deviceState', deposited: 'cassettes', printer: 'deviceState', retractedNotes: 'count' },
};

export type ParsedRequest =
  { ok: true; request: Request } | { ok: false; id: number | null; reason: string; field?: string; kind?: FieldKind };

function fieldInvalid(kind: FieldKind, value: unknown): string | null {
  switch (kind) {
    case 'string':
      return typeof value === 'string' && value.length <= STRING_CHARS_MAX
        ? null
        : 'must be a string of at most 256 chars';
    case 'username':
      // Shape only (a string of sane length); the username rules are the bank's to judge,
      // so that a bad name gets INVALID_USERNAME and not a generic BAD_REQUEST.
      return typeof value === 'string' && value.length <= 64 ? null : 'must be a string';
    case 'password':
      return typeof value === 'string' && value.length <= 1024 ? null : 'must be a string';
    case 'txnId':
      return typeof value === 'string' && TXN_ID_PATTERN.test(value) ? null : 'must be 8-64 chars of A-Z a-z 0-9 _ -';
    case 'cents':
    case 'centsOrZero':
      // Any JSON number passes here: the bank answers INVALID_AMOUNT for bad ones.
      return typeof value === 'number' ? null : 'must be a number of cents';
    case 'token':
      return typeof value === 'string' && RESUME_TOKEN_PATTERN.test(value)
        ? null
        : 'must be 43 chars of A-Z a-z 0-9 _ -';
    case 'count':
      return Number.isSafeInteger(value) && (value as number) >= 0 ? null : 'must be a whole number, 0 or more';
    case 'deviceState':
      return typeof value === 'string' && (DEVICE_STATES as readonly string[]).includes(value)
        ? null
        : 'must be an XFS device state';
    case 'cassettes':
      return Array.isArray(value) &&
        value.length <= CASSETTES_MAX &&
        value.every(
          (cassette: unknown) =>
            typeof cassette === 'object' &&
            cassette !== null &&
            Object.keys(cassette).length === 2 &&
            Number.isSafeInteger((cassette as CassetteReport).denominationCents) &&
            (cassette as CassetteReport).denominationCents > 0 &&
            Number.isSafeInteger((cassette as CassetteReport).count) &&
            (cassette as CassetteReport).count >= 0,
        )
        ? null
        : `must be at most ${CASSETTES_MAX} {denominationCents, count}`;
    default: {
      const exhaustive: never = kind;
      return exhaustive;
    }
  }
}

/** Parses one request; never throws. Untrusted input returns a reason. */
export function parseRequest(bytes: Uint8Array): ParsedRequest {
  if (bytes.length > MESSAGE_BYTES_MAX) return { ok: false, id: null, reason: 'message too large' };
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return { ok: false, id: null, reason: 'not JSON' };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return { ok: false, id: null, reason: 'not an object' };
  const record = value as Record<string, unknown>;
  const id = Number.isSafeInteger(record.id) && (record.id as number) >= 0 ? (record.id as number) : null;
  if (id === null) return { ok: false, id: null, reason: 'missing or invalid id' };
  const op = record.op;
  if (typeof op !== 'string' || !Object.hasOwn(schemas, op)) return { ok: false, id, reason: 'unknown op' };
  const schema = schemas[op as RequestOp];
  const optional = optionalSchemas[op as RequestOp] ?? {};
  for (const key of Object.keys(record)) {
    if (key !== 'id' && key !== 'op' && !Object.hasOwn(schema, key) && !Object.hasOwn(optional, key))
      return { ok: false, id, reason: `unknown field ${key}` };
  }
  for (const [field, kind] of Object.entries(schema)) {
    const invalid = fieldInvalid(kind, record[field]);
    if (invalid !== null) return { ok: false, id, reason: `${field} ${invalid}`, field, kind };
  }
  for (const [field, kind] of Object.entries(optional)) {
    if (!Object.hasOwn(record, field)) continue;
    const invalid = fieldInvalid(kind, record[field]);
    if (invalid !== null) return { ok: false, id, reason: `${field} ${invalid}`, field, kind };
  }
  return { ok: true, request: record as Request };
}

export function encodeMessage(message: Request | Response): Buffer {
  return Buffer.from(JSON.stringify(message), 'utf8');
}

/** Kiosk side: a response is trusted (it came through the MAC) but still checked for shape. */
export function parseResponse(bytes: Uint8Array): Response | null {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(bytes).toString('utf8'));
  } catch {
    return null;
  }
  if (typeof value !== 'object' || value === null) return null;
  const record = value as Record<string, unknown>;
  if (!Number.isSafeInteger(record.id) || typeof record.ok !== 'boolean') return null;
  if (!record.ok && !isDeclineCode(record.code)) return null;
  return record as unknown as Response;
}
