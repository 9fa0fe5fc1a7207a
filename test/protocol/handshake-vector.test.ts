// The fixed-key worked example of PROTOCOL.md [ATM-5], checked three ways:
//   1. the protocol code, fed the fixed inputs, reproduces every byte of the vector file;
//   2. an independent recomputation with node:crypto only, following the formulas of
//      [ATM-2.1]-[ATM-2.3] and [ATM-3.2], reproduces the same bytes (so the vector pins the
//      specification, not merely whatever the code happens to do);
//   3. PROTOCOL.md contains every hex value of the vector, so the document cannot drift.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { repoRoot, vectorsDir } from '../helpers/paths.js';
import type { RandomBytes } from '../../protocol/crypto.js';
import {
  hostCheckHello,
  hostFinish,
  hostRespond,
  kioskFinish,
  kioskStart,
  type SessionKeys,
} from '../../protocol/handshake.js';
import {
  DIRECTION_HOST_TO_KIOSK,
  DIRECTION_KIOSK_TO_HOST,
  RECORD_TYPE_CLOSE,
  RECORD_TYPE_DATA,
  RecordOpener,
  RecordSealer,
} from '../../protocol/record.js';

interface VectorRecord {
  name: string;
  direction: 'kioskToHost' | 'hostToKiosk';
  directionByte: number;
  sequence: number;
  type: number;
  plaintextUtf8: string;
  iv: string;
  ciphertext: string;
  tag: string;
  frame: string;
}

interface Vector {
  inputs: {
    psk: string;
    kioskId: string;
    timestampMs: number;
    timestampIso: string;
    kioskEphemeralPrivate: string;
    kioskNonce: string;
    hostEphemeralPrivate: string;
    hostNonce: string;
    kioskRandomOrder: string[];
    hostRandomOrder: string[];
  };
  derived: Record<
    | 'labelAscii'
    | 'label'
    | 'labelHash'
    | 'pskPrk'
    | 'helloKey'
    | 'kid'
    | 'timestamp'
    | 'kioskEphemeralPublic'
    | 'mac1'
    | 'hostEphemeralPublic'
    | 'dh'
    | 'masterSecret'
    | 'th2'
    | 'th3'
    | 'finHostKey'
    | 'finKioskKey'
    | 'finHost'
    | 'finKiosk',
    string
  >;
  handshake: { m1: string; m2: string; m3: string };
  sessionKeys: {
    kioskToHostEnc: string;
    kioskToHostMac: string;
    hostToKioskEnc: string;
    hostToKioskMac: string;
    transcriptHash: string;
  };
  records: VectorRecord[];
}

const vector = JSON.parse(fs.readFileSync(path.join(vectorsDir, 'atm-handshake-vector.json'), 'utf8')) as Vector;
const protocolText = fs.readFileSync(path.join(repoRoot, 'PROTOCOL.md'), 'utf8');

/** Strict hex: Buffer.from(…, 'hex') silently stops at the first bad digit. */
function hex(text: string): Buffer {
  assert.match(text, /^(?:[0-9a-f]{2})*$/, `bad hex in vector: ${text.slice(0, 40)}`);
  return Buffer.from(text, 'hex');
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Hands out the named inputs in the order the vector says the code asks for them. */
function scriptedRandom(names: string[]): { randomBytes: RandomBytes; remaining: () => number } {
  const queue = names.map((name) => {
    const value = (vector.inputs as unknown as Record<string, unknown>)[name];
    assert.equal(typeof value, 'string', `input ${name}`);
    return hex(value as string);
  });
  return {
    randomBytes: (lengthBytes) => {
      const next = queue.shift();
      assert.ok(next !== undefined, 'the code asked for more random bytes than the vector provides');
      assert.equal(lengthBytes, next.length, 'the code asked for a different number of random bytes');
      return Buffer.from(next);
    },
    remaining: () => queue.length,
  };
}

interface CodeRun {
  m1: Buffer;
  m2: Buffer;
  m3: Buffer;
  kioskKeys: SessionKeys;
  hostKeys: SessionKeys;
}

/** Runs the real handshake functions on the fixed inputs. */
function runCode(): CodeRun {
  const psk = hex(vector.inputs.psk);
  const kioskRandom = scriptedRandom(vector.inputs.kioskRandomOrder);
  const { m1, state } = kioskStart({
    kioskId: vector.inputs.kioskId,
    psk,
    nowMs: vector.inputs.timestampMs,
    randomBytes: kioskRandom.randomBytes,
  });
  assert.equal(kioskRandom.remaining(), 0, 'kioskStart used every kiosk random input');
  const check = hostCheckHello(
    m1,
    (kioskId) => (kioskId === vector.inputs.kioskId ? Buffer.from(psk) : null),
    crypto.randomBytes(32),
    vector.inputs.timestampMs,
  );
  assert.ok(check.ok, `hostCheckHello: ${check.ok ? '' : check.reason}`);
  const hostRandom = scriptedRandom(vector.inputs.hostRandomOrder);
  const response = hostRespond(m1, check.hello, psk, hostRandom.randomBytes);
  assert.ok(response.ok, `hostRespond: ${response.ok ? '' : response.reason}`);
  assert.equal(hostRandom.remaining(), 0, 'hostRespond used every host random input');
  const finished = kioskFinish(state, response.m2);
  assert.ok(finished.ok, `kioskFinish: ${finished.ok ? '' : finished.reason}`);
  const hostDone = hostFinish(response.pending, finished.m3);
  assert.ok(hostDone.ok, `hostFinish: ${hostDone.ok ? '' : hostDone.reason}`);
  return { m1, m2: response.m2, m3: finished.m3, kioskKeys: finished.keys, hostKeys: hostDone.keys };
}

// ------------------------------------------------ independent recomputation (node:crypto only)

const hmac = (key: Uint8Array, ...parts: Uint8Array[]): Buffer => {
  const mac = crypto.createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return mac.digest();
};
const sha256 = (...parts: Uint8Array[]): Buffer => {
  const hash = crypto.createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest();
};
/** RFC 5869 HKDF-Expand for L = 32: a single block T(1) = HMAC(PRK, info | 0x01). */
const expand32 = (prk: Uint8Array, info: Uint8Array): Buffer => hmac(prk, info, Buffer.from([1]));
const ascii = (text: string): Buffer => Buffer.from(text, 'ascii');

function x25519Independent(privateRaw: Buffer, publicRaw: Buffer | null): Buffer {
  // RFC 8410 DER wrappers, written out here rather than imported, so this check stands alone.
  const privateKey = crypto.createPrivateKey({
    key: Buffer.concat([hex('302e020100300506032b656e04220420'), privateRaw]),
    format: 'der',
    type: 'pkcs8',
  });
  if (publicRaw === null) {
    const spki = crypto.createPublicKey(privateKey).export({ format: 'der', type: 'spki' });
    return Buffer.from(spki.subarray(spki.length - 32));
  }
  const publicKey = crypto.createPublicKey({
    key: Buffer.concat([hex('302a300506032b656e032100'), publicRaw]),
    format: 'der',
    type: 'spki',
  });
  return crypto.diffieHellman({ privateKey, publicKey });
}

function sealIndependent(
  encKey: Buffer,
  macKey: Buffer,
  directionByte: number,
  sequence: number,
  type: number,
  plaintext: Buffer,
): { iv: Buffer; ct: Buffer; tag: Buffer; frame: Buffer } {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(sequence));
  const iv = Buffer.concat([seq, Buffer.alloc(8)]);
  const cipher = crypto.createCipheriv('aes-256-ctr', encKey, iv);
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(2 + ct.length + 32);
  // [ATM-3.2] tag = HMAC(k_mac, "atm2 rec" | dir | seq | len | ver | type | ct)
  const tag = hmac(macKey, ascii('atm2 rec'), Buffer.from([directionByte]), seq, len, Buffer.from([0x02, type]), ct);
  return { iv, ct, tag, frame: Buffer.concat([len, Buffer.from([0x02, type]), ct, tag]) };
}

test('[ATM-5] the vector file is well formed and its inputs are the documented byte runs', () => {
  const run = (start: number): string => toHex(Buffer.from(Array.from({ length: 32 }, (_, index) => start + index)));
  assert.equal(vector.inputs.psk, run(0x00));
  assert.equal(vector.inputs.kioskEphemeralPrivate, run(0x20));
  assert.equal(vector.inputs.kioskNonce, run(0x40));
  assert.equal(vector.inputs.hostEphemeralPrivate, run(0x60));
  assert.equal(vector.inputs.hostNonce, run(0x80));
  assert.equal(new Date(vector.inputs.timestampMs).toISOString(), vector.inputs.timestampIso);
  assert.equal(vector.handshake.m1.length, 122 * 2);
  assert.equal(vector.handshake.m2.length, 98 * 2);
  assert.equal(vector.handshake.m3.length, 34 * 2);
  assert.equal(vector.records.length, 3);
});

test('[ATM-5] the protocol code reproduces m1, m2 and m3 byte for byte', () => {
  const run = runCode();
  assert.equal(toHex(run.m1), vector.handshake.m1);
  assert.equal(toHex(run.m2), vector.handshake.m2);
  assert.equal(toHex(run.m3), vector.handshake.m3);
});

test('[ATM-5] the protocol code derives the documented session keys, identically on both sides', () => {
  const { kioskKeys, hostKeys } = runCode();
  for (const keys of [kioskKeys, hostKeys]) {
    assert.equal(toHex(keys.kioskToHost.encKey), vector.sessionKeys.kioskToHostEnc);
    assert.equal(toHex(keys.kioskToHost.macKey), vector.sessionKeys.kioskToHostMac);
    assert.equal(toHex(keys.hostToKiosk.encKey), vector.sessionKeys.hostToKioskEnc);
    assert.equal(toHex(keys.hostToKiosk.macKey), vector.sessionKeys.hostToKioskMac);
    assert.equal(toHex(keys.transcriptHash), vector.sessionKeys.transcriptHash);
  }
});

test('[ATM-5.8] RecordSealer reproduces the first records and RecordOpener opens them', () => {
  const { kioskKeys, hostKeys } = runCode();
  const kioskSealer = new RecordSealer(kioskKeys.kioskToHost, DIRECTION_KIOSK_TO_HOST);
  const hostSealer = new RecordSealer(hostKeys.hostToKiosk, DIRECTION_HOST_TO_KIOSK);
  const hostOpener = new RecordOpener(hostKeys.kioskToHost, DIRECTION_KIOSK_TO_HOST);
  const kioskOpener = new RecordOpener(kioskKeys.hostToKiosk, DIRECTION_HOST_TO_KIOSK);
  for (const record of vector.records) {
    const fromKiosk = record.direction === 'kioskToHost';
    const sealer = fromKiosk ? kioskSealer : hostSealer;
    const opener = fromKiosk ? hostOpener : kioskOpener;
    assert.equal(sealer.recordsSealed, record.sequence, `${record.name}: sequence`);
    assert.ok(record.type === RECORD_TYPE_DATA || record.type === RECORD_TYPE_CLOSE, `${record.name}: type`);
    const frame = sealer.seal(record.type, Buffer.from(record.plaintextUtf8, 'utf8'));
    assert.equal(toHex(frame), record.frame, `${record.name}: frame`);
    const opened = opener.open(frame.subarray(4));
    assert.ok(opened.ok, `${record.name}: opens`);
    assert.equal(opened.type, record.type);
    assert.equal(opened.plaintext.toString('utf8'), record.plaintextUtf8);
  }
});

test('[ATM-2.1]-[ATM-2.3] an independent node:crypto recomputation gives the same handshake bytes and keys', () => {
  const inputs = vector.inputs;
  const d = vector.derived;
  const psk = hex(inputs.psk);
  const label = ascii('ATMv2 X25519 HKDF-SHA256 AES-256-CTR HMAC-SHA256');
  assert.equal(d.labelAscii, label.toString('ascii'));
  assert.equal(d.label, toHex(label));
  assert.equal(d.labelHash, toHex(sha256(label)));

  // [ATM-2.1] psk_prk = HKDF-Extract(SHA-256(LABEL), PSK); k_hello = HKDF-Expand(psk_prk, "atm2 hello", 32)
  const pskPrk = hmac(sha256(label), psk);
  assert.equal(toHex(pskPrk), d.pskPrk);
  const helloKey = expand32(pskPrk, ascii('atm2 hello'));
  assert.equal(toHex(helloKey), d.helloKey);
  assert.equal(
    toHex(Buffer.from(crypto.hkdfSync('sha256', psk, sha256(label), ascii('atm2 hello'), 32))),
    d.helloKey,
    'node hkdfSync agrees',
  );

  // [ATM-2.2] m1
  const kid = Buffer.alloc(16);
  kid.write(inputs.kioskId, 'ascii');
  assert.equal(toHex(kid), d.kid);
  const timestamp = Buffer.alloc(8);
  timestamp.writeBigUInt64BE(BigInt(inputs.timestampMs));
  assert.equal(toHex(timestamp), d.timestamp);
  const kioskPublic = x25519Independent(hex(inputs.kioskEphemeralPrivate), null);
  assert.equal(toHex(kioskPublic), d.kioskEphemeralPublic);
  const m1Body = Buffer.concat([Buffer.from([0x02, 0x01]), kid, timestamp, hex(inputs.kioskNonce), kioskPublic]);
  const mac1 = hmac(helloKey, label, m1Body);
  assert.equal(toHex(mac1), d.mac1);
  const m1 = Buffer.concat([m1Body, mac1]);
  assert.equal(toHex(m1), vector.handshake.m1);

  // [ATM-2.3] key schedule, computed from both ends of the DH
  const hostPublic = x25519Independent(hex(inputs.hostEphemeralPrivate), null);
  assert.equal(toHex(hostPublic), d.hostEphemeralPublic);
  const dh = x25519Independent(hex(inputs.hostEphemeralPrivate), kioskPublic);
  assert.deepEqual(x25519Independent(hex(inputs.kioskEphemeralPrivate), hostPublic), dh, 'both ends of X25519 agree');
  assert.equal(toHex(dh), d.dh);
  const masterSecret = hmac(pskPrk, dh);
  assert.equal(toHex(masterSecret), d.masterSecret);
  const m2WithoutFin = Buffer.concat([Buffer.from([0x02, 0x02]), hex(inputs.hostNonce), hostPublic]);
  const th2 = sha256(label, m1, m2WithoutFin);
  assert.equal(toHex(th2), d.th2);
  const key = (name: string): Buffer => expand32(masterSecret, Buffer.concat([ascii(name), th2]));
  assert.equal(toHex(key('atm2 host fin')), d.finHostKey);
  assert.equal(toHex(key('atm2 kiosk fin')), d.finKioskKey);
  const finHost = hmac(key('atm2 host fin'), th2);
  assert.equal(toHex(finHost), d.finHost);
  const m2 = Buffer.concat([m2WithoutFin, finHost]);
  assert.equal(toHex(m2), vector.handshake.m2);
  const th3 = sha256(label, m1, m2);
  assert.equal(toHex(th3), d.th3);
  const finKiosk = hmac(key('atm2 kiosk fin'), th3);
  assert.equal(toHex(finKiosk), d.finKiosk);
  assert.equal(toHex(Buffer.concat([Buffer.from([0x02, 0x03]), finKiosk])), vector.handshake.m3);

  assert.equal(toHex(key('atm2 k2h enc')), vector.sessionKeys.kioskToHostEnc);
  assert.equal(toHex(key('atm2 k2h mac')), vector.sessionKeys.kioskToHostMac);
  assert.equal(toHex(key('atm2 h2k enc')), vector.sessionKeys.hostToKioskEnc);
  assert.equal(toHex(key('atm2 h2k mac')), vector.sessionKeys.hostToKioskMac);
  assert.equal(toHex(th2), vector.sessionKeys.transcriptHash);
});

test('[ATM-3.2] an independent node:crypto recomputation gives the same records', () => {
  const keys = vector.sessionKeys;
  for (const record of vector.records) {
    const fromKiosk = record.direction === 'kioskToHost';
    assert.equal(record.directionByte, fromKiosk ? 0x01 : 0x02);
    const sealed = sealIndependent(
      hex(fromKiosk ? keys.kioskToHostEnc : keys.hostToKioskEnc),
      hex(fromKiosk ? keys.kioskToHostMac : keys.hostToKioskMac),
      record.directionByte,
      record.sequence,
      record.type,
      Buffer.from(record.plaintextUtf8, 'utf8'),
    );
    assert.equal(toHex(sealed.iv), record.iv, `${record.name}: iv`);
    assert.equal(toHex(sealed.ct), record.ciphertext, `${record.name}: ciphertext`);
    assert.equal(toHex(sealed.tag), record.tag, `${record.name}: tag`);
    assert.equal(toHex(sealed.frame), record.frame, `${record.name}: frame`);
  }
});

test('[ATM-5] PROTOCOL.md shows every value of the vector (the document cannot drift)', () => {
  const expected: [string, string][] = [];
  const collect = (prefix: string, value: unknown): void => {
    if (typeof value === 'string') expected.push([prefix, value]);
    else if (typeof value === 'number') expected.push([prefix, String(value)]);
    else if (Array.isArray(value)) value.forEach((item, index) => collect(`${prefix}[${index}]`, item));
    else if (typeof value === 'object' && value !== null)
      for (const [key, item] of Object.entries(value)) collect(`${prefix}.${key}`, item);
  };
  collect('inputs', { ...vector.inputs, kioskRandomOrder: undefined, hostRandomOrder: undefined });
  collect('derived', vector.derived);
  collect('handshake', vector.handshake);
  collect('sessionKeys', vector.sessionKeys);
  vector.records.forEach((record, index) =>
    collect(`records[${index}]`, {
      iv: record.iv,
      ciphertext: record.ciphertext,
      tag: record.tag,
      frame: record.frame,
      plaintextUtf8: record.plaintextUtf8,
    }),
  );
  const missing = expected.filter(([, value]) => value !== '' && !protocolText.includes(value)).map(([name]) => name);
  assert.deepEqual(missing, [], 'values of the vector missing from PROTOCOL.md');
  assert.ok(expected.length >= 35, `checked ${expected.length} values`);
});
