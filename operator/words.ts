// Plain words for every name the telemetry carries (device states, cash levels, alert kinds,
// security reasons, decline codes, actions), in one place, so the dashboard never shows an
// operator `deviceBusy` or `REPLAYED_HELLO` and a new name is added here once. Pure.
import { DEVICE_STATES, declineText, deviceStateWords, isDeclineCode, type DeviceState } from '../protocol/index.js';
import type { AlertKind, CashLevel } from '../protocol/index.js';

/** The op of a kiosk's device report: the kiosk's health, not a customer's request. */
export const DEVICE_REPORT_ACTION = 'device.report';

// The device states' words are protocol/'s: the kiosk's status line uses the same ones.
export { deviceStateWords };

export type DeviceName = 'keypad' | 'display' | 'dispenser';
export const DEVICE_NAMES: readonly DeviceName[] = ['keypad', 'display', 'dispenser'];
/** The devices only some kiosks have, and their words. */
const OPTIONAL_DEVICES = [
  ['cashIn', 'cash-in'],
  ['printer', 'printer'],
] as const;

/** `dispenser busy`, `keypad hardware fault, display missing`: only the devices not online. */
export function devicesWords(
  devices: Record<DeviceName, DeviceState> & { cashIn?: DeviceState; printer?: DeviceState },
  all = false,
): string {
  const named: [string, DeviceState][] = DEVICE_NAMES.map((name) => [name, devices[name]]);
  for (const [key, words] of OPTIONAL_DEVICES) {
    const state = devices[key];
    if (state !== undefined) named.push([words, state]);
  }
  const shown = named.filter(([, state]) => all || state !== 'online');
  return shown.length === 0 ? 'all ok' : shown.map(([name, state]) => `${name} ${deviceStateWords(state)}`).join(', ');
}

const CASH_LEVEL_WORDS: Record<CashLevel, string> = { ok: 'ok', low: 'low', empty: 'empty', unknown: '?' };
export const cashLevelWords = (level: CashLevel): string => CASH_LEVEL_WORDS[level];

const ALERT_KIND_WORDS: Record<AlertKind, string> = {
  'kiosk-offline': 'kiosk offline',
  'device-fault': 'device fault',
  'low-cash': 'low cash',
  security: 'security',
  'telemetry-dropped': 'telemetry lost',
};
export const alertKindWords = (kind: AlertKind): string => ALERT_KIND_WORDS[kind];

/**
 * Why a session was closed or a security alert raised (SessionCloseReason and the alert
 * engine's codes). Short, because an alert line has about 25 columns for it at 80 columns.
 */
const SECURITY_REASON_WORDS: Record<string, string> = {
  BAD_MAC: 'tampered record',
  REPLAYED_HELLO: 'replayed handshake',
  HANDSHAKE: 'failed handshake',
  STALE_TIMESTAMP: 'stale timestamp',
  FRAME_LENGTH: 'oversized frame',
  VERSION: 'wrong protocol version',
  RECORD_TYPE: 'unknown record type',
  RATE_LIMITED: 'handshake flood',
  BAD_MESSAGE: 'malformed message',
  ACCOUNT_LOCKED: 'account locked',
  KIOSK_REVOKED: 'revoked kiosk in use',
  TIMEOUT: 'session timed out',
  TRUNCATED: 'truncated record',
  SEQUENCE_LIMIT: 'session too long',
  LIFETIME: 'session too old',
  OTHER: 'other security event',
};

/** A security code in words; an unknown code (a newer bank) is shown as it came, lower-cased. */
export function securityReasonWords(code: string): string {
  return SECURITY_REASON_WORDS[code] ?? code.toLowerCase().replace(/_/g, ' ');
}

/** An event's outcome: `ok`, or the decline in the same words the kiosk and the CLI use. */
export function outcomeWords(outcome: string): string {
  if (outcome === 'ok') return 'ok';
  return isDeclineCode(outcome) ? declineText[outcome].toLowerCase() : outcome.toLowerCase().replace(/_/g, ' ');
}

const ACTION_WORDS: Record<string, string> = {
  register: 'register',
  login: 'login',
  logout: 'logout',
  balance: 'balance',
  deposit: 'deposit',
  'withdraw.hold': 'withdrawal hold',
  'withdraw.post': 'withdrawal',
  'withdraw.void': 'withdrawal voided',
  'device.report': 'device report',
  request: 'unreadable request',
};

export const actionWords = (action: string): string => ACTION_WORDS[action] ?? action;

/** Why the bank went offline: its last will (`lost`) or a clean stop (`shutdown`). */
export function bankReasonWords(reason: string): string {
  return reason === 'lost' ? 'connection lost' : reason === 'shutdown' ? 'shut down' : reason;
}

export function isDeviceState(value: string): value is DeviceState {
  return (DEVICE_STATES as readonly string[]).includes(value);
}

/** Why the broker could not be reached, in words, with the code an administrator would search for. */
const CONNECTION_REASON_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused, nothing listens there',
  ENOTFOUND: 'host name not found',
  EAI_AGAIN: 'host name lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ETIMEDOUT: 'no answer',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection broken',
  'connack timeout': 'no answer',
  'connection closed': 'connection closed',
  DEPTH_ZERO_SELF_SIGNED_CERT: "broker's certificate not trusted",
  SELF_SIGNED_CERT_IN_CHAIN: "broker's certificate not trusted",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "broker's certificate not trusted",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "broker's certificate not trusted",
  CERT_HAS_EXPIRED: "broker's certificate expired",
  ERR_TLS_CERT_ALTNAME_INVALID: "broker's certificate is for another host",
};

export function connectionReasonWords(reason: string): string {
  const words = CONNECTION_REASON_WORDS[reason];
  if (words === undefined) return reason;
  return words === reason ? words : `${words} (${reason})`;
}
