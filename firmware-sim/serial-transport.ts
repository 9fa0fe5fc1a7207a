// The emulated Uno's USB serial line as the host sees it: a duplex object with the slice of
// node-serialport's API that firmata-io uses (write(data, cb), drain(cb), close(cb), isOpen,
// 'open'/'data'/'close'/'error' events), so `new Firmata(transport)` talks to the firmware
// with no serial port, pseudo-terminal or socat in between.
import { EventEmitter } from 'node:events';
import type { AvrBoard } from './avr-board.js';

type Callback = (error?: Error | null) => void;

export class EmulatedSerialPort extends EventEmitter {
  readonly path = 'emulated:uno';
  readonly baudRate = 57600; // informational: the firmware's UBRR decides the real rate
  private opened = false;
  private closed = false;
  private autoOpen: NodeJS.Immediate | null = null;
  private readonly forward = (data: Buffer): void => {
    if (this.opened) this.emit('data', data);
  };

  /**
   * Opening starts the board from reset (the firmware boots, as after the DTR reset a real Uno
   * does when its port opens). autoOpen
   * (the default) opens on the next turn of the event loop, so listeners attached right
   * after construction (firmata-io's) see 'open' and every byte the firmware sends.
   */
  constructor(
    private readonly board: AvrBoard,
    options: { autoOpen?: boolean } = {},
  ) {
    super();
    board.on('serialData', this.forward);
    if (options.autoOpen ?? true) {
      this.autoOpen = setImmediate(() => {
        this.autoOpen = null;
        this.open();
      });
    }
  }

  get isOpen(): boolean {
    return this.opened;
  }

  open(callback?: Callback): void {
    if (this.opened || this.closed) {
      const error = new Error(this.closed ? 'port is closed for good' : 'port is already open');
      if (callback) setImmediate(() => callback(error));
      return;
    }
    this.opened = true;
    this.board.start();
    this.emit('open');
    callback?.(null);
  }

  /** Queues bytes for the firmware (they reach it at the line rate); cb once queued, as serialport does. */
  write(data: Buffer | Uint8Array | number[] | string, callback?: Callback): boolean {
    const bytes = typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data as Uint8Array);
    let error: Error | null = null;
    if (!this.opened) error = new Error('port is not open');
    else if (!this.board.serialWrite(bytes))
      error = new Error('serial queue full: the host writes faster than the line carries');
    if (error !== null) {
      const reported = error;
      process.nextTick(() => {
        if (callback) callback(reported);
        else this.emit('error', reported);
      });
      return false;
    }
    if (callback) process.nextTick(() => callback(null));
    return true;
  }

  /** Calls back once every byte written so far has gone onto the line (serialport's drain). */
  drain(callback?: Callback): void {
    this.board.serialDrain(() => callback?.(null));
  }

  /** Stops the board and ends the port; the Firmata instance sees 'close'. */
  close(callback?: Callback): void {
    if (!this.opened) {
      // Closing before the automatic open cancels it, so a stopped board never starts.
      if (this.autoOpen !== null) clearImmediate(this.autoOpen);
      this.autoOpen = null;
      this.closed = true;
      if (callback) setImmediate(() => callback(new Error('port is not open')));
      return;
    }
    this.opened = false;
    this.closed = true;
    this.board.off('serialData', this.forward);
    this.board.stop();
    this.emit('close');
    callback?.(null);
  }
}
