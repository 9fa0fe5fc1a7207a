// Statistics of the telemetry benchmark: one slice's measurements (Load) summarized into a
// LoadResult, percentiles, medians and a bootstrap interval over rounds.

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** CPU time (user + system) of this process (bank + load generator) per request. */
  cpuUsPerRequest: number;
  /** CPU time of the external mosquitto per request, or null (none, or not on Linux). */
  brokerCpuUsPerRequest: number | null;
  /** CPU time of this process's main thread (the bank's transaction thread, and the load generator) per request. */
  mainThreadCpuUsPerRequest: number | null;
  /** CPU time of the telemetry thread (the one thread at a raised nice value) per request. */
  telemetryThreadCpuUsPerRequest: number | null;
}

export function percentile(sortedMs: number[], fraction: number): number {
  if (sortedMs.length === 0) return 0;
  return sortedMs[Math.min(sortedMs.length - 1, Math.floor(fraction * sortedMs.length))] as number;
}

/**
 * The 2.5th and 97.5th percentiles of `statistic` over resamples (with replacement) of the
 * round indices 0…rounds-1: how far the figure could move with other rounds of the same
 * machine. Seeded, so a run's output is reproducible from its measurements.
 */
export function bootstrapInterval(
  rounds: number,
  statistic: (rounds: number[]) => number,
  resamples = 2_000,
): [number, number] {
  let seed = 0x2f6b1d3;
  const random = (): number => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const values: number[] = [];
  for (let index = 0; index < resamples; index++)
    values.push(statistic(Array.from({ length: rounds }, () => Math.floor(random() * rounds))));
  values.sort((a, b) => a - b);
  return [values[Math.floor(0.025 * resamples)] as number, values[Math.floor(0.975 * resamples)] as number];
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] as number;
}

export interface Load {
  latenciesMs: number[];
  elapsedMs: number;
  cpuUs: number;
  brokerCpuUs: number | null;
  mainThreadCpuUs: number | null;
  telemetryThreadCpuUs: number | null;
}

export function summarize(load: Load): LoadResult {
  const sorted = [...load.latenciesMs].sort((a, b) => a - b);
  const requests = sorted.length;
  return {
    requests,
    elapsedMs: load.elapsedMs,
    requestsPerSecond: requests / (load.elapsedMs / 1000),
    p50Ms: percentile(sorted, 0.5),
    p99Ms: percentile(sorted, 0.99),
    maxMs: sorted.at(-1) ?? 0,
    cpuUsPerRequest: load.cpuUs / requests,
    brokerCpuUsPerRequest: load.brokerCpuUs === null ? null : load.brokerCpuUs / requests,
    mainThreadCpuUsPerRequest: load.mainThreadCpuUs === null ? null : load.mainThreadCpuUs / requests,
    telemetryThreadCpuUsPerRequest: load.telemetryThreadCpuUs === null ? null : load.telemetryThreadCpuUs / requests,
  };
}
