// The kiosk side of a secure session as a small request/response API: the only kiosk-side
// file that opens a socket. One request in flight at a time (the bank serialises per session
// anyway); every request has a deadline; every failure is an AtmError with a stable code.
import net from 'node:net';
import { SecureChannel, type ChannelTimeouts } from './channel.js';
import type { RandomBytes } from './crypto.js';
import { AtmError, type CodeOf } from './errors.js';
import { encodeMessage, parseResponse, type RequestOp, type Response } from './messages.js';
import { parseResponseTo, type RequestBody, type ResponseOf } from './responses.js';

export const ClientError = {
  UNREACHABLE: 'BANK_UNREACHABLE',
  HANDSHAKE: 'HANDSHAKE_FAILED',
  CLOSED: 'SESSION_CLOSED',
  TIMEOUT: 'REQUEST_TIMEOUT',
  BAD_RESPONSE: 'BAD_RESPONSE',
} as const satisfies Record<string, CodeOf<'client'>>;

export interface ConnectOptions {
  host: string;
  port: number;
  kioskId: string;
  psk: Buffer;
  nowMs?: () => number;
  randomBytes?: RandomBytes;
  timeouts?: Partial<ChannelTimeouts>;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

interface InFlight {
  id: number;
  /** The op asked, so its response is held to what that op promises; null for raw test bytes. */
  op: RequestOp | null;
  resolve: (response: Response) => void;
  reject: (error: AtmError) => void;
  timer: NodeJS.Timeout;
}

export class BankConnection {
  private nextId = 1;
  private inFlight: InFlight | null = null;
  private closedReason: string | null = null;
  private readonly closeListeners: ((reason: string, clean: boolean) => void)[] = [];

  private constructor(
    private readonly channel: SecureChannel,
    private readonly requestTimeoutMs: number,
  ) {
    channel.events = {
      onMessage: (plaintext) => this.onMessage(plaintext),
      onClose: (reason, detail, clean) => this.handleClose(`${reason}: ${detail}`, clean),
    };
  }

  static async connect(options: ConnectOptions): Promise<BankConnection> {
    const socket = await openSocket(options.host, options.port, options.connectTimeoutMs ?? 5_000);
    let closeDetail = '';
    const channel = SecureChannel.connect({
      stream: socket,
      kioskId: options.kioskId,
      psk: options.psk,
      nowMs: options.nowMs ?? (() => Date.now()),
      randomBytes: options.randomBytes,
      timeouts: options.timeouts,
      events: { onClose: (reason, detail) => (closeDetail = `${reason}: ${detail}`) },
    });
    try {
      await channel.opened;
    } catch {
      // The bank closes silently on a wrong key, an unknown or revoked kiosk (no oracle).
      throw new AtmError(
        ClientError.HANDSHAKE,
        `secure session refused by the bank (wrong key, unknown or revoked kiosk, or clock off by > 30 s) [${closeDetail}]`,
      );
    }
    return new BankConnection(channel, options.requestTimeoutMs ?? 15_000);
  }

  get isOpen(): boolean {
    return this.closedReason === null && this.channel.isOpen;
  }

  onClose(listener: (reason: string, clean: boolean) => void): void {
    this.closeListeners.push(listener);
  }

  /** [ATM-4.4] Resolves with the response to this op, checked for every field it promises. */
  request<Body extends RequestBody>(body: Body): Promise<ResponseOf<Body['op']>> {
    if (!this.isOpen)
      return Promise.reject(new AtmError(ClientError.CLOSED, `session closed (${this.closedReason ?? 'not open'})`));
    if (this.inFlight !== null)
      return Promise.reject(new AtmError(ClientError.CLOSED, 'a request is already in flight on this session'));
    const id = this.nextId++;
    return new Promise<ResponseOf<Body['op']>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.inFlight = null;
        reject(new AtmError(ClientError.TIMEOUT, `no answer from the bank within ${this.requestTimeoutMs} ms`));
        this.channel.fail('TIMEOUT', 'request timeout');
      }, this.requestTimeoutMs);
      // The parser checked the response against body.op, so it is that op's response.
      this.inFlight = { id, op: body.op, resolve: resolve, reject, timer };
      this.channel.send(encodeMessage({ ...body, id }));
    });
  }

  /** Sends raw bytes as one record: for tests of the bank's message validation. */
  requestRaw(plaintext: Buffer, id: number): Promise<Response> {
    return new Promise<Response>((resolve, reject) => {
      const timer = setTimeout(() => reject(new AtmError(ClientError.TIMEOUT, 'timeout')), this.requestTimeoutMs);
      this.inFlight = { id, op: null, resolve, reject, timer };
      this.channel.send(plaintext);
    });
  }

  close(): void {
    this.channel.close();
  }

  private onMessage(plaintext: Buffer): void {
    const inFlight = this.inFlight;
    if (inFlight === null) {
      this.channel.fail('BAD_MESSAGE', 'response with no request in flight');
      return;
    }
    const parsed =
      inFlight.op === null
        ? { ok: true as const, response: parseResponse(plaintext) }
        : parseResponseTo(inFlight.op, plaintext);
    if (!parsed.ok || parsed.response?.id !== inFlight.id) {
      const reason = !parsed.ok ? parsed.reason : parsed.response === null ? 'malformed response' : 'wrong id';
      // The request fails with its own code, not as a closed session: a response the bank
      // should never send is a fault to report, and no field is ever filled in for it.
      clearTimeout(inFlight.timer);
      this.inFlight = null;
      inFlight.reject(new AtmError(ClientError.BAD_RESPONSE, `bad response from the bank: ${reason}`));
      this.channel.fail('BAD_MESSAGE', reason);
      return;
    }
    const response = parsed.response;
    clearTimeout(inFlight.timer);
    this.inFlight = null;
    inFlight.resolve(response);
  }

  private handleClose(reason: string, clean: boolean): void {
    this.closedReason = reason;
    if (this.inFlight !== null) {
      clearTimeout(this.inFlight.timer);
      this.inFlight.reject(new AtmError(ClientError.CLOSED, `the bank closed the session (${reason})`));
      this.inFlight = null;
    }
    for (const listener of this.closeListeners) listener(reason, clean);
  }
}

function openSocket(host: string, port: number, timeoutMs: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new AtmError(ClientError.UNREACHABLE, `bank ${host}:${port} did not answer within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      resolve(socket);
    });
    socket.once('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(
        new AtmError(ClientError.UNREACHABLE, `cannot reach bank ${host}:${port}: ${error.code ?? error.message}`),
      );
    });
  });
}
