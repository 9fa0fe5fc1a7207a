// The text of each panel, from the state, for a given inner size: pure, so "what the operator
// reads" is unit-testable without a terminal. Empty panels say why they are empty.
import { formatCents } from '../protocol/index.js';
import { alertAbout, alertLines, alertSummary } from './alert-line.js';
import { selectedAlert, sortedAlerts } from './alerts.js';
import { age, clockTime } from './clock.js';
import { newSincePause, visibleLog } from './log.js';
import type { AlertEntry, DashboardState, DeviceStates, KioskEntry, LogEntry } from './state.js';
import { line, lineText, wrapText, type Line, type Segment, type Tone } from './view.js';
import {
  DEVICE_NAMES,
  DEVICE_REPORT_ACTION,
  actionWords,
  alertKindWords,
  cashLevelWords,
  devicesWords,
  outcomeWords,
} from './words.js';

export interface PanelText {
  label: string;
  lines: Line[];
}

const WAITING = 'waiting for the broker…';

/** Before the first connection there is nothing to show but that we are waiting. */
const waitingForBroker = (state: DashboardState): boolean => !state.connection.everOnline;

function connectionSegments(state: DashboardState, withReason: boolean): Segment[] {
  const { connection } = state;
  const reason = connection.reason !== null && withReason ? ` (${connection.reason})` : '';
  switch (connection.state) {
    case 'online':
      return [{ text: 'online', tone: 'ok' }];
    case 'refused':
      return [{ text: `refused: ${connection.reason ?? 'by the broker'}`, tone: 'bad' }];
    case 'connecting':
    case 'offline':
      return [{ text: connection.everOnline ? `lost, reconnecting…${reason}` : `${WAITING}${reason}`, tone: 'bad' }];
    default: {
      const never: never = connection.state;
      return never;
    }
  }
}

/**
 * One row: the broker and our connection to it, each bank's status, the clock. When it does
 * not fit, the title goes first, then the URL's scheme, then the connection's reason (the
 * event log has it), so the bank's status is always visible.
 */
export function headerLine(state: DashboardState, width = Number.MAX_SAFE_INTEGER): Line {
  const banks = [...state.banks.values()];
  const tail: Segment[] = [];
  if (banks.length === 0)
    tail.push(
      { text: ' │ bank ', tone: 'heading' },
      { text: state.connection.state === 'online' ? 'no status yet' : 'unknown', tone: 'muted' },
    );
  for (const bank of banks.slice(0, 2))
    tail.push(
      { text: ` │ ${bank.hostId} `, tone: 'heading' },
      { text: bank.status, tone: bank.status === 'online' ? 'ok' : 'bad' },
    );
  if (banks.length > 2) tail.push({ text: ` +${banks.length - 2}`, tone: 'heading' });
  tail.push({ text: ` │ ${clockTime(state.nowMs)}`, tone: 'heading' });
  const shortUrl = state.brokerUrl.replace(/^[a-z]+:\/\//, '');
  const build = (title: string, url: string, withReason: boolean): Line => [
    { text: ` ${title}${url} `, tone: 'heading' },
    ...connectionSegments(state, withReason),
    ...tail,
  ];
  const candidates = [
    build('ATM OPERATOR │ ', state.brokerUrl, true),
    build('', state.brokerUrl, true),
    build('', shortUrl, true),
    build('', shortUrl, false),
  ];
  return candidates.find((candidate) => lineText(candidate).length <= width) ?? (candidates.at(-1) as Line);
}

/** Where the DEVICES column starts; a kiosk's device list that does not fit goes below, indented. */
const KIOSK_DEVICES_INDENT = 2;

/** A kiosk's row, and its device list on the lines below when it does not fit `width`. */
function kioskRows(kiosk: KioskEntry, nowMs: number, width: number): Line[] {
  const status = kiosk.stale ? 'unknown' : kiosk.status;
  const seenMs = kiosk.lastSeen === null ? null : Date.parse(kiosk.lastSeen);
  const troubled = kiosk.devices !== null && DEVICE_NAMES.some((name) => kiosk.devices?.[name] !== 'online');
  const devices = kiosk.devices === null ? 'no report' : troubled ? devicesWords(kiosk.devices) : 'ok';
  const tone: Tone = kiosk.stale
    ? 'muted'
    : kiosk.status === 'offline'
      ? 'bad'
      : troubled || kiosk.cashLevel === 'low' || kiosk.cashLevel === 'empty'
        ? 'decline'
        : 'plain';
  const base = `${kiosk.kioskId.padEnd(12)} ${status.padEnd(8)} ${(seenMs === null ? '-' : age(seenMs, nowMs)).padStart(4)}  ${cashLevelWords(kiosk.cashLevel).padEnd(5)} `;
  if (base.length + devices.length <= width) return [line(`${base}${devices}`, tone)];
  const below = wrapText(`${' '.repeat(KIOSK_DEVICES_INDENT)}${devices}`, width, KIOSK_DEVICES_INDENT);
  return [line(`${base}↓`.slice(0, width), tone), ...below.map((text) => line(text, tone))];
}

export function kiosksPanel(state: DashboardState, rows: number, width = Number.MAX_SAFE_INTEGER): PanelText {
  const kiosks = [...state.kiosks.values()].sort((a, b) => (a.kioskId < b.kioskId ? -1 : 1));
  const online = kiosks.filter((k) => !k.stale && k.status === 'online').length;
  const label = ` Kiosks (${online}/${kiosks.length} online) `;
  if (kiosks.length === 0)
    return { label, lines: [line(waitingForBroker(state) ? WAITING : 'no kiosk has reported yet', 'muted')] };
  const lines: Line[] = [line('KIOSK        STATE    SEEN  CASH  DEVICES', 'heading')];
  const groups = kiosks.map((kiosk) => kioskRows(kiosk, state.nowMs, width));
  // Whole kiosks only; when they do not all fit, the last row says how many more there are.
  if (lines.length + groups.flat().length <= rows) return { label, lines: [...lines, ...groups.flat()] };
  let shown = 0;
  for (const group of groups) {
    if (lines.length + group.length > rows - 1) break;
    lines.push(...group);
    shown += 1;
  }
  lines.push(line(`… ${kiosks.length - shown} more`, 'muted'));
  return { label, lines };
}

function alertTone(alert: AlertEntry, selected: boolean): Tone {
  return selected
    ? 'selected'
    : alert.state === 'cleared'
      ? 'muted'
      : alert.severity === 'critical'
        ? 'bad'
        : 'decline';
}

/**
 * The alerts, `width` columns wide (46 at 80 columns): each one line, or two when what it
 * says does not fit (alert-line.ts), scrolled so the selected one is fully in view.
 */
export function alertsPanel(state: DashboardState, rows: number, width = Number.MAX_SAFE_INTEGER): PanelText {
  const alerts = sortedAlerts(state.alerts);
  const raised = alerts.filter((a) => a.state === 'raised').length;
  const label = ` Alerts (${raised} raised, ${alerts.length - raised} cleared) `;
  if (alerts.length === 0)
    return { label: ' Alerts ', lines: [line(waitingForBroker(state) ? WAITING : 'no alerts', 'muted')] };
  const selected = selectedAlert(state);
  const groups = alerts.map((a) =>
    alertLines(a, a.kioskId === null ? undefined : state.kiosks.get(a.kioskId), a === selected, width).map((text) =>
      line(text, alertTone(a, a === selected)),
    ),
  );
  const index = selected === undefined ? 0 : alerts.indexOf(selected);
  // Keep the selection in view: start as late as needed for it to end on the last row at most.
  let first = index;
  let used = groups[index]?.length ?? 0;
  while (first > 0 && used + (groups[first - 1]?.length ?? 0) <= rows) used += groups[--first]?.length ?? 0;
  // …and no later than needed to fill the panel.
  const shown = groups.slice(first).flat();
  while (first > 0 && shown.length < rows && shown.length + (groups[first - 1]?.length ?? 0) <= rows)
    shown.unshift(...(groups[--first] ?? []));
  return { label, lines: shown.slice(0, rows) };
}

export function totalsPanel(state: DashboardState): PanelText {
  const t = state.totals;
  const { ignored } = state;
  const dropped = state.telemetryDropped === null ? '-' : String(state.telemetryDropped);
  const metrics = state.rates.latest;
  const lines = [
    line(`requests ${t.requests}   declines ${t.declines}`),
    line(`deposits ${t.depositsCount} = ${formatCents(t.depositsCents)}`),
    line(`withdrawals ${t.withdrawalsCount} = ${formatCents(t.withdrawalsCents)}`),
    line(
      `failed logins ${t.loginsFailed}   alerts ${t.alertsRaised}`,
      t.loginsFailed > 0 || t.alertsRaised > 0 ? 'decline' : 'plain',
    ),
    // Five lines fit at 80×24: messages that did not parse only take room once there are some.
    line(
      `device reports ${t.deviceReports}  dropped ${dropped}${ignored.malformed > 0 ? `  malformed ${ignored.malformed}` : ''}${ignored.stale + ignored.overflow > 0 ? `  stale ${ignored.stale}  over ${ignored.overflow}` : ''}`,
      ignored.malformed > 0 || (state.telemetryDropped ?? 0) > 0 ? 'decline' : 'muted',
    ),
  ];
  // Taller screens also get the bank's latest latency and session figures.
  const ms = (value: number | null): string => (value === null ? '-' : `${Math.round(value)}ms`);
  if (metrics !== null)
    lines.push(line(`p50 ${ms(metrics.p50Ms)}  p99 ${ms(metrics.p99Ms)}  sessions ${metrics.sessionsOpen}`, 'muted'));
  return { label: ' Totals (this session) ', lines };
}

const BAD_OUTCOMES = new Set(['ACCOUNT_LOCKED', 'KIOSK_REVOKED', 'INTERNAL', 'BAD_REQUEST']);
const DECLINES = new Set([
  'INSUFFICIENT_FUNDS',
  'INVALID_AMOUNT',
  'LIMIT_EXCEEDED',
  'AUTH_FAILED',
  'USERNAME_TAKEN',
  'INVALID_USERNAME',
  'WEAK_PASSWORD',
  'DUPLICATE_TXN',
  'NOT_LOGGED_IN',
  'BUSY',
  'UNKNOWN_TXN',
]);

/** ok is green, an ordinary decline yellow, security and errors (and anything unknown) red. */
export function outcomeTone(outcome: string): Tone {
  if (outcome === 'ok') return 'ok';
  return DECLINES.has(outcome) && !BAD_OUTCOMES.has(outcome) ? 'decline' : 'bad';
}

/** Devices that stopped working are red, a customer's misuse yellow; busy and ok are plain. */
function devicesTone(devices: DeviceStates): Tone {
  const states = DEVICE_NAMES.map((name) => devices[name]);
  if (states.some((state) => state !== 'online' && state !== 'deviceBusy' && state !== 'userError')) return 'bad';
  return states.includes('userError') ? 'decline' : 'plain';
}

/** A kiosk's device report: what its devices do now, not a request with an outcome. */
function deviceReportRow(entry: Extract<LogEntry, { kind: 'event' }>): Line {
  // An older bank put the states in the outcome (keypad=… display=…); shown as it came.
  const what = entry.devices === null ? entry.outcome : devicesWords(entry.devices);
  return line(
    `${clockTime(entry.ts)} ${entry.kioskId} device report: ${what}`,
    entry.devices === null ? 'plain' : devicesTone(entry.devices),
  );
}

function logRow(entry: LogEntry): Line {
  switch (entry.kind) {
    case 'event': {
      if (entry.action === DEVICE_REPORT_ACTION) return deviceReportRow(entry);
      const amount = entry.amountCents === null ? '' : ` ${formatCents(entry.amountCents)}`;
      const outcome = entry.outcome === 'ok' ? 'ok' : `declined: ${outcomeWords(entry.outcome)}`;
      return line(
        `${clockTime(entry.ts)} ${entry.kioskId} ${entry.user} ${actionWords(entry.action)}${amount} ${outcome} ${Math.round(entry.latencyMs)}ms`,
        outcomeTone(entry.outcome),
      );
    }
    case 'alert': {
      const tone: Tone = entry.state === 'cleared' ? 'ok' : entry.severity === 'critical' ? 'bad' : 'decline';
      const severity = entry.severity === 'critical' ? 'CRIT' : 'WARN';
      // The log keeps what the alert said when it came: the kiosk's newer cash is not used.
      const { essential } = alertSummary(
        { alertId: entry.alertId, kind: entry.alertKind, kioskId: entry.kioskId, reason: entry.reason, count: 1 },
        undefined,
      );
      return line(
        `${clockTime(entry.ts)} ALERT ${entry.state} ${severity} ${alertKindWords(entry.alertKind)} ${alertAbout({ kind: entry.alertKind, kioskId: entry.kioskId })} ${essential}`,
        tone,
      );
    }
    case 'note':
      return line(`${clockTime(entry.atMs)} — ${entry.text}`, entry.tone === 'info' ? 'plain' : entry.tone);
    default: {
      const never: never = entry;
      return never;
    }
  }
}

/** A log line too long for the panel continues on the next, indented under the time. */
function wrapRow(shown: Line, width: number): Line[] {
  const tone = shown[0]?.tone ?? 'plain';
  return wrapText(lineText(shown), width, LOG_INDENT).map((text) => line(text, tone));
}

const LOG_INDENT = 'hh:mm:ss '.length;

export function eventsPanel(state: DashboardState, rows: number, width = Number.MAX_SAFE_INTEGER): PanelText {
  const entries = visibleLog(state);
  const paused = state.log.frozen !== null ? ` — PAUSED, ${newSincePause(state)} new (p resumes)` : '';
  const scrolled = state.log.offset > 0 ? ` — ${state.log.offset} lines back` : '';
  const label = ` Events${paused}${scrolled} `;
  // Until the first answer (or failure) the log says where it is trying; failures are notes.
  if (entries.length === 0)
    return {
      label,
      lines: wrapText(
        waitingForBroker(state) ? `connecting to the broker at ${state.brokerUrl}…` : 'no events yet',
        width,
        0,
      ).map((text) => line(text, 'muted')),
    };
  const end = Math.max(0, entries.length - state.log.offset);
  // The newest lines at the bottom; a wrapped one can push the oldest shown off the top.
  return {
    label,
    lines: entries
      .slice(Math.max(0, end - rows), end)
      .flatMap((entry) => wrapRow(logRow(entry), width))
      .slice(-Math.max(1, rows)),
  };
}
