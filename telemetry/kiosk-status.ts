// What the bank knows of each kiosk, as the retained atm/v1/kiosk/<id>/status payload: online
// while it has an open session (counted once, by the alert engine, which the board asks), when it was last heard from, its last device report and
// cash level. Pure; each input returns the status to publish, or null when nothing an
// operator sees has changed (so a busy kiosk does not republish on every request).
import type { CassetteReport } from '../protocol/index.js';
import type { CashLevel, CassetteLevel, KioskStatus } from '../protocol/index.js';
import type { DeviceStates } from './alerts.js';

/** Where the board reads a kiosk's open sessions: the alert engine, which counts them. */
export interface OpenSessionCount {
  openSessions(kioskId: string): number;
}

interface KioskRecord {
  lastSeenMs: number | null;
  devices: DeviceStates | null;
  cassettes: CassetteLevel[] | null;
}

/** A kiosk's cash: empty when no cassette has a note, low when any is below the threshold. */
export function cashLevelOf(cassettes: readonly CassetteLevel[] | null, lowCashCount: number): CashLevel {
  if (cassettes === null || cassettes.length === 0) return 'unknown';
  if (cassettes.every((cassette) => cassette.count === 0)) return 'empty';
  return cassettes.some((cassette) => cassette.count < lowCashCount) ? 'low' : 'ok';
}

export class KioskStatusBoard {
  private readonly kiosks = new Map<string, KioskRecord>();

  /** kiosksMax bounds memory; in practice it is the provisioned fleet (a handshake needs a PSK). */
  constructor(
    private readonly sessions: OpenSessionCount,
    private readonly lowCashCount: number,
    private readonly kiosksMax = 10_000,
  ) {}

  /**
   * A status the last run left retained: keeps its last-seen time, devices and cassettes, but
   * no session survives a restart, so an 'online' one is returned to be republished offline.
   */
  seed(status: KioskStatus): KioskStatus | null {
    const record = this.record(status.kioskId);
    if (record === null) return null;
    const lastSeenMs = status.lastSeen === null ? null : Date.parse(status.lastSeen);
    record.lastSeenMs = Number.isFinite(lastSeenMs) ? lastSeenMs : null;
    record.devices = status.devices === null ? null : { ...status.devices };
    record.cassettes =
      status.cassettes === null
        ? null
        : status.cassettes.map(({ denominationCents, count }) => ({ denominationCents, count }));
    return status.status === 'online' ? this.status(status.kioskId) : null;
  }

  /** After the count went up: the status to publish when this is the kiosk's first session. */
  sessionOpened(kioskId: string, nowMs: number): KioskStatus | null {
    const record = this.touch(kioskId, nowMs);
    if (record === null) return null;
    return this.sessions.openSessions(kioskId) === 1 ? this.status(kioskId) : null;
  }

  /** After the count went down (only then): the status to publish when it was the last session. */
  sessionClosed(kioskId: string, nowMs: number): KioskStatus | null {
    const record = this.kiosks.get(kioskId);
    if (record === undefined) return null;
    record.lastSeenMs = nowMs;
    return this.sessions.openSessions(kioskId) === 0 ? this.status(kioskId) : null;
  }

  /** The kiosk made a request: only its last-seen time moves (published with the next change). */
  seen(kioskId: string, nowMs: number): void {
    this.touch(kioskId, nowMs);
  }

  device(
    kioskId: string,
    devices: DeviceStates,
    cassettes: readonly CassetteReport[],
    nowMs: number,
  ): KioskStatus | null {
    const record = this.touch(kioskId, nowMs);
    if (record === null) return null;
    const next = {
      devices: {
        keypad: devices.keypad,
        display: devices.display,
        dispenser: devices.dispenser,
        ...(devices.cashIn === undefined ? {} : { cashIn: devices.cashIn }),
        ...(devices.printer === undefined ? {} : { printer: devices.printer }),
      },
      cassettes: cassettes.map(({ denominationCents, count }) => ({ denominationCents, count })),
    };
    const changed = JSON.stringify(next) !== JSON.stringify({ devices: record.devices, cassettes: record.cassettes });
    record.devices = next.devices;
    record.cassettes = next.cassettes;
    return changed ? this.status(kioskId) : null;
  }

  /** A kiosk (re)joined the fleet: on the board, offline until its first session. */
  add(kioskId: string): KioskStatus | null {
    return this.record(kioskId) === null ? null : this.status(kioskId);
  }

  /**
   * The kiosk's key was revoked: it leaves the board, and its last status, marked `revoked`,
   * is what to publish (retained) so that dashboards drop it rather than list it forever.
   */
  revoke(kioskId: string): KioskStatus {
    const last = this.status(kioskId) ?? {
      kioskId,
      status: 'offline',
      lastSeen: null,
      devices: null,
      cassettes: null,
      cashLevel: 'unknown',
    };
    this.kiosks.delete(kioskId);
    return { ...last, status: 'revoked' };
  }

  /** The status of every kiosk on the board. */
  all(): KioskStatus[] {
    return [...this.kiosks.keys()].map((kioskId) => this.status(kioskId)).filter((status) => status !== null);
  }

  status(kioskId: string): KioskStatus | null {
    const record = this.kiosks.get(kioskId);
    if (record === undefined) return null;
    return {
      kioskId,
      status: this.sessions.openSessions(kioskId) > 0 ? 'online' : 'offline',
      lastSeen: record.lastSeenMs === null ? null : new Date(record.lastSeenMs).toISOString(),
      devices: record.devices === null ? null : { ...record.devices },
      cassettes: record.cassettes === null ? null : record.cassettes.map((cassette) => ({ ...cassette })),
      cashLevel: cashLevelOf(record.cassettes, this.lowCashCount),
    };
  }

  private touch(kioskId: string, nowMs: number): KioskRecord | null {
    const record = this.record(kioskId);
    if (record !== null) record.lastSeenMs = nowMs;
    return record;
  }

  private record(kioskId: string): KioskRecord | null {
    const existing = this.kiosks.get(kioskId);
    if (existing !== undefined) return existing;
    if (this.kiosks.size >= this.kiosksMax) return null;
    const record: KioskRecord = { lastSeenMs: null, devices: null, cassettes: null };
    this.kiosks.set(kioskId, record);
    return record;
  }
}
