// The operator dashboard's state: what the operator sees, as plain immutable data. The reducer
// (model.ts) is the only thing that makes a new one; the views only read it. Every collection
// has a named bound, because a dashboard left open for weeks on a busy fleet must not grow.
import type {
  ActionEventPayload,
  AlertKind,
  AlertPayload,
  AlertSeverity,
  Envelope,
  KioskStatus,
  MetricsPayload,
} from '../protocol/index.js';

export interface DashboardLimits {
  /** Lines kept in the live event log. */
  eventsMax: number;
  kiosksMax: number;
  banksMax: number;
  /** Alerts in the panel (raised, or cleared but not yet acknowledged). */
  alertsMax: number;
  /** Acknowledged alert occurrences remembered, so a late snapshot does not bring them back. */
  ackedMax: number;
  /** How far back the tps chart reaches. */
  tpsWindowMs: number;
  tpsSamplesMax: number;
  /** Without a metrics message for this long, tps is counted from events instead. */
  metricsStaleMs: number;
}

export const DEFAULT_DASHBOARD_LIMITS: DashboardLimits = {
  eventsMax: 500,
  kiosksMax: 1_000,
  banksMax: 16,
  alertsMax: 200,
  ackedMax: 1_000,
  tpsWindowMs: 5 * 60_000,
  tpsSamplesMax: 600,
  metricsStaleMs: 15_000,
};

export type BrokerState = 'connecting' | 'online' | 'offline' | 'refused';

export interface BrokerConnection {
  state: BrokerState;
  /** Why it is offline or refused (ECONNREFUSED, bad username or password, …). */
  reason: string | null;
  sinceMs: number;
  everOnline: boolean;
}

/**
 * `stale` marks what we knew before our own broker connection dropped: shown as unknown, and
 * replaced by the broker's retained copy on reconnect even when that copy is the same message.
 */
export interface BankEntry {
  hostId: string;
  status: 'online' | 'offline' | 'unknown';
  reason: string | null;
  envelope: Envelope;
  stale: boolean;
}

/** A kiosk as its newest status message described it. */
export interface KioskEntry extends KioskStatus {
  envelope: Envelope;
  stale: boolean;
}

/** An alert as its newest message said; a cleared one stays until acknowledged. */
export interface AlertEntry extends AlertPayload {
  envelope: Envelope;
}

export type LogTone = 'ok' | 'decline' | 'bad' | 'info';

export type LogEntry =
  | ({
      kind: 'event';
      id: number;
      ts: string;
      /** The payload's devices, or null when it carried none. */
      devices: DeviceStates | null;
    } & Omit<ActionEventPayload, 'devices'>)
  | {
      kind: 'alert';
      id: number;
      ts: string;
      alertId: string;
      alertKind: AlertKind;
      state: 'raised' | 'cleared';
      severity: AlertSeverity;
      reason: string;
      kioskId: string | null;
    }
  | { kind: 'note'; id: number; atMs: number; text: string; tone: LogTone };

export interface EventLog {
  entries: readonly LogEntry[];
  nextId: number;
  /** While paused the view shows this snapshot; new lines still arrive underneath. */
  frozen: readonly LogEntry[] | null;
  /** Lines scrolled back from the newest (0 = following the tail). */
  offset: number;
}

export interface RateSample {
  atMs: number;
  tps: number;
}

export interface Rates {
  source: 'none' | 'metrics' | 'events';
  samples: readonly RateSample[];
  /** The second (Date.now()/1000) whose events are being counted, for the fallback. */
  bucketSecond: number | null;
  bucketCount: number;
  lastMetricsAtMs: number | null;
  latest: (Envelope & MetricsPayload) | null;
}

/** A kiosk's three devices, as its status and its device reports give them. */
export type DeviceStates = NonNullable<KioskStatus['devices']>;

/**
 * Since the dashboard started. Amounts are sums of transaction amounts, never balances.
 * `requests` and `declines` are customers' requests; the kiosks' own device reports (two per
 * withdrawal: the dispenser busy, then ready) are counted apart in `deviceReports`.
 */
export interface Totals {
  requests: number;
  declines: number;
  deviceReports: number;
  depositsCount: number;
  depositsCents: number;
  withdrawalsCount: number;
  withdrawalsCents: number;
  loginsFailed: number;
  alertsRaised: number;
}

export interface Ignored {
  /** Messages parseTelemetry refused (not ours, wrong shape, too big). */
  malformed: number;
  /** Older than what we already show (a late retained message). */
  stale: number;
  /** New kiosks, banks or alerts beyond their bound. */
  overflow: number;
}

export interface DashboardState {
  nowMs: number;
  brokerUrl: string;
  connection: BrokerConnection;
  banks: ReadonlyMap<string, BankEntry>;
  kiosks: ReadonlyMap<string, KioskEntry>;
  alerts: readonly AlertEntry[];
  /** The alert ↑/↓ point at; when it is gone the first one in panel order is selected. */
  selectedAlertId: string | null;
  /** `alertId@since` of acknowledged occurrences, oldest first. */
  acked: readonly string[];
  alertsSnapshot: Envelope | null;
  log: EventLog;
  rates: Rates;
  totals: Totals;
  ignored: Ignored;
  /** The bank's own count of telemetry it could not deliver, as last reported. */
  telemetryDropped: number | null;
  limits: DashboardLimits;
}

export function initialState(brokerUrl: string, nowMs: number, limits: Partial<DashboardLimits> = {}): DashboardState {
  return {
    nowMs,
    brokerUrl,
    connection: { state: 'connecting', reason: null, sinceMs: nowMs, everOnline: false },
    banks: new Map(),
    kiosks: new Map(),
    alerts: [],
    selectedAlertId: null,
    acked: [],
    alertsSnapshot: null,
    log: { entries: [], nextId: 1, frozen: null, offset: 0 },
    rates: { source: 'none', samples: [], bucketSecond: null, bucketCount: 0, lastMetricsAtMs: null, latest: null },
    totals: {
      requests: 0,
      declines: 0,
      deviceReports: 0,
      depositsCount: 0,
      depositsCents: 0,
      withdrawalsCount: 0,
      withdrawalsCents: 0,
      loginsFailed: 0,
      alertsRaised: 0,
    },
    ignored: { malformed: 0, stale: 0, overflow: 0 },
    telemetryDropped: null,
    limits: { ...DEFAULT_DASHBOARD_LIMITS, ...limits },
  };
}
