// The emulated Uno's I2C bus (A4 = SDA, A5 = SCL): avr8js's TWI peripheral reports bus
// events (start, address, byte, stop) to a handler; this one routes them to the attached
// devices by 7-bit address and answers after the time the bus really takes at the SCL rate
// the firmware configured (9 clocks per byte: 8 data + ACK). avr8js would otherwise complete
// every transfer in zero cycles, which hides how long the firmware spends in Wire calls, and
// that time is what decides whether its serial buffer overruns.
import type { AVRTWI, CPU, TWIEventHandler } from 'avr8js';

/**
 * An I2C target device. Contract for implementers: calls come in bus order; a device is
 * addressed by connect() and then gets writeByte()/readByte() until stop() (a STOP, or a
 * repeated START to any address). Return false from connect/writeByte to NACK. Never throw:
 * a device with nothing to say answers 0xff, as an idle bus reads.
 */
export interface I2cDevice {
  connect(write: boolean): boolean;
  writeByte(value: number): boolean;
  readByte(ack: boolean): number;
  stop(): void;
}

const CLOCKS_PER_BYTE = 9;
const CLOCKS_PER_CONDITION = 1; // START/STOP: about one SCL period each

export class I2cBus implements TWIEventHandler {
  private readonly devices = new Map<number, I2cDevice>();
  private current: I2cDevice | null = null;
  /** Transfers (START … STOP) and NACKed addresses, for tests and diagnostics. */
  transfers = 0;
  addressNacks = 0;

  constructor(
    private readonly cpu: CPU,
    private readonly twi: AVRTWI,
    private readonly clockHz: number,
  ) {
    twi.eventHandler = this;
  }

  attach(address: number, device: I2cDevice): void {
    if (!Number.isInteger(address) || address < 0x08 || address > 0x77)
      throw new Error(`I2C address ${address} is not a 7-bit device address`);
    if (this.devices.has(address)) throw new Error(`I2C address 0x${address.toString(16)} is already taken`);
    this.devices.set(address, device);
  }

  detach(address: number): void {
    this.devices.delete(address);
  }

  /** CPU cycles that `clocks` SCL periods take at the frequency the firmware set in TWBR/TWSR. */
  private cyclesFor(clocks: number): number {
    const cyclesPerClock = Math.max(1, Math.round(this.clockHz / this.twi.sclFrequency));
    return clocks * cyclesPerClock;
  }

  private later(clocks: number, complete: () => void): void {
    this.cpu.addClockEvent(complete, this.cyclesFor(clocks));
  }

  start(repeated: boolean): void {
    if (repeated) this.endTransfer();
    this.later(CLOCKS_PER_CONDITION, () => this.twi.completeStart());
  }

  stop(): void {
    this.endTransfer();
    this.later(CLOCKS_PER_CONDITION, () => this.twi.completeStop());
  }

  connectToSlave(address: number, write: boolean): void {
    const device = this.devices.get(address) ?? null;
    const ack = device?.connect(write) === true;
    this.current = ack ? device : null;
    if (ack) this.transfers += 1;
    else this.addressNacks += 1;
    this.later(CLOCKS_PER_BYTE, () => this.twi.completeConnect(ack));
  }

  writeByte(value: number): void {
    const ack = this.current?.writeByte(value) === true;
    this.later(CLOCKS_PER_BYTE, () => this.twi.completeWrite(ack));
  }

  readByte(ack: boolean): void {
    const value = this.current === null ? 0xff : this.current.readByte(ack) & 0xff;
    this.later(CLOCKS_PER_BYTE, () => this.twi.completeRead(value));
  }

  private endTransfer(): void {
    this.current?.stop();
    this.current = null;
  }
}
