// The bank's keystore: DIR/keystore.json (mode 0600) with the audit key, the host id and each
// kiosk's pre-shared key. It is a plain file, not LevelDB, so `atm keys …` and `atm audit …`
// work while a bank holds the LevelDB lock; the running bank re-reads it when it changes.
// Writes are atomic (temp file + rename), so a reader never sees half a keystore.
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AtmError, makeDataDir, type CodeOf } from '../protocol/index.js';
import { fernetKeyFormat, fernetKeyParse, type FernetKey } from '../protocol/index.js';
import { PSK_BYTES, isValidKioskId } from '../protocol/index.js';

export const KEYSTORE_FILE = 'keystore.json';
export const KEYSTORE_VERSION = 1;
const SECRET_FILE_MODE = 0o600;

export interface KioskEntry {
  psk: string; // hex, 32 bytes
  createdAt: string;
  revokedAt: string | null;
}

export interface OperatorEntry {
  passwordHash: string; // bcrypt
  createdAt: string;
  /** May also read the embedded broker's `$SYS/#` (absent in keystores made before it existed). */
  admin?: boolean;
}

export interface Keystore {
  version: number;
  hostId: string;
  auditKey: string; // Fernet key text (url-safe base64 of 32 bytes)
  kiosks: Record<string, KioskEntry>;
  operators: Record<string, OperatorEntry>;
}

export interface KioskKeyFile {
  kioskId: string;
  psk: string; // hex
}

export const KeystoreError = {
  MISSING: 'KEYSTORE_MISSING',
  CORRUPT: 'KEYSTORE_CORRUPT',
  KIOSK_EXISTS: 'KIOSK_EXISTS',
  KIOSK_UNKNOWN: 'KIOSK_UNKNOWN',
  INVALID_KIOSK_ID: 'INVALID_KIOSK_ID',
  FILE_EXISTS: 'FILE_EXISTS',
  KEY_FILE_INVALID: 'KEY_FILE_INVALID',
  KEY_FILE_MODE: 'KEY_FILE_MODE',
} as const satisfies Record<string, CodeOf<'keystore'>>;

export function keystorePath(dir: string): string {
  return path.join(dir, KEYSTORE_FILE);
}

/** Writes a secret file atomically with mode 0600 (the mode is set before any byte lands). */
export function writeSecretFile(filePath: string, content: string): void {
  const temporary = `${filePath}.${process.pid}.tmp`;
  fs.writeFileSync(temporary, content, { mode: SECRET_FILE_MODE });
  fs.chmodSync(temporary, SECRET_FILE_MODE);
  fs.renameSync(temporary, filePath);
}

export function loadKeystore(dir: string): Keystore {
  let text: string;
  try {
    text = fs.readFileSync(keystorePath(dir), 'utf8');
  } catch {
    throw new AtmError(KeystoreError.MISSING, `no keystore in ${dir}: run 'atm keys init --data ${dir}'`);
  }
  try {
    // A keystore written before operators existed has no `operators`.
    const keystore = JSON.parse(text) as Omit<Keystore, 'operators'> & Partial<Pick<Keystore, 'operators'>>;
    if (keystore.version !== KEYSTORE_VERSION || fernetKeyParse(keystore.auditKey) === null)
      throw new Error('bad fields');
    keystore.operators ??= {};
    return keystore as Keystore;
  } catch {
    throw new AtmError(KeystoreError.CORRUPT, `keystore ${keystorePath(dir)} is not a valid keystore`);
  }
}

function saveKeystore(dir: string, keystore: Keystore): void {
  writeSecretFile(keystorePath(dir), `${JSON.stringify(keystore, null, 2)}\n`);
}

/** Idempotent: an existing keystore is kept as it is. */
export function initKeystore(dir: string): { created: boolean; keystore: Keystore } {
  makeDataDir(dir);
  if (fs.existsSync(keystorePath(dir))) return { created: false, keystore: loadKeystore(dir) };
  const keystore: Keystore = {
    version: KEYSTORE_VERSION,
    hostId: `bank-${crypto.randomBytes(4).toString('hex')}`,
    auditKey: fernetKeyFormat(crypto.randomBytes(32)),
    kiosks: {},
    operators: {},
  };
  saveKeystore(dir, keystore);
  return { created: true, keystore };
}

export function auditKeyOf(keystore: Keystore): FernetKey {
  const key = fernetKeyParse(keystore.auditKey);
  if (key === null) throw new AtmError(KeystoreError.CORRUPT, 'keystore audit key is invalid');
  return key;
}

export function auditKeyRaw(keystore: Keystore): Buffer {
  const key = auditKeyOf(keystore);
  return Buffer.concat([key.signingKey, key.encryptionKey]);
}

export function addKiosk(
  dir: string,
  kioskId: string,
  outFile: string,
  options: { force?: boolean; nowMs?: number } = {},
): KioskKeyFile {
  if (!isValidKioskId(kioskId)) {
    throw new AtmError(
      KeystoreError.INVALID_KIOSK_ID,
      `invalid kiosk id ${JSON.stringify(kioskId)}: 1-16 chars of a-z 0-9 . _ -, starting with a letter or digit`,
    );
  }
  const keystore = loadKeystore(dir);
  const existing = keystore.kiosks[kioskId];
  if (existing?.revokedAt === null && options.force !== true) {
    throw new AtmError(KeystoreError.KIOSK_EXISTS, `kiosk ${kioskId} is already provisioned; --force rotates its key`);
  }
  if (fs.existsSync(outFile) && options.force !== true) {
    throw new AtmError(KeystoreError.FILE_EXISTS, `${outFile} exists; --force overwrites it`);
  }
  const keyFile: KioskKeyFile = { kioskId, psk: crypto.randomBytes(PSK_BYTES).toString('hex') };
  keystore.kiosks[kioskId] = {
    psk: keyFile.psk,
    createdAt: new Date(options.nowMs ?? Date.now()).toISOString(),
    revokedAt: null,
  };
  makeDataDir(path.dirname(path.resolve(outFile)), 0o755);
  writeSecretFile(outFile, `${JSON.stringify(keyFile, null, 2)}\n`);
  saveKeystore(dir, keystore);
  return keyFile;
}

export function revokeKiosk(dir: string, kioskId: string, nowMs = Date.now()): void {
  const keystore = loadKeystore(dir);
  const entry = keystore.kiosks[kioskId];
  if (entry === undefined) throw new AtmError(KeystoreError.KIOSK_UNKNOWN, `no kiosk ${kioskId} in the keystore`);
  entry.revokedAt ??= new Date(nowMs).toISOString();
  saveKeystore(dir, keystore);
}

export function addOperator(
  dir: string,
  name: string,
  passwordHash: string,
  nowMs = Date.now(),
  options: { admin?: boolean } = {},
): void {
  const keystore = loadKeystore(dir);
  keystore.operators[name] = {
    passwordHash,
    createdAt: new Date(nowMs).toISOString(),
    ...(options.admin === true ? { admin: true } : {}),
  };
  saveKeystore(dir, keystore);
}

/** Reads a kiosk key file; refuses one that group or others can read, as ssh does. */
export function loadKioskKeyFile(filePath: string): { kioskId: string; psk: Buffer } {
  let stat: fs.Stats;
  let text: string;
  try {
    stat = fs.statSync(filePath);
    text = fs.readFileSync(filePath, 'utf8');
  } catch {
    throw new AtmError(KeystoreError.KEY_FILE_INVALID, `cannot read kiosk key file ${filePath}`);
  }
  if ((stat.mode & 0o077) !== 0) {
    throw new AtmError(
      KeystoreError.KEY_FILE_MODE,
      `kiosk key file ${filePath} is readable by others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`,
    );
  }
  try {
    const parsed = JSON.parse(text) as KioskKeyFile;
    const psk = Buffer.from(parsed.psk, 'hex');
    if (!isValidKioskId(parsed.kioskId) || psk.length !== PSK_BYTES || !/^[0-9a-f]{64}$/.test(parsed.psk))
      throw new Error('fields');
    return { kioskId: parsed.kioskId, psk };
  } catch {
    throw new AtmError(KeystoreError.KEY_FILE_INVALID, `kiosk key file ${filePath} is not a valid key file`);
  }
}

/**
 * The running bank's view: re-reads keystore.json whenever its mtime or size changes, so a
 * kiosk added or revoked by `atm keys` takes effect at the next handshake without a restart.
 */
/** How stale the per-request view of the keystore may be (a revocation's delay for open sessions). */
export const KEYSTORE_RECHECK_MS = 100;

export class KeystoreView {
  private keystore: Keystore;
  private stamp = '';
  private checkedAtMs = Number.NEGATIVE_INFINITY;

  constructor(private readonly dir: string) {
    this.keystore = loadKeystore(dir);
    this.stamp = this.currentStamp();
  }

  private currentStamp(): string {
    try {
      const stat = fs.statSync(keystorePath(this.dir));
      return `${stat.mtimeMs}:${stat.size}:${stat.ino}`;
    } catch {
      return '';
    }
  }

  /**
   * Returns the current keystore, reloading it if the file changed (a bad file keeps the old
   * view). With maxAgeMs, a check made less than that long ago is trusted: the per-request
   * check that a kiosk is still active must not cost a stat each time (issue 14).
   */
  current(maxAgeMs = 0): Keystore {
    const nowMs = performance.now();
    if (maxAgeMs > 0 && nowMs - this.checkedAtMs < maxAgeMs) return this.keystore;
    this.checkedAtMs = nowMs;
    const stamp = this.currentStamp();
    if (stamp !== this.stamp) {
      try {
        this.keystore = loadKeystore(this.dir);
        this.stamp = stamp;
      } catch {
        // Keep serving with the last good keystore; the operator sees the error from `atm keys`.
      }
    }
    return this.keystore;
  }

  /** The kiosk's PSK for a handshake, from the keystore as it is on disk now; null if unknown or revoked. */
  lookupPsk(kioskId: string): Buffer | null {
    const entry = this.current().kiosks[kioskId];
    if (entry?.revokedAt !== null) return null;
    return Buffer.from(entry.psk, 'hex');
  }

  /**
   * Whether a kiosk with an open session may still be served: checked on every request, so a
   * revocation ends its open sessions within KEYSTORE_RECHECK_MS (new handshakes see it at once).
   */
  isActive(kioskId: string): boolean {
    const entry = this.current(KEYSTORE_RECHECK_MS).kiosks[kioskId];
    return entry?.revokedAt === null;
  }
}
