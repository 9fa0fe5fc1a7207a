// The keypad as this project wires it to a StandardFirmata Uno: the 4×4 matrix on an "I2C
// Nano backpack", a small AVR that scans the matrix and answers I2C reads at address 0x0A
// (0x0A–0x0D by its AD0/AD1 pins) with two bytes: the 16-bit scan result, high byte first,
// bit (row × 4 + column) set for each pressed key. johnny-five reads it with
// `new five.Keypad({ controller: '4X4_I2C_NANO_BACKPACK' })`, whose default keys
// [1, 2, 3, 'A', 4, 5, 6, 'B', 7, 8, 9, 'C', '*', 0, '#', 'D'] are this bit order.
//
// Why this wiring: StandardFirmata cannot scan a matrix (the host would have to drive each row
// and wait for the column reports, a round trip per row), and johnny-five's analog keypad has
// no range for "no key", so a released key is not reliably reported. The backpack is a real
// part johnny-five supports, it reports releases, and it shares the I2C bus with the LCD.
//
// The model answers with the matrix as it is when the read is addressed; the real backpack
// rescans about every 10 ms, which only matters for presses shorter than that.
import type { I2cDevice } from './i2c-bus.js';
import type { KeypadMatrix } from './keypad-matrix.js';

export const KEYPAD_BACKPACK_ADDRESS = 0x0a;

export class KeypadBackpack implements I2cDevice {
  private readIndex = 0;
  private snapshot = 0;
  /** Reads answered (one per I2C read transfer), for tests. */
  reads = 0;

  constructor(readonly matrix: KeypadMatrix) {}

  connect(write: boolean): boolean {
    this.readIndex = 0;
    // One scan result per transfer, like the firmware's two-byte buffer: the bytes never tear.
    this.snapshot = this.matrix.bitmap();
    if (!write) this.reads += 1;
    return true;
  }

  /** The backpack takes no commands; it acknowledges and ignores written bytes. */
  writeByte(_value: number): boolean {
    return true;
  }

  readByte(_ack: boolean): number {
    const bits = this.snapshot;
    const index = this.readIndex;
    this.readIndex += 1;
    // Wire.write(buffer, 2): past the two bytes a target sends 0xff (the bus idles high).
    if (index === 0) return (bits >> 8) & 0xff;
    if (index === 1) return bits & 0xff;
    return 0xff;
  }

  stop(): void {
    this.readIndex = 0;
  }
}
