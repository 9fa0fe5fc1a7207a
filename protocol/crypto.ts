// Thin, named wrappers over node:crypto so that every primitive the protocol and
// the audit log use is one function that the known-answer tests (test/vectors/) exercise.
import crypto from 'node:crypto';

export const SHA256_BYTES = 32;
export const X25519_KEY_BYTES = 32;

// The DER prefix that turns a raw 32-byte X25519 private key into PKCS#8 (the fallback import).
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

/**
 * A raw X25519 private key as a KeyObject. Through JWK it costs ~30 µs; OpenSSL 3's PKCS#8
 * decoder takes ~360 µs, which made key import most of a handshake's CPU (issue 14). Node
 * builds an OKP private key from `d` alone and derives the public half itself (`x` must be a
 * string but is not used), so a placeholder x is safe; the RFC 7748 and Wycheproof vectors in
 * test/protocol/crypto-vectors.test.ts hold this to the DER path's results. Should a Node version ever
 * check x, the import throws and the DER path answers instead.
 */
function x25519PrivateKey(privateRaw: Uint8Array): crypto.KeyObject {
  try {
    return crypto.createPrivateKey({
      key: { kty: 'OKP', crv: 'X25519', d: Buffer.from(privateRaw).toString('base64url'), x: X25519_JWK_PLACEHOLDER_X },
      format: 'jwk',
    });
  } catch {
    return crypto.createPrivateKey({
      key: Buffer.concat([X25519_PKCS8_PREFIX, privateRaw]),
      format: 'der',
      type: 'pkcs8',
    });
  }
}

const X25519_JWK_PLACEHOLDER_X = Buffer.alloc(X25519_KEY_BYTES).toString('base64url');

/**
 * The KeyObject built for a pair's own private-key buffer, so the DH that follows does not
 * import it a second time (an import is a base-point multiplication, ~33 µs: a tenth of a
 * handshake's CPU on the bank). Weak: it lives exactly as long as the pair's buffer.
 */
const pairKeyObjects = new WeakMap<Uint8Array, crypto.KeyObject>();

/** Derives the key pair from a raw 32-byte private key (clamping is done by X25519 itself). */
export function x25519KeyPairFromPrivate(privateRaw: Uint8Array): X25519KeyPair {
  if (privateRaw.length !== X25519_KEY_BYTES) throw new RangeError('X25519 private key must be 32 bytes');
  const keyObject = x25519PrivateKey(privateRaw);
  const publicJwk = keyObject.export({ format: 'jwk' });
  const pair = { privateKey: Buffer.from(privateRaw), publicKey: Buffer.from(publicJwk.x ?? '', 'base64url') };
  pairKeyObjects.set(pair.privateKey, keyObject);
  return pair;
}

/**
 * X25519(private, peerPublic). Returns null when the result is unusable: a low-order
 * peer key gives an all-zero secret, which node refuses (ERR_OSSL_FAILED_DURING_DERIVATION);
 * we check for zero ourselves too so the rule does not depend on the OpenSSL build.
 */
export function x25519(privateRaw: Uint8Array, peerPublicRaw: Uint8Array): Buffer | null {
  if (privateRaw.length !== X25519_KEY_BYTES || peerPublicRaw.length !== X25519_KEY_BYTES) return null;
  try {
    const publicKey = crypto.createPublicKey({
      key: { kty: 'OKP', crv: 'X25519', x: Buffer.from(peerPublicRaw).toString('base64url') },
      format: 'jwk',
    });
    const privateKey = pairKeyObjects.get(privateRaw) ?? x25519PrivateKey(privateRaw);
    const shared = crypto.diffieHellman({ privateKey, publicKey });
    if (shared.every((byte) => byte === 0)) return null;
    return shared;
  } catch {
    return null;
  }
}

/** Overwrites secrets we no longer need; JS cannot promise more than this. */
export function wipe(...buffers: (Uint8Array | undefined)[]): void {
  for (const buffer of buffers) {
    if (buffer === undefined) continue;
    buffer.fill(0);
    pairKeyObjects.delete(buffer); // a wiped private key is not used through its KeyObject either
  }
}

/** The only source of randomness outside tests; injected wherever logic needs it. */
export type RandomBytes = (lengthBytes: number) => Buffer;
export const systemRandomBytes: RandomBytes = (lengthBytes) =>
  lengthBytes <= RANDOM_POOLED_BYTES_MAX ? pooledRandomBytes(lengthBytes) : crypto.randomBytes(lengthBytes);

// Small draws (IVs, nonces, ephemeral keys) come from a pool filled 4 KiB at a time by the
// CSPRNG: one call per draw was 2–3 % of the bank's CPU (issue 14). Every draw is a copy, and
// the bytes it took are zeroed in the pool, so no two draws share bytes and none stay behind.
const RANDOM_POOL_BYTES = 4096;
const RANDOM_POOLED_BYTES_MAX = 64;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

function pooledRandomBytes(lengthBytes: number): Buffer {
  if (randomPoolOffset + lengthBytes > randomPool.length) {
    randomPool = crypto.randomBytes(RANDOM_POOL_BYTES);
    randomPoolOffset = 0;
  }
  const end = randomPoolOffset + lengthBytes;
  const drawn = Buffer.from(randomPool.subarray(randomPoolOffset, end));
  randomPool.fill(0, randomPoolOffset, end);
  randomPoolOffset = end;
  return drawn;
}
