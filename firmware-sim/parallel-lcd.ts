// An HD44780 module wired straight to Uno pins in 4-bit mode (R/W tied to ground, D0–D3 left
// open), the way Arduino's LiquidCrystal and johnny-five's PARALLEL controller drive it. The
// model watches the ports of the six pins and hands each falling edge of E to the HD44780
// model with RS and D4–D7 as they were while E was high.
//
// Default pins: RS = A0 (14), E = A1 (15), D4–D7 = D10–D13. They stay clear of the I2C pins
// (A4/A5), the serial pins (D0/D1) and the GPIO keypad wiring (D2–D9). D13's LED blinks while
// StandardFirmata boots; with E low that is harmless, as on the real board.
//
// johnny-five's PARALLEL controller does not send a complete 4-bit init (no function set with
// N=1 for two lines), so a driver should send the init itself (see the README).
import { PinState } from 'avr8js';
import type { AvrBoard, PinLocation } from './avr-board.js';
import { Hd44780 } from './hd44780.js';
import type { Hd44780Options } from './hd44780.js';

export interface ParallelLcdPins {
  rs: number;
  e: number;
  /** D4, D5, D6, D7, in that order. */
  data: readonly [number, number, number, number];
}

export const PARALLEL_LCD_PINS_DEFAULT: ParallelLcdPins = { rs: 14, e: 15, data: [10, 11, 12, 13] };

interface Levels {
  rs: boolean;
  e: boolean;
  nibble: number;
}

export class ParallelLcd {
  readonly controller: Hd44780;
  private readonly rs: PinLocation;
  private readonly e: PinLocation;
  private readonly data: PinLocation[];
  private levels: Levels;
  private readonly update = (): void => this.sample();
  private readonly ports: Set<PinLocation['port']>;

  constructor(board: AvrBoard, pins: ParallelLcdPins = PARALLEL_LCD_PINS_DEFAULT, options: Hd44780Options = {}) {
    this.controller = new Hd44780(options);
    this.rs = board.pin(pins.rs);
    this.e = board.pin(pins.e);
    this.data = pins.data.map((pin) => board.pin(pin));
    this.ports = new Set([this.rs.port, this.e.port, ...this.data.map((location) => location.port)]);
    for (const port of this.ports) port.addListener(this.update);
    this.levels = this.read();
  }

  /** Stops watching the pins. */
  detach(): void {
    for (const port of this.ports) port.removeListener(this.update);
  }

  lines(): string[] {
    return this.controller.lines();
  }

  private static high({ port, bit }: PinLocation): boolean {
    const state = port.pinState(bit);
    return state === PinState.High || state === PinState.InputPullUp;
  }

  private read(): Levels {
    const nibble = this.data.reduce((bits, location, index) => bits | (ParallelLcd.high(location) ? 1 << index : 0), 0);
    return { rs: ParallelLcd.high(this.rs), e: ParallelLcd.high(this.e), nibble };
  }

  private sample(): void {
    const before = this.levels;
    this.levels = this.read();
    if (before.e && !this.levels.e) this.controller.strobe(before.rs, false, before.nibble << 4);
  }
}
