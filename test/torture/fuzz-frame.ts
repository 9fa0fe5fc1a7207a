// [ATM-1] The frame decoder under fuzzing, on both sides of a session: the kiosk expects m2 then
// records, the host m1, m3 then records (frameLimitsFor follows the state after each frame, as
// SecureChannel does). Two properties:
//   stream   a valid frame stream decodes to the same frames however it is chunked, and the
//            decoder never holds more than one partial frame;
//   hostile  arbitrary bytes, hostile length headers and frames of the wrong size, cut at
//            arbitrary points, decode exactly as a reference walk of the bytes says: frames
//            within the limits, then one FRAME_LENGTH reason as soon as a bad header is whole
//            (before any of its body is buffered), sticky after; nothing is ever thrown.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { frameLimitsFor, type ChannelState } from '../../protocol/channel-steps.js';
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES, FrameDecoder, type FrameLimits } from '../../protocol/frame.js';
import { M1_BYTES, M2_BYTES, M3_BYTES } from '../../protocol/handshake.js';
import { RECORD_OVERHEAD_BYTES } from '../../protocol/record.js';
import { checkProperty, fuzzSeed, splitRuns, type FuzzOptions } from './fuzz-core.js';

export interface FrameFuzzCounts {
  runs: number;
  /** Frames the decoder delivered or refused. */
  frames: number;
  accepted: number;
  rejected: number;
  bytes: number;
}

/** The states a side's decoder goes through, one per frame taken; the last one repeats. */
const SIDES: Record<string, readonly ChannelState[]> = {
  kiosk: ['awaitingServerHello', 'open'],
  host: ['awaitingHello', 'awaitingFinished', 'open'],
  open: ['open'],
};
const SIDE_NAMES = Object.keys(SIDES);

function limitsAt(side: string, frameIndex: number): FrameLimits {
  const states = SIDES[side] ?? ['open'];
  return frameLimitsFor(states[Math.min(frameIndex, states.length - 1)] ?? 'open');
}

/** A body whose bytes depend on its index, so a frame delivered out of place cannot compare equal. */
function patternBody(lengthBytes: number, pattern: number): Buffer {
  const body = Buffer.allocUnsafe(lengthBytes);
  for (let index = 0; index < lengthBytes; index++) body[index] = (pattern + index * 31) & 0xff;
  return body;
}

function framed(body: Buffer): Buffer {
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + body.length);
  frame.writeUInt32BE(body.length, 0);
  body.copy(frame, FRAME_HEADER_BYTES);
  return frame;
}

/** Cut points (any naturals) → sorted, distinct offsets inside the stream. */
function chunksOf(stream: Buffer, cuts: readonly number[]): Buffer[] {
  const offsets = [...new Set(cuts.map((cut) => cut % (stream.length + 1)))].sort((a, b) => a - b);
  const chunks: Buffer[] = [];
  let start = 0;
  for (const offset of [...offsets, stream.length]) {
    if (offset > start) chunks.push(stream.subarray(start, offset));
    start = offset;
  }
  return chunks;
}

/** Record body lengths: mostly small, sometimes the boundaries and sizes up to the cap. */
const recordBodyBytes = fc.oneof(
  { weight: 30, arbitrary: fc.integer({ min: RECORD_OVERHEAD_BYTES, max: 160 }) },
  { weight: 1, arbitrary: fc.constantFrom(RECORD_OVERHEAD_BYTES, FRAME_BYTES_MAX - 1, FRAME_BYTES_MAX) },
  { weight: 1, arbitrary: fc.integer({ min: RECORD_OVERHEAD_BYTES, max: FRAME_BYTES_MAX }) },
);

interface StreamCase {
  side: string;
  recordBodies: number[];
  pattern: number;
  cuts: number[];
  tailBytes: number;
}

const streamCase: fc.Arbitrary<StreamCase> = fc.record({
  side: fc.constantFrom(...SIDE_NAMES),
  recordBodies: fc.array(recordBodyBytes, { minLength: 1, maxLength: 16 }),
  pattern: fc.nat({ max: 255 }),
  cuts: fc.array(fc.nat(), { maxLength: 24 }),
  // A started frame left unfinished at the end: it must stay pending, never come out.
  tailBytes: fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.nat({ max: 40 }) }),
});

function streamBodies(testCase: StreamCase): Buffer[] {
  const handshake: Record<string, number[]> = { kiosk: [M2_BYTES], host: [M1_BYTES, M3_BYTES], open: [] };
  const sizes = [...(handshake[testCase.side] ?? []), ...testCase.recordBodies];
  return sizes.map((size, index) => patternBody(size, testCase.pattern + index * 7));
}

function streamProperty(counts: FrameFuzzCounts): fc.IProperty<[StreamCase]> {
  return fc.property(streamCase, (testCase) => {
    counts.runs += 1;
    const bodies = streamBodies(testCase);
    const whole = Buffer.concat(bodies.map(framed));
    const tail = framed(patternBody(RECORD_OVERHEAD_BYTES + testCase.tailBytes, 99));
    const tailBytes = Math.min(testCase.tailBytes, tail.length - 1);
    const stream = Buffer.concat([whole, tail.subarray(0, tailBytes)]);
    let taken = 0;
    const decoder = new FrameDecoder(() => limitsAt(testCase.side, taken));
    const decoded: Buffer[] = [];
    for (const chunk of chunksOf(stream, testCase.cuts)) {
      decoder.push(chunk);
      counts.bytes += chunk.length;
      for (let next = decoder.next(); next !== null; next = decoder.next()) {
        assert.ok(!('error' in next), `valid stream refused: ${'error' in next ? next.error.detail : ''}`);
        decoded.push(next.frame);
        taken += 1;
      }
      // Never more than one partial frame waits, and never one larger than the limit allows.
      assert.ok(decoder.pendingBytes < FRAME_HEADER_BYTES + limitsAt(testCase.side, taken).bodyBytesMax);
    }
    counts.frames += decoded.length;
    counts.accepted += decoded.length;
    assert.equal(decoded.length, bodies.length, 'every frame comes out, and only once');
    for (const [index, body] of bodies.entries()) assert.ok(decoded[index]?.equals(body), `frame ${index} differs`);
    assert.equal(decoder.pendingBytes, tailBytes, 'the unfinished frame stays pending');
  });
}

/** A piece of a hostile stream: raw bytes, a bare header (any length) or a whole frame of any size. */
type Segment = { raw: Uint8Array } | { header: number } | { frame: number; pattern: number };

const lengthHeader = fc.oneof(
  fc.integer({ min: 0, max: 0xffffffff }),
  fc.constantFrom(0, 1, 33, 34, 35, M3_BYTES, M2_BYTES, M1_BYTES, FRAME_BYTES_MAX, FRAME_BYTES_MAX + 1),
  fc.constantFrom(2 ** 31 - 1, 2 ** 31, 0xfffffffe, 0xffffffff, 0x7fffffff),
);
const segment: fc.Arbitrary<Segment> = fc.oneof(
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 48 }).map((raw) => ({ raw })) },
  { weight: 2, arbitrary: lengthHeader.map((header) => ({ header })) },
  {
    weight: 5,
    arbitrary: fc.record({
      frame: fc.oneof(
        fc.constantFrom(M1_BYTES, M2_BYTES, M3_BYTES, RECORD_OVERHEAD_BYTES),
        fc.integer({ min: 0, max: 200 }),
      ),
      pattern: fc.nat({ max: 255 }),
    }),
  },
);

function segmentBytes(piece: Segment): Buffer {
  if ('raw' in piece) return Buffer.from(piece.raw);
  if ('header' in piece) {
    const header = Buffer.alloc(FRAME_HEADER_BYTES);
    header.writeUInt32BE(piece.header, 0);
    return header;
  }
  return framed(patternBody(piece.frame, piece.pattern));
}

interface Walk {
  frames: { end: number; bytes: number }[];
  /** Byte offset at which the refusal is due (its header complete), or null. */
  errorAt: number | null;
}

/** The reference: walk the bytes by [ATM-1] with the side's limits, independent of chunking. */
function referenceWalk(stream: Buffer, side: string): Walk {
  const frames: Walk['frames'] = [];
  let offset = 0;
  while (stream.length - offset >= FRAME_HEADER_BYTES) {
    const bodyBytes = stream.readUInt32BE(offset);
    const limits = limitsAt(side, frames.length);
    if (bodyBytes < limits.bodyBytesMin || bodyBytes > limits.bodyBytesMax)
      return { frames, errorAt: offset + FRAME_HEADER_BYTES };
    if (stream.length - offset < FRAME_HEADER_BYTES + bodyBytes) break;
    offset += FRAME_HEADER_BYTES + bodyBytes;
    frames.push({ end: offset, bytes: bodyBytes });
  }
  return { frames, errorAt: null };
}

function hostileProperty(counts: FrameFuzzCounts): fc.IProperty<[string, Segment[], number[]]> {
  return fc.property(
    fc.constantFrom(...SIDE_NAMES),
    fc.array(segment, { minLength: 1, maxLength: 8 }),
    fc.array(fc.nat(), { maxLength: 16 }),
    (side, segments, cuts) => {
      counts.runs += 1;
      const stream = Buffer.concat(segments.map(segmentBytes));
      const expected = referenceWalk(stream, side);
      let taken = 0;
      let pushed = 0;
      let refusedAt: number | null = null;
      const decoder = new FrameDecoder(() => limitsAt(side, taken));
      for (const chunk of chunksOf(stream, cuts)) {
        decoder.push(chunk);
        pushed += chunk.length;
        counts.bytes += chunk.length;
        for (let next = decoder.next(); next !== null; next = decoder.next()) {
          if ('error' in next) {
            assert.equal(next.error.reason, 'FRAME_LENGTH');
            refusedAt ??= pushed;
            break; // the channel closes on the first refusal
          }
          const want = expected.frames[taken];
          assert.ok(want !== undefined && pushed >= want.end, 'a frame the bytes do not hold');
          assert.equal(next.frame.length, want.bytes);
          assert.ok(stream.subarray(want.end - want.bytes, want.end).equals(next.frame), 'frame bytes differ');
          taken += 1;
        }
        if (refusedAt !== null) break;
        assert.ok(decoder.pendingBytes < FRAME_HEADER_BYTES + limitsAt(side, taken).bodyBytesMax, 'over-buffered');
      }
      counts.frames += taken + (refusedAt === null ? 0 : 1);
      counts.accepted += taken;
      assert.equal(taken, expected.frames.length, 'frames delivered');
      if (expected.errorAt === null) {
        assert.equal(refusedAt, null, 'refused a stream the reference accepts');
        assert.equal(decoder.pendingBytes, stream.length - (expected.frames.at(-1)?.end ?? 0), 'the rest waits');
        return;
      }
      counts.rejected += 1;
      // Refused in the very push that completed the bad header: no body byte was awaited.
      assert.equal(refusedAt, chunkEndAt(stream, cuts, expected.errorAt), 'refused as soon as the header was whole');
      const again = decoder.next();
      assert.ok(again !== null && 'error' in again, 'a refusal is final');
    },
  );
}

/** Where the chunk holding byte `offset - 1` ends: the push after which `offset` bytes are in. */
function chunkEndAt(stream: Buffer, cuts: readonly number[], offset: number): number {
  let end = 0;
  for (const chunk of chunksOf(stream, cuts)) {
    end += chunk.length;
    if (end >= offset) return end;
  }
  return end;
}

/** [ATM-1] fuzzing of FrameDecoder; returns what it fed and what came out. */
export function runFrameFuzz(options: FuzzOptions): FrameFuzzCounts {
  const seed = fuzzSeed(options.seed);
  const counts: FrameFuzzCounts = { runs: 0, frames: 0, accepted: 0, rejected: 0, bytes: 0 };
  const runs = splitRuns(options.runs, { stream: 1, hostile: 1 });
  checkProperty(
    'frame: a valid stream decodes the same however it is chunked',
    streamProperty(counts),
    runs.stream,
    seed,
  );
  checkProperty('frame: hostile bytes are refused as the reference says', hostileProperty(counts), runs.hostile, seed);
  return counts;
}
