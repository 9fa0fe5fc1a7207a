// An Arduino Uno in software: avr8js's ATmega328P at 16 MHz with its timers (millis() needs
// timer 0), USART 0 (the USB serial line), the I2C bus, the ADC and GPIO ports B, C and D.
// It runs the real firmware's machine code in time slices (sliceMs of simulated time, then
// setImmediate so Node services its I/O), and `stop()` ends the loop.
//
// The serial line is modelled at the byte level and respects the baud rate the firmware set:
// bytes from the host wait in a host-side queue (the PC's driver buffer) and reach the UART at
// most one per character time, as they would down a real wire. That is what lets the emulator
// reproduce receive-buffer overruns in the firmware; avr8js keeps one received byte where the
// real chip has a two-byte FIFO, which makes the model slightly stricter, never more lenient.
import { EventEmitter } from 'node:events';
import {
  AVRADC,
  AVRIOPort,
  AVRTWI,
  AVRTimer,
  AVRUSART,
  CPU,
  adcConfig,
  avrInstruction,
  portBConfig,
  portCConfig,
  portDConfig,
  timer0Config,
  timer1Config,
  timer2Config,
  twiConfig,
  usart0Config,
} from 'avr8js';
import { I2cBus } from './i2c-bus.js';

export const UNO_CLOCK_HZ = 16_000_000;
const SLICE_MS_DEFAULT = 10;
/** Host bytes that may wait for the UART; a writer that outruns the line this far is broken. */
export const SERIAL_QUEUE_BYTES_MAX = 64 * 1024;
const QUEUE_COMPACT_BYTES = 4096;

export interface AvrBoardOptions {
  program: Uint16Array;
  /** Simulated milliseconds per slice between I/O turns (default 10). */
  sliceMs?: number;
  /** true: never run ahead of the wall clock (for demos); default false runs as fast as it can. */
  realTime?: boolean;
}

/** An Arduino pin: D0–D7 are PORTD, D8–D13 PORTB, A0–A5 (pins 14–19) PORTC. */
export interface PinLocation {
  port: AVRIOPort;
  bit: number;
}

const UCSR0A = usart0Config.UCSRA;
const UCSR0B = usart0Config.UCSRB;
const RXC0 = 0x80;
const UDRE0 = 0x20;
const RXCIE0 = 0x80;
const RXEN0 = 0x10;

/**
 * Works around two avr8js 0.21.1 USART bugs that lose received bytes. Its UCSR0A write hook
 * stores only U2X0/MPCM0, wiping the read-only RXC0 and UDRE0 flags, and its UCSR0B write hook
 * clears RXC0 and the pending receive interrupt whenever the receiver stays enabled. Arduino's
 * HardwareSerial writes both registers on every byte it transmits (TXC0 in UCSR0A, UDRIE0 in
 * UCSR0B), so a byte that arrived while the firmware was sending was thrown away unread: with
 * StandardFirmata, LCD writes arriving while it reported a keypad read lost a byte and the LCD
 * went out of nibble sync. On the chip RXC0 and UDRE0 are read-only and RXC0 clears only when
 * UDR0 is read or the receiver is disabled (ATmega328P datasheet, UCSRnA/UCSRnB). The wrappers
 * put the flags back, and with RXC0 the pending interrupt, when the receiver stays enabled.
 */
export function keepReceiveFlagsOnControlWrites(cpu: CPU): void {
  const originalA = cpu.writeHooks[UCSR0A];
  const originalB = cpu.writeHooks[UCSR0B];
  if (originalA === undefined || originalB === undefined)
    throw new Error('AVRUSART has no UCSR0A/UCSR0B hooks to wrap');
  const rxComplete = {
    address: usart0Config.rxCompleteInterrupt,
    flagRegister: UCSR0A,
    flagMask: RXC0,
    enableRegister: UCSR0B,
    enableMask: RXCIE0,
    constant: true,
  };
  cpu.writeHooks[UCSR0A] = (value, oldValue, address, mask) => {
    const readOnlyFlags = (cpu.data[UCSR0A] as number) & (RXC0 | UDRE0);
    const result = originalA(value, oldValue, address, mask);
    cpu.data[UCSR0A] = (cpu.data[UCSR0A] as number) | readOnlyFlags;
    return result;
  };
  cpu.writeHooks[UCSR0B] = (value, oldValue, address, mask) => {
    const unread = (cpu.data[UCSR0A] as number) & RXC0;
    const result = originalB(value, oldValue, address, mask);
    if (unread && value & RXEN0) cpu.setInterruptFlag(rxComplete);
    return result;
  };
}

export class AvrBoard extends EventEmitter<{ serialData: [Buffer]; stopped: [] }> {
  readonly clockHz = UNO_CLOCK_HZ;
  readonly cpu: CPU;
  readonly usart: AVRUSART;
  readonly adc: AVRADC;
  readonly i2c: I2cBus;
  readonly portB: AVRIOPort;
  readonly portC: AVRIOPort;
  readonly portD: AVRIOPort;
  private readonly sliceCycles: number;
  private readonly realTime: boolean;
  private readonly serialQueue: number[] = [];
  private serialQueueHead = 0;
  private transmitted: number[] = [];
  private drainWaiters: (() => void)[] = [];
  private isRunning = false;
  private immediate: NodeJS.Immediate | null = null;
  private timeout: NodeJS.Timeout | null = null;
  private startedAtWallMs = 0;
  private startedAtCycles = 0;
  /** Host bytes put on the wire to the UART, and bytes the firmware sent. */
  serialBytesDelivered = 0;
  serialBytesTransmitted = 0;

  constructor(options: AvrBoardOptions) {
    super();
    this.cpu = new CPU(options.program);
    new AVRTimer(this.cpu, timer0Config);
    new AVRTimer(this.cpu, timer1Config);
    new AVRTimer(this.cpu, timer2Config);
    this.usart = new AVRUSART(this.cpu, usart0Config, UNO_CLOCK_HZ);
    this.adc = new AVRADC(this.cpu, adcConfig);
    this.i2c = new I2cBus(this.cpu, new AVRTWI(this.cpu, twiConfig, UNO_CLOCK_HZ), UNO_CLOCK_HZ);
    this.portB = new AVRIOPort(this.cpu, portBConfig);
    this.portC = new AVRIOPort(this.cpu, portCConfig);
    this.portD = new AVRIOPort(this.cpu, portDConfig);
    this.sliceCycles = Math.round((UNO_CLOCK_HZ * (options.sliceMs ?? SLICE_MS_DEFAULT)) / 1000);
    this.realTime = options.realTime ?? false;
    this.usart.onByteTransmit = (value) => {
      this.transmitted.push(value);
      this.serialBytesTransmitted += 1;
    };
    // Next byte right after the last one: the line runs back to back while the host has data.
    this.usart.onRxComplete = () => this.pumpSerial();
    this.usart.onConfigurationChange = () => this.pumpSerial();
    keepReceiveFlagsOnControlWrites(this.cpu);
  }

  get running(): boolean {
    return this.isRunning;
  }

  /** Simulated time since reset, in milliseconds (what millis() in the firmware sees). */
  get simulatedMs(): number {
    return (this.cpu.cycles * 1000) / UNO_CLOCK_HZ;
  }

  pin(arduinoPin: number): PinLocation {
    if (!Number.isInteger(arduinoPin) || arduinoPin < 0 || arduinoPin > 19) throw new Error(`no Uno pin ${arduinoPin}`);
    if (arduinoPin < 8) return { port: this.portD, bit: arduinoPin };
    if (arduinoPin < 14) return { port: this.portB, bit: arduinoPin - 8 };
    return { port: this.portC, bit: arduinoPin - 14 };
  }

  /** The voltage on analog input A<channel> (0–5 V), as the ADC will sample it. */
  setAnalogVoltage(channel: number, volts: number): void {
    if (!Number.isInteger(channel) || channel < 0 || channel > 7) throw new Error(`no analog channel ${channel}`);
    this.adc.channelValues[channel] = Math.min(5, Math.max(0, volts));
  }

  /**
   * Queues bytes from the host for the UART; false (nothing queued) if the queue is full. Bytes
   * written before the firmware enables its receiver wait for it (a real line would lose them;
   * firmata-io sends nothing until the firmware has spoken).
   */
  serialWrite(bytes: Uint8Array): boolean {
    if (this.serialQueue.length - this.serialQueueHead + bytes.length > SERIAL_QUEUE_BYTES_MAX) return false;
    for (const byte of bytes) this.serialQueue.push(byte);
    this.pumpSerial();
    return true;
  }

  /**
   * Calls back once every queued host byte has gone onto the wire (serialport's drain(); the
   * last byte lands in the UART one character time later).
   */
  serialDrain(callback: () => void): void {
    if (this.serialQueueHead >= this.serialQueue.length) setImmediate(callback);
    else this.drainWaiters.push(callback);
  }

  private pumpSerial(): void {
    if (this.serialQueueHead >= this.serialQueue.length) {
      this.serialQueue.length = 0;
      this.serialQueueHead = 0;
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const waiter of waiters) setImmediate(waiter);
      return;
    }
    if (this.usart.rxBusy || !this.usart.rxEnable) return;
    // writeByte schedules the byte's arrival one character time from now (baud-rate exact).
    if (this.usart.writeByte(this.serialQueue[this.serialQueueHead] as number)) {
      this.serialQueueHead += 1;
      this.serialBytesDelivered += 1;
      if (this.serialQueueHead >= QUEUE_COMPACT_BYTES) {
        this.serialQueue.splice(0, this.serialQueueHead);
        this.serialQueueHead = 0;
      }
    }
  }

  /** Runs the CPU for `cycles` clock cycles now, synchronously (tests, or one slice). */
  runCycles(cycles: number): void {
    const { cpu } = this;
    const deadline = cpu.cycles + cycles;
    while (cpu.cycles < deadline) {
      avrInstruction(cpu);
      cpu.tick();
    }
    if (this.transmitted.length > 0) {
      const data = Buffer.from(this.transmitted);
      this.transmitted = [];
      this.emit('serialData', data);
    }
  }

  start(): void {
    if (this.isRunning) return;
    this.isRunning = true;
    this.startedAtWallMs = performance.now();
    this.startedAtCycles = this.cpu.cycles;
    this.immediate = setImmediate(() => this.slice());
  }

  private slice(): void {
    this.immediate = null;
    this.timeout = null;
    if (!this.isRunning) return;
    if (this.realTime) {
      const aheadCycles =
        this.cpu.cycles - this.startedAtCycles - ((performance.now() - this.startedAtWallMs) * UNO_CLOCK_HZ) / 1000;
      if (aheadCycles > 0) {
        this.timeout = setTimeout(() => this.slice(), Math.max(1, (aheadCycles * 1000) / UNO_CLOCK_HZ));
        return;
      }
    }
    this.runCycles(this.sliceCycles);
    // The firmware may have stopped the board during the slice; `running` reads it afresh.
    if (this.running) this.immediate = setImmediate(() => this.slice());
  }

  stop(): void {
    if (!this.isRunning) return;
    this.isRunning = false;
    if (this.immediate !== null) clearImmediate(this.immediate);
    if (this.timeout !== null) clearTimeout(this.timeout);
    this.immediate = null;
    this.timeout = null;
    this.emit('stopped');
  }
}
