// Thin, named wrappers over node:crypto so that every primitive the protocol and
// the audit log use is one function that the known-answer tests (test/vectors/) exercise.
import crypto from 'node:crypto';

export const SHA256_BYTES = 32;
export const X25519_KEY_BYTES = 32;

// DER prefixes that turn a raw 32-byte X25519 key into SPKI / PKCS#8 for node:crypto.
const X25519_SPKI_PREFIX = Buffer.from('302a300506032b656e032100', 'hex');
const X25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b656e04220420', 'hex');

export function sha256(...parts: Uint8Array[]): Buffer {
  const hash = crypto.createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
}

export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Buffer {
  const mac = crypto.createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

/** RFC 5869 HKDF-Extract: an empty salt means HashLen zero bytes. */
export function hkdfExtract(salt: Uint8Array, ikm: Uint8Array): Buffer {
  return hmacSha256(salt.length === 0 ? Buffer.alloc(SHA256_BYTES) : salt, ikm);
}

/** RFC 5869 HKDF-Expand; throws for lengthBytes > 255 * 32 (a programmer error here). */
export function hkdfExpand(prk: Uint8Array, info: Uint8Array, lengthBytes: number): Buffer {
  if (!Number.isInteger(lengthBytes) || lengthBytes < 0 || lengthBytes > 255 * SHA256_BYTES) {
    throw new RangeError(`HKDF output length ${lengthBytes} out of range`);
  }
  const blocks: Buffer[] = [];
  let previous: Buffer = Buffer.alloc(0);
  for (let counter = 1; blocks.length * SHA256_BYTES < lengthBytes; counter++) {
    previous = hmacSha256(prk, previous, info, Buffer.from([counter]));
    blocks.push(previous);
  }
  return Buffer.concat(blocks).subarray(0, lengthBytes);
}

export function hkdf(salt: Uint8Array, ikm: Uint8Array, info: Uint8Array, lengthBytes: number): Buffer {
  return hkdfExpand(hkdfExtract(salt, ikm), info, lengthBytes);
}

/** Constant-time equality; unequal lengths are unequal without leaking where. */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) {
    crypto.timingSafeEqual(a, a);
    return false;
  }
  return crypto.timingSafeEqual(a, b);
}

export interface X25519KeyPair {
  privateKey: Buffer; // raw 32 bytes
  publicKey: Buffer; // raw 32 bytes
}

/** Derives the key pair from a raw 32-byte private key (clamping is done by X25519 itself). */
export function x25519KeyPairFromPrivate(privateRaw: Uint8Array): X25519KeyPair {
  if (privateRaw.length !== X25519_KEY_BYTES) throw new RangeError('X25519 private key must be 32 bytes');
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([X25519_PKCS8_PREFIX, privateRaw]),
    format: 'der',
    type: 'pkcs8',
  });
  const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
  return { privateKey: Buffer.from(privateRaw), publicKey: Buffer.from(spki.subarray(X25519_SPKI_PREFIX.length)) };
}

/**
 * X25519(private, peerPublic). Returns null when the result is unusable: a low-order
 * peer key gives an all-zero secret, which node refuses (ERR_OSSL_FAILED_DURING_DERIVATION);
 * we check for zero ourselves too so the rule does not depend on the OpenSSL build.
 */
export function x25519(privateRaw: Uint8Array, peerPublicRaw: Uint8Array): Buffer | null {
  if (privateRaw.length !== X25519_KEY_BYTES || peerPublicRaw.length !== X25519_KEY_BYTES) return null;
  try {
    const privateKey = crypto.createPrivateKey({
      key: Buffer.concat([X25519_PKCS8_PREFIX, privateRaw]),
      format: 'der',
      type: 'pkcs8',
    });
    const publicKey = crypto.createPublicKey({
      key: Buffer.concat([X25519_SPKI_PREFIX, peerPublicRaw]),
      format: 'der',
      type: 'spki',
    });
    const shared = crypto.diffieHellman({ privateKey, publicKey });
    if (shared.every((byte) => byte === 0)) return null;
    return shared;
  } catch {
    return null;
  }
}

/** Overwrites secrets we no longer need; JS cannot promise more than this. */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) buffer?.fill(0);
}

/** The only source of randomness outside tests; injected wherever logic needs it. */
export type RandomBytes = (lengthBytes: number) => Buffer;
export const systemRandomBytes: RandomBytes = (lengthBytes) => crypto.randomBytes(lengthBytes);
