// [ATM-1] Framing: every message on the wire is len[4] (u32 big-endian, bytes that follow) | body.
// The decoder is pure: bytes in, whole frames or a reason out. It checks the declared length
// against the allowed range before buffering a single body byte, so a hostile length can
// never make us allocate.
import { assert } from './assert.js';
import type { CodeOf } from './errors.js';

export const FRAME_HEADER_BYTES = 4;
export const FRAME_BYTES_MAX = 16 * 1024; // [ATM-1.2] body bytes, records and handshakes alike

export interface FrameLimits {
  bodyBytesMin: number;
  bodyBytesMax: number;
}

/** A stream the decoder refuses: the close reason, typed, and a detail for the log. */
export interface FrameFailure {
  reason: Extract<CodeOf<'sessionClose'>, 'FRAME_LENGTH'>;
  detail: string;
}
export type NextFrame = { frame: Buffer } | { error: FrameFailure } | null;

export function encodeFrame(body: Uint8Array): Buffer {
  assert(body.length <= FRAME_BYTES_MAX, 'frame body over the maximum');
  const header = Buffer.alloc(FRAME_HEADER_BYTES);
  header.writeUInt32BE(body.length, 0);
  return Buffer.concat([header, body]);
}

export class FrameDecoder {
  private chunks: Buffer[] = [];
  private bufferedBytes = 0;
  private failed = false;

  /** limitsFor is asked for each frame, so the allowed size can follow the handshake state. */
  constructor(private readonly limitsFor: () => FrameLimits) {}

  get pendingBytes(): number {
    return this.bufferedBytes;
  }

  /** Buffers bytes; call next() until it returns null to take the frames out. */
  push(chunk: Buffer): void {
    // After a refused length nothing more is read: a peer that keeps sending is not buffered.
    if (this.failed) return;
    this.chunks.push(chunk);
    this.bufferedBytes += chunk.length;
  }

  /**
   * The next whole frame, a reason the stream is invalid, or null when more bytes are needed.
   * One frame at a time, so the limits can change after each frame (handshake → records).
   */
  next(): NextFrame {
    if (this.failed) return { error: { reason: 'FRAME_LENGTH', detail: 'decoder already failed' } };
    if (this.bufferedBytes < FRAME_HEADER_BYTES) return null;
    const bodyBytes = this.peekHeader().readUInt32BE(0);
    const limits = this.limitsFor();
    // [ATM-1.3] reject before reading the body: too short or too long closes the session.
    if (bodyBytes < limits.bodyBytesMin || bodyBytes > limits.bodyBytesMax) {
      this.failed = true;
      this.chunks = [];
      this.bufferedBytes = 0;
      return {
        error: {
          reason: 'FRAME_LENGTH',
          detail: `frame length ${bodyBytes} outside ${limits.bodyBytesMin}..${limits.bodyBytesMax}`,
        },
      };
    }
    if (this.bufferedBytes < FRAME_HEADER_BYTES + bodyBytes) return null;
    return { frame: this.take(FRAME_HEADER_BYTES + bodyBytes).subarray(FRAME_HEADER_BYTES) };
  }

  private peekHeader(): Buffer {
    const first = this.chunks[0];
    assert(first !== undefined, 'peek on empty decoder');
    if (first.length >= FRAME_HEADER_BYTES) return first.subarray(0, FRAME_HEADER_BYTES);
    const joined = Buffer.concat(this.chunks);
    this.chunks = [joined];
    return joined.subarray(0, FRAME_HEADER_BYTES);
  }

  private take(byteCount: number): Buffer {
    const joined = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    const taken = Buffer.from(joined.subarray(0, byteCount));
    const rest = joined.subarray(byteCount);
    this.chunks = rest.length > 0 ? [rest] : [];
    this.bufferedBytes = rest.length;
    return taken;
  }
}
