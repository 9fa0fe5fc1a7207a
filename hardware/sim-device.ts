// The power and cable every sim device shares (open, close, unplug, replug, state listeners),
// a base class of the sim drivers in sim.ts and sim-dispenser.ts.
import { Listeners } from './listeners.js';
import type { DeviceState, Unsubscribe } from './types.js';

/**
 * Power and cable shared by the three sim devices: 'offline' before open(), after close()
 * and while unplugged; otherwise what condition() says ('online' unless a subclass knows better).
 */
export abstract class SimDevice {
  private opened = false;
  private plugged = true;
  private lastState: DeviceState = 'offline';
  private readonly stateListeners = new Listeners<DeviceState>();

  open(): Promise<void> {
    this.opened = true;
    this.refreshState();
    return Promise.resolve();
  }

  close(): Promise<void> {
    this.opened = false;
    this.refreshState();
    return Promise.resolve();
  }

  state(): DeviceState {
    return this.opened && this.plugged ? this.condition() : 'offline';
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  /** Test power: pull the cable. State listeners hear 'offline' (if the device was open). */
  unplug(): void {
    this.plugged = false;
    this.unplugged();
    this.refreshState();
  }

  /** Test power: plug the cable back in. State listeners hear the state it comes back in. */
  replug(): void {
    this.plugged = true;
    this.refreshState();
  }

  protected condition(): DeviceState {
    return 'online';
  }

  /** Hook for what losing power does to the device itself (a display goes blank). */
  protected unplugged(): void {
    // a hook: a keypad or dispenser keeps nothing that power loss would clear
  }

  /** Subclasses call this after anything that may change state(); listeners hear only changes. */
  protected refreshState(): void {
    const state = this.state();
    if (state === this.lastState) return;
    this.lastState = state;
    this.stateListeners.emit(state);
  }
}
