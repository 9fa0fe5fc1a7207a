// The vocabulary of the simulated line device (firmware-sim/line-device.ts): its limits, states,
// options and the events it reports to the edge and the console.
import type { CashInFault, Cassette, DispenseFault, InsertOutcome } from '../hardware/index.js';
import { assert, type DeviceFaultName } from '../protocol/index.js';

export const DEVICE_NAME_DEFAULT = 'atm-firmware-sim';
/** [SL-4.8] DISPENSE results remembered by id, so a repeated DISPENSE never pays twice. */
export const DISPENSE_MEMORY_MAX = 32;
/** [SL-4.14] STORE and RETURN results remembered by verb and id, so a repeat moves nothing twice. */
export const CASH_IN_MEMORY_MAX = 32;
export const GARBAGE_BYTES_MAX = 4096;
/**
 * [SL-5.6] A session ends when the host has said nothing valid for this long (a host PINGs every
 * second): the device goes silent until the next HELLO, so a kiosk that went away does not come
 * back to minutes of stale heartbeats and key presses queued in the line.
 */
export const HOST_SILENCE_MS = 30_000;

/** A condition FAULT can announce; 'ok' is not one, it clears them [SL-4.9]. */
export type ActiveFault = Exclude<DeviceFaultName, 'ok'>;

/** 'awaitingHello' after power-on: silent until the host's HELLO [SL-1.3]; then 'running'. */
export type LineDeviceState = 'awaitingHello' | 'running';

export type LineDeviceEvent =
  | { kind: 'hello'; version: number }
  | { kind: 'display' }
  | { kind: 'dispensed'; id: number; amountCents: number; dispensedCents: number; fault: DispenseFault | null }
  | { kind: 'note'; note: number | 'torn'; outcome: InsertOutcome }
  | { kind: 'cashIn'; verb: 'STORE' | 'RETURN'; id: number; cents: number; fault: CashInFault | null }
  | { kind: 'rejected'; reason: string; line: string }
  | { kind: 'status' };

/** The cash-in module ([SL-4.10]): what its validator takes, its deposit cassette, how long notes take to move. */
export interface CashInOptions {
  /** Default SIM_ACCEPTED_DENOMINATIONS_DEFAULT (50.00, 20.00, 10.00, 5.00); at most 8. */
  denominationsCents?: readonly number[];
  /** Notes the deposit cassette holds before STORE answers cassetteFull. Default SIM_DEPOSIT_CAPACITY_DEFAULT. */
  capacityNotes?: number;
  /** How long a STORE or RETURN takes before its answer. Default 0 (at once). */
  moveDelayMs?: number;
}

export interface LineDeviceOptions {
  /** Bytes for the host, in order; the edge writes them to the port. */
  send: (bytes: Buffer) => void;
  nowMs: () => number;
  cassettes?: readonly Cassette[];
  /** A cassette at or below this many notes is low (FAULT cashLow). Default 10. */
  lowCashCount?: number;
  /** How long picking notes takes before DISPENSED goes out. Default 0 (answers at once). */
  dispenseDelayMs?: number;
  /** The next dispense that moves notes jams after this many notes (as jamNext). */
  jamAfterNotes?: number;
  /** A cash-in module (HELLO then names `cashin`); absent: the device has none. */
  cashIn?: CashInOptions;
  deviceName?: string;
  rows?: number;
  columns?: number;
  /** Seed of the garbage bytes' generator (deterministic noise for tests). */
  seed?: number;
  onEvent?: (event: LineDeviceEvent) => void;
}

/** mulberry32: small, seeded, good enough for line noise; never yields '\n'. */
export class NoiseBytes {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** [SL-2.7] `bytes` random bytes (never '\n'), then '\n', so the noise costs the host one line. */
  line(bytes: number): Buffer {
    assert(
      Number.isSafeInteger(bytes) && bytes >= 1 && bytes <= GARBAGE_BYTES_MAX,
      `garbage bytes 1..${GARBAGE_BYTES_MAX}`,
    );
    const noise = Buffer.alloc(bytes + 1, 0x0a);
    for (let index = 0; index < bytes; index += 1) noise[index] = this.next();
    return noise;
  }

  private next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let value = this.state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    const byte = ((value ^ (value >>> 14)) >>> 0) & 0xff;
    return byte === 0x0a ? 0x0b : byte;
  }
}
