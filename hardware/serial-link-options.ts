// What a SerialLink can be told (hardware/serial-link.ts), its defaults, and what a device says
// about itself in HELLO.
import { HEARTBEAT_LOSS_MS } from '../protocol/index.js';
import type { OpenSerialConnection } from './serial-port.js';
import type { SerialTimers } from './shared-line.js';

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

export type SerialLinkSettings = Required<Omit<SerialLinkOptions, 'timers' | 'openConnection' | 'log'>>;

export function serialLinkSettings(options: SerialLinkOptions): SerialLinkSettings {
  return {
    baudRate: options.baudRate ?? 115_200,
    helloTimeoutMs: options.helloTimeoutMs ?? 1_500,
    heartbeatLossMs: options.heartbeatLossMs ?? HEARTBEAT_LOSS_MS,
    reconnectDelayMsMin: options.reconnectDelayMsMin ?? 250,
    reconnectDelayMsMax: options.reconnectDelayMsMax ?? 2_000,
    openWaitMs: options.openWaitMs ?? 3_000,
  };
}

export interface DeviceHello {
  version: number;
  device: string;
  caps: string[];
}
