// [ATM-2] The handshake state machine under fuzzing, through the real SecureChannel on both
// sides (a FuzzWire in place of the socket). The attacker holds no PSK but sees the wire: it can
// relay the genuine kiosk's m1 and the genuine host's m2 and m3 (mutated), answer the kiosk's
// m1 itself with a wrong PSK, replay messages of an earlier handshake, send low-order keys,
// random messages and record-shaped frames, each cut at arbitrary points. Properties: neither side
// ever opens; nothing is thrown; every refusal is one close with a catalogued reason; the host
// sends nothing but one m2, and only to the genuine m1; the kiosk sends nothing after m1.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SecureChannel, type HostPolicy } from '../../protocol/channel.js';
import { sha256, type RandomBytes } from '../../protocol/crypto.js';
import { encodeFrame } from '../../protocol/frame.js';
import {
  KID_BYTES,
  M1_BYTES,
  M2_BYTES,
  M3_BYTES,
  NONCE_BYTES,
  PROTOCOL_VERSION,
  encodeKioskId,
  hostCheckHello,
  hostFinish,
  hostRespond,
  kioskFinish,
  kioskStart,
  type ParsedHello,
  type SessionKeys,
} from '../../protocol/handshake.js';
import { applyXorEdits, checkProperty, fuzzSeed, splitRuns, xorEdits, type FuzzOptions } from './fuzz-core.js';
import { WatchedChannel } from './fuzz-wire.js';

export interface HandshakeFuzzCounts {
  runs: number;
  kioskRuns: number;
  hostRuns: number;
  /** Handshake-stage frames delivered to a channel. */
  messages: number;
  /** Runs that ended with the channel closed by a refusal. */
  refused: number;
  /** Channels that opened: must stay 0. */
  opened: number;
}

export const FUZZ_KIOSK_ID = 'kiosk-01';
export const FUZZ_T0_MS = Date.UTC(2026, 10, 27, 12, 0, 0);
export const FUZZ_PSK = Buffer.alloc(32, 0x5a);
const DUMMY_PSK = Buffer.alloc(32, 0xd0);

/** Deterministic randomness from a run's entropy, so a counterexample replays byte for byte. */
export function entropyRandom(entropy: number): RandomBytes {
  let counter = 0;
  return (lengthBytes) => {
    const out = Buffer.alloc(lengthBytes);
    for (let offset = 0; offset < lengthBytes; offset += 32) {
      const block = sha256(Buffer.from(`fuzz:${entropy}:${counter++}`));
      block.copy(out, offset, 0, Math.min(32, lengthBytes - offset));
    }
    return out;
  };
}

export interface RecordedHandshake {
  m1: Buffer;
  m2: Buffer;
  m3: Buffer;
  /** The session's keys as the kiosk derived them (the host's are equal). */
  keys: SessionKeys;
}

/** A genuine handshake (both sides with the PSK) from fixed randomness. */
export function genuineHandshake(entropy: number): RecordedHandshake {
  const kiosk = kioskStart({
    kioskId: FUZZ_KIOSK_ID,
    psk: FUZZ_PSK,
    nowMs: FUZZ_T0_MS,
    randomBytes: entropyRandom(entropy),
  });
  const check = hostCheckHello(kiosk.m1, () => Buffer.from(FUZZ_PSK), DUMMY_PSK, FUZZ_T0_MS);
  assert.ok(check.ok);
  const host = hostRespond(kiosk.m1, check.hello, FUZZ_PSK, entropyRandom(entropy + 0.5));
  assert.ok(host.ok);
  const finished = kioskFinish(kiosk.state, host.m2);
  assert.ok(finished.ok);
  assert.ok(hostFinish(host.pending, finished.m3).ok);
  return { m1: kiosk.m1, m2: host.m2, m3: finished.m3, keys: finished.keys };
}

/** The handshake whose messages the attacker replays, made once. */
let recorded: RecordedHandshake | null = null;
export function recordedHandshake(): RecordedHandshake {
  recorded ??= genuineHandshake(-1);
  return recorded;
}

/** What an attacker reads from an m1 without any key (the host's parse, minus the MAC check). */
function readHello(m1: Buffer): ParsedHello {
  const nonceStart = 2 + KID_BYTES + 8;
  return {
    kioskId: FUZZ_KIOSK_ID,
    timestampMs: FUZZ_T0_MS,
    kioskNonce: m1.subarray(nonceStart, nonceStart + NONCE_BYTES),
    kioskPublic: m1.subarray(nonceStart + NONCE_BYTES, nonceStart + NONCE_BYTES + 32),
  };
}

const LOW_ORDER_POINTS = [
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000000',
  'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
  '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
].map((hex) => Buffer.from(hex, 'hex'));

const randomFrame = fc.uint8Array({ maxLength: 160 }).map((bytes) => ({ kind: 'random' as const, bytes }));
const recordShaped = fc
  .uint8Array({ minLength: M3_BYTES - 2, maxLength: 80 })
  .map((rest) => ({ kind: 'record' as const, bytes: Buffer.concat([Buffer.from([PROTOCOL_VERSION, 0x17]), rest]) }));

type HostMove =
  | { kind: 'random' | 'record'; bytes: Uint8Array }
  | { kind: 'randomM1'; rest: Uint8Array }
  | { kind: 'mutatedM1' | 'mutatedM3'; edits: [number, number][] }
  | { kind: 'wrongPskM1'; kioskId: string; pskByte: number }
  | { kind: 'genuineM1' | 'recordedM1' | 'recordedM3' }
  | { kind: 'randomM3'; mac: Uint8Array };

const hostMove: fc.Arbitrary<HostMove> = fc.oneof(
  randomFrame,
  recordShaped,
  fc
    .uint8Array({ minLength: M1_BYTES - 18, maxLength: M1_BYTES - 18 })
    .map((rest) => ({ kind: 'randomM1' as const, rest })),
  xorEdits(4).map((edits) => ({ kind: 'mutatedM1' as const, edits })),
  xorEdits(4).map((edits) => ({ kind: 'mutatedM3' as const, edits })),
  fc.record({
    kind: fc.constant('wrongPskM1' as const),
    kioskId: fc.constantFrom(FUZZ_KIOSK_ID, 'kiosk-02', 'k'),
    pskByte: fc.integer({ min: 0, max: 255 }).filter((byte) => byte !== 0x5a),
  }),
  fc.constantFrom({ kind: 'genuineM1' as const }, { kind: 'recordedM1' as const }, { kind: 'recordedM3' as const }),
  fc.uint8Array({ minLength: 32, maxLength: 32 }).map((mac) => ({ kind: 'randomM3' as const, mac })),
);

type KioskMove =
  | { kind: 'random' | 'record'; bytes: Uint8Array }
  | { kind: 'randomM2'; rest: Uint8Array }
  | { kind: 'mutatedM2'; edits: [number, number][] }
  | { kind: 'wrongPskM2'; pskByte: number }
  | { kind: 'recordedM2' }
  | { kind: 'lowOrderM2'; point: number; mac: Uint8Array };

const kioskMove: fc.Arbitrary<KioskMove> = fc.oneof(
  randomFrame,
  recordShaped,
  fc
    .uint8Array({ minLength: M2_BYTES - 2, maxLength: M2_BYTES - 2 })
    .map((rest) => ({ kind: 'randomM2' as const, rest })),
  xorEdits(4).map((edits) => ({ kind: 'mutatedM2' as const, edits })),
  fc
    .integer({ min: 0, max: 255 })
    .map((pskByte) => ({ kind: 'wrongPskM2' as const, pskByte: pskByte === 0x5a ? 0 : pskByte })),
  fc.constant({ kind: 'recordedM2' as const }),
  fc.record({
    kind: fc.constant('lowOrderM2' as const),
    point: fc.nat({ max: LOW_ORDER_POINTS.length - 1 }),
    mac: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  }),
);

/** Cuts a frame's bytes at the run's cut points (each taken modulo the frame's length). */
function deliverCut(watched: WatchedChannel, frame: Buffer, cuts: readonly number[]): void {
  const offsets = [...new Set(cuts.map((cut) => cut % (frame.length + 1)))].sort((a, b) => a - b);
  let start = 0;
  for (const offset of [...offsets, frame.length]) {
    if (offset > start) watched.wire.deliver(frame.subarray(start, offset));
    start = offset;
    assert.equal(watched.channel.isOpen, false, 'the channel opened without the PSK');
  }
}

/** The host's policy in these fuzzers: the real PSK for FUZZ_KIOSK_ID, every verified hello admitted. */
export function fuzzHostPolicy(): HostPolicy {
  return {
    lookupPsk: (kioskId) => (kioskId === FUZZ_KIOSK_ID ? Buffer.from(FUZZ_PSK) : null),
    dummyPsk: DUMMY_PSK,
    admitHello: () => null, // admits every hello that verifies: the weakest policy, the hardest test
  };
}

function hostProperty(counts: HandshakeFuzzCounts): fc.IProperty<[HostMove[], number[], number]> {
  return fc.property(
    fc.array(hostMove, { minLength: 1, maxLength: 4 }),
    fc.array(fc.nat(), { maxLength: 4 }),
    fc.nat(),
    (moves, cuts, entropy) => {
      counts.runs += 1;
      counts.hostRuns += 1;
      const random = entropyRandom(entropy);
      const genuine = kioskStart({ kioskId: FUZZ_KIOSK_ID, psk: FUZZ_PSK, nowMs: FUZZ_T0_MS, randomBytes: random });
      let genuineM3: Buffer | null = null;
      const host = new WatchedChannel((stream, events) =>
        SecureChannel.accept({ stream, nowMs: () => FUZZ_T0_MS, randomBytes: random, events }, fuzzHostPolicy()),
      );
      try {
        for (const [index, move] of moves.entries()) {
          const m2 = host.wire.frames()[0];
          if (m2 !== undefined && genuineM3 === null) {
            // The genuine kiosk answers whatever m2 the host sent it (its Finished, to be mutated).
            const finished = kioskFinish(genuine.state, m2);
            genuineM3 = finished.ok ? finished.m3 : recordedHandshake().m3;
          }
          deliverCut(host, encodeFrame(hostMessage(move, genuine.m1, genuineM3)), cuts);
          counts.messages += 1;
          // A genuine m1, relayed or replayed (the bank's replay cache is not in this policy), gets m2.
          const relayedHello = index === 0 && (move.kind === 'genuineM1' || move.kind === 'recordedM1');
          if (!relayedHello) assert.notEqual(host.closeReason, null, `host still waiting after ${move.kind}`);
        }
        assert.equal(host.opened, 0, 'the host opened a session without the PSK');
        assert.equal(host.closeFault, null, host.closeFault ?? '');
        const sent = host.wire.frames();
        assert.ok(sent.length <= 1, 'the host sent more than m2 before a verified m3');
        if (sent.length === 1) {
          assert.ok(['genuineM1', 'recordedM1'].includes(moves[0]?.kind ?? ''), 'm2 answered a forged m1');
          assert.equal(sent[0]?.length, M2_BYTES);
        }
        if (host.closeReason !== null) counts.refused += 1;
      } finally {
        counts.opened += host.opened;
        host.retire();
      }
    },
  );
}

function hostMessage(move: HostMove, genuineM1: Buffer, genuineM3: Buffer | null): Buffer {
  switch (move.kind) {
    case 'random':
    case 'record':
      return Buffer.from(move.bytes);
    case 'randomM1':
      return Buffer.concat([Buffer.from([PROTOCOL_VERSION, 0x01]), encodeKioskId(FUZZ_KIOSK_ID), move.rest]);
    case 'mutatedM1':
      return applyXorEdits(genuineM1, move.edits);
    case 'mutatedM3':
      return applyXorEdits(genuineM3 ?? recordedHandshake().m3, move.edits);
    case 'wrongPskM1':
      return kioskStart({
        kioskId: move.kioskId,
        psk: Buffer.alloc(32, move.pskByte),
        nowMs: FUZZ_T0_MS,
        randomBytes: entropyRandom(move.pskByte),
      }).m1;
    case 'genuineM1':
      return genuineM1;
    case 'recordedM1':
      return recordedHandshake().m1;
    case 'recordedM3':
      return recordedHandshake().m3;
    case 'randomM3':
      return Buffer.concat([Buffer.from([PROTOCOL_VERSION, 0x03]), move.mac]);
    default: {
      const exhaustive: never = move;
      return exhaustive;
    }
  }
}

function kioskProperty(counts: HandshakeFuzzCounts): fc.IProperty<[KioskMove[], number[], number]> {
  return fc.property(
    fc.array(kioskMove, { minLength: 1, maxLength: 3 }),
    fc.array(fc.nat(), { maxLength: 4 }),
    fc.nat(),
    (moves, cuts, entropy) => {
      counts.runs += 1;
      counts.kioskRuns += 1;
      const random = entropyRandom(entropy);
      const kiosk = new WatchedChannel((stream, events) =>
        SecureChannel.connect({
          stream,
          kioskId: FUZZ_KIOSK_ID,
          psk: Buffer.from(FUZZ_PSK),
          nowMs: () => FUZZ_T0_MS,
          randomBytes: random,
          events,
        }),
      );
      try {
        const m1 = kiosk.wire.frames()[0];
        assert.ok(m1?.length === M1_BYTES, 'the kiosk starts with m1');
        for (const move of moves) {
          deliverCut(kiosk, encodeFrame(kioskMessage(move, m1, random)), cuts);
          counts.messages += 1;
          assert.notEqual(kiosk.closeReason, null, `kiosk still waiting after ${move.kind}`);
        }
        assert.equal(kiosk.channel.isOpen, false, 'the kiosk opened a session without the PSK');
        assert.equal(kiosk.closeFault, null, kiosk.closeFault ?? '');
        assert.equal(kiosk.wire.frames().length, 1, 'the kiosk sent something after m1 (an m3 or a record)');
        counts.refused += 1;
      } finally {
        counts.opened += kiosk.channel.isOpen ? 1 : 0;
        kiosk.retire();
      }
    },
  );
}

function kioskMessage(move: KioskMove, m1: Buffer, random: RandomBytes): Buffer {
  switch (move.kind) {
    case 'random':
    case 'record':
      return Buffer.from(move.bytes);
    case 'randomM2':
      return Buffer.concat([Buffer.from([PROTOCOL_VERSION, 0x02]), move.rest]);
    case 'mutatedM2': {
      // The genuine host (with the PSK) answers this very m1; the attacker changes its answer.
      const check = hostCheckHello(m1, () => Buffer.from(FUZZ_PSK), DUMMY_PSK, FUZZ_T0_MS);
      assert.ok(check.ok, 'the genuine host refused the kiosk m1');
      const answer = hostRespond(m1, check.hello, FUZZ_PSK, random);
      assert.ok(answer.ok);
      return applyXorEdits(answer.m2, move.edits);
    }
    case 'wrongPskM2': {
      const answer = hostRespond(m1, readHello(m1), Buffer.alloc(32, move.pskByte), random);
      assert.ok(answer.ok);
      return answer.m2;
    }
    case 'recordedM2':
      return recordedHandshake().m2;
    case 'lowOrderM2': {
      const point = LOW_ORDER_POINTS[move.point] ?? Buffer.alloc(32);
      return Buffer.concat([Buffer.from([PROTOCOL_VERSION, 0x02]), random(NONCE_BYTES), point, move.mac]);
    }
    default: {
      const exhaustive: never = move;
      return exhaustive;
    }
  }
}

/** [ATM-2] fuzzing of the handshake through SecureChannel, kiosk side and host side. */
export function runHandshakeFuzz(options: FuzzOptions): HandshakeFuzzCounts {
  const seed = fuzzSeed(options.seed);
  const counts: HandshakeFuzzCounts = { runs: 0, kioskRuns: 0, hostRuns: 0, messages: 0, refused: 0, opened: 0 };
  const runs = splitRuns(options.runs, { host: 1, kiosk: 1 });
  checkProperty('handshake: the host never opens without the PSK', hostProperty(counts), runs.host, seed);
  checkProperty('handshake: the kiosk never opens without the PSK', kioskProperty(counts), runs.kiosk, seed);
  return counts;
}
