// The socket edge of the secure session: the only protocol file that touches a stream.
// It feeds bytes to the pure pieces (FrameDecoder, handshake functions, RecordOpener) and
// turns their verdicts into writes, timers and a single close. Works over any Duplex (a
// net.Socket in production, a proxy or a pair of PassThroughs in tests).
import type { Duplex } from 'node:stream';
import {
  DEFAULT_TIMEOUTS,
  type ChannelEvents,
  type ChannelOptions,
  type ChannelTimeouts,
  type HostPolicy,
} from './channel-options.js';
import { systemRandomBytes, wipe, type RandomBytes } from './crypto.js';
import { Deadlines } from './deadlines.js';
import { SessionCloseReason } from './errors.js';
import { FrameDecoder, encodeFrame } from './frame.js';
import { answerHello, frameLimitsFor, type ChannelState } from './channel-steps.js';
import {
  hostFinish,
  kioskFinish,
  kioskStart,
  type HostPendingState,
  type KioskHelloState,
  type SessionKeys,
} from './handshake.js';
import {
  DIRECTION_HOST_TO_KIOSK,
  DIRECTION_KIOSK_TO_HOST,
  RECORD_TYPE_CLOSE,
  RECORD_TYPE_DATA,
  RecordOpener,
  RecordSealer,
} from './record.js';

export {
  DEFAULT_TIMEOUTS,
  type ChannelEvents,
  type ChannelOptions,
  type ChannelTimeouts,
  type HelloRefusal,
  type HostPolicy,
} from './channel-options.js';

export class SecureChannel {
  private state: ChannelState;
  private readonly decoder: FrameDecoder;
  private readonly timeouts: ChannelTimeouts;
  private readonly stream: Duplex;
  private readonly randomBytes: RandomBytes;
  private readonly nowMs: () => number;
  private sealer: RecordSealer | null = null;
  private opener: RecordOpener | null = null;
  private kioskHello: KioskHelloState | null = null;
  private hostPending: HostPendingState | null = null;
  private readonly deadlines = new Deadlines((reason, detail) => this.fail(reason, detail));
  private openResolvers: { resolve: () => void; reject: (error: Error) => void } | null = null;
  kioskId: string | null = null;
  events: ChannelEvents;
  readonly opened: Promise<void>;

  private constructor(
    options: ChannelOptions,
    state: ChannelState,
    private readonly policy: HostPolicy | null,
  ) {
    this.state = state;
    this.stream = options.stream;
    this.nowMs = options.nowMs;
    this.randomBytes = options.randomBytes ?? systemRandomBytes;
    this.timeouts = { ...DEFAULT_TIMEOUTS, ...options.timeouts };
    this.events = options.events ?? {};
    this.decoder = new FrameDecoder(() => frameLimitsFor(this.state));
    this.opened = new Promise<void>((resolve, reject) => {
      this.openResolvers = { resolve, reject };
    });
    this.opened.catch(() => undefined); // a failed handshake is reported through onClose too
    this.stream.on('data', (chunk: Buffer) => this.onData(chunk));
    this.stream.on('end', () =>
      this.fail(
        this.state === 'open' ? SessionCloseReason.TRUNCATED : SessionCloseReason.PEER_CLOSED,
        'stream ended without close record',
      ),
    );
    this.stream.on('close', () => this.fail(SessionCloseReason.SOCKET, 'stream closed'));
    this.stream.on('error', (error: Error) => this.fail(SessionCloseReason.SOCKET, error.message));
    this.deadlines.arm('handshake', this.timeouts.handshakeTimeoutMs, SessionCloseReason.TIMEOUT, 'handshake deadline');
    this.deadlines.arm('lifetime', this.timeouts.lifetimeMs, SessionCloseReason.LIFETIME, 'session lifetime reached');
  }

  /** Host side: waits for m1 on an accepted stream. */
  static accept(options: ChannelOptions, policy: HostPolicy): SecureChannel {
    return new SecureChannel(options, 'awaitingHello', policy);
  }

  /** Kiosk side: sends m1 at once; `opened` resolves once the host's Finished verifies. */
  static connect(options: ChannelOptions & { kioskId: string; psk: Buffer }): SecureChannel {
    const channel = new SecureChannel(options, 'awaitingServerHello', null);
    channel.kioskId = options.kioskId;
    const { m1, state } = kioskStart({
      kioskId: options.kioskId,
      psk: options.psk,
      nowMs: options.nowMs(),
      randomBytes: channel.randomBytes,
    });
    channel.kioskHello = state;
    channel.writeFrame(m1);
    return channel;
  }

  get isOpen(): boolean {
    return this.state === 'open';
  }

  /** Sends one data record. Returns false if the session is not open. */
  send(plaintext: Buffer): boolean {
    if (this.state !== 'open' || this.sealer === null) return false;
    this.stream.write(this.sealer.seal(RECORD_TYPE_DATA, plaintext));
    return true;
  }

  /** [ATM-3.5] Authenticated close, so the peer can tell our goodbye from a cut cable. */
  close(): void {
    if (this.state === 'open' && this.sealer !== null) {
      this.stream.write(this.sealer.seal(RECORD_TYPE_CLOSE, Buffer.alloc(0)));
      this.finish(SessionCloseReason.LOCAL_CLOSE, 'closed by us', true);
      this.stream.end();
      return;
    }
    this.fail(SessionCloseReason.LOCAL_CLOSE, 'closed by us');
  }

  /** Hard close without a close record: for errors, evictions and shutdown of half-open peers. */
  fail(reason: SessionCloseReason, detail: string): void {
    if (this.state === 'closed') return;
    this.finish(reason, detail, false);
    this.stream.destroy();
  }

  private finish(reason: SessionCloseReason, detail: string, clean: boolean): void {
    if (this.state === 'closed') return;
    this.state = 'closed';
    this.deadlines.clear();
    if (this.kioskHello !== null) wipe(this.kioskHello.ephemeralPrivate, this.kioskHello.psk);
    this.openResolvers?.reject(new Error(`${reason}: ${detail}`));
    this.openResolvers = null;
    this.events.onClose?.(reason, detail, clean);
  }

  private onData(chunk: Buffer): void {
    if (this.state === 'closed') return;
    this.decoder.push(chunk);
    let framesTaken = 0;
    for (let next = this.decoder.next(); next !== null; next = this.decoder.next()) {
      if ('error' in next) {
        this.fail(next.error.reason, next.error.detail);
        return;
      }
      framesTaken += 1;
      this.onFrame(next.frame);
      if (this.isClosed()) return;
    }
    // A started frame must complete within recordReadTimeoutMs of its first byte: the deadline
    // restarts only when a new frame starts, never for more bytes of the same frame, or a
    // slowloris peer trickling one byte at a time would hold the session open forever.
    if (this.decoder.pendingBytes === 0) {
      this.deadlines.disarm('read');
    } else if (framesTaken > 0 || !this.deadlines.has('read')) {
      this.deadlines.arm('read', this.timeouts.recordReadTimeoutMs, SessionCloseReason.TIMEOUT, 'record read deadline');
    }
    if (this.state === 'open')
      this.deadlines.arm('idle', this.timeouts.idleTimeoutMs, SessionCloseReason.TIMEOUT, 'idle');
  }

  private onFrame(frame: Buffer): void {
    switch (this.state) {
      case 'awaitingHello': {
        this.onHello(frame);
        return;
      }
      case 'awaitingServerHello': {
        this.onServerHello(frame);
        return;
      }
      case 'awaitingFinished': {
        this.onFinished(frame);
        return;
      }
      case 'open': {
        this.onRecord(frame);
        return;
      }
      case 'closed':
        return;
      default: {
        const exhaustive: never = this.state;
        return exhaustive;
      }
    }
  }

  private onHello(m1: Buffer): void {
    if (this.policy === null) {
      this.fail(SessionCloseReason.HANDSHAKE, 'unexpected m1');
      return;
    }
    const answer = answerHello(m1, this.policy, this.nowMs(), this.randomBytes);
    this.kioskId = answer.kioskId;
    if (!answer.ok) {
      this.fail(answer.closeReason, answer.detail);
      return;
    }
    this.hostPending = answer.pending;
    this.state = 'awaitingFinished';
    this.writeFrame(answer.m2);
  }

  private onServerHello(m2: Buffer): void {
    if (this.kioskHello === null) {
      this.fail(SessionCloseReason.HANDSHAKE, 'no hello state');
      return;
    }
    const result = kioskFinish(this.kioskHello, m2);
    this.kioskHello = null;
    if (!result.ok) {
      this.fail(SessionCloseReason.HANDSHAKE, result.reason);
      return;
    }
    this.writeFrame(result.m3);
    this.becomeOpen(result.keys, DIRECTION_KIOSK_TO_HOST, DIRECTION_HOST_TO_KIOSK);
  }

  private onFinished(m3: Buffer): void {
    if (this.hostPending === null) {
      this.fail(SessionCloseReason.HANDSHAKE, 'no pending state');
      return;
    }
    const result = hostFinish(this.hostPending, m3);
    this.hostPending = null;
    if (!result.ok) {
      this.fail(SessionCloseReason.HANDSHAKE, result.reason);
      return;
    }
    this.becomeOpen(result.keys, DIRECTION_HOST_TO_KIOSK, DIRECTION_KIOSK_TO_HOST);
    this.events.onOpen?.(this.kioskId ?? '', result.keys);
  }

  private becomeOpen(keys: SessionKeys, sendDirection: number, receiveDirection: number): void {
    const isHost = sendDirection === DIRECTION_HOST_TO_KIOSK;
    this.sealer = new RecordSealer(isHost ? keys.hostToKiosk : keys.kioskToHost, sendDirection);
    this.opener = new RecordOpener(isHost ? keys.kioskToHost : keys.hostToKiosk, receiveDirection);
    this.state = 'open';
    this.deadlines.disarm('handshake');
    this.deadlines.arm('idle', this.timeouts.idleTimeoutMs, SessionCloseReason.TIMEOUT, 'idle');
    this.openResolvers?.resolve();
    this.openResolvers = null;
  }

  private onRecord(body: Buffer): void {
    if (this.opener === null) {
      this.fail(SessionCloseReason.HANDSHAKE, 'record before keys');
      return;
    }
    const result = this.opener.open(body);
    if (!result.ok) {
      this.fail(result.closeReason, result.reason);
      return;
    }
    if (result.type === RECORD_TYPE_CLOSE) {
      this.finish(SessionCloseReason.PEER_CLOSED, 'peer sent close record', true);
      this.stream.end();
      return;
    }
    this.events.onMessage?.(result.plaintext);
  }

  private writeFrame(body: Buffer): void {
    this.stream.write(encodeFrame(body));
  }

  /** A method, not a field read, because handlers called in between may change the state. */
  private isClosed(): boolean {
    return this.state === 'closed';
  }
}
