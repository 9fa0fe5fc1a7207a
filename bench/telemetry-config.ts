// Settings and shared state of the telemetry benchmark (bench/telemetry.ts), used by its parts.
import type { MqttUser } from '../test/helpers/mosquitto.js';

export type Mode = 'off' | 'embedded' | 'mosquitto';
export const BCRYPT_COST = 4;
export const OPERATOR: MqttUser = { username: 'bench-ops', password: 'bench-operator-password' };
export const WAIT_MS = 40_000;
/** Waits poll this seldom: reading the subscriber's file or stats must not load the machine being measured. */
export const POLL_MS = 20;
/** Temp dirs to remove at the end of the run (bench/telemetry.ts removes them once more, late). */
export const roots: string[] = [];
