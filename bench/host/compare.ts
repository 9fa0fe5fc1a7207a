// atm bench --compare: the references measured in the same run (bench/reference/: pgbench
// TPC-B with durable commits, Node TLS 1.3 handshakes and echo), and each target of issue 14
// as a ratio next to what it asks. Absolute figures drift from day to day on one machine; a
// ratio measured in the same run does not.
import { runPgbench, runTlsReference, type PgbenchOutcome, type TlsReference } from '../reference/index.js';
import type { BenchReport, StepReport } from './report.js';

export interface Target {
  figure: string;
  ours: string;
  reference: string;
  ratio: number | null;
  target: string;
  met: boolean | null;
}

export interface CompareReport {
  pgbench: PgbenchOutcome;
  tls: TlsReference;
  targets: Target[];
}

const BYTES_PER_MB = 1_000_000;

function step(report: BenchReport, name: string, sessions: number): StepReport | undefined {
  return report.scenarios.find((candidate) => candidate.name === name && candidate.sessions === sessions);
}

const ratioOf = (ours: number | undefined, reference: number | undefined): number | null =>
  ours === undefined || reference === undefined || reference <= 0 ? null : Math.round((ours / reference) * 100) / 100;

export function targets(report: BenchReport, pgbench: PgbenchOutcome, tls: TlsReference): Target[] {
  const mixed = step(report, 'mixed', 32);
  const pg = pgbench.available ? pgbench.runs.find((run) => run.clients === 32) : undefined;
  const mixedRatio = ratioOf(mixed?.requestsPerSecond, pg?.tps);
  const handshake = step(report, 'handshake', 16);
  const tlsHandshake = tls.handshakes.find((entry) => entry.concurrency === 16);
  const handshakeRatio = ratioOf(handshake?.requestsPerSecond, tlsHandshake?.perSecond);
  const balance = step(report, 'balance', 64);
  const balanceRatio = ratioOf(balance?.requestsPerSecond, tls.echo.roundTripsPerSecond);
  const login = report.scenarios.find((candidate) => candidate.name === 'login');
  const loopP99 = login?.bank.eventLoopDelayMs?.p99;
  const idle = step(report, 'sessions', 1_000);
  const rssMb = idle?.bank.peakRssMiB == null ? undefined : Math.round((idle.bank.peakRssMiB * 2 ** 20) / BYTES_PER_MB);
  return [
    {
      figure: 'mixed @32: durable requests/s vs pgbench TPC-B @32 tps',
      ours: mixed === undefined ? 'not run' : `${mixed.requestsPerSecond}/s, p99 ${mixed.latencyMs.p99} ms`,
      reference: pgbench.available ? (pg === undefined ? 'not run' : `${Math.round(pg.tps)} tps`) : pgbench.reason,
      ratio: mixedRatio,
      target: '≥ 3×, p99 ≤ 10 ms',
      met: mixedRatio === null || mixed === undefined ? null : mixedRatio >= 3 && mixed.latencyMs.p99 <= 10,
    },
    {
      figure: 'handshake @16: full handshakes/s vs TLS 1.3 @16',
      ours: handshake === undefined ? 'not run' : `${handshake.requestsPerSecond}/s`,
      reference: tlsHandshake === undefined ? 'not run' : `${Math.round(tlsHandshake.perSecond)}/s`,
      ratio: handshakeRatio,
      target: '≥ 2×',
      met: handshakeRatio === null ? null : handshakeRatio >= 2,
    },
    {
      figure: 'balance @64: round trips/s vs TLS 1.3 echo @64',
      ours: balance === undefined ? 'not run' : `${balance.requestsPerSecond}/s`,
      reference: `${Math.round(tls.echo.roundTripsPerSecond)}/s`,
      ratio: balanceRatio,
      target: '≥ 1×',
      met: balanceRatio === null ? null : balanceRatio >= 1,
    },
    {
      figure: `event-loop delay p99 while ${login?.sessions ?? 16} logins hash at cost ${report.bcryptCost.login}`,
      ours: loopP99 === undefined ? 'not run' : `${loopP99} ms`,
      reference: '–',
      ratio: null,
      target: '≤ 10 ms',
      met: loopP99 === undefined ? null : loopP99 <= 10,
    },
    {
      figure: 'bank RSS with 1,000 open sessions',
      ours: rssMb === undefined ? 'not run' : `${rssMb} MB`,
      reference: '–',
      ratio: null,
      target: '≤ 150 MB',
      met: rssMb === undefined ? null : rssMb <= 150,
    },
  ];
}

/** Runs the references at the counts the report's steps used, then lines up the targets. */
export async function runCompare(
  report: BenchReport,
  options: { seconds: number; log: (line: string) => void },
): Promise<CompareReport> {
  const clients = [
    ...new Set(report.scenarios.filter((entry) => entry.name === 'mixed').map((entry) => entry.sessions)),
  ];
  const pgbench = await runPgbench({
    clients: clients.length > 0 ? clients : [32],
    // TPC-B serialises on its branch rows: scale ≥ the clients compared (32), capped so that
    // initialising stays under a minute (scale 64: ~20 s).
    scale: Math.min(64, Math.max(32, ...clients)),
    seconds: Math.max(1, Math.round(options.seconds)),
    log: options.log,
  });
  const handshakeConcurrency = [
    ...new Set(report.scenarios.filter((entry) => entry.name === 'handshake').map((entry) => entry.sessions)),
  ];
  const echo = report.scenarios.find((entry) => entry.name === 'balance');
  const tls = await runTlsReference({
    handshakeConcurrency: handshakeConcurrency.length > 0 ? handshakeConcurrency : [1, 16],
    handshakeSeconds: options.seconds,
    echoConnections: echo?.sessions ?? 64,
    echoSeconds: options.seconds,
    log: options.log,
  });
  return { pgbench, tls, targets: targets(report, pgbench, tls) };
}

export function formatCompare(compare: CompareReport): string {
  const header = ['figure', 'ours', 'reference (same run)', 'ratio', 'target', 'met'];
  const rows = compare.targets.map((target) => [
    target.figure,
    target.ours,
    target.reference,
    target.ratio === null ? '–' : `${target.ratio}×`,
    target.target,
    target.met === null ? '–' : target.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]?.length ?? 0)));
  const line = (cells: string[]): string => cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join('  ');
  const pg = compare.pgbench.available
    ? `pgbench: PostgreSQL ${compare.pgbench.version}, TPC-B scale ${compare.pgbench.scale}, fsync on: ${compare.pgbench.runs.map((run) => `@${run.clients} ${Math.round(run.tps)} tps`).join(', ')}`
    : `pgbench: not run (${compare.pgbench.reason})`;
  const tls = `TLS 1.3 (ECDSA P-256, no resumption): ${compare.tls.handshakes.map((entry) => `@${entry.concurrency} ${Math.round(entry.perSecond)} handshakes/s`).join(', ')}; echo @${compare.tls.echo.connections} ${Math.round(compare.tls.echo.roundTripsPerSecond)}/s (p99 ${compare.tls.echo.latencyMs.p99.toFixed(2)} ms)`;
  return ['', pg, tls, line(header), ...rows.map(line), ''].join('\n');
}
