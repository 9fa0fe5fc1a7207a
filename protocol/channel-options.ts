// The secure channel's configuration: its deadlines, the events it reports, and the host's
// admission policy. Apart from channel.ts so the socket edge holds only the session's logic.
import type { Duplex } from 'node:stream';
import type { RandomBytes } from './crypto.js';
import type { SessionCloseReason } from './errors.js';
import type { ParsedHello, SessionKeys } from './handshake.js';

export interface ChannelTimeouts {
  handshakeTimeoutMs: number; // [ATM-2.4.6] whole handshake deadline
  recordReadTimeoutMs: number; // a started frame must complete within this
  idleTimeoutMs: number; // no record at all for this long closes the session
  lifetimeMs: number; // [ATM-3.6] sessions are renewed, never immortal
}

export const DEFAULT_TIMEOUTS: ChannelTimeouts = {
  handshakeTimeoutMs: 10_000,
  recordReadTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  lifetimeMs: 10 * 60_000,
};

export interface ChannelEvents {
  /** A verified, decrypted data record. */
  onMessage?: (plaintext: Buffer) => void;
  /** Exactly once. `clean` is true only after the peer's authenticated close record. */
  onClose?: (reason: SessionCloseReason, detail: string, clean: boolean) => void;
  /** Host side: the handshake completed and the session is open. */
  onOpen?: (kioskId: string, keys: SessionKeys) => void;
}

export interface HostPolicy {
  lookupPsk: (kioskId: string) => Buffer | null;
  dummyPsk: Buffer;
  /** After m1's MAC and timestamp verify: replay cache, rate limits. A refusal names its reason. */
  admitHello: (hello: ParsedHello & { kioskId: string }) => HelloRefusal | null;
}

/** [ATM-2.4.4-5] Why the host's policy refused an m1 that verified. */
export interface HelloRefusal {
  reason: Extract<SessionCloseReason, 'REPLAYED_HELLO' | 'RATE_LIMITED'>;
  detail: string;
}

export interface ChannelOptions {
  stream: Duplex;
  nowMs: () => number;
  randomBytes?: RandomBytes;
  timeouts?: Partial<ChannelTimeouts>;
  events?: ChannelEvents;
}
