// The history checker (issue 15; Knossos/Porcupine style, written for this ledger): is there, for
// each account, one sequential order of the requests that (a) respects real time — a request
// that ended before another began comes first — and (b) reproduces every answer the kiosks got,
// when replayed on a model of the account? The model is the ledger's rules: available balance =
// balance − held; a hold needs funds and today's limit; a post debits what was dispensed and
// releases the hold; a void releases it; a retried id moves nothing and gets its first answer;
// a decline moves nothing and must be one the state at that point justifies.
//
// Accounts are independent (every request names one), so each is checked alone (P-compositionality).
// The search is Wing & Gong's with Lowe's memoisation as Porcupine implements it: walk the
// call/return events in time order, linearise a call when the model accepts its answer, backtrack
// at a return whose call could not be placed; a set of linearised requests is never explored twice
// (the model is deterministic, so that set is the state). The set is hashed 64-bit (Zobrist):
// a collision could only hide an anomaly, at odds of about n²/2⁶⁴.
import { DEFAULT_LIMITS } from '../../bank/ledger.js';
import type { HistoryOp } from './workload.js';

export interface AccountModel {
  balanceCents: number;
  heldCents: number;
  withdrawnTodayCents: number;
  /** Open holds: txn id → amount held. */
  holds: ReadonlyMap<string, number>;
}

export interface Anomaly {
  username: string;
  /** The request no order could place, with the model's state at the furthest point reached. */
  op: HistoryOp;
  state: AccountModel;
  why: string;
}

export interface HistoryReport {
  operations: number;
  accounts: number;
  anomalies: Anomaly[];
  /** Model steps tried (a measure of the search's work). */
  steps: number;
}

const EMPTY: AccountModel = { balanceCents: 0, heldCents: 0, withdrawnTodayCents: 0, holds: new Map() };
const available = (state: AccountModel): number => state.balanceCents - state.heldCents;
/** Declines that mean "not now, nothing happened" whatever the state (the bank was busy). */
const NEUTRAL_DECLINES = new Set(['BUSY']);

/** One request on the model: the next state, or null when its answer is impossible here. */
export function step(state: AccountModel, op: HistoryOp): AccountModel | null {
  if (op.outcome === 'declined') {
    if (NEUTRAL_DECLINES.has(op.code ?? '')) return state;
    return declineJustified(state, op) ? state : null;
  }
  if (op.outcome !== 'ok') return null;
  const amountCents = op.amountCents ?? 0;
  const reports = (next: AccountModel): AccountModel | null =>
    op.balanceCents === undefined || op.balanceCents === available(next) ? next : null;
  switch (op.op) {
    case 'balance':
      return reports(state);
    case 'deposit':
      // A retry's answer is the first one again, whatever the balance is now.
      if (op.retry) return state;
      return reports({ ...state, balanceCents: state.balanceCents + amountCents });
    case 'hold': {
      if (op.retry) return state.holds.has(op.txnId ?? '') ? state : null;
      if (amountCents > available(state)) return null;
      if (state.withdrawnTodayCents + amountCents > DEFAULT_LIMITS.withdrawalCentsMaxDaily) return null;
      const holds = new Map(state.holds).set(op.txnId ?? '', amountCents);
      return {
        ...state,
        heldCents: state.heldCents + amountCents,
        withdrawnTodayCents: state.withdrawnTodayCents + amountCents,
        holds,
      };
    }
    case 'post':
    case 'void': {
      const heldCents = state.holds.get(op.txnId ?? '');
      if (heldCents === undefined) return null;
      const dispensedCents = op.op === 'post' ? amountCents : 0;
      const holds = new Map(state.holds);
      holds.delete(op.txnId ?? '');
      return reports({
        balanceCents: state.balanceCents - dispensedCents,
        heldCents: state.heldCents - heldCents,
        withdrawnTodayCents: state.withdrawnTodayCents - (heldCents - dispensedCents),
        holds,
      });
    }
  }
}

function declineJustified(state: AccountModel, op: HistoryOp): boolean {
  const amountCents = op.amountCents ?? 0;
  switch (op.code) {
    case 'INSUFFICIENT_FUNDS':
      return op.op === 'hold' && amountCents > available(state);
    case 'LIMIT_EXCEEDED':
      return op.op === 'hold'
        ? amountCents > DEFAULT_LIMITS.withdrawalCentsMax ||
            state.withdrawnTodayCents + amountCents > DEFAULT_LIMITS.withdrawalCentsMaxDaily
        : op.op === 'deposit' && amountCents > DEFAULT_LIMITS.depositCentsMax;
    case 'UNKNOWN_TXN':
      // A post or void of a hold that is no longer open (voided first).
      return (op.op === 'post' || op.op === 'void') && !state.holds.has(op.txnId ?? '');
    default:
      return false;
  }
}

interface Entry {
  op: HistoryOp;
  index: number;
  isCall: boolean;
  timeMs: number;
  match: Entry | null; // a call's return entry
  prev: Entry | null;
  next: Entry | null;
}

/** Checks one account's requests; null when a linearisation exists. */
export function checkAccount(username: string, ops: readonly HistoryOp[], counter = { steps: 0 }): Anomaly | null {
  const unknown = ops.find((op) => op.outcome === 'unknown');
  if (unknown !== undefined)
    return { username, op: unknown, state: EMPTY, why: 'no answer (the bank died or timed out)' };
  const events: Entry[] = [];
  ops.forEach((op, index) => {
    const call: Entry = { op, index, isCall: true, timeMs: op.startMs, match: null, prev: null, next: null };
    const ret: Entry = { op, index, isCall: false, timeMs: op.endMs, match: null, prev: null, next: null };
    call.match = ret;
    events.push(call, ret);
  });
  // At equal times calls go first: the more permissive order (concurrent, not sequential).
  events.sort((a, b) => a.timeMs - b.timeMs || Number(b.isCall) - Number(a.isCall));
  const head: Entry = {
    op: ops[0] as HistoryOp,
    index: -1,
    isCall: false,
    timeMs: 0,
    match: null,
    prev: null,
    next: null,
  };
  let previous = head;
  for (const event of events) {
    previous.next = event;
    event.prev = previous;
    previous = event;
  }
  const zobrist = ops.map((_, index) => [hash32(index * 2 + 1), hash32(index * 2 + 2)] as const);
  const seen = new Set<string>();
  let hashLow = 0;
  let hashHigh = 0;
  let state = EMPTY;
  let furthest = { op: ops[0] as HistoryOp, state: EMPTY, depth: -1 };
  const stack: { entry: Entry; state: AccountModel }[] = [];
  const lift = (entry: Entry): void => {
    for (const node of [entry, entry.match as Entry]) {
      (node.prev as Entry).next = node.next;
      if (node.next !== null) node.next.prev = node.prev;
    }
  };
  const unlift = (entry: Entry): void => {
    for (const node of [entry.match as Entry, entry]) {
      (node.prev as Entry).next = node;
      if (node.next !== null) node.next.prev = node;
    }
  };
  let entry = head.next;
  while (head.next !== null) {
    if (entry === null) break;
    if (entry.isCall) {
      counter.steps += 1;
      const next = step(state, entry.op);
      const [low, high] = zobrist[entry.index] as readonly [number, number];
      const key = `${(hashLow ^ low) >>> 0}:${(hashHigh ^ high) >>> 0}`;
      if (next !== null && !seen.has(key)) {
        seen.add(key);
        stack.push({ entry, state });
        state = next;
        hashLow ^= low;
        hashHigh ^= high;
        lift(entry);
        entry = head.next;
        continue;
      }
      entry = entry.next;
      continue;
    }
    // A request returned before any order could place it: undo the last choice.
    if (stack.length > furthest.depth) furthest = { op: entry.op, state, depth: stack.length };
    const undo = stack.pop();
    if (undo === undefined) return { username, op: furthest.op, state: furthest.state, why: describe(furthest.op) };
    const [low, high] = zobrist[undo.entry.index] as readonly [number, number];
    hashLow ^= low;
    hashHigh ^= high;
    state = undo.state;
    unlift(undo.entry);
    entry = undo.entry.next;
  }
  return null;
}

function describe(op: HistoryOp): string {
  const what = `${op.op}${op.txnId === undefined ? '' : ` ${op.txnId}`}${op.amountCents === undefined ? '' : ` ${op.amountCents}`}`;
  const answer =
    op.outcome === 'ok' ? `ok${op.balanceCents === undefined ? '' : ` balance ${op.balanceCents}`}` : op.code;
  return `no order consistent with real time gives ${what} the answer ${answer ?? op.outcome}`;
}

/** A 32-bit mix of n (splitmix-like): fixed, so a report is reproducible. */
function hash32(n: number): number {
  let x = Math.imul(n ^ 0x9e3779b9, 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** Every account's requests in the history, each checked alone. Accounts start empty. */
export function checkHistory(history: readonly HistoryOp[]): HistoryReport {
  const byAccount = new Map<string, HistoryOp[]>();
  for (const op of history) byAccount.set(op.username, [...(byAccount.get(op.username) ?? []), op]);
  const counter = { steps: 0 };
  const anomalies: Anomaly[] = [];
  for (const [username, ops] of byAccount) {
    const anomaly = checkAccount(username, ops, counter);
    if (anomaly !== null) anomalies.push(anomaly);
  }
  return { operations: history.length, accounts: byAccount.size, anomalies, steps: counter.steps };
}
