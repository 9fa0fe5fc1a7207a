// One call from a test (or the kiosk's demo) to an emulated kiosk controller: an Uno running
// StandardFirmata (or the program given), the 20×4 LCD on its PCF8574 backpack at 0x27 and the
// 4×4 keypad on its I2C backpack at 0x0A, both on the I2C bus (A4/A5), a second HD44780 wired
// to GPIO pins for the parallel wiring, and the serial transport to hand to firmata-io:
// `new Firmata(arduino.transport)`.
import { AvrBoard } from './avr-board.js';
import { loadStandardFirmata } from './firmata-hex.js';
import { KEYPAD_BACKPACK_ADDRESS, KeypadBackpack } from './keypad-backpack.js';
import { KeypadMatrix } from './keypad-matrix.js';
import { PARALLEL_LCD_PINS_DEFAULT, ParallelLcd } from './parallel-lcd.js';
import type { ParallelLcdPins } from './parallel-lcd.js';
import { PCF8574_LCD_ADDRESS, Pcf8574Lcd } from './pcf8574-lcd.js';
import { EmulatedSerialPort } from './serial-transport.js';

export interface EmulatedArduinoOptions {
  /** Program memory to run; default: the verified StandardFirmata hex (throws if it is not there). */
  hex?: Uint16Array;
  lcdAddress?: number;
  lcdColumns?: number;
  lcdRows?: number;
  keypadAddress?: number;
  /** Pins of the parallel-wired HD44780 (default RS A0, E A1, D4–D7 D10–D13). */
  parallelLcdPins?: ParallelLcdPins;
  sliceMs?: number;
  realTime?: boolean;
}

export interface EmulatedArduino {
  board: AvrBoard;
  /** The USB serial line: give it to firmata-io. It opens (and the firmware starts) on the next tick. */
  transport: EmulatedSerialPort;
  /** The 20×4 LCD on its PCF8574 I2C backpack (the wiring this project uses). */
  lcd: Pcf8574Lcd;
  /** A second HD44780, wired to GPIO pins (for drivers of the parallel wiring). */
  parallelLcd: ParallelLcd;
  /** The keys: press('5'), release(). */
  keypad: KeypadMatrix;
  keypadBackpack: KeypadBackpack;
  /** Stops the CPU and closes the transport; safe to call twice. */
  stop(): void;
}

export function startEmulatedArduino(options: EmulatedArduinoOptions = {}): EmulatedArduino {
  let program = options.hex;
  if (program === undefined) {
    const loaded = loadStandardFirmata();
    if ('reason' in loaded) throw new Error(`StandardFirmata is not available: ${loaded.reason}`);
    program = loaded.program;
  }
  const board = new AvrBoard({ program, sliceMs: options.sliceMs, realTime: options.realTime });
  const microsPerCycle = 1e6 / board.clockHz;
  const lcd = new Pcf8574Lcd({
    columns: options.lcdColumns ?? 20,
    rows: options.lcdRows ?? 4,
    nowUs: () => board.cpu.cycles * microsPerCycle,
  });
  const parallelLcd = new ParallelLcd(board, options.parallelLcdPins ?? PARALLEL_LCD_PINS_DEFAULT, {
    columns: options.lcdColumns ?? 20,
    rows: options.lcdRows ?? 4,
    nowUs: () => board.cpu.cycles * microsPerCycle,
  });
  const keypad = new KeypadMatrix();
  const keypadBackpack = new KeypadBackpack(keypad);
  board.i2c.attach(options.lcdAddress ?? PCF8574_LCD_ADDRESS, lcd);
  board.i2c.attach(options.keypadAddress ?? KEYPAD_BACKPACK_ADDRESS, keypadBackpack);
  const transport = new EmulatedSerialPort(board);
  return {
    board,
    transport,
    lcd,
    parallelLcd,
    keypad,
    keypadBackpack,
    stop() {
      transport.close(() => undefined); // also cancels an open still pending
      board.stop();
    },
  };
}
