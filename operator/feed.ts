// [Seam] Where the dashboard's telemetry comes from: MQTT (the only file here that touches it),
// or a ManualFeed in tests. The feed turns the broker into reducer inputs: connection state
// changes, parsed telemetry, and a count of what did not parse.
import { Backoff, connectMqtt, parseTelemetry, type MqttClientLike } from '../protocol/index.js';
import type { DashboardInput } from './model.js';
import type { BrokerState } from './state.js';

export type FeedListener = (input: DashboardInput) => void;

/**
 * Contract for implementers: after start() the listener hears, in order of occurrence,
 * `connection` on every change of state (connecting → online → offline → connecting …),
 * `telemetry` for each message parseTelemetry accepts and `malformed` for any other. The feed
 * reconnects by itself with backoff; `refused` (bad credentials, not allowed to subscribe,
 * unsupported protocol) is final: the feed stops trying. The listener is never called
 * after stop(); stop() resolves once the connection is gone and never rejects.
 */
export interface TelemetryFeed {
  start(listener: FeedListener): void;
  stop(): Promise<void>;
}

export const TELEMETRY_FILTER = 'atm/v1/#';

export interface MqttFeedOptions {
  url: string;
  username?: string | undefined;
  password?: string | undefined;
  /** 4 (MQTT 3.1.1: aedes, the default) or 5. */
  protocolVersion?: 4 | 5;
  /** mqtts: the CA that signs the broker's certificate (PEM). */
  ca?: Buffer | undefined;
  clientId: string;
  reconnectMsMin?: number;
  reconnectMsMax?: number;
  connectTimeoutMs?: number;
  keepaliveSeconds?: number;
  nowMs?: () => number;
}

/** CONNACK codes worth retrying (the broker is busy or going down), v3.1.1 and v5. */
const TRANSIENT_CONNACK_CODES = new Set([3, 136, 137, 139]);
const REFUSAL_TEXT: Record<number, string> = {
  4: 'bad username or password',
  134: 'bad username or password',
  5: 'not authorized',
  135: 'not authorized',
};

interface ClientError extends Error {
  code?: string | number;
}

/** A short reason for the header: an errno (ECONNREFUSED) or the broker's refusal. */
export function describeError(error: ClientError): { reason: string; final: boolean } {
  if (typeof error.code === 'number' && error.message.startsWith('Connection refused')) {
    const reason = REFUSAL_TEXT[error.code] ?? error.message.replace(/^Connection refused: /, '').toLowerCase();
    return { reason, final: !TRANSIENT_CONNACK_CODES.has(error.code) };
  }
  return { reason: typeof error.code === 'string' ? error.code : error.message.slice(0, 80), final: false };
}

export class MqttFeed implements TelemetryFeed {
  private client: MqttClientLike | null = null;
  private listener: FeedListener | null = null;
  private lastReason: string | null = null;
  private state: BrokerState = 'connecting';
  private stopped = false;
  private readonly nowMs: () => number;

  constructor(private readonly options: MqttFeedOptions) {
    this.nowMs = options.nowMs ?? (() => Date.now());
  }

  private report(state: BrokerState, reason: string | null): void {
    if (this.stopped || this.state === 'refused') return;
    this.state = state;
    this.listener?.({ type: 'connection', state, reason, atMs: this.nowMs() });
  }

  private refuse(reason: string): void {
    this.report('refused', reason);
    const client = this.client;
    if (client === null) return;
    client.options.reconnectPeriod = 0;
    client.endAsync(true).catch(() => undefined);
  }

  start(listener: FeedListener): void {
    if (this.client !== null) throw new Error('MqttFeed.start called twice');
    this.listener = listener;
    const reconnectMsMin = this.options.reconnectMsMin ?? 500;
    const reconnectMsMax = this.options.reconnectMsMax ?? 10_000;
    const backoff = new Backoff(reconnectMsMin, reconnectMsMax);
    this.report('connecting', null);
    const client = connectMqtt(this.options.url, {
      protocolVersion: this.options.protocolVersion ?? 4,
      username: this.options.username,
      password: this.options.password,
      clientId: this.options.clientId,
      ca: this.options.ca,
      clean: true,
      // We subscribe on every connect ourselves, so a refused SUBACK is seen each time.
      resubscribe: false,
      reconnectPeriod: reconnectMsMin,
      reconnectOnConnackError: true,
      connectTimeout: this.options.connectTimeoutMs ?? 5_000,
      keepalive: this.options.keepaliveSeconds ?? 10,
    });
    this.client = client;
    client.on('connect', () => {
      backoff.reset();
      client.options.reconnectPeriod = reconnectMsMin;
      this.lastReason = null;
      client.subscribeAsync(TELEMETRY_FILTER, { qos: 0 }).then(
        () => this.report('online', null),
        // A SUBACK refusal is final; a connection lost mid-subscribe is left to 'close'.
        (error: unknown) =>
          error instanceof Error && error.message.includes('Subscribe error')
            ? this.refuse(`not allowed to subscribe to ${TELEMETRY_FILTER}`)
            : undefined,
      );
    });
    client.on('message', (topic, payload) => {
      if (this.stopped) return;
      const message = parseTelemetry(topic, payload);
      const atMs = this.nowMs();
      this.listener?.(message === null ? { type: 'malformed', topic, atMs } : { type: 'telemetry', message, atMs });
    });
    client.on('error', (error: ClientError) => {
      const { reason, final } = describeError(error);
      this.lastReason = reason;
      if (final) this.refuse(reason);
    });
    // Exponential backoff: mqtt.js reads reconnectPeriod each time it schedules a reconnect.
    client.on('close', () => {
      if (this.stopped || this.state === 'refused') return;
      client.options.reconnectPeriod = backoff.nextDelayMs();
      this.report('offline', this.lastReason ?? 'connection closed');
    });
    client.on('reconnect', () => this.report('connecting', this.lastReason));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    const client = this.client;
    if (client === null) return;
    client.options.reconnectPeriod = 0;
    await client.endAsync(true).catch(() => undefined);
  }
}
