// Plain words for every name the telemetry carries (device states, cash levels, alert kinds,
// security reasons, decline codes, actions), in one place, so the dashboard never shows an
// operator `deviceBusy` or `REPLAYED_HELLO` and a new name is added here once. Pure.
import { declineText, isDeclineCode, type DeviceState } from '../protocol/index.js';
import type { AlertKind, CashLevel } from '../protocol/index.js';

/** The op of a kiosk's device report: the kiosk's health, not a customer's request. */
export const DEVICE_REPORT_ACTION = 'device.report';

const DEVICE_STATE_WORDS: Record<DeviceState, string> = {
  online: 'ok',
  offline: 'offline',
  hardwareError: 'hardware fault',
  userError: 'misused',
  deviceBusy: 'busy',
  fraudAttempt: 'tampering suspected',
  noDevice: 'missing',
};

export const deviceStateWords = (state: DeviceState): string => DEVICE_STATE_WORDS[state];

export type DeviceName = 'keypad' | 'display' | 'dispenser';
export const DEVICE_NAMES: readonly DeviceName[] = ['keypad', 'display', 'dispenser'];

/** `dispenser busy`, `keypad hardware fault, display missing`: only the devices not online. */
export function devicesWords(devices: Record<DeviceName, DeviceState>, all = false): string {
  const shown = DEVICE_NAMES.filter((name) => all || devices[name] !== 'online');
  return shown.length === 0 ? 'all ok' : shown.map((name) => `${name} ${deviceStateWords(devices[name])}`).join(', ');
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

/** Why a session was closed or a security alert raised (SessionCloseReason and the alert engine's codes). */
const SECURITY_REASON_WORDS: Record<string, string> = {
  BAD_MAC: 'tampered or forged record',
  REPLAYED_HELLO: 'replayed handshake',
  HANDSHAKE: 'failed handshake (wrong key, unknown or revoked kiosk)',
  STALE_TIMESTAMP: 'stale timestamp (clock skew or replay)',
  FRAME_LENGTH: 'oversized frame',
  VERSION: 'wrong protocol version',
  RATE_LIMITED: 'handshake flood',
  BAD_MESSAGE: 'malformed message',
  ACCOUNT_LOCKED: 'account locked after failed logins',
  KIOSK_REVOKED: 'request from a revoked kiosk',
  TIMEOUT: 'session timed out',
  TRUNCATED: 'truncated record',
  SEQUENCE_LIMIT: 'session renewal overdue',
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
