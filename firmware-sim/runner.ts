// The firmware simulator's edge: the only place that touches a port, a timer or the clock.
// It opens a pty pair (or a given port), feeds the port's bytes to a LineDevice, writes what
// the device sends, calls tick() when the device's next deadline comes, and runs the script
// once the host has said HELLO. `atm firmware-sim` and the tests both start it through here.
import { setTimeout as sleepFor } from 'node:timers/promises';
import type { SerialPort } from 'serialport';
import { LineDevice } from './line-device.js';
import type { LineDeviceEvent, LineDeviceOptions } from './line-device-types.js';
import { closeSerialPort, openPtyPair, openSerialPath } from './pty.js';
import type { PtyPair } from './pty.js';
import { runScript } from './script.js';
import type { ScriptStep } from './script.js';

export interface FirmwareSimOptions {
  /** Open this port (a real UART, or an end of a socat pair made by hand); default: make a pty pair. */
  portPath?: string;
  baudRate?: number;
  device?: Omit<LineDeviceOptions, 'send' | 'nowMs' | 'onEvent'>;
  /** Run after the host's first HELLO. */
  script?: readonly ScriptStep[];
  onEvent?: (event: LineDeviceEvent) => void;
  onScriptStep?: (step: ScriptStep) => void;
  log?: (line: string) => void;
}

export interface FirmwareSim {
  readonly device: LineDevice;
  /** The port the device opened. */
  readonly devicePath: string;
  /** The other end of the pty pair, for the kiosk; null when portPath was given. */
  readonly hostPath: string | null;
  /** Resolves when the script has run to its end (never, if no host ever says HELLO). */
  readonly scriptDone: Promise<void>;
  /** Resolves, with why, if the port or socat goes away by itself. */
  readonly ended: Promise<string>;
  close(): Promise<void>;
}

const monotonicMs = (): number => Math.floor(performance.now());

export async function startFirmwareSim(options: FirmwareSimOptions = {}): Promise<FirmwareSim> {
  const log = options.log ?? (() => undefined);
  const stopScript = new AbortController();
  let port: SerialPort | null = null;
  let timer: NodeJS.Timeout | undefined;
  let scheduled = false;
  let closed = false;
  let scriptStarted: (() => void) | null = null;
  const helloHeard = new Promise<void>((resolve) => (scriptStarted = resolve));

  // One timer, for the device's next deadline; re-planned after anything that may move it.
  const plan = (): void => {
    if (scheduled || closed) return;
    scheduled = true;
    queueMicrotask(() => {
      scheduled = false;
      clearTimeout(timer);
      const deadlineMs = closed ? null : device.nextDeadlineMs();
      if (deadlineMs === null) return;
      timer = setTimeout(
        () => {
          device.tick();
          plan();
        },
        Math.max(0, deadlineMs - monotonicMs()),
      );
    });
  };

  // The device first: bad options fail here, before a pty or port is opened.
  const device = new LineDevice({
    ...options.device,
    nowMs: monotonicMs,
    send: (bytes) => {
      if (!closed) port?.write(bytes, (error) => (error ? log(`write failed: ${error.message}`) : undefined));
      plan();
    },
    onEvent: (event) => {
      if (event.kind === 'hello') scriptStarted?.();
      plan();
      options.onEvent?.(event);
    },
  });

  let pair: PtyPair | null = null;
  let devicePath = options.portPath;
  if (devicePath === undefined) {
    pair = await openPtyPair();
    devicePath = pair.devicePath;
  }
  try {
    port = await openSerialPath(devicePath, options.baudRate);
  } catch (error) {
    await pair?.close();
    throw error;
  }
  const opened: SerialPort = port;

  opened.on('data', (chunk: Buffer) => {
    device.receive(chunk);
    plan();
  });
  opened.on('error', (error: Error) => log(`port error: ${error.message}`));
  const ended = new Promise<string>((resolve) => {
    opened.once('close', () => (closed ? undefined : resolve(`port ${devicePath} closed`)));
    void pair?.exited.then(() => (closed ? undefined : resolve('socat exited')));
  });

  const scriptDone = (async () => {
    await helloHeard;
    if (options.script === undefined || options.script.length === 0 || stopScript.signal.aborted) return;
    try {
      await runScript(
        options.script,
        device,
        (ms) => sleepFor(ms, undefined, { signal: stopScript.signal }),
        (step) => {
          options.onScriptStep?.(step);
          plan();
        },
      );
    } catch (error) {
      // close() may have aborted it while runScript was awaited; TypeScript keeps the narrowing
      // from the check above across the await (microsoft/TypeScript#9998).
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
      if (!stopScript.signal.aborted) throw error;
    }
  })();
  scriptDone.catch(() => undefined); // handled here too: a caller that ignores it must not crash on a bad script

  const close = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    stopScript.abort();
    scriptStarted?.(); // a script still waiting for HELLO ends now
    clearTimeout(timer);
    await new Promise<void>((resolve) => (opened.isOpen ? opened.drain(() => resolve()) : resolve()));
    await closeSerialPort(opened);
    await pair?.close();
  };

  return { device, devicePath, hostPath: pair?.hostPath ?? null, scriptDone, ended, close };
}
