// The kiosk's link to the bank: one secure session, re-established with backoff whenever it
// drops, with a keepalive so the bank's idle timeout does not close it between customers.
// Requests are serialised (one in flight per session, as the bank expects) and each has a
// deadline; every failure is an AtmError the UI can turn into plain words.
//
// Sessions have a lifetime ([ATM-3.6]). The link renews its session before that ends, between
// two requests, and carries a logged-in customer's login over with a one-time hand-over token
// ([ATM-4.9]): the customer never notices. A renewal that fails keeps the old session and is
// tried again; only a session that really dies is reported as lost.
//
// A kiosk of a bank network knows several bank hosts (`--bank A:P,B:P`, sharing one ledger):
// each connection attempt tries them in the order given and the link returns to service on the
// first that answers; a session that dies is re-established the same way, so a dead host's
// kiosks move to another, and their journal recovery settles what was in flight there with the
// same transaction ids. Renewal stays on the host the session is on.
import { Backoff, DEFAULT_TIMEOUTS } from '../protocol/index.js';
import { BankConnection, ClientError, type ConnectOptions } from '../protocol/index.js';
import { AtmError } from '../protocol/index.js';
import type { ResponseOf } from '../protocol/index.js';
import type { BankLink, LinkCause, LinkState, RequestBody } from './seams.js';

export type { LinkCause, LinkState, RequestBody } from './seams.js';

/** Renew this long before the session's end at most; a quarter of the lifetime when shorter. */
export const RENEW_MARGIN_MS_MAX = 60_000;
/** A renewal that failed is tried again after this (or sooner, when less is left). */
export const RENEW_RETRY_MS = 5_000;

export interface BankEndpoint {
  host: string;
  port: number;
}

export interface KioskLinkOptions extends ConnectOptions {
  /** Every bank host, tried in this order; default just host:port. */
  banks?: readonly BankEndpoint[];
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  keepaliveMs?: number;
  /** Seam for tests: how a session is opened. */
  connect?: (options: ConnectOptions) => Promise<BankConnection>;
  log?: (line: string) => void;
}

export class KioskLink implements BankLink {
  private connection: BankConnection | null = null;
  private linkState: LinkState = 'connecting';
  private linkCause: LinkCause = 'unreachable';
  private readonly stateListeners: ((state: LinkState, detail: string, cause: LinkCause) => void)[] = [];
  private readonly lostListeners: ((detail: string) => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private readonly backoff: Backoff;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private renewTimer: NodeJS.Timeout | null = null;
  private readonly log: (line: string) => void;
  lastError = '';
  /** Sessions renewed so far (for the log and tests). */
  renewals = 0;
  /** The host the current (or last) session is on. */
  endpoint: BankEndpoint;
  private readonly endpoints: readonly BankEndpoint[];

  constructor(private readonly options: KioskLinkOptions) {
    this.backoff = new Backoff(options.backoffInitialMs ?? 250, options.backoffMaxMs ?? 2_000);
    this.log = options.log ?? (() => undefined);
    this.endpoints =
      options.banks !== undefined && options.banks.length > 0
        ? options.banks
        : [{ host: options.host, port: options.port }];
    this.endpoint = this.endpoints[0] as BankEndpoint;
  }

  get state(): LinkState {
    return this.linkState;
  }

  get cause(): LinkCause {
    return this.linkCause;
  }

  onState(listener: (state: LinkState, detail: string, cause: LinkCause) => void): void {
    this.stateListeners.push(listener);
  }

  /** The bank session ended: whoever was logged in through it is logged out. */
  onSessionLost(listener: (detail: string) => void): void {
    this.lostListeners.push(listener);
  }

  start(): void {
    this.stopped = false;
    void this.connectOnce();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of [this.retryTimer, this.renewTimer]) if (timer !== null) clearTimeout(timer);
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    await this.tail.catch(() => undefined);
    this.connection?.close();
    this.connection = null;
  }

  /** Queued behind any request in flight; rejects with an AtmError when the bank is unreachable. */
  request<Body extends RequestBody>(body: Body): Promise<ResponseOf<Body['op']>> {
    return this.enqueue(async () => {
      const connection = this.connection;
      if (!connection?.isOpen) throw new AtmError(ClientError.CLOSED, 'the bank is not reachable');
      return connection.request(body);
    });
  }

  private enqueue<T>(run: () => Promise<T>): Promise<T> {
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private setState(state: LinkState, detail: string, cause: LinkCause): void {
    if (state === this.linkState && cause === this.linkCause) return;
    this.linkState = state;
    this.linkCause = cause;
    for (const listener of this.stateListeners) listener(state, detail, cause);
  }

  private open(endpoint: BankEndpoint): Promise<BankConnection> {
    return (this.options.connect ?? BankConnection.connect)({ ...this.options, ...endpoint });
  }

  /** One round over the bank hosts, in order; online on the first that answers, else a retry later. */
  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    const failures: string[] = [];
    let cause: LinkCause = 'unreachable';
    for (const endpoint of this.endpoints) {
      let connection: BankConnection | null = null;
      try {
        connection = await this.open(endpoint);
        const leftMs = await this.sessionLeftMs(connection);
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the await (microsoft/TypeScript#9998)
        if (this.stopped) {
          connection.close();
          return;
        }
        const moved = endpoint !== this.endpoint;
        this.endpoint = endpoint;
        this.adopt(connection, leftMs);
        this.backoff.reset();
        if (this.endpoints.length > 1 && (moved || failures.length > 0))
          this.log(
            `bank session on ${endpoint.host}:${endpoint.port}${failures.length > 0 ? ` (${failures.join('; ')})` : ''}`,
          );
        this.setState('online', 'connected', 'connected');
        return;
      } catch (error) {
        connection?.close();
        const detail = error instanceof Error ? error.message : String(error);
        failures.push(this.endpoints.length > 1 ? `${endpoint.host}:${endpoint.port}: ${detail}` : detail);
        // Refused (a bad or revoked key) by any host is what the kiosk must show, not "unreachable".
        if (error instanceof AtmError && error.code === ClientError.HANDSHAKE) cause = 'refused';
        // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the await (microsoft/TypeScript#9998)
        if (this.stopped) return;
      }
    }
    this.lastError = failures.join('; ');
    this.setState('offline', this.lastError, cause);
    this.scheduleRetry();
  }

  /** What is left of a new session's life: the bank says (ping), else our own lifetime. */
  private async sessionLeftMs(connection: BankConnection): Promise<number> {
    const ownMs = this.options.timeouts?.lifetimeMs ?? DEFAULT_TIMEOUTS.lifetimeMs;
    const pong = await connection.request({ op: 'ping' });
    const bankMs =
      pong.ok && typeof pong.sessionLeftMs === 'number' && pong.sessionLeftMs >= 0 ? pong.sessionLeftMs : ownMs;
    return Math.min(ownMs, bankMs);
  }

  /** Makes `connection` the one requests use, and plans its renewal. */
  private adopt(connection: BankConnection, leftMs: number): void {
    this.connection = connection;
    connection.onClose((reason) => this.onLost(connection, reason));
    this.startKeepalive();
    this.planRenewal(connection, leftMs - Math.min(Math.floor(leftMs / 4), RENEW_MARGIN_MS_MAX));
  }

  private planRenewal(connection: BankConnection, delayMs: number): void {
    if (this.renewTimer !== null) clearTimeout(this.renewTimer);
    this.renewTimer = setTimeout(() => void this.enqueue(() => this.renew(connection)), Math.max(0, delayMs));
    this.renewTimer.unref();
  }

  /**
   * Runs in the request queue, so no request is in flight: open the new session, hand the
   * login over, switch, close the old one. Any failure keeps the old session as it was.
   */
  private async renew(old: BankConnection): Promise<void> {
    if (this.stopped || this.connection !== old || !old.isOpen) return;
    let fresh: BankConnection | null = null;
    try {
      fresh = await this.open(this.endpoint);
      const handover = await old.request({ op: 'session.handover' });
      if (!handover.ok) throw new AtmError(handover.code, `hand-over refused: ${handover.code}`);
      if (handover.resumeToken !== undefined) {
        const resumed = await fresh.request({ op: 'session.resume', token: handover.resumeToken });
        if (!resumed.ok) throw new AtmError(resumed.code, `resume refused: ${resumed.code}`);
      }
      const leftMs = await this.sessionLeftMs(fresh);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() may run during the await (microsoft/TypeScript#9998)
      if (this.stopped) {
        fresh.close();
        return;
      }
      this.adopt(fresh, leftMs);
      this.renewals += 1;
      old.close();
      this.log(`bank session renewed${handover.resumeToken !== undefined ? ' (customer login carried over)' : ''}`);
    } catch (error) {
      fresh?.close();
      const detail = error instanceof Error ? error.message : String(error);
      this.log(`bank session renewal failed, keeping the current one: ${detail}`);
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- the session may close during the awaits (microsoft/TypeScript#9998)
      if (this.connection === old && old.isOpen) this.planRenewal(old, RENEW_RETRY_MS);
    }
  }

  private onLost(connection: BankConnection, reason: string): void {
    if (this.connection !== connection) return;
    this.connection = null;
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    if (this.renewTimer !== null) clearTimeout(this.renewTimer);
    this.lastError = reason;
    for (const listener of this.lostListeners) listener(reason);
    if (this.stopped) return;
    this.setState('offline', reason, 'lost');
    this.scheduleRetry(true);
  }

  private scheduleRetry(immediately = false): void {
    if (this.stopped) return;
    // A lost session is retried at once, but still moves the backoff on, so a bank that keeps
    // dropping the session right after the handshake is not hammered.
    const nextMs = this.backoff.nextDelayMs();
    const delayMs = immediately ? 0 : nextMs;
    this.retryTimer = setTimeout(() => void this.connectOnce(), delayMs);
    this.retryTimer.unref();
  }

  /** A ping well inside the bank's 60 s idle timeout; its failure shows up as a lost session. */
  private startKeepalive(): void {
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = setInterval(
      () => void this.request({ op: 'ping' }).catch(() => undefined),
      this.options.keepaliveMs ?? 20_000,
    );
    this.keepaliveTimer.unref();
  }
}
