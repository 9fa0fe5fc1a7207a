// Per-key serialisation: the second caller for a key waits until the first has released.
// This is what makes "no concurrency can overdraw or lose an update" true: read, decide and
// durable write of one account happen with its key held.
import { planted } from '../protocol/index.js';

/** The torture suite's planted bug (protocol/faults.ts), read once: off unless ATM_TEST_FAULTS says so. */
const SKIP_ACCOUNT_LOCK = planted('skip-account-lock');

export class KeyedMutex {
  private readonly tails = new Map<string, Promise<void>>();

  get keysHeld(): number {
    return this.tails.size;
  }

  /** Runs fn with every key held (taken in sorted order, so two callers never deadlock). */
  async withKeys<T>(keys: string[], fn: () => Promise<T>): Promise<T> {
    const unique = [...new Set(SKIP_ACCOUNT_LOCK ? keys.filter((key) => !key.startsWith('user:')) : keys)].sort();
    const releases: (() => void)[] = [];
    try {
      for (const key of unique) releases.push(await this.acquire(key));
      return await fn();
    } finally {
      for (const release of releases.reverse()) release();
    }
  }

  private async acquire(key: string): Promise<() => void> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const current = new Promise<void>((resolve) => {
      release = resolve;
    });
    const tail = previous.then(() => current);
    this.tails.set(key, tail);
    await previous;
    return () => {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    };
  }
}

/** Token bucket: `burst` at once, refilled at `perSecond`; time is passed in. */
export class TokenBucket {
  private tokens: number;
  private lastMs: number;
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    nowMs: number,
  ) {
    this.tokens = burst;
    this.lastMs = nowMs;
  }

  take(nowMs: number): boolean {
    // A wall clock stepped back must not drive the bucket negative: that refused every kiosk's
    // handshake for as long as the step (found by test/torture/clock.test.ts).
    const elapsedMs = Math.max(0, nowMs - this.lastMs);
    this.tokens = Math.min(this.burst, this.tokens + (elapsedMs / 1000) * this.perSecond);
    this.lastMs = nowMs;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}

/** A bounded map of buckets, one per key (kiosk id, address); the oldest key is forgotten first. */
export class RateLimiter {
  private readonly buckets = new Map<string, TokenBucket>();
  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly keysMax = 10_000,
  ) {}

  take(key: string, nowMs: number): boolean {
    let bucket = this.buckets.get(key);
    if (bucket === undefined) {
      if (this.buckets.size >= this.keysMax) {
        const oldest = this.buckets.keys().next().value;
        if (oldest !== undefined) this.buckets.delete(oldest);
      }
      bucket = new TokenBucket(this.perSecond, this.burst, nowMs);
      this.buckets.set(key, bucket);
    }
    return bucket.take(nowMs);
  }
}
