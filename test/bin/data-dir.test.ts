// A data folder that cannot be made or written ends every command with one clear line, at once
// (issue 15): before, `atm keys init --data /proc/nope` spun at 100 % CPU for ever inside Node's
// recursive mkdirSync. Each child here is killed after CHILD_KILL_MS, so a spin shows up as a
// signal instead of an exit code; the bound is a hang detector, not a speed test.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { KioskJournal } from '../../kiosk/index.js';
import { AtmError, fernetKeyParse, makeDataDir } from '../../protocol/index.js';
import { runAtm, tempDir, type CliResult } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';

const CHILD_KILL_MS = 10_000;
const UNUSABLE = /^atm: cannot use .+ as a data folder: .+ \[DATA_DIR_UNUSABLE\]$/;

function assertUnusable(result: CliResult, reason: RegExp, what: string): void {
  assert.equal(result.signal, null, `${what}: killed after ${CHILD_KILL_MS} ms, so it hung`);
  assert.equal(result.code, 1, `${what}: exit code (stderr: ${result.stderr})`);
  const lines = result.stderr.split('\n').filter((line) => line.length > 0);
  assert.equal(lines.length, 1, `${what}: one line, got ${JSON.stringify(result.stderr)}`);
  assert.match(lines[0] ?? '', UNUSABLE, what);
  assert.match(lines[0] ?? '', reason, what);
}

function run(args: string[]): Promise<CliResult> {
  return runAtm(args, { timeoutMs: CHILD_KILL_MS });
}

/** Mounts a small tmpfs at `dir`, or skips the test saying why (a container without CAP_SYS_ADMIN). */
function mountTmpfs(t: TestContext, dir: string): boolean {
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=1m,mode=0700', 'tmpfs', dir], { encoding: 'utf8' });
  if (mounted.status !== 0) {
    const why = mounted.stderr.trim();
    t.skip(`cannot mount a tmpfs here: ${why === '' ? (mounted.error?.message ?? 'mount failed') : why}`);
    return false;
  }
  return true;
}

test('/proc/nope: atm keys init exits 1 with one line instead of spinning in mkdir; so does a deeper path', async () => {
  for (const dir of ['/proc/nope', '/proc/nope/deeper/still']) {
    assertUnusable(await run(['keys', 'init', '--data', dir]), /cannot make \/proc\/nope: /, dir);
  }
});

test('a file where the folder should be, or in its path, is named; nothing is created', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const file = path.join(root.dir, 'a-file');
  fs.writeFileSync(file, 'not a folder');
  assertUnusable(await run(['keys', 'init', '--data', file]), /is not a folder \[/, 'file in its place');
  assertUnusable(
    await run(['keys', 'init', '--data', path.join(file, 'sub')]),
    /a file is in the way \[/,
    'file above',
  );
  assert.equal(fs.readFileSync(file, 'utf8'), 'not a folder');
});

test('a read-only mount: atm bank and atm keys init refuse with EROFS named; atm audit verify still reads it', async (t) => {
  const root = tempDir();
  const mountPoint = path.join(root.dir, 'mnt');
  fs.mkdirSync(mountPoint);
  if (!mountTmpfs(t, mountPoint)) {
    root.remove();
    return;
  }
  // Unmounted before the temp folder goes (after-hooks run in the order they were added).
  t.after(() => {
    spawnSync('umount', ['-l', mountPoint]);
    root.remove();
  });
  const dataDir = path.join(mountPoint, 'bank');
  const init = await run(['keys', 'init', '--data', dataDir]);
  assert.equal(init.code, 0, init.stderr);
  const remount = spawnSync('mount', ['-o', 'remount,ro', mountPoint], { encoding: 'utf8' });
  assert.equal(remount.status, 0, remount.stderr);
  assertUnusable(
    await run(['bank', '--data', dataDir, '--port', '0', '--no-mqtt']),
    /read-only file system \[/,
    'bank on a read-only mount',
  );
  assertUnusable(
    await run(['keys', 'init', '--data', path.join(mountPoint, 'other')]),
    /read-only file system \[/,
    'keys init on a read-only mount',
  );
  const verify = await run(['audit', 'verify', '--data', dataDir]);
  assert.equal(verify.code, 0, `reading needs no write: ${verify.stderr}`);
});

test(
  'no permission (run as nobody): one line naming it',
  { skip: process.getuid?.() !== 0 && 'needs root to become nobody' },
  async (t) => {
    const root = tempDir();
    t.after(root.remove);
    fs.chmodSync(root.dir, 0o700);
    const result = spawnSync(
      'runuser',
      ['-u', 'nobody', '--', process.execPath, atmBin, 'keys', 'init', '--data', path.join(root.dir, 'sub')],
      { encoding: 'utf8', timeout: CHILD_KILL_MS },
    );
    if (result.error !== undefined) {
      t.skip(`runuser: ${result.error.message}`);
      return;
    }
    assertUnusable(
      { code: result.status, signal: result.signal, stdout: result.stdout, stderr: result.stderr },
      /permission denied \[/,
      'as nobody',
    );
  },
);

test('makeDataDir: makes missing parents with the mode, accepts an existing folder, and the kiosk journal says the same', (t) => {
  const root = tempDir();
  t.after(root.remove);
  const deep = path.join(root.dir, 'a', 'b', 'c');
  makeDataDir(deep);
  assert.equal(fs.statSync(deep).mode & 0o777, 0o700);
  assert.equal(fs.statSync(path.join(root.dir, 'a')).mode & 0o777, 0o700);
  makeDataDir(deep); // idempotent
  assert.deepEqual(fs.readdirSync(deep), [], 'the write probe leaves nothing behind');
  const key = fernetKeyParse(Buffer.alloc(32, 7).toString('base64url'));
  assert.ok(key !== null);
  assert.throws(
    () => KioskJournal.open({ dir: '/proc/nope', kioskId: 'kiosk-1', key }),
    (error: unknown) => error instanceof AtmError && error.code === 'DATA_DIR_UNUSABLE',
  );
});
