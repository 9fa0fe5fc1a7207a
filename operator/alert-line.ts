// One alert as the operator reads it: what is wrong, in words and money, built from the
// alert's structured parts (its kind, the device or denomination its alertId names, the
// kiosk's last status) rather than from the bank's English reason. At 80 columns the alerts
// panel is 46 wide, so the line is laid out by importance: the time, severity, kiosk and what
// is wrong always; the detail (which notes, how many times) only where it fits; and when even
// the essentials do not fit they wrap onto a second, indented line instead of being cut. Pure.
import { formatCents } from '../protocol/index.js';
import { clockTime } from './clock.js';
import type { AlertEntry, KioskEntry } from './state.js';
import { wrapText } from './view.js';
import { alertKindWords, deviceStateWords, isDeviceState, securityReasonWords } from './words.js';

/** What an alert says, wherever it is shown (the alerts panel, the event log). */
export type AlertFacts = Pick<AlertEntry, 'alertId' | 'kind' | 'kioskId' | 'reason' | 'count'>;

export interface AlertSummary {
  /** What must be read: `low cash: 40.00 left`, `dispenser hardware fault`. */
  essential: string;
  /** Helpful when there is room: `in 20.00 notes`. */
  detail: string | null;
}

/** The part of an alertId after `<kind>:<kioskId>:`, e.g. the device or the denomination. */
function subject(alert: AlertFacts): string | null {
  const prefix = `${alert.kind}:${alert.kioskId ?? '-'}:`;
  return alert.alertId.startsWith(prefix) ? alert.alertId.slice(prefix.length) : null;
}

function lowCash(alert: AlertFacts, kiosk: KioskEntry | undefined): AlertSummary {
  const denominationCents = Number(subject(alert));
  if (!Number.isSafeInteger(denominationCents) || denominationCents <= 0)
    return { essential: alertKindWords(alert.kind), detail: null };
  const notes = `in ${formatCents(denominationCents)} notes`;
  // The kiosk's newest status has the count; older than the alert or absent, the bank's
  // reason ("3 notes of 2000 cents left …") starts with it.
  const count =
    kiosk?.cassettes?.find((c) => c.denominationCents === denominationCents)?.count ??
    Number(/^(\d+) notes/.exec(alert.reason)?.[1] ?? NaN);
  if (!Number.isSafeInteger(count)) return { essential: 'low cash', detail: notes };
  return {
    essential: `${count === 0 ? 'out of cash' : 'low cash'}: ${formatCents(count * denominationCents)} left`,
    detail: notes,
  };
}

function deviceFault(alert: AlertFacts): AlertSummary {
  // The reason is `<device> <state>` (TOPICS.md); the device is also in the alertId.
  const [device, state] = alert.reason.split(' ');
  const name = subject(alert) ?? device ?? 'device';
  return {
    essential: state !== undefined && isDeviceState(state) ? `${name} ${deviceStateWords(state)}` : `${name} fault`,
    detail: null,
  };
}

export function alertSummary(alert: AlertFacts, kiosk: KioskEntry | undefined): AlertSummary {
  switch (alert.kind) {
    case 'low-cash':
      return lowCash(alert, kiosk);
    case 'device-fault':
      return deviceFault(alert);
    case 'kiosk-offline':
      return { essential: 'offline', detail: 'no session' };
    case 'security':
      return { essential: securityReasonWords(alert.reason), detail: 'security' };
    case 'telemetry-dropped':
      return { essential: 'telemetry messages lost', detail: 'broker was unreachable' };
    default: {
      const never: never = alert.kind;
      return never;
    }
  }
}

/** Who the alert is about: the kiosk, or for bank-wide ones the bank. */
export function alertAbout(alert: Pick<AlertEntry, 'kind' | 'kioskId'>): string {
  if (alert.kioskId !== null) return alert.kioskId;
  return alert.kind === 'security' ? 'unknown kiosk' : 'bank';
}

/**
 * The alert as one line if it fits `width` (with its detail if that fits too), else as two:
 * the essentials wrapped at a word, the second line indented under the kiosk.
 */
export function alertLines(
  alert: AlertEntry,
  kiosk: KioskEntry | undefined,
  selected: boolean,
  width: number,
): string[] {
  const severity = alert.severity === 'critical' ? 'CRIT' : 'WARN';
  const state = alert.state === 'cleared' ? ' cleared' : '';
  const { essential, detail } = alertSummary(alert, kiosk);
  const count = alert.count > 1 ? ` ×${alert.count}` : '';
  // Minutes are enough to place a condition; the event log has the seconds.
  const head = `${selected ? '▶' : ' '} ${clockTime(alert.since).slice(0, 5)} ${severity}${state} `;
  const body = `${alertAbout(alert)} ${essential}${count}`;
  const withDetail = detail === null ? null : `${head}${body} (${detail})`;
  if (withDetail !== null && withDetail.length <= width) return [withDetail];
  return wrapText(`${head}${body}`, width, head.length);
}
