// A load worker: a thread of its own that opens its share of the bench's sessions and drives
// them, so the load generator's crypto does not share an event loop with the measurements of
// other sessions (and never with the bank, which runs in its own process). Messages: see
// load-protocol.ts. Latencies are kept in growable Float64Arrays and handed over, not copied.
import crypto from 'node:crypto';
import { parentPort } from 'node:worker_threads';
import { BankConnection } from '../../protocol/index.js';
import type { FromWorker, ToWorker, WorkerJob, WorkerResult } from './load-protocol.js';

/**
 * Sessions a worker opens at once: the bank keeps at most 256 handshakes pending and drops the
 * oldest beyond that (a flood guard), so a thousand at once would be refused, not measured.
 */
const OPENING_AT_ONCE_MAX = 32;

/** Errors kept word for word; the rest are counted. */
const FIRST_ERRORS_MAX = 5;
/** 8 logins a second a session stays under the bank's default 10 a second a kiosk. */
const LOGIN_ROUNDS_PER_SECOND_MAX = 8;
const LOGIN_ROUND_MS_MIN = 1_000 / LOGIN_ROUNDS_PER_SECOND_MAX;
const WITHDRAWAL_CENTS = 1;

/** Runs task over items, at most `width` at a time. */
async function inBatches<T>(
  items: readonly T[],
  width: number,
  task: (item: T, index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      await task(items[index] as T, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(width, items.length) }, lane));
}

class Latencies {
  private values = new Float64Array(1024);
  length = 0;

  push(valueMs: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(this.values.length * 2);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = valueMs;
  }

  take(): Float64Array {
    return this.values.slice(0, this.length);
  }
}

class Load {
  private readonly sessions: (BankConnection | null)[];
  private readonly latencies = new Map<string, Latencies>();
  private errors = 0;
  private readonly firstErrors: string[] = [];
  private issued = 0;

  constructor(private readonly job: WorkerJob) {
    this.sessions = job.slots.map(() => null);
  }

  private connect(kioskIndex: number, bankIndex: number): Promise<BankConnection> {
    const kiosk = this.job.kiosks[kioskIndex % this.job.kiosks.length];
    if (kiosk === undefined) throw new Error('a load worker needs at least one kiosk');
    const bank = this.job.banks[bankIndex % this.job.banks.length];
    if (bank === undefined) throw new Error('a load worker needs at least one bank host');
    return BankConnection.connect({
      host: bank.host,
      port: bank.port,
      kioskId: kiosk.kioskId,
      psk: Buffer.from(kiosk.pskHex, 'hex'),
      requestTimeoutMs: 60_000,
    });
  }

  private failed(what: string): void {
    this.errors += 1;
    if (this.firstErrors.length < FIRST_ERRORS_MAX) this.firstErrors.push(what);
  }

  private async timed<T>(op: string, call: () => Promise<T>): Promise<T> {
    const startedMs = performance.now();
    const result = await call();
    let list = this.latencies.get(op);
    if (list === undefined) {
      list = new Latencies();
      this.latencies.set(op, list);
    }
    list.push(performance.now() - startedMs);
    return result;
  }

  /** The accounts this worker owns (one slot per username registers it). */
  async register(): Promise<void> {
    await inBatches(this.job.slots, OPENING_AT_ONCE_MAX, async (slot) => {
      if (!slot.registers || slot.username === null) return;
      const connection = await this.connect(slot.kioskIndex, slot.bank);
      try {
        const response = await connection.request({
          op: 'register',
          username: slot.username,
          password: this.job.password,
        });
        if (!response.ok && response.code !== 'USERNAME_TAKEN')
          throw new Error(`register ${slot.username}: ${response.code}`);
      } finally {
        connection.close();
      }
    });
  }

  /** Opens every session (the handshake script opens its own as it goes), logged in where it has a user. */
  async login(): Promise<number> {
    if (this.job.script === 'handshake') return 0;
    await inBatches(this.job.slots, OPENING_AT_ONCE_MAX, async (slot, index) => {
      const connection = await this.connect(slot.kioskIndex, slot.bank);
      this.sessions[index] = connection;
      if (slot.username === null || this.job.script === 'login') return;
      const response = await connection.request({
        op: 'login',
        username: slot.username,
        password: this.job.password,
      });
      if (!response.ok) throw new Error(`login ${slot.username}: ${response.code}`);
    });
    return this.sessions.filter((session) => session !== null).length;
  }

  async go(durationMs: number): Promise<WorkerResult> {
    const startedMs = performance.now();
    const deadlineMs = startedMs + durationMs;
    const more = (): boolean => performance.now() < deadlineMs && this.issued < this.job.requestsMax;
    await Promise.all(this.job.slots.map((slot, index) => this.run(index, slot.kioskIndex, slot.bank, more)));
    const ops = [...this.latencies.entries()].map(([op, list]) => ({ op, latenciesMs: list.take() }));
    return { ops, errors: this.errors, firstErrors: this.firstErrors, elapsedMs: performance.now() - startedMs };
  }

  private async run(index: number, kioskIndex: number, bankIndex: number, more: () => boolean): Promise<void> {
    const session = this.sessions[index] ?? null;
    try {
      switch (this.job.script) {
        case 'handshake':
          for (let turn = 0; more(); turn += 1) {
            this.issued += 1;
            // Each loop rotates evenly over kiosks of its own (its slot, then every slotsTotal-th
            // after it), so no kiosk nears the bank's per-kiosk handshake rate (20/s, burst 40)
            // until the step passes ~20/s × the kiosks: ~5,000 handshakes/s with 256.
            const kiosk = kioskIndex + this.job.slotsTotal * turn;
            const connection = await this.timed('handshake', () => this.connect(kiosk, bankIndex));
            connection.close();
          }
          return;
        case 'idle':
          return;
        case 'balance':
          if (session === null) return;
          while (more()) {
            this.issued += 1;
            const response = await this.timed('balance', () => session.request({ op: 'balance' }));
            if (!response.ok) this.failed(`balance: ${response.code}`);
          }
          return;
        case 'mixed':
          if (session === null) return;
          while (more()) await this.mixedRound(session);
          return;
        case 'login':
          if (session === null) return;
          while (more()) await this.loginRound(session, index);
          return;
      }
    } catch (error) {
      this.failed(error instanceof Error ? error.message : String(error));
    }
  }

  /**
   * A deposit, a two-phase withdrawal and a balance: four durable, audited requests. The
   * withdrawal is one cent: the amount costs nothing, and the daily limit (2,000.00) then
   * allows 200,000 a day an account, where 2.00 ran one busy session into it within seconds.
   */
  private async mixedRound(session: BankConnection): Promise<void> {
    this.issued += 4;
    const deposit = await this.timed('deposit', () =>
      session.request({ op: 'deposit', txnId: crypto.randomUUID(), amountCents: 500 }),
    );
    if (!deposit.ok) this.failed(`deposit: ${deposit.code}`);
    const txnId = crypto.randomUUID();
    const hold = await this.timed('withdraw.hold', () =>
      session.request({ op: 'withdraw.hold', txnId, amountCents: WITHDRAWAL_CENTS }),
    );
    if (!hold.ok) this.failed(`withdraw.hold: ${hold.code}`);
    const post = await this.timed('withdraw.post', () =>
      session.request({ op: 'withdraw.post', txnId, dispensedCents: hold.ok ? WITHDRAWAL_CENTS : 0 }),
    );
    if (!post.ok && hold.ok) this.failed(`withdraw.post: ${post.code}`);
    const balance = await this.timed('balance', () => session.request({ op: 'balance' }));
    if (!balance.ok) this.failed(`balance: ${balance.code}`);
  }

  /**
   * A login (the bcrypt compare) and a logout, at most LOGIN_ROUNDS_PER_SECOND_MAX a session:
   * the bank limits logins per kiosk (10/s, burst 40), and the loop measures hashing, not that
   * limiter. At the default cost 12 a compare alone takes longer than the pause; at a low cost
   * (--quick) the pause is what keeps the kiosk under its limit.
   */
  private async loginRound(session: BankConnection, index: number): Promise<void> {
    const username = this.job.slots[index]?.username;
    if (username === null || username === undefined) return;
    this.issued += 1;
    const startedMs = performance.now();
    const login = await this.timed('login', () =>
      session.request({ op: 'login', username, password: this.job.password }),
    );
    if (!login.ok) {
      this.failed(`login: ${login.code}`);
      return;
    }
    await session.request({ op: 'logout' });
    const pauseMs = LOGIN_ROUND_MS_MIN - (performance.now() - startedMs);
    if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
  }

  close(): void {
    for (const session of this.sessions) session?.close();
  }
}

const port = parentPort;
if (port === null) throw new Error('load-worker.ts runs as a worker thread');
let load: Load | null = null;
const reply = (message: FromWorker, transfer: ArrayBuffer[] = []): void => port.postMessage(message, transfer);

port.on('message', (message: ToWorker) => {
  const handle = async (): Promise<void> => {
    switch (message.type) {
      case 'prepare':
        load = new Load(message.job);
        reply({ type: 'prepared' });
        return;
      case 'register':
        await load?.register();
        reply({ type: 'registered' });
        return;
      case 'login':
        reply({ type: 'ready', sessions: (await load?.login()) ?? 0 });
        return;
      case 'go': {
        if (load === null) throw new Error('go before prepare');
        const result = await load.go(message.durationMs);
        reply(
          { type: 'done', result },
          result.ops.map((op) => op.latenciesMs.buffer as ArrayBuffer),
        );
        return;
      }
      case 'close':
        load?.close();
        load = null;
        reply({ type: 'closed' });
        return;
    }
  };
  handle().catch((error: unknown) =>
    reply({ type: 'failed', error: error instanceof Error ? error.message : String(error) }),
  );
});
