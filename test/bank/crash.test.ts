// Crash safety of the bank host as a real process (DESIGN §4 "Atomicity" and "Audit log"):
// a stream of 1.00 deposits with distinct transaction ids runs against `atm bank`, which is
// SIGKILLed mid-stream at different moments; after each restart on the same data dir:
//   - `atm audit verify` passes (restart repaired the log from the ledger),
//   - every acknowledged deposit is in `atm audit show --json` as a deposit ok,
//   - no deposit is there that was never sent, and none twice,
//   - the balance equals 1.00 × the number of deposit records, which is >= the acknowledged count.
// Then torn and lost audit.log tails are simulated while the bank is stopped.
// The bank is a child process on the real clock (an injected FakeClock cannot reach it), so
// the test's sessions use the real clock too.
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection } from '../../protocol/client.js';
import { auditShowRecords, runAtm, startBankProcess, tempDir, type BankProcess } from '../helpers/cli.js';
import { startProxy } from '../helpers/proxy.js';

const KIOSK_ID = 'kiosk-01';
const USERNAME = 'crashtest';
const PASSWORD = 'correct horse battery';
const DEPOSIT_CENTS = 100;

interface AuditRecordJson {
  seq: number;
  action: string;
  outcome: string;
  txnId?: string;
  amountCents?: number;
}

describe('atm bank crash safety', { concurrency: 1, timeout: 60_000 }, () => {
  let root: { dir: string; remove: () => void };
  let dataDir: string;
  let psk: Buffer;
  let bank: BankProcess;
  let primary: BankConnection;
  const banks: BankProcess[] = [];
  const sent = new Set<string>();
  const acked = new Set<string>();
  let txnSerial = 0;

  const nextTxnId = (): string => `crash-${String(txnSerial++).padStart(6, '0')}`;
  const auditLogPath = (): string => path.join(dataDir, 'audit.log');

  const startBank = async (): Promise<void> => {
    bank = await startBankProcess(dataDir);
    banks.push(bank);
  };
  const connect = (port = bank.port): Promise<BankConnection> =>
    BankConnection.connect({ host: '127.0.0.1', port, kioskId: KIOSK_ID, psk, requestTimeoutMs: 10_000 });
  const loggedIn = async (port = bank.port): Promise<BankConnection> => {
    const connection = await connect(port);
    const login = await connection.request({ op: 'login', username: USERNAME, password: PASSWORD });
    assert.ok(login.ok, `login: ${JSON.stringify(login)}`);
    return connection;
  };
  /** Restarts the bank on the same data dir and logs the primary session in again. */
  const restart = async (): Promise<void> => {
    await startBank();
    primary = await loggedIn();
  };

  /** Verify, show and balance after a restart: the crash lost nothing acknowledged. */
  const checkNothingAcknowledgedIsLost = async (
    t: TestContext,
  ): Promise<{ records: number; deposits: Set<string> }> => {
    const verify = await runAtm(['audit', 'verify', '--data', dataDir]);
    assert.equal(verify.code, 0, `audit verify after restart: ${verify.stdout}${verify.stderr}`);
    const count = /^OK (\d+) records$/.exec(verify.stdout.trim());
    assert.ok(count !== null, verify.stdout);
    const show = await runAtm(['audit', 'show', '--data', dataDir, '--json']);
    assert.equal(show.code, 0, show.stderr);
    const records = auditShowRecords<AuditRecordJson>(show.stdout);
    assert.equal(records.length, Number(count[1]));
    const depositIds = records
      .filter((record) => record.action === 'deposit' && record.outcome === 'ok')
      .map((record) => record.txnId ?? '');
    const deposits = new Set(depositIds);
    assert.equal(deposits.size, depositIds.length, 'no deposit is recorded twice');
    for (const txnId of deposits) assert.ok(sent.has(txnId), `deposit ${txnId} in the log was never sent`);
    const missing = [...acked].filter((txnId) => !deposits.has(txnId));
    assert.deepEqual(missing, [], 'every acknowledged deposit is in the audit log');
    const balance = await primary.request({ op: 'balance' });
    assert.ok(balance.ok);
    // [DESIGN §4] the balance change and its audit record are one atomic batch.
    assert.equal(balance.balanceCents, deposits.size * DEPOSIT_CENTS, 'balance = deposit records × 1.00');
    assert.ok(deposits.size >= acked.size);
    t.diagnostic(
      `sent ${sent.size}, acknowledged ${acked.size}, in the log ${deposits.size}; restart repair: ${/audit log repaired: (\d+)/.exec(bank.stdout())?.[1] ?? 0} record(s)`,
    );
    return { records: records.length, deposits };
  };

  /**
   * Deposits 1.00 at a time on each of the logged-in sessions concurrently until
   * `acksBeforeKill` are acknowledged, then calls `kill` with the txn id just sent (in flight)
   * and the acknowledged count, and waits until the bank has died.
   */
  const depositUntilKilled = async (
    connections: BankConnection[],
    acksBeforeKill: number,
    kill: (inFlightTxnId: string, acks: number) => void,
  ): Promise<number> => {
    let acks = 0;
    let killed = false;
    await Promise.all(
      connections.map(async (connection) => {
        while (!killed) {
          const txnId = nextTxnId();
          sent.add(txnId);
          const pending = connection.request({ op: 'deposit', txnId, amountCents: DEPOSIT_CENTS });
          // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- another connection may have killed it; set by a callback while awaiting; TypeScript keeps the narrowing (microsoft/TypeScript#9998)
          if (acks >= acksBeforeKill && !killed) {
            killed = true;
            kill(txnId, acks);
          }
          const response = await pending.catch(() => null);
          if (response === null) return; // the bank died with this request in flight
          assert.ok(response.ok, `deposit ${txnId}: ${JSON.stringify(response)}`);
          acked.add(txnId);
          acks += 1;
        }
      }),
    );
    const exit = await bank.exited;
    assert.equal(exit.signal, 'SIGKILL');
    return acks;
  };

  before(async () => {
    root = tempDir('atm-crash-');
    dataDir = path.join(root.dir, 'data');
    initKeystore(dataDir);
    psk = Buffer.from(addKiosk(dataDir, KIOSK_ID, path.join(root.dir, 'kiosk.key')).psk, 'hex');
    await startBank();
    const connection = await connect();
    const registered = await connection.request({ op: 'register', username: USERNAME, password: PASSWORD });
    assert.ok(registered.ok);
    connection.close();
    primary = await loggedIn();
  });
  after(async () => {
    try {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      primary?.close();
    } catch {
      // already closed with its bank
    }
    for (const running of banks) await running.kill();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    root?.remove();
  });

  test('SIGKILL right after a deposit is sent, at 50 acknowledged: restart loses nothing acknowledged', async (t) => {
    const acks = await depositUntilKilled([primary], 50, () => void bank.kill());
    assert.ok(acks >= 50);
    await restart();
    const { deposits } = await checkNothingAcknowledgedIsLost(t);
    assert.ok(deposits.size >= 50);
  });

  test('SIGKILL after the bank committed a deposit whose answer never reached the kiosk: the deposit survives the crash', async (t) => {
    // A byte-level proxy lets the test hold back the bank's answers from one moment on.
    let holdAnswers = false;
    const proxy = await startProxy(bank.port, (frame) =>
      holdAnswers && frame.direction === 'toKiosk' ? [] : [frame.bytes],
    );
    t.after(() => proxy.close());
    const viaProxy = await loggedIn(proxy.port);
    let depositsLogged = 0;
    let target = Number.POSITIVE_INFINITY;
    let committedTxnId = '';
    // The bank logs an action only after its batch is durable, and before it answers.
    bank.onLine((line) => {
      if (!line.includes('] deposit ok user=')) return;
      depositsLogged += 1;
      if (depositsLogged === target) void bank.kill();
    });
    const acks = await depositUntilKilled([viaProxy], 20, (txnId, acksSoFar) => {
      holdAnswers = true;
      committedTxnId = txnId;
      // One session, one request at a time: this bank has logged exactly the acknowledged
      // deposits so far, so the next deposit line is the in-flight one's.
      target = acksSoFar + 1;
      if (depositsLogged >= target) void bank.kill();
    });
    assert.equal(acks, 20);
    assert.ok(!acked.has(committedTxnId), 'the kiosk never saw this answer');
    await restart();
    const { deposits } = await checkNothingAcknowledgedIsLost(t);
    assert.ok(deposits.has(committedTxnId), 'a deposit committed before the crash is kept although never acknowledged');
  });

  test('SIGKILL with three sessions depositing at once (group commits in flight), at 60 acknowledged: restart loses nothing acknowledged', async (t) => {
    const acks = await depositUntilKilled([primary, await loggedIn(), await loggedIn()], 60, () => void bank.kill());
    assert.ok(acks >= 60);
    await restart();
    await checkNothingAcknowledgedIsLost(t);
  });

  test('a torn audit.log write (half a token, no newline) fails verify, and restart repairs it', async (t) => {
    primary.close();
    assert.deepEqual(await bank.stop(), { code: 0, signal: null });
    const content = fs.readFileSync(auditLogPath(), 'ascii');
    const lines = content.trimEnd().split('\n');
    const half = (lines.at(-1) as string).slice(0, Math.floor((lines.at(-1) as string).length / 2));
    fs.appendFileSync(auditLogPath(), half);
    const torn = await runAtm(['audit', 'verify', '--data', dataDir]);
    assert.equal(torn.code, 1);
    assert.match(torn.stdout, new RegExp(`^FAILED at record ${lines.length + 1}: last line is incomplete`));

    await restart();
    assert.equal(
      fs.readFileSync(auditLogPath(), 'ascii').slice(0, content.length),
      content,
      'the complete lines are kept as they were',
    );
    const { records } = await checkNothingAcknowledgedIsLost(t);
    assert.equal(records, lines.length + 1, 'the torn line is dropped, nothing else (+1: the new login)');
  });

  test('an audit.log missing its last record (lost from the page cache) is restored from the ledger at restart', async (t) => {
    primary.close();
    assert.deepEqual(await bank.stop(), { code: 0, signal: null });
    const lines = fs.readFileSync(auditLogPath(), 'ascii').trimEnd().split('\n');
    const lost = lines.at(-1) as string;
    fs.writeFileSync(auditLogPath(), `${lines.slice(0, -1).join('\n')}\n`);
    const short = await runAtm(['audit', 'verify', '--data', dataDir]);
    assert.equal(short.code, 1, short.stdout);
    assert.match(short.stdout, new RegExp(`^FAILED at record ${lines.length}: log truncated`));

    await restart();
    assert.match(bank.stdout(), /audit log repaired: 1 record\(s\) restored from the ledger/);
    const restored = fs.readFileSync(auditLogPath(), 'ascii').trimEnd().split('\n');
    assert.equal(restored[lines.length - 1], lost, 'the very token that was lost comes back');
    await checkNothingAcknowledgedIsLost(t);
  });
});
