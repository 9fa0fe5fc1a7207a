// Fernet (https://github.com/fernet/spec) on node:crypto only.
// Token = base64url(0x80 ‖ u64be timestamp ‖ iv[16] ‖ AES-128-CBC-PKCS7 ciphertext ‖ HMAC-SHA256[32]).
import crypto from 'node:crypto';
import { constantTimeEqual, hmacSha256 } from './crypto.js';

export const FERNET_VERSION = 0x80;

const KEY_BYTES = 32;
const HALF_KEY_BYTES = 16;
const TIMESTAMP_BYTES = 8;
const IV_BYTES = 16;
const BLOCK_BYTES = 16;
const MAC_BYTES = 32;
const HEADER_BYTES = 1 + TIMESTAMP_BYTES + IV_BYTES;
// Even an empty plaintext pads to one full block, so anything shorter cannot be a token.
const MIN_TOKEN_BYTES = HEADER_BYTES + BLOCK_BYTES + MAC_BYTES;
const DEFAULT_MAX_CLOCK_SKEW_SEC = 60;

export interface FernetKey {
  signingKey: Buffer; // first 16 bytes of the raw key
  encryptionKey: Buffer; // last 16 bytes
}

export type FernetResult = { ok: true; plaintext: Buffer; timestampSec: number } | { ok: false; reason: string };

/**
 * Strict url-safe base64: padding optional but, if present, exactly right; no other
 * characters; and the encoding must be canonical (unused trailing bits zero). Node's
 * own decoder silently skips junk, which would let many texts map to one token.
 */
function decodeBase64Url(text: string): Buffer | null {
  const body = text.replace(/=+$/, '');
  if (!/^[A-Za-z0-9_-]*$/.test(body) || body.length % 4 === 1) return null;
  if (body.length !== text.length && text !== body + '='.repeat((4 - (body.length % 4)) % 4)) return null;
  const bytes = Buffer.from(body, 'base64url');
  return bytes.toString('base64url') === body ? bytes : null;
}

/** Node's 'base64url' drops the '=' padding, but Fernet tokens and keys carry it. */
function encodeBase64UrlPadded(bytes: Uint8Array): string {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
  return text + '='.repeat((4 - (text.length % 4)) % 4);
}

export function fernetKeyFromRaw(raw32: Uint8Array): FernetKey {
  if (raw32.length !== KEY_BYTES) throw new RangeError(`Fernet key must be ${KEY_BYTES} bytes`);
  // Copies, so a caller wiping or reusing its buffer cannot change our key.
  return {
    signingKey: Buffer.from(raw32.subarray(0, HALF_KEY_BYTES)),
    encryptionKey: Buffer.from(raw32.subarray(HALF_KEY_BYTES, KEY_BYTES)),
  };
}

export function fernetKeyParse(text: string): FernetKey | null {
  const raw = decodeBase64Url(text);
  return raw !== null && raw.length === KEY_BYTES ? fernetKeyFromRaw(raw) : null;
}

export function fernetKeyFormat(raw32: Uint8Array): string {
  if (raw32.length !== KEY_BYTES) throw new RangeError(`Fernet key must be ${KEY_BYTES} bytes`);
  return encodeBase64UrlPadded(raw32);
}

/** The IV is injected (not drawn here) so that encryption is deterministic under test. */
export function fernetEncrypt(key: FernetKey, plaintext: Uint8Array, nowSec: number, iv: Uint8Array): string {
  if (iv.length !== IV_BYTES) throw new RangeError(`Fernet IV must be ${IV_BYTES} bytes`);
  if (!Number.isSafeInteger(nowSec) || nowSec < 0)
    throw new RangeError('Fernet timestamp must be a non-negative integer');
  const cipher = crypto.createCipheriv('aes-128-cbc', key.encryptionKey, iv); // PKCS7 is node's default
  const body = cipher.update(plaintext);
  const last = cipher.final();
  // One buffer for the whole token (every audit record is one): version | ts | iv | ct | mac.
  const token = Buffer.allocUnsafe(HEADER_BYTES + body.length + last.length + MAC_BYTES);
  token[0] = FERNET_VERSION;
  token.writeUInt32BE(Math.floor(nowSec / 2 ** 32), 1);
  token.writeUInt32BE(nowSec % 2 ** 32, 5);
  token.set(iv, 1 + TIMESTAMP_BYTES);
  body.copy(token, HEADER_BYTES);
  last.copy(token, HEADER_BYTES + body.length);
  const macAt = token.length - MAC_BYTES;
  hmacSha256(key.signingKey, token.subarray(0, macAt)).copy(token, macAt);
  return encodeBase64UrlPadded(token);
}

/**
 * Never throws on the token: every failure is a reason. The MAC is checked before
 * anything else looks at the ciphertext or timestamp, so unauthenticated bytes never
 * reach the cipher (no padding oracle) and cannot choose which error is reported.
 */
export function fernetDecrypt(
  key: FernetKey,
  token: string,
  options: { nowSec?: number; ttlSec?: number; maxClockSkewSec?: number } = {},
): FernetResult {
  const data = typeof token === 'string' ? decodeBase64Url(token) : null;
  if (data === null) return { ok: false, reason: 'invalid base64url' };
  if (data.length < MIN_TOKEN_BYTES) return { ok: false, reason: 'token too short' };
  if (data[0] !== FERNET_VERSION) return { ok: false, reason: 'unknown version' };
  const ciphertext = data.subarray(HEADER_BYTES, data.length - MAC_BYTES);
  if (ciphertext.length % BLOCK_BYTES !== 0)
    return { ok: false, reason: 'ciphertext not a multiple of the block size' };

  const expectedMac = hmacSha256(key.signingKey, data.subarray(0, data.length - MAC_BYTES));
  if (!constantTimeEqual(expectedMac, data.subarray(data.length - MAC_BYTES))) return { ok: false, reason: 'bad MAC' };

  // A u64 may exceed 2^53; Number() then rounds, which is harmless for the comparisons below.
  const timestampSec = Number(data.readBigUInt64BE(1));
  if (options.ttlSec !== undefined) {
    // Without a TTL the caller has opted out of freshness, as in the reference implementations.
    const nowSec = options.nowSec ?? Math.floor(Date.now() / 1000);
    const skew = options.maxClockSkewSec ?? DEFAULT_MAX_CLOCK_SKEW_SEC;
    if (timestampSec + options.ttlSec < nowSec) return { ok: false, reason: 'token expired' };
    if (timestampSec > nowSec + skew) return { ok: false, reason: 'timestamp too far in the future' };
  }

  const iv = data.subarray(1 + TIMESTAMP_BYTES, HEADER_BYTES);
  try {
    const decipher = crypto.createDecipheriv('aes-128-cbc', key.encryptionKey, iv);
    const plaintext = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    return { ok: true, plaintext, timestampSec };
  } catch {
    // Only reachable with a valid MAC, i.e. a key holder produced bad padding.
    return { ok: false, reason: 'bad padding' };
  }
}
