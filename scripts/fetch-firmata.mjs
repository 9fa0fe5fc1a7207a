#!/usr/bin/env node
// Fetches the StandardFirmata 2.4 hex for the Arduino Uno the way a build fetches an artefact:
// the npm registry's tarball of avrgirl-arduino@5.0.1 carries it (package/junk/hex/uno/), so
// `npm pack` downloads that tarball (through npm's own cache, so a second run works offline),
// this script takes the one file out of it, checks the pinned SHA-256 and caches it outside
// git in node_modules/.cache/secure-atm/. avrgirl-arduino is never installed: its dependency
// tree pulls a GitHub tarball, and we need only this one file.
//
// Idempotent: a cached file with the right hash is kept. When the file cannot be had (no
// network, registry down, changed tarball) it says "could not fetch: …" and exits 0, so
// `npm test` goes on and the emulator tests skip with that reason.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

const PACKAGE_SPEC = 'avrgirl-arduino@5.0.1';
const MEMBER_PATH = 'package/junk/hex/uno/StandardFirmata.cpp.hex';
// Keep in step with STANDARD_FIRMATA_SHA256 in firmware-sim/firmata-hex.ts.
const SHA256 = '6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36';
const NPM_TIMEOUT_MS = 120_000;

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const target = join(root, 'node_modules', '.cache', 'secure-atm', 'StandardFirmata.cpp.hex');

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** The bytes of one member of a (ustar) tar archive, or null. Enough tar for npm's tarballs. */
function tarMember(tar, wanted) {
  const BLOCK = 512;
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const header = tar.subarray(offset, offset + BLOCK);
    if (header.every((byte) => byte === 0)) return null; // end-of-archive marker
    const field = (start, length) =>
      header
        .subarray(start, start + length)
        .toString('latin1')
        .replace(/\0.*$/s, '');
    const name = field(0, 100);
    const prefix = field(345, 155);
    const size = parseInt(field(124, 12).trim() || '0', 8);
    const body = offset + BLOCK;
    if ((prefix ? `${prefix}/${name}` : name) === wanted) return tar.subarray(body, body + size);
    offset = body + Math.ceil(size / BLOCK) * BLOCK;
  }
  return null;
}

function fetchHex() {
  const scratch = mkdtempSync(join(tmpdir(), 'secure-atm-firmata-'));
  try {
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const packed = spawnSync(
      npm,
      ['pack', PACKAGE_SPEC, '--pack-destination', scratch, '--loglevel=error', '--fetch-retries=1'],
      {
        cwd: scratch,
        encoding: 'utf8',
        timeout: NPM_TIMEOUT_MS,
      },
    );
    if (packed.error) throw new Error(`npm pack ${PACKAGE_SPEC}: ${packed.error.message}`);
    if (packed.status !== 0)
      throw new Error(
        `npm pack ${PACKAGE_SPEC} exited ${packed.status}: ${packed.stderr.trim().split('\n').slice(0, 2).join(' / ')}`,
      );
    const tgzName = packed.stdout.trim().split('\n').pop();
    const tgzPath = join(scratch, tgzName ?? '');
    if (!tgzName || !existsSync(tgzPath))
      throw new Error(`npm pack printed no tarball name (${JSON.stringify(packed.stdout)})`);
    const member = tarMember(gunzipSync(readFileSync(tgzPath)), MEMBER_PATH);
    if (member === null) throw new Error(`${MEMBER_PATH} is not in ${tgzName}`);
    const hash = sha256(member);
    if (hash !== SHA256) throw new Error(`${MEMBER_PATH} has SHA-256 ${hash}, expected ${SHA256}`);
    mkdirSync(dirname(target), { recursive: true });
    const partial = `${target}.${process.pid}.tmp`;
    writeFileSync(partial, member);
    renameSync(partial, target); // atomic: a reader never sees half a file
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

if (existsSync(target) && sha256(readFileSync(target)) === SHA256) {
  console.log(`fetch-firmata: StandardFirmata hex cached at ${target}`);
} else {
  try {
    fetchHex();
    console.log(`fetch-firmata: fetched StandardFirmata hex (${PACKAGE_SPEC}, SHA-256 ok) to ${target}`);
  } catch (error) {
    console.log(`fetch-firmata: could not fetch: ${error instanceof Error ? error.message : String(error)}`);
    console.log('fetch-firmata: the firmware emulator tests will be skipped');
  }
}
