// What `atm bench` reports: one entry per step (a scenario at one session count), with the
// client's view (throughput, latency percentiles) and the bank process's (CPU per request,
// synced writes per request, peak RSS, event-loop delay; on PostgreSQL the database server's
// CPU too). The JSON face is stable: other tools read `store`, `bankHosts`,
// `scenarios[].name/sessions/requestsPerSecond/latencyMs`, and for a single mixed step
// `requestsPerSecond` and `latencyMs.p99` at top level too.
import type { CompareReport } from './compare.js';

export interface LatencySummary {
  p50: number;
  p99: number;
  p999: number;
  max: number;
}

export interface BankSide {
  cpuMsPerRequest: number | null;
  /** The bank's CPU over the step as a share of one core (100 = one core busy). */
  cpuPercent: number | null;
  syncedWritesPerRequest: number | null;
  /** Write requests (batches) per synced write: the group commit's group size. */
  batchesPerSyncedWrite: number | null;
  /** The PostgreSQL server's CPU (postmaster and backends) per request; null on LevelDB. */
  databaseCpuMsPerRequest: number | null;
  /** Over every bank host: the sum of each one's own peak. */
  peakRssMiB: number | null;
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
  connections: number | null;
  /** With several bank hosts, each one's own share (in --bank-hosts order); null with one. */
  perHost: HostFigures[] | null;
}

export interface HostFigures {
  /** Sessions open on the host at the end of the step (before they close). */
  connections: number | null;
  cpuPercent: number | null;
  syncedWrites: number | null;
}

export interface StepReport {
  name: string;
  sessions: number;
  /** Requests (handshakes, for the handshake scenario) completed in the step. */
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  latencyMs: LatencySummary;
  byOp: Record<string, { count: number; p50: number; p99: number }>;
  errors: number;
  firstErrors: string[];
  bank: BankSide;
}

export interface BenchReport {
  machine: string;
  node: string;
  /** The ledger of the spawned bank; null: a running bank (--bank), whose store the bench cannot see. */
  store: 'level' | 'postgres' | null;
  /** `atm bank` processes sharing the ledger; the bank-side figures are their sums. */
  bankHosts: number;
  bank: string;
  /** On PostgreSQL: the server's version. */
  database?: { postgres: string };
  bcryptCost: { throughput: number; login: number };
  scenarios: StepReport[];
  /** The mixed step's figures when exactly one ran (`atm bench --sessions N`). */
  requestsPerSecond?: number;
  latencyMs?: LatencySummary;
  compare?: CompareReport;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

/** The value at `fraction` of a sorted list (nearest rank), 0 for an empty one. */
export function percentile(sorted: Float64Array, fraction: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(fraction * sorted.length) - 1)] ?? 0;
}

export function summarise(values: Float64Array): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  return {
    p50: round2(percentile(sorted, 0.5)),
    p99: round2(percentile(sorted, 0.99)),
    p999: round2(percentile(sorted, 0.999)),
    max: round2(sorted.at(-1) ?? 0),
  };
}

export function byOp(latencies: Map<string, Float64Array>): StepReport['byOp'] {
  return Object.fromEntries(
    [...latencies.entries()].map(([op, values]) => {
      const summary = summarise(values);
      return [op, { count: values.length, p50: summary.p50, p99: summary.p99 }];
    }),
  );
}

export function allLatencies(latencies: Map<string, Float64Array>): Float64Array {
  const total = [...latencies.values()].reduce((sum, values) => sum + values.length, 0);
  const joined = new Float64Array(total);
  let offset = 0;
  for (const values of latencies.values()) {
    joined.set(values, offset);
    offset += values.length;
  }
  return joined;
}

function storeName(report: BenchReport): string {
  if (report.store === null) return 'that of the running bank';
  const hosts = `${report.bankHosts} bank host${report.bankHosts === 1 ? '' : 's'}`;
  return `${report.store === 'level' ? 'LevelDB' : 'PostgreSQL'}, ${hosts}`;
}

const dash = (value: number | null | undefined, unit = ''): string =>
  value === null || value === undefined ? '–' : `${value}${unit}`;

/** The report for a person: one line per step. */
export function formatReport(report: BenchReport): string {
  const withDatabase = report.scenarios.some((step) => step.bank.databaseCpuMsPerRequest !== null);
  const header = [
    'scenario',
    'sessions',
    'req/s',
    'p50 ms',
    'p99 ms',
    'p99.9 ms',
    'bank CPU ms/req',
    'bank CPU %',
    ...(withDatabase ? ['db CPU ms/req'] : []),
    'syncs/req',
    'writes/sync',
    'peak RSS MiB',
    'loop p99 ms',
    'errors',
  ];
  const rows = report.scenarios.map((step) => [
    step.name,
    String(step.sessions),
    String(step.requestsPerSecond),
    String(step.latencyMs.p50),
    String(step.latencyMs.p99),
    String(step.latencyMs.p999),
    dash(step.bank.cpuMsPerRequest),
    dash(step.bank.cpuPercent),
    ...(withDatabase ? [dash(step.bank.databaseCpuMsPerRequest)] : []),
    dash(step.bank.syncedWritesPerRequest),
    dash(step.bank.batchesPerSyncedWrite),
    dash(step.bank.peakRssMiB),
    dash(step.bank.eventLoopDelayMs?.p99),
    String(step.errors),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: string[]): string =>
    cells
      .map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0)))
      .join('  ');
  const errors = report.scenarios
    .filter((step) => step.firstErrors.length > 0)
    .map((step) => `  ${step.name} @${step.sessions}: ${step.firstErrors.join('; ')}`);
  const hosts = report.scenarios
    .filter((step) => step.bank.perHost !== null)
    .map(
      (step) =>
        `  ${step.name} @${step.sessions}: ` +
        (step.bank.perHost ?? [])
          .map(
            (host, index) =>
              `host ${index}: ${dash(host.connections)} sessions, CPU ${dash(host.cpuPercent, '%')}, ${dash(host.syncedWrites)} syncs`,
          )
          .join('; '),
    );
  return [
    `atm bench on ${report.machine}, node ${report.node}; store: ${storeName(report)}; bank: ${report.bank}`,
    line(header),
    ...rows.map(line),
    ...(hosts.length > 0 ? ['per bank host:', ...hosts] : []),
    ...(errors.length > 0 ? ['errors:', ...errors] : []),
    '',
  ].join('\n');
}

export { round2 };
