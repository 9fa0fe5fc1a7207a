// An mqtt.js subscriber for tests: records every message it receives (topic, text, parsed
// JSON, retain flag) and waits for one matching a predicate, with a deadline instead of sleeps.
import { connectMqttAsync, type MqttClientLike } from '../../protocol/index.js';

export const MQTT_WAIT_MS = 5_000;

export interface Received {
  topic: string;
  text: string;
  payload: Record<string, unknown>;
  retain: boolean;
}

export interface Recorder {
  client: MqttClientLike;
  received: Received[];
  /** The first message at index ≥ from that matches (already received or still to come). */
  waitFor(match: (m: Received) => boolean, from?: number, timeoutMs?: number): Promise<Received>;
}

export function parseJson(text: string): Record<string, unknown> {
  try {
    const parsed: unknown = JSON.parse(text);
    return typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)
      ? (parsed as Record<string, unknown>)
      : {};
  } catch {
    return {};
  }
}

export interface RecordOptions {
  /** > 0 rides out broker restarts (mqtt.js reconnects and resubscribes). Default 0. */
  reconnectPeriod?: number;
  connectTimeout?: number;
  /** waitFor's default deadline. */
  waitMs?: number;
}

export async function recordMqtt(
  url: string,
  filters: string | string[],
  credentials: { username?: string; password?: string },
  options: RecordOptions = {},
): Promise<Recorder> {
  const client = await connectMqttAsync(url, {
    protocolVersion: 4,
    ...credentials,
    reconnectPeriod: options.reconnectPeriod ?? 0,
    ...(options.connectTimeout === undefined ? {} : { connectTimeout: options.connectTimeout }),
  });
  client.on('error', () => undefined);
  const received: Received[] = [];
  const wakers = new Set<() => void>();
  client.on('message', (topic, buffer, packet) => {
    const text = buffer.toString('utf8');
    received.push({ topic, text, payload: parseJson(text), retain: packet.retain });
    for (const wake of [...wakers]) wake();
  });
  for (const filter of Array.isArray(filters) ? filters : [filters]) await client.subscribeAsync(filter, { qos: 0 });
  const waitFor = (
    match: (m: Received) => boolean,
    from = 0,
    timeoutMs = options.waitMs ?? MQTT_WAIT_MS,
  ): Promise<Received> =>
    new Promise((resolve, reject) => {
      const wake = (): void => {
        const found = received.slice(from).find(match);
        if (found === undefined) return;
        wakers.delete(wake);
        clearTimeout(timer);
        resolve(found);
      };
      const timer = setTimeout(() => {
        wakers.delete(wake);
        const last = received.slice(-5).map((m) => `${m.topic} ${m.text}`);
        reject(new Error(`no matching message within ${timeoutMs} ms; last: ${last.join(' | ')}`));
      }, timeoutMs);
      wakers.add(wake);
      wake();
    });
  return { client, received, waitFor };
}

/** Every key of a JSON value, nested ones included (to look for a `balance` anywhere). */
export function keysDeep(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(keysDeep);
  if (typeof value !== 'object' || value === null) return [];
  return Object.entries(value).flatMap(([key, inner]) => [key, ...keysDeep(inner)]);
}

/**
 * The field names of a telemetry payload, at any depth, for the "no balance field" scans. The
 * keys of metrics' `tps` are action names, not fields (`tps.balance` is the rate of balance
 * queries); parseTelemetry checks that each is an action name with a numeric rate.
 */
export function fieldNames(payload: Record<string, unknown>): string[] {
  return Object.entries(payload).flatMap(([key, inner]) => [key, ...(key === 'tps' ? [] : keysDeep(inner))]);
}
