// [Seam contract] The MQTT telemetry the bank publishes and the operator dashboard reads
// (TOPICS.md is the operator's copy of this file). Pure: topic builders, payload types and a
// parser that refuses anything malformed, so a dashboard attached to a shared external
// broker never trusts or crashes on what somebody else published there.
//
// Every payload carries the envelope { v: 1, ts: ISO-8601, seq: per-publisher counter }.
// Never in any payload: balances, passwords, keys, master secrets, full usernames.
import { DEVICE_STATES, type DeviceState } from './messages.js';

export const TELEMETRY_VERSION = 1;
export const TOPIC_ROOT = 'atm/v1';
/** A payload above this is refused unread (the bank's largest is the active-alerts snapshot). */
export const TELEMETRY_PAYLOAD_BYTES_MAX = 64 * 1024;
/** The retained active-alerts snapshot lists at most this many alerts (newest kept). */
export const ACTIVE_ALERTS_MAX = 100;

export interface Envelope {
  v: 1;
  ts: string;
  seq: number;
}

export type CashLevel = 'ok' | 'low' | 'empty' | 'unknown';

export interface CassetteLevel {
  denominationCents: number;
  count: number;
}

/** atm/v1/bank/<hostId>/status — retained; the LWT is { status: 'offline', reason: 'lost' }. */
export interface BankStatus {
  status: 'online' | 'offline';
  reason?: 'shutdown' | 'lost';
  dropped?: number;
  droppedTotal?: number;
}

/** atm/v1/bank/<hostId>/dropped — published on reconnect when messages were dropped. */
export interface DroppedReport {
  dropped: number;
  droppedTotal: number;
}

/** atm/v1/kiosk/<kioskId>/status — retained; the newest (ts, seq) wins. */
/** A kiosk's devices: the three every kiosk has, and the cash-in module and printer where it has them. */
export interface KioskDeviceStates {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  cashIn?: DeviceState;
  printer?: DeviceState;
}

export interface KioskStatus {
  kioskId: string;
  /** `revoked`: the kiosk's key was revoked; it is no longer part of the fleet (dashboards drop it). */
  status: 'online' | 'offline' | 'revoked';
  /** When the bank last heard from the kiosk (any record), ISO-8601; null if never. */
  lastSeen: string | null;
  /** The kiosk's last device report, or null before its first one. */
  devices: KioskDeviceStates | null;
  cassettes: CassetteLevel[] | null;
  cashLevel: CashLevel;
}

/** atm/v1/events/<action> — one per request the bank answered. */
export interface ActionEventPayload {
  kioskId: string;
  /** Masked: first two characters and '***', or '-' when nobody is logged in. */
  user: string;
  action: string;
  /** 'ok' or a decline code. */
  outcome: string;
  amountCents: number | null;
  latencyMs: number;
  /**
   * `device.report` only (outcome `ok`): the device states the kiosk reported, which changed.
   * A device report is the kiosk's health, not a customer's request: dashboards count it apart.
   */
  devices?: { keypad: DeviceState; display: DeviceState; dispenser: DeviceState };
}

/** atm/v1/metrics — every metrics interval. Rates and counts are over that interval. */
export interface MetricsPayload {
  intervalMs: number;
  /** Requests per second by action (register, login, deposit, withdraw.hold, …). */
  tps: Record<string, number>;
  /** Requests answered in the interval (all actions). */
  requests: number;
  /** Latency percentiles over the interval, null when there were no requests. */
  p50Ms: number | null;
  p99Ms: number | null;
  sessionsOpen: number;
  loginsFailed: number;
  /** Telemetry messages dropped since the bank started. */
  telemetryDropped: number;
}

export type AlertKind = 'kiosk-offline' | 'device-fault' | 'low-cash' | 'security' | 'telemetry-dropped';
export const ALERT_KINDS: readonly AlertKind[] = [
  'kiosk-offline',
  'device-fault',
  'low-cash',
  'security',
  'telemetry-dropped',
];
export type AlertSeverity = 'critical' | 'warning';

/**
 * atm/v1/alerts — a condition raised once and cleared once. `alertId` names the condition
 * (e.g. `kiosk-offline:kiosk-01`, `security:kiosk-01:BAD_MAC`) and is the same in the raise
 * and the clear; `count` is how many times it occurred while raised.
 */
export interface AlertPayload {
  alertId: string;
  kind: AlertKind;
  state: 'raised' | 'cleared';
  severity: AlertSeverity;
  kioskId: string | null;
  reason: string;
  count: number;
  /** When the condition was first seen (ISO-8601). */
  since: string;
}

/** atm/v1/alerts/active — retained snapshot of raised alerts, so a late dashboard sees them. */
export interface ActiveAlertsPayload {
  alerts: Omit<AlertPayload, 'state'>[];
}

export type TelemetryMessage =
  | { topic: 'bank-status'; hostId: string; payload: Envelope & BankStatus }
  | { topic: 'bank-dropped'; hostId: string; payload: Envelope & DroppedReport }
  | { topic: 'kiosk-status'; kioskId: string; payload: Envelope & KioskStatus }
  | { topic: 'event'; action: string; payload: Envelope & ActionEventPayload }
  | { topic: 'metrics'; payload: Envelope & MetricsPayload }
  | { topic: 'alert'; payload: Envelope & AlertPayload }
  | { topic: 'alerts-active'; payload: Envelope & ActiveAlertsPayload };

export const topics = {
  bankStatus: (hostId: string): string => `${TOPIC_ROOT}/bank/${hostId}/status`,
  bankDropped: (hostId: string): string => `${TOPIC_ROOT}/bank/${hostId}/dropped`,
  kioskStatus: (kioskId: string): string => `${TOPIC_ROOT}/kiosk/${kioskId}/status`,
  event: (action: string): string => `${TOPIC_ROOT}/events/${action}`,
  metrics: `${TOPIC_ROOT}/metrics`,
  alerts: `${TOPIC_ROOT}/alerts`,
  alertsActive: `${TOPIC_ROOT}/alerts/active`,
} as const;

/** A topic level we publish under: ids and action names, never a wildcard or separator. */
const LEVEL = /^[A-Za-z0-9._-]{1,64}$/;
const MASKED_USER = /^(-|[^\s]{0,2}\*\*\*)$/;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
const isCount = (value: unknown): value is number => Number.isSafeInteger(value) && (value as number) >= 0;
const isFiniteNonNegative = (value: unknown): value is number =>
  typeof value === 'number' && Number.isFinite(value) && value >= 0;
const isShortString = (value: unknown): value is string => typeof value === 'string' && value.length <= 256;
const isIso = (value: unknown): value is string => typeof value === 'string' && ISO.test(value);
const isDeviceState = (value: unknown): value is DeviceState =>
  typeof value === 'string' && (DEVICE_STATES as readonly string[]).includes(value);

function isEnvelope(value: Json): boolean {
  return value.v === TELEMETRY_VERSION && isIso(value.ts) && isCount(value.seq);
}

function isCassettes(value: unknown): value is CassetteLevel[] {
  return (
    Array.isArray(value) &&
    value.length <= 8 &&
    value.every((c) => isObject(c) && isCount(c.denominationCents) && isCount(c.count))
  );
}

const isDevices = (value: unknown): boolean =>
  isObject(value) &&
  isDeviceState(value.keypad) &&
  isDeviceState(value.display) &&
  isDeviceState(value.dispenser) &&
  (value.cashIn === undefined || isDeviceState(value.cashIn)) &&
  (value.printer === undefined || isDeviceState(value.printer));

function isKioskStatus(p: Json, kioskId: string): boolean {
  return (
    p.kioskId === kioskId &&
    (p.status === 'online' || p.status === 'offline' || p.status === 'revoked') &&
    (p.lastSeen === null || isIso(p.lastSeen)) &&
    (p.devices === null || isDevices(p.devices)) &&
    (p.cassettes === null || isCassettes(p.cassettes)) &&
    (p.cashLevel === 'ok' || p.cashLevel === 'low' || p.cashLevel === 'empty' || p.cashLevel === 'unknown')
  );
}

function isAlertBody(p: Json): boolean {
  return (
    isShortString(p.alertId) &&
    typeof p.kind === 'string' &&
    (ALERT_KINDS as readonly string[]).includes(p.kind) &&
    (p.severity === 'critical' || p.severity === 'warning') &&
    (p.kioskId === null || (typeof p.kioskId === 'string' && LEVEL.test(p.kioskId))) &&
    isShortString(p.reason) &&
    isCount(p.count) &&
    isIso(p.since)
  );
}

function isMetrics(p: Json): boolean {
  return (
    isCount(p.intervalMs) &&
    isObject(p.tps) &&
    Object.keys(p.tps).length <= 32 &&
    Object.entries(p.tps).every(([action, rate]) => LEVEL.test(action) && isFiniteNonNegative(rate)) &&
    isCount(p.requests) &&
    (p.p50Ms === null || isFiniteNonNegative(p.p50Ms)) &&
    (p.p99Ms === null || isFiniteNonNegative(p.p99Ms)) &&
    isCount(p.sessionsOpen) &&
    isCount(p.loginsFailed) &&
    isCount(p.telemetryDropped)
  );
}

/**
 * Reads one MQTT message. Returns null for anything that is not exactly a v1 telemetry
 * message of a known topic (size, JSON, envelope, fields): the caller counts and ignores it.
 */
export function parseTelemetry(topic: string, body: Buffer | string): TelemetryMessage | null {
  const size = typeof body === 'string' ? Buffer.byteLength(body) : body.length;
  if (size > TELEMETRY_PAYLOAD_BYTES_MAX) return null;
  const levels = topic.split('/');
  if (levels[0] !== 'atm' || levels[1] !== 'v1') return null;
  let parsed: unknown;
  try {
    parsed = JSON.parse(typeof body === 'string' ? body : body.toString('utf8'));
  } catch {
    return null;
  }
  if (!isObject(parsed) || !isEnvelope(parsed)) return null;
  const p = parsed;
  const rest = levels.slice(2);
  if (rest.length === 3 && rest[0] === 'bank' && LEVEL.test(rest[1] ?? '') && rest[2] === 'status') {
    const ok =
      (p.status === 'online' || p.status === 'offline') &&
      (p.reason === undefined || p.reason === 'shutdown' || p.reason === 'lost') &&
      (p.dropped === undefined || isCount(p.dropped)) &&
      (p.droppedTotal === undefined || isCount(p.droppedTotal));
    return ok
      ? { topic: 'bank-status', hostId: rest[1] as string, payload: p as unknown as Envelope & BankStatus }
      : null;
  }
  if (rest.length === 3 && rest[0] === 'bank' && LEVEL.test(rest[1] ?? '') && rest[2] === 'dropped') {
    return isCount(p.dropped) && isCount(p.droppedTotal)
      ? { topic: 'bank-dropped', hostId: rest[1] as string, payload: p as unknown as Envelope & DroppedReport }
      : null;
  }
  if (rest.length === 3 && rest[0] === 'kiosk' && LEVEL.test(rest[1] ?? '') && rest[2] === 'status') {
    const kioskId = rest[1] as string;
    return isKioskStatus(p, kioskId)
      ? { topic: 'kiosk-status', kioskId, payload: p as unknown as Envelope & KioskStatus }
      : null;
  }
  if (rest.length === 2 && rest[0] === 'events' && LEVEL.test(rest[1] ?? '')) {
    const action = rest[1] as string;
    const ok =
      typeof p.kioskId === 'string' &&
      LEVEL.test(p.kioskId) &&
      typeof p.user === 'string' &&
      MASKED_USER.test(p.user) &&
      p.action === action &&
      isShortString(p.outcome) &&
      (p.amountCents === null || isCount(p.amountCents)) &&
      isFiniteNonNegative(p.latencyMs) &&
      (p.devices === undefined || isDevices(p.devices));
    return ok ? { topic: 'event', action, payload: p as unknown as Envelope & ActionEventPayload } : null;
  }
  if (rest.length === 1 && rest[0] === 'metrics') {
    return isMetrics(p) ? { topic: 'metrics', payload: p as unknown as Envelope & MetricsPayload } : null;
  }
  if (rest.length === 1 && rest[0] === 'alerts') {
    return isAlertBody(p) && (p.state === 'raised' || p.state === 'cleared')
      ? { topic: 'alert', payload: p as unknown as Envelope & AlertPayload }
      : null;
  }
  if (rest.length === 2 && rest[0] === 'alerts' && rest[1] === 'active') {
    const alerts = p.alerts;
    const ok =
      Array.isArray(alerts) && alerts.length <= ACTIVE_ALERTS_MAX && alerts.every((a) => isObject(a) && isAlertBody(a));
    return ok ? { topic: 'alerts-active', payload: p as unknown as Envelope & ActiveAlertsPayload } : null;
  }
  return null;
}

/** Which of two messages on the same topic is newer: by ts, then by seq (same publisher). */
export function isNewer(candidate: Envelope, current: Envelope | undefined): boolean {
  if (current === undefined) return true;
  if (candidate.ts !== current.ts) return candidate.ts > current.ts;
  return candidate.seq > current.seq;
}
