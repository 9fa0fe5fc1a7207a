// [ATM-3] The record layer under fuzzing, both directions (the host opening the kiosk's records
// and the kiosk opening the host's). A run opens some genuine records, then one attacked record:
// a bit flipped, truncated, extended, sealed under another sequence number (a dropped record, a
// stale one re-sealed), the previous record replayed, an older one replayed, reflected from the
// other direction, or spliced from another session. Properties, as record.ts states its contract:
//   - the attacked record is refused with the close reason the order of checks gives (length,
//     version, sequence limit, MAC), and nothing is thrown;
//   - a refusal changes no state: the opener's next expected sequence number (recordsOpened) is
//     what it was; the keys are readonly and the opener never sees another;
//   - the failure is final ("any failure is final for the session"): the genuine next record is
//     refused too, and through SecureChannel the receiving side closes with that reason and
//     delivers nothing more.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { SecureChannel } from '../../protocol/channel.js';
import type { SessionCloseReason } from '../../protocol/errors.js';
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES, encodeFrame } from '../../protocol/frame.js';
import { PROTOCOL_VERSION, type DirectionKeys } from '../../protocol/handshake.js';
import {
  DIRECTION_HOST_TO_KIOSK,
  DIRECTION_KIOSK_TO_HOST,
  RECORD_OVERHEAD_BYTES,
  RECORD_SEQUENCE_MAX,
  RECORD_TYPE_DATA,
  RecordOpener,
  RecordSealer,
} from '../../protocol/record.js';
import { checkProperty, fuzzSeed, splitRuns, type FuzzOptions } from './fuzz-core.js';
import {
  FUZZ_KIOSK_ID,
  FUZZ_PSK,
  FUZZ_T0_MS,
  entropyRandom,
  fuzzHostPolicy,
  genuineHandshake,
} from './fuzz-handshake.js';
import { WatchedChannel } from './fuzz-wire.js';

export const RECORD_MUTATIONS = [
  'flip',
  'truncate',
  'extend',
  'skip',
  'stale',
  'replay',
  'resealStale',
  'reflect',
  'splice',
] as const;
export type RecordMutation = (typeof RECORD_MUTATIONS)[number];

export interface RecordFuzzCounts {
  runs: number;
  /** Records given to an opener (genuine, attacked, and genuine after a refusal). */
  records: number;
  accepted: number;
  rejected: number;
  byMutation: Record<RecordMutation, number>;
  /** Runs through a pair of real SecureChannels rather than the bare opener. */
  channelRuns: number;
}

type Mutation =
  | { kind: 'flip'; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'extend'; extra: Uint8Array }
  | { kind: 'skip'; ahead: number }
  | { kind: 'stale' | 'reflect' | 'splice' }
  | { kind: 'replay' | 'resealStale'; back: number };

const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.nat().map((bit) => ({ kind: 'flip' as const, bit })),
  fc.nat().map((keep) => ({ kind: 'truncate' as const, keep })),
  fc.uint8Array({ minLength: 1, maxLength: 40 }).map((extra) => ({ kind: 'extend' as const, extra })),
  fc.integer({ min: 1, max: 3 }).map((ahead) => ({ kind: 'skip' as const, ahead })),
  fc.constantFrom({ kind: 'stale' as const }, { kind: 'reflect' as const }, { kind: 'splice' as const }),
  fc.record({ kind: fc.constantFrom('replay' as const, 'resealStale' as const), back: fc.nat() }),
);

/** Mutations that need an earlier record (so at least one genuine record goes first). */
const needsEarlier = (kind: Mutation['kind']): boolean => ['stale', 'replay', 'resealStale'].includes(kind);

const plaintext = fc.oneof(
  { weight: 9, arbitrary: fc.uint8Array({ maxLength: 64 }) },
  { weight: 1, arbitrary: fc.uint8Array({ maxLength: 2048 }) },
);

interface RecordCase {
  hostReceives: boolean;
  plaintexts: Uint8Array[];
  attackAt: number;
  mutation: Mutation;
  /** Opener's sequence limit = attacked position + slack; null: the real limit. */
  limitSlack: number | null;
}

const recordCase: fc.Arbitrary<RecordCase> = fc.record({
  hostReceives: fc.boolean(),
  plaintexts: fc.array(plaintext, { minLength: 2, maxLength: 7 }),
  attackAt: fc.nat(),
  mutation,
  limitSlack: fc.oneof({ weight: 4, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 2 }) }),
});

/** Where the attack lands: an index with enough genuine records before it. */
function attackIndex(testCase: RecordCase): number {
  const index = testCase.attackAt % testCase.plaintexts.length;
  return needsEarlier(testCase.mutation.kind) ? Math.max(1, index) : index;
}

interface Keys {
  receive: DirectionKeys;
  direction: number;
  /** The other direction's keys and byte (a record reflected back). */
  reverse: DirectionKeys;
  reverseDirection: number;
  /** The same direction of another session of the same kiosk (a spliced record). */
  other: DirectionKeys;
}

let sessions: { main: ReturnType<typeof genuineHandshake>; other: ReturnType<typeof genuineHandshake> } | null = null;
function keysFor(hostReceives: boolean): Keys {
  sessions ??= { main: genuineHandshake(-11), other: genuineHandshake(-12) };
  const { main, other } = sessions;
  return hostReceives
    ? {
        receive: main.keys.kioskToHost,
        direction: DIRECTION_KIOSK_TO_HOST,
        reverse: main.keys.hostToKiosk,
        reverseDirection: DIRECTION_HOST_TO_KIOSK,
        other: other.keys.kioskToHost,
      }
    : {
        receive: main.keys.hostToKiosk,
        direction: DIRECTION_HOST_TO_KIOSK,
        reverse: main.keys.kioskToHost,
        reverseDirection: DIRECTION_KIOSK_TO_HOST,
        other: other.keys.hostToKiosk,
      };
}

/** A record body sealed at `sequence` (the sealer is wound forward with empty records). */
function sealAt(keys: DirectionKeys, direction: number, sequence: number, bytes: Uint8Array): Buffer {
  const sealer = new RecordSealer(keys, direction);
  while (sealer.recordsSealed < sequence) sealer.seal(RECORD_TYPE_DATA, Buffer.alloc(0));
  return sealer.seal(RECORD_TYPE_DATA, bytes).subarray(FRAME_HEADER_BYTES);
}

/** The attacked record in place of genuine[n]; only the first five kinds need nothing but bytes. */
function attacked(testCase: RecordCase, keys: Keys, genuine: readonly Buffer[], n: number): Buffer {
  const target = genuine[n] ?? Buffer.alloc(0);
  const bytes = testCase.plaintexts[n] ?? new Uint8Array(0);
  const move = testCase.mutation;
  switch (move.kind) {
    case 'flip': {
      const copy = Buffer.from(target);
      const bit = move.bit % (copy.length * 8);
      copy[bit >> 3] = (copy[bit >> 3] as number) ^ (1 << (bit & 7));
      return copy;
    }
    case 'truncate':
      return Buffer.from(target.subarray(0, move.keep % target.length));
    case 'extend':
      return Buffer.concat([target, move.extra]);
    case 'skip':
      return sealAt(keys.receive, keys.direction, n + move.ahead, bytes);
    case 'stale':
      return Buffer.from(genuine[n - 1] ?? Buffer.alloc(0));
    case 'replay':
      return Buffer.from(genuine[move.back % n] ?? Buffer.alloc(0));
    case 'resealStale':
      return sealAt(keys.receive, keys.direction, n - 1 - (move.back % n), bytes);
    case 'reflect':
      return sealAt(keys.reverse, keys.reverseDirection, n, bytes);
    case 'splice':
      return sealAt(keys.other, keys.direction, n, bytes);
    default: {
      const exhaustive: never = move;
      return exhaustive;
    }
  }
}

/** [ATM-3.3] The reason the order of checks gives an attacked record (the attacker has no MAC key). */
function expectedReason(body: Buffer, sequence: number, sequenceMax: number): SessionCloseReason {
  if (body.length < RECORD_OVERHEAD_BYTES || body.length > FRAME_BYTES_MAX) return 'FRAME_LENGTH';
  if (body[0] !== PROTOCOL_VERSION) return 'VERSION';
  if (sequence >= sequenceMax) return 'SEQUENCE_LIMIT';
  return 'BAD_MAC';
}

function openerProperty(counts: RecordFuzzCounts): fc.IProperty<[RecordCase]> {
  return fc.property(recordCase, (testCase) => {
    counts.runs += 1;
    counts.byMutation[testCase.mutation.kind] += 1;
    const keys = keysFor(testCase.hostReceives);
    const sealer = new RecordSealer(keys.receive, keys.direction);
    const genuine = testCase.plaintexts.map((bytes) =>
      sealer.seal(RECORD_TYPE_DATA, bytes).subarray(FRAME_HEADER_BYTES),
    );
    const n = attackIndex(testCase);
    const sequenceMax = testCase.limitSlack === null ? RECORD_SEQUENCE_MAX : n + testCase.limitSlack;
    const opener = new RecordOpener(keys.receive, keys.direction, sequenceMax);
    for (let index = 0; index < n; index++) {
      const opened = opener.open(genuine[index] ?? Buffer.alloc(0));
      counts.records += 1;
      assert.ok(opened.ok, `genuine record ${index} refused: ${opened.ok ? '' : opened.reason}`);
      assert.ok(opened.plaintext.equals(testCase.plaintexts[index] ?? new Uint8Array(0)), 'plaintext differs');
      counts.accepted += 1;
    }
    const bad = attacked(testCase, keys, genuine, n);
    const result = opener.open(bad);
    counts.records += 1;
    if (result.ok) assert.fail(`the record layer accepted a '${testCase.mutation.kind}' record at seq ${n}`);
    counts.rejected += 1;
    assert.equal(result.closeReason, expectedReason(bad, n, sequenceMax), 'close reason');
    assert.equal(opener.recordsOpened, n, 'a refused record moved the expected sequence number');
    // The contract: the first failure is final, so the genuine record is refused after it too.
    const next = opener.open(genuine[n] ?? Buffer.alloc(0));
    counts.records += 1;
    assert.equal(next.ok, false, 'the opener took a record after a refusal');
    counts.rejected += 1;
    assert.equal(opener.recordsOpened, n, 'the sequence number moved after a refusal');
  });
}

/** Mutations a man in the middle makes from the frames on the wire alone (no sealer to hand). */
const WIRE_MUTATIONS: ReadonlySet<Mutation['kind']> = new Set(['flip', 'truncate', 'extend', 'stale', 'replay']);

/** A kiosk and a host channel, handshake done over two FuzzWires. */
function channelPair(entropy: number): { kiosk: WatchedChannel; host: WatchedChannel } {
  const random = entropyRandom(entropy);
  const nowMs = (): number => FUZZ_T0_MS;
  const kiosk = new WatchedChannel((stream, events) =>
    SecureChannel.connect({
      stream,
      kioskId: FUZZ_KIOSK_ID,
      psk: Buffer.from(FUZZ_PSK),
      nowMs,
      randomBytes: random,
      events,
    }),
  );
  const host = new WatchedChannel((stream, events) =>
    SecureChannel.accept({ stream, nowMs, randomBytes: random, events }, fuzzHostPolicy()),
  );
  host.wire.deliver(kiosk.wire.takeWritten());
  kiosk.wire.deliver(host.wire.takeWritten());
  host.wire.deliver(kiosk.wire.takeWritten());
  assert.ok(kiosk.channel.isOpen && host.opened === 1, 'the genuine handshake did not open');
  return { kiosk, host };
}

function channelProperty(counts: RecordFuzzCounts): fc.IProperty<[RecordCase, number]> {
  const wireCase = recordCase.filter((testCase) => WIRE_MUTATIONS.has(testCase.mutation.kind));
  return fc.property(wireCase, fc.nat(), (testCase, entropy) => {
    counts.runs += 1;
    counts.channelRuns += 1;
    counts.byMutation[testCase.mutation.kind] += 1;
    const { kiosk, host } = channelPair(entropy);
    const [sender, receiver] = testCase.hostReceives ? [kiosk, host] : [host, kiosk];
    try {
      const frames = testCase.plaintexts.map((bytes) => {
        assert.ok(sender.channel.send(Buffer.from(bytes)));
        return sender.wire.takeWritten().subarray(FRAME_HEADER_BYTES);
      });
      const n = attackIndex(testCase);
      for (let index = 0; index < n; index++) receiver.wire.deliver(encodeFrame(frames[index] ?? Buffer.alloc(0)));
      counts.records += n;
      counts.accepted += n;
      assert.equal(receiver.messages.length, n, 'genuine records delivered');
      const bad = attacked(testCase, keysFor(testCase.hostReceives), frames, n);
      // The attacker rewrites the length prefix to fit, so the record layer (not the decoder) judges.
      receiver.wire.deliver(encodeFrame(bad));
      receiver.wire.deliver(encodeFrame(frames[n] ?? Buffer.alloc(0)));
      counts.records += 2;
      counts.rejected += 2;
      assert.equal(receiver.closeReason, expectedReason(bad, n, RECORD_SEQUENCE_MAX), 'close reason');
      assert.equal(receiver.closeFault, null, receiver.closeFault ?? '');
      assert.equal(receiver.messages.length, n, 'a message after the refusal');
      assert.equal(receiver.channel.isOpen, false);
    } finally {
      kiosk.retire();
      host.retire();
    }
  });
}

/** [ATM-3] fuzzing of RecordOpener, and of the same attacks through a pair of real channels. */
export function runRecordFuzz(options: FuzzOptions): RecordFuzzCounts {
  const seed = fuzzSeed(options.seed);
  const byMutation = Object.fromEntries(RECORD_MUTATIONS.map((kind) => [kind, 0])) as Record<RecordMutation, number>;
  const counts: RecordFuzzCounts = { runs: 0, records: 0, accepted: 0, rejected: 0, byMutation, channelRuns: 0 };
  const runs = splitRuns(options.runs, { opener: 9, channel: 1 });
  checkProperty('record: an attacked record is refused and changes nothing', openerProperty(counts), runs.opener, seed);
  checkProperty('record: through SecureChannel the receiver closes', channelProperty(counts), runs.channel, seed);
  return counts;
}
