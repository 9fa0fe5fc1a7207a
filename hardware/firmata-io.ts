// The slices of firmata-io and johnny-five the firmata driver uses (see firmata.ts for the
// driver's choices), with the small helpers its parts share.
import johnnyFive from 'johnny-five';
import { createRequire } from 'node:module';
import type { SerialTimers } from './shared-line.js';

export { assert } from '../protocol/index.js';

export const errorText = (error: unknown): string => (error instanceof Error ? error.message : String(error));

// The slices of firmata-io and johnny-five this driver uses. firmata-io ships no types, and
// @types/johnny-five lacks Keypad, the Board's `sigint` option and the LCD's `address`.

export type Callback = (error?: Error | null) => void;

/**
 * A serial line to the board: the slice of node-serialport's SerialPort that firmata-io and
 * this driver use. The emulated Uno's transport (firmware-sim/) has it too. Contract: 'data'
 * carries bytes from the board; 'close' (or 'error') means the line is gone for good.
 */
export interface FirmataTransport {
  readonly isOpen: boolean;
  write(data: Buffer, callback?: Callback): boolean;
  close(callback?: Callback): void;
  /** Calls back once the bytes written so far have gone down the wire (serialport's tcdrain). */
  drain?(callback: Callback): void;
  on(event: 'data', listener: (data: Buffer) => void): unknown;
  on(event: 'open' | 'close', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
  removeListener(event: 'data', listener: (data: Buffer) => void): unknown;
  removeListener(event: 'open' | 'close', listener: () => void): unknown;
  removeListener(event: 'error', listener: (error: Error) => void): unknown;
}

/** Opens a fresh line to the board each time it is called; rejects (or throws) while the board is absent. */
export type FirmataTransportSource = () => FirmataTransport | Promise<FirmataTransport>;

/** What johnny-five's components call on the IO object (firmata-io's Firmata, or mock-firmata). */
export interface FirmataIo {
  readonly isReady: boolean;
  /** firmata-io's timer that asks for the version if the board stays silent; cleared on teardown. */
  reportVersionTimeoutId?: ReturnType<typeof setTimeout>;
  pinMode(pin: number, mode: number): void;
  digitalWrite(pin: number, value: number): void;
  on(event: string, listener: (...args: never[]) => void): unknown;
}

export interface FirmataIoOptions {
  reportVersionTimeout: number;
}

export interface J5Board {
  on(event: 'ready', listener: () => void): unknown;
  on(event: 'error', listener: (error: Error) => void): unknown;
}

export type J5BoardConstructor = new (options: {
  io: FirmataIo;
  repl: false;
  debug: false;
  sigint: false;
  timeout: number;
}) => J5Board;

/** johnny-five's LCD with the PCF8574 controller; writeBits sends one nibble with an E pulse. */
export interface J5Lcd {
  print(text: string, options?: { dontProcessSpecials?: boolean }): unknown;
  cursor(row: number, column: number): unknown;
  command(value: number): unknown;
  writeBits(mode: number, nibble: number): unknown;
}

export type J5LcdConstructor = new (options: {
  board: J5Board;
  controller: 'PCF8574';
  address: number;
  rows: number;
  cols: number;
}) => J5Lcd;

export interface J5KeypadEvent {
  which: (string | number)[];
}

export interface J5Keypad {
  on(event: 'down' | 'hold' | 'up', listener: (event: J5KeypadEvent) => void): unknown;
}

export type J5KeypadConstructor = new (options: {
  board: J5Board;
  controller: '4X4_I2C_NANO_BACKPACK';
  address: number;
  keys: readonly string[];
  holdtime: number;
}) => J5Keypad;

export const five = johnnyFive as unknown as {
  Board: J5BoardConstructor;
  LCD: J5LcdConstructor;
  Keypad: J5KeypadConstructor;
};

/** firmata-io is CommonJS without types: loaded through require and typed by the slice above. */
export function createFirmataIo(transport: FirmataTransport, options: FirmataIoOptions): FirmataIo {
  const require = createRequire(import.meta.url);
  const { Firmata } = require('firmata-io') as {
    Firmata: new (transport: FirmataTransport, options: FirmataIoOptions) => FirmataIo;
  };
  return new Firmata(transport, options);
}

export const delay = (timers: SerialTimers, ms: number): Promise<void> =>
  new Promise((resolve) => timers.schedule(ms, resolve));
