// The torture suite's kiosks: concurrent sessions against a real bank, each logged in to one of
// a few accounts, running deposits, two-phase withdrawals (full and partial posts, voids),
// balances, retries of an acknowledged transaction id and a post after a void (which must be
// declined). Every request and answer is recorded with its start and end time (the history the
// linearizability checker reads), and every transaction id with what the kiosk knows of it
// (the crash loop's invariant checker reads that). A session whose bank dies marks its request
// in flight "unknown" and stops; `resolveUnknown` later settles each unknown with the same id,
// as a kiosk's journal recovery does.
import { performance } from 'node:perf_hooks';
import { BankConnection, planted, type RequestBody } from '../../protocol/index.js';

/** A recovery request's history fields beyond the session, user and retry flag that every one shares. */
type AskRecord = Omit<HistoryOp, 'startMs' | 'endMs' | 'outcome' | 'session' | 'username' | 'retry'> & {
  retry?: boolean;
};

/** The fields of an answer the torture suite reads. */
interface Answer {
  ok: boolean;
  code?: string;
  balanceCents?: number;
}

export type HistoryOpKind = 'deposit' | 'hold' | 'post' | 'void' | 'balance';

/** One request and its answer, as the kiosk saw it. Times are performance.now() milliseconds. */
export interface HistoryOp {
  session: number;
  username: string;
  op: HistoryOpKind;
  txnId?: string;
  /** deposit / hold: the amount asked; post: the amount dispensed. */
  amountCents?: number;
  /** post / void: the amount the hold was for (the kiosk knows it from its own hold). */
  holdCents?: number;
  /** A second send of an id the bank already answered: the first answer must come back. */
  retry: boolean;
  startMs: number;
  /** Infinity while unknown (the bank died with it in flight). */
  endMs: number;
  outcome: 'ok' | 'declined' | 'unknown';
  code?: string;
  /** The available balance the answer reports (deposit, post, void, balance). */
  balanceCents?: number;
}

export type Outcome = 'inflight' | 'unknown' | 'ok' | 'declined';

/** What the kiosks know of one transaction id. */
export interface TxnKnowledge {
  txnId: string;
  kind: 'deposit' | 'withdraw';
  username: string;
  amountCents: number;
  /** The deposit's, or the hold's, answer. */
  first: Outcome;
  /** A declined hold the bank records (a retry gets the same decline); INVALID_AMOUNT is not recorded. */
  firstCode?: string;
  settle?: { op: 'post' | 'void'; dispensedCents: number; outcome: Outcome; code?: string };
  /** A post sent after an acknowledged void: must be declined. */
  postAfterVoid?: Outcome;
}

export interface WorkloadOptions {
  host: string;
  port: number;
  kioskIds: readonly string[];
  psk: (kioskId: string) => Buffer;
  usernames: readonly string[];
  password: string;
  sessions: number;
  /** Each session stops after this many requests (or when stopped, or its bank dies). */
  requestsPerSession: number;
  seed: number;
  /** Txn ids are `${txnPrefix}-${session}-${n}`: unique across rounds of a crash loop. */
  txnPrefix: string;
  requestTimeoutMs?: number;
  /** A pause after each request: a kiosk with a person at it, not a load generator (0: none). */
  thinkMs?: number;
}

export const WITHDRAW_CENTS_MAX = 99;
export const DEPOSIT_CENTS_MAX = 500;

/** mulberry32: a small seeded PRNG, so a failing run can be rerun with its seed. */
export function prng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

export class Workload {
  readonly history: HistoryOp[] = [];
  private stopped = false;
  private readonly connections = new Set<BankConnection>();
  requests = 0;
  /** Why sessions could not start (a bank that died first; anything else is worth reading). */
  readonly connectFailures: string[] = [];

  /** `txns` may be shared by the workloads of several rounds (the crash loop's whole knowledge). */
  constructor(
    private readonly options: WorkloadOptions,
    readonly txns = new Map<string, TxnKnowledge>(),
  ) {}

  /** Runs every session until its request count is done, stop() is called or its bank dies. */
  async run(): Promise<void> {
    await Promise.all(Array.from({ length: this.options.sessions }, (_, index) => this.session(index)));
  }

  stop(): void {
    this.stopped = true;
  }

  close(): void {
    for (const connection of this.connections) connection.close();
    this.connections.clear();
  }

  async connect(session: number, username: string): Promise<BankConnection> {
    const kioskId = this.options.kioskIds[session % this.options.kioskIds.length] as string;
    const connection = await BankConnection.connect({
      host: this.options.host,
      port: this.options.port,
      kioskId,
      psk: this.options.psk(kioskId),
      requestTimeoutMs: this.options.requestTimeoutMs ?? 30_000,
    });
    this.connections.add(connection);
    const login = await connection.request({ op: 'login', username, password: this.options.password });
    if (!login.ok) throw new Error(`login ${username}: ${login.code}`);
    return connection;
  }

  /** Sends one request and records it; null when the bank died with it in flight. */
  private async send(
    connection: BankConnection,
    record: Omit<HistoryOp, 'startMs' | 'endMs' | 'outcome'>,
    body: RequestBody,
  ): Promise<Answer | null> {
    const op: HistoryOp = {
      ...record,
      startMs: performance.now(),
      endMs: Number.POSITIVE_INFINITY,
      outcome: 'unknown',
    };
    this.history.push(op);
    this.requests += 1;
    let response: Answer;
    try {
      response = await connection.request(body);
    } catch {
      return null; // unknown: stays so in the history
    }
    op.endMs = performance.now();
    op.outcome = response.ok ? 'ok' : 'declined';
    if (response.code !== undefined) op.code = response.code;
    if (response.balanceCents !== undefined) op.balanceCents = response.balanceCents;
    return response;
  }

  private async session(index: number): Promise<void> {
    const random = prng(this.options.seed * 7919 + index);
    const username = this.options.usernames[index % this.options.usernames.length] as string;
    let connection: BankConnection;
    try {
      connection = await this.connect(index, username);
    } catch (error) {
      this.connectFailures.push(error instanceof Error ? error.message : String(error));
      return; // the bank died before this session got going
    }
    let serial = 0;
    const nextTxnId = (): string =>
      `${this.options.txnPrefix}-${String(index).padStart(3, '0')}-${String(serial++).padStart(6, '0')}`;
    const acknowledgedDeposits: TxnKnowledge[] = [];
    const voided: TxnKnowledge[] = [];
    const base = { session: index, username, retry: false };
    const thinkMs = this.options.thinkMs ?? 0;
    for (let count = 0; count < this.options.requestsPerSession && !this.stopped; count++) {
      if (thinkMs > 0 && count > 0) await new Promise((resolve) => setTimeout(resolve, thinkMs * (0.5 + random())));
      const roll = random();
      if (roll < 0.35) {
        const amountCents = 1 + Math.floor(random() * DEPOSIT_CENTS_MAX);
        const txn = this.know({ txnId: nextTxnId(), kind: 'deposit', username, amountCents, first: 'inflight' });
        const response = await this.send(
          connection,
          { ...base, op: 'deposit', txnId: txn.txnId, amountCents },
          { op: 'deposit', txnId: txn.txnId, amountCents },
        );
        if (response === null) {
          txn.first = 'unknown';
          return;
        }
        txn.first = response.ok ? 'ok' : 'declined';
        if (response.ok) acknowledgedDeposits.push(txn);
      } else if (roll < 0.65) {
        if (!(await this.withdrawal(connection, base, nextTxnId(), random, voided))) return;
      } else if (roll < 0.9) {
        if ((await this.send(connection, { ...base, op: 'balance' }, { op: 'balance' })) === null) return;
      } else if (roll < 0.96 && acknowledgedDeposits.length > 0) {
        // A kiosk that did not hear the answer sends the same id again: the first answer comes back.
        const txn = acknowledgedDeposits[Math.floor(random() * acknowledgedDeposits.length)] as TxnKnowledge;
        const response = await this.send(
          connection,
          { ...base, op: 'deposit', txnId: txn.txnId, amountCents: txn.amountCents, retry: true },
          { op: 'deposit', txnId: txn.txnId, amountCents: txn.amountCents },
        );
        if (response === null) return;
      } else if (voided.length > 0) {
        // A post after the void was acknowledged: nothing may move.
        const txn = voided.pop() as TxnKnowledge;
        txn.postAfterVoid = 'inflight';
        const response = await this.send(
          connection,
          { ...base, op: 'post', txnId: txn.txnId, amountCents: txn.amountCents, holdCents: txn.amountCents },
          { op: 'withdraw.post', txnId: txn.txnId, dispensedCents: txn.amountCents },
        );
        if (response === null) {
          txn.postAfterVoid = 'unknown';
          return;
        }
        txn.postAfterVoid = response.ok ? 'ok' : 'declined';
      }
    }
  }

  /** Hold, then post all or part of it, or void it. False when the bank died. */
  private async withdrawal(
    connection: BankConnection,
    base: { session: number; username: string; retry: boolean },
    txnId: string,
    random: () => number,
    voided: TxnKnowledge[],
  ): Promise<boolean> {
    const amountCents = 1 + Math.floor(random() * WITHDRAW_CENTS_MAX);
    const txn = this.know({ txnId, kind: 'withdraw', username: base.username, amountCents, first: 'inflight' });
    const held = await this.send(
      connection,
      { ...base, op: 'hold', txnId, amountCents },
      { op: 'withdraw.hold', txnId, amountCents },
    );
    if (held === null) {
      txn.first = 'unknown';
      return false;
    }
    txn.first = held.ok ? 'ok' : 'declined';
    if (!held.ok) {
      txn.firstCode = held.code;
      return true;
    }
    const settleRoll = random();
    if (settleRoll < 0.3) {
      txn.settle = { op: 'void', dispensedCents: 0, outcome: 'inflight' };
      const response = await this.send(
        connection,
        { ...base, op: 'void', txnId, holdCents: amountCents },
        { op: 'withdraw.void', txnId, reason: 'torture: customer cancelled' },
      );
      if (response === null) return this.lostSettle(txn);
      txn.settle.outcome = response.ok ? 'ok' : 'declined';
      if (response.ok) voided.push(txn);
      return true;
    }
    // Most posts are the whole amount; some are partial (a cassette ran short; nothing at all is a void).
    const dispensedCents =
      settleRoll < 0.85 || amountCents === 1 ? amountCents : 1 + Math.floor(random() * (amountCents - 1));
    txn.settle = { op: 'post', dispensedCents, outcome: 'inflight' };
    const response = await this.send(
      connection,
      { ...base, op: 'post', txnId, amountCents: dispensedCents, holdCents: amountCents },
      { op: 'withdraw.post', txnId, dispensedCents },
    );
    if (response === null) return this.lostSettle(txn);
    txn.settle.outcome = response.ok ? 'ok' : 'declined';
    if (!response.ok) txn.settle.code = response.code;
    return true;
  }

  private know(txn: TxnKnowledge): TxnKnowledge {
    this.txns.set(txn.txnId, txn);
    return txn;
  }

  private lostSettle(txn: TxnKnowledge): false {
    if (txn.settle !== undefined) txn.settle.outcome = 'unknown';
    return false;
  }

  /**
   * After a restart: every unknown is asked again with the same id until the bank answers, and
   * every hold left open is settled (posted in full), as a kiosk's recovery would. With the
   * planted bug `deposit-new-id` an unknown deposit is sent again under a new id instead.
   */
  async resolveUnknown(): Promise<number> {
    const byUser = new Map<string, TxnKnowledge[]>();
    for (const txn of this.txns.values()) {
      const open =
        txn.first === 'unknown' ||
        txn.settle?.outcome === 'unknown' ||
        txn.postAfterVoid === 'unknown' ||
        (txn.kind === 'withdraw' && txn.first === 'ok' && txn.settle === undefined);
      if (open) byUser.set(txn.username, [...(byUser.get(txn.username) ?? []), txn]);
    }
    let resolved = 0;
    for (const [username, txns] of byUser) {
      const connection = await this.connect(0, username);
      for (const txn of txns) {
        await this.resolveOne(connection, txn);
        resolved += 1;
      }
      connection.close();
      this.connections.delete(connection);
    }
    return resolved;
  }

  private async resolveOne(connection: BankConnection, txn: TxnKnowledge): Promise<void> {
    const base = { session: -1, username: txn.username, retry: true };
    /** One request of the recovery, recorded; the bank dying meanwhile ends the attempt. */
    const ask = async (record: AskRecord, body: RequestBody): Promise<Answer> => {
      const response = await this.send(connection, { ...base, ...record }, body);
      if (response === null) throw new Error(`the bank died while ${txn.txnId} was being resolved`);
      return response;
    };
    if (txn.first === 'unknown' && txn.kind === 'deposit') {
      if (planted('deposit-new-id')) {
        // The planted bug: a fresh id for the same money. The original may have been applied.
        const fresh = this.know({ ...txn, txnId: `${txn.txnId}-again`, first: 'inflight' });
        const again = await ask(
          { op: 'deposit', txnId: fresh.txnId, amountCents: fresh.amountCents, retry: false },
          { op: 'deposit', txnId: fresh.txnId, amountCents: fresh.amountCents },
        );
        fresh.first = again.ok ? 'ok' : 'declined';
        txn.first = 'declined'; // the kiosk now believes the first never happened
        return;
      }
      const response = await ask(
        { op: 'deposit', txnId: txn.txnId, amountCents: txn.amountCents },
        { op: 'deposit', txnId: txn.txnId, amountCents: txn.amountCents },
      );
      txn.first = response.ok ? 'ok' : 'declined';
      return;
    }
    if (txn.kind === 'deposit') return;
    if (txn.first === 'unknown') {
      const response = await ask(
        { op: 'hold', txnId: txn.txnId, amountCents: txn.amountCents },
        { op: 'withdraw.hold', txnId: txn.txnId, amountCents: txn.amountCents },
      );
      txn.first = response.ok ? 'ok' : 'declined';
      if (!response.ok) txn.firstCode = response.code;
    }
    if (txn.first !== 'ok') return;
    if (txn.postAfterVoid === 'unknown') {
      const response = await ask(
        { op: 'post', txnId: txn.txnId, amountCents: txn.amountCents, holdCents: txn.amountCents },
        { op: 'withdraw.post', txnId: txn.txnId, dispensedCents: txn.amountCents },
      );
      txn.postAfterVoid = response.ok ? 'ok' : 'declined';
      return;
    }
    const settle = txn.settle ?? {
      op: 'post' as const,
      dispensedCents: txn.amountCents,
      outcome: 'unknown' as Outcome,
    };
    txn.settle = settle;
    if (settle.outcome !== 'unknown') return;
    const body: RequestBody =
      settle.op === 'post'
        ? { op: 'withdraw.post', txnId: txn.txnId, dispensedCents: settle.dispensedCents }
        : { op: 'withdraw.void', txnId: txn.txnId, reason: 'torture: recovery' };
    const response = await ask(
      {
        op: settle.op,
        txnId: txn.txnId,
        holdCents: txn.amountCents,
        ...(settle.op === 'post' ? { amountCents: settle.dispensedCents } : {}),
      },
      body,
    );
    settle.outcome = response.ok ? 'ok' : 'declined';
    if (!response.ok) settle.code = response.code;
  }
}
