// The mqtt.js client behind a minimal local interface. mqtt's bundled .d.ts drags in DOM
// worker types that our strict, lib-checked, DOM-less tsconfig rejects, so the package is
// loaded through createRequire (it is CommonJS) and typed here with just what we use.
import { createRequire } from 'node:module';

export interface MqttConnectOptions {
  protocolVersion?: 4 | 5;
  username?: string | undefined;
  password?: string | undefined;
  clientId?: string;
  reconnectPeriod?: number;
  connectTimeout?: number;
  queueQoSZero?: boolean;
  clean?: boolean;
  will?: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean };
  /** Seconds between PINGREQs; a silent broker is declared gone after 1.5× this. */
  keepalive?: number;
  /** Re-send the client's subscriptions after a reconnect (mqtt.js default true). */
  resubscribe?: boolean;
  /** Keep reconnecting after the broker refused the CONNECT (mqtt.js default false). */
  reconnectOnConnackError?: boolean;
  /** mqtts: the CA certificate(s) that sign the broker's certificate (PEM). */
  ca?: Buffer | string;
}

export interface MqttPublishOptions {
  qos: 0 | 1 | 2;
  retain: boolean;
}

export interface MqttClientLike {
  connected: boolean;
  /**
   * The transport under the client (a socket once connected). The telemetry client writes its
   * own encoded QoS 0 PUBLISH packets onto it (telemetry/mqtt-publish.ts).
   */
  stream?: {
    write?: (chunk: Buffer, callback: (error?: Error | null) => void) => boolean;
    writableLength?: number;
    once?: (event: 'drain', listener: () => void) => unknown;
  };
  options: { reconnectPeriod?: number };
  on(event: 'connect' | 'close' | 'offline' | 'reconnect' | 'end', listener: () => void): this;
  on(event: 'error', listener: (error: Error) => void): this;
  on(event: 'message', listener: (topic: string, payload: Buffer, packet: { retain: boolean }) => void): this;
  publish(topic: string, message: string, options: MqttPublishOptions, callback: (error?: Error) => void): this;
  publishAsync(topic: string, message: string, options: MqttPublishOptions): Promise<unknown>;
  subscribeAsync(topic: string, options?: { qos: 0 | 1 | 2 }): Promise<{ topic: string; qos: number }[]>;
  endAsync(force?: boolean): Promise<void>;
}

interface MqttModule {
  connect(url: string, options: MqttConnectOptions): MqttClientLike;
  connectAsync(url: string, options: MqttConnectOptions): Promise<MqttClientLike>;
}

const mqttModule = createRequire(import.meta.url)('mqtt') as MqttModule;

export function connectMqtt(url: string, options: MqttConnectOptions): MqttClientLike {
  return mqttModule.connect(url, options);
}

export function connectMqttAsync(url: string, options: MqttConnectOptions): Promise<MqttClientLike> {
  return mqttModule.connectAsync(url, options);
}
