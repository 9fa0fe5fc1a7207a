// The transactions-per-second series behind the chart. The bank's metrics message (every ~5 s)
// is the source of truth; a bank that publishes no metrics (an older one, or metrics lost)
// still gets a chart, counted from the events we receive, one sample per second.
import type { Envelope, MetricsPayload } from '../protocol/index.js';
import type { DashboardLimits, RateSample, Rates } from './state.js';
import { DEVICE_REPORT_ACTION } from './words.js';

const SECOND_MS = 1_000;

function metricsFresh(rates: Rates, nowMs: number, limits: DashboardLimits): boolean {
  return rates.lastMetricsAtMs !== null && nowMs - rates.lastMetricsAtMs <= limits.metricsStaleMs;
}

function pushSample(
  samples: readonly RateSample[],
  sample: RateSample,
  nowMs: number,
  limits: DashboardLimits,
): RateSample[] {
  const oldestMs = nowMs - limits.tpsWindowMs;
  const kept = samples.filter((s) => s.atMs >= oldestMs);
  kept.push(sample);
  return kept.length > limits.tpsSamplesMax ? kept.slice(kept.length - limits.tpsSamplesMax) : kept;
}

/** Closes the counted second once time has moved past it; a sample only when metrics are absent. */
function closeBucket(rates: Rates, second: number, nowMs: number, limits: DashboardLimits): Rates {
  if (rates.bucketSecond === null || second <= rates.bucketSecond) return rates;
  if (metricsFresh(rates, nowMs, limits)) return { ...rates, bucketSecond: second, bucketCount: 0 };
  const sample = { atMs: (rates.bucketSecond + 1) * SECOND_MS, tps: rates.bucketCount };
  let samples = pushSample(rates.samples, sample, nowMs, limits);
  // A quiet gap reads as zero on the chart, not as the last busy second stretched out.
  if (second > rates.bucketSecond + 1)
    samples = pushSample(samples, { atMs: second * SECOND_MS, tps: 0 }, nowMs, limits);
  return { ...rates, source: 'events', samples, bucketSecond: second, bucketCount: 0 };
}

export function rateOnEvent(rates: Rates, atMs: number, limits: DashboardLimits): Rates {
  const second = Math.floor(atMs / SECOND_MS);
  const closed = closeBucket(rates, second, atMs, limits);
  if (closed.bucketSecond === null) return { ...closed, bucketSecond: second, bucketCount: 1 };
  // An event stamped before the current bucket (clock stepped back) counts in the current one.
  return { ...closed, bucketCount: closed.bucketCount + 1 };
}

export function rateOnMetrics(
  rates: Rates,
  metrics: Envelope & MetricsPayload,
  atMs: number,
  limits: DashboardLimits,
): Rates {
  // Transactions are customers' requests: the kiosks' device reports are not charted.
  const tps = Object.entries(metrics.tps).reduce(
    (sum, [action, rate]) => (action === DEVICE_REPORT_ACTION ? sum : sum + rate),
    0,
  );
  return {
    ...rates,
    source: 'metrics',
    samples: pushSample(rates.samples, { atMs, tps }, atMs, limits),
    lastMetricsAtMs: atMs,
    latest: metrics,
  };
}

export function rateOnTick(rates: Rates, nowMs: number, limits: DashboardLimits): Rates {
  const closed = closeBucket(rates, Math.floor(nowMs / SECOND_MS), nowMs, limits);
  const oldestMs = nowMs - limits.tpsWindowMs;
  const first = closed.samples[0];
  return first !== undefined && first.atMs < oldestMs
    ? { ...closed, samples: closed.samples.filter((s) => s.atMs >= oldestMs) }
    : closed;
}

/** The rate to print as "now": the newest sample, or 0 once it is older than two intervals. */
export function currentTps(rates: Rates, nowMs: number): number {
  const last = rates.samples.at(-1);
  if (last === undefined) return 0;
  const intervalMs = rates.source === 'metrics' ? (rates.latest?.intervalMs ?? 5_000) : SECOND_MS;
  return nowMs - last.atMs <= 2 * Math.max(intervalMs, SECOND_MS) ? last.tps : 0;
}

/**
 * Buckets the window into `columns` equal slices, each the highest rate seen in it (a burst
 * stays visible however narrow the chart is); an empty slice is 0.
 */
export function tpsColumns(samples: readonly RateSample[], nowMs: number, windowMs: number, columns: number): number[] {
  const values = new Array<number>(Math.max(0, columns)).fill(0);
  if (columns <= 0) return values;
  const startMs = nowMs - windowMs;
  const sliceMs = windowMs / columns;
  for (const sample of samples) {
    if (sample.atMs < startMs || sample.atMs > nowMs) continue;
    const index = Math.min(columns - 1, Math.floor((sample.atMs - startMs) / sliceMs));
    values[index] = Math.max(values[index] ?? 0, sample.tps);
  }
  return values;
}
