// The operator's own handle on mqtt.js, typed with only what a subscriber uses. The bank has
// its own (bank/mqtt-client.ts, a publisher's); operator/ never imports bank/, so the two
// components can change how they talk to a broker independently. mqtt's bundled .d.ts drags
// in DOM types our strict, DOM-less tsconfig rejects, so the CommonJS package is loaded
// through createRequire and typed here.
import { createRequire } from 'node:module';

export interface SubscriberOptions {
  protocolVersion: 4 | 5;
  username?: string | undefined;
  password?: string | undefined;
  clientId: string;
  /** mqtts: the CA certificate(s) that sign the broker's certificate (PEM). */
  ca?: Buffer | undefined;
  clean: boolean;
  /** Re-send subscriptions after a reconnect (mqtt.js default true). */
  resubscribe: boolean;
  reconnectPeriod: number;
  /** Keep reconnecting after the broker refused the CONNECT (mqtt.js default false). */
  reconnectOnConnackError: boolean;
  connectTimeout: number;
  /** Seconds between PINGREQs; a silent broker is declared gone after 1.5× this. */
  keepalive: number;
}

export interface SubscriberClient {
  /** mqtt.js reads reconnectPeriod each time it schedules a reconnect: set it for backoff. */
  options: { reconnectPeriod?: number };
  on(event: 'connect' | 'close' | 'reconnect', listener: () => void): this;
  on(event: 'error', listener: (error: Error & { code?: string | number }) => void): this;
  on(event: 'message', listener: (topic: string, payload: Buffer) => void): this;
  subscribeAsync(topic: string, options: { qos: 0 | 1 | 2 }): Promise<unknown>;
  endAsync(force?: boolean): Promise<void>;
}

const mqtt = createRequire(import.meta.url)('mqtt') as {
  connect(url: string, options: SubscriberOptions): SubscriberClient;
};

export function connectSubscriber(url: string, options: SubscriberOptions): SubscriberClient {
  return mqtt.connect(url, options);
}
