// Known-answer and negative vectors (RFC 5869, RFC 4231, Wycheproof) against the
// wrappers in protocol/crypto.ts, and node's AES-CBC that Fernet relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { vectorsDir } from '../helpers/paths.js';
import { hkdf, hkdfExtract, hmacSha256, x25519, x25519KeyPairFromPrivate } from '../../protocol/crypto.js';

function readJson(...parts: string[]): unknown {
  return JSON.parse(fs.readFileSync(path.join(vectorsDir, ...parts), 'utf8'));
}

/** Strict hex: Buffer.from(..., 'hex') silently stops at the first bad digit. */
function hex(text: string): Buffer {
  assert.match(text, /^(?:[0-9a-f]{2})*$/, `bad hex in vector: ${text.slice(0, 40)}`);
  return Buffer.from(text, 'hex');
}

interface WycheproofFile<T> {
  numberOfTests: number;
  testGroups: ({ tests: T[] } & Record<string, unknown>)[];
}
interface WycheproofTest {
  tcId: number;
  comment: string;
  flags: string[];
  result: 'valid' | 'invalid' | 'acceptable';
}

function wycheproof<T extends WycheproofTest>(name: string): WycheproofFile<T> {
  const file = readJson('wycheproof', name) as WycheproofFile<T>;
  assert.ok(Array.isArray(file.testGroups), `${name}: no testGroups`);
  return file;
}

/** Every vector file must have contributed exactly the tests it declares. */
function assertCount(name: string, checked: number, expected: number, failures: string[]): void {
  assert.deepEqual(failures, [], `${name}: failing vectors`);
  assert.ok(checked > 0, `${name}: no vectors checked`);
  assert.equal(checked, expected, `${name}: checked ${checked} of ${expected}`);
}

test('RFC 5869 HKDF-SHA256 (A.1-A.3): prk via hkdfExtract, okm via hkdf', () => {
  const file = readJson('rfc5869_hkdf_sha256.json') as {
    tests: { tcId: number; ikm: string; salt: string; info: string; L: number; prk: string; okm: string }[];
  };
  const failures: string[] = [];
  let checked = 0;
  for (const t of file.tests) {
    const prk = hkdfExtract(hex(t.salt), hex(t.ikm));
    if (prk.toString('hex') !== t.prk) failures.push(`tcId ${t.tcId}: prk`);
    const okm = hkdf(hex(t.salt), hex(t.ikm), hex(t.info), t.L);
    if (okm.length !== t.L || okm.toString('hex') !== t.okm) failures.push(`tcId ${t.tcId}: okm`);
    checked++;
  }
  assertCount('rfc5869', checked, 3, failures);
});

test('RFC 4231 HMAC-SHA256 (4.2-4.8), honouring truncate_bytes', () => {
  const file = readJson('rfc4231_hmac_sha256.json') as {
    tests: { tcId: number; key: string; data: string; mac: string; truncate_bytes?: number }[];
  };
  const failures: string[] = [];
  let checked = 0;
  for (const t of file.tests) {
    const expected = hex(t.mac);
    const length = t.truncate_bytes ?? 32;
    assert.equal(expected.length, length, `tcId ${t.tcId}: mac length vs truncate_bytes`);
    const mac = hmacSha256(hex(t.key), hex(t.data)).subarray(0, length);
    if (!mac.equals(expected)) failures.push(`tcId ${t.tcId}`);
    checked++;
  }
  assertCount('rfc4231', checked, 7, failures);
});

test('Wycheproof hkdf_sha256_test.json: valid -> okm, invalid (size too large) -> throws', () => {
  type T = WycheproofTest & { ikm: string; salt: string; info: string; size: number; okm: string };
  const file = wycheproof<T>('hkdf_sha256_test.json');
  const failures: string[] = [];
  let checked = 0;
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      checked++;
      let okm: Buffer | null = null;
      try {
        okm = hkdf(hex(t.salt), hex(t.ikm), hex(t.info), t.size);
      } catch {
        okm = null;
      }
      if (t.result === 'invalid') {
        if (okm !== null) failures.push(`tcId ${t.tcId}: invalid accepted`);
      } else if (okm?.toString('hex') !== t.okm) {
        failures.push(`tcId ${t.tcId}: okm mismatch`);
      }
    }
  }
  assertCount('hkdf_sha256_test', checked, file.numberOfTests, failures);
});

test('Wycheproof hmac_sha256_test.json: first tagSize/8 bytes; valid match, invalid do not', () => {
  type T = WycheproofTest & { key: string; msg: string; tag: string };
  const file = wycheproof<T>('hmac_sha256_test.json');
  const failures: string[] = [];
  let checked = 0;
  for (const group of file.testGroups) {
    const tagSize = group.tagSize;
    assert.ok(typeof tagSize === 'number' && tagSize % 8 === 0 && tagSize <= 256, 'group tagSize');
    for (const t of group.tests) {
      checked++;
      const mac = hmacSha256(hex(t.key), hex(t.msg)).subarray(0, tagSize / 8);
      const matches = mac.equals(hex(t.tag));
      if (t.result === 'invalid' ? matches : !matches) failures.push(`tcId ${t.tcId} (${t.result}, ${t.comment})`);
    }
  }
  assertCount('hmac_sha256_test', checked, file.numberOfTests, failures);
});

test('Wycheproof x25519_test.json: shared secrets match, all-zero shared -> null', () => {
  type T = WycheproofTest & { public: string; private: string; shared: string };
  const file = wycheproof<T>('x25519_test.json');
  const failures: string[] = [];
  let checked = 0;
  let zeroShared = 0;
  for (const group of file.testGroups) {
    assert.equal(group.curve, 'curve25519');
    for (const t of group.tests) {
      checked++;
      const privateRaw = hex(t.private);
      const shared = hex(t.shared);
      if (x25519KeyPairFromPrivate(privateRaw).publicKey.length !== 32)
        failures.push(`tcId ${t.tcId}: public key length`);
      const result = x25519(privateRaw, hex(t.public));
      if (t.result === 'invalid' || shared.every((byte) => byte === 0)) {
        if (shared.every((byte) => byte === 0)) zeroShared++;
        if (result !== null) failures.push(`tcId ${t.tcId}: expected null (${t.flags.join(',')})`);
      } else if (!result?.equals(shared)) {
        failures.push(`tcId ${t.tcId}: shared mismatch (${t.flags.join(',')})`);
      }
    }
  }
  assertCount('x25519_test', checked, file.numberOfTests, failures);
  assert.ok(zeroShared > 0, 'expected some all-zero shared-secret vectors');
});

test('Wycheproof aes_cbc_pkcs5_test.json: node AES-CBC decrypts valid, refuses invalid', () => {
  type T = WycheproofTest & { key: string; iv: string; msg: string; ct: string };
  const file = wycheproof<T>('aes_cbc_pkcs5_test.json');
  const failures: string[] = [];
  let checked = 0;
  for (const group of file.testGroups) {
    for (const t of group.tests) {
      checked++;
      const key = hex(t.key);
      const iv = hex(t.iv);
      const ct = hex(t.ct);
      const algorithm = `aes-${key.length * 8}-cbc`;
      assert.ok([16, 24, 32].includes(key.length), `tcId ${t.tcId}: key length ${key.length}`);
      let plaintext: Buffer | null;
      try {
        const decipher = crypto.createDecipheriv(algorithm, key, iv);
        plaintext = Buffer.concat([decipher.update(ct), decipher.final()]);
      } catch {
        plaintext = null;
      }
      if (t.result === 'invalid') {
        if (plaintext !== null) failures.push(`tcId ${t.tcId}: invalid decrypted (${t.comment})`);
        continue;
      }
      if (plaintext?.toString('hex') !== t.msg) failures.push(`tcId ${t.tcId}: decrypt mismatch`);
      const cipher = crypto.createCipheriv(algorithm, key, iv);
      const encrypted = Buffer.concat([cipher.update(hex(t.msg)), cipher.final()]);
      if (!encrypted.equals(ct)) failures.push(`tcId ${t.tcId}: encrypt mismatch`);
    }
  }
  assertCount('aes_cbc_pkcs5_test', checked, file.numberOfTests, failures);
});
