// The alert engine's knobs and defaults, its counters, and the device states a report
// carries. Split from alerts.ts (issue 13), which re-exports them; the CLI's flags
// (telemetry/index.ts) fill the options.
import type { DeviceState } from '../protocol/index.js';

export interface AlertEngineOptions {
  /** A kiosk with no open session for this long is offline (a shorter flap raises nothing). */
  kioskOfflineAlertMs: number;
  /** A cassette with fewer notes than this is low (0 notes: critical). */
  lowCashCount: number;
  /** A security alert clears after this long without a repeat. */
  securityQuietMs: number;
  /** The telemetry-dropped alert clears after this long without a new drop. */
  droppedQuietMs: number;
  /** Raised conditions tracked at once; a new condition past this is refused and counted. */
  conditionsMax: number;
  /** Kiosks tracked (the provisioned fleet); a new kiosk past this is ignored. */
  kiosksMax: number;
}

export const DEFAULT_ALERT_OPTIONS: AlertEngineOptions = {
  kioskOfflineAlertMs: 60_000,
  lowCashCount: 20,
  securityQuietMs: 300_000,
  droppedQuietMs: 60_000,
  conditionsMax: 1_000,
  kiosksMax: 10_000,
};

export interface DeviceStates {
  keypad: DeviceState;
  display: DeviceState;
  dispenser: DeviceState;
  cashIn?: DeviceState;
  printer?: DeviceState;
}
/** The cash-in module and printer only some kiosks have: absent, or 'noDevice', is no fault. */
export const DEVICE_NAMES: readonly (keyof DeviceStates)[] = ['keypad', 'display', 'dispenser', 'cashIn', 'printer'];
export const OPTIONAL_DEVICE_NAMES: readonly (keyof DeviceStates)[] = ['cashIn', 'printer'];

/** What the engine holds, for the metrics payload (sessionsOpen) and tests. */
export interface AlertEngineStats {
  conditions: number;
  conditionsRefused: number;
  kiosks: number;
  sessionsOpen: number;
}
