// The embedded broker's outlet: runs on the broker's thread and publishes the bank's telemetry
// straight into aedes, with no MQTT client, no loopback socket and no packet parsing in
// between (the cost of the client hop was about half of what the embedded broker cost per
// message). No last will is needed: the broker lives and dies with the bank, and an operator
// sees its connection drop (operator/, "bank offline").
//
// Order: aedes delivers a retained publish a few microtasks later than a plain one, and a
// subscriber then drops the older packet of the two (moscajs/aedes#994, see RetainedFirst in
// broker.ts). So while a retained publish is in the broker the messages after it wait here,
// at most queueMessagesMax of them (beyond: dropped and counted), and go once it is done.
import { topics } from '../protocol/index.js';
import type { LocalBroker, LocalPacket } from './broker.js';
import { Envelope, type TelemetryOutlet, type TelemetryStats } from './telemetry-outlet.js';
import { TELEMETRY_QUEUE_MESSAGES_MAX } from './telemetry.js';

/** A retained publish that aedes never finishes (a failure inside it) holds the rest this long at most. */
export const RETAINED_STALL_MS = 1_000;

export interface BrokerTelemetryOptions {
  hostId: string;
  queueMessagesMax?: number;
  nowMs?: () => number;
  /** Default RETAINED_STALL_MS. */
  retainedStallMs?: number;
  /** Counts of the broker threads before a restart: continued here, their drops reported at once. */
  countsBefore?: { published: number; dropped: number };
}

export class BrokerTelemetry implements TelemetryOutlet {
  private readonly envelope = new Envelope();
  private readonly waiting: LocalPacket[] = [];
  private readonly queueMessagesMax: number;
  private readonly nowMs: () => number;
  private readonly retainedStallMs: number;
  private retainedInFlight = false;
  private published = 0;
  private dropped = 0;
  private closed = false;
  private drained: (() => void) | null = null;

  constructor(
    private readonly broker: Pick<LocalBroker, 'publish'>,
    private readonly options: BrokerTelemetryOptions,
  ) {
    this.queueMessagesMax = options.queueMessagesMax ?? TELEMETRY_QUEUE_MESSAGES_MAX;
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.retainedStallMs = options.retainedStallMs ?? RETAINED_STALL_MS;
    this.published = options.countsBefore?.published ?? 0;
    this.dropped = options.countsBefore?.dropped ?? 0;
    // After a restart the online status says what the gap cost, like an MQTT client's after a reconnect.
    const dropped = this.dropped;
    this.status({ status: 'online', dropped, droppedTotal: dropped });
    if (dropped > 0) {
      this.enqueue({
        topic: topics.bankDropped(options.hostId),
        payload: Buffer.from(this.envelope.wrapObject({ dropped, droppedTotal: dropped }, this.nowMs())),
        retain: false,
      });
    }
  }

  private status(payload: object): void {
    this.enqueue({
      topic: topics.bankStatus(this.options.hostId),
      payload: Buffer.from(this.envelope.wrapObject(payload, this.nowMs())),
      retain: true,
    });
  }

  send(topic: string, payloadJson: string, tsMs: number, retain: boolean): void {
    if (this.closed) {
      this.dropped += 1;
      return;
    }
    try {
      this.enqueue({ topic, payload: Buffer.from(this.envelope.wrap(payloadJson, tsMs)), retain });
    } catch {
      this.dropped += 1;
    }
  }

  private enqueue(packet: LocalPacket): void {
    if (!this.retainedInFlight) {
      this.emit(packet);
      return;
    }
    if (this.waiting.length >= this.queueMessagesMax) {
      this.dropped += 1;
      return;
    }
    this.waiting.push(packet);
  }

  private emit(packet: LocalPacket): void {
    const count = (error?: Error): void => {
      if (error === undefined) this.published += 1;
      else this.dropped += 1; // the broker is closing
    };
    if (!packet.retain) {
      this.broker.publish(packet, count);
      return;
    }
    this.retainedInFlight = true;
    let released = false;
    const release = (): void => {
      if (released) return;
      released = true;
      clearTimeout(timer);
      this.retainedInFlight = false;
      this.drain();
    };
    const timer = setTimeout(release, this.retainedStallMs);
    this.broker.publish(packet, (error) => {
      count(error);
      release();
    });
  }

  private drain(): void {
    while (!this.retainedInFlight) {
      const next = this.waiting.shift();
      if (next === undefined) break;
      this.emit(next);
    }
    if (!this.retainedInFlight && this.waiting.length === 0) this.drained?.();
  }

  stats(): TelemetryStats {
    return { published: this.published, dropped: this.dropped, queued: this.waiting.length, connected: !this.closed };
  }

  /** Publishes the retained offline status, then resolves once it and everything before it are in the broker. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.status({ status: 'offline', reason: 'shutdown' });
    this.closed = true;
    if (!this.retainedInFlight && this.waiting.length === 0) return;
    // Bounded: each retained publish in the queue holds it RETAINED_STALL_MS at most.
    await new Promise<void>((resolve) => (this.drained = resolve));
  }
}
