// [Seam] The telemetry sink: what the bank's observer publishes to. The bank hands it messages
// and never waits for it. In `atm bank` the sink is a PortTelemetry (telemetry-port.ts) whose
// other end, on a thread of its own, is an outlet: MqttTelemetry below (an external broker:
// a bounded queue, and when the broker is down and the queue is full it drops and counts, then
// reports the count on reconnect) or BrokerTelemetry (the embedded broker, in-process).
import { topics } from '../protocol/index.js';
import { connectMqtt, type MqttClientLike, type MqttConnectOptions } from '../protocol/index.js';
import { encodeQos0Publish } from './mqtt-publish.js';
import { Envelope, type TelemetryOutlet, type TelemetryStats } from './telemetry-outlet.js';

import type { TelemetrySink } from './telemetry-sink.js';

export type { TelemetryOutlet, TelemetryStats } from './telemetry-outlet.js';
export { NoopTelemetry, type TelemetrySink } from './telemetry-sink.js';

export const TELEMETRY_QUEUE_MESSAGES_MAX = 1_000;
/** Queued messages sent per event-loop turn after a reconnect: a full queue sent in one loop blocked the bank ~33 ms. */
export const TELEMETRY_FLUSH_SLICE_MESSAGES = 50;
/**
 * Bytes the socket may hold unsent. A broker that is connected but slow (or stalled) reads
 * less than the bank writes; past this the messages wait in the bounded queue (and beyond it
 * are dropped and counted) instead of piling up in the socket's buffer without bound. Small,
 * because mqtt.js adds a 'drain' listener per write the socket did not take at once.
 */
export const TELEMETRY_SOCKET_BYTES_MAX = 64 * 1024;
/** close() waits this long for the offline status and the queue to leave, then cuts the connection. */
export const TELEMETRY_CLOSE_MS_MAX = 2_000;

export interface MqttTelemetryOptions {
  url: string;
  hostId: string;
  username?: string;
  password?: string;
  /** 4 (MQTT 3.1.1, what aedes speaks) or 5. */
  protocolVersion?: 4 | 5;
  queueMessagesMax?: number;
  reconnectMsMin?: number;
  reconnectMsMax?: number;
  nowMs?: () => number;
  /** TLS for mqtts:// (PEM): the CA that signed the broker's certificate, and a client certificate. */
  tls?: MqttTlsOptions;
  /**
   * Counts of an earlier client on a telemetry thread that died: this one continues them, and
   * reports those drops at its first connect.
   */
  countsBefore?: { published: number; dropped: number };
}

export interface MqttTlsOptions {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

/** mqtt.js passes these on to tls.connect; the broker's certificate is always verified. */
type TlsConnectOptions = MqttConnectOptions & MqttTlsOptions & { rejectUnauthorized: true };

interface Queued {
  topic: string;
  body: string;
  retain: boolean;
}

export function bankStatusTopic(hostId: string): string {
  return topics.bankStatus(hostId);
}

/** Both a sink (used as it is in tests and tools) and an outlet (behind a PortTelemetry in `atm bank`). */
export class MqttTelemetry implements TelemetrySink, TelemetryOutlet {
  private readonly client: MqttClientLike;
  private readonly queue: Queued[] = [];
  private readonly queueMessagesMax: number;
  private readonly nowMs: () => number;
  private readonly envelope = new Envelope();
  private published = 0;
  private dropped: number;
  private droppedReported = 0;
  private reconnectMs: number;
  private closing = false;
  private flushScheduled = false;
  private drainAwaited = false;
  /** Encoded packets of this event-loop turn, written together at its end. */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly protocolVersion: 4 | 5;

  constructor(private readonly options: MqttTelemetryOptions) {
    this.queueMessagesMax = options.queueMessagesMax ?? TELEMETRY_QUEUE_MESSAGES_MAX;
    this.dropped = options.countsBefore?.dropped ?? 0;
    this.published = options.countsBefore?.published ?? 0;
    this.nowMs = options.nowMs ?? (() => Date.now());
    const reconnectMsMin = options.reconnectMsMin ?? 500;
    const reconnectMsMax = options.reconnectMsMax ?? 30_000;
    this.reconnectMs = reconnectMsMin;
    this.protocolVersion = options.protocolVersion ?? 4;
    const statusTopic = bankStatusTopic(options.hostId);
    const connectOptions: TlsConnectOptions = {
      ...options.tls,
      rejectUnauthorized: true,
      protocolVersion: this.protocolVersion,
      username: options.username,
      password: options.password,
      clientId: `atm-${options.hostId}`,
      reconnectPeriod: reconnectMsMin,
      connectTimeout: 5_000,
      queueQoSZero: false,
      will: {
        topic: statusTopic,
        payload: Buffer.from(this.wrap({ status: 'offline', reason: 'lost' })),
        qos: 1,
        retain: true,
      },
    };
    this.client = connectMqtt(options.url, connectOptions);
    this.client.on('connect', () => {
      this.drainAwaited = false; // a new socket: the old one's 'drain' will not come
      this.reconnectMs = reconnectMsMin;
      this.client.options.reconnectPeriod = reconnectMsMin;
      // The retained online status carries the drop counters too, so an operator who
      // subscribes later still learns what the bank could not deliver while it was away.
      const dropped = this.dropped - this.droppedReported;
      this.droppedReported = this.dropped;
      this.write({
        topic: statusTopic,
        body: this.wrap({ status: 'online', dropped, droppedTotal: this.dropped }),
        retain: true,
      });
      if (dropped > 0)
        this.write({
          topic: topics.bankDropped(options.hostId),
          body: this.wrap({ dropped, droppedTotal: this.dropped }),
          retain: false,
        });
      this.flush();
    });
    // Exponential backoff: mqtt.js reads reconnectPeriod each time it schedules a reconnect.
    this.client.on('close', () => {
      if (this.closing) return;
      this.client.options.reconnectPeriod = this.reconnectMs;
      this.reconnectMs = Math.min(this.reconnectMs * 2, reconnectMsMax);
    });
    this.client.on('error', () => undefined);
  }

  private wrap(payload: object): string {
    return this.envelope.wrapObject(payload, this.nowMs());
  }

  /**
   * Encodes the message as a QoS 0 PUBLISH (telemetry/mqtt-publish.ts: about a third of mqtt.js's cost
   * per message) and holds it until the end of this event-loop turn: the events of every
   * request answered in this turn leave in one write (one syscall here, one wake-up for the
   * broker). Telemetry is delayed by at most one turn. Counted as published once the socket
   * has taken it; a write that fails (the socket died under it) counts its messages dropped.
   */
  private write(message: Queued): void {
    let packet: Buffer;
    try {
      packet = encodeQos0Publish(message.topic, message.body, message.retain, this.protocolVersion);
    } catch {
      this.dropped += 1; // a topic or size MQTT cannot carry
      return;
    }
    if (this.pending.length === 0) setImmediate(() => this.writePending());
    this.pending.push(packet);
    this.pendingBytes += packet.length;
  }

  private writePending(): void {
    const packets = this.pending;
    if (packets.length === 0) return; // written early by close()
    const bytes = Buffer.concat(packets, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    const stream = this.client.stream;
    if (!this.client.connected || stream?.write === undefined) {
      this.dropped += packets.length; // the connection went within the turn
      return;
    }
    stream.write(bytes, (error) => {
      if (error === undefined || error === null) this.published += packets.length;
      else this.dropped += packets.length;
    });
    if (this.queue.length > 0) this.flush();
  }

  /** True while the socket holds more unsent bytes than it may; flushing resumes on its 'drain'. */
  private backpressured(): boolean {
    const stream = this.client.stream;
    const socketBytes = stream?.writableLength ?? 0;
    if (socketBytes + this.pendingBytes < TELEMETRY_SOCKET_BYTES_MAX) return false;
    // Only a socket that holds the bytes itself refused a write and will emit 'drain' (the
    // bound is above its high-water mark); when this turn's packets make up the rest,
    // writePending resumes the flush once they are written.
    if (socketBytes >= TELEMETRY_SOCKET_BYTES_MAX && !this.drainAwaited && stream?.once !== undefined) {
      this.drainAwaited = true;
      const resume = (): void => {
        this.drainAwaited = false;
        this.flush();
      };
      stream.once('drain', resume); // a socket that dies instead: 'connect' resets and flushes
    }
    return true;
  }

  /** Sends the queue in slices, one per event-loop turn, so requests interleave with a big backlog. */
  private flush(): void {
    for (
      let sent = 0;
      sent < TELEMETRY_FLUSH_SLICE_MESSAGES && this.client.connected && this.queue.length > 0 && !this.backpressured();
      sent += 1
    ) {
      const message = this.queue.shift();
      if (message !== undefined) this.write(message);
    }
    if (this.queue.length === 0 || !this.client.connected || this.flushScheduled || this.closing || this.drainAwaited)
      return;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  publish(topic: string, payload: object, options: { retain?: boolean } = {}): void {
    try {
      this.send(topic, JSON.stringify(payload), this.nowMs(), options.retain ?? false);
    } catch {
      this.dropped += 1;
    }
  }

  send(topic: string, payloadJson: string, tsMs: number, retain: boolean): void {
    try {
      const message = { topic, body: this.envelope.wrap(payloadJson, tsMs), retain };
      if (this.client.connected && this.queue.length === 0 && !this.backpressured()) {
        this.write(message);
        return;
      }
      if (this.queue.length >= this.queueMessagesMax) {
        this.dropped += 1;
        return;
      }
      this.queue.push(message);
      this.flush();
    } catch {
      this.dropped += 1;
    }
  }

  stats(): TelemetryStats {
    return {
      published: this.published,
      dropped: this.dropped,
      queued: this.queue.length,
      connected: this.client.connected,
    };
  }

  async close(): Promise<void> {
    this.closing = true;
    try {
      // No reconnect may be scheduled from here on: a pending reconnect timer would keep the
      // process alive after the bank has stopped.
      this.client.options.reconnectPeriod = 0;
      if (this.client.connected)
        this.write({
          topic: bankStatusTopic(this.options.hostId),
          body: this.wrap({ status: 'offline', reason: 'shutdown' }),
          retain: true,
        });
      // Now, not at the end of the turn: mqtt.js writes its DISCONNECT as soon as end() is called.
      this.writePending();
      // A broker that has stopped reading would hold a graceful end forever: past the bound
      // the connection is cut (its last will then says "lost" instead of "shutdown").
      let timer: NodeJS.Timeout | undefined;
      const graceful = this.client.endAsync(!this.client.connected).then(() => true);
      const late = new Promise<boolean>(
        (resolve) => (timer = setTimeout(() => resolve(false), TELEMETRY_CLOSE_MS_MAX)),
      );
      const ended = await Promise.race([graceful, late]).finally(() => clearTimeout(timer));
      if (!ended) await this.client.endAsync(true);
    } catch {
      // Closing never fails the bank's shutdown.
    }
  }
}
