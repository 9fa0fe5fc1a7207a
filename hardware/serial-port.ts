// The serial port seam: the only file that touches the `serialport` native binding. The link
// (serial-link.ts) sees a SerialConnection and the injected SerialTimers, so tests can drive it
// with a scripted port and a fake clock, and the real binding is one implementation among them.
import { SerialPort } from 'serialport';

/**
 * An open serial port. Contract: write() resolves once the bytes were handed to the OS
 * (drained) and rejects when the port is gone; close() never rejects and may be called twice.
 * After the port closes by itself (unplug, EIO), onClose is called once and no more data arrives.
 */
export interface SerialConnection {
  write(data: string): Promise<void>;
  close(): Promise<void>;
}

export interface SerialConnectionEvents {
  onData(chunk: Buffer): void;
  onClose(reason: string): void;
}

/** Opens `path`; rejects when it cannot be opened now (absent, busy, not a tty). */
export type OpenSerialConnection = (
  path: string,
  baudRate: number,
  events: SerialConnectionEvents,
) => Promise<SerialConnection>;

/** The real port, through serialport's native binding. */
export const openSerialPort: OpenSerialConnection = (path, baudRate, events) =>
  new Promise((resolve, reject) => {
    const port = new SerialPort({ path, baudRate, autoOpen: false });
    let closed = false;
    // A write waits for drain, which a wedged line may never give: closing fails them all, so
    // nothing waits forever on a port that is gone.
    const writing = new Set<(error: Error) => void>();
    const failWrites = (): void => {
      for (const fail of [...writing]) fail(new Error('port closed'));
    };
    const closedBy = (reason: string): void => {
      if (closed) return;
      closed = true;
      failWrites();
      events.onClose(reason);
    };
    port.on('data', (chunk: Buffer) => events.onData(chunk));
    // After open, an error means the line is unusable (EIO after an unplug): treat it as a close.
    port.on('error', (error: Error) => {
      closedBy(`port error: ${error.message}`);
      if (port.isOpen) port.close(() => undefined);
    });
    // serialport passes an Error when the port vanished, null or nothing when closed on purpose.
    port.on('close', (error?: Error | null) =>
      closedBy(error instanceof Error ? `port closed: ${error.message}` : 'port closed'),
    );
    const write = (data: string): Promise<void> =>
      new Promise<void>((done, fail) => {
        if (closed) {
          fail(new Error('port is closed'));
          return;
        }
        const settle = (error: Error | null | undefined): void => {
          if (!writing.delete(settle)) return;
          if (error) fail(error);
          else done();
        };
        writing.add(settle);
        port.write(data, (writeError) =>
          writeError ? settle(writeError) : port.drain((drainError) => settle(drainError)),
        );
      });
    const close = (): Promise<void> =>
      new Promise<void>((done) => {
        closed = true;
        failWrites();
        if (!port.isOpen) {
          done();
          return;
        }
        port.close(() => done());
      });
    port.open((error) => {
      if (error !== null) {
        closed = true;
        reject(error);
        return;
      }
      resolve({ write, close });
    });
  });

// Time lives in shared-line.ts (the firmata link uses it too); re-exported for the port's callers.
export { realTimers, type SerialTimers } from './shared-line.js';

/**
 * Why a port would not open. No such port at all is a device not found (a wrong path, a cable
 * out), not a line that dropped: the kiosk says so, and the log says what to check.
 */
export function describeOpenError(error: unknown): { missing: boolean; reason: string } {
  const message = error instanceof Error ? error.message : String(error);
  const missing =
    /ENOENT|No such file or directory/.test(message) || (error as NodeJS.ErrnoException | null)?.code === 'ENOENT';
  return {
    missing,
    reason: missing
      ? 'no such port: check the path (ls /dev/serial/by-id/) and that the device is plugged in'
      : `cannot open: ${message}`,
  };
}
