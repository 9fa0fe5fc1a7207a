// Pure unit tests of the secure session's pieces, no sockets and no timers: the frame decoder
// [ATM-1], the handshake functions talking to each other directly [ATM-2], the record layer
// [ATM-3], request parsing and amounts [ATM-4], plus fast-check properties that random or
// mutated bytes never throw and are never accepted. Clause numbers refer to PROTOCOL.md.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { vectorsDir } from '../helpers/paths.js';
import { AMOUNT_CENTS_MAX, formatCents, parseDollars } from '../../protocol/amount.js';
import { hmacSha256, type RandomBytes } from '../../protocol/crypto.js';
import {
  FRAME_BYTES_MAX,
  FrameDecoder,
  encodeFrame,
  type FrameLimits,
  type NextFrame,
  type FrameFailure,
} from '../../protocol/frame.js';
import {
  HELLO_TIMESTAMP_SKEW_MS,
  LABEL,
  M1_BYTES,
  M2_BYTES,
  M3_BYTES,
  helloKey,
  hostCheckHello,
  hostFinish,
  hostRespond,
  kioskFinish,
  kioskStart,
  type HostPendingState,
  type KioskHelloState,
  type ParsedHello,
  type SessionKeys,
} from '../../protocol/handshake.js';
import { MESSAGE_BYTES_MAX, parseRequest, parseResponse } from '../../protocol/messages.js';
import {
  DIRECTION_HOST_TO_KIOSK,
  DIRECTION_KIOSK_TO_HOST,
  RECORD_OVERHEAD_BYTES,
  RECORD_PLAINTEXT_BYTES_MAX,
  RECORD_TYPE_CLOSE,
  RECORD_TYPE_DATA,
  RecordOpener,
  RecordSealer,
} from '../../protocol/record.js';

const KIOSK_ID = 'kiosk-01';
const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const PSK = Buffer.alloc(32, 0x5a);
const DUMMY_PSK = Buffer.alloc(32, 0xd0);
const RECORD_LIMITS: FrameLimits = { bodyBytesMin: RECORD_OVERHEAD_BYTES, bodyBytesMax: FRAME_BYTES_MAX };

// ---------------------------------------------------------------- helpers

/** Hands out the given values in order; the handshake asks for exactly 32 bytes each time. */
function scriptedRandom(...values: Buffer[]): RandomBytes {
  const queue = values.map((value) => Buffer.from(value));
  return (lengthBytes) => {
    const next = queue.shift();
    assert.ok(next?.length === lengthBytes, 'unexpected request for random bytes');
    return next;
  };
}

const lookupFor =
  (psk: Buffer, kioskId = KIOSK_ID) =>
  (id: string): Buffer | null =>
    id === kioskId ? Buffer.from(psk) : null;

function flipBit(bytes: Uint8Array, bit: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
  return copy;
}

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

interface Handshake {
  m1: Buffer;
  m2: Buffer;
  m3: Buffer;
  hello: ParsedHello;
  kioskKeys: SessionKeys;
  hostKeys: SessionKeys;
}

interface HandshakeOptions {
  kioskRandom?: RandomBytes;
  hostRandom?: RandomBytes;
  kioskPsk?: Buffer;
  nowMs?: number;
}

/** The kiosk and host functions talking to each other directly, as the channel would. */
function handshake(options: HandshakeOptions = {}): Handshake {
  const { m1, state } = kioskStart({
    kioskId: KIOSK_ID,
    psk: options.kioskPsk ?? PSK,
    nowMs: options.nowMs ?? T0,
    randomBytes: options.kioskRandom ?? crypto.randomBytes,
  });
  const check = hostCheckHello(m1, lookupFor(PSK), DUMMY_PSK, options.nowMs ?? T0);
  assert.ok(check.ok, `hostCheckHello: ${check.ok ? '' : check.reason}`);
  const response = hostRespond(m1, check.hello, PSK, options.hostRandom ?? crypto.randomBytes);
  assert.ok(response.ok, `hostRespond: ${response.ok ? '' : response.reason}`);
  const finished = kioskFinish(state, response.m2);
  assert.ok(finished.ok, `kioskFinish: ${finished.ok ? '' : finished.reason}`);
  const done = hostFinish(response.pending, finished.m3);
  assert.ok(done.ok, `hostFinish: ${done.ok ? '' : done.reason}`);
  return { m1, m2: response.m2, m3: finished.m3, hello: check.hello, kioskKeys: finished.keys, hostKeys: done.keys };
}

/** Fixed kiosk and host randomness, so a kiosk state or host pending state can be rebuilt at will. */
const EC_PRIVATE = crypto.randomBytes(32);
const NC = crypto.randomBytes(32);
const ES_PRIVATE = crypto.randomBytes(32);
const NS = crypto.randomBytes(32);
const fixedKioskRandom = (): RandomBytes => scriptedRandom(EC_PRIVATE, NC);
const fixedHostRandom = (): RandomBytes => scriptedRandom(ES_PRIVATE, NS);
const FIXED = handshake({ kioskRandom: fixedKioskRandom(), hostRandom: fixedHostRandom() });

/** kioskFinish wipes its state, so every attempt needs a fresh one; this one produced FIXED.m1. */
function freshKioskState(): KioskHelloState {
  const { m1, state } = kioskStart({ kioskId: KIOSK_ID, psk: PSK, nowMs: T0, randomBytes: fixedKioskRandom() });
  assert.deepEqual(m1, FIXED.m1);
  return state;
}

/** hostFinish wipes its Finished key, so every attempt needs a fresh pending state for FIXED. */
function freshHostPending(): HostPendingState {
  const response = hostRespond(FIXED.m1, FIXED.hello, PSK, fixedHostRandom());
  assert.ok(response.ok);
  assert.deepEqual(response.m2, FIXED.m2);
  return response.pending;
}

/** m1 with some bytes replaced and mac1 recomputed under the real PSK, so the MAC check passes. */
function remacM1(m1: Uint8Array, patch: (body: Buffer) => void, psk = PSK): Buffer {
  const body = Buffer.from(m1.subarray(0, M1_BYTES - 32));
  patch(body);
  return Buffer.concat([body, hmacSha256(helloKey(psk), LABEL, body)]);
}

function drain(decoder: FrameDecoder): { frames: Buffer[]; error: FrameFailure | null } {
  const frames: Buffer[] = [];
  for (let next: NextFrame = decoder.next(); next !== null; next = decoder.next()) {
    if ('error' in next) return { frames, error: next.error };
    frames.push(next.frame);
  }
  return { frames, error: null };
}

function header(length: number): Buffer {
  const bytes = Buffer.alloc(4);
  bytes.writeUInt32BE(length);
  return bytes;
}

function sessionPair(keys: SessionKeys): {
  kioskSealer: RecordSealer;
  hostOpener: RecordOpener;
  hostSealer: RecordSealer;
  kioskOpener: RecordOpener;
} {
  return {
    kioskSealer: new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST),
    hostOpener: new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST),
    hostSealer: new RecordSealer(keys.hostToKiosk, DIRECTION_HOST_TO_KIOSK),
    kioskOpener: new RecordOpener(keys.hostToKiosk, DIRECTION_HOST_TO_KIOSK),
  };
}

const body = (frame: Buffer): Buffer => frame.subarray(4);
const text = (value: string): Buffer => Buffer.from(value, 'utf8');

/** A record with a MAC that verifies, built field by field per [ATM-3.2] (for version/type cases). */
function forgeWithKeys(
  keys: SessionKeys['kioskToHost'],
  direction: number,
  sequence: number,
  version: number,
  type: number,
  plaintext: Buffer,
): Buffer {
  const seq = Buffer.alloc(8);
  seq.writeBigUInt64BE(BigInt(sequence));
  const cipher = crypto.createCipheriv('aes-256-ctr', keys.encKey, Buffer.concat([seq, Buffer.alloc(8)]));
  const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  const head = Buffer.from([version, type]);
  const tag = hmacSha256(
    keys.macKey,
    Buffer.from('atm2 rec'),
    Buffer.from([direction]),
    seq,
    header(2 + ct.length + 32),
    head,
    ct,
  );
  return Buffer.concat([head, ct, tag]);
}

// ---------------------------------------------------------------- [ATM-1] framing

test('[ATM-1.1] frames split across chunks arrive whole even when fed one byte at a time', () => {
  const bodies = [crypto.randomBytes(40), crypto.randomBytes(RECORD_OVERHEAD_BYTES), crypto.randomBytes(1000)];
  const wire = Buffer.concat(bodies.map((b) => encodeFrame(b)));
  const decoder = new FrameDecoder(() => RECORD_LIMITS);
  const frames: Buffer[] = [];
  for (let index = 0; index < wire.length; index++) {
    decoder.push(wire.subarray(index, index + 1));
    const { frames: got, error } = drain(decoder);
    assert.equal(error, null);
    frames.push(...got);
  }
  assert.deepEqual(frames, bodies);
  assert.equal(decoder.pendingBytes, 0);
});

test('[ATM-1.1] several frames in one chunk come out one per call, in order', () => {
  const bodies = [crypto.randomBytes(34), crypto.randomBytes(100), crypto.randomBytes(FRAME_BYTES_MAX)];
  const decoder = new FrameDecoder(() => RECORD_LIMITS);
  decoder.push(Buffer.concat([...bodies.map((b) => encodeFrame(b)), header(50)])); // plus a started fourth
  for (const expected of bodies) {
    const next = decoder.next();
    assert.ok(next !== null && 'frame' in next);
    assert.deepEqual(next.frame, expected);
  }
  assert.equal(decoder.next(), null, 'the started fourth frame is not delivered');
  assert.equal(decoder.pendingBytes, 4);
});

test('[ATM-1.3] hostile lengths are refused from the 4 header bytes alone, without waiting for a body', () => {
  const cases: [string, FrameLimits, number][] = [
    ['record: 0', RECORD_LIMITS, 0],
    ['record: below the 34-byte minimum', RECORD_LIMITS, RECORD_OVERHEAD_BYTES - 1],
    ['record: one over the 16 KiB maximum', RECORD_LIMITS, FRAME_BYTES_MAX + 1],
    ['record: 0xFFFFFFFF', RECORD_LIMITS, 0xffffffff],
    ['m1: 121', { bodyBytesMin: M1_BYTES, bodyBytesMax: M1_BYTES }, M1_BYTES - 1],
    ['m1: 123', { bodyBytesMin: M1_BYTES, bodyBytesMax: M1_BYTES }, M1_BYTES + 1],
    ['m2: 0', { bodyBytesMin: M2_BYTES, bodyBytesMax: M2_BYTES }, 0],
    ['m3: 16384', { bodyBytesMin: M3_BYTES, bodyBytesMax: M3_BYTES }, FRAME_BYTES_MAX],
  ];
  for (const [name, limits, length] of cases) {
    const decoder = new FrameDecoder(() => limits);
    decoder.push(header(length));
    const next = decoder.next();
    assert.ok(next !== null && 'error' in next, `${name}: refused at once (null would mean waiting for the body)`);
    assert.equal(decoder.pendingBytes, 0, `${name}: nothing is held once refused, not even the header`);
    decoder.push(Buffer.alloc(64));
    const again = decoder.next();
    assert.ok(again !== null && 'error' in again, `${name}: a failed decoder stays failed`);
  }
});

test('[ATM-1.3] the boundary lengths themselves are accepted', () => {
  for (const length of [RECORD_OVERHEAD_BYTES, FRAME_BYTES_MAX]) {
    const decoder = new FrameDecoder(() => RECORD_LIMITS);
    decoder.push(header(length));
    assert.equal(decoder.next(), null, `${length}: waits for the body`);
    decoder.push(Buffer.alloc(length, 7));
    const next = decoder.next();
    assert.ok(next !== null && 'frame' in next && next.frame.length === length);
  }
  assert.throws(
    () => encodeFrame(Buffer.alloc(FRAME_BYTES_MAX + 1)),
    /maximum/,
    'a sender cannot build an oversize frame',
  );
});

test('[ATM-1.4] the limits are asked for again before each frame, so they follow the state', () => {
  const states: FrameLimits[] = [
    { bodyBytesMin: M1_BYTES, bodyBytesMax: M1_BYTES },
    { bodyBytesMin: M3_BYTES, bodyBytesMax: M3_BYTES },
    RECORD_LIMITS,
  ];
  const build = (): { decoder: FrameDecoder; advance: () => void } => {
    let index = 0;
    return {
      decoder: new FrameDecoder(() => states[Math.min(index, states.length - 1)] as FrameLimits),
      advance: () => (index += 1),
    };
  };
  // m1, m3 and a record in one chunk: each checked against its own limit.
  const ok = build();
  ok.decoder.push(
    Buffer.concat([
      encodeFrame(Buffer.alloc(M1_BYTES)),
      encodeFrame(Buffer.alloc(M3_BYTES)),
      encodeFrame(Buffer.alloc(500)),
    ]),
  );
  for (const length of [M1_BYTES, M3_BYTES, 500]) {
    const next = ok.decoder.next();
    assert.ok(next !== null && 'frame' in next && next.frame.length === length, `frame of ${length}`);
    ok.advance();
  }
  // The same stream with a second 122-byte frame: fine as an m1, refused where m3 is due.
  const bad = build();
  bad.decoder.push(Buffer.concat([encodeFrame(Buffer.alloc(M1_BYTES)), encodeFrame(Buffer.alloc(M1_BYTES))]));
  const first = bad.decoder.next();
  assert.ok(first !== null && 'frame' in first);
  bad.advance();
  const second = bad.decoder.next();
  assert.ok(second !== null && 'error' in second, 'a second m1-sized frame is refused in the m3 state');
});

test('[ATM-1.5] a frame truncated at any byte is never delivered', () => {
  const frame = encodeFrame(crypto.randomBytes(60));
  for (let cut = 0; cut < frame.length; cut++) {
    const decoder = new FrameDecoder(() => RECORD_LIMITS);
    decoder.push(frame.subarray(0, cut));
    assert.equal(decoder.next(), null, `cut at ${cut}`);
  }
});

// ---------------------------------------------------------------- [ATM-2] handshake

test('[ATM-2.3] kiosk and host derive identical, distinct per-direction keys', () => {
  const { kioskKeys, hostKeys } = handshake();
  assert.deepEqual(kioskKeys, hostKeys);
  const all = [
    kioskKeys.kioskToHost.encKey,
    kioskKeys.kioskToHost.macKey,
    kioskKeys.hostToKiosk.encKey,
    kioskKeys.hostToKiosk.macKey,
  ];
  assert.equal(new Set(all.map(toHex)).size, 4, 'four different keys');
  for (const key of all) assert.equal(key.length, 32);
  assert.equal(kioskKeys.transcriptHash.length, 32);
});

test('[ATM-2.2] the messages have the fixed sizes and layout of PROTOCOL.md', () => {
  const { m1, m2, m3, hello } = FIXED;
  assert.equal(m1.length, M1_BYTES);
  assert.equal(m2.length, M2_BYTES);
  assert.equal(m3.length, M3_BYTES);
  assert.deepEqual([...m1.subarray(0, 2)], [0x02, 0x01]);
  assert.deepEqual([...m2.subarray(0, 2)], [0x02, 0x02]);
  assert.deepEqual([...m3.subarray(0, 2)], [0x02, 0x03]);
  assert.equal(m1.subarray(2, 18).toString('latin1'), `${KIOSK_ID}\0\0\0\0\0\0\0\0`);
  assert.equal(Number(m1.readBigUInt64BE(18)), T0);
  assert.deepEqual(m1.subarray(26, 58), NC);
  assert.deepEqual(hello.kioskNonce, NC);
  assert.deepEqual(hello.kioskPublic, m1.subarray(58, 90));
  assert.deepEqual(m2.subarray(2, 34), NS);
});

test('[ATM-2.3] fresh randomness gives fresh keys: two sessions never share a key', () => {
  const a = handshake();
  const b = handshake();
  assert.notEqual(toHex(a.kioskKeys.kioskToHost.encKey), toHex(b.kioskKeys.kioskToHost.encKey));
  assert.notEqual(toHex(a.kioskKeys.transcriptHash), toHex(b.kioskKeys.transcriptHash));
});

test('[ATM-2.4.3] every single-bit flip of m1 is refused by hostCheckHello', () => {
  assert.ok(hostCheckHello(FIXED.m1, lookupFor(PSK), DUMMY_PSK, T0).ok, 'the unmodified m1 passes');
  const accepted: number[] = [];
  for (let bit = 0; bit < M1_BYTES * 8; bit++) {
    if (hostCheckHello(flipBit(FIXED.m1, bit), lookupFor(PSK), DUMMY_PSK, T0).ok) accepted.push(bit);
  }
  assert.deepEqual(accepted, []);
});

test('[ATM-2.5] every single-bit flip of m2 is refused by kioskFinish', () => {
  assert.ok(kioskFinish(freshKioskState(), FIXED.m2).ok, 'the unmodified m2 passes');
  const accepted: number[] = [];
  for (let bit = 0; bit < M2_BYTES * 8; bit++) {
    if (kioskFinish(freshKioskState(), flipBit(FIXED.m2, bit)).ok) accepted.push(bit);
  }
  assert.deepEqual(accepted, []);
});

test('[ATM-2.6] every single-bit flip of m3 is refused by hostFinish', () => {
  assert.ok(hostFinish(freshHostPending(), FIXED.m3).ok, 'the unmodified m3 passes');
  const accepted: number[] = [];
  for (let bit = 0; bit < M3_BYTES * 8; bit++) {
    if (hostFinish(freshHostPending(), flipBit(FIXED.m3, bit)).ok) accepted.push(bit);
  }
  assert.deepEqual(accepted, []);
});

test('[ATM-2.4.2] wrong PSK, unknown kiosk and revoked kiosk all fail at m1 with the same reason', () => {
  const wrongKey = kioskStart({
    kioskId: KIOSK_ID,
    psk: Buffer.alloc(32, 0x77),
    nowMs: T0,
    randomBytes: crypto.randomBytes,
  }).m1;
  const wrong = hostCheckHello(wrongKey, lookupFor(PSK), DUMMY_PSK, T0);
  const unknownM1 = kioskStart({ kioskId: 'kiosk-99', psk: PSK, nowMs: T0, randomBytes: crypto.randomBytes }).m1;
  const unknown = hostCheckHello(unknownM1, lookupFor(PSK), DUMMY_PSK, T0);
  const revoked = hostCheckHello(FIXED.m1, () => null, DUMMY_PSK, T0);
  for (const result of [wrong, unknown, revoked]) assert.equal(result.ok, false);
  assert.ok(!wrong.ok && !unknown.ok && !revoked.ok);
  assert.equal(unknown.reason, wrong.reason, 'no oracle between an unknown kiosk and a wrong key');
  assert.equal(revoked.reason, wrong.reason, 'no oracle between a revoked kiosk and a wrong key');
});

test('[ATM-2.4.3] an unknown kiosk is refused even when its m1 is MACed with the dummy PSK itself', () => {
  const m1 = kioskStart({ kioskId: 'kiosk-99', psk: DUMMY_PSK, nowMs: T0, randomBytes: crypto.randomBytes }).m1;
  assert.equal(hostCheckHello(m1, lookupFor(PSK), DUMMY_PSK, T0).ok, false);
});

test('[ATM-2.4.2] kid bytes that encode no valid id are an unknown kiosk, even with a valid MAC', () => {
  const variants: [string, (b: Buffer) => void][] = [
    ['upper case', (b) => b.write('KIOSK-01', 2, 'ascii')],
    ['byte after the zero padding', (b) => (b[17] = 0x41)],
    ['all zero', (b) => b.fill(0, 2, 18)],
    ['not ASCII', (b) => (b[2] = 0xe9)],
  ];
  for (const [name, patch] of variants) {
    const m1 = remacM1(FIXED.m1, patch);
    const lookup = (id: string): Buffer | null => (id.toLowerCase() === KIOSK_ID ? Buffer.from(PSK) : null);
    const check = hostCheckHello(m1, lookup, DUMMY_PSK, T0);
    assert.ok(!check.ok && check.kioskId === null, name);
  }
});

test('[ATM-2.4.4] the timestamp window is ±30 s inclusive', () => {
  const at = (nowMs: number): boolean => hostCheckHello(FIXED.m1, lookupFor(PSK), DUMMY_PSK, nowMs).ok;
  assert.equal(HELLO_TIMESTAMP_SKEW_MS, 30_000);
  assert.equal(at(T0), true);
  assert.equal(at(T0 + 30_000), true, 'kiosk 30 s behind');
  assert.equal(at(T0 - 30_000), true, 'kiosk 30 s ahead');
  assert.equal(at(T0 + 30_001), false, 'kiosk 30.001 s behind');
  assert.equal(at(T0 - 30_001), false, 'kiosk 30.001 s ahead');
  const stale = hostCheckHello(FIXED.m1, lookupFor(PSK), DUMMY_PSK, T0 + 3_600_000);
  assert.ok(!stale.ok && stale.closeReason === 'STALE_TIMESTAMP', 'a stale m1 is typed STALE_TIMESTAMP');
  // A timestamp far outside any clock, under a valid MAC, is refused rather than mis-parsed.
  const far = remacM1(FIXED.m1, (b) => b.fill(0xff, 18, 26));
  assert.equal(hostCheckHello(far, lookupFor(PSK), DUMMY_PSK, T0).ok, false);
});

/** Distinct low-order X25519 public keys from Wycheproof (all give an all-zero shared secret). */
function lowOrderPublicKeys(): Buffer[] {
  const file = JSON.parse(fs.readFileSync(path.join(vectorsDir, 'wycheproof', 'x25519_test.json'), 'utf8')) as {
    testGroups: { tests: { flags: string[]; public: string; shared: string }[] }[];
  };
  const keys = new Set<string>();
  for (const group of file.testGroups) {
    for (const vector of group.tests) {
      const flagged = vector.flags.includes('LowOrderPublic') || vector.flags.includes('ZeroSharedSecret');
      if (flagged && /^0+$/.test(vector.shared)) keys.add(vector.public);
    }
  }
  return [...keys].map((key) => Buffer.from(key, 'hex'));
}

test('[ATM-2.4.6] low-order X25519 keys in m1 (from Wycheproof) pass the MAC but abort at the DH', () => {
  const keys = lowOrderPublicKeys();
  assert.ok(keys.length >= 8, `${keys.length} low-order keys`);
  assert.ok(
    keys.some((key) => key.every((byte) => byte === 0)),
    'the all-zero key is among them',
  );
  for (const key of keys) {
    const m1 = remacM1(FIXED.m1, (b) => key.copy(b, 58));
    const check = hostCheckHello(m1, lookupFor(PSK), DUMMY_PSK, T0);
    assert.ok(check.ok, `${toHex(key)}: m1 MAC recomputed with the real PSK passes`);
    const response = hostRespond(m1, check.hello, PSK, crypto.randomBytes);
    assert.ok(!response.ok && response.reason.includes('low order'), `${toHex(key)}: refused by the DH check`);
  }
});

test('[ATM-2.5] low-order X25519 keys in m2 (from Wycheproof) abort at the DH, before the Finished MAC', () => {
  for (const key of lowOrderPublicKeys()) {
    const m2 = Buffer.from(FIXED.m2);
    key.copy(m2, 34);
    const result = kioskFinish(freshKioskState(), m2);
    assert.ok(
      !result.ok && result.reason.includes('low order'),
      `${toHex(key)}: ${result.ok ? 'accepted' : result.reason}`,
    );
  }
});

test('[ATM-2.4.1] a version byte other than 0x02 or an unknown type aborts every message, MAC or not', () => {
  for (const [version, type] of [
    [0x01, 0x01],
    [0x03, 0x01],
    [0x00, 0x01],
    [0x02, 0x02],
    [0x02, 0x03],
    [0x02, 0x17],
    [0xff, 0xff],
  ] as const) {
    const m1 = remacM1(FIXED.m1, (b) => ((b[0] = version), (b[1] = type)));
    const check = hostCheckHello(m1, lookupFor(PSK), DUMMY_PSK, T0);
    assert.ok(
      !check.ok && check.reason.includes('version/type'),
      `m1 ${version}/${type}: ${check.ok ? 'accepted' : check.reason}`,
    );
  }
  for (const [version, type] of [
    [0x01, 0x02],
    [0x03, 0x02],
    [0x02, 0x01],
    [0x02, 0x03],
  ] as const) {
    const m2 = Buffer.from(FIXED.m2);
    m2[0] = version;
    m2[1] = type;
    const result = kioskFinish(freshKioskState(), m2);
    assert.ok(!result.ok && result.reason.includes('version/type'), `m2 ${version}/${type}`);
  }
  for (const [version, type] of [
    [0x01, 0x03],
    [0x02, 0x02],
    [0x02, 0x17],
    [0x02, 0x15],
  ] as const) {
    const m3 = Buffer.from(FIXED.m3);
    m3[0] = version;
    m3[1] = type;
    const result = hostFinish(freshHostPending(), m3);
    assert.ok(!result.ok && result.reason.includes('version/type'), `m3 ${version}/${type}`);
  }
});

test('[ATM-2.4.1] messages of any other length are refused (no seed-protocol fallback)', () => {
  for (const length of [0, 1, 33, M1_BYTES - 1, M1_BYTES + 1, 256]) {
    const bytes = Buffer.concat([Buffer.from([0x02, 0x01]), crypto.randomBytes(Math.max(0, length - 2))]).subarray(
      0,
      length,
    );
    assert.equal(hostCheckHello(bytes, lookupFor(PSK), DUMMY_PSK, T0).ok, false, `m1 of ${length}`);
  }
  assert.equal(kioskFinish(freshKioskState(), FIXED.m2.subarray(0, M2_BYTES - 1)).ok, false, 'short m2');
  assert.equal(kioskFinish(freshKioskState(), Buffer.concat([FIXED.m2, Buffer.from([0])])).ok, false, 'long m2');
  assert.equal(hostFinish(freshHostPending(), FIXED.m3.subarray(0, M3_BYTES - 1)).ok, false, 'short m3');
  assert.equal(hostFinish(freshHostPending(), Buffer.concat([FIXED.m3, Buffer.from([0])])).ok, false, 'long m3');
});

test('[ATM-2.5] an m2 recorded from an earlier session is refused by a kiosk with a new hello', () => {
  const { state } = kioskStart({ kioskId: KIOSK_ID, psk: PSK, nowMs: T0, randomBytes: crypto.randomBytes });
  const result = kioskFinish(state, FIXED.m2);
  assert.ok(!result.ok && result.reason.includes('Finished'), result.ok ? 'accepted' : result.reason);
});

test('[ATM-2.6] a replayed m1 gets fresh host keys; the recorded m3 cannot finish it', () => {
  // The replayer sends FIXED.m1 again; the host answers with new Es and Ns.
  const response = hostRespond(FIXED.m1, FIXED.hello, PSK, crypto.randomBytes);
  assert.ok(response.ok);
  assert.notEqual(toHex(response.m2), toHex(FIXED.m2));
  assert.notEqual(toHex(response.pending.keys.kioskToHost.encKey), toHex(FIXED.hostKeys.kioskToHost.encKey));
  const result = hostFinish(response.pending, FIXED.m3);
  assert.ok(!result.ok && result.reason.includes('Finished'), 'an m3 from another session is refused');
});

test('[ATM-2.3] a kiosk that reuses its ephemeral key and nonce still gets fresh keys (new Ns, Es)', () => {
  const again = handshake({ kioskRandom: fixedKioskRandom() });
  assert.deepEqual(again.m1, FIXED.m1, 'the kiosk repeated itself exactly');
  assert.notEqual(toHex(again.kioskKeys.kioskToHost.encKey), toHex(FIXED.kioskKeys.kioskToHost.encKey));
  assert.notEqual(toHex(again.m3), toHex(FIXED.m3));
});

test('[ATM-2.5] kioskFinish wipes the ephemeral private key and its PSK copy, pass or fail', () => {
  for (const m2 of [FIXED.m2, flipBit(FIXED.m2, 8 * 70)]) {
    const state = freshKioskState();
    kioskFinish(state, m2);
    assert.ok(
      state.ephemeralPrivate.every((byte) => byte === 0),
      'Ec_priv wiped',
    );
    assert.ok(
      state.psk.every((byte) => byte === 0),
      'PSK copy wiped',
    );
  }
  assert.ok(
    PSK.some((byte) => byte !== 0),
    "the caller's PSK is untouched",
  );
});

// ---------------------------------------------------------------- [ATM-3] records

test('[ATM-3.2] records round-trip in both directions, data and close', () => {
  const { kioskSealer, hostOpener, hostSealer, kioskOpener } = sessionPair(handshake().kioskKeys);
  const messages = ['{"id":1,"op":"ping"}', '{"id":2,"op":"balance"}', 'x'.repeat(3000)];
  for (const message of messages) {
    const frame = kioskSealer.seal(RECORD_TYPE_DATA, text(message));
    assert.equal(frame.readUInt32BE(0), frame.length - 4, 'the length prefix counts the body');
    assert.equal(frame.length - 4, RECORD_OVERHEAD_BYTES + Buffer.byteLength(message));
    assert.equal(frame.includes(text(message).subarray(0, 16)), false, 'the plaintext is not on the wire');
    const opened = hostOpener.open(body(frame));
    assert.ok(opened.ok && opened.type === RECORD_TYPE_DATA);
    assert.equal(opened.plaintext.toString('utf8'), message);
    const answer = kioskOpener.open(body(hostSealer.seal(RECORD_TYPE_DATA, text(`re:${message}`))));
    assert.ok(answer.ok && answer.plaintext.toString('utf8') === `re:${message}`);
  }
  const close = hostOpener.open(body(kioskSealer.seal(RECORD_TYPE_CLOSE, Buffer.alloc(0))));
  assert.ok(close.ok && close.type === RECORD_TYPE_CLOSE && close.plaintext.length === 0);
  assert.equal(kioskSealer.recordsSealed, 4);
  assert.equal(hostOpener.recordsOpened, 4);
});

test('[ATM-3.2] the same plaintext twice gives different ciphertexts (the IV follows the sequence)', () => {
  const { kioskSealer } = sessionPair(handshake().kioskKeys);
  const first = body(kioskSealer.seal(RECORD_TYPE_DATA, text('{"id":1,"op":"ping"}')));
  const second = body(kioskSealer.seal(RECORD_TYPE_DATA, text('{"id":1,"op":"ping"}')));
  assert.notEqual(toHex(first.subarray(2, -32)), toHex(second.subarray(2, -32)));
});

test('[ATM-3.1] a zero-length plaintext and the maximum plaintext are accepted; one more byte cannot be sealed', () => {
  const { kioskSealer, hostOpener } = sessionPair(handshake().kioskKeys);
  const empty = kioskSealer.seal(RECORD_TYPE_DATA, Buffer.alloc(0));
  assert.equal(empty.length - 4, RECORD_OVERHEAD_BYTES);
  const openedEmpty = hostOpener.open(body(empty));
  assert.ok(openedEmpty.ok && openedEmpty.plaintext.length === 0);
  const largest = crypto.randomBytes(RECORD_PLAINTEXT_BYTES_MAX);
  const frame = kioskSealer.seal(RECORD_TYPE_DATA, largest);
  assert.equal(frame.length - 4, FRAME_BYTES_MAX);
  const decoder = new FrameDecoder(() => RECORD_LIMITS);
  decoder.push(frame);
  const next = decoder.next();
  assert.ok(next !== null && 'frame' in next);
  const opened = hostOpener.open(next.frame);
  assert.ok(opened.ok);
  assert.deepEqual(opened.plaintext, largest);
  assert.throws(() => kioskSealer.seal(RECORD_TYPE_DATA, Buffer.alloc(RECORD_PLAINTEXT_BYTES_MAX + 1)), /maximum/);
});

test('[ATM-3.4] replayed, reordered and dropped records fail the MAC', () => {
  const keys = handshake().kioskKeys;
  const { kioskSealer } = sessionPair(keys);
  const records = [0, 1, 2].map((index) =>
    body(kioskSealer.seal(RECORD_TYPE_DATA, text(`{"id":${index},"op":"ping"}`))),
  );
  const [r0, r1, r2] = records as [Buffer, Buffer, Buffer];
  const opener = (): RecordOpener => new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST);

  const replay = opener();
  assert.ok(replay.open(r0).ok);
  const replayed = replay.open(r0);
  assert.ok(!replayed.ok && replayed.closeReason === 'BAD_MAC', 'replay');

  const reorder = opener();
  assert.equal(reorder.open(r1).ok, false, 'the second record first');

  const drop = opener();
  assert.ok(drop.open(r0).ok);
  assert.equal(drop.open(r2).ok, false, 'the third record after the first');

  // A failed record does not advance the sequence: the opener is where it was.
  assert.equal(drop.recordsOpened, 1);
});

test('[ATM-3.4] a record reflected back to its sender is refused', () => {
  const keys = handshake().kioskKeys;
  const { hostSealer, kioskSealer } = sessionPair(keys);
  const toKiosk = body(hostSealer.seal(RECORD_TYPE_DATA, text('{"id":1,"ok":true}')));
  const toHost = body(kioskSealer.seal(RECORD_TYPE_DATA, text('{"id":1,"op":"ping"}')));
  assert.equal(
    new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(toKiosk).ok,
    false,
    'host -> kiosk record sent to the host',
  );
  assert.equal(
    new RecordOpener(keys.hostToKiosk, DIRECTION_HOST_TO_KIOSK).open(toHost).ok,
    false,
    'kiosk -> host record sent to the kiosk',
  );
  // The direction byte alone is enough, even if the keys were shared.
  assert.equal(
    new RecordOpener(keys.hostToKiosk, DIRECTION_KIOSK_TO_HOST).open(toKiosk).ok,
    false,
    'same keys, other direction byte',
  );
});

test('[ATM-3.4] a record spliced from another session of the same kiosk is refused', () => {
  const a = handshake();
  const b = handshake();
  const fromA = body(
    new RecordSealer(a.kioskKeys.kioskToHost, DIRECTION_KIOSK_TO_HOST).seal(
      RECORD_TYPE_DATA,
      text('{"id":1,"op":"balance"}'),
    ),
  );
  assert.equal(new RecordOpener(b.hostKeys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(fromA).ok, false);
});

test('[ATM-3.3] every single-bit flip of a record frame, length prefix included, is never delivered', () => {
  const keys = handshake().kioskKeys;
  const frame = new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).seal(
    RECORD_TYPE_DATA,
    text('{"id":1,"op":"ping"}'),
  );
  const delivered: number[] = [];
  let refusedByLength = 0;
  for (let bit = 0; bit < frame.length * 8; bit++) {
    const decoder = new FrameDecoder(() => RECORD_LIMITS);
    decoder.push(flipBit(frame, bit));
    const { frames, error } = drain(decoder);
    if (error !== null) {
      assert.equal(error.reason, 'FRAME_LENGTH', 'a length the limits refuse is typed FRAME_LENGTH');
      refusedByLength += 1;
    }
    const opener = new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST);
    if (frames.some((candidate) => opener.open(candidate).ok)) delivered.push(bit);
  }
  assert.deepEqual(delivered, []);
  assert.ok(refusedByLength > 0, 'some length flips are refused by the frame limits');
  // Sanity: the unmodified frame is delivered by the same path.
  const decoder = new FrameDecoder(() => RECORD_LIMITS);
  decoder.push(frame);
  const { frames } = drain(decoder);
  assert.equal(frames.length, 1);
  assert.ok(new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(frames[0] as Buffer).ok);
});

test('[ATM-3.3] a bad version byte or an unknown type is refused even under a valid MAC', () => {
  const keys = handshake().kioskKeys;
  const open = (version: number, type: number): ReturnType<RecordOpener['open']> =>
    new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(
      forgeWithKeys(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST, 0, version, type, text('{"id":1,"op":"ping"}')),
    );
  assert.ok(open(0x02, RECORD_TYPE_DATA).ok, 'the field-by-field construction matches the sealer');
  for (const version of [0x00, 0x01, 0x03, 0xff]) {
    const result = open(version, RECORD_TYPE_DATA);
    assert.ok(!result.ok && result.closeReason === 'VERSION', `version ${version}`);
  }
  for (const type of [0x00, 0x01, 0x14, 0x16, 0x18, 0xff]) {
    const result = open(0x02, type);
    assert.ok(
      !result.ok && result.closeReason === 'RECORD_TYPE',
      `type ${type}: ${result.ok ? 'accepted' : result.closeReason}`,
    );
  }
});

test('[ATM-3.3] bodies shorter than 34 or longer than 16384 bytes are refused', () => {
  const keys = handshake().kioskKeys.kioskToHost;
  for (const length of [0, 1, 2, RECORD_OVERHEAD_BYTES - 1, FRAME_BYTES_MAX + 1]) {
    const opener = new RecordOpener(keys, DIRECTION_KIOSK_TO_HOST); // a failure is final, so one opener per case
    const bytes = Buffer.alloc(length, 0);
    if (length > 0) bytes[0] = 0x02;
    const result = opener.open(bytes);
    assert.ok(!result.ok && result.closeReason === 'FRAME_LENGTH', `length ${length}`);
  }
});

test('[ATM-3.3] after one failure the opener refuses even a valid record', () => {
  const keys = handshake().kioskKeys.kioskToHost;
  const sealer = new RecordSealer(keys, DIRECTION_KIOSK_TO_HOST);
  const opener = new RecordOpener(keys, DIRECTION_KIOSK_TO_HOST);
  const valid = body(sealer.seal(RECORD_TYPE_DATA, text('first')));
  const tampered = Buffer.from(valid);
  tampered[5] = (tampered[5] as number) ^ 0x01;
  assert.equal(opener.open(tampered).ok, false);
  const after = opener.open(valid);
  assert.ok(!after.ok && after.reason.includes('already failed'), 'a failed record layer stays failed');
});

test('[ATM-3.6] at the sequence limit the sender refuses to seal and the receiver refuses to open', () => {
  const keys = handshake().kioskKeys;
  const limit = 3;
  const sealer = new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST, limit);
  const opener = new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST, limit);
  for (let index = 0; index < limit; index++)
    assert.ok(opener.open(body(sealer.seal(RECORD_TYPE_DATA, text(`${index}`)))).ok, `record ${index}`);
  assert.throws(() => sealer.seal(RECORD_TYPE_CLOSE, Buffer.alloc(0)), /sequence/);
  // A sender with a higher limit can produce the next record, and it still is not opened.
  const unbounded = new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST);
  const frames = [0, 1, 2, 3].map((index) => unbounded.seal(RECORD_TYPE_DATA, text(`${index}`)));
  const result = opener.open(body(frames[3] as Buffer));
  assert.ok(!result.ok && result.closeReason === 'SEQUENCE_LIMIT', 'SEQUENCE_LIMIT');
  assert.equal(opener.recordsOpened, limit);
});

// ---------------------------------------------------------------- [ATM-4] messages

const VALID_REQUESTS: Record<string, unknown>[] = [
  { id: 0, op: 'register', username: 'alice', password: 'correct horse battery' },
  { id: 1, op: 'login', username: 'alice', password: 'correct horse battery' },
  { id: 2, op: 'logout' },
  { id: 3, op: 'balance' },
  { id: 4, op: 'deposit', txnId: 'txn-0001', amountCents: 15000 },
  { id: 5, op: 'withdraw.hold', txnId: 'txn_0002', amountCents: 2000 },
  { id: 6, op: 'withdraw.post', txnId: 'txn_0002', dispensedCents: 2000 },
  { id: 7, op: 'withdraw.void', txnId: 'TXN0003xyz', reason: 'dispenser jam' },
  { id: Number.MAX_SAFE_INTEGER, op: 'ping' },
];

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value), 'utf8');

test('[ATM-4.2] parseRequest accepts every op with exactly its fields', () => {
  assert.equal(new Set(VALID_REQUESTS.map((request) => request.op)).size, 9);
  for (const request of VALID_REQUESTS) {
    const parsed = parseRequest(json(request));
    assert.ok(parsed.ok, `${String(request.op)}: ${parsed.ok ? '' : parsed.reason}`);
    assert.deepEqual(parsed.request, request);
  }
});

test('[ATM-4.3] parseRequest refuses an unknown field on every op, __proto__ included', () => {
  for (const request of VALID_REQUESTS) {
    const parsed = parseRequest(json({ ...request, extra: 1 }));
    assert.ok(!parsed.ok && parsed.reason === 'unknown field extra' && parsed.id === request.id, String(request.op));
  }
  const proto = parseRequest(text('{"id":1,"op":"ping","__proto__":{"admin":true}}'));
  assert.ok(!proto.ok && proto.reason.includes('__proto__'));
  const fieldOfOtherOp = parseRequest(json({ id: 1, op: 'balance', amountCents: 5 }));
  assert.equal(fieldOfOtherOp.ok, false, "another op's field");
});

test('[ATM-4.3] parseRequest refuses wrong types and names the field kind for the decline mapping', () => {
  const cases: [string, Record<string, unknown>, string | undefined][] = [
    ['id as a string', { id: '1', op: 'ping' }, undefined],
    ['negative id', { id: -1, op: 'ping' }, undefined],
    ['fractional id', { id: 1.5, op: 'ping' }, undefined],
    ['id beyond 2^53', { id: 2 ** 53, op: 'ping' }, undefined],
    ['missing id', { op: 'ping' }, undefined],
    ['amount as a string', { id: 1, op: 'deposit', txnId: 'txn-0001', amountCents: '100' }, 'cents'],
    ['missing amount', { id: 1, op: 'withdraw.hold', txnId: 'txn-0001' }, 'cents'],
    ['dispensed as null', { id: 1, op: 'withdraw.post', txnId: 'txn-0001', dispensedCents: null }, 'cents'],
    ['username as a number', { id: 1, op: 'register', username: 5, password: 'correct horse' }, 'username'],
    ['username of 65 chars', { id: 1, op: 'login', username: 'a'.repeat(65), password: 'correct horse' }, 'username'],
    ['password as null', { id: 1, op: 'login', username: 'alice', password: null }, 'password'],
    ['password of 1025 chars', { id: 1, op: 'register', username: 'alice', password: 'p'.repeat(1025) }, 'password'],
    ['txnId too short', { id: 1, op: 'deposit', txnId: 'short', amountCents: 100 }, 'txnId'],
    ['txnId with a space', { id: 1, op: 'deposit', txnId: 'txn 00001', amountCents: 100 }, 'txnId'],
    ['txnId of 65 chars', { id: 1, op: 'deposit', txnId: 't'.repeat(65), amountCents: 100 }, 'txnId'],
    ['reason as a number', { id: 1, op: 'withdraw.void', txnId: 'txn-0001', reason: 5 }, 'string'],
    ['reason of 257 chars', { id: 1, op: 'withdraw.void', txnId: 'txn-0001', reason: 'r'.repeat(257) }, 'string'],
  ];
  for (const [name, request, kind] of cases) {
    const parsed = parseRequest(json(request));
    assert.ok(!parsed.ok, `${name}: accepted`);
    assert.equal(parsed.kind, kind, `${name}: kind`);
  }
});

test('[ATM-4.3] parseRequest refuses unknown ops, including inherited property names', () => {
  for (const op of ['transfer', 'Ping', 'toString', '__proto__', 'constructor', 'hasOwnProperty', '', 42, null]) {
    const parsed = parseRequest(json({ id: 9, op }));
    assert.ok(!parsed.ok && parsed.reason === 'unknown op' && parsed.id === 9, String(op));
  }
});

test('[ATM-4.3] parseRequest refuses non-JSON, non-objects and oversize messages without throwing', () => {
  for (const raw of ['', '{', 'ping', '{"id":1,"op":"ping"', "{'id':1}", 'NaN']) {
    const parsed = parseRequest(text(raw));
    assert.ok(!parsed.ok && parsed.reason === 'not JSON' && parsed.id === null, JSON.stringify(raw));
  }
  assert.equal(parseRequest(Buffer.from([0xff, 0xfe, 0x00])).ok, false, 'invalid UTF-8');
  for (const raw of ['[]', '[{"id":1,"op":"ping"}]', '1', 'null', '"ping"', 'true']) {
    const parsed = parseRequest(text(raw));
    assert.ok(!parsed.ok && parsed.reason === 'not an object', raw);
  }
  const ping = '{"id":1,"op":"ping"}';
  const atLimit = text(ping + ' '.repeat(MESSAGE_BYTES_MAX - ping.length));
  assert.equal(atLimit.length, MESSAGE_BYTES_MAX);
  assert.equal(parseRequest(atLimit).ok, true, 'exactly 4096 bytes');
  const over = parseRequest(text(ping + ' '.repeat(MESSAGE_BYTES_MAX - ping.length + 1)));
  assert.ok(!over.ok && over.reason === 'message too large', '4097 bytes');
});

test('[ATM-4.4] parseResponse accepts well-formed answers and refuses unknown decline codes', () => {
  assert.deepEqual(parseResponse(text('{"id":1,"ok":true,"balanceCents":5}')), { id: 1, ok: true, balanceCents: 5 });
  assert.ok(parseResponse(text('{"id":2,"ok":false,"code":"BUSY","message":"Busy"}')) !== null);
  for (const raw of [
    '{"id":2,"ok":false,"code":"NOPE","message":"x"}',
    '{"id":"1","ok":true}',
    '{"id":1}',
    'null',
    '{',
    '{"id":1,"ok":"yes"}',
  ]) {
    assert.equal(parseResponse(text(raw)), null, raw);
  }
});

test('[ATM-4.3] parseDollars accepts plain amounts with at most two decimals', () => {
  const accepted: [string, number][] = [
    ['150', 15000],
    ['150.5', 15050],
    ['150.50', 15050],
    ['0.01', 1],
    ['0.1', 10],
    ['007', 700],
    [' 20 ', 2000],
    ['100000000.00', AMOUNT_CENTS_MAX],
  ];
  for (const [input, amountCents] of accepted) assert.deepEqual(parseDollars(input), { ok: true, amountCents }, input);
});

test('[ATM-4.3] parseDollars refuses signs, zero, extra decimals, exponents, separators and huge values', () => {
  for (const input of [
    '-1',
    '+1',
    '0',
    '0.00',
    '1.234',
    '1e3',
    'NaN',
    'Infinity',
    '',
    ' ',
    'abc',
    ' 1,000',
    '1 000',
    '1.',
    '.5',
    '0x10',
    '99999999999999999',
    '100000000.01',
    '１２',
  ]) {
    assert.equal(parseDollars(input).ok, false, JSON.stringify(input));
  }
});

test('[ATM-4.3] formatCents and parseDollars round-trip every valid amount', () => {
  assert.equal(formatCents(15000), '150.00');
  assert.equal(formatCents(1), '0.01');
  assert.equal(formatCents(-250), '-2.50');
  fc.assert(
    fc.property(fc.integer({ min: 1, max: AMOUNT_CENTS_MAX }), (amountCents) => {
      assert.deepEqual(parseDollars(formatCents(amountCents)), { ok: true, amountCents });
    }),
    { numRuns: 500 },
  );
});

// ---------------------------------------------------------------- properties (fast-check)

test('property: random chunks into FrameDecoder never throw and never yield a frame outside the limits', () => {
  const limitsArbitrary = fc.constantFrom<FrameLimits>(
    RECORD_LIMITS,
    { bodyBytesMin: M1_BYTES, bodyBytesMax: M1_BYTES },
    { bodyBytesMin: M3_BYTES, bodyBytesMax: M3_BYTES },
  );
  const chunk = fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.integer({ min: 0, max: 0xffffffff }).map((length) => new Uint8Array(header(length))),
  );
  fc.assert(
    fc.property(limitsArbitrary, fc.array(chunk, { maxLength: 20 }), (limits, chunks) => {
      const decoder = new FrameDecoder(() => limits);
      let pushed = 0;
      let taken = 0;
      let failed = false;
      for (const bytes of chunks) {
        decoder.push(Buffer.from(bytes));
        pushed += bytes.length;
        const { frames, error } = drain(decoder);
        for (const frame of frames) {
          assert.ok(!failed, 'no frame after a failure');
          assert.ok(frame.length >= limits.bodyBytesMin && frame.length <= limits.bodyBytesMax);
          taken += 4 + frame.length;
        }
        if (error !== null) failed = true;
      }
      if (!failed) assert.equal(taken + decoder.pendingBytes, pushed, 'bytes are neither lost nor invented');
    }),
    { numRuns: 500 },
  );
});

test('property: parseRequest never throws on random bytes or random JSON, and accepts only schema-valid requests', () => {
  const ops = new Set(VALID_REQUESTS.map((request) => request.op));
  fc.assert(
    fc.property(fc.uint8Array({ maxLength: 5000 }), (bytes) => {
      assert.equal(parseRequest(bytes).ok, false);
    }),
    { numRuns: 300 },
  );
  const opArbitrary = fc.constantFrom(...ops, 'transfer', '__proto__');
  const requestLike = fc.record(
    {
      id: fc.oneof(fc.nat(), fc.integer(), fc.double(), fc.string()),
      op: opArbitrary,
      username: fc.oneof(fc.string(), fc.integer()),
      password: fc.oneof(fc.string(), fc.constant(null)),
      txnId: fc.oneof(fc.string({ minLength: 8, maxLength: 12 }), fc.string()),
      amountCents: fc.oneof(fc.integer(), fc.string()),
      dispensedCents: fc.integer(),
      reason: fc.string(),
      extra: fc.jsonValue(),
    },
    { requiredKeys: [] },
  );
  fc.assert(
    fc.property(fc.oneof(fc.jsonValue(), requestLike), (value) => {
      // JSON.stringify gives undefined for undefined and functions, whatever its declared type says.
      const json = JSON.stringify(value) as string | undefined;
      const parsed = parseRequest(text(json ?? 'null'));
      if (!parsed.ok) return;
      const request = parsed.request as unknown as Record<string, unknown>;
      assert.ok(ops.has(request.op), 'only known ops');
      assert.ok(Number.isSafeInteger(request.id) && (request.id as number) >= 0);
      const allowed = Object.keys(VALID_REQUESTS.find((valid) => valid.op === request.op) ?? {});
      for (const key of Object.keys(request)) assert.ok(allowed.includes(key), `field ${key} on ${String(request.op)}`);
      for (const key of allowed) assert.ok(Object.hasOwn(request, key), `missing ${key}`);
      if ('txnId' in request) assert.match(String(request.txnId), /^[A-Za-z0-9_-]{8,64}$/);
      for (const key of ['amountCents', 'dispensedCents'])
        if (key in request) assert.equal(typeof request[key], 'number');
      for (const key of ['username', 'password', 'reason'])
        if (key in request) assert.equal(typeof request[key], 'string');
    }),
    { numRuns: 1000 },
  );
});

test('property: RecordOpener.open never throws and never accepts random or mutated bodies', () => {
  const keys = handshake().kioskKeys;
  const valid = body(
    new RecordSealer(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).seal(RECORD_TYPE_DATA, text('{"id":1,"op":"balance"}')),
  );
  const randomBody = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc
      .uint8Array({ minLength: 32, maxLength: 300 })
      .map((bytes) => Buffer.concat([Buffer.from([0x02, RECORD_TYPE_DATA]), bytes])),
  );
  fc.assert(
    fc.property(randomBody, (bytes) => {
      assert.equal(new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(bytes).ok, false);
    }),
    { numRuns: 500 },
  );
  // Mutations of a valid record: XOR one or more bytes with a non-zero mask.
  const mutation = fc.array(fc.tuple(fc.nat({ max: valid.length - 1 }), fc.integer({ min: 1, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(mutation, (edits) => {
      const mutated = Buffer.from(valid);
      for (const [index, mask] of edits) mutated[index] = (mutated[index] as number) ^ mask;
      fc.pre(!mutated.equals(valid));
      assert.equal(new RecordOpener(keys.kioskToHost, DIRECTION_KIOSK_TO_HOST).open(mutated).ok, false);
    }),
    { numRuns: 500 },
  );
});

test('property: hostCheckHello never throws and never accepts random or mutated hellos', () => {
  const kid = Buffer.alloc(16);
  kid.write(KIOSK_ID, 'ascii');
  const hello = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    // Right length, version, type and a known kid: the MAC is what must stop it.
    fc
      .uint8Array({ minLength: M1_BYTES - 18, maxLength: M1_BYTES - 18 })
      .map((rest) => Buffer.concat([Buffer.from([0x02, 0x01]), kid, rest])),
  );
  fc.assert(
    fc.property(hello, fc.integer({ min: T0 - 60_000, max: T0 + 60_000 }), (bytes, nowMs) => {
      assert.equal(hostCheckHello(bytes, lookupFor(PSK), DUMMY_PSK, nowMs).ok, false);
    }),
    { numRuns: 500 },
  );
  const mutation = fc.array(fc.tuple(fc.nat({ max: M1_BYTES - 1 }), fc.integer({ min: 1, max: 255 })), {
    minLength: 1,
    maxLength: 4,
  });
  fc.assert(
    fc.property(mutation, (edits) => {
      const mutated = Buffer.from(FIXED.m1);
      for (const [index, mask] of edits) mutated[index] = (mutated[index] as number) ^ mask;
      fc.pre(!mutated.equals(FIXED.m1));
      assert.equal(hostCheckHello(mutated, lookupFor(PSK), DUMMY_PSK, T0).ok, false);
    }),
    { numRuns: 500 },
  );
});

test('property: kioskFinish never throws and never accepts a random m2', () => {
  const m2 = fc.oneof(
    fc.uint8Array({ maxLength: 200 }),
    fc
      .uint8Array({ minLength: M2_BYTES - 2, maxLength: M2_BYTES - 2 })
      .map((rest) => Buffer.concat([Buffer.from([0x02, 0x02]), rest])),
  );
  fc.assert(
    fc.property(m2, (bytes) => {
      assert.equal(kioskFinish(freshKioskState(), bytes).ok, false);
    }),
    { numRuns: 200 },
  );
});
