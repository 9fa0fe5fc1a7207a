// The common "I2C LCD backpack": a PCF8574 8-bit I/O expander soldered to an HD44780 module,
// which johnny-five drives with `new five.LCD({ controller: 'PCF8574' })` (address 0x27).
// Each byte written to the PCF8574 sets its eight pins; they are wired to the LCD as
//
//   P0 = RS   P1 = R/W   P2 = E   P3 = backlight (transistor, high = on)   P4–P7 = D4–D7
//
// so the LCD runs in 4-bit mode and a byte takes two E pulses of two I2C writes each. The
// model latches the pins, feeds each falling edge of E to the HD44780 model, and answers a read
// with the pins (quasi-bidirectional: a pin written high reads high unless the LCD drives it).
import { Hd44780 } from './hd44780.js';
import type { Hd44780Options } from './hd44780.js';
import type { I2cDevice } from './i2c-bus.js';

export const PCF8574_LCD_ADDRESS = 0x27;
const RS = 0x01;
const RW = 0x02;
const E = 0x04;
const BACKLIGHT = 0x08;
const DATA_PINS = 0xf0;

export class Pcf8574Lcd implements I2cDevice {
  readonly controller: Hd44780;
  /** Pin levels P7–P0 as last written (a PCF8574 powers up with all pins high). */
  pins = 0xff;
  /** Bytes written to the expander, and I2C transfers addressed to it. */
  byteWrites = 0;
  transfers = 0;

  constructor(options: Hd44780Options = {}) {
    this.controller = new Hd44780(options);
  }

  get backlight(): boolean {
    return (this.pins & BACKLIGHT) !== 0;
  }

  /** Instructions the HD44780 executed (clear, set address, function set, …). */
  get commandCount(): number {
    return this.controller.commandCount;
  }

  lines(): string[] {
    return this.controller.lines();
  }

  cursor(): { row: number; column: number } | null {
    return this.controller.cursor();
  }

  connect(_write: boolean): boolean {
    this.transfers += 1;
    return true;
  }

  writeByte(value: number): boolean {
    const before = this.pins;
    this.pins = value & 0xff;
    this.byteWrites += 1;
    // The HD44780 latches on E's falling edge; all eight pins change at once, so it holds what
    // the pins carried while E was high (the previous write).
    if (before & E && !(this.pins & E)) {
      this.controller.strobe((before & RS) !== 0, (before & RW) !== 0, before & DATA_PINS);
    }
    return true;
  }

  readByte(_ack: boolean): number {
    return this.pins;
  }

  stop(): void {
    // no timers or I/O of its own to stop
  }
}
