// The bank server's named limits (DESIGN §3, §4) and its two classifications: which session
// closes are security events, and which decline a schema failure becomes. Split from server.ts
// (issue 13) so the socket file holds only the connection lifecycle.
import { DeclineCode, SessionCloseReason, type parseRequest } from '../protocol/index.js';

export interface ServerLimits {
  connectionsMax: number;
  pendingHandshakesMax: number; // oldest pending handshake is evicted when a new one arrives
  sessionsPerKioskMax: number;
  handshakesPerSecondPerKiosk: number;
  handshakeBurstPerKiosk: number;
  requestsQueuedPerSessionMax: number;
  helloCacheMax: number; // [ATM-2.4.4] remembered (kid, Nc) pairs
  securityAuditsPerSecond: number; // so a flood of bad handshakes cannot flood the audit log
}

export const DEFAULT_SERVER_LIMITS: ServerLimits = {
  connectionsMax: 2048,
  pendingHandshakesMax: 256,
  sessionsPerKioskMax: 4,
  handshakesPerSecondPerKiosk: 20,
  handshakeBurstPerKiosk: 40,
  requestsQueuedPerSessionMax: 4,
  helloCacheMax: 100_000,
  securityAuditsPerSecond: 20,
};

/** Close reasons that are an attack or a broken kiosk: audited (rate-limited) and reported. */
export const SECURITY_REASONS = new Set<string>([
  SessionCloseReason.BAD_MAC,
  SessionCloseReason.HANDSHAKE,
  SessionCloseReason.REPLAYED_HELLO,
  SessionCloseReason.STALE_TIMESTAMP,
  SessionCloseReason.FRAME_LENGTH,
  SessionCloseReason.VERSION,
  SessionCloseReason.RECORD_TYPE,
  SessionCloseReason.RATE_LIMITED,
  SessionCloseReason.BAD_MESSAGE,
]);

/** Field-level schema failures map to the decline a person can act on. */
export function badRequestCode(parsed: Extract<ReturnType<typeof parseRequest>, { ok: false }>): DeclineCode {
  switch (parsed.kind) {
    case 'cents':
    case 'centsOrZero':
      return DeclineCode.INVALID_AMOUNT;
    case 'username':
      return DeclineCode.INVALID_USERNAME;
    case 'password':
      return DeclineCode.WEAK_PASSWORD;
    default:
      return DeclineCode.BAD_REQUEST;
  }
}
