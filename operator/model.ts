// The operator dashboard as a pure reducer: (state, input) → state. Telemetry messages (already
// parsed by protocol/telemetry.ts), the dashboard's own broker connection, the operator's keys
// and the clock go in; what to show comes out. No sockets, timers or Date.now() in here.
import { isNewer, type Envelope, type TelemetryMessage } from '../protocol/index.js';
import { ackAll, ackSelected, applyAlert, applyAlertsSnapshot, moveSelection } from './alerts.js';
import { appendLog, pauseLog, scrollLog } from './log.js';
import { rateOnEvent, rateOnMetrics, rateOnTick } from './rates.js';
import type { BankEntry, BrokerState, DashboardState, Totals } from './state.js';
import { DEVICE_REPORT_ACTION, bankReasonWords, connectionReasonWords } from './words.js';

/** PgUp/PgDn move the log by this many lines. */
export const LOG_SCROLL_LINES = 5;

export type DashboardKey = 'up' | 'down' | 'ack' | 'ackAll' | 'pause' | 'logOlder' | 'logNewer';

export type DashboardInput =
  | { type: 'telemetry'; message: TelemetryMessage; atMs: number }
  | { type: 'malformed'; topic: string; atMs: number }
  | { type: 'connection'; state: BrokerState; reason: string | null; atMs: number }
  | { type: 'key'; key: DashboardKey }
  | { type: 'tick'; nowMs: number };

/** Newer wins; after our connection dropped (stale) the broker's retained copy wins unless older. */
function accepts(candidate: Envelope, current: { envelope: Envelope; stale: boolean } | undefined): boolean {
  if (current === undefined) return true;
  return current.stale ? !isNewer(current.envelope, candidate) : isNewer(candidate, current.envelope);
}

const stale = (state: DashboardState): DashboardState => ({
  ...state,
  ignored: { ...state.ignored, stale: state.ignored.stale + 1 },
});
const overflow = (state: DashboardState): DashboardState => ({
  ...state,
  ignored: { ...state.ignored, overflow: state.ignored.overflow + 1 },
});

function withEntry<T>(map: ReadonlyMap<string, T>, key: string, value: T): ReadonlyMap<string, T> {
  const next = new Map(map);
  next.set(key, value);
  return next;
}

function without<T>(map: ReadonlyMap<string, T>, key: string): ReadonlyMap<string, T> {
  const next = new Map(map);
  next.delete(key);
  return next;
}

function markAll<T extends { stale: boolean }>(
  map: ReadonlyMap<string, T>,
  change: (entry: T) => T,
): ReadonlyMap<string, T> {
  return new Map([...map].map(([key, entry]) => [key, change(entry)]));
}

const safeAdd = (a: number, b: number): number => Math.min(Number.MAX_SAFE_INTEGER, a + b);

function countEvent(totals: Totals, action: string, outcome: string, amountCents: number | null): Totals {
  // The kiosk reporting its devices is not a customer's request, and the bank accepting the
  // report is not a decline: counted apart, so "declines" means customers turned away.
  if (action === DEVICE_REPORT_ACTION) return { ...totals, deviceReports: totals.deviceReports + 1 };
  const ok = outcome === 'ok';
  const next = { ...totals, requests: totals.requests + 1, declines: totals.declines + (ok ? 0 : 1) };
  if (action === 'login' && !ok) next.loginsFailed += 1;
  if (ok && amountCents !== null && action === 'deposit')
    return { ...next, depositsCount: next.depositsCount + 1, depositsCents: safeAdd(next.depositsCents, amountCents) };
  // The money leaves the account when the dispensed amount is posted, not at the hold.
  if (ok && amountCents !== null && action === 'withdraw.post')
    return {
      ...next,
      withdrawalsCount: next.withdrawalsCount + 1,
      withdrawalsCents: safeAdd(next.withdrawalsCents, amountCents),
    };
  return next;
}

function onTelemetry(state: DashboardState, message: TelemetryMessage, atMs: number): DashboardState {
  switch (message.topic) {
    case 'bank-status': {
      const { hostId, payload } = message;
      const current = state.banks.get(hostId);
      if (!accepts(payload, current)) return stale(state);
      if (current === undefined && state.banks.size >= state.limits.banksMax) return overflow(state);
      const entry: BankEntry = {
        hostId,
        status: payload.status,
        reason: payload.reason ?? null,
        envelope: { v: 1, ts: payload.ts, seq: payload.seq },
        stale: false,
      };
      let next: DashboardState = {
        ...state,
        banks: withEntry(state.banks, hostId, entry),
        telemetryDropped: payload.droppedTotal ?? state.telemetryDropped,
      };
      if (current?.status !== entry.status)
        next = appendLog(next, {
          kind: 'note',
          atMs,
          text: `bank ${hostId} ${entry.status}${entry.reason !== null ? ` (${bankReasonWords(entry.reason)})` : ''}`,
          tone: entry.status === 'online' ? 'ok' : 'bad',
        });
      // Without its bank nobody reports on the kiosks: what we show of them is no longer known.
      if (entry.status === 'offline') next = { ...next, kiosks: markAll(next.kiosks, (k) => ({ ...k, stale: true })) };
      return next;
    }
    case 'bank-dropped': {
      const { hostId, payload } = message;
      const next = { ...state, telemetryDropped: payload.droppedTotal };
      return appendLog(next, {
        kind: 'note',
        atMs,
        text: `bank ${hostId} could not deliver ${payload.dropped} telemetry message(s)`,
        tone: 'decline',
      });
    }
    case 'kiosk-status': {
      const { kioskId, payload } = message;
      const current = state.kiosks.get(kioskId);
      if (!accepts(payload, current)) return stale(state);
      // A revoked kiosk is no longer part of the fleet: it leaves the list (the bank keeps its
      // status retained as `revoked`, so a dashboard that starts later does not list it either).
      if (payload.status === 'revoked') {
        if (current === undefined) return state;
        return appendLog(
          { ...state, kiosks: without(state.kiosks, kioskId) },
          { kind: 'note', atMs, text: `kiosk ${kioskId} revoked: removed from the list`, tone: 'info' },
        );
      }
      if (current === undefined && state.kiosks.size >= state.limits.kiosksMax) return overflow(state);
      const { v: _v, ts, seq, ...status } = payload;
      // Events may have told us of a later contact than this status knew of.
      const lastSeen =
        current?.lastSeen != null && (status.lastSeen === null || current.lastSeen > status.lastSeen)
          ? current.lastSeen
          : status.lastSeen;
      return {
        ...state,
        kiosks: withEntry(state.kiosks, kioskId, { ...status, lastSeen, envelope: { v: 1, ts, seq }, stale: false }),
      };
    }
    case 'event': {
      const { payload } = message;
      const customer = payload.action !== DEVICE_REPORT_ACTION;
      const rates = customer ? rateOnEvent(state.rates, atMs, state.limits) : state.rates;
      const next = {
        ...state,
        totals: countEvent(state.totals, payload.action, payload.outcome, payload.amountCents),
        rates,
        kiosks: heardFrom(state.kiosks, payload.kioskId, payload.ts),
      };
      return appendLog(next, {
        kind: 'event',
        ts: payload.ts,
        kioskId: payload.kioskId,
        user: payload.user,
        action: payload.action,
        outcome: payload.outcome,
        amountCents: payload.amountCents,
        latencyMs: payload.latencyMs,
        devices: payload.devices ?? null,
      });
    }
    case 'metrics': {
      const latest = state.rates.latest;
      if (latest !== null && !isNewer(message.payload, latest)) return stale(state);
      return {
        ...state,
        rates: rateOnMetrics(state.rates, message.payload, atMs, state.limits),
        telemetryDropped: message.payload.telemetryDropped,
      };
    }
    case 'alert': {
      const { payload } = message;
      const next = applyAlert(state, payload);
      if (next.ignored.stale !== state.ignored.stale) return next;
      return appendLog(next, {
        kind: 'alert',
        ts: payload.ts,
        alertId: payload.alertId,
        alertKind: payload.kind,
        state: payload.state,
        severity: payload.severity,
        reason: payload.reason,
        kioskId: payload.kioskId,
      });
    }
    case 'alerts-active':
      return applyAlertsSnapshot(state, message.payload);
    default: {
      const never: never = message;
      return never;
    }
  }
}

/** The bank answered this kiosk at ts: it was seen then (status messages alone come only on changes). */
function heardFrom(kiosks: DashboardState['kiosks'], kioskId: string, ts: string): DashboardState['kiosks'] {
  const kiosk = kiosks.get(kioskId);
  if (kiosk === undefined || (kiosk.lastSeen !== null && kiosk.lastSeen >= ts)) return kiosks;
  return withEntry(kiosks, kioskId, { ...kiosk, lastSeen: ts });
}

function onConnection(state: DashboardState, input: Extract<DashboardInput, { type: 'connection' }>): DashboardState {
  const was = state.connection;
  const connection = {
    state: input.state,
    reason: input.reason,
    sinceMs: was.state === input.state ? was.sinceMs : input.atMs,
    everOnline: was.everOnline || input.state === 'online',
  };
  let next: DashboardState = { ...state, connection };
  if (was.state === 'online' && input.state !== 'online') {
    // No last will reaches us through a broker that is gone (the embedded one dies with the
    // bank): from here on we do not know, and say so, rather than show a stale "online".
    next = {
      ...next,
      banks: markAll(next.banks, (b) => ({ ...b, status: 'unknown' as const, stale: true })),
      kiosks: markAll(next.kiosks, (k) => ({ ...k, stale: true })),
    };
    next = appendLog(next, {
      kind: 'note',
      atMs: input.atMs,
      text: `broker connection lost${input.reason !== null ? `: ${input.reason}` : ''}`,
      tone: 'bad',
    });
  } else if (was.state !== 'online' && input.state === 'online') {
    next = appendLog(next, {
      kind: 'note',
      atMs: input.atMs,
      text: was.everOnline ? 'reconnected to the broker' : 'connected to the broker',
      tone: 'ok',
    });
  } else if (
    input.state !== 'online' &&
    input.state !== 'refused' &&
    input.reason !== null &&
    input.reason !== was.reason
  ) {
    // Each new reason the broker cannot be reached is said once, with its URL: an external
    // broker behind a firewall must not look like a quiet fleet. The feed keeps retrying.
    next = appendLog(next, {
      kind: 'note',
      atMs: input.atMs,
      text: `cannot reach the broker at ${state.brokerUrl}: ${connectionReasonWords(input.reason)}; retrying`,
      tone: 'bad',
    });
  }
  return next;
}

function onKey(state: DashboardState, key: DashboardKey): DashboardState {
  switch (key) {
    case 'up':
      return moveSelection(state, -1);
    case 'down':
      return moveSelection(state, 1);
    case 'ack':
      return ackSelected(state);
    case 'ackAll':
      return ackAll(state);
    case 'pause':
      return pauseLog(state);
    case 'logOlder':
      return scrollLog(state, LOG_SCROLL_LINES);
    case 'logNewer':
      return scrollLog(state, -LOG_SCROLL_LINES);
    default: {
      const never: never = key;
      return never;
    }
  }
}

export function reduce(state: DashboardState, input: DashboardInput): DashboardState {
  switch (input.type) {
    case 'telemetry':
      return onTelemetry({ ...state, nowMs: Math.max(state.nowMs, input.atMs) }, input.message, input.atMs);
    case 'malformed':
      return { ...state, ignored: { ...state.ignored, malformed: state.ignored.malformed + 1 } };
    case 'connection':
      return onConnection({ ...state, nowMs: Math.max(state.nowMs, input.atMs) }, input);
    case 'key':
      return onKey(state, input.key);
    case 'tick':
      return { ...state, nowMs: input.nowMs, rates: rateOnTick(state.rates, input.nowMs, state.limits) };
    default: {
      const never: never = input;
      return never;
    }
  }
}
