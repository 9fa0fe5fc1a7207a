// Resource exhaustion against the real bank (HANDSHAKE.md §4 items 4, 22-24; DESIGN §3-§4):
// half-open floods, hostile frame lengths, slowloris peers, handshake floods and the
// per-kiosk session cap. The bank runs with short deadlines (handshake 500 ms, record read
// 300 ms) so that the deadline cases cost well under a second each.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import type { BankObserver } from '../../bank/index.js';
import type { SecurityEvent, SessionEvent } from '../../bank/observer.js';
import type { ServerLimits } from '../../bank/server.js';
import { AtmError, ClientError, SecureChannel, SessionCloseReason, type BankConnection } from '../../protocol/index.js';
import { FRAME_BYTES_MAX } from '../../protocol/frame.js';
import { M1_BYTES, kioskStart } from '../../protocol/handshake.js';
import { RECORD_OVERHEAD_BYTES } from '../../protocol/record.js';
import { startTestBank, type TestBank } from '../helpers/bank.js';
import { FakeClock } from '../helpers/clock.js';
import { waitUntil } from '../helpers/wait.js';

const HANDSHAKE_TIMEOUT_MS = 500;
const RECORD_READ_TIMEOUT_MS = 300;
const PENDING_HANDSHAKES_MAX = 256; // DEFAULT_SERVER_LIMITS, restated: the test checks the default
const HALF_OPEN_CONNECTIONS = 1_000;
const HALF_OPEN_BATCH = 250; // under the listen backlog (511), and past the cap within two batches

/** Records how the bank closed each connection, keyed by the remote address it logs. */
class RecordingObserver implements BankObserver {
  readonly closes: { remote: string; reason: string }[] = [];
  action(): void {
    // not under test
  }
  info(): void {
    // not under test
  }
  session(event: SessionEvent): void {
    if (event.state === 'closed') this.closes.push({ remote: event.remote, reason: event.reason ?? '' });
  }
  security(event: SecurityEvent): void {
    this.closes.push({ remote: event.remote, reason: event.reason });
  }
  closeReasonOf(localPort: number): string | undefined {
    return this.closes.find((close) => close.remote === `127.0.0.1:${localPort}`)?.reason;
  }
}

interface Env {
  clock: FakeClock;
  observer: RecordingObserver;
  bank: TestBank;
}

async function setup(t: TestContext, serverLimits?: Partial<ServerLimits>): Promise<Env> {
  const clock = new FakeClock();
  const observer = new RecordingObserver();
  const bank = await startTestBank({
    nowMs: clock.nowMs,
    observer,
    timeouts: { handshakeTimeoutMs: HANDSHAKE_TIMEOUT_MS, recordReadTimeoutMs: RECORD_READ_TIMEOUT_MS },
    ...(serverLimits === undefined ? {} : { serverLimits }),
  });
  t.after(() => bank.cleanup());
  return { clock, observer, bank };
}

interface RawPeer {
  socket: net.Socket;
  localPort: number;
  openedMs: number;
  /** Resolves with the time the bank's close reached us. */
  closed: Promise<number>;
  isClosed: () => boolean;
  received: () => number;
}

async function rawPeer(t: TestContext, port: number): Promise<RawPeer> {
  const socket = net.connect({ host: '127.0.0.1', port });
  t.after(() => socket.destroy());
  socket.on('error', () => undefined);
  let receivedBytes = 0;
  socket.on('data', (chunk: Buffer) => (receivedBytes += chunk.length));
  let isClosed = false;
  const closed = new Promise<number>((resolve) =>
    socket.once('close', () => {
      isClosed = true;
      resolve(performance.now());
    }),
  );
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  assert.ok(socket.localPort !== undefined);
  return {
    socket,
    localPort: socket.localPort,
    openedMs: performance.now(),
    closed,
    isClosed: () => isClosed,
    received: () => receivedBytes,
  };
}

/** A kiosk with the keys, on a raw socket, so a test can write bytes past the record layer. */
async function openSession(
  t: TestContext,
  env: Env,
): Promise<{ socket: net.Socket; localPort: number; channel: SecureChannel; closed: Promise<number> }> {
  const socket = net.connect({ host: '127.0.0.1', port: env.bank.host.port });
  t.after(() => socket.destroy());
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  const channel = SecureChannel.connect({
    stream: socket,
    kioskId: env.bank.kiosk.kioskId,
    psk: env.bank.kiosk.psk,
    nowMs: env.clock.nowMs,
  });
  await channel.opened;
  assert.ok(socket.localPort !== undefined);
  return { socket, localPort: socket.localPort, channel, closed };
}

function frameHeader(bodyBytes: number): Buffer {
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bodyBytes);
  return header;
}

/** Polls a condition the bank reaches on its own (no clock to drive); fails after timeoutMs. */
/** A condition the bank reaches on its own (no clock to drive). */
const until = (condition: () => boolean, timeoutMs: number, what: string): Promise<void> =>
  waitUntil(condition, what, timeoutMs);

/** Rejects if the promise has not settled within ms: a refused close must not hang the test. */
function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>(
    (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)),
  );
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

function isHandshakeError(error: unknown): boolean {
  return error instanceof AtmError && error.code === ClientError.HANDSHAKE;
}

test('[DESIGN §3] 1,000 half-open connections: pending handshakes stay capped, a kiosk still deposits, the bank closes every one', async (t) => {
  const env = await setup(t);
  const server = env.bank.host.server;
  const peers: (RawPeer & { sentByte: boolean })[] = [];
  let pendingMax = 0;
  for (let opened = 0; opened < HALF_OPEN_CONNECTIONS; opened += HALF_OPEN_BATCH) {
    const batch = await Promise.all(Array.from({ length: HALF_OPEN_BATCH }, () => rawPeer(t, env.bank.host.port)));
    batch.forEach((peer, index) => {
      const sentByte = index % 2 === 1; // half stay silent, half start a frame and stall
      if (sentByte) peer.socket.write(Buffer.from([0]));
      peers.push({ ...peer, sentByte });
    });
    // The kernel completes a connect before the bank accepts it: wait until the bank has taken
    // the whole batch (each socket is either tracked by the bank or already closed by it).
    const accepted = (): number => server.stats.connections + peers.filter((peer) => peer.isClosed()).length;
    await until(() => accepted() === peers.length, 5_000, 'the bank to accept the batch');
    pendingMax = Math.max(pendingMax, server.stats.pending);
    // [ATM-2.4] The cap holds at every moment: the oldest pending handshake is evicted first.
    assert.ok(server.stats.pending <= PENDING_HANDSHAKES_MAX, `pending ${server.stats.pending} after ${peers.length}`);
  }

  // While the flood is still open, a real kiosk registers, logs in and deposits.
  const kiosk = await env.bank.loginAs('dos-user');
  const deposit = await kiosk.request({ op: 'deposit', txnId: 'dos-deposit-01', amountCents: 2_500 });
  assert.ok(deposit.ok && deposit.balanceCents === 2_500, 'deposit during the flood');
  assert.ok(server.stats.pending <= PENDING_HANDSHAKES_MAX);

  // Every half-open socket is closed by the bank: evicted, or at its handshake/read deadline.
  const closedAt = await within(Promise.all(peers.map((peer) => peer.closed)), 10_000, 'closing the half-open sockets');
  const lifetimes = peers.map((peer, index) => (closedAt[index] as number) - peer.openedMs);
  // A silent socket can only go early by eviction: its only deadline is the handshake's.
  const evicted = peers.filter(
    (peer, index) => !peer.sentByte && (lifetimes[index] as number) < HANDSHAKE_TIMEOUT_MS - 20,
  ).length;
  assert.equal(pendingMax, PENDING_HANDSHAKES_MAX, 'the flood filled the pending-handshake table');
  assert.ok(evicted > 0, 'some silent sockets were evicted before their deadline');
  assert.ok(
    Math.max(...lifetimes) < HANDSHAKE_TIMEOUT_MS + 1_500,
    `slowest close after ${Math.round(Math.max(...lifetimes))} ms`,
  );
  assert.ok(
    peers.every((peer) => peer.received() === 0),
    'the bank never answered a half-open socket',
  );
  t.diagnostic(`pending peak ${pendingMax}, silent sockets evicted early ${evicted}`);

  await until(() => server.stats.pending === 0, 2_000, 'no pending handshakes');
  assert.equal(server.stats.connections, 1, 'only the kiosk session is left');
  kiosk.close();
  await until(() => server.stats.connections === 0, 2_000, 'the kiosk session to close');
});

test('[ATM-1.3] a hostile frame length closes the connection at once, before any body is buffered', async (t) => {
  const env = await setup(t);
  const lengths = [FRAME_BYTES_MAX + 1, 0xffffffff, 0, RECORD_OVERHEAD_BYTES - 1];
  // As the first frame: m1 must be exactly M1_BYTES. Only the 4-byte header is sent, so a
  // bank that waited for the body would hit the read deadline (TIMEOUT), not FRAME_LENGTH.
  const firstFrames = lengths.concat([M1_BYTES - 1, M1_BYTES + 1]).map(async (bodyBytes) => {
    const peer = await rawPeer(t, env.bank.host.port);
    peer.socket.write(frameHeader(bodyBytes));
    await within(peer.closed, RECORD_READ_TIMEOUT_MS, `first frame of ${bodyBytes} bytes`);
    assert.equal(
      env.observer.closeReasonOf(peer.localPort),
      SessionCloseReason.FRAME_LENGTH,
      `first frame of ${bodyBytes} bytes`,
    );
    assert.equal(peer.received(), 0);
  });
  // As a record after a completed handshake: records are 34..16384 bytes.
  const records = lengths.map(async (bodyBytes) => {
    const session = await openSession(t, env);
    session.socket.write(frameHeader(bodyBytes));
    await within(session.closed, RECORD_READ_TIMEOUT_MS, `record of ${bodyBytes} bytes`);
    assert.equal(
      env.observer.closeReasonOf(session.localPort),
      SessionCloseReason.FRAME_LENGTH,
      `record of ${bodyBytes} bytes`,
    );
  });
  // The limits themselves are allowed: the bank waits for the body, then its read deadline ends it.
  const boundaries = [FRAME_BYTES_MAX, RECORD_OVERHEAD_BYTES].map(async (bodyBytes) => {
    const session = await openSession(t, env);
    const startedMs = performance.now();
    session.socket.write(frameHeader(bodyBytes));
    const closedMs = await within(session.closed, RECORD_READ_TIMEOUT_MS + 1_000, `record of ${bodyBytes} bytes`);
    assert.ok(closedMs - startedMs >= RECORD_READ_TIMEOUT_MS - 20, `record of ${bodyBytes} bytes waited for its body`);
    assert.equal(
      env.observer.closeReasonOf(session.localPort),
      SessionCloseReason.TIMEOUT,
      `record of ${bodyBytes} bytes`,
    );
  });
  await Promise.all([...firstFrames, ...records, ...boundaries]);
  // The bank still serves.
  const kiosk = await env.bank.connect();
  assert.equal((await kiosk.request({ op: 'ping' })).ok, true);
  kiosk.close();
});

/** Writes one byte every intervalMs until the bank closes the socket; returns bytes written. */
async function trickle(
  socket: net.Socket,
  bytes: Buffer,
  intervalMs: number,
  closed: Promise<number>,
): Promise<number> {
  let written = 0;
  const timer = setInterval(() => {
    if (written < bytes.length && !socket.destroyed) socket.write(bytes.subarray(written, ++written));
  }, intervalMs);
  try {
    await within(closed, 3_000, 'slowloris close');
  } finally {
    clearInterval(timer);
  }
  return written;
}

test('[ATM-2.4.6] a slowloris peer sending 1 byte every 100 ms is closed by its deadline', async (t) => {
  const env = await setup(t);
  await t.test(
    "during the handshake: the first frame's read deadline, at the latest the handshake deadline",
    async () => {
      const peer = await rawPeer(t, env.bank.host.port);
      // A plausible m1 header, then the start of a body that never completes in time.
      const bytes = Buffer.concat([frameHeader(M1_BYTES), Buffer.alloc(M1_BYTES, 0x02)]);
      const written = await trickle(peer.socket, bytes, 100, peer.closed);
      const lifetimeMs = (await peer.closed) - peer.openedMs;
      // The first byte goes out after 100 ms; neither deadline is pushed back by the trickle.
      assert.ok(
        lifetimeMs >= RECORD_READ_TIMEOUT_MS && lifetimeMs < HANDSHAKE_TIMEOUT_MS + 300,
        `closed after ${Math.round(lifetimeMs)} ms`,
      );
      assert.ok(written <= HANDSHAKE_TIMEOUT_MS / 100, `${written} bytes trickled`);
      assert.equal(peer.received(), 0);
    },
  );
  await t.test('inside a session: the record read deadline, counted from the frame start', async () => {
    const session = await openSession(t, env);
    const startedMs = performance.now();
    const bytes = Buffer.concat([frameHeader(100), Buffer.alloc(100)]);
    const written = await trickle(session.socket, bytes, 100, session.closed);
    const lifetimeMs = (await session.closed) - startedMs;
    assert.ok(lifetimeMs < RECORD_READ_TIMEOUT_MS + 300, `closed after ${Math.round(lifetimeMs)} ms`);
    assert.ok(written <= 5, `${written} bytes trickled`);
    assert.equal(env.observer.closeReasonOf(session.localPort), SessionCloseReason.TIMEOUT);
  });
});

test('[ATM-2.4.5] a handshake flood for one kiosk id is rate limited; other kiosks still connect', async (t) => {
  const burst = 5;
  const env = await setup(t, {
    handshakesPerSecondPerKiosk: 5,
    handshakeBurstPerKiosk: burst,
    sessionsPerKioskMax: 64,
  });
  const other = env.bank.addKiosk('kiosk-02');
  const attempts = await Promise.allSettled(Array.from({ length: 20 }, () => env.bank.connect()));
  const admitted = attempts.flatMap((attempt) => (attempt.status === 'fulfilled' ? [attempt.value] : []));
  const refused = attempts.flatMap((attempt) => (attempt.status === 'rejected' ? [attempt.reason as unknown] : []));
  // The clock is frozen, so the bucket never refills: exactly the burst gets through.
  assert.equal(admitted.length, burst);
  assert.ok(refused.every(isHandshakeError), 'the rest fail their handshake');
  assert.equal(
    env.observer.closes.filter((close) => close.reason === SessionCloseReason.RATE_LIMITED).length,
    20 - burst,
  );
  // Another kiosk id is not affected by kiosk-01's flood.
  const neighbour = await env.bank.connect({ kioskId: other.kioskId, psk: other.psk });
  assert.equal((await neighbour.request({ op: 'ping' })).ok, true);
  // A rate, not a ban: one second later kiosk-01 connects again.
  await assert.rejects(env.bank.connect(), isHandshakeError);
  env.clock.advance(1_000);
  const later = await env.bank.connect();
  assert.equal(later.isOpen, true);
  for (const connection of [...admitted, neighbour, later]) connection.close();
});

test('[DESIGN §4] sessionsPerKioskMax: the session past the cap is refused until one closes', async (t) => {
  const sessionsMax = 3;
  const env = await setup(t, {
    sessionsPerKioskMax: sessionsMax,
    handshakesPerSecondPerKiosk: 10_000,
    handshakeBurstPerKiosk: 10_000,
  });
  const other = env.bank.addKiosk('kiosk-02');
  const sessions: BankConnection[] = [];
  for (let index = 0; index < sessionsMax; index++) sessions.push(await env.bank.connect());
  await assert.rejects(env.bank.connect(), isHandshakeError, 'session N+1 refused');
  assert.equal(env.observer.closes.filter((close) => close.reason === SessionCloseReason.RATE_LIMITED).length, 1);
  // The cap is per kiosk id.
  const neighbour = await env.bank.connect({ kioskId: other.kioskId, psk: other.psk });
  // Closing one session frees its slot.
  sessions.shift()?.close();
  await until(() => env.bank.host.server.stats.connections === sessionsMax, 2_000, 'the closed session to leave');
  const replacement = await env.bank.connect();
  assert.equal(replacement.isOpen, true);
  for (const connection of [...sessions, neighbour, replacement]) connection.close();
});

test('[DESIGN §3] a handshake whose hello verified is never evicted by strangers flooding the pending table', async (t) => {
  const pendingMax = 4;
  const env = await setup(t, { pendingHandshakesMax: pendingMax });
  // A kiosk that sent a valid m1 and (slowly) has yet to send m3.
  const honest = await rawPeer(t, env.bank.host.port);
  const { m1 } = kioskStart({
    kioskId: env.bank.kiosk.kioskId,
    psk: env.bank.kiosk.psk,
    nowMs: env.clock.nowMs(),
    randomBytes: (bytes) => crypto.randomBytes(bytes),
  });
  honest.socket.write(Buffer.concat([frameHeader(m1.length), m1]));
  await until(() => honest.received() > 0, 2_000, 'the bank to answer m1 with m2');
  // Strangers, three times the table: each newcomer evicts the oldest stranger, never the kiosk.
  const strangers = await Promise.all(Array.from({ length: 3 * pendingMax }, () => rawPeer(t, env.bank.host.port)));
  await until(
    () => strangers.filter((peer) => peer.isClosed()).length >= 2 * pendingMax,
    5_000,
    'strangers to be evicted',
  );
  assert.equal(honest.isClosed(), false, 'the verified handshake is still there');
  // The table stayed at its cap: the kiosk's verified handshake did not make room for strangers.
  assert.ok(env.bank.host.server.stats.pending <= pendingMax, `pending ${env.bank.host.server.stats.pending}`);
});
