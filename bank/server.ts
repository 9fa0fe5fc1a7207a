// The bank's network edge: the only bank file that touches net. It admits connections within
// the caps, runs each through SecureChannel, and hands verified requests to BankService one
// at a time per session. Every limit here is named and configurable (DESIGN §3, §4).
import crypto from 'node:crypto';
import net from 'node:net';
import type { RandomBytes } from '../protocol/index.js';
import { DEFAULT_TIMEOUTS, SecureChannel, type ChannelTimeouts, type HelloRefusal } from '../protocol/index.js';
import { DeclineCode, SessionCloseReason, declineText } from '../protocol/index.js';
import { encodeMessage, parseRequest, type Request, type Response } from '../protocol/index.js';
import type { KeystoreView } from './key-store.js';
import { RateLimiter } from './mutex.js';
import type { BankObserver } from './observer.js';
import type { BankService, SessionContext } from './service.js';
import { DEFAULT_SERVER_LIMITS, SECURITY_REASONS, badRequestCode, type ServerLimits } from './server-limits.js';

export { DEFAULT_SERVER_LIMITS, type ServerLimits } from './server-limits.js';

export interface BankServerOptions {
  host: string;
  port: number;
  service: BankService;
  keystore: KeystoreView;
  observer: BankObserver;
  nowMs: () => number;
  randomBytes?: RandomBytes;
  timeouts?: Partial<ChannelTimeouts>;
  limits?: Partial<ServerLimits>;
}

interface Connection {
  channel: SecureChannel;
  context: SessionContext;
  queued: number;
  tail: Promise<void>;
  admittedKioskId: string | null;
}

export class BankServer {
  private readonly server: net.Server;
  private readonly limits: ServerLimits;
  private readonly connections = new Set<Connection>();
  private readonly pending = new Set<Connection>(); // insertion order = age
  private readonly sessionsPerKiosk = new Map<string, number>();
  private readonly handshakeLimiter: RateLimiter;
  private readonly securityLimiter: RateLimiter;
  private readonly helloCache = new Map<string, number>(); // key → expiry ms
  private readonly dummyPsk = crypto.randomBytes(32);
  securityEventsSuppressed = 0;

  constructor(private readonly options: BankServerOptions) {
    this.limits = { ...DEFAULT_SERVER_LIMITS, ...options.limits };
    this.handshakeLimiter = new RateLimiter(
      this.limits.handshakesPerSecondPerKiosk,
      this.limits.handshakeBurstPerKiosk,
    );
    this.securityLimiter = new RateLimiter(this.limits.securityAuditsPerSecond, this.limits.securityAuditsPerSecond);
    this.server = net.createServer((socket) => this.onConnection(socket));
    this.server.maxConnections = this.limits.connectionsMax;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject);
        resolve((this.server.address() as net.AddressInfo).port);
      });
    });
  }

  get stats(): { connections: number; pending: number } {
    return { connections: this.connections.size, pending: this.pending.size };
  }

  /** Stops accepting, closes every session with an authenticated close, waits for the queue. */
  async close(graceMs = 2_000): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()));
    for (const connection of this.connections) void connection.tail.finally(() => connection.channel.close());
    // A peer that never answers our close record must not hold the shutdown forever.
    const grace = setTimeout(() => {
      for (const connection of this.connections) connection.channel.fail(SessionCloseReason.LOCAL_CLOSE, 'shutdown');
    }, graceMs);
    grace.unref();
    await closed;
    clearTimeout(grace);
  }

  private onConnection(socket: net.Socket): void {
    socket.setNoDelay(true);
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? 0}`;
    if (this.pending.size >= this.limits.pendingHandshakesMax) {
      // The oldest that has not shown a key goes. A kiosk whose hello verified is never pushed
      // out by strangers (who cannot make a hello verify): under 5,000 slowloris connections the
      // table turned over every ~50 ms and took honest handshakes with it (test/torture/slowloris.ts).
      // Verified handshakes are bounded apart: per-kiosk session caps and handshake rates.
      for (const candidate of this.pending) {
        if (candidate.admittedKioskId !== null) continue;
        candidate.channel.fail(SessionCloseReason.EVICTED, 'pending handshake evicted by a newer one');
        break;
      }
    }
    // The channel arms its lifetime as it is made; ping reports what is left of it ([ATM-4.9]).
    const lifetimeMs = this.options.timeouts?.lifetimeMs ?? DEFAULT_TIMEOUTS.lifetimeMs;
    const context: SessionContext = {
      kioskId: '?',
      remote,
      username: null,
      expiresAtMs: this.options.nowMs() + lifetimeMs,
    };
    const connection: Connection = {
      channel: undefined as unknown as SecureChannel,
      context,
      queued: 0,
      tail: Promise.resolve(),
      admittedKioskId: null,
    };
    connection.channel = SecureChannel.accept(
      {
        stream: socket,
        nowMs: this.options.nowMs,
        randomBytes: this.options.randomBytes,
        timeouts: this.options.timeouts,
        events: {
          onOpen: (kioskId) => this.onOpen(connection, kioskId),
          onMessage: (plaintext) => this.onMessage(connection, plaintext),
          onClose: (reason, detail) => this.onClose(connection, reason, detail),
        },
      },
      {
        lookupPsk: (kioskId) => this.options.keystore.lookupPsk(kioskId),
        dummyPsk: this.dummyPsk,
        admitHello: (hello) => this.admitHello(connection, hello.kioskId, hello.kioskNonce),
      },
    );
    this.connections.add(connection);
    this.pending.add(connection);
  }

  /** [ATM-2.4.4-5] After m1 verified: replay cache, per-kiosk rate and session caps. */
  private admitHello(connection: Connection, kioskId: string, nonce: Buffer): HelloRefusal | null {
    const nowMs = this.options.nowMs();
    const cacheKey = `${kioskId}:${nonce.toString('hex')}`;
    const seenUntil = this.helloCache.get(cacheKey);
    if (seenUntil !== undefined && seenUntil > nowMs) return { reason: 'REPLAYED_HELLO', detail: 'replay' };
    if (!this.handshakeLimiter.take(kioskId, nowMs)) return { reason: 'RATE_LIMITED', detail: 'handshake rate limit' };
    const sessions = this.sessionsPerKiosk.get(kioskId) ?? 0;
    if (sessions >= this.limits.sessionsPerKioskMax)
      return { reason: 'RATE_LIMITED', detail: 'session limit for this kiosk' };
    if (this.helloCache.size >= this.limits.helloCacheMax) this.pruneHelloCache(nowMs);
    this.helloCache.set(cacheKey, nowMs + 2 * 30_000);
    this.sessionsPerKiosk.set(kioskId, sessions + 1);
    connection.admittedKioskId = kioskId;
    connection.context.kioskId = kioskId;
    return null;
  }

  private pruneHelloCache(nowMs: number): void {
    for (const [key, expiry] of this.helloCache) if (expiry <= nowMs) this.helloCache.delete(key);
    // Still full of live entries: drop the oldest; a replay of those cannot complete anyway.
    while (this.helloCache.size >= this.limits.helloCacheMax) {
      const oldest = this.helloCache.keys().next().value;
      if (oldest === undefined) break;
      this.helloCache.delete(oldest);
    }
  }

  private onOpen(connection: Connection, kioskId: string): void {
    this.pending.delete(connection);
    this.options.observer.session({ kioskId, remote: connection.context.remote, state: 'open' });
  }

  private onClose(connection: Connection, reason: SessionCloseReason, detail: string): void {
    const wasPending = this.pending.delete(connection);
    this.connections.delete(connection);
    const kioskId = connection.admittedKioskId;
    if (kioskId !== null) {
      const sessions = (this.sessionsPerKiosk.get(kioskId) ?? 1) - 1;
      if (sessions <= 0) this.sessionsPerKiosk.delete(kioskId);
      else this.sessionsPerKiosk.set(kioskId, sessions);
    }
    const remote = connection.context.remote;
    const knownKiosk = connection.channel.kioskId;
    // A connection leaves `pending` when its session opens, so still pending = never opened.
    const wasOpen = !wasPending;
    if (SECURITY_REASONS.has(reason)) {
      this.options.observer.security({ kioskId: knownKiosk, remote, reason, detail, wasOpen });
      if (this.securityLimiter.take('all', this.options.nowMs())) {
        void this.options.service
          .audit({
            kioskId: knownKiosk ?? '?',
            username: connection.context.username,
            action: 'security',
            outcome: reason,
            detail: detail.slice(0, 200),
          })
          .catch(() => undefined);
      } else {
        this.securityEventsSuppressed += 1;
      }
    } else if (!wasPending || kioskId !== null) {
      this.options.observer.session({ kioskId: knownKiosk, remote, state: 'closed', reason, wasOpen });
    }
  }

  private onMessage(connection: Connection, plaintext: Buffer): void {
    if (connection.queued >= this.limits.requestsQueuedPerSessionMax) {
      connection.channel.fail(SessionCloseReason.BAD_MESSAGE, 'too many requests in flight');
      return;
    }
    connection.queued += 1;
    connection.tail = connection.tail.then(async () => {
      await this.handle(connection, plaintext);
      connection.queued -= 1;
    });
  }

  private async handle(connection: Connection, plaintext: Buffer): Promise<void> {
    const startedMs = performance.now();
    const parsed = parseRequest(plaintext);
    let response: Response;
    if (!parsed.ok) {
      const code = badRequestCode(parsed);
      response = { id: parsed.id ?? 0, ok: false, code, message: `${declineText[code]}: ${parsed.reason}` };
      this.options.observer.action({
        kioskId: connection.context.kioskId,
        remote: connection.context.remote,
        action: 'request',
        outcome: code,
        username: connection.context.username,
        latencyMs: performance.now() - startedMs,
      });
      connection.channel.send(encodeMessage(response));
      return;
    }
    const request: Request = parsed.request;
    if (!this.options.keystore.isActive(connection.context.kioskId)) {
      // Revoked (or rotated) while this session was open: answer once, then end the session.
      connection.channel.send(
        encodeMessage({
          id: request.id,
          ok: false,
          code: DeclineCode.KIOSK_REVOKED,
          message: declineText.KIOSK_REVOKED,
        }),
      );
      this.options.observer.action({
        kioskId: connection.context.kioskId,
        remote: connection.context.remote,
        action: request.op,
        outcome: DeclineCode.KIOSK_REVOKED,
        username: connection.context.username,
        latencyMs: performance.now() - startedMs,
      });
      connection.channel.close();
      return;
    }
    const handled = await this.options.service.handle(connection.context, request);
    if (handled.internalError !== undefined)
      this.options.observer.info(
        `[${connection.context.kioskId} ${connection.context.remote}] ERROR ${request.op}: ${handled.internalError}`,
      );
    if (handled.unanswered === true) {
      // Neither "done" nor "declined" would be true: the kiosk's retry of the same id will be.
      connection.channel.close();
      return;
    }
    // Pings and a renewal that worked are the link's housekeeping, not a customer's request; a
    // device report is an action (a line in the log, an event) only when a device state changed.
    const housekeeping =
      request.op === 'ping' ||
      ((request.op === 'session.handover' || request.op === 'session.resume') && handled.response.ok);
    if (!housekeeping && !(request.op === 'device.report' && handled.outcome.devices === undefined)) {
      this.options.observer.action({
        kioskId: connection.context.kioskId,
        remote: connection.context.remote,
        action: handled.outcome.action,
        outcome: handled.outcome.outcome,
        username: handled.outcome.username,
        amountCents: handled.outcome.amountCents,
        devices: handled.outcome.devices,
        latencyMs: performance.now() - startedMs,
      });
    }
    if (request.op === 'device.report' && handled.response.ok) {
      const { keypad, display, dispenser, cassettes, cashIn, deposited, printer } = request;
      this.options.observer.device?.({
        kioskId: connection.context.kioskId,
        remote: connection.context.remote,
        keypad,
        display,
        dispenser,
        cassettes,
        ...(cashIn === undefined ? {} : { cashIn }),
        ...(deposited === undefined ? {} : { deposited }),
        ...(printer === undefined ? {} : { printer }),
      });
    }
    connection.channel.send(encodeMessage(handled.response));
  }
}
