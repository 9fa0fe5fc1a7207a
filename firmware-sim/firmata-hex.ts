// The real StandardFirmata firmware for the emulated Uno: where scripts/fetch-firmata.mjs
// caches it, its pinned hash, and an Intel HEX loader that turns it into the program memory
// avr8js runs. A missing or altered file is not an error here: callers get null and a reason,
// and the emulator tests skip with that reason.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** SHA-256 of package/junk/hex/uno/StandardFirmata.cpp.hex in avrgirl-arduino@5.0.1 (npm). */
export const STANDARD_FIRMATA_SHA256 = '6d57ea7cf30e26c9c2f3a01ee37907d2c951f8bc9c27f84dddad12fa9c8b8f36';
export const STANDARD_FIRMATA_SOURCE = 'avrgirl-arduino@5.0.1 package/junk/hex/uno/StandardFirmata.cpp.hex';
const CACHE_RELATIVE = join('node_modules', '.cache', 'secure-atm', 'StandardFirmata.cpp.hex');
/** The ATmega328P's flash: 32 KiB, i.e. 16 Ki words; the hex must fit below the bootloader. */
export const FLASH_BYTES = 32 * 1024;

/** The repository root: the nearest folder above this file with a package.json (works from dist/ and .build-*). */
function repositoryRoot(): string {
  let folder = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(folder, 'package.json'))) {
    const parent = dirname(folder);
    if (parent === folder) return process.cwd();
    folder = parent;
  }
  return folder;
}

/** Where the fetched hex is cached; SECURE_ATM_FIRMATA_HEX overrides it (e.g. a file already on disk). */
export function standardFirmataPath(): string {
  return process.env.SECURE_ATM_FIRMATA_HEX ?? join(repositoryRoot(), CACHE_RELATIVE);
}

/**
 * Parses Intel HEX text into flash bytes. Returns a reason instead of throwing for a malformed
 * file (bad record, bad checksum, data outside the flash). Handles record types 00 (data),
 * 01 (end), 02 (extended segment address) and 04 (extended linear address).
 */
export function parseIntelHex(text: string, flashBytes = FLASH_BYTES): { flash: Uint8Array } | { reason: string } {
  const flash = new Uint8Array(flashBytes).fill(0xff);
  let base = 0;
  const lines = text.split(/\r?\n/).filter((line) => line.trim() !== '');
  for (const [index, rawLine] of lines.entries()) {
    const line = rawLine.trim();
    if (!/^:([0-9A-Fa-f]{2}){5,}$/.test(line)) return { reason: `line ${index + 1}: not an Intel HEX record` };
    const bytes = Buffer.from(line.slice(1), 'hex');
    const count = bytes[0] as number;
    if (bytes.length !== count + 5) return { reason: `line ${index + 1}: length ${count} does not match the record` };
    if (bytes.reduce((sum, byte) => (sum + byte) & 0xff, 0) !== 0) return { reason: `line ${index + 1}: bad checksum` };
    const address = bytes.readUInt16BE(1);
    const type = bytes[3];
    const data = bytes.subarray(4, 4 + count);
    if (type === 0x01) return { flash };
    if (type === 0x02) base = data.readUInt16BE(0) * 16;
    else if (type === 0x04) base = data.readUInt16BE(0) * 65536;
    else if (type === 0x00) {
      if (base + address + count > flashBytes)
        return { reason: `line ${index + 1}: data beyond the ${flashBytes}-byte flash` };
      flash.set(data, base + address);
    }
  }
  return { reason: 'no end-of-file record' };
}

/** Flash bytes as the 16-bit little-endian words avr8js's CPU takes as program memory. */
export function programFromFlash(flash: Uint8Array): Uint16Array {
  const program = new Uint16Array(flash.length / 2);
  for (let word = 0; word < program.length; word += 1) {
    program[word] = (flash[2 * word] as number) | ((flash[2 * word + 1] as number) << 8);
  }
  return program;
}

export type FirmataHexResult = { program: Uint16Array } | { reason: string };

/** Loads and verifies the cached hex; a reason (for a test's skip message) when it cannot. */
export function loadStandardFirmata(path = standardFirmataPath()): FirmataHexResult {
  if (!existsSync(path))
    return { reason: `${path} is missing: run \`node scripts/fetch-firmata.mjs\` (needs the npm registry)` };
  const bytes = readFileSync(path);
  const hash = createHash('sha256').update(bytes).digest('hex');
  if (hash !== STANDARD_FIRMATA_SHA256)
    return { reason: `${path} has SHA-256 ${hash}, expected ${STANDARD_FIRMATA_SHA256}` };
  const parsed = parseIntelHex(bytes.toString('latin1'));
  if ('reason' in parsed) return { reason: `${path}: ${parsed.reason}` };
  return { program: programFromFlash(parsed.flash) };
}

/** The program memory of the verified StandardFirmata hex, or null when it is not available. */
export function loadStandardFirmataHex(path = standardFirmataPath()): Uint16Array | null {
  const result = loadStandardFirmata(path);
  return 'program' in result ? result.program : null;
}
