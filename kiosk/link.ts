// The kiosk's link to the bank: one secure session, re-established with backoff whenever it
// drops, with a keepalive so the bank's idle timeout does not close it between customers.
// Requests are serialised (one in flight per session, as the bank expects) and each has a
// deadline; every failure is an AtmError the UI can turn into plain words.
import { BankConnection, ClientError, type ConnectOptions } from '../protocol/client.js';
import { AtmError } from '../protocol/errors.js';
import type { Request, Response } from '../protocol/messages.js';

export type LinkState = 'connecting' | 'online' | 'offline';
export type RequestBody = Request extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

export interface KioskLinkOptions extends ConnectOptions {
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  keepaliveMs?: number;
  /** Seam for tests: how a session is opened. */
  connect?: (options: ConnectOptions) => Promise<BankConnection>;
}

export class KioskLink {
  private connection: BankConnection | null = null;
  private linkState: LinkState = 'connecting';
  private readonly stateListeners: ((state: LinkState, detail: string) => void)[] = [];
  private readonly lostListeners: ((detail: string) => void)[] = [];
  private tail: Promise<unknown> = Promise.resolve();
  private stopped = false;
  private backoffMs: number;
  private retryTimer: NodeJS.Timeout | null = null;
  private keepaliveTimer: NodeJS.Timeout | null = null;
  lastError = '';

  constructor(private readonly options: KioskLinkOptions) {
    this.backoffMs = options.backoffInitialMs ?? 250;
  }

  get state(): LinkState {
    return this.linkState;
  }

  onState(listener: (state: LinkState, detail: string) => void): void {
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
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    await this.tail.catch(() => undefined);
    this.connection?.close();
    this.connection = null;
  }

  /** Queued behind any request in flight; rejects with an AtmError when the bank is unreachable. */
  request(body: RequestBody): Promise<Response> {
    const run = async (): Promise<Response> => {
      const connection = this.connection;
      if (connection === null || !connection.isOpen) throw new AtmError(ClientError.CLOSED, 'the bank is not reachable');
      return connection.request(body);
    };
    const result = this.tail.then(run, run);
    this.tail = result.catch(() => undefined);
    return result;
  }

  private setState(state: LinkState, detail: string): void {
    if (state === this.linkState) return;
    this.linkState = state;
    for (const listener of this.stateListeners) listener(state, detail);
  }

  private async connectOnce(): Promise<void> {
    if (this.stopped) return;
    try {
      const connection = await (this.options.connect ?? BankConnection.connect)(this.options);
      if (this.stopped) {
        connection.close();
        return;
      }
      this.connection = connection;
      this.backoffMs = this.options.backoffInitialMs ?? 250;
      connection.onClose((reason) => this.onLost(connection, reason));
      this.startKeepalive();
      this.setState('online', 'connected');
    } catch (error) {
      this.lastError = error instanceof Error ? error.message : String(error);
      this.setState('offline', this.lastError);
      this.scheduleRetry();
    }
  }

  private onLost(connection: BankConnection, reason: string): void {
    if (this.connection !== connection) return;
    this.connection = null;
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.lastError = reason;
    for (const listener of this.lostListeners) listener(reason);
    if (this.stopped) return;
    this.setState('offline', reason);
    this.scheduleRetry(true);
  }

  private scheduleRetry(immediately = false): void {
    if (this.stopped) return;
    const delayMs = immediately ? 0 : this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.backoffMaxMs ?? 2_000);
    this.retryTimer = setTimeout(() => void this.connectOnce(), delayMs);
    this.retryTimer.unref();
  }

  /** A ping well inside the bank's 60 s idle timeout; its failure shows up as a lost session. */
  private startKeepalive(): void {
    if (this.keepaliveTimer !== null) clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = setInterval(() => void this.request({ op: 'ping' }).catch(() => undefined), this.options.keepaliveMs ?? 20_000);
    this.keepaliveTimer.unref();
  }
}
