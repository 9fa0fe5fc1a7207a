// [Seam] What a bank keeps about kiosks beyond the ledger that every host must see alike: the
// login attempts per kiosk (a token bucket, so spreading guesses over hosts gains nothing) and
// the one-time session hand-over tokens ([ATM-4.9], so a kiosk may renew on any host). One
// bank alone keeps them in memory (here); hosts sharing a database keep them in it (pg-shared-state.ts).
import { RateLimiter } from './mutex.js';

export interface Handover {
  kioskId: string;
  username: string;
  expiresAtMs: number;
}

/** Outstanding hand-over tokens at most; a kiosk needs one per renewal, so this is generous. */
export const HANDOVERS_MAX = 4_096;

export interface SharedState {
  /** One login (or name check) attempt of this kiosk: false when its bucket is empty. */
  takeLogin(kioskId: string, nowMs: number): Promise<boolean>;
  /** Keeps a hand-over under the SHA-256 of its token; false when HANDOVERS_MAX unexpired ones are out. */
  putHandover(tokenKey: string, handover: Handover, nowMs: number): Promise<boolean>;
  /**
   * Spends the hand-over if this kiosk was given it (any attempt of that kiosk spends it, so
   * a guess cannot be retried against a live one) and returns it, expired or not; another
   * kiosk's attempt neither spends nor sees it (null).
   */
  takeHandover(tokenKey: string, kioskId: string): Promise<Handover | null>;
}

export class MemorySharedState implements SharedState {
  private readonly logins: RateLimiter;
  private readonly handovers = new Map<string, Handover>();

  constructor(loginsPerSecondPerKiosk: number, loginBurstPerKiosk: number) {
    this.logins = new RateLimiter(loginsPerSecondPerKiosk, loginBurstPerKiosk);
  }

  takeLogin(kioskId: string, nowMs: number): Promise<boolean> {
    return Promise.resolve(this.logins.take(kioskId, nowMs));
  }

  putHandover(tokenKey: string, handover: Handover, nowMs: number): Promise<boolean> {
    if (this.handovers.size >= HANDOVERS_MAX) {
      for (const [key, old] of this.handovers) if (old.expiresAtMs <= nowMs) this.handovers.delete(key);
      if (this.handovers.size >= HANDOVERS_MAX) return Promise.resolve(false);
    }
    this.handovers.set(tokenKey, { ...handover });
    return Promise.resolve(true);
  }

  takeHandover(tokenKey: string, kioskId: string): Promise<Handover | null> {
    const handover = this.handovers.get(tokenKey);
    if (handover?.kioskId !== kioskId) return Promise.resolve(null);
    this.handovers.delete(tokenKey);
    return Promise.resolve(handover);
  }
}
