// The pure steps of SecureChannel (channel.ts): which frame sizes each state accepts, and the
// host's answer to a kiosk's hello. Bytes and the time in, a verdict out; the channel turns
// verdicts into writes, timers and its single close. Split from channel.ts (issue 13).
import type { HostPolicy } from './channel-options.js';
import type { RandomBytes } from './crypto.js';
import { SessionCloseReason } from './errors.js';
import { FRAME_BYTES_MAX, type FrameLimits } from './frame.js';
import { M1_BYTES, M2_BYTES, M3_BYTES, hostCheckHello, hostRespond, type HostPendingState } from './handshake.js';
import { RECORD_OVERHEAD_BYTES } from './record.js';

export type ChannelState = 'awaitingHello' | 'awaitingServerHello' | 'awaitingFinished' | 'open' | 'closed';

/** [ATM-1.3] Each handshake message has one size; a record any size up to the frame cap. */
export function frameLimitsFor(state: ChannelState): FrameLimits {
  switch (state) {
    case 'awaitingHello':
      return { bodyBytesMin: M1_BYTES, bodyBytesMax: M1_BYTES };
    case 'awaitingServerHello':
      return { bodyBytesMin: M2_BYTES, bodyBytesMax: M2_BYTES };
    case 'awaitingFinished':
      return { bodyBytesMin: M3_BYTES, bodyBytesMax: M3_BYTES };
    case 'open':
    case 'closed':
      return { bodyBytesMin: RECORD_OVERHEAD_BYTES, bodyBytesMax: FRAME_BYTES_MAX };
    default: {
      const exhaustive: never = state;
      return exhaustive;
    }
  }
}

/** The host's answer to m1; kioskId is whom the hello claimed to be, known even on a refusal. */
export type HelloAnswer =
  | { ok: true; kioskId: string; pending: HostPendingState; m2: Buffer }
  | { ok: false; kioskId: string | null; closeReason: SessionCloseReason; detail: string };

/** Host side: check m1, ask the policy to admit it, and make m2 (or say why not). */
export function answerHello(m1: Buffer, policy: HostPolicy, nowMs: number, randomBytes: RandomBytes): HelloAnswer {
  const check = hostCheckHello(m1, policy.lookupPsk, policy.dummyPsk, nowMs);
  if (!check.ok) return { ok: false, kioskId: check.kioskId, closeReason: check.closeReason, detail: check.reason };
  const kioskId = check.hello.kioskId;
  if (kioskId === null) {
    return { ok: false, kioskId, closeReason: SessionCloseReason.HANDSHAKE, detail: 'no kiosk id' };
  }
  const refused = policy.admitHello({ ...check.hello, kioskId });
  if (refused !== null) return { ok: false, kioskId, closeReason: refused.reason, detail: refused.detail };
  const psk = policy.lookupPsk(kioskId);
  if (psk === null) {
    return { ok: false, kioskId, closeReason: SessionCloseReason.HANDSHAKE, detail: 'kiosk revoked during handshake' };
  }
  const response = hostRespond(m1, check.hello, psk, randomBytes);
  if (!response.ok) return { ok: false, kioskId, closeReason: SessionCloseReason.HANDSHAKE, detail: response.reason };
  return { ok: true, kioskId, pending: response.pending, m2: response.m2 };
}
