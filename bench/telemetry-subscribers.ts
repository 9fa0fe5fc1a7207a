// Subscribers to atm/v1/# for the telemetry benchmark: the real mosquitto_sub writing to a
// file, or (without mosquitto installed) an mqtt.js client in this process.
import fs from 'node:fs';
import path from 'node:path';
import { connectMqttAsync } from '../protocol/index.js';
import { waitUntil } from '../test/helpers/wait.js';
import { spawnMosquittoSub, type MqttUser } from '../test/helpers/mosquitto.js';
import { POLL_MS, WAIT_MS, roots } from './telemetry-config.js';

/**
 * Where the subscriber writes what it receives: a memory filesystem when there is one, so its
 * appends do not share the disk the bank fsyncs to (a dashboard runs on another machine).
 */
export function subscriberDir(root: string): string {
  const memory = '/dev/shm';
  if (!fs.existsSync(memory)) return root;
  const dir = fs.mkdtempSync(path.join(memory, 'atm-telemetry-bench-sub-'));
  roots.push(dir);
  return dir;
}

/** A subscriber to atm/v1/#, started once the bank's retained online status has come through. */
export interface Subscriber {
  depositEvents(): number;
  stop(): Promise<void>;
}

export async function mosquittoSubscriber(port: number, user: MqttUser, outputFile: string): Promise<Subscriber> {
  const sub = await spawnMosquittoSub(port, user, ['atm/v1/#'], { outputFile });
  await sub.waitFor((m) => m.topic.startsWith('atm/v1/bank/') && m.text.includes('"online"'), WAIT_MS);
  return {
    depositEvents: () => sub.messages().filter((m) => m.topic === 'atm/v1/events/deposit').length,
    stop: () => sub.stop(),
  };
}

/** Fallback without mosquitto_sub: in this process, so its cost counts against the bank. */
export async function inProcessSubscriber(port: number, user: MqttUser): Promise<Subscriber> {
  const client = await connectMqttAsync(`mqtt://127.0.0.1:${port}`, {
    protocolVersion: 4,
    ...user,
    reconnectPeriod: 0,
  });
  let deposits = 0;
  let online = false;
  client.on('message', (topic, payload) => {
    if (topic === 'atm/v1/events/deposit') deposits += 1;
    else if (topic.startsWith('atm/v1/bank/') && payload.toString('utf8').includes('"online"')) online = true;
  });
  await client.subscribeAsync('atm/v1/#', { qos: 0 });
  await waitUntil(() => online, 'the bank status', WAIT_MS, POLL_MS);
  return { depositEvents: () => deposits, stop: () => client.endAsync(true) };
}
