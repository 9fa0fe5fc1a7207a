// The alert engine (DESIGN §6 "hysteresis and de-duplication"): a pure state machine. Bank
// events and the time go in (`nowMs` on every call, no timers, no I/O); alert transitions
// come out, each condition raised exactly once while it holds and cleared exactly once when
// it ends. Operators of kiosk fleets complain of "machine down" floods, so a kiosk is only
// reported offline after it has had no session for `kioskOfflineAlertMs`, and a repeated
// security event only counts up the alert it already raised.
import {
  ACTIVE_ALERTS_MAX,
  type ActiveAlertsPayload,
  type AlertKind,
  type AlertPayload,
  type AlertSeverity,
  type CassetteReport,
} from '../protocol/index.js';
import { DEFAULT_ALERT_OPTIONS, DEVICE_NAMES, OPTIONAL_DEVICE_NAMES } from './alert-options.js';
import type { AlertEngineOptions, AlertEngineStats, DeviceStates } from './alert-options.js';

export { DEFAULT_ALERT_OPTIONS } from './alert-options.js';
export type { AlertEngineOptions, AlertEngineStats, DeviceStates } from './alert-options.js';

/** Reasons an attacker (or a broken kiosk) is behind; the rest are warnings. */
const CRITICAL_SECURITY_REASONS = new Set(['BAD_MAC', 'REPLAYED_HELLO', 'HANDSHAKE', 'KIOSK_REVOKED']);
const REASON_PATTERN = /^[A-Z][A-Z0-9_]{0,31}$/;

interface Condition {
  alertId: string;
  kind: AlertKind;
  severity: AlertSeverity;
  kioskId: string | null;
  reason: string;
  count: number;
  sinceMs: number;
  lastMs: number;
}

interface KioskLink {
  openSessions: number;
  /** When the last session closed (or tracking began), null while a session is open. */
  offlineSinceMs: number | null;
}

export class AlertEngine {
  readonly options: AlertEngineOptions;
  private readonly conditions = new Map<string, Condition>();
  private readonly kiosks = new Map<string, KioskLink>();
  private sessionsOpen = 0;
  private droppedSeen = 0;
  private refused = 0;
  private changed = false;

  constructor(options: Partial<AlertEngineOptions> = {}) {
    // An option passed as undefined (an unset CLI flag) keeps its default.
    const given = Object.entries<unknown>(options).filter(([, value]) => value !== undefined);
    this.options = { ...DEFAULT_ALERT_OPTIONS, ...(Object.fromEntries(given) as Partial<AlertEngineOptions>) };
  }

  /** The provisioned kiosks: new ones start their offline clock now; removed ones are forgotten. */
  setFleet(kioskIds: Iterable<string>, nowMs: number): AlertPayload[] {
    const fleet = new Set(kioskIds);
    const out: AlertPayload[] = [];
    for (const kioskId of this.kiosks.keys()) {
      if (fleet.has(kioskId)) continue;
      // A revoked kiosk is not "down"; its security alerts still run their quiet period.
      for (const condition of [...this.conditions.values()]) {
        if (condition.kioskId === kioskId && condition.kind !== 'security') out.push(this.clear(condition));
      }
      this.sessionsOpen -= this.kiosks.get(kioskId)?.openSessions ?? 0;
      this.kiosks.delete(kioskId);
    }
    for (const kioskId of fleet) this.link(kioskId, nowMs);
    return out;
  }

  sessionOpened(kioskId: string, nowMs: number): AlertPayload[] {
    const link = this.link(kioskId, nowMs);
    if (link === null) return [];
    link.openSessions += 1;
    link.offlineSinceMs = null;
    this.sessionsOpen += 1;
    const offline = this.conditions.get(`kiosk-offline:${kioskId}`);
    return offline === undefined ? [] : [this.clear(offline)];
  }

  sessionClosed(kioskId: string, nowMs: number): AlertPayload[] {
    const link = this.kiosks.get(kioskId);
    if (link === undefined || link.openSessions === 0) return [];
    link.openSessions -= 1;
    this.sessionsOpen -= 1;
    if (link.openSessions === 0) link.offlineSinceMs = nowMs;
    return [];
  }

  /** Open sessions of one kiosk: the one count, which the kiosk status board asks too. */
  openSessions(kioskId: string): number {
    return this.kiosks.get(kioskId)?.openSessions ?? 0;
  }

  /** One device report: a fault per device that is not working, low cash per cassette. */
  deviceReport(
    kioskId: string,
    devices: DeviceStates,
    cassettes: readonly CassetteReport[],
    nowMs: number,
  ): AlertPayload[] {
    const out: AlertPayload[] = [];
    for (const name of DEVICE_NAMES) {
      const state = devices[name];
      // A kiosk without the optional device reports none (or noDevice): nothing is wrong with it.
      if (state === undefined || (state === 'noDevice' && OPTIONAL_DEVICE_NAMES.includes(name))) {
        if (OPTIONAL_DEVICE_NAMES.includes(name))
          this.hold(
            out,
            false,
            {
              alertId: `device-fault:${kioskId}:${name}`,
              kind: 'device-fault',
              severity: 'critical',
              kioskId,
              reason: '',
            },
            nowMs,
          );
        continue;
      }
      // deviceBusy is the dispenser at work, not a fault: alerting on it would flap with every withdrawal.
      const faulty = state !== 'online' && state !== 'deviceBusy';
      const severity: AlertSeverity = state === 'userError' ? 'warning' : 'critical';
      this.hold(
        out,
        faulty,
        {
          alertId: `device-fault:${kioskId}:${name}`,
          kind: 'device-fault',
          severity,
          kioskId,
          reason: `${name} ${state}`,
        },
        nowMs,
      );
    }
    const reported = new Set<string>();
    for (const cassette of cassettes) {
      const alertId = `low-cash:${kioskId}:${cassette.denominationCents}`;
      reported.add(alertId);
      const low = cassette.count < this.options.lowCashCount;
      const severity: AlertSeverity = cassette.count === 0 ? 'critical' : 'warning';
      const reason = `${cassette.count} notes of ${cassette.denominationCents} cents left (below ${this.options.lowCashCount})`;
      this.hold(out, low, { alertId, kind: 'low-cash', severity, kioskId, reason }, nowMs);
    }
    // A cassette no longer reported (taken out) has no cash level to be low about.
    for (const condition of [...this.conditions.values()]) {
      if (condition.kind === 'low-cash' && condition.kioskId === kioskId && !reported.has(condition.alertId))
        out.push(this.clear(condition));
    }
    return out;
  }

  /** A security close (BAD_MAC, REPLAYED_HELLO, RATE_LIMITED, …), a lockout or a revoked kiosk. */
  security(kioskId: string | null, reason: string, nowMs: number): AlertPayload[] {
    const code = REASON_PATTERN.test(reason) ? reason : 'OTHER';
    const alertId = `security:${kioskId ?? '-'}:${code}`;
    const existing = this.conditions.get(alertId);
    if (existing !== undefined) {
      existing.count += 1;
      existing.lastMs = nowMs;
      this.changed = true;
      return [];
    }
    const severity: AlertSeverity = CRITICAL_SECURITY_REASONS.has(code) ? 'critical' : 'warning';
    return this.raise({ alertId, kind: 'security', severity, kioskId, reason: code }, nowMs);
  }

  /** ACCOUNT_LOCKED: five wrong passwords, or a try on a locked account. */
  loginLocked(kioskId: string, nowMs: number): AlertPayload[] {
    return this.security(kioskId, 'ACCOUNT_LOCKED', nowMs);
  }

  /** The sink's total of dropped messages since start (monotonic). */
  telemetryDropped(droppedTotal: number, nowMs: number): AlertPayload[] {
    const delta = droppedTotal - this.droppedSeen;
    if (delta <= 0) return [];
    this.droppedSeen = droppedTotal;
    const existing = this.conditions.get('telemetry-dropped');
    if (existing !== undefined) {
      existing.count += delta;
      existing.lastMs = nowMs;
      this.changed = true;
      return [];
    }
    // count = messages dropped while raised, so the clear says how many were lost in all.
    return this.raise(
      {
        alertId: 'telemetry-dropped',
        kind: 'telemetry-dropped',
        severity: 'warning',
        kioskId: null,
        reason: 'telemetry messages dropped while the broker was unreachable',
      },
      nowMs,
      delta,
    );
  }

  /** The time rules: kiosks offline past the threshold; security and drop alerts gone quiet. */
  tick(nowMs: number): AlertPayload[] {
    const out: AlertPayload[] = [];
    for (const [kioskId, link] of this.kiosks) {
      if (link.offlineSinceMs === null || nowMs - link.offlineSinceMs < this.options.kioskOfflineAlertMs) continue;
      const alertId = `kiosk-offline:${kioskId}`;
      if (this.conditions.has(alertId)) continue;
      const seconds = Math.round(this.options.kioskOfflineAlertMs / 1000);
      out.push(
        ...this.raise(
          {
            alertId,
            kind: 'kiosk-offline',
            severity: 'critical',
            kioskId,
            reason: `no session for ${seconds} s or more`,
          },
          link.offlineSinceMs,
        ),
      );
    }
    for (const condition of [...this.conditions.values()]) {
      const quietMs =
        condition.kind === 'security'
          ? this.options.securityQuietMs
          : condition.kind === 'telemetry-dropped'
            ? this.options.droppedQuietMs
            : null;
      if (quietMs !== null && nowMs - condition.lastMs >= quietMs) out.push(this.clear(condition));
    }
    return out;
  }

  /** The raised alerts, newest first, at most ACTIVE_ALERTS_MAX. */
  active(): ActiveAlertsPayload {
    const newest = [...this.conditions.values()].sort((a, b) => b.sinceMs - a.sinceMs).slice(0, ACTIVE_ALERTS_MAX);
    return { alerts: newest.map((condition) => body(condition)) };
  }

  /** True once after a raised alert changed (count, severity, reason) without a transition. */
  takeChanged(): boolean {
    const changed = this.changed;
    this.changed = false;
    return changed;
  }

  stats(): AlertEngineStats {
    return {
      conditions: this.conditions.size,
      conditionsRefused: this.refused,
      kiosks: this.kiosks.size,
      sessionsOpen: this.sessionsOpen,
    };
  }

  private link(kioskId: string, nowMs: number): KioskLink | null {
    const existing = this.kiosks.get(kioskId);
    if (existing !== undefined) return existing;
    if (this.kiosks.size >= this.options.kiosksMax) return null;
    const link = { openSessions: 0, offlineSinceMs: nowMs };
    this.kiosks.set(kioskId, link);
    return link;
  }

  /** A level condition: raised while `holds`, cleared when it stops; updates in place while raised. */
  private hold(
    out: AlertPayload[],
    holds: boolean,
    spec: Omit<Condition, 'count' | 'sinceMs' | 'lastMs'>,
    nowMs: number,
  ): void {
    const existing = this.conditions.get(spec.alertId);
    if (!holds) {
      if (existing !== undefined) out.push(this.clear(existing));
      return;
    }
    if (existing === undefined) {
      out.push(...this.raise(spec, nowMs));
      return;
    }
    if (existing.reason !== spec.reason || existing.severity !== spec.severity) {
      // Still the same condition (one raise per condition): the snapshot shows the change.
      if (existing.kind === 'device-fault') existing.count += 1;
      existing.reason = spec.reason;
      existing.severity = spec.severity;
      existing.lastMs = nowMs;
      this.changed = true;
    }
  }

  private raise(spec: Omit<Condition, 'count' | 'sinceMs' | 'lastMs'>, sinceMs: number, count = 1): AlertPayload[] {
    if (this.conditions.size >= this.options.conditionsMax) {
      this.refused += 1;
      return [];
    }
    const condition: Condition = { ...spec, count, sinceMs, lastMs: sinceMs };
    this.conditions.set(condition.alertId, condition);
    return [{ ...body(condition), state: 'raised' }];
  }

  private clear(condition: Condition): AlertPayload {
    this.conditions.delete(condition.alertId);
    return { ...body(condition), state: 'cleared' };
  }
}

function body(condition: Condition): Omit<AlertPayload, 'state'> {
  const { alertId, kind, severity, kioskId, reason, count, sinceMs } = condition;
  return { alertId, kind, severity, kioskId, reason, count, since: new Date(sinceMs).toISOString() };
}
