// A pseudo-terminal pair made by socat, the documented way (Node has no openpty): the device
// opens one end, the kiosk the other, and bytes written to either come out of the other.
//
//   socat -d -d pty,raw,echo=0,link=DIR/device pty,raw,echo=0,link=DIR/kiosk
//
// socat prints "N PTY is /dev/pts/N" for each end and then "starting data transfer loop";
// we wait for that line (so both links exist) and stop socat on close(), which removes them.
// socat survives the kiosk closing and reopening its end, as a kiosk does after an unplug.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SerialPort } from 'serialport';

export const PTY_START_TIMEOUT_MS = 5_000;

export interface PtyPair {
  /** The device's end (a symlink to /dev/pts/N). */
  readonly devicePath: string;
  /** The kiosk's end: give it `--device serial:<hostPath>`. */
  readonly hostPath: string;
  /** Resolves when socat ends by itself (killed, or an end failed); never rejects. */
  readonly exited: Promise<void>;
  /** Stops socat and removes the links and their folder; safe to call twice. */
  close(): Promise<void>;
}

/**
 * socat runs under a small shell watchdog that stops it (SIGTERM) when our end of its stdin
 * closes: on close(), and also when this process dies without running any exit handler
 * (SIGKILL), so a killed simulator never leaves socat and its links behind. The shell exits
 * when socat does, so an end that fails is still seen, and removes the links' folder.
 * ($1 is that folder, $2 socat, the rest socat's arguments.)
 */
const SOCAT_WATCHDOG =
  'dir=$1; shift; exec 3<&0; "$@" & pid=$!; (read -r _ <&3; kill "$pid") >/dev/null 2>&1 & wait "$pid"; rmdir "$dir" 2>/dev/null';

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.stdin?.destroy();
});

export async function openPtyPair(options: { socat?: string; timeoutMs?: number } = {}): Promise<PtyPair> {
  const folder = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-firmware-sim-'));
  const devicePath = path.join(folder, 'device');
  const hostPath = path.join(folder, 'kiosk');
  const socatArgs = ['-d', '-d', `pty,raw,echo=0,link=${devicePath}`, `pty,raw,echo=0,link=${hostPath}`];
  const child = spawn('sh', ['-c', SOCAT_WATCHDOG, 'sh', folder, options.socat ?? 'socat', ...socatArgs], {
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  live.add(child);
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  const close = async (): Promise<void> => {
    child.stdin.end(); // the watchdog stops socat (SIGTERM: it removes its links)
    await exited;
    fs.rmSync(folder, { recursive: true, force: true });
  };
  try {
    await started(child, options.timeoutMs ?? PTY_START_TIMEOUT_MS);
  } catch (error) {
    await close();
    throw error;
  }
  return { devicePath, hostPath, exited, close };
}

/** Resolves on socat's "starting data transfer loop"; rejects if it fails or dawdles. */
function started(child: ChildProcess, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = '';
    const timer = setTimeout(
      () => finish(new Error(`socat did not start within ${timeoutMs} ms: ${log.trim()}`)),
      timeoutMs,
    );
    const finish = (error: Error | null): void => {
      clearTimeout(timer);
      child.stderr?.removeListener('data', onData);
      child.removeListener('error', onError);
      child.removeListener('exit', onExit);
      child.stderr?.resume(); // keep draining socat's log so it never blocks on a full pipe
      if (error === null) resolve();
      else reject(error);
    };
    const onData = (chunk: Buffer): void => {
      log = (log + chunk.toString('utf8')).slice(-4096);
      if (log.includes('starting data transfer loop')) finish(null);
    };
    const onError = (error: Error): void =>
      finish(new Error(`cannot run socat (apt-get install socat): ${error.message}`));
    const onExit = (code: number | null): void =>
      finish(new Error(`socat exited (${String(code)}) before the pty pair was ready: ${log.trim()}`));
    child.stderr?.on('data', onData);
    child.once('error', onError);
    child.once('exit', onExit);
  });
}

/**
 * Opens a serial port (a pty end or a real UART) with the real binding. Note that opening
 * flushes what arrived before: the reason the device waits for HELLO [SL-1.3].
 */
export function openSerialPath(portPath: string, baudRate = 115_200): Promise<SerialPort> {
  return new Promise((resolve, reject) => {
    const port = new SerialPort({ path: portPath, baudRate, autoOpen: false });
    port.open((error) => (error === null ? resolve(port) : reject(error)));
  });
}

/** Closes a port if it is open; never rejects. */
export function closeSerialPort(port: SerialPort): Promise<void> {
  return new Promise((resolve) => {
    if (!port.isOpen) {
      resolve();
      return;
    }
    port.close(() => resolve());
  });
}
