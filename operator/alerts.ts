// The alerts panel. An alert the bank raised stays on the operator's screen until the
// operator acknowledges it, even after the bank clears it (a kiosk that was down for five
// minutes at 3 a.m. must still be seen at 8); a cleared one is shown as cleared. An
// acknowledged occurrence (alertId + since) is remembered, so the retained snapshot of active
// alerts, re-delivered on every reconnect, does not bring it back.
import { isNewer, type ActiveAlertsPayload, type AlertPayload, type Envelope } from '../protocol/index.js';
import type { AlertEntry, DashboardState } from './state.js';

const occurrence = (alert: { alertId: string; since: string }): string => `${alert.alertId}@${alert.since}`;

export function isAcked(state: DashboardState, alert: { alertId: string; since: string }): boolean {
  return state.acked.includes(occurrence(alert));
}

/** Adds within the bound: the oldest cleared alert goes first, then the oldest raised one. */
function withAlert(state: DashboardState, entry: AlertEntry): DashboardState {
  const index = state.alerts.findIndex((a) => a.alertId === entry.alertId);
  // A new alert, or a cleared one raised again, counts as one more raised alert.
  const raisedAgain = entry.state === 'raised' && (index < 0 || state.alerts[index]?.state === 'cleared');
  const totals = raisedAgain ? { ...state.totals, alertsRaised: state.totals.alertsRaised + 1 } : state.totals;
  if (index >= 0) return { ...state, totals, alerts: state.alerts.map((a, i) => (i === index ? entry : a)) };
  let alerts = [...state.alerts, entry];
  let overflow = state.ignored.overflow;
  while (alerts.length > state.limits.alertsMax) {
    const cleared = alerts.findIndex((a) => a.state === 'cleared');
    alerts = alerts.filter((_, i) => i !== (cleared >= 0 ? cleared : 0));
    overflow += 1;
  }
  return { ...state, alerts, totals, ignored: { ...state.ignored, overflow } };
}

export function applyAlert(state: DashboardState, payload: Envelope & AlertPayload): DashboardState {
  const current = state.alerts.find((a) => a.alertId === payload.alertId);
  if (current !== undefined && !isNewer(payload, current.envelope))
    return { ...state, ignored: { ...state.ignored, stale: state.ignored.stale + 1 } };
  const { v: _v, ts, seq, state: alertState, ...body } = payload;
  if (alertState === 'cleared') {
    // A clear for an alert we never showed (raised before we started) is only logged.
    if (current === undefined) return state;
    return withAlert(state, {
      ...current,
      count: Math.max(current.count, body.count),
      state: 'cleared',
      envelope: { v: 1, ts, seq },
    });
  }
  if (current === undefined && isAcked(state, payload)) return state;
  return withAlert(state, { ...body, state: 'raised', envelope: { v: 1, ts, seq } });
}

/**
 * Reconciles with the retained snapshot: alerts in it that we do not show (and did not
 * acknowledge) are added; alerts we show as raised that it no longer lists, and that are
 * older than it, cleared while we were not listening.
 */
export function applyAlertsSnapshot(state: DashboardState, payload: Envelope & ActiveAlertsPayload): DashboardState {
  if (state.alertsSnapshot !== null && !isNewer(payload, state.alertsSnapshot))
    return { ...state, ignored: { ...state.ignored, stale: state.ignored.stale + 1 } };
  const envelope: Envelope = { v: 1, ts: payload.ts, seq: payload.seq };
  let next: DashboardState = { ...state, alertsSnapshot: envelope };
  const listed = new Set(payload.alerts.map((a) => a.alertId));
  for (const alert of payload.alerts) {
    const current = next.alerts.find((a) => a.alertId === alert.alertId);
    if (current !== undefined && !isNewer(envelope, current.envelope)) continue;
    if (current === undefined && isAcked(next, alert)) continue;
    next = withAlert(next, { ...alert, state: 'raised', envelope });
  }
  const alerts = next.alerts.map((a) =>
    a.state === 'raised' && !listed.has(a.alertId) && isNewer(envelope, a.envelope)
      ? { ...a, state: 'cleared' as const, envelope }
      : a,
  );
  return { ...next, alerts };
}

function remember(state: DashboardState, removed: readonly AlertEntry[]): readonly string[] {
  const acked = [...state.acked, ...removed.map(occurrence)];
  return acked.length > state.limits.ackedMax ? acked.slice(acked.length - state.limits.ackedMax) : acked;
}

/** The order the panel shows: raised before cleared, critical before warning, newest first. */
export function sortedAlerts(alerts: readonly AlertEntry[]): AlertEntry[] {
  const rank = (a: AlertEntry): number => (a.state === 'raised' ? 0 : 2) + (a.severity === 'critical' ? 0 : 1);
  return [...alerts].sort((a, b) => rank(a) - rank(b) || (a.since < b.since ? 1 : a.since > b.since ? -1 : 0));
}

/** The selected alert: the one the operator moved to, or the first in panel order. */
export function selectedAlert(state: DashboardState): AlertEntry | undefined {
  const sorted = sortedAlerts(state.alerts);
  return sorted.find((a) => a.alertId === state.selectedAlertId) ?? sorted[0];
}

export function ackSelected(state: DashboardState): DashboardState {
  const selected = selectedAlert(state);
  if (selected === undefined) return state;
  // The selection moves to the next alert in panel order, as in a mail client.
  const sorted = sortedAlerts(state.alerts);
  const index = sorted.indexOf(selected);
  const next = sorted[index + 1] ?? sorted[index - 1];
  const alerts = state.alerts.filter((a) => a.alertId !== selected.alertId);
  return { ...state, alerts, acked: remember(state, [selected]), selectedAlertId: next?.alertId ?? null };
}

export function ackAll(state: DashboardState): DashboardState {
  if (state.alerts.length === 0) return state;
  return { ...state, alerts: [], acked: remember(state, state.alerts), selectedAlertId: null };
}

export function moveSelection(state: DashboardState, delta: number): DashboardState {
  const sorted = sortedAlerts(state.alerts);
  const current = selectedAlert(state);
  if (current === undefined) return state;
  const index = Math.min(sorted.length - 1, Math.max(0, sorted.indexOf(current) + delta));
  return { ...state, selectedAlertId: sorted[index]?.alertId ?? null };
}
