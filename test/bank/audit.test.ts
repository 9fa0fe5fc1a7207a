// The audit log (bank/audit.ts): a hash chain of Fernet tokens, one per line, plus a head
// file. [DESIGN §4] Audit log: deletion, reordering, editing and truncation are all detected
// by `atm audit verify` (verifyAuditLog), which names the first bad record; a restart
// repairs a torn or short log from the tokens the ledger kept.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import {
  AUDIT_HEAD_FILE,
  AUDIT_SYNC_INTERVAL_MS,
  AUDIT_LOG_FILE,
  AuditChain,
  AuditLogFile,
  decryptAuditToken,
  hashTokenLine,
  verifyAuditLog,
  type AuditEntry,
  type AuditRecord,
} from '../../bank/audit.js';
import { AssertionError } from '../../protocol/assert.js';
import { fernetDecrypt, fernetKeyFormat, fernetKeyFromRaw, type FernetKey } from '../../protocol/fernet.js';
import { AUDIT_GENESIS_HASH, EMPTY_AUDIT_HEAD, type AuditHead, type AuditToken } from '../../bank/types.js';
import { FakeClock } from '../helpers/clock.js';
import { makeTempDir } from '../helpers/bank.js';

const RECORDS = 8;

interface Written {
  dir: string;
  key: FernetKey;
  rawKey: Buffer;
  tokens: AuditToken[];
  records: AuditRecord[];
  head: AuditHead;
  clock: FakeClock;
}

function tempDir(t: TestContext): string {
  const dir = makeTempDir('atm-audit-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function entry(index: number): AuditEntry {
  const actions = [
    'register',
    'login',
    'deposit',
    'withdraw.hold',
    'withdraw.post',
    'balance',
    'withdraw.void',
    'logout',
  ] as const;
  return {
    kioskId: 'kiosk-01',
    username: `user${index % 3}`,
    action: actions[index % actions.length] ?? 'ping',
    outcome: index % 4 === 3 ? ('INSUFFICIENT_FUNDS' as const) : ('ok' as const),
    amountCents: 100 * (index + 1),
    txnId: `txn-${String(index).padStart(8, '0')}`,
  };
}

/** Seals `count` records with a chain and writes them through AuditLogFile, as the bank does. */
async function writeChain(t: TestContext, count = RECORDS): Promise<Written> {
  const dir = tempDir(t);
  const rawKey = crypto.randomBytes(32);
  const key = fernetKeyFromRaw(rawKey);
  const clock = new FakeClock();
  const chain = new AuditChain(key, EMPTY_AUDIT_HEAD);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  const tokens: AuditToken[] = [];
  const records: AuditRecord[] = [];
  for (let index = 0; index < count; index++) {
    const sealed = chain.seal(entry(index), clock.nowMs());
    tokens.push(sealed.token);
    records.push(sealed.record);
    clock.advance(1_000);
  }
  // Two appends, as two group commits would make.
  const split = Math.floor(count / 2);
  log.append(tokens.slice(0, split));
  log.append(tokens.slice(split));
  await log.close(); // as the bank's close does: synced, and audit.head names the last record
  return { dir, key, rawKey, tokens, records, head: chain.currentHead, clock };
}

function logPath(dir: string): string {
  return path.join(dir, AUDIT_LOG_FILE);
}

function readLines(dir: string): string[] {
  return fs
    .readFileSync(logPath(dir), 'ascii')
    .split('\n')
    .filter((line) => line.length > 0);
}

function writeLines(dir: string, lines: string[]): void {
  fs.writeFileSync(logPath(dir), lines.map((line) => `${line}\n`).join(''));
}

function assertBad(dir: string, key: FernetKey, badRecord: number, reason: RegExp): void {
  const result = verifyAuditLog(dir, key);
  assert.equal(result.ok, false, 'the tampering must be detected');
  assert.equal(result.badRecord, badRecord, `first bad record (reason: ${result.reason})`);
  assert.match(result.reason, reason);
}

/** An independent reading of the Fernet spec with node:crypto alone (no protocol/fernet.ts). */
function specDecrypt(keyText: string, token: string): Buffer {
  const key = Buffer.from(keyText, 'base64url');
  const data = Buffer.from(token, 'base64url');
  assert.equal(key.length, 32);
  assert.equal(data[0], 0x80, 'version byte');
  const signed = data.subarray(0, data.length - 32);
  const mac = crypto.createHmac('sha256', key.subarray(0, 16)).update(signed).digest();
  assert.ok(
    crypto.timingSafeEqual(mac, data.subarray(data.length - 32)),
    'HMAC-SHA256 over version ‖ timestamp ‖ IV ‖ ciphertext',
  );
  const decipher = crypto.createDecipheriv('aes-128-cbc', key.subarray(16, 32), data.subarray(9, 25));
  return Buffer.concat([decipher.update(data.subarray(25, data.length - 32)), decipher.final()]);
}

test('a chain of N records written by AuditLogFile verifies, with one line per record', async (t) => {
  const { dir, key, tokens, head } = await writeChain(t);
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS });
  assert.deepEqual(
    readLines(dir),
    tokens.map((token) => token.token),
  );
  assert.equal(head.seq, RECORDS);
  assert.equal(head.hash, hashTokenLine(tokens.at(-1)?.token ?? ''));
});

test('each record links to the SHA-256 of the previous token line, starting from zeros', async (t) => {
  const { key, tokens } = await writeChain(t);
  let previousHash = AUDIT_GENESIS_HASH;
  for (const [index, token] of tokens.entries()) {
    const record = decryptAuditToken(key, token.token);
    assert.ok(record !== null);
    assert.equal(record.seq, index + 1);
    assert.equal(record.prevHash, previousHash);
    assert.equal(
      record.prevHash,
      index === 0
        ? '0'.repeat(64)
        : crypto
            .createHash('sha256')
            .update(tokens[index - 1]?.token ?? '')
            .digest('hex'),
    );
    previousHash = hashTokenLine(token.token);
  }
});

test('an empty or missing log verifies as zero records', (t) => {
  const dir = tempDir(t);
  const key = fernetKeyFromRaw(crypto.randomBytes(32));
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: 0 });
});

test('every line decrypts with the Fernet audit key alone, per the Fernet spec', async (t) => {
  const { key, rawKey, tokens, records, clock } = await writeChain(t);
  const keyText = fernetKeyFormat(rawKey);
  for (const [index, token] of tokens.entries()) {
    const ours = fernetDecrypt(key, token.token);
    assert.ok(ours.ok, `line ${index + 1} decrypts with fernetDecrypt`);
    const record = JSON.parse(ours.plaintext.toString('utf8')) as AuditRecord;
    assert.deepEqual(record, records[index]);
    assert.deepEqual(
      JSON.parse(specDecrypt(keyText, token.token).toString('utf8')),
      record,
      'an independent Fernet reader agrees',
    );
    // The plaintext carries what DESIGN §4 lists.
    assert.equal(record.v, 1);
    assert.equal(record.seq, index + 1);
    assert.equal(record.ts, new Date(clock.ms - (RECORDS - index) * 1_000).toISOString());
    const { kioskId, username, action, outcome, amountCents, txnId } = record;
    assert.deepEqual({ kioskId, username, action, outcome, amountCents, txnId }, entry(index));
  }
});

test('a line decrypted with another key is refused, so the log does not verify', async (t) => {
  const { dir } = await writeChain(t);
  const other = fernetKeyFromRaw(crypto.randomBytes(32));
  assertBad(dir, other, 1, /does not decrypt/);
});

test('editing one character of any line is detected at that line', async (t) => {
  const { dir, key, tokens } = await writeChain(t);
  const original = tokens.map((token) => token.token);
  const length = original[0]?.length ?? 0;
  // Version byte, timestamp, IV, ciphertext, MAC, and the padding end.
  const positions = [0, 5, 15, 40, Math.floor(length / 2), length - 10, length - 2, length - 1];
  for (const lineNumber of [1, 4, RECORDS]) {
    for (const position of positions) {
      const lines = [...original];
      const line = lines[lineNumber - 1] ?? '';
      const replacement = line[position] === 'A' ? 'B' : 'A';
      lines[lineNumber - 1] = line.slice(0, position) + replacement + line.slice(position + 1);
      assert.notEqual(lines[lineNumber - 1], line);
      writeLines(dir, lines);
      assertBad(dir, key, lineNumber, /does not decrypt/);
    }
  }
  writeLines(dir, original);
  assert.deepEqual(
    verifyAuditLog(dir, key),
    { ok: true, records: RECORDS },
    'restoring the bytes restores the verdict',
  );
});

test('deleting a middle line is detected at the line where it was', async (t) => {
  const { dir, key } = await writeChain(t);
  const lines = readLines(dir);
  lines.splice(3, 1);
  writeLines(dir, lines);
  assertBad(dir, key, 4, /sequence 5 where 4 was expected/);
});

test('deleting the first line is detected at line 1', async (t) => {
  const { dir, key } = await writeChain(t);
  writeLines(dir, readLines(dir).slice(1));
  assertBad(dir, key, 1, /sequence 2 where 1 was expected/);
});

test('deleting the last line is caught by the head, which names the missing record', async (t) => {
  const { dir, key } = await writeChain(t);
  writeLines(dir, readLines(dir).slice(0, -1));
  assertBad(dir, key, RECORDS, /truncated: head says 8 records, the log has 7/);
});

test('swapping two lines is detected at the earlier of the two', async (t) => {
  const { dir, key } = await writeChain(t);
  const lines = readLines(dir);
  const [third, sixth] = [lines[2] ?? '', lines[5] ?? ''];
  lines[2] = sixth;
  lines[5] = third;
  writeLines(dir, lines);
  assertBad(dir, key, 3, /sequence 6 where 3 was expected/);
});

test('truncating the last line mid-token is detected at that line', async (t) => {
  const { dir, key } = await writeChain(t);
  const content = fs.readFileSync(logPath(dir), 'ascii');
  fs.writeFileSync(logPath(dir), content.slice(0, content.length - 30));
  assertBad(dir, key, RECORDS, /incomplete/);
  // Cutting only the final newline leaves a complete token but still a torn write.
  fs.writeFileSync(logPath(dir), content.slice(0, content.length - 1));
  assertBad(dir, key, RECORDS, /incomplete/);
});

test('inserting a duplicate of a line is detected at the copy', async (t) => {
  const { dir, key } = await writeChain(t);
  const lines = readLines(dir);
  writeLines(dir, [...lines.slice(0, 3), lines[2] ?? '', ...lines.slice(3)]);
  assertBad(dir, key, 4, /sequence 3 where 4 was expected/);
  writeLines(dir, [...lines, lines.at(-1) ?? '']);
  assertBad(dir, key, RECORDS + 1, /sequence 8 where 9 was expected/);
});

test('a key holder re-sealing one record is caught by the next link, or by the head for the last', async (t) => {
  const { dir, key, records } = await writeChain(t);
  const lines = readLines(dir);
  const forge = (record: AuditRecord | undefined): string => {
    assert.ok(record !== undefined);
    const altered = { ...record, amountCents: 1 };
    const token = resealedToken(key, altered);
    assert.equal(decryptAuditToken(key, token)?.seq, record.seq, 'the forged line is itself well-formed');
    return token;
  };
  writeLines(
    dir,
    lines.map((line, index) => (index === 4 ? forge(records[4]) : line)),
  );
  assertBad(dir, key, 6, /hash chain broken/);
  writeLines(
    dir,
    lines.map((line, index) => (index === RECORDS - 1 ? forge(records[RECORDS - 1]) : line)),
  );
  assertBad(dir, key, RECORDS, /differs from the one the head names/);
});

/** Encrypts a record exactly as AuditChain does, for the forgery test. */
function resealedToken(key: FernetKey, record: AuditRecord): string {
  const chain = new AuditChain(key, { seq: record.seq - 1, hash: record.prevHash });
  const { kioskId, username, action, outcome, amountCents, txnId } = record;
  const entryFields: AuditEntry = { kioskId, username, action, outcome };
  if (amountCents !== undefined) entryFields.amountCents = amountCents;
  if (txnId !== undefined) entryFields.txnId = txnId;
  return chain.seal(entryFields, Date.parse(record.ts)).token.token;
}

test('a missing or foreign audit.head is reported after the last record', async (t) => {
  const { dir, key } = await writeChain(t);
  const headPath = path.join(dir, AUDIT_HEAD_FILE);
  const saved = fs.readFileSync(headPath);
  fs.writeFileSync(headPath, 'not-a-token\n');
  assertBad(dir, key, RECORDS + 1, /audit.head does not decrypt/);
  fs.rmSync(headPath);
  assertBad(dir, key, RECORDS + 1, /audit.head is missing/);
  fs.writeFileSync(headPath, saved);
  assert.equal(verifyAuditLog(dir, key).ok, true);
});

test("repair drops a torn last line and restores it from the store's tokens", async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  // The crash hit while record 8 was half written; the ledger had committed it.
  const lines = readLines(dir);
  fs.writeFileSync(
    logPath(dir),
    lines
      .slice(0, -1)
      .map((line) => `${line}\n`)
      .join('') + (lines.at(-1) ?? '').slice(0, 50),
  );
  assertBad(dir, key, RECORDS, /incomplete/);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  const result = await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq));
  assert.deepEqual(result, { appended: 1 });
  assert.deepEqual(log.head, head);
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS });
  assert.deepEqual(
    readLines(dir),
    tokens.map((token) => token.token),
  );
});

test('repair drops a torn line the ledger never committed and appends nothing', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  const torn = new AuditChain(key, head).seal(entry(99), clock.nowMs()).token.token.slice(0, 40);
  fs.appendFileSync(logPath(dir), torn);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  assert.deepEqual(await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq)), { appended: 0 });
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS });
});

test("repair completes a log that stops short of the ledger's head", async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  // Only records 1-3 reached audit.log (a crash before the later appends); the head file is stale too.
  writeLines(dir, readLines(dir).slice(0, 3));
  const log = new AuditLogFile(dir, key, clock.nowMs);
  const result = await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq));
  assert.deepEqual(result, { appended: RECORDS - 3 });
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS });
  // Appends continue the chain from the repaired head.
  const next = new AuditChain(key, head).seal(entry(RECORDS), clock.nowMs()).token;
  log.append([next]);
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS + 1 });
});

test('repair of an absent log rebuilds it entirely from the store', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  fs.rmSync(logPath(dir));
  fs.rmSync(path.join(dir, AUDIT_HEAD_FILE));
  const log = new AuditLogFile(dir, key, clock.nowMs);
  assert.deepEqual(await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq)), {
    appended: RECORDS,
  });
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: RECORDS });
});

test('repair refuses a complete last line that does not decrypt, and leaves the file alone', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  const lines = readLines(dir);
  const last = lines.at(-1) ?? '';
  lines[lines.length - 1] = `${last.slice(0, 20)}${last[20] === 'A' ? 'B' : 'A'}${last.slice(21)}`;
  writeLines(dir, lines);
  const before = fs.readFileSync(logPath(dir));
  const log = new AuditLogFile(dir, key, clock.nowMs);
  await assert.rejects(
    log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq)),
    /audit log tail does not verify/,
  );
  assert.deepEqual(fs.readFileSync(logPath(dir)), before);
});

test('repair refuses when the ledger no longer has the tokens the file is missing', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  writeLines(dir, readLines(dir).slice(0, 3));
  const log = new AuditLogFile(dir, key, clock.nowMs);
  // Tokens 4-5 were pruned as if already in the file: the gap cannot be filled.
  await assert.rejects(
    log.repair(head, async (seq) => tokens.filter((token) => token.seq > Math.max(seq, 5))),
    /cannot repair audit log/,
  );
});

test("repair refuses a file that is ahead of the ledger's head", async (t) => {
  const { dir, key, tokens, clock } = await writeChain(t, RECORDS);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  const olderHead = { seq: 5, hash: hashTokenLine(tokens[4]?.token ?? '') };
  await assert.rejects(
    log.repair(olderHead, async () => []),
    /inconsistent/,
  );
});

test('append refuses tokens out of sequence', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, 2);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq));
  const chain = new AuditChain(key, head);
  chain.seal(entry(2), clock.nowMs());
  const fourth = chain.seal(entry(3), clock.nowMs()).token;
  // A gap is a programmer error (the committer hands over whole groups in order), not an I/O failure.
  assert.throws(
    () => log.append([fourth]),
    (error) => {
      assert.ok(error instanceof AssertionError);
      assert.match(error.message, /^assertion failed: audit append out of order: 4 after 2$/);
      return true;
    },
  );
});

test('append asserts that the tokens of one append are contiguous too', async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, 2);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  await log.repair(head, async (seq) => tokens.filter((token) => token.seq > seq));
  const chain = new AuditChain(key, head);
  const third = chain.seal(entry(2), clock.nowMs()).token;
  chain.seal(entry(3), clock.nowMs());
  const fifth = chain.seal(entry(4), clock.nowMs()).token;
  assert.throws(() => log.append([third, fifth]), AssertionError);
  assert.equal(readLines(dir).length, 2, 'nothing of the broken group is written');
});

test('sealing asserts the chain: a stray seq in an entry cannot renumber it', () => {
  const key = fernetKeyFromRaw(crypto.randomBytes(32));
  const chain = new AuditChain(key, EMPTY_AUDIT_HEAD);
  chain.seal(entry(0), 0);
  const stray = { ...entry(1), seq: 7 } as AuditEntry;
  assert.throws(() => chain.seal(stray, 0), /assertion failed: seal: audit record 7 after 1/);
  assert.equal(chain.currentHead.seq, 1, 'the failed seal does not move the head');
});

test('a chain refuses a corrupted head at start and a reset that moves forward', () => {
  const key = fernetKeyFromRaw(crypto.randomBytes(32));
  assert.throws(() => new AuditChain(key, { seq: -1, hash: AUDIT_GENESIS_HASH }), AssertionError);
  assert.throws(() => new AuditChain(key, { seq: 1.5, hash: AUDIT_GENESIS_HASH }), AssertionError);
  assert.throws(() => new AuditChain(key, { seq: 3, hash: 'not a hash' }), AssertionError);
  const chain = new AuditChain(key, EMPTY_AUDIT_HEAD);
  const first = chain.seal(entry(0), 0);
  assert.throws(() => chain.resetTo({ seq: 2, hash: first.head.hash }), /chain reset forward/);
  chain.resetTo(EMPTY_AUDIT_HEAD);
  assert.deepEqual(chain.currentHead, EMPTY_AUDIT_HEAD);
});

test("repair asserts that the ledger's kept tokens chain onto the file (replay side of the pair)", async (t) => {
  const { dir, key, tokens, head, clock } = await writeChain(t, RECORDS);
  const lines = readLines(dir);
  fs.writeFileSync(
    logPath(dir),
    lines
      .slice(0, 5)
      .map((line) => `${line}\n`)
      .join(''),
  );
  // The ledger's copy of record 7 was sealed on another chain: its seq is right, its link is not.
  const other = new AuditChain(key, { seq: 6, hash: 'f'.repeat(64) }).seal(entry(6), clock.nowMs()).token;
  const kept = tokens.filter((token) => token.seq > 5).map((token) => (token.seq === 7 ? other : token));
  const log = new AuditLogFile(dir, key, clock.nowMs);
  await assert.rejects(
    log.repair(head, async (seq) => kept.filter((token) => token.seq > seq)),
    (error) => error instanceof AssertionError && error.message.includes('repair: audit record 7 does not link'),
  );
  assert.equal(readLines(dir).length, 5, 'nothing is appended from a ledger that does not chain');
});

test('flipping the top bit of one byte of a line is detected (the log is read byte for byte, not as 7-bit ASCII)', async (t) => {
  const { dir, key } = await writeChain(t);
  const bytes = fs.readFileSync(logPath(dir));
  const lineStarts = [0, ...[...bytes.entries()].filter(([, byte]) => byte === 0x0a).map(([index]) => index + 1)];
  const third = lineStarts[2] as number;
  bytes[third + 10] = (bytes[third + 10] as number) | 0x80;
  fs.writeFileSync(logPath(dir), bytes);
  assertBad(dir, key, 3, /decrypt/);
});

test('audit.head names only synced records: while the bank runs it lags by at most AUDIT_SYNC_INTERVAL_MS, and close brings it to the last record', async (t) => {
  const dir = tempDir(t);
  const key = fernetKeyFromRaw(crypto.randomBytes(32));
  const clock = new FakeClock();
  const chain = new AuditChain(key, EMPTY_AUDIT_HEAD);
  const log = new AuditLogFile(dir, key, clock.nowMs);
  const seal = (index: number): AuditToken => chain.seal(entry(index), clock.nowMs()).token;
  const headSeq = (): number | null => {
    const text = fs.readFileSync(path.join(dir, AUDIT_HEAD_FILE), 'latin1').trim();
    const opened = fernetDecrypt(key, text);
    return opened.ok ? (JSON.parse(opened.plaintext.toString('utf8')) as { seq: number }).seq : null;
  };
  log.append([seal(0)]); // the first append starts a sync (nothing synced yet), off the event loop
  assert.equal(fs.readFileSync(logPath(dir), 'latin1').split('\n').length, 2, 'written at once');
  await log.flushed();
  assert.equal(headSeq(), 1);
  assert.equal(log.syncedHead.seq, 1);
  clock.advance(AUDIT_SYNC_INTERVAL_MS - 1);
  log.append([seal(1), seal(2)]); // within the interval: written, not synced
  await log.flushed();
  assert.equal(headSeq(), 1, 'the head names what is synced, not what is written');
  assert.equal(log.syncedHead.seq, 1, 'so the ledger keeps tokens 2 and 3');
  assert.equal(verifyAuditLog(dir, key).ok, true, 'a lagging head is a valid log');
  clock.advance(1);
  log.append([seal(3)]); // the interval has passed: synced, head moves
  await log.flushed();
  assert.equal(headSeq(), 4);
  log.append([seal(4)]);
  await log.close();
  assert.equal(headSeq(), 5, 'close syncs and names the last record');
  assert.deepEqual(verifyAuditLog(dir, key), { ok: true, records: 5 });
});
