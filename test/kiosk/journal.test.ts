// The kiosk journal (kiosk/journal.ts). [DESIGN §5] Kiosk journal: every transaction id sent and
// every dispense outcome is written and fsynced before the kiosk acts, encrypted under a key
// derived from the PSK and hash-chained with the bank's audit module; after a power cut the
// kiosk plans its settlement with the bank from what the journal holds.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { AuditChain, decryptAuditToken, hashTokenLine, type AuditEntry } from '../../bank/audit.js';
import { AUDIT_GENESIS_HASH, EMPTY_AUDIT_HEAD } from '../../bank/types.js';
import { hkdf, type RandomBytes } from '../../protocol/crypto.js';
import { AtmError } from '../../protocol/errors.js';
import { fernetKeyFromRaw, type FernetKey } from '../../protocol/fernet.js';
import {
  JOURNAL_FILE,
  KioskJournal,
  RECOVERY_REASON,
  deriveJournalKey,
  planRecovery,
  type JournalEvent,
  type UnfinishedWithdrawal,
} from '../../kiosk/journal.js';
import { FakeClock } from '../helpers/clock.js';

const KIOSK_ID = 'kiosk-01';
const PSK = Buffer.from('7f'.repeat(32), 'hex');

/** Deterministic IVs, so two journals fed the same events write the same bytes. */
function countingRandomBytes(): RandomBytes {
  let counter = 0;
  return (lengthBytes) => Buffer.alloc(lengthBytes, counter++ % 256);
}

function tempDir(t: TestContext): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-journal-'));
  t.after(() => fs.rmSync(root, { recursive: true, force: true }));
  return path.join(root, 'journal'); // not created yet: open() must create it
}

function open(dir: string, key: FernetKey = deriveJournalKey(PSK), clock = new FakeClock()): KioskJournal {
  return KioskJournal.open({ dir, kioskId: KIOSK_ID, key, nowMs: clock.nowMs });
}

function lines(dir: string): string[] {
  return fs.readFileSync(path.join(dir, JOURNAL_FILE), 'latin1').split('\n').slice(0, -1);
}

function writeLines(dir: string, content: string[]): void {
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), content.map((line) => `${line}\n`).join(''));
}

function assertCorrupt(action: () => unknown, lineNumber: number): void {
  assert.throws(action, (error: unknown) => {
    assert.ok(error instanceof AtmError);
    assert.equal(error.code, 'JOURNAL_CORRUPT');
    assert.match(error.message, new RegExp(`line ${lineNumber}\\b`));
    return true;
  });
}

/** One of each event type; a full withdrawal, deposits typed and through the escrow, a partial dispense, a retraction. */
const SAMPLE: JournalEvent[] = [
  { type: 'deposit.sent', txnId: 'dep-1', username: 'alice', amountCents: 5_000 },
  { type: 'deposit.result', txnId: 'dep-1', outcome: 'ok' },
  { type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 2_000 },
  { type: 'hold.result', txnId: 'wd-1', outcome: 'ok' },
  { type: 'dispense.started', txnId: 'wd-1', amountCents: 2_000 },
  { type: 'dispense.result', txnId: 'wd-1', dispensedCents: 1_000, fault: 'jam' },
  { type: 'settled', txnId: 'wd-1', outcome: 'posted', postedCents: 1_000, detail: 'partial' },
  { type: 'hold.sent', txnId: 'wd-2', username: 'bob', amountCents: 4_000 },
  { type: 'hold.result', txnId: 'wd-2', outcome: 'INSUFFICIENT_FUNDS' },
  { type: 'settled', txnId: 'wd-2', outcome: 'refused', postedCents: 0 },
  { type: 'dispense.result', txnId: 'wd-3', dispensedCents: 0, fault: null },
  // A deposit through the escrow, and cash presented and retracted.
  {
    type: 'deposit.sent',
    txnId: 'dep-2',
    username: 'carol',
    amountCents: 7_000,
    notes: [
      { denominationCents: 5000, count: 1 },
      { denominationCents: 1000, count: 2 },
    ],
  },
  { type: 'deposit.result', txnId: 'dep-2', outcome: 'ok' },
  { type: 'escrow', txnId: 'dep-2', outcome: 'stored', amountCents: 7_000 },
  { type: 'retracted', txnId: 'wd-1', amountCents: 1_000 },
];

function writeSample(dir: string): KioskJournal {
  const journal = open(dir);
  for (const event of SAMPLE) journal.append(event);
  return journal;
}

test('deriveJournalKey is HKDF-SHA256(salt "atm kiosk journal v1", psk, info "fernet") and depends on the PSK', () => {
  const expected = fernetKeyFromRaw(hkdf(Buffer.from('atm kiosk journal v1'), PSK, Buffer.from('fernet'), 32));
  assert.deepEqual(deriveJournalKey(PSK), expected);
  assert.notDeepEqual(deriveJournalKey(Buffer.from('80'.repeat(32), 'hex')), expected);
});

test('appended events come back in order from entries() and after a reopen', (t) => {
  const dir = tempDir(t);
  const journal = writeSample(dir);
  assert.equal(journal.records, SAMPLE.length);
  assert.deepEqual(journal.entries(), SAMPLE);
  const reopened = open(dir);
  assert.equal(reopened.records, SAMPLE.length);
  assert.deepEqual(reopened.entries(), SAMPLE);
  reopened.append({ type: 'hold.sent', txnId: 'wd-4', username: 'carol', amountCents: 100 });
  assert.equal(open(dir).records, SAMPLE.length + 1);
});

test('entries() returns copies: a caller cannot rewrite the journal in memory', (t) => {
  const journal = open(tempDir(t));
  journal.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 });
  const [first] = journal.entries();
  assert.ok(first?.type === 'hold.sent');
  first.amountCents = 999_999;
  assert.deepEqual(journal.entries()[0], { type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 });
});

test('each line is a Fernet token of an audit record under the derived key, chained to the previous line', (t) => {
  const dir = tempDir(t);
  const clock = new FakeClock();
  const journal = open(dir, deriveJournalKey(PSK), clock);
  journal.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 2_000 });
  clock.advance(1_000);
  journal.append({ type: 'hold.result', txnId: 'wd-1', outcome: 'ok' });
  journal.append({ type: 'dispense.result', txnId: 'wd-1', dispensedCents: 1_500, fault: 'cashLow' });
  const key = deriveJournalKey(PSK);
  let previousHash = AUDIT_GENESIS_HASH;
  const records = lines(dir).map((line, index) => {
    const record = decryptAuditToken(key, line);
    assert.ok(record !== null, `line ${index + 1} decrypts`);
    assert.equal(record.seq, index + 1);
    assert.equal(record.prevHash, previousHash);
    previousHash = hashTokenLine(line);
    return record;
  });
  assert.equal(records.length, 3);
  assert.equal(records[0]?.ts, new Date(Date.UTC(2026, 10, 27, 12, 0, 0)).toISOString());
  assert.equal(records[1]?.ts, new Date(Date.UTC(2026, 10, 27, 12, 0, 1)).toISOString());
  assert.deepEqual(
    records.map((record) => [
      record.kioskId,
      record.username,
      record.action,
      record.outcome,
      record.amountCents,
      record.txnId,
      record.detail,
    ]),
    [
      [KIOSK_ID, 'alice', 'hold.sent', 'sent', 2_000, 'wd-1', '{}'],
      [KIOSK_ID, 'alice', 'hold.result', 'ok', undefined, 'wd-1', '{}'], // username carried from the hold
      [KIOSK_ID, 'alice', 'dispense.result', 'cashLow', 1_500, 'wd-1', '{"fault":"cashLow"}'],
    ],
  );
});

test('a result for a transaction the journal never saw is labelled with a null username', (t) => {
  const dir = tempDir(t);
  open(dir).append({ type: 'hold.result', txnId: 'orphan', outcome: 'ok' });
  const [line] = lines(dir);
  assert.equal(decryptAuditToken(deriveJournalKey(PSK), line ?? '')?.username, null);
});

test('the journal file is created mode 0600 in a directory created 0700', (t) => {
  const dir = tempDir(t);
  open(dir).append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 });
  assert.equal(fs.statSync(path.join(dir, JOURNAL_FILE)).mode & 0o777, 0o600);
  assert.equal(fs.statSync(dir).mode & 0o777, 0o700);
});

test('append is durable before it returns: a second open of the same dir sees the event', (t) => {
  const dir = tempDir(t);
  const writer = open(dir);
  assert.equal(open(dir).records, 0);
  writer.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 });
  assert.deepEqual(open(dir).entries(), [{ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 }]);
  writer.append({ type: 'hold.result', txnId: 'wd-1', outcome: 'ok' });
  assert.equal(open(dir).records, 2);
});

test('append writes the line and then fsyncs it before returning', (t) => {
  const dir = tempDir(t);
  const journal = open(dir);
  const calls: string[] = [];
  const appendFileSync = fs.appendFileSync.bind(fs);
  const fsyncSync = fs.fsyncSync.bind(fs);
  t.mock.method(fs, 'appendFileSync', (...args: Parameters<typeof fs.appendFileSync>) => {
    calls.push('write');
    appendFileSync(...args);
  });
  t.mock.method(fs, 'fsyncSync', (fd: number) => {
    calls.push('fsync');
    fsyncSync(fd);
  });
  journal.append({ type: 'dispense.started', txnId: 'wd-1', amountCents: 100 });
  calls.push('returned');
  assert.deepEqual(calls, ['write', 'fsync', 'returned']);
});

test('sequence numbers are checked on their own: a keyed chain that does not start at 1 is refused', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(dir);
  const chain = new AuditChain(deriveJournalKey(PSK), { seq: 4, hash: AUDIT_GENESIS_HASH }); // links to genesis, numbered from 5
  const { token } = chain.seal(
    {
      kioskId: KIOSK_ID,
      username: 'alice',
      action: 'hold.sent',
      outcome: 'sent',
      amountCents: 100,
      txnId: 'wd-1',
      detail: '{}',
    },
    Date.UTC(2026, 0, 1),
  );
  writeLines(dir, [token.token]);
  assertCorrupt(() => open(dir), 1);
});

test('a keyed, chained record that holds no valid event is refused', (t) => {
  const base = { kioskId: KIOSK_ID, username: 'alice', outcome: 'ok' as const, txnId: 'wd-1', detail: '{}' };
  const badEntries: AuditEntry[] = [
    { ...base, action: 'withdraw.post', amountCents: 100 }, // a bank action, not a journal event
    { ...base, action: 'hold.sent', amountCents: -5 },
    { ...base, action: 'dispense.result', amountCents: 100, detail: 'not json' },
    { ...base, action: 'dispense.result', amountCents: 100, detail: '{"fault":"jam"}' }, // outcome says ok
  ];
  for (const [index, badEntry] of badEntries.entries()) {
    const dir = `${tempDir(t)}-${index}`;
    fs.mkdirSync(dir, { recursive: true });
    const chain = new AuditChain(deriveJournalKey(PSK), EMPTY_AUDIT_HEAD);
    const now = Date.UTC(2026, 0, 1);
    const good = chain.seal({ ...base, action: 'hold.sent', outcome: 'sent', amountCents: 100 }, now);
    const bad = chain.seal(badEntry, now);
    writeLines(dir, [good.token.token, bad.token.token]);
    assertCorrupt(() => open(dir), 2);
  }
});

test('a torn last line (a write cut by the power cut) is truncated away and the journal keeps working', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  const file = path.join(dir, JOURNAL_FILE);
  const whole = fs.readFileSync(file, 'latin1');
  const extra = open(dir);
  extra.append({ type: 'hold.sent', txnId: 'wd-9', username: 'dave', amountCents: 700 });
  const withExtra = fs.readFileSync(file, 'latin1');
  fs.writeFileSync(file, withExtra.slice(0, whole.length + 40)); // half of the last token, no newline
  const reopened = open(dir);
  assert.equal(reopened.records, SAMPLE.length);
  assert.equal(fs.readFileSync(file, 'latin1'), whole);
  reopened.append({ type: 'hold.sent', txnId: 'wd-9', username: 'dave', amountCents: 700 });
  const again = open(dir);
  assert.equal(again.records, SAMPLE.length + 1);
  assert.deepEqual(again.entries().at(-1), { type: 'hold.sent', txnId: 'wd-9', username: 'dave', amountCents: 700 });
});

test('a journal that is only a torn first line opens empty', (t) => {
  const dir = tempDir(t);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, JOURNAL_FILE), 'gAAAAABpartial');
  assert.equal(open(dir).records, 0);
  assert.equal(fs.statSync(path.join(dir, JOURNAL_FILE)).size, 0);
});

test('an edited middle line makes open throw JOURNAL_CORRUPT naming that line', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  const content = lines(dir);
  const line = content[4] as string;
  const flipped = line.slice(0, 60) + (line[60] === 'A' ? 'B' : 'A') + line.slice(61);
  content[4] = flipped;
  writeLines(dir, content);
  assertCorrupt(() => open(dir), 5);
});

test('a middle line replaced by a validly sealed record from another journal breaks the chain', (t) => {
  const dir = tempDir(t);
  const otherDir = `${dir}-other`; // inside the same temp root, removed with it
  // Same key, clock and IVs: the other journal's first three lines are byte-identical to ours.
  const journal = KioskJournal.open({
    dir,
    kioskId: KIOSK_ID,
    key: deriveJournalKey(PSK),
    nowMs: new FakeClock().nowMs,
    randomBytes: countingRandomBytes(),
  });
  for (const event of SAMPLE) journal.append(event);
  const other = KioskJournal.open({
    dir: otherDir,
    kioskId: KIOSK_ID,
    key: deriveJournalKey(PSK),
    nowMs: new FakeClock().nowMs,
    randomBytes: countingRandomBytes(),
  });
  for (const event of SAMPLE.slice(0, 3)) other.append(event);
  assert.deepEqual(lines(otherDir), lines(dir).slice(0, 3));
  other.append({ type: 'hold.result', txnId: 'wd-1', outcome: 'INSUFFICIENT_FUNDS' });
  const content = lines(dir);
  content[3] = lines(otherDir)[3] as string; // same key, same seq, different content
  writeLines(dir, content);
  assertCorrupt(() => open(dir), 5); // line 4 itself verifies; line 5's prevHash no longer matches
});

test('a byte with its high bit set in a middle line is not read as the ASCII character it hides', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  const file = path.join(dir, JOURNAL_FILE);
  const bytes = fs.readFileSync(file);
  const offset = (lines(dir)[0] as string).length + 1 + 30; // inside line 2
  bytes[offset] = (bytes[offset] as number) | 0x80;
  fs.writeFileSync(file, bytes);
  assertCorrupt(() => open(dir), 2);
});

test('a deleted middle line makes open throw JOURNAL_CORRUPT', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  const content = lines(dir);
  content.splice(2, 1);
  writeLines(dir, content);
  assertCorrupt(() => open(dir), 3);
});

test('a blank line inserted in the middle makes open throw JOURNAL_CORRUPT', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  const content = lines(dir);
  content.splice(6, 0, '');
  writeLines(dir, content);
  assertCorrupt(() => open(dir), 7);
});

test('a journal cannot be opened with a key derived from a different PSK', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  assertCorrupt(() => open(dir, deriveJournalKey(Buffer.from('80'.repeat(32), 'hex'))), 1);
});

test('a journal written for another kiosk id is refused', (t) => {
  const dir = tempDir(t);
  writeSample(dir);
  assertCorrupt(() => KioskJournal.open({ dir, kioskId: 'kiosk-02', key: deriveJournalKey(PSK) }), 1);
});

test('a malformed event is a programmer error: append asserts and writes nothing', (t) => {
  const dir = tempDir(t);
  const journal = open(dir);
  assert.throws(
    () => journal.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 0 }),
    /assertion failed/,
  );
  assert.throws(
    () => journal.append({ type: 'dispense.result', txnId: 'wd-1', dispensedCents: 1.5, fault: null }),
    /assertion failed/,
  );
  assert.throws(() => journal.append({ type: 'hold.result', txnId: '', outcome: 'ok' }), /assertion failed/);
  assert.equal(journal.records, 0);
  assert.equal(fs.statSync(path.join(dir, JOURNAL_FILE)).size, 0);
  journal.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 100 });
  assert.equal(open(dir).records, 1);
});

function withdrawal(overrides: Partial<UnfinishedWithdrawal> & { txnId: string }): UnfinishedWithdrawal {
  return {
    kind: 'withdrawal',
    username: 'alice',
    amountCents: 2_000,
    holdOutcome: null,
    dispenseStarted: false,
    dispensedCents: null,
    fault: null,
    ...overrides,
  };
}

const TWO_TWENTIES = [{ denominationCents: 2000, count: 2 }];

test('unfinished() reports each stage of an unsettled withdrawal and unanswered deposits, and nothing settled', (t) => {
  const journal = open(tempDir(t));
  const events: JournalEvent[] = [
    { type: 'hold.sent', txnId: 'a-sent', username: 'alice', amountCents: 2_000 },
    { type: 'hold.sent', txnId: 'b-refused', username: 'bob', amountCents: 9_000 },
    { type: 'hold.result', txnId: 'b-refused', outcome: 'INSUFFICIENT_FUNDS' },
    { type: 'hold.sent', txnId: 'c-held', username: 'carol', amountCents: 3_000 },
    { type: 'hold.result', txnId: 'c-held', outcome: 'ok' },
    { type: 'hold.sent', txnId: 'd-started', username: 'dave', amountCents: 4_000 },
    { type: 'hold.result', txnId: 'd-started', outcome: 'ok' },
    { type: 'dispense.started', txnId: 'd-started', amountCents: 4_000 },
    { type: 'hold.sent', txnId: 'e-partial', username: 'erin', amountCents: 5_000 },
    { type: 'hold.result', txnId: 'e-partial', outcome: 'ok' },
    { type: 'dispense.started', txnId: 'e-partial', amountCents: 5_000 },
    { type: 'dispense.result', txnId: 'e-partial', dispensedCents: 2_000, fault: 'jam' },
    { type: 'deposit.sent', txnId: 'f-deposit', username: 'frank', amountCents: 700 },
    { type: 'deposit.sent', txnId: 'g-deposit-done', username: 'frank', amountCents: 800 },
    { type: 'deposit.result', txnId: 'g-deposit-done', outcome: 'ok' },
    { type: 'hold.sent', txnId: 'h-settled', username: 'heidi', amountCents: 1_000 },
    { type: 'hold.result', txnId: 'h-settled', outcome: 'ok' },
    { type: 'dispense.started', txnId: 'h-settled', amountCents: 1_000 },
    { type: 'dispense.result', txnId: 'h-settled', dispensedCents: 1_000, fault: null },
    { type: 'settled', txnId: 'h-settled', outcome: 'posted', postedCents: 1_000 },
    { type: 'hold.sent', txnId: 'i-retried', username: 'ivan', amountCents: 600 },
    { type: 'hold.sent', txnId: 'i-retried', username: 'ivan', amountCents: 600 }, // a retry reuses the id
    { type: 'hold.result', txnId: 'i-retried', outcome: 'ok' },
    // Escrowed deposits end when their notes are stored or returned, not at the answer.
    { type: 'deposit.sent', txnId: 'j-escrow-answered', username: 'judy', amountCents: 4_000, notes: TWO_TWENTIES },
    { type: 'deposit.result', txnId: 'j-escrow-answered', outcome: 'ok' },
    { type: 'deposit.sent', txnId: 'k-escrow-stored', username: 'judy', amountCents: 4_000, notes: TWO_TWENTIES },
    { type: 'deposit.result', txnId: 'k-escrow-stored', outcome: 'ok' },
    { type: 'escrow', txnId: 'k-escrow-stored', outcome: 'stored', amountCents: 4_000 },
  ];
  for (const event of events) journal.append(event);
  const expected: UnfinishedWithdrawal[] = [
    withdrawal({ txnId: 'a-sent' }),
    withdrawal({ txnId: 'b-refused', username: 'bob', amountCents: 9_000, holdOutcome: 'INSUFFICIENT_FUNDS' }),
    withdrawal({ txnId: 'c-held', username: 'carol', amountCents: 3_000, holdOutcome: 'ok' }),
    withdrawal({ txnId: 'd-started', username: 'dave', amountCents: 4_000, holdOutcome: 'ok', dispenseStarted: true }),
    withdrawal({
      txnId: 'e-partial',
      username: 'erin',
      amountCents: 5_000,
      holdOutcome: 'ok',
      dispenseStarted: true,
      dispensedCents: 2_000,
      fault: 'jam',
    }),
    {
      kind: 'deposit',
      txnId: 'f-deposit',
      username: 'frank',
      amountCents: 700,
      holdOutcome: null,
      dispenseStarted: false,
      dispensedCents: null,
      fault: null,
      depositOutcome: null,
      notes: null,
    },
    withdrawal({ txnId: 'i-retried', username: 'ivan', amountCents: 600, holdOutcome: 'ok' }),
    {
      kind: 'deposit',
      txnId: 'j-escrow-answered',
      username: 'judy',
      amountCents: 4_000,
      holdOutcome: null,
      dispenseStarted: false,
      dispensedCents: null,
      fault: null,
      depositOutcome: 'ok',
      notes: TWO_TWENTIES,
    },
  ];
  assert.deepEqual(journal.unfinished(), expected);
  assert.deepEqual(open(tempDir(t)).unfinished(), []); // an empty journal has nothing unfinished
  journal.append({ type: 'settled', txnId: 'a-sent', outcome: 'voided', postedCents: 0 });
  assert.deepEqual(
    journal.unfinished().map((item) => item.txnId),
    expected.slice(1).map((item) => item.txnId),
  );
});

function deposit(fields: Partial<UnfinishedWithdrawal> & { txnId: string }): UnfinishedWithdrawal {
  return {
    kind: 'deposit',
    username: 'alice',
    amountCents: 4_000,
    holdOutcome: null,
    dispenseStarted: false,
    dispensedCents: null,
    fault: null,
    ...fields,
  };
}

test('planRecovery applies every rule', () => {
  const plan = planRecovery([
    withdrawal({ txnId: 'sent' }),
    withdrawal({ txnId: 'refused', holdOutcome: 'LIMIT_EXCEEDED' }),
    withdrawal({ txnId: 'held', holdOutcome: 'ok' }),
    withdrawal({ txnId: 'interrupted', holdOutcome: 'ok', dispenseStarted: true }),
    withdrawal({ txnId: 'full', holdOutcome: 'ok', dispenseStarted: true, dispensedCents: 2_000 }),
    withdrawal({ txnId: 'partial', holdOutcome: 'ok', dispenseStarted: true, dispensedCents: 500, fault: 'jam' }),
    withdrawal({ txnId: 'zero', holdOutcome: 'ok', dispenseStarted: true, dispensedCents: 0, fault: 'jam' }),
    withdrawal({
      txnId: 'retracted',
      holdOutcome: 'ok',
      dispenseStarted: true,
      dispensedCents: 2_000,
      retracted: true,
    }),
    deposit({ txnId: 'deposit', depositOutcome: null, notes: null }),
    deposit({ txnId: 'escrow-unknown', depositOutcome: null, notes: TWO_TWENTIES }),
    deposit({ txnId: 'escrow-approved', depositOutcome: 'ok', notes: TWO_TWENTIES }),
    deposit({ txnId: 'escrow-declined', depositOutcome: 'LIMIT_EXCEEDED', notes: TWO_TWENTIES }),
  ]);
  assert.deepEqual(plan, [
    { txnId: 'sent', action: 'void', reason: RECOVERY_REASON.HOLD_UNKNOWN },
    { txnId: 'refused', action: 'none', reason: `${RECOVERY_REASON.HOLD_REFUSED} (LIMIT_EXCEEDED)` },
    { txnId: 'held', action: 'void', reason: RECOVERY_REASON.NOT_DISPENSED },
    { txnId: 'interrupted', action: 'void', reason: 'dispense interrupted: count the cassettes' },
    { txnId: 'full', action: 'post', dispensedCents: 2_000 },
    { txnId: 'partial', action: 'post', dispensedCents: 500 },
    { txnId: 'zero', action: 'void', reason: RECOVERY_REASON.DISPENSED_NOTHING },
    // Retracted cash never left: void, even though dispense.result says notes were presented.
    { txnId: 'retracted', action: 'void', reason: RECOVERY_REASON.RETRACTED },
    // A deposit without an answer is asked again under its id; then the escrow follows the answer.
    { txnId: 'deposit', action: 'resolve', username: 'alice', amountCents: 4_000, escrowed: false },
    { txnId: 'escrow-unknown', action: 'resolve', username: 'alice', amountCents: 4_000, escrowed: true },
    { txnId: 'escrow-approved', action: 'store' },
    { txnId: 'escrow-declined', action: 'return' },
  ]);
  assert.deepEqual(planRecovery([]), []);
});

test('an UnfinishedWithdrawal without kind is a withdrawal', () => {
  const { kind: _kind, ...bare } = withdrawal({ txnId: 'bare', holdOutcome: 'ok' });
  assert.deepEqual(planRecovery([bare]), [{ txnId: 'bare', action: 'void', reason: RECOVERY_REASON.NOT_DISPENSED }]);
});

test('after a power cut mid-dispense, the reopened journal plans to post what was dispensed', (t) => {
  const dir = tempDir(t);
  const journal = open(dir);
  journal.append({ type: 'hold.sent', txnId: 'wd-1', username: 'alice', amountCents: 6_000 });
  journal.append({ type: 'hold.result', txnId: 'wd-1', outcome: 'ok' });
  journal.append({ type: 'dispense.started', txnId: 'wd-1', amountCents: 6_000 });
  journal.append({ type: 'dispense.result', txnId: 'wd-1', dispensedCents: 4_000, fault: 'jam' });
  fs.appendFileSync(path.join(dir, JOURNAL_FILE), 'gAAAAAB'); // the settled line, torn by the cut
  assert.deepEqual(planRecovery(open(dir).unfinished()), [{ txnId: 'wd-1', action: 'post', dispensedCents: 4_000 }]);
});
