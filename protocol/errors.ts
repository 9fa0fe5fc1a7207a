// The error class and the words for declines. The codes themselves live in one catalogue,
// protocol/codes.ts; this file re-exports the views most callers use.
import type { Code, DeclineCode } from './codes.js';

export {
  DeclineCode,
  SessionCloseReason,
  isDeclineCode,
  isCodeOf,
  CODE_GROUPS,
  type Code,
  type CodeGroup,
  type CodeOf,
} from './codes.js';

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

/** Operating errors carry a stable code; programmer errors are assertions and crash. */
export class AtmError extends Error {
  readonly code: Code;
  constructor(code: Code, message: string) {
    super(message);
    this.name = 'AtmError';
    this.code = code;
  }
}

// The assert lives in assert.ts (one for the code base); re-exported for existing importers.
export { assert } from './assert.js';
