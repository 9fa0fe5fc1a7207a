// A synchronous wire for driving a real SecureChannel from a fuzzer: what the channel writes is
// collected as it is written, and what the fuzzer delivers reaches the channel before deliver()
// returns. No sockets and no event-loop turns, so one property run is a plain function call and
// its counterexample replays byte for byte.
import { Duplex } from 'node:stream';
import type { ChannelEvents, SecureChannel } from '../../protocol/channel.js';
import { isCodeOf, type SessionCloseReason } from '../../protocol/errors.js';
import { FRAME_HEADER_BYTES } from '../../protocol/frame.js';

export class FuzzWire extends Duplex {
  private readonly chunks: Buffer[] = [];
  private taken = 0;

  constructor() {
    super({
      read: () => undefined,
      write: (chunk: Buffer, _encoding, callback) => {
        this.chunks.push(chunk);
        callback();
      },
    });
  }

  /** Bytes to the channel, as a socket's 'data' event would bring them. */
  deliver(bytes: Buffer): void {
    this.emit('data', bytes);
  }

  /** What the channel wrote since the last takeWritten(), to pass on to its peer. */
  takeWritten(): Buffer {
    const fresh = Buffer.concat(this.chunks.slice(this.taken));
    this.taken = this.chunks.length;
    return fresh;
  }

  /** Everything the channel wrote, split into frames (a partial frame at the end is dropped). */
  frames(): Buffer[] {
    const all = Buffer.concat(this.chunks);
    const frames: Buffer[] = [];
    for (let offset = 0; all.length - offset >= FRAME_HEADER_BYTES;) {
      const end = offset + FRAME_HEADER_BYTES + all.readUInt32BE(offset);
      if (end > all.length) break;
      frames.push(all.subarray(offset + FRAME_HEADER_BYTES, end));
      offset = end;
    }
    return frames;
  }
}

/** One real channel on a FuzzWire, and everything it reported. */
export class WatchedChannel {
  readonly wire = new FuzzWire();
  readonly channel: SecureChannel;
  opened = 0;
  readonly messages: Buffer[] = [];
  closeReason: SessionCloseReason | null = null;
  /** A close reported twice, or with a reason outside the catalogue. */
  closeFault: string | null = null;

  constructor(make: (wire: FuzzWire, events: ChannelEvents) => SecureChannel) {
    this.channel = make(this.wire, {
      onOpen: () => (this.opened += 1),
      onMessage: (plaintext) => this.messages.push(plaintext),
      onClose: (reason) => this.onClose(reason),
    });
  }

  /** Ends a run: a channel still waiting is closed, so its deadlines are cleared. */
  retire(): void {
    this.channel.fail('LOCAL_CLOSE', 'fuzz run over');
  }

  private onClose(reason: SessionCloseReason): void {
    if (this.closeReason !== null) this.closeFault = `closed twice (${this.closeReason}, ${reason})`;
    else if (!isCodeOf('sessionClose', reason)) this.closeFault = `close reason ${String(reason)}`;
    this.closeReason = reason;
  }
}
