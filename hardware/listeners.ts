// One listener set for every driver, so they all keep the same promise to the kiosk.
import type { Unsubscribe } from './types.js';

/**
 * Listeners that cannot hurt the driver: a listener that throws does not stop the others or
 * leave the device half-changed. Its error is rethrown on a microtask, so it still surfaces
 * (as an uncaught exception: a bug in the listener, not an operating error of the device).
 */
export class Listeners<T> {
  private readonly entries = new Set<{ listener: (value: T) => void }>();

  add(listener: (value: T) => void): Unsubscribe {
    const entry = { listener };
    this.entries.add(entry);
    return () => {
      this.entries.delete(entry);
    };
  }

  emit(value: T): void {
    for (const entry of [...this.entries]) {
      try {
        entry.listener(value);
      } catch (error) {
        queueMicrotask(() => {
          throw error;
        });
      }
    }
  }
}
