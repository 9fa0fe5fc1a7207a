// Making a data folder (the bank's, the kiosk's, the broker's retained file's), or saying in one
// line why it cannot be made. Node 20's `mkdirSync(dir, { recursive: true })` loops for ever at
// 100 % CPU under /proc (mkdir there answers ENOENT for a parent that exists, and Node retries
// the parent), so this walks up to the first folder that exists and makes the rest one level at
// a time: a bounded loop, and every failure names the folder and the reason. Shared by bank/,
// kiosk/ and telemetry/, so it lives here at the bottom.
import fs from 'node:fs';
import path from 'node:path';
import { AtmError, type CodeOf } from './errors.js';

export const DataDirError = { UNUSABLE: 'DATA_DIR_UNUSABLE' } as const satisfies Record<string, CodeOf<'command'>>;

/** Deeper than any real data folder; a limit on the walk whatever the path says. */
const DEPTH_MAX = 64;

const REASONS: Readonly<Record<string, string>> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOTDIR: 'a file is in the way',
  ENOENT: 'the file system does not allow it',
  ELOOP: 'too many symbolic links',
  ENAMETOOLONG: 'name too long',
};

function unusable(dir: string, why: string): AtmError {
  return new AtmError(DataDirError.UNUSABLE, `cannot use ${dir} as a data folder: ${why}`);
}

function reasonOf(error: unknown): string {
  const code = (error as NodeJS.ErrnoException | null)?.code ?? '';
  return REASONS[code] ?? (code === '' ? String(error) : code);
}

function statOrNull(dir: string): fs.Stats | null {
  try {
    return fs.statSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw unusable(dir, reasonOf(error));
  }
}

/**
 * Makes `dir` and its missing parents (the new ones with `mode`), then checks that a file can be
 * created in it. Throws AtmError DATA_DIR_UNUSABLE, within milliseconds, when a parent is a
 * file, the file system refuses (/proc, a read-only mount, no permission, a full disk).
 */
export function makeDataDir(dir: string, mode = 0o700): void {
  const absolute = path.resolve(dir);
  const missing: string[] = [];
  for (let current = absolute, depth = 0; ; depth++) {
    if (depth > DEPTH_MAX) throw unusable(dir, `more than ${DEPTH_MAX} folders to make`);
    const stats = statOrNull(current);
    if (stats !== null) {
      if (!stats.isDirectory()) throw unusable(dir, `${current} is not a folder`);
      break;
    }
    missing.push(current);
    const parent = path.dirname(current);
    if (parent === current) break;
    current = parent;
  }
  for (const folder of missing.reverse()) {
    try {
      fs.mkdirSync(folder, { mode });
    } catch (error) {
      // Made meanwhile by another process: fine, if it is a folder.
      if ((error as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(folder)?.isDirectory() === true) continue;
      throw unusable(dir, `cannot make ${folder}: ${reasonOf(error)}`);
    }
  }
  assertWritable(dir, absolute);
}

/** Creates and removes a probe file: access(W_OK) says yes to root on a read-only mount. */
function assertWritable(dir: string, absolute: string): void {
  const probe = path.join(absolute, `.atm-probe-${process.pid}`);
  try {
    fs.closeSync(fs.openSync(probe, 'w', 0o600));
  } catch (error) {
    throw unusable(dir, `cannot write in it: ${reasonOf(error)}`);
  }
  fs.rmSync(probe, { force: true });
}
