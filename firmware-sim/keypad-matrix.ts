// A 4×4 membrane keypad as its eight wires see it: a pressed key shorts its row wire to its
// column wire. The layout is the ATM's (hardware/types.ts): '#' is Enter, '*' is Clear, A–D
// are the side keys.
//
//            col 0  col 1  col 2  col 3
//   row 0      1      2      3      A
//   row 1      4      5      6      B
//   row 2      7      8      9      C
//   row 3      *      0      #      D
//
// Two ways to connect it to the emulation:
// - keypad-backpack.ts: behind the I2C "4X4_I2C_NANO_BACKPACK" johnny-five supports (the
//   wiring this project uses with StandardFirmata, which cannot scan a matrix itself);
// - wireToPins(): straight onto Uno GPIO pins, for firmware that scans the matrix itself.
//   The firmware drives one row LOW at a time; each column pin reads LOW while a pressed key
//   joins it to a LOW row, and HIGH otherwise (the column pins have pull-ups, internal or
//   external: a floating column is modelled as HIGH).
import { PinState } from 'avr8js';
import type { AvrBoard } from './avr-board.js';

export const KEYPAD_LAYOUT = [
  ['1', '2', '3', 'A'],
  ['4', '5', '6', 'B'],
  ['7', '8', '9', 'C'],
  ['*', '0', '#', 'D'],
] as const;

export type KeypadKey = (typeof KEYPAD_LAYOUT)[number][number];
export const KEYPAD_KEYS: readonly KeypadKey[] = KEYPAD_LAYOUT.flat();

/** Default GPIO wiring for wireToPins(): rows on D2–D5, columns on D6–D9. */
export const KEYPAD_ROW_PINS_DEFAULT = [2, 3, 4, 5] as const;
export const KEYPAD_COLUMN_PINS_DEFAULT = [6, 7, 8, 9] as const;

export function keyPosition(key: KeypadKey): { row: number; column: number } {
  const index = KEYPAD_KEYS.indexOf(key);
  if (index < 0) throw new Error(`no key ${key} on the 4×4 keypad`);
  return { row: Math.floor(index / 4), column: index % 4 };
}

export class KeypadMatrix {
  private readonly pressed = new Set<KeypadKey>();
  private readonly changeListeners = new Set<() => void>();

  /** Holds a key down (several keys may be held at once). */
  press(key: KeypadKey): void {
    keyPosition(key); // asserts the key exists
    this.pressed.add(key);
    this.changed();
  }

  /** Lets go of one key, or of every key when none is named. */
  release(key?: KeypadKey): void {
    if (key === undefined) this.pressed.clear();
    else this.pressed.delete(key);
    this.changed();
  }

  pressedKeys(): KeypadKey[] {
    return KEYPAD_KEYS.filter((key) => this.pressed.has(key));
  }

  /** Bit (row × 4 + column) set for each pressed key: the scan result a matrix scanner builds. */
  bitmap(): number {
    let bits = 0;
    for (const key of this.pressed) {
      const { row, column } = keyPosition(key);
      bits |= 1 << (row * 4 + column);
    }
    return bits;
  }

  /** Whether row `row` and column `column` are shorted (their key is down). */
  connected(row: number, column: number): boolean {
    const key = KEYPAD_LAYOUT[row]?.[column];
    return key !== undefined && this.pressed.has(key);
  }

  onChange(listener: () => void): () => void {
    this.changeListeners.add(listener);
    return () => this.changeListeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.changeListeners) listener();
  }

  /**
   * Connects the wires to Uno pins (Arduino numbers). Returns a function that disconnects
   * them. Column levels follow every change of the row pins and every press or release.
   */
  wireToPins(
    board: AvrBoard,
    rowPins: readonly number[] = KEYPAD_ROW_PINS_DEFAULT,
    columnPins: readonly number[] = KEYPAD_COLUMN_PINS_DEFAULT,
  ): () => void {
    if (rowPins.length !== 4 || columnPins.length !== 4)
      throw new Error('a 4×4 keypad needs 4 row pins and 4 column pins');
    const rows = rowPins.map((pin) => board.pin(pin));
    const columns = columnPins.map((pin) => board.pin(pin));
    const update = (): void => {
      columns.forEach((column, columnIndex) => {
        const pulledLow = rows.some(
          (row, rowIndex) => this.connected(rowIndex, columnIndex) && row.port.pinState(row.bit) === PinState.Low,
        );
        column.port.setPin(column.bit, !pulledLow);
      });
    };
    const ports = [...new Set(rows.map((row) => row.port))];
    for (const port of ports) port.addListener(update);
    const unsubscribe = this.onChange(update);
    update();
    return () => {
      for (const port of ports) port.removeListener(update);
      unsubscribe();
    };
  }
}
