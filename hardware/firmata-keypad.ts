// The 4×4 keypad's legends and how taps and holds become kiosk keys (see firmata.ts).
import { KEY_FOR_KEYPAD_LEGEND } from '../protocol/index.js';
import type { KeyName } from './types.js';

// The keypad's legends and gestures.

/** The 4×4 keypad's legends in the backpack's bit order (johnny-five's 4X4_I2C_NANO_BACKPACK). */
export const KEYPAD_LEGENDS = ['1', '2', '3', 'A', '4', '5', '6', 'B', '7', '8', '9', 'C', '*', '0', '#', 'D'] as const;
export type KeypadLegend = (typeof KEYPAD_LEGENDS)[number];

/** A tap of each legend. */
export const KEY_FOR_LEGEND: Readonly<Record<KeypadLegend, KeyName>> = KEY_FOR_KEYPAD_LEGEND;

/** Holding these legends for holdMs gives the keys a 4×4 keypad lacks. */
export const KEY_FOR_HELD_LEGEND: Readonly<Partial<Record<KeypadLegend, KeyName>>> = {
  '*': 'cancel',
  '#': 'backspace',
};

const isLegend = (value: string): value is KeypadLegend => (KEYPAD_LEGENDS as readonly string[]).includes(value);

/**
 * Turns johnny-five's keypad events into key presses. Keys without a hold meaning are pressed
 * on 'down'. * and # wait: released before holdMs they are a tap, held they are Cancel or
 * Backspace (once, however long the hold). johnny-five sends all its keypad events through
 * one 5 ms debounce that keeps only the last: when one sample has a key going up and another
 * going down (rollover), only the 'up' reaches us. So a release of a key we never saw go down
 * counts as its press: late, never lost.
 */
export class KeypadGestures {
  private readonly down = new Set<KeypadLegend>();
  private readonly held = new Set<KeypadLegend>();

  constructor(private readonly press: (key: KeyName) => void) {}

  onDown(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      this.down.add(legend);
      this.held.delete(legend);
      if (KEY_FOR_HELD_LEGEND[legend] === undefined) this.press(KEY_FOR_LEGEND[legend]);
    }
  }

  onHold(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      const heldKey = KEY_FOR_HELD_LEGEND[legend];
      if (heldKey === undefined || this.held.has(legend)) continue;
      this.down.add(legend);
      this.held.add(legend);
      this.press(heldKey);
    }
  }

  onUp(legends: readonly string[]): void {
    for (const legend of legends.filter(isLegend)) {
      const wasDown = this.down.delete(legend);
      const wasHeld = this.held.delete(legend);
      if (wasHeld) continue;
      if (!wasDown || KEY_FOR_HELD_LEGEND[legend] !== undefined) this.press(KEY_FOR_LEGEND[legend]);
    }
  }

  reset(): void {
    this.down.clear();
    this.held.clear();
  }
}
