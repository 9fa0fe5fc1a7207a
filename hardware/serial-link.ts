// The one serial line shared by the serial keypad, display and dispenser (hardware/serial.ts):
// opens the port, says HELLO, watches the heartbeat, and reopens the path with backoff after
// an unplug. Lines are parsed by the codec of protocol/serial-line.ts; what does not parse
// is counted and dropped, never thrown. The port sits behind SerialConnection (serial-port.ts)
// and time behind SerialTimers, so tests can pass a scripted port and a fake clock. Who uses
// the line, generations and the backoff are the lifecycle both links share (shared-line.ts).
import {
  HEARTBEAT_INTERVAL_MS,
  SERIAL_PROTOCOL_VERSION,
  encodeHostMessage,
  type DeviceMessage,
  type HostMessage,
} from '../protocol/index.js';
import { Listeners } from './listeners.js';
import { describeOpenError, openSerialPort, type OpenSerialConnection, type SerialConnection } from './serial-port.js';
import { SerialLinkCounters, type SerialLinkStats } from './serial-link-stats.js';
import {
  serialLinkSettings,
  type DeviceHello,
  type SerialLinkOptions,
  type SerialLinkSettings,
} from './serial-link-options.js';
import { SerialPings } from './serial-pings.js';
import { LineLifecycle, realTimers, watchSilence, type SerialTimers } from './shared-line.js';

/** A device that talks without having greeted us hears HELLO again, at most this often. */
const HELLO_REPEAT_MS = 250;

export class SerialLink {
  private readonly timers: SerialTimers;
  private readonly openConnection: OpenSerialConnection;
  private readonly log: (line: string) => void;
  private readonly settings: SerialLinkSettings;
  private readonly line: LineLifecycle<'opening' | 'hello'>;
  private readonly pings: SerialPings;
  private connection: SerialConnection | null = null;
  private readonly counters = new SerialLinkCounters();
  private cancelTimer: () => void = () => undefined;
  private cancelHeartbeat: () => void = () => undefined;
  private lastHeardMs = 0;
  private lastPingMs = 0;
  private lastHelloMs = Number.NEGATIVE_INFINITY;
  private helloReceived: DeviceHello | null = null;
  private missing = false;
  private readonly messageListeners = new Listeners<DeviceMessage>();
  private readonly missingListeners = new Listeners<boolean>();
  private readonly greetedListeners = new Listeners<void>();

  constructor(
    readonly path: string,
    options: SerialLinkOptions = {},
  ) {
    this.timers = options.timers ?? realTimers;
    this.openConnection = options.openConnection ?? openSerialPort;
    this.log = options.log ?? (() => undefined);
    this.settings = serialLinkSettings(options);
    this.line = new LineLifecycle(this.timers, this.settings);
    this.pings = new SerialPings(this.timers, path);
  }

  get online(): boolean {
    return this.line.online;
  }

  /** The last open found no such port (a wrong path, or the device not plugged in). */
  get portMissing(): boolean {
    return this.missing;
  }

  onPortMissing(listener: (missing: boolean) => void): () => void {
    return this.missingListeners.add(listener);
  }

  /** What the device said about itself in its last HELLO, or null before the first one. */
  get hello(): DeviceHello | null {
    return this.helloReceived;
  }

  stats(): SerialLinkStats {
    return this.counters.snapshot();
  }

  onMessage(listener: (message: DeviceMessage) => void): () => void {
    return this.messageListeners.add(listener);
  }

  /**
   * Called when the device answers HELLO, before the CASH and FAULT lines that follow it
   * [SL-3.1]: the moment to forget what the last session said (it says it all again).
   */
  onGreeted(listener: () => void): () => void {
    return this.greetedListeners.add(listener);
  }

  onOnline(listener: (online: boolean) => void): () => void {
    return this.line.onOnline(listener);
  }

  /** One more device uses the line; see LineLifecycle.acquire. */
  acquire(): Promise<void> {
    return this.line.acquire(() => this.connect());
  }

  /** One device less; the last one closes the port and stops reconnecting. */
  async release(): Promise<void> {
    const connection = this.connection;
    const closed = this.line.release(() => {
      this.dropConnection('closed');
      this.log(`serial ${this.path}: closed; ${this.counters.summary()}`);
    });
    if (closed) await connection?.close();
  }

  /** Sends one message; rejects when there is no open port or the write fails. */
  async send(message: HostMessage): Promise<void> {
    const connection = this.connection;
    if (connection === null) throw new Error(`serial device ${this.path} is not connected`);
    await connection.write(encodeHostMessage(message));
  }

  /**
   * PING, resolved by its PONG: the device has handled every line sent before it (it answers
   * in order). Rejects when the line drops, or after timeoutMs. The display's acknowledgement.
   */
  confirm(timeoutMs: number): Promise<void> {
    return this.pings.confirm(timeoutMs, (seq) => this.send({ verb: 'PING', seq }));
  }

  /** Stops the connection's timers and waiters and forgets it; the caller closes it. */
  private dropConnection(reason: string): void {
    this.cancelTimer();
    this.cancelHeartbeat();
    this.connection = null;
    this.pings.failAll(reason);
  }

  private connect(): void {
    const generation = this.line.begin('opening');
    this.counters.newConnection();
    const current = (): boolean => this.line.isCurrent(generation);
    this.openConnection(this.path, this.settings.baudRate, {
      onData: (chunk) => {
        if (current()) this.receive(chunk);
      },
      onClose: (reason) => {
        if (current()) this.disconnected(reason);
      },
    }).then(
      (connection) => {
        if (!current()) {
          void connection.close();
          return;
        }
        this.connection = connection;
        this.setMissing(false);
        this.line.phase = 'hello';
        this.helloReceived = null;
        this.lastHelloMs = Number.NEGATIVE_INFINITY;
        // [SL-1.3] the device stays silent until it hears HELLO, so opening (which flushes
        // whatever the port held) loses nothing.
        this.sayHello();
        this.cancelTimer = this.timers.schedule(this.settings.helloTimeoutMs, () =>
          this.disconnected('no HELLO from the device'),
        );
      },
      (error: unknown) => {
        if (!current()) return;
        const { missing, reason } = describeOpenError(error);
        this.setMissing(missing);
        this.retryLater(reason);
      },
    );
  }

  /** Still offline, but now known to be missing (or no longer): the devices re-read their state. */
  private setMissing(missing: boolean): void {
    if (missing === this.missing) return;
    this.missing = missing;
    this.missingListeners.emit(missing);
  }

  /** The line is gone (closed, silent, or never answered): offline, then reopen later. */
  private disconnected(reason: string): void {
    if (this.line.phase === 'closed' || this.line.phase === 'waiting') return;
    const connection = this.connection;
    this.retryLater(reason, (wasOnline) => {
      this.dropConnection(reason);
      void connection?.close();
      if (wasOnline) this.counters.count.disconnects += 1;
    });
  }

  private retryLater(reason: string, teardown: (wasOnline: boolean) => void = () => undefined): void {
    const { firstRetry } = this.line.lost(teardown, () => this.connect());
    if (firstRetry) this.log(`serial ${this.path}: ${reason}; reconnecting`);
  }

  private receive(chunk: Buffer): void {
    const generation = this.line.generation;
    for (const message of this.counters.messages(chunk)) {
      if (!this.line.isCurrent(generation)) return; // a line in this chunk ended the connection
      this.lastHeardMs = this.timers.nowMs();
      this.handle(message);
    }
    const drops = this.counters.dropReport(this.timers.nowMs());
    if (drops !== null) this.log(`serial ${this.path}: ${drops}`);
  }

  private handle(message: DeviceMessage): void {
    if (message.verb === 'HELLO') {
      this.greeted(message);
      return;
    }
    if (this.helloReceived === null) {
      // The device talks but never greeted us: it missed our HELLO (its cable was out when
      // we said it). Say it again rather than wait for the timeout.
      this.sayHello();
      return;
    }
    // During the handshake too: the CASH and FAULT lines that follow HELLO are applied
    // before anyone hears 'online' (the devices still report 'offline' meanwhile).
    this.messageListeners.emit(message);
    if (message.verb === 'PONG') this.pings.pong(message.seq);
  }

  /** HELLO, at most once per HELLO_REPEAT_MS. */
  private sayHello(): void {
    if (this.line.phase !== 'hello') return;
    const nowMs = this.timers.nowMs();
    if (nowMs - this.lastHelloMs < HELLO_REPEAT_MS) return;
    this.lastHelloMs = nowMs;
    this.send({ verb: 'HELLO', version: SERIAL_PROTOCOL_VERSION }).catch((error: unknown) =>
      this.disconnected(`HELLO not sent: ${String(error)}`),
    );
  }

  /**
   * [SL-4.1] The device answers HELLO with HELLO, CASH and every active fault. We then ask
   * COUNTS (a device that skipped CASH still gets asked) and PING: its PONG comes after all
   * of that, so 'online' is announced with the cassettes and faults already known.
   */
  private greeted(message: Extract<DeviceMessage, { verb: 'HELLO' }>): void {
    if (this.line.phase !== 'hello') return; // only ever an answer to our HELLO: a repeat changes nothing
    if (message.version !== SERIAL_PROTOCOL_VERSION) {
      this.disconnected(`device speaks protocol version ${message.version}, we speak ${SERIAL_PROTOCOL_VERSION}`);
      return;
    }
    this.helloReceived = { version: message.version, device: message.device, caps: [...message.caps] };
    this.greetedListeners.emit();
    const generation = this.line.generation;
    this.send({ verb: 'COUNTS' }).catch(() => undefined); // a failed write fails the PING too
    this.confirm(this.settings.helloTimeoutMs).then(
      () => {
        if (this.line.isCurrent(generation) && this.line.phase === 'hello') this.cameOnline();
      },
      (error: unknown) => {
        if (this.line.isCurrent(generation)) this.disconnected(`handshake: ${String(error)}`);
      },
    );
  }

  private cameOnline(): void {
    this.cancelTimer();
    this.line.cameOnline();
    this.counters.count.connects += 1;
    this.lastHeardMs = this.timers.nowMs();
    this.lastPingMs = this.lastHeardMs;
    this.log(`serial ${this.path}: online (${this.helloReceived?.device ?? '?'})`);
    this.startHeartbeat();
    this.line.announceOnline();
  }

  /**
   * The heartbeat: checked every few hundred ms, so a silent line is called lost soon after
   * heartbeatLossMs; a PING goes out once per HEARTBEAT_INTERVAL_MS (the device's HB would do,
   * but a PING also proves the write direction, which a device's HB cannot).
   */
  private startHeartbeat(): void {
    const generation = this.line.generation;
    const { heartbeatLossMs } = this.settings;
    this.cancelHeartbeat = watchSilence(this.timers, {
      silenceMs: heartbeatLossMs,
      checkMs: Math.max(10, Math.min(250, heartbeatLossMs / 8)),
      lastHeardMs: () => this.lastHeardMs,
      active: () => this.line.isCurrent(generation) && this.line.online,
      onSilent: (silentMs) => this.disconnected(`no heartbeat for ${Math.round(silentMs)} ms`),
      onAlive: (nowMs) => {
        if (nowMs - this.lastPingMs < HEARTBEAT_INTERVAL_MS) return;
        this.lastPingMs = nowMs;
        this.send({ verb: 'PING', seq: this.pings.nextSeq() }).catch((error: unknown) =>
          this.disconnected(`PING not sent: ${String(error)}`),
        );
      },
    });
  }
}
