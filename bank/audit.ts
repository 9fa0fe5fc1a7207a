// [DESIGN §4] The audit log: one Fernet token per line in DIR/audit.log, so any Fernet
// implementation holding the audit key can read it. Each record carries the SHA-256 of the
// previous token line (a hash chain), and the head (seq, hash) is kept twice: in the ledger
// store, inside the same atomic batch as the money it describes (the truth used to repair
// the log after a crash), and in DIR/audit.head as a Fernet token, so `atm audit verify`
// can detect a truncated log without opening the bank's locked LevelDB.
import fs from 'node:fs';
import path from 'node:path';
import {
  AUDIT_GENESIS_HASH,
  assert,
  assertAuditHead,
  assertRecordFollows,
  EMPTY_AUDIT_HEAD,
  decryptAuditToken,
  faultPoint,
  fernetDecrypt,
  fernetEncrypt,
  hashTokenLine,
  systemRandomBytes,
  type AuditHead,
  type AuditToken,
  type FernetKey,
  type RandomBytes,
} from '../protocol/index.js';

export { AuditChain, decryptAuditToken, hashTokenLine, type AuditEntry, type AuditRecord } from '../protocol/index.js';

export const AUDIT_LOG_FILE = 'audit.log';
export const AUDIT_HEAD_FILE = 'audit.head';
export const AUDIT_SYNC_INTERVAL_MS = 1_000;

function readHeadFile(dir: string, key: FernetKey): AuditHead | null | 'unreadable' {
  let text: string;
  try {
    text = fs.readFileSync(path.join(dir, AUDIT_HEAD_FILE), 'latin1').trim();
  } catch {
    return null;
  }
  const result = fernetDecrypt(key, text);
  if (!result.ok) return 'unreadable';
  try {
    return JSON.parse(result.plaintext.toString('utf8')) as AuditHead;
  } catch {
    return 'unreadable';
  }
}

function writeHeadFile(dir: string, key: FernetKey, head: AuditHead, nowMs: number, randomBytes: RandomBytes): void {
  const token = fernetEncrypt(key, Buffer.from(JSON.stringify(head)), Math.floor(nowMs / 1000), randomBytes(16));
  const temporary = path.join(dir, `${AUDIT_HEAD_FILE}.tmp`);
  fs.writeFileSync(temporary, `${token}\n`, { mode: 0o600 });
  fs.renameSync(temporary, path.join(dir, AUDIT_HEAD_FILE));
}

/**
 * Appends sealed tokens to audit.log in sequence order. The ledger store already holds them
 * durably, so a line need not be synced before the reply: a crash loses at most a tail that
 * repair() puts back from the store on the next start. The store may drop its copy of a token
 * only once the file is synced past it (syncedHead), which happens at most every
 * AUDIT_SYNC_INTERVAL_MS, so even a power cut leaves every record in one place or the other.
 */
export class AuditLogFile {
  private readonly logPath: string;
  private syncing: Promise<void> = Promise.resolve();
  private appendedHead: AuditHead;
  private syncedThrough: AuditHead;
  private lastSyncMs = 0;
  private fd: number | null = null;
  private syncTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly dir: string,
    private readonly key: FernetKey,
    private readonly nowMs: () => number,
    private readonly randomBytes: RandomBytes = systemRandomBytes,
  ) {
    this.logPath = path.join(dir, AUDIT_LOG_FILE);
    this.appendedHead = { ...EMPTY_AUDIT_HEAD };
    this.syncedThrough = { ...EMPTY_AUDIT_HEAD };
  }

  /** The head of what is on disk for certain (fsynced); the store may prune up to here. */
  get syncedHead(): AuditHead {
    return { ...this.syncedThrough };
  }

  /** The head of what is in the file now (after repair and every append). */
  get head(): AuditHead {
    return { ...this.appendedHead };
  }

  /**
   * Start-up repair: drop a torn last line, then append every token the store has past the
   * file's last record. Refuses (throws) when the file's tail does not belong to this chain,
   * because that is tampering for `atm audit verify` to report, not something to paper over.
   */
  async repair(
    storeHead: AuditHead,
    tokensAfter: (seq: number) => Promise<AuditToken[]>,
  ): Promise<{ appended: number }> {
    let content = '';
    try {
      content = fs.readFileSync(this.logPath, 'latin1');
    } catch {
      content = '';
    }
    if (content.length > 0 && !content.endsWith('\n')) {
      const keep = content.lastIndexOf('\n') + 1; // a write torn by the crash
      fs.truncateSync(this.logPath, keep);
      content = content.slice(0, keep);
    }
    const lines = content.split('\n').filter((line) => line.length > 0);
    let fileHead: AuditHead = { ...EMPTY_AUDIT_HEAD };
    const lastLine = lines.at(-1);
    if (lastLine !== undefined) {
      const record = decryptAuditToken(this.key, lastLine);
      if (record?.seq !== lines.length) {
        throw new Error(`audit log tail does not verify (line ${lines.length}); run 'atm audit verify'`);
      }
      fileHead = { seq: record.seq, hash: hashTokenLine(lastLine) };
    }
    if (fileHead.seq > storeHead.seq) {
      throw new Error(
        `audit log has ${fileHead.seq} records but the ledger's head is ${storeHead.seq}; the data dir is inconsistent`,
      );
    }
    assertAuditHead(storeHead, 'ledger head');
    const missing = fileHead.seq < storeHead.seq ? await tokensAfter(fileHead.seq) : [];
    if (fileHead.seq + missing.length !== storeHead.seq) {
      throw new Error(
        `cannot repair audit log: file ends at ${fileHead.seq}, ledger at ${storeHead.seq}, ${missing.length} tokens kept`,
      );
    }
    this.assertReplayChains(fileHead, missing);
    if (missing.length > 0)
      fs.appendFileSync(this.logPath, missing.map((t) => `${t.token}\n`).join(''), { mode: 0o600 });
    if (fs.existsSync(this.logPath)) {
      const fd = fs.openSync(this.logPath, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
    this.appendedHead =
      missing.length > 0 ? { seq: storeHead.seq, hash: hashTokenLine((missing.at(-1) as AuditToken).token) } : fileHead;
    if (this.appendedHead.hash !== storeHead.hash) throw new Error('audit log head hash differs from the ledger head');
    this.syncedThrough = { ...this.appendedHead };
    writeHeadFile(this.dir, this.key, this.appendedHead, this.nowMs(), this.randomBytes);
    return { appended: missing.length };
  }

  /**
   * [paired assertion, replay side] The tokens the ledger kept are our own records, sealed by
   * the chain: each must decrypt and link to the one before, starting at the file's last line.
   */
  private assertReplayChains(fileHead: AuditHead, tokens: readonly AuditToken[]): void {
    let head = fileHead;
    for (const { seq, token } of tokens) {
      const record = decryptAuditToken(this.key, token);
      assert(record !== null && record.seq === seq, `ledger audit token ${seq} does not decrypt to record ${seq}`);
      assertRecordFollows(head, record, 'repair');
      head = { seq, hash: hashTokenLine(token) };
    }
  }

  /**
   * Appends a durable group's lines, synchronously, before the committer answers it: so
   * audit.log (and `atm audit show`) holds every answered action, and a write error (a full
   * disk) is known at once. One write() to the page cache per group commit, not per request
   * and never an fsync on the event loop. The file stays open between appends; it is synced,
   * and audit.head rewritten to name what is then on disk for certain, at most every
   * AUDIT_SYNC_INTERVAL_MS, off the event loop. A rename per append was a tenth of the bank's
   * CPU (issue 14); this write measures ~20 µs a group.
   */
  append(tokens: AuditToken[]): void {
    if (tokens.length === 0) return;
    // The committer hands over whole durable groups in order: a gap here is a bug, and a file
    // written past it would fail `atm audit verify` for ever.
    tokens.forEach((token, index) => {
      assert(
        token.seq === this.appendedHead.seq + 1 + index,
        `audit append out of order: ${token.seq} after ${this.appendedHead.seq + index}`,
      );
    });
    this.fd ??= fs.openSync(this.logPath, 'a', 0o600);
    const bytes = Buffer.from(tokens.map((t) => `${t.token}\n`).join(''), 'latin1');
    for (let written = 0; written < bytes.length;) written += fs.writeSync(this.fd, bytes, written);
    const last = tokens.at(-1) as AuditToken;
    this.appendedHead = { seq: last.seq, hash: hashTokenLine(last.token) };
    if (this.nowMs() - this.lastSyncMs >= AUDIT_SYNC_INTERVAL_MS) void this.syncInBackground();
    else this.syncLater();
  }

  /** fdatasync off the event loop, then audit.head names the synced head; the store may prune up to it. */
  private syncInBackground(): Promise<void> {
    this.lastSyncMs = this.nowMs();
    this.syncing = this.syncing.then(async () => {
      const fd = this.fd;
      const target = { ...this.appendedHead };
      if (fd === null || this.syncedThrough.seq === target.seq) return;
      try {
        await new Promise<void>((resolve, reject) => {
          fs.fdatasync(fd, (error) => (error === null ? resolve() : reject(error)));
          faultPoint('audit.duringSync'); // test-only (protocol/faults.ts)
        });
        this.syncedThrough = target;
        // A head file left behind by a failed write (a full disk) still verifies: it may name
        // less than the file holds, never more; the next sync rewrites it.
        writeHeadFile(this.dir, this.key, target, this.nowMs(), this.randomBytes);
      } catch {
        // Not synced: syncedHead stays put, so the store keeps the tokens; the next sync retries.
      }
    });
    return this.syncing;
  }

  /** A bank gone quiet still syncs its last appends within AUDIT_SYNC_INTERVAL_MS. */
  private syncLater(): void {
    if (this.syncTimer !== null) return;
    this.syncTimer = setTimeout(() => {
      this.syncTimer = null;
      void this.syncInBackground();
    }, AUDIT_SYNC_INTERVAL_MS);
    this.syncTimer.unref();
  }

  /** Resolves when the syncs started so far have finished. */
  flushed(): Promise<void> {
    return this.syncing;
  }

  /** Syncs what was appended, writes the head and closes the file (the host's last step). */
  async close(): Promise<void> {
    if (this.syncTimer !== null) clearTimeout(this.syncTimer);
    this.syncTimer = null;
    await this.syncInBackground();
    if (this.fd !== null) fs.closeSync(this.fd);
    this.fd = null;
  }
}

export type VerifyResult =
  { ok: true; records: number } | { ok: false; records: number; badRecord: number; reason: string };

/**
 * Checks a chain one token line at a time (so a database's records can be paged through):
 * each must decrypt with the audit key, carry the next sequence number and the previous
 * line's hash. push() returns the failure for the first bad line, and null while all is well.
 */
export class ChainVerifier {
  private previousHash = AUDIT_GENESIS_HASH;
  records = 0;

  constructor(private readonly key: FernetKey) {}

  get head(): AuditHead {
    return { seq: this.records, hash: this.previousHash };
  }

  push(line: string): VerifyResult | null {
    const lineNumber = this.records + 1;
    const fail = (reason: string): VerifyResult => ({
      ok: false,
      records: this.records,
      badRecord: lineNumber,
      reason,
    });
    const record = decryptAuditToken(this.key, line);
    if (record === null) return fail('does not decrypt (edited, or not written with this audit key)');
    if (record.seq !== lineNumber)
      return fail(`sequence ${record.seq} where ${lineNumber} was expected (line deleted, inserted or moved)`);
    if (record.prevHash !== this.previousHash)
      return fail('hash chain broken (a previous line was changed, removed or reordered)');
    this.previousHash = hashTokenLine(line);
    this.records = lineNumber;
    return null;
  }
}

/** [atm audit verify] Decrypt, sequence, chain and head; reports the first bad record. */
export function verifyAuditLog(dir: string, key: FernetKey): VerifyResult {
  let content: string;
  try {
    content = fs.readFileSync(path.join(dir, AUDIT_LOG_FILE), 'latin1');
  } catch {
    content = '';
  }
  const lines = content.split('\n');
  const torn = lines.at(-1) !== '';
  if (!torn) lines.pop();
  if (content.length === 0) lines.length = 0;
  const verifier = new ChainVerifier(key);
  for (let index = 0; index < lines.length; index++) {
    if (torn && index === lines.length - 1)
      return {
        ok: false,
        records: index,
        badRecord: index + 1,
        reason: 'last line is incomplete (log truncated mid-record)',
      };
    const failure = verifier.push(lines[index] as string);
    if (failure !== null) return failure;
  }
  const head = readHeadFile(dir, key);
  if (head === 'unreadable')
    return { ok: false, records: lines.length, badRecord: lines.length + 1, reason: 'audit.head does not decrypt' };
  if (head === null) {
    if (lines.length > 0)
      return { ok: false, records: lines.length, badRecord: lines.length + 1, reason: 'audit.head is missing' };
    return { ok: true, records: 0 };
  }
  if (head.seq > lines.length) {
    return {
      ok: false,
      records: lines.length,
      badRecord: lines.length + 1,
      reason: `log truncated: head says ${head.seq} records, the log has ${lines.length}`,
    };
  }
  if (head.seq > 0) {
    const headLine = lines[head.seq - 1] as string;
    if (hashTokenLine(headLine) !== head.hash)
      return {
        ok: false,
        records: lines.length,
        badRecord: head.seq,
        reason: 'record differs from the one the head names',
      };
  }
  return { ok: true, records: lines.length };
}

/**
 * [atm audit verify --store] The database's chain: every record in seq order, then the head row,
 * which the same transactions wrote and so must name exactly the last record.
 */
export async function verifyAuditRecords(
  page: (afterSeq: number, limit: number) => Promise<AuditToken[]>,
  head: AuditHead,
  key: FernetKey,
): Promise<VerifyResult> {
  const verifier = new ChainVerifier(key);
  const PAGE = 5_000;
  for (;;) {
    const tokens = await page(verifier.records, PAGE);
    for (const { seq, token } of tokens) {
      if (seq !== verifier.records + 1)
        return {
          ok: false,
          records: verifier.records,
          badRecord: verifier.records + 1,
          reason: `record ${verifier.records + 1} is missing (the next one is ${seq})`,
        };
      const failure = verifier.push(token);
      if (failure !== null) return failure;
    }
    if (tokens.length < PAGE) break;
  }
  const { records } = verifier;
  if (head.seq !== records || head.hash !== verifier.head.hash)
    return {
      ok: false,
      records,
      badRecord: Math.min(head.seq, records + 1),
      reason:
        head.seq === records
          ? 'record differs from the one the head names'
          : `the head says ${head.seq} records, the table has ${records}`,
    };
  return { ok: true, records };
}

/** The audit.log and audit.head that the embedded mode keeps, written from a chain's records. */
export async function exportAuditLog(
  page: (afterSeq: number, limit: number) => Promise<AuditToken[]>,
  dir: string,
  key: FernetKey,
  nowMs: number,
  randomBytes: RandomBytes = systemRandomBytes,
): Promise<VerifyResult> {
  const verifier = new ChainVerifier(key);
  const logPath = path.join(dir, AUDIT_LOG_FILE);
  const temporary = `${logPath}.tmp`;
  const fd = fs.openSync(temporary, 'w', 0o600);
  try {
    for (;;) {
      const tokens = await page(verifier.records, 5_000);
      for (const { token } of tokens) {
        const failure = verifier.push(token);
        if (failure !== null) {
          fs.rmSync(temporary, { force: true }); // a chain that does not verify is not exported
          return failure;
        }
      }
      if (tokens.length > 0) fs.writeSync(fd, tokens.map((t) => `${t.token}\n`).join(''), null, 'latin1');
      if (tokens.length < 5_000) break;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(temporary, logPath);
  writeHeadFile(dir, key, verifier.head, nowMs, randomBytes);
  return { ok: true, records: verifier.records };
}
