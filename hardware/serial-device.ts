// What the serial driver's three devices share (serial.ts explains the driver's choices): the
// one link, whether each is open, the faults the device reported, and the state rule.
import { Listeners } from './listeners.js';
import type { SerialLink } from './serial-link.js';
import type { DeviceState, Unsubscribe } from './types.js';

/** Faults the device reported with FAULT, cleared together by FAULT ok. */
export interface DeviceFaults {
  tamper: boolean;
}

/** What the three devices share: the link, whether each is open, and the state rule. */
export abstract class SerialDevice {
  private opened = false;
  private lastState: DeviceState = 'offline';
  private readonly stateListeners = new Listeners<DeviceState>();

  constructor(
    protected readonly link: SerialLink,
    protected readonly faults: DeviceFaults,
  ) {
    link.onOnline(() => this.refreshState());
    link.onPortMissing(() => this.refreshState());
  }

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    await this.link.acquire();
    this.refreshState();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.refreshState();
    await this.link.release();
  }

  state(): DeviceState {
    if (this.opened && this.link.online) return this.condition();
    return this.opened && this.link.portMissing ? 'noDevice' : 'offline';
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  protected get isOpen(): boolean {
    return this.opened;
  }

  protected condition(): DeviceState {
    return 'online';
  }

  /** Call after anything that may change state(); listeners hear only changes. */
  refreshState(): void {
    const state = this.state();
    if (state === this.lastState) return;
    this.lastState = state;
    this.stateListeners.emit(state);
  }
}
