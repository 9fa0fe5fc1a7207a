// The one serial line shared by the serial keypad, display and dispenser (hardware/serial.ts):
// opens the port, says HELLO, watches the heartbeat, and reopens the path with backoff after
// an unplug. Lines are parsed by the codec of protocol/serial-line.ts; what does not parse
// is counted and dropped, never thrown. The port sits behind SerialConnection (serial-port.ts)
// and time behind SerialTimers, so tests can pass a scripted port and a fake clock.
//
// Longer than the house's 150 lines: opening, the handshake, the heartbeat and reconnecting
// are one state machine (the phases below) and must change together; each method is short.
import {
  HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_LOSS_MS,
  LINE_BYTES_MAX,
  LineSplitter,
  SEQUENCE_MAX,
  SERIAL_PROTOCOL_VERSION,
  encodeHostMessage,
  parseDeviceLine,
  type DeviceMessage,
  type HostMessage,
} from '../protocol/index.js';
import { Listeners } from './listeners.js';
import {
  openSerialPort,
  type OpenSerialConnection,
  type SerialConnection,
  type SerialConnectionEvents,
} from './serial-port.js';
import { SerialLinkCounters, type SerialLinkStats } from './serial-link-stats.js';
import { Backoff, LineUsers, realTimers, type SerialTimers } from './shared-line.js';

export type { SerialLinkStats } from './serial-link-stats.js';

// The port seam's types, for callers that import the link (the firmata driver shares SerialTimers).
export {
  openSerialPort,
  realTimers,
  type OpenSerialConnection,
  type SerialConnection,
  type SerialConnectionEvents,
  type SerialTimers,
} from './serial-port.js';

export interface SerialLinkOptions {
  baudRate?: number;
  /** How long the device has to answer HELLO, and the PING after it, once the port is open. */
  helloTimeoutMs?: number;
  /** Silence for this long, once online, counts as an unplug. Default HEARTBEAT_LOSS_MS. */
  heartbeatLossMs?: number;
  /** Reconnect backoff: the first retry after reconnectDelayMsMin, doubling up to reconnectDelayMsMax. */
  reconnectDelayMsMin?: number;
  reconnectDelayMsMax?: number;
  /** open() waits at most this long for the device before resolving with it offline. */
  openWaitMs?: number;
  timers?: SerialTimers;
  openConnection?: OpenSerialConnection;
  log?: (line: string) => void;
}

export interface DeviceHello {
  version: number;
  device: string;
  caps: string[];
}

/** Dropped lines are logged at most this often (the counts are always in stats()). */

/** A device that talks without having greeted us hears HELLO again, at most this often. */
const HELLO_REPEAT_MS = 250;

type Phase = 'closed' | 'opening' | 'hello' | 'online' | 'waiting';

export class SerialLink {
  private readonly timers: SerialTimers;
  private readonly openConnection: OpenSerialConnection;
  private readonly log: (line: string) => void;
  private readonly settings: Required<Omit<SerialLinkOptions, 'timers' | 'openConnection' | 'log'>>;
  private phase: Phase = 'closed';
  private readonly users: LineUsers;
  private readonly backoff: Backoff;
  private connection: SerialConnection | null = null;
  private generation = 0; // bumps on every connect/disconnect, so stale callbacks are ignored
  private splitter = new LineSplitter(LINE_BYTES_MAX);
  private readonly counters = new SerialLinkCounters();
  private cancelTimer: () => void = () => undefined;
  private cancelHeartbeat: () => void = () => undefined;
  private lastHeardMs = 0;
  private pingSeq = 0;
  private readonly pongWaiters = new Map<number, { resolve: () => void; reject: (error: Error) => void }>();
  private lastPingMs = 0;
  private lastHelloMs = Number.NEGATIVE_INFINITY;
  private helloReceived: DeviceHello | null = null;
  private missing = false;
  private readonly messageListeners = new Listeners<DeviceMessage>();
  private readonly onlineListeners = new Listeners<boolean>();
  private readonly missingListeners = new Listeners<boolean>();
  private readonly greetedListeners = new Listeners<void>();

  constructor(
    readonly path: string,
    options: SerialLinkOptions = {},
  ) {
    this.timers = options.timers ?? realTimers;
    this.openConnection = options.openConnection ?? openSerialPort;
    this.log = options.log ?? (() => undefined);
    this.settings = {
      baudRate: options.baudRate ?? 115_200,
      helloTimeoutMs: options.helloTimeoutMs ?? 1_500,
      heartbeatLossMs: options.heartbeatLossMs ?? HEARTBEAT_LOSS_MS,
      reconnectDelayMsMin: options.reconnectDelayMsMin ?? 250,
      reconnectDelayMsMax: options.reconnectDelayMsMax ?? 2_000,
      openWaitMs: options.openWaitMs ?? 3_000,
    };
    this.users = new LineUsers(this.timers, this.settings.openWaitMs);
    this.backoff = new Backoff(this.settings.reconnectDelayMsMin, this.settings.reconnectDelayMsMax);
  }

  get online(): boolean {
    return this.phase === 'online';
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
    return this.counters.snapshot(this.splitter.stats);
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
    return this.onlineListeners.add(listener);
  }

  /**
   * One more device uses the line. The first starts connecting; each waits until the device
   * is online or openWaitMs passed (an absent device is not an error: it comes online later).
   */
  async acquire(): Promise<void> {
    const settled = this.users.add(this.phase === 'online');
    if (this.phase === 'closed') this.connect();
    await settled;
  }

  /** One device less; the last one closes the port and stops reconnecting. */
  async release(): Promise<void> {
    if (!this.users.remove()) return;
    this.cancelTimer();
    this.cancelHeartbeat();
    const wasOnline = this.phase === 'online';
    this.phase = 'closed';
    this.generation += 1;
    const connection = this.connection;
    this.connection = null;
    this.failConfirms('closed');
    this.log(`serial ${this.path}: closed; ${this.counters.summary(this.splitter.stats)}`);
    if (wasOnline) this.onlineListeners.emit(false);
    this.users.settled();
    await connection?.close();
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
    return new Promise<void>((resolve, reject) => {
      const seq = this.nextPingSeq();
      const cancel = this.timers.schedule(timeoutMs, () =>
        settle(new Error(`serial device ${this.path} did not answer PING ${seq} within ${timeoutMs} ms`)),
      );
      const settle = (error: Error | null): void => {
        if (!this.pongWaiters.delete(seq)) return;
        cancel();
        if (error === null) resolve();
        else reject(error);
      };
      this.pongWaiters.set(seq, { resolve: () => settle(null), reject: settle });
      this.send({ verb: 'PING', seq }).catch((error: unknown) =>
        settle(error instanceof Error ? error : new Error(String(error))),
      );
    });
  }

  private nextPingSeq(): number {
    this.pingSeq = this.pingSeq === SEQUENCE_MAX ? 0 : this.pingSeq + 1;
    return this.pingSeq;
  }

  private failConfirms(reason: string): void {
    for (const waiter of [...this.pongWaiters.values()])
      waiter.reject(new Error(`serial device ${this.path}: ${reason}`));
  }

  private connect(): void {
    this.phase = 'opening';
    const generation = ++this.generation;
    // A fresh splitter per connection: no half line survives a reconnect.
    this.counters.replaceSplitter(this.splitter.stats);
    this.splitter = new LineSplitter(LINE_BYTES_MAX);
    const events: SerialConnectionEvents = {
      onData: (chunk) => {
        if (generation === this.generation) this.receive(chunk);
      },
      onClose: (reason) => {
        if (generation === this.generation) this.disconnected(reason);
      },
    };
    this.openConnection(this.path, this.settings.baudRate, events).then(
      (connection) => {
        if (generation !== this.generation) {
          void connection.close();
          return;
        }
        this.connection = connection;
        if (this.missing) {
          this.missing = false;
          this.missingListeners.emit(false);
        }
        this.phase = 'hello';
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
        if (generation !== this.generation) return;
        const message = error instanceof Error ? error.message : String(error);
        // No such port at all is a device not found (a wrong path, a cable out), not a line
        // that dropped: the kiosk says so, and the log says what to check.
        const wasMissing = this.missing;
        this.missing =
          /ENOENT|No such file or directory/.test(message) ||
          (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
        // Still offline, but now known to be missing (or no longer): the devices re-read their state.
        if (this.missing !== wasMissing) this.missingListeners.emit(this.missing);
        this.retryLater(
          this.missing
            ? `no such port: check the path (ls /dev/serial/by-id/) and that the device is plugged in`
            : `cannot open: ${message}`,
        );
      },
    );
  }

  /** The line is gone (closed, silent, or never answered): offline, then reopen later. */
  private disconnected(reason: string): void {
    if (this.phase === 'closed' || this.phase === 'waiting') return;
    this.cancelTimer();
    this.cancelHeartbeat();
    const wasOnline = this.phase === 'online';
    this.generation += 1;
    const connection = this.connection;
    this.connection = null;
    this.failConfirms(reason);
    void connection?.close();
    this.phase = 'waiting';
    if (wasOnline) {
      this.counters.count.disconnects += 1;
      this.backoff.reset();
      this.onlineListeners.emit(false);
    }
    this.retryLater(reason);
  }

  private retryLater(reason: string): void {
    this.phase = 'waiting';
    if (this.backoff.first) this.log(`serial ${this.path}: ${reason}; reconnecting`);
    const delayMs = this.backoff.nextDelayMs();
    this.cancelTimer = this.timers.schedule(delayMs, () => {
      if (this.phase === 'waiting') this.connect();
    });
  }

  private receive(chunk: Buffer): void {
    const generation = this.generation;
    for (const line of this.splitter.push(chunk)) {
      if (generation !== this.generation) return; // a line in this chunk ended the connection
      const parsed = parseDeviceLine(line);
      if (!parsed.ok) {
        this.splitter.countRejected(parsed.reason);
        this.counters.count.lastRejectReason = parsed.reason;
        continue;
      }
      this.counters.count.messages += 1;
      this.lastHeardMs = this.timers.nowMs();
      this.handle(parsed.message);
    }
    const drops = this.counters.dropReport(this.splitter.stats, this.timers.nowMs());
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
    if (message.verb === 'PONG') this.pongWaiters.get(message.seq)?.resolve();
  }

  /** HELLO, at most once per HELLO_REPEAT_MS. */
  private sayHello(): void {
    if (this.phase !== 'hello') return;
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
    if (this.phase !== 'hello') return; // only ever an answer to our HELLO: a repeat changes nothing
    if (message.version !== SERIAL_PROTOCOL_VERSION) {
      this.disconnected(`device speaks protocol version ${message.version}, we speak ${SERIAL_PROTOCOL_VERSION}`);
      return;
    }
    this.helloReceived = { version: message.version, device: message.device, caps: [...message.caps] };
    this.greetedListeners.emit();
    const generation = this.generation;
    this.send({ verb: 'COUNTS' }).catch(() => undefined); // a failed write fails the PING too
    this.confirm(this.settings.helloTimeoutMs).then(
      () => {
        if (generation === this.generation && this.phase === 'hello') this.cameOnline();
      },
      (error: unknown) => {
        if (generation === this.generation) this.disconnected(`handshake: ${String(error)}`);
      },
    );
  }

  private cameOnline(): void {
    this.cancelTimer();
    this.phase = 'online';
    this.backoff.reset();
    this.counters.count.connects += 1;
    this.lastHeardMs = this.timers.nowMs();
    this.lastPingMs = this.lastHeardMs;
    this.log(`serial ${this.path}: online (${this.helloReceived?.device ?? '?'})`);
    this.scheduleHeartbeat();
    this.onlineListeners.emit(true);
    this.users.settled();
  }

  /**
   * The heartbeat: checked every few hundred ms, so a silent line is called lost soon after
   * heartbeatLossMs; a PING goes out once per HEARTBEAT_INTERVAL_MS (the device's HB would do,
   * but a PING also proves the write direction, which a device's HB cannot).
   */
  private scheduleHeartbeat(): void {
    const generation = this.generation;
    const checkMs = Math.max(10, Math.min(250, this.settings.heartbeatLossMs / 8));
    this.cancelHeartbeat = this.timers.schedule(checkMs, () => {
      if (generation !== this.generation || this.phase !== 'online') return;
      const nowMs = this.timers.nowMs();
      const silentMs = nowMs - this.lastHeardMs;
      if (silentMs >= this.settings.heartbeatLossMs) {
        this.disconnected(`no heartbeat for ${Math.round(silentMs)} ms`);
        return;
      }
      if (nowMs - this.lastPingMs >= HEARTBEAT_INTERVAL_MS) {
        this.lastPingMs = nowMs;
        this.send({ verb: 'PING', seq: this.nextPingSeq() }).catch((error: unknown) =>
          this.disconnected(`PING not sent: ${String(error)}`),
        );
      }
      this.scheduleHeartbeat();
    });
  }
}
