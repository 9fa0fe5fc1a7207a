// One catalogue of stable codes. Decline codes (DESIGN §2) are shared by the CLI's JSON,
// the protocol's responses and telemetry; the test in test/errors.test.ts keeps them
// unique and documented in PROTOCOL.md.

export const DeclineCode = {
  INSUFFICIENT_FUNDS: 'INSUFFICIENT_FUNDS',
  INVALID_AMOUNT: 'INVALID_AMOUNT',
  LIMIT_EXCEEDED: 'LIMIT_EXCEEDED',
  AUTH_FAILED: 'AUTH_FAILED',
  ACCOUNT_LOCKED: 'ACCOUNT_LOCKED',
  USERNAME_TAKEN: 'USERNAME_TAKEN',
  INVALID_USERNAME: 'INVALID_USERNAME',
  WEAK_PASSWORD: 'WEAK_PASSWORD',
  DUPLICATE_TXN: 'DUPLICATE_TXN',
  NOT_LOGGED_IN: 'NOT_LOGGED_IN',
  KIOSK_REVOKED: 'KIOSK_REVOKED',
  BUSY: 'BUSY',
  INTERNAL: 'INTERNAL',
  // Not in DESIGN §2's list: a request that is well-formed but names a hold that does not
  // exist or is already settled, and a request the schema refuses. Both are needed so a
  // client can tell "your message was wrong" from "the bank failed".
  UNKNOWN_TXN: 'UNKNOWN_TXN',
  BAD_REQUEST: 'BAD_REQUEST',
} as const;
export type DeclineCode = (typeof DeclineCode)[keyof typeof DeclineCode];

/** Plain words for each decline, for the CLI and the kiosk screen. */
export const declineText: Record<DeclineCode, string> = {
  INSUFFICIENT_FUNDS: 'Insufficient funds',
  INVALID_AMOUNT: 'Invalid amount',
  LIMIT_EXCEEDED: 'Amount exceeds the limit',
  AUTH_FAILED: 'Wrong username or password',
  ACCOUNT_LOCKED: 'Account locked',
  USERNAME_TAKEN: 'Username is taken',
  INVALID_USERNAME: 'Username must be 3-32 characters of a-z 0-9 . _ -',
  WEAK_PASSWORD: 'Password must be 8-72 bytes',
  DUPLICATE_TXN: 'Transaction id already used for a different request',
  NOT_LOGGED_IN: 'Not logged in',
  KIOSK_REVOKED: 'Kiosk revoked',
  BUSY: 'Busy, try again shortly',
  INTERNAL: 'Internal error',
  UNKNOWN_TXN: 'No such pending transaction',
  BAD_REQUEST: 'Malformed request',
};

export function isDeclineCode(value: unknown): value is DeclineCode {
  return typeof value === 'string' && Object.hasOwn(DeclineCode, value);
}

/** Operating errors carry a stable code; programmer errors are assertions and crash. */
export class AtmError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = 'AtmError';
    this.code = code;
  }
}

/** Reasons a secure session is closed; logged and sent to telemetry, never to the peer. */
export const SessionCloseReason = {
  FRAME_LENGTH: 'FRAME_LENGTH',
  VERSION: 'VERSION',
  BAD_MAC: 'BAD_MAC',
  HANDSHAKE: 'HANDSHAKE',
  REPLAYED_HELLO: 'REPLAYED_HELLO',
  STALE_TIMESTAMP: 'STALE_TIMESTAMP',
  RATE_LIMITED: 'RATE_LIMITED',
  TIMEOUT: 'TIMEOUT',
  TRUNCATED: 'TRUNCATED',
  PEER_CLOSED: 'PEER_CLOSED',
  SEQUENCE_LIMIT: 'SEQUENCE_LIMIT',
  LIFETIME: 'LIFETIME',
  BAD_MESSAGE: 'BAD_MESSAGE',
  SOCKET: 'SOCKET',
  LOCAL_CLOSE: 'LOCAL_CLOSE',
  EVICTED: 'EVICTED',
} as const;
export type SessionCloseReason = (typeof SessionCloseReason)[keyof typeof SessionCloseReason];

// The assert lives in assert.ts (one for the code base); re-exported for existing importers.
export { assert } from './assert.js';
