// Metrics: a pure accumulator of what the bank answered in one interval. The host calls
// snapshot(nowMs) every metrics interval; it returns the MetricsPayload of the interval
// (rates, latency percentiles, counts) and starts the next one. No timers, no I/O.
import type { MetricsPayload } from '../protocol/index.js';

/** Latencies kept per interval; past this, reservoir sampling keeps a uniform sample. */
export const LATENCY_SAMPLES_MAX = 10_000;
/** Distinct actions counted per interval (the protocol has a dozen); the rest go to `other`. */
export const METRIC_ACTIONS_MAX = 31;
const DECLINES_OF_FAILED_LOGIN = new Set(['AUTH_FAILED', 'ACCOUNT_LOCKED']);

export interface MetricsOptions {
  latencySamplesMax: number;
  /** Uniform in [0, 1); injected so the sampling is reproducible. Default: a seeded xorshift. */
  random: () => number;
}

export interface MetricsGauges {
  sessionsOpen: number;
  telemetryDropped: number;
}

export class MetricsAccumulator {
  private readonly samplesMax: number;
  private readonly random: () => number;
  private intervalStartMs: number;
  private readonly counts = new Map<string, number>();
  private requests = 0;
  private loginsFailed = 0;
  private samples: number[] = [];

  constructor(startMs: number, options: Partial<MetricsOptions> = {}) {
    this.intervalStartMs = startMs;
    this.samplesMax = options.latencySamplesMax ?? LATENCY_SAMPLES_MAX;
    this.random = options.random ?? xorshift(0x9e3779b9);
  }

  /** One request the bank answered: its action, its outcome ('ok' or a decline), its latency. */
  record(action: string, outcome: string, latencyMs: number): void {
    const key = this.counts.has(action) || this.counts.size < METRIC_ACTIONS_MAX ? action : 'other';
    this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
    this.requests += 1;
    if (action === 'login' && DECLINES_OF_FAILED_LOGIN.has(outcome)) this.loginsFailed += 1;
    const latency = Number.isFinite(latencyMs) && latencyMs >= 0 ? latencyMs : 0;
    if (this.samples.length < this.samplesMax) {
      this.samples.push(latency);
      return;
    }
    // Algorithm R: request n replaces a kept sample with probability samplesMax / n.
    const slot = Math.floor(this.random() * this.requests);
    if (slot < this.samplesMax) this.samples[slot] = latency;
  }

  /** The interval [start, nowMs) as a payload; the next interval starts at nowMs. */
  snapshot(nowMs: number, gauges: MetricsGauges): MetricsPayload {
    const intervalMs = Math.max(0, nowMs - this.intervalStartMs);
    const tps: Record<string, number> = {};
    for (const [action, count] of this.counts) tps[action] = intervalMs > 0 ? round((count * 1000) / intervalMs, 3) : 0;
    const sorted = this.samples.sort((a, b) => a - b);
    const payload: MetricsPayload = {
      intervalMs,
      tps,
      requests: this.requests,
      p50Ms: percentile(sorted, 0.5),
      p99Ms: percentile(sorted, 0.99),
      sessionsOpen: Math.max(0, gauges.sessionsOpen),
      loginsFailed: this.loginsFailed,
      telemetryDropped: Math.max(0, gauges.telemetryDropped),
    };
    this.intervalStartMs = nowMs;
    this.counts.clear();
    this.requests = 0;
    this.loginsFailed = 0;
    this.samples = [];
    return payload;
  }
}

/** Nearest-rank percentile of ascending values, to 0.1 ms; null when there are none. */
export function percentile(sorted: readonly number[], fraction: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(fraction * sorted.length)));
  return round(sorted[rank - 1] as number, 1);
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}

/** A small deterministic PRNG (xorshift32), so the bank's sampling needs no Math.random. */
export function xorshift(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state >>>= 0;
    state ^= state >>> 17;
    state ^= state << 5;
    state >>>= 0;
    return state / 0x1_0000_0000;
  };
}
