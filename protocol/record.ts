// [ATM-3] Record layer: encrypt-then-MAC, implicit per-direction sequence numbers.
//   body = ver[1] | type[1] | ct | tag[32]           (inside a frame: len[4] | body)
//   ct   = AES-256-CTR(encKey, iv = seq[8] | 0x00*8, plaintext)
//   tag  = HMAC-SHA256(macKey, "atm2 rec" | dir[1] | seq[8] | len[4] | ver[1] | type[1] | ct)
// The sequence number is never sent: a replayed, dropped, reordered or spliced record is
// verified under the wrong seq and fails its MAC. The direction byte and per-direction keys
// stop reflection. Checks run in the order of [ATM-3.3]: length, version, sequence limit, MAC,
// type, then decryption; the first failure is final (the opener refuses everything after it).
import crypto from 'node:crypto';
import { constantTimeEqual, hmacSha256 } from './crypto.js';
import { assert } from './assert.js';
import type { SessionCloseReason } from './errors.js';
import { planted } from './faults.js';
import { FRAME_BYTES_MAX, FRAME_HEADER_BYTES } from './frame.js';
import { PROTOCOL_VERSION, type DirectionKeys } from './handshake.js';

export const RECORD_TYPE_DATA = 0x17;
export const RECORD_TYPE_CLOSE = 0x15;
export const RECORD_TAG_BYTES = 32;
export const RECORD_OVERHEAD_BYTES = 2 + RECORD_TAG_BYTES; // 34: the smallest valid body
export const RECORD_PLAINTEXT_BYTES_MAX = FRAME_BYTES_MAX - RECORD_OVERHEAD_BYTES;
/** [ATM-3.6] A session must be renewed long before the 64-bit counter could matter. */
export const RECORD_SEQUENCE_MAX = 2 ** 32;

export const DIRECTION_KIOSK_TO_HOST = 0x01;
export const DIRECTION_HOST_TO_KIOSK = 0x02;
const REC_LABEL = Buffer.from('atm2 rec', 'ascii');
/** Test only (protocol/faults.ts): the torture suite's planted bug, read once at load. */
const PLANTED_STALE_SEQUENCE = planted('stale-record-seq');

export type RecordType = typeof RECORD_TYPE_DATA | typeof RECORD_TYPE_CLOSE;

const SEQUENCE_BYTES = 8;
const HEADER_BYTES = 2;
/** The MAC's prefix before header | ct: label | dir[1] | seq[8] | len[4]. */
const TAG_PREFIX_BYTES = REC_LABEL.length + 1 + SEQUENCE_BYTES + 4;

/** The 8-byte big-endian sequence at offset (sequences stay below 2^53, checked by the callers). */
function writeSequence(target: Buffer, sequence: number, offset: number): void {
  target.writeUInt32BE(Math.floor(sequence / 2 ** 32), offset);
  target.writeUInt32BE(sequence % 2 ** 32, offset + 4);
}

/** AES-256-CTR from iv = seq | 0^8. CTR is a stream: update() returns every byte, final() none. */
function ctr(key: Buffer, sequence: number, data: Uint8Array): Buffer {
  const iv = Buffer.alloc(16);
  writeSequence(iv, sequence, 0);
  return crypto.createCipheriv('aes-256-ctr', key, iv).update(data);
}

/** headerAndCt: ver | type | ct, contiguous (as in the record), so the MAC is two updates. */
function recordTag(keys: DirectionKeys, direction: number, sequence: number, headerAndCt: Uint8Array): Buffer {
  const prefix = Buffer.allocUnsafe(TAG_PREFIX_BYTES);
  let offset = REC_LABEL.copy(prefix, 0);
  offset = prefix.writeUInt8(direction, offset);
  writeSequence(prefix, sequence, offset);
  prefix.writeUInt32BE(headerAndCt.length + RECORD_TAG_BYTES, offset + SEQUENCE_BYTES);
  return hmacSha256(keys.macKey, prefix, headerAndCt);
}

/** Seals outgoing records for one direction; the sequence advances with every record. */
export class RecordSealer {
  private sequence = 0;
  constructor(
    private readonly keys: DirectionKeys,
    private readonly direction: number,
    private readonly sequenceMax = RECORD_SEQUENCE_MAX,
  ) {}

  get recordsSealed(): number {
    return this.sequence;
  }

  /** Returns the whole frame (length prefix included). */
  seal(type: RecordType, plaintext: Uint8Array): Buffer {
    assert(plaintext.length <= RECORD_PLAINTEXT_BYTES_MAX, 'record plaintext over the maximum');
    assert(this.sequence < this.sequenceMax, 'record sequence exhausted: the session must close first');
    // One allocation for the whole frame: len | ver | type | ct | tag.
    const bodyBytes = HEADER_BYTES + plaintext.length + RECORD_TAG_BYTES;
    const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + bodyBytes);
    frame.writeUInt32BE(bodyBytes, 0);
    frame[FRAME_HEADER_BYTES] = PROTOCOL_VERSION;
    frame[FRAME_HEADER_BYTES + 1] = type;
    ctr(this.keys.encKey, this.sequence, plaintext).copy(frame, FRAME_HEADER_BYTES + HEADER_BYTES);
    const tagAt = frame.length - RECORD_TAG_BYTES;
    recordTag(this.keys, this.direction, this.sequence, frame.subarray(FRAME_HEADER_BYTES, tagAt)).copy(frame, tagAt);
    this.sequence += 1;
    return frame;
  }
}

/** [ATM-3.3] Which check refused a record, as the close reason the channel reports. */
export type RecordFailureReason = Extract<
  SessionCloseReason,
  'FRAME_LENGTH' | 'VERSION' | 'SEQUENCE_LIMIT' | 'BAD_MAC' | 'RECORD_TYPE'
>;
export type OpenResult =
  { ok: true; type: RecordType; plaintext: Buffer } | { ok: false; closeReason: RecordFailureReason; reason: string };

/** Opens incoming records for one direction; any failure is final for the session. */
export class RecordOpener {
  private sequence = 0;
  constructor(
    private readonly keys: DirectionKeys,
    private readonly direction: number,
    private readonly sequenceMax = RECORD_SEQUENCE_MAX,
  ) {}

  get recordsOpened(): number {
    return this.sequence;
  }

  private failed = false;

  /** body is a frame body (no length prefix). */
  open(body: Uint8Array): OpenResult {
    const result = this.openOnce(body);
    if (!result.ok) this.failed = true;
    return result;
  }

  private openOnce(body: Uint8Array): OpenResult {
    // A second record after a failure never reaches the channel (it closed on the first), so
    // the reason given here only has to be one that closes.
    if (this.failed) return { ok: false, closeReason: 'BAD_MAC', reason: 'record layer already failed' };
    if (body.length < RECORD_OVERHEAD_BYTES || body.length > FRAME_BYTES_MAX) {
      return { ok: false, closeReason: 'FRAME_LENGTH', reason: `record length ${body.length}` };
    }
    if (body[0] !== PROTOCOL_VERSION) return { ok: false, closeReason: 'VERSION', reason: `record version ${body[0]}` };
    if (this.sequence >= this.sequenceMax)
      return { ok: false, closeReason: 'SEQUENCE_LIMIT', reason: 'record sequence limit reached' };
    const headerAndCt = body.subarray(0, body.length - RECORD_TAG_BYTES);
    const tag = body.subarray(body.length - RECORD_TAG_BYTES);
    // [ATM-3.4] MAC (which covers the implicit sequence) before anything is decrypted.
    let sequence = this.sequence;
    if (!this.tagVerifies(sequence, headerAndCt, tag)) {
      // Planted bug (ATM_TEST_FAULTS only, protocol/faults.ts): a replay of the previous record passes.
      const stale = PLANTED_STALE_SEQUENCE && sequence > 0 && this.tagVerifies(sequence - 1, headerAndCt, tag);
      if (!stale)
        return { ok: false, closeReason: 'BAD_MAC', reason: 'record MAC (tampered, replayed, reordered or reflected)' };
      sequence -= 1;
    }
    const type = body[1];
    if (type !== RECORD_TYPE_DATA && type !== RECORD_TYPE_CLOSE)
      return { ok: false, closeReason: 'RECORD_TYPE', reason: `record type ${type}` };
    const plaintext = ctr(this.keys.encKey, sequence, headerAndCt.subarray(HEADER_BYTES));
    this.sequence += 1;
    return { ok: true, type, plaintext };
  }

  private tagVerifies(sequence: number, headerAndCt: Uint8Array, tag: Uint8Array): boolean {
    return constantTimeEqual(recordTag(this.keys, this.direction, sequence, headerAndCt), tag);
  }
}
