// The fake feed, with test powers: a test (or a demo) says what the broker would have said.
import { parseTelemetry } from '../protocol/index.js';
import type { FeedListener, TelemetryFeed } from './feed.js';
import type { BrokerState } from './state.js';

export class ManualFeed implements TelemetryFeed {
  private listener: FeedListener | null = null;
  stopped = false;

  constructor(private readonly nowMs: () => number = () => Date.now()) {}

  start(listener: FeedListener): void {
    this.listener = listener;
  }

  stop(): Promise<void> {
    this.stopped = true;
    this.listener = null;
    return Promise.resolve();
  }

  /** Test power: the connection changes state. */
  connection(state: BrokerState, reason: string | null = null): void {
    this.listener?.({ type: 'connection', state, reason, atMs: this.nowMs() });
  }

  /** Test power: a message arrives on a topic, parsed exactly as the real feed parses it. */
  message(topic: string, body: string | object): void {
    const text = typeof body === 'string' ? body : JSON.stringify(body);
    const message = parseTelemetry(topic, text);
    const atMs = this.nowMs();
    this.listener?.(message === null ? { type: 'malformed', topic, atMs } : { type: 'telemetry', message, atMs });
  }
}
