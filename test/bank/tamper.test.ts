// tlsfuzzer-style conversations against the real bank (HANDSHAKE.md §3-§4, items 1-17): a real
// BankConnection talks to a real bank (LevelDB in a temp dir, loopback TCP) through the
// byte-level proxy of test/helpers/proxy.ts, which flips, truncates, replays, reorders,
// reflects and splices frames. The attacker holds no key. Every case states its expected
// outcome: the bank closes the session (with the close reason it logs), nothing is answered,
// no money moves, and the bank goes on serving clean sessions.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import {
  AUDIT_LOG_FILE,
  auditKeyOf,
  decryptAuditToken,
  loadKeystore,
  revokeKiosk,
  type AuditRecord,
  type BankObserver,
} from '../../bank/index.js';
import type { SecurityEvent, SessionEvent } from '../../bank/observer.js';
import {
  AtmError,
  BankConnection,
  ClientError,
  SecureChannel,
  SessionCloseReason,
  encodeMessage,
  parseResponse,
  type ConnectOptions,
  type Request,
  type Response,
} from '../../protocol/index.js';
import { FRAME_BYTES_MAX } from '../../protocol/frame.js';
import { M1_BYTES, M2_BYTES, M3_BYTES } from '../../protocol/handshake.js';
import { RECORD_OVERHEAD_BYTES, RECORD_TAG_BYTES } from '../../protocol/record.js';
import { TEST_PASSWORD, startTestBank, type TestBank } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { startProxy, type FrameHook, type Proxy, type ProxyFrame, type ProxyLink } from '../helpers/proxy.js';

const FRAME_HEADER_BYTES = 4;
const DEPOSIT_CENTS = 100;
// Frames the kiosk sends, by position: the proxy counts per direction.
const TO_BANK = { m1: 0, m3: 1, login: 2, deposit: 3 } as const;
// Frames the bank sends: m2, then one response per request.
const TO_KIOSK = { m2: 0, loginResponse: 1, depositResponse: 2 } as const;

/** Records how the bank closed each connection, keyed by the remote address it logs. */
class RecordingObserver implements BankObserver {
  readonly closes: { remote: string; reason: string }[] = [];
  readonly opened: string[] = [];
  securityEvents = 0;
  action(): void {
    // not under test
  }
  info(): void {
    // not under test
  }
  session(event: SessionEvent): void {
    if (event.state === 'open') this.opened.push(event.remote);
    else this.closes.push({ remote: event.remote, reason: event.reason ?? '' });
  }
  security(event: SecurityEvent): void {
    this.securityEvents += 1;
    this.closes.push({ remote: event.remote, reason: event.reason });
  }
  closeReasonOf(localPort: number | undefined): string | undefined {
    assert.ok(localPort !== undefined, 'the link never connected to the bank');
    return this.closes.find((close) => close.remote === `127.0.0.1:${localPort}`)?.reason;
  }
  wasOpened(localPort: number | undefined): boolean {
    return this.opened.includes(`127.0.0.1:${localPort}`);
  }
}

interface Env {
  clock: FakeClock;
  observer: RecordingObserver;
  bank: TestBank;
  proxy: Proxy;
  /** What the proxy does to frames of links without a plan of their own; null forwards. */
  plan: FrameHook | null;
  /** Per-link plans, so that conversations can run side by side. */
  plans: Map<ProxyLink, FrameHook>;
  /** Connects one at a time, so the newest link is the one just made. */
  connecting: Promise<unknown>;
}

async function setup(t: TestContext): Promise<Env> {
  const clock = new FakeClock();
  const observer = new RecordingObserver();
  const bank = await startTestBank({ nowMs: clock.nowMs, observer });
  const env: Env = {
    clock,
    observer,
    bank,
    proxy: undefined as unknown as Proxy,
    plan: null,
    plans: new Map(),
    connecting: Promise.resolve(),
  };
  const forward: FrameHook = (frame) => [frame.bytes];
  try {
    env.proxy = await startProxy(bank.host.port, (frame, link) =>
      (env.plans.get(link) ?? env.plan ?? forward)(frame, link),
    );
  } catch (error) {
    await bank.cleanup();
    throw error;
  }
  t.after(async () => {
    await env.proxy.close();
    await bank.cleanup();
  });
  return env;
}

/** A plan that rewrites one frame and passes every other frame on untouched. */
function atFrame(
  direction: ProxyFrame['direction'],
  index: number,
  rewrite: (frame: ProxyFrame, link: ProxyLink) => Buffer[],
): FrameHook {
  return (frame, link) =>
    frame.direction === direction && frame.index === index ? rewrite(frame, link) : [frame.bytes];
}

function connectOptions(env: Env, overrides: Partial<ConnectOptions> = {}): ConnectOptions {
  return {
    host: '127.0.0.1',
    port: env.proxy.port,
    kioskId: env.bank.kiosk.kioskId,
    psk: env.bank.kiosk.psk,
    nowMs: env.clock.nowMs,
    requestTimeoutMs: CLOSE_WAIT_MS,
    ...overrides,
  };
}

/** A session through the proxy; links are made one at a time, so the newest link is ours. */
async function connectViaProxy(
  env: Env,
  overrides: Partial<ConnectOptions> = {},
): Promise<{ connection: BankConnection; link: ProxyLink }> {
  const connected = env.connecting.then(async () => {
    const connection = await BankConnection.connect(connectOptions(env, overrides));
    const link = env.proxy.links.at(-1);
    assert.ok(link !== undefined, 'the session did not go through the proxy');
    return { connection, link };
  });
  env.connecting = connected.catch(() => undefined);
  return connected;
}

async function loginViaProxy(env: Env, username: string): Promise<{ connection: BankConnection; link: ProxyLink }> {
  const session = await connectViaProxy(env);
  const login = await session.connection.request({ op: 'login', username, password: TEST_PASSWORD });
  assert.equal(login.ok, true, `login of ${username} through the proxy`);
  return session;
}

async function register(bank: TestBank, username: string): Promise<void> {
  const connection = await bank.loginAs(username);
  connection.close();
}

/** [DESIGN §4] The truth about money: a fresh, direct (proxy-free) session asks the bank. */
async function balanceOf(bank: TestBank, username: string): Promise<number> {
  const connection = await bank.loginAs(username);
  try {
    const response = await connection.request({ op: 'balance' });
    assert.ok(response.ok, 'balance request failed');
    return response.balanceCents;
  } finally {
    connection.close();
  }
}

/**
 * Every close here follows at once from a frame the bank refuses; a bank that accepted the
 * frame instead would leave the test waiting for its idle deadline, so fail fast instead.
 */
const CLOSE_WAIT_MS = 5_000;
function soon<T>(promise: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`no close within ${CLOSE_WAIT_MS} ms`)), CLOSE_WAIT_MS)),
  );
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

function isClosedError(error: unknown): boolean {
  return error instanceof AtmError && error.code === ClientError.CLOSED;
}

function isHandshakeError(error: unknown): boolean {
  return error instanceof AtmError && error.code === ClientError.HANDSHAKE;
}

/** Length of the record frame that carries this request: len | ver | type | ct | tag. */
function recordFrameBytes(request: Request): number {
  return FRAME_HEADER_BYTES + RECORD_OVERHEAD_BYTES + encodeMessage(request).length;
}

/**
 * [ATM-1.3, ATM-3.3] The close reason a byte flip must cause, from the order of checks:
 * length (before reading), version, MAC (over type and ciphertext, under the implicit seq).
 * A length that grows within the limit makes the bank wait for bytes that never come: the
 * EOF after the frame then closes it as TRUNCATED. A length that shrinks makes it MAC a prefix.
 */
function expectedCloseReason(frame: Buffer, position: number, xor: number): string {
  if (position < FRAME_HEADER_BYTES) {
    const header = Buffer.from(frame.subarray(0, FRAME_HEADER_BYTES));
    header[position] = (header[position] as number) ^ xor;
    const claimedBytes = header.readUInt32BE(0);
    if (claimedBytes < RECORD_OVERHEAD_BYTES || claimedBytes > FRAME_BYTES_MAX) return SessionCloseReason.FRAME_LENGTH;
    return claimedBytes < frame.length - FRAME_HEADER_BYTES ? SessionCloseReason.BAD_MAC : SessionCloseReason.TRUNCATED;
  }
  if (position === FRAME_HEADER_BYTES) return SessionCloseReason.VERSION;
  return SessionCloseReason.BAD_MAC;
}

function txnIdFor(label: string, position: number, xor: number): string {
  return `${label}-${String(position).padStart(4, '0')}-${xor.toString(16).padStart(2, '0')}`;
}

/**
 * One conversation: login, then a deposit whose record the plan mangles. Expected outcome:
 * the deposit request fails with SESSION_CLOSED, the bank answered nothing after the login,
 * and the bank closed the link for `reason`.
 */
async function depositIsRefused(
  env: Env,
  username: string,
  txnId: string,
  plan: FrameHook,
  reason: string,
  label: string,
): Promise<void> {
  const { connection, link } = await connectViaProxy(env);
  env.plans.set(link, plan);
  const login = await connection.request({ op: 'login', username, password: TEST_PASSWORD });
  assert.equal(login.ok, true, `${label}: login`);
  await assert.rejects(
    connection.request({ op: 'deposit', txnId, amountCents: DEPOSIT_CENTS }),
    isClosedError,
    `${label}: the deposit must fail`,
  );
  await soon(link.bankClosed);
  assert.equal(
    link.framesOf('toKiosk').length,
    TO_KIOSK.depositResponse,
    `${label}: the bank must not answer the deposit`,
  );
  assert.equal(env.observer.closeReasonOf(link.bankLocalPort), reason, `${label}: close reason`);
}

/** Sends the mangled frame, then EOF, so a length field that grew cannot stall the bank. */
function sendThenEnd(rewrite: (bytes: Buffer) => Buffer): FrameHook {
  return atFrame('toBank', TO_BANK.deposit, (frame, link) => {
    link.send('toBank', rewrite(Buffer.from(frame.bytes)));
    link.endToBank();
    return [];
  });
}

function readAuditRecords(dataDir: string): AuditRecord[] {
  const key = auditKeyOf(loadKeystore(dataDir));
  const lines = fs
    .readFileSync(path.join(dataDir, AUDIT_LOG_FILE), 'ascii')
    .split('\n')
    .filter((line) => line.length > 0);
  return lines.map((line, index) => {
    const record = decryptAuditToken(key, line);
    assert.ok(record !== null, `audit line ${index + 1} must decrypt`);
    return record;
  });
}

// Conversations run four at a time: each waits mostly on the bank's synced LevelDB writes,
// which group commit then shares.
test(
  '[ATM-3.4] flipping any byte of the deposit record closes the session, moves no money and is audited',
  { concurrency: 4 },
  async (t) => {
    const env = await setup(t);
    const username = 'flip-user';
    await register(env.bank, username);

    // Control: the same conversation untampered deposits, and the frames sit where we tamper.
    const control = await loginViaProxy(env, username);
    const controlTxnId = txnIdFor('ctrl', 0, 0);
    const deposited = await control.connection.request({
      op: 'deposit',
      txnId: controlTxnId,
      amountCents: DEPOSIT_CENTS,
    });
    assert.equal(deposited.ok, true, 'untampered deposit through the proxy');
    control.connection.close();
    const sent = control.link.framesOf('toBank');
    assert.equal(sent[TO_BANK.m1]?.bytes.length, FRAME_HEADER_BYTES + M1_BYTES, 'frame 0 is m1');
    assert.equal(sent[TO_BANK.m3]?.bytes.length, FRAME_HEADER_BYTES + M3_BYTES, 'frame 1 is m3');
    assert.equal(
      sent[TO_BANK.login]?.bytes.length,
      recordFrameBytes({ op: 'login', username, password: TEST_PASSWORD, id: 1 }),
      'frame 2 is the login',
    );
    const depositFrame = sent[TO_BANK.deposit]?.bytes;
    assert.ok(depositFrame !== undefined);
    assert.equal(
      depositFrame.length,
      recordFrameBytes({ op: 'deposit', txnId: controlTxnId, amountCents: DEPOSIT_CENTS, id: 2 }),
      'frame 3 is the deposit',
    );
    assert.equal(await balanceOf(env.bank, username), DEPOSIT_CENTS);

    // Every position with XOR 0x01; 0x80 and 0xff at the header, both ends of ct and of the tag.
    const frameBytes = depositFrame.length;
    const cases: { position: number; xor: number }[] = [];
    for (let position = 0; position < frameBytes; position++) cases.push({ position, xor: 0x01 });
    const tagStart = frameBytes - RECORD_TAG_BYTES;
    const subset = [0, 1, 2, 3, 4, 5, 6, Math.floor((6 + tagStart) / 2), tagStart - 1, tagStart, frameBytes - 1];
    for (const xor of [0x80, 0xff]) for (const position of subset) cases.push({ position, xor });

    const conversations = cases.map(({ position, xor }) => {
      const reason = expectedCloseReason(depositFrame, position, xor);
      return t.test(`byte ${position} ^ 0x${xor.toString(16).padStart(2, '0')} → ${reason}`, async () => {
        const plan = sendThenEnd((bytes) => {
          bytes[position] = (bytes[position] as number) ^ xor;
          return bytes;
        });
        await depositIsRefused(
          env,
          username,
          txnIdFor('flip', position, xor),
          plan,
          reason,
          `byte ${position} ^ ${xor}`,
        );
      });
    });
    await Promise.all(conversations);
    assert.equal(await balanceOf(env.bank, username), DEPOSIT_CENTS, 'no tampered deposit moved money');

    // The bank still serves: a clean deposit through the same proxy goes through.
    const after = await loginViaProxy(env, username);
    const cleanDeposit = await after.connection.request({
      op: 'deposit',
      txnId: txnIdFor('ctrl', 1, 0),
      amountCents: DEPOSIT_CENTS,
    });
    assert.equal(cleanDeposit.ok, true);
    after.connection.close();
    assert.equal(await balanceOf(env.bank, username), 2 * DEPOSIT_CENTS);

    // [DESIGN §4 audit] Security events reach the encrypted audit log (up to the audit rate
    // limit; the clock is frozen, so the bucket never refills): BAD_MAC ones name the kiosk and
    // the logged-in user, and every event is either audited or counted as suppressed.
    await env.bank.host.committer.drain();
    const security = readAuditRecords(env.bank.dataDir).filter((record) => record.action === 'security');
    const badMac = security.filter((record) => record.outcome === SessionCloseReason.BAD_MAC);
    assert.ok(badMac.length > 0, 'BAD_MAC security records in the audit log');
    for (const record of badMac) {
      assert.equal(record.kioskId, env.bank.kiosk.kioskId);
      assert.equal(record.username, username);
    }
    assert.equal(
      security.length + env.bank.host.server.securityEventsSuppressed,
      env.observer.securityEvents,
      'each security event audited or counted',
    );
  },
);

test('[ATM-3.5] a deposit record cut at any point, then EOF, closes as TRUNCATED and moves no money', async (t) => {
  const env = await setup(t);
  const username = 'cut-user';
  await register(env.bank, username);
  const frameBytes = recordFrameBytes({
    op: 'deposit',
    txnId: txnIdFor('cut', 0, 0),
    amountCents: DEPOSIT_CENTS,
    id: 2,
  });
  const cuts = [0, 1, 3, 4, 5, 6, Math.floor(frameBytes / 2), frameBytes - RECORD_TAG_BYTES, frameBytes - 1];
  for (const keptBytes of cuts) {
    await t.test(`first ${keptBytes} of ${frameBytes} bytes, then EOF`, async () => {
      const plan = sendThenEnd((bytes) => bytes.subarray(0, keptBytes));
      await depositIsRefused(
        env,
        username,
        txnIdFor('cut', keptBytes, 0),
        plan,
        SessionCloseReason.TRUNCATED,
        `cut at ${keptBytes}`,
      );
    });
  }
  assert.equal(await balanceOf(env.bank, username), 0);
});

test('[ATM-3.1] a replayed record closes the session; only the original deposit moves money', async (t) => {
  const env = await setup(t);
  const username = 'replay-user';
  await register(env.bank, username);

  await t.test('the deposit record sent twice: the copy fails its MAC under the next seq', async () => {
    const { connection, link } = await loginViaProxy(env, username);
    env.plans.set(
      link,
      atFrame('toBank', TO_BANK.deposit, (frame) => [frame.bytes, frame.bytes]),
    );
    // The first copy is genuine and may be answered or not before the copy kills the session.
    await connection
      .request({ op: 'deposit', txnId: 'replay-twice-01', amountCents: DEPOSIT_CENTS })
      .catch(() => undefined);
    await soon(link.bankClosed);
    assert.equal(env.observer.closeReasonOf(link.bankLocalPort), SessionCloseReason.BAD_MAC);
    assert.equal(await balanceOf(env.bank, username), DEPOSIT_CENTS, 'one deposit, not two');
  });

  await t.test('the login record re-sent after the deposit was answered', async () => {
    const { connection, link } = await loginViaProxy(env, username);
    const loginRecord = link.framesOf('toBank')[TO_BANK.login]?.bytes;
    assert.ok(loginRecord !== undefined);
    env.plans.set(
      link,
      atFrame('toKiosk', TO_KIOSK.depositResponse, (frame, proxyLink) => {
        proxyLink.send('toBank', loginRecord);
        return [frame.bytes];
      }),
    );
    const closed = new Promise<string>((resolve) => connection.onClose((reason) => resolve(reason)));
    const deposit = await connection.request({ op: 'deposit', txnId: 'replay-login-01', amountCents: DEPOSIT_CENTS });
    assert.equal(deposit.ok, true, 'the genuine deposit is answered');
    await soon(link.bankClosed);
    await soon(closed);
    assert.equal(env.observer.closeReasonOf(link.bankLocalPort), SessionCloseReason.BAD_MAC);
    assert.equal(await balanceOf(env.bank, username), 2 * DEPOSIT_CENTS, 'the genuine deposit only');
  });
});

/**
 * A kiosk that pipelines requests (BankConnection keeps one in flight), so that two records
 * are on the wire at once and the proxy can hold one back. It has the keys; the proxy does not.
 */
async function pipeliningKiosk(
  env: Env,
): Promise<{ channel: SecureChannel; link: ProxyLink; next(): Promise<Response>; closed: Promise<string> }> {
  const socket = net.connect({ host: '127.0.0.1', port: env.proxy.port });
  const inbox: Response[] = [];
  const waiting: ((response: Response) => void)[] = [];
  let resolveClosed!: (reason: string) => void;
  const closed = new Promise<string>((resolve) => (resolveClosed = resolve));
  const channel = SecureChannel.connect({
    stream: socket,
    kioskId: env.bank.kiosk.kioskId,
    psk: env.bank.kiosk.psk,
    nowMs: env.clock.nowMs,
    events: {
      onMessage: (plaintext) => {
        const response = parseResponse(plaintext);
        assert.ok(response !== null, 'the bank answers well-formed responses');
        const waiter = waiting.shift();
        if (waiter === undefined) inbox.push(response);
        else waiter(response);
      },
      onClose: (reason) => resolveClosed(reason),
    },
  });
  await channel.opened;
  const link = env.proxy.links.at(-1);
  assert.ok(link !== undefined);
  const next = (): Promise<Response> => {
    const queued = inbox.shift();
    return queued !== undefined ? Promise.resolve(queued) : new Promise((resolve) => waiting.push(resolve));
  };
  return { channel, link, next, closed };
}

test('[ATM-3.1] reordered or dropped records close the session and move no money', async (t) => {
  const env = await setup(t);
  const username = 'order-user';
  await register(env.bank, username);
  const plans: { name: string; plan: FrameHook }[] = [];
  let heldBack: Buffer | null = null;
  plans.push({
    name: 'deposit A held back, deposit B then A',
    plan: (frame) => {
      if (frame.direction === 'toBank' && frame.index === TO_BANK.deposit) {
        heldBack = frame.bytes;
        return [];
      }
      if (frame.direction === 'toBank' && frame.index === TO_BANK.deposit + 1 && heldBack !== null)
        return [frame.bytes, heldBack];
      return [frame.bytes];
    },
  });
  plans.push({ name: 'deposit A dropped, deposit B sent', plan: atFrame('toBank', TO_BANK.deposit, () => []) });
  for (const [index, { name, plan }] of plans.entries()) {
    await t.test(name, async () => {
      const kiosk = await pipeliningKiosk(env);
      kiosk.channel.send(encodeMessage({ op: 'login', username, password: TEST_PASSWORD, id: 1 }));
      assert.equal((await soon(kiosk.next())).ok, true, 'login');
      env.plans.set(kiosk.link, plan);
      kiosk.channel.send(
        encodeMessage({ op: 'deposit', txnId: `order-a-${index}-000`, amountCents: DEPOSIT_CENTS, id: 2 }),
      );
      kiosk.channel.send(
        encodeMessage({ op: 'deposit', txnId: `order-b-${index}-000`, amountCents: 2 * DEPOSIT_CENTS, id: 3 }),
      );
      await soon(kiosk.link.bankClosed);
      await soon(kiosk.closed);
      assert.equal(env.observer.closeReasonOf(kiosk.link.bankLocalPort), SessionCloseReason.BAD_MAC);
      assert.equal(kiosk.link.framesOf('toKiosk').length, TO_KIOSK.depositResponse, 'neither deposit answered');
    });
  }
  assert.equal(await balanceOf(env.bank, username), 0);
});

test('[ATM-3.2] reflected records are refused in both directions', async (t) => {
  const env = await setup(t);
  const username = 'mirror-user';
  await register(env.bank, username);

  await t.test('bank→kiosk record sent back to the bank: the bank closes', async () => {
    env.plan = atFrame('toKiosk', TO_KIOSK.loginResponse, (frame, link) => {
      link.send('toBank', frame.bytes);
      return [frame.bytes];
    });
    const { connection, link } = await loginViaProxy(env, username);
    await assert.rejects(
      connection.request({ op: 'deposit', txnId: 'mirror-bank-01', amountCents: DEPOSIT_CENTS }),
      isClosedError,
    );
    await soon(link.bankClosed);
    env.plan = null;
    assert.equal(env.observer.closeReasonOf(link.bankLocalPort), SessionCloseReason.BAD_MAC);
    assert.equal(link.framesOf('toKiosk').length, TO_KIOSK.depositResponse, 'no answer after the reflection');
  });

  await t.test('kiosk→bank record sent back to the kiosk: the kiosk closes', async () => {
    // The reflected login is k2h seq 0, exactly where the kiosk expects h2k seq 0: only the
    // direction (in the MAC and in the keys) tells them apart.
    env.plan = atFrame('toBank', TO_BANK.login, (frame, link) => {
      link.send('toKiosk', frame.bytes);
      return [frame.bytes];
    });
    const { connection, link } = await connectViaProxy(env);
    const closed = new Promise<string>((resolve) => connection.onClose((reason) => resolve(reason)));
    await assert.rejects(connection.request({ op: 'login', username, password: TEST_PASSWORD }), isClosedError);
    env.plan = null;
    assert.match(await soon(closed), /^BAD_MAC/, 'the kiosk closes for a bad MAC');
    await soon(link.bankClosed);
    assert.equal(connection.isOpen, false);
  });
  assert.equal(await balanceOf(env.bank, username), 0);
});

test('[ATM-3.1] a record spliced from session A into session B of the same kiosk closes B', async (t) => {
  const env = await setup(t);
  const username = 'splice-user';
  await register(env.bank, username);
  const sessionA = await loginViaProxy(env, username);
  const depositA = await sessionA.connection.request({
    op: 'deposit',
    txnId: 'splice-a-0001',
    amountCents: DEPOSIT_CENTS,
  });
  assert.equal(depositA.ok, true);
  sessionA.connection.close();
  const recordA = sessionA.link.framesOf('toBank')[TO_BANK.deposit]?.bytes;
  assert.ok(recordA !== undefined);
  // Same position (k2h seq 1), same kiosk, same PSK: only the per-session keys differ.
  const plan = atFrame('toBank', TO_BANK.deposit, () => [recordA]);
  await depositIsRefused(env, username, 'splice-b-0001', plan, SessionCloseReason.BAD_MAC, 'splice');
  assert.equal(await balanceOf(env.bank, username), DEPOSIT_CENTS, "session A's deposit only");
});

test('[ATM-2.4] a record-shaped frame before m3 closes the connection and no session opens', async (t) => {
  const env = await setup(t);
  const username = 'early-user';
  await register(env.bank, username);
  // Genuine records from an earlier session: a login record and a 34-byte close record.
  const earlier = await loginViaProxy(env, username);
  earlier.connection.close();
  await soon(earlier.link.bankClosed);
  const earlierFrames = earlier.link.framesOf('toBank');
  const loginRecord = earlierFrames[TO_BANK.login]?.bytes;
  const closeRecord = earlierFrames[TO_BANK.login + 1]?.bytes;
  assert.ok(loginRecord !== undefined && closeRecord !== undefined);
  assert.equal(
    closeRecord.length,
    FRAME_HEADER_BYTES + RECORD_OVERHEAD_BYTES,
    'the close record is the smallest record',
  );

  const cases = [
    { name: 'a login record', record: loginRecord, reason: SessionCloseReason.FRAME_LENGTH },
    { name: 'a close record of m3 length', record: closeRecord, reason: SessionCloseReason.HANDSHAKE },
  ];
  for (const { name, record, reason } of cases) {
    await t.test(`${name} before m3 → ${reason}`, async () => {
      env.plan = atFrame('toBank', TO_BANK.m3, (frame) => [record, frame.bytes]);
      // The kiosk believes the session open once it has sent m3; the bank never agrees.
      const { connection, link } = await connectViaProxy(env);
      await assert.rejects(connection.request({ op: 'login', username, password: TEST_PASSWORD }), isClosedError);
      await soon(link.bankClosed);
      env.plan = null;
      assert.equal(env.observer.closeReasonOf(link.bankLocalPort), reason);
      assert.equal(env.observer.wasOpened(link.bankLocalPort), false, 'the bank never opened the session');
      assert.equal(link.framesOf('toKiosk').length, 1, 'only m2 came back');
    });
  }
});

test('[ATM-2.4] wrong PSK, unknown kiosk and revoked kiosk get the same silent close', async (t) => {
  const env = await setup(t);
  const revoked = env.bank.addKiosk('kiosk-rev');
  const control = await connectViaProxy(env, { kioskId: revoked.kioskId, psk: revoked.psk });
  control.connection.close();
  revokeKiosk(env.bank.dataDir, revoked.kioskId); // while the bank runs: it re-reads the keystore

  const otherPsk = Buffer.alloc(32, 0x5a);
  const cases = [
    { name: 'wrong PSK for a valid kiosk id', kioskId: env.bank.kiosk.kioskId, psk: otherPsk },
    { name: 'unknown kiosk id', kioskId: 'kiosk-99', psk: otherPsk },
    { name: 'revoked kiosk with its real PSK', kioskId: revoked.kioskId, psk: revoked.psk },
  ];
  for (const { name, kioskId, psk } of cases) {
    await t.test(`${name}: HANDSHAKE_FAILED, nothing sent back`, async () => {
      const linksBefore = env.proxy.links.length;
      await assert.rejects(BankConnection.connect(connectOptions(env, { kioskId, psk })), isHandshakeError);
      const link = env.proxy.links[linksBefore];
      assert.ok(link !== undefined);
      await soon(link.bankClosed);
      assert.equal(link.framesOf('toBank').length, 1, 'the kiosk sent m1');
      assert.equal(link.framesOf('toKiosk').length, 0, 'the bank sent nothing back');
      assert.equal(env.observer.closeReasonOf(link.bankLocalPort), SessionCloseReason.HANDSHAKE);
    });
  }
  // The real kiosk still connects.
  const ok = await connectViaProxy(env);
  assert.equal(ok.connection.isOpen, true);
  ok.connection.close();
});

/** A raw TCP peer that writes recorded bytes and collects whatever comes back. */
async function rawPeer(port: number): Promise<{
  socket: net.Socket;
  localPort: number;
  received: () => Buffer;
  closed: Promise<void>;
  data: (bytes: number) => Promise<void>;
}> {
  const socket = net.connect({ host: '127.0.0.1', port });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const localPort = socket.localPort;
  assert.ok(localPort !== undefined);
  const chunks: Buffer[] = [];
  const waiters: { bytes: number; resolve: () => void }[] = [];
  const received = (): Buffer => Buffer.concat(chunks);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    for (const waiter of waiters.filter((w) => received().length >= w.bytes)) waiter.resolve();
  });
  // Resolves once `bytes` have arrived or the bank closed the connection, whichever is first.
  const data = (bytes: number): Promise<void> =>
    Promise.race([
      closed,
      new Promise<void>((resolve) => (received().length >= bytes ? resolve() : waiters.push({ bytes, resolve }))),
    ]);
  return { socket, localPort, received, closed, data };
}

test('[ATM-2.4.4] a replayed m1 is refused, and after a restart it still cannot open a session', async (t) => {
  const env = await setup(t);
  const username = 'replay-m1';
  await register(env.bank, username);
  const recorded = await loginViaProxy(env, username);
  recorded.connection.close();
  const frames = recorded.link.framesOf('toBank');
  const [m1, m3, loginRecord] = [frames[TO_BANK.m1]?.bytes, frames[TO_BANK.m3]?.bytes, frames[TO_BANK.login]?.bytes];
  assert.ok(m1 !== undefined && m3 !== undefined && loginRecord !== undefined);

  await t.test('inside the window: the (kid, Nc) cache refuses it without an m2', async () => {
    const peer = await rawPeer(env.bank.host.port);
    peer.socket.write(m1);
    await soon(peer.closed);
    assert.equal(peer.received().length, 0, 'no m2 for a replayed m1');
    assert.equal(env.observer.closeReasonOf(peer.localPort), SessionCloseReason.REPLAYED_HELLO);
  });

  await t.test(
    'after a bank restart (cache empty): m2 may come, but the replayed m3 and records open nothing',
    async () => {
      await env.bank.restart();
      const opensBefore = env.observer.opened.length;
      const peer = await rawPeer(env.bank.host.port);
      peer.socket.write(m1);
      await peer.data(FRAME_HEADER_BYTES + M2_BYTES);
      const m2Bytes = peer.received().length;
      assert.ok(m2Bytes === 0 || m2Bytes === FRAME_HEADER_BYTES + M2_BYTES, `got ${m2Bytes} bytes`);
      // The m2 is fresh (new Ns and Es): the recorded m3 answers a different transcript.
      peer.socket.write(Buffer.concat([m3, loginRecord]));
      await soon(peer.closed);
      assert.equal(peer.received().length, m2Bytes, 'nothing after m2: the login record got no answer');
      assert.equal(env.observer.opened.length, opensBefore, 'no session opened');
      assert.equal(
        env.observer.closeReasonOf(peer.localPort),
        m2Bytes === 0 ? SessionCloseReason.REPLAYED_HELLO : SessionCloseReason.HANDSHAKE,
      );
      // The restarted bank still serves: a clean session works.
      assert.equal(await balanceOf(env.bank, username), 0);
    },
  );
});
