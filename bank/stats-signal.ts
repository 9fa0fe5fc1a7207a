// `kill -USR2 <pid of atm bank>` writes one `bank stats {json}` line to the bank's log: the
// counters a benchmark or an operator reads without opening a session (CPU, memory, group
// commits, sessions, and the event loop's delay since the previous report). Nothing in it is
// secret: counts and timings only.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { BankHost } from './host.js';

export const BANK_STATS_PREFIX = 'bank stats ';

export interface BankStats {
  /** user + system CPU of the whole process (every thread), µs since start. */
  cpuUs: number;
  rssBytes: number;
  /** Synced ledger writes, and the request batches they carried, since start. */
  commitsWritten: number;
  batchesCommitted: number;
  connections: number;
  /** Event-loop delay since the previous report (or start), ms; null before any sample. */
  eventLoopDelayMs: { p50: number; p99: number; max: number } | null;
}

/** Reports on SIGUSR2 until the returned stop function is called. */
export function reportStatsOnSignal(host: BankHost, write: (line: string) => void): () => void {
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const report = (): void => {
    const cpu = process.cpuUsage();
    const ms = (nanoseconds: number): number => Math.round(nanoseconds / 1e4) / 100;
    const stats: BankStats = {
      cpuUs: cpu.user + cpu.system,
      rssBytes: process.memoryUsage.rss(),
      commitsWritten: host.committer.commitsWritten,
      batchesCommitted: host.committer.batchesCommitted,
      connections: host.server.stats.connections,
      eventLoopDelayMs:
        delay.count === 0 ? null : { p50: ms(delay.percentile(50)), p99: ms(delay.percentile(99)), max: ms(delay.max) },
    };
    delay.reset();
    write(`${BANK_STATS_PREFIX}${JSON.stringify(stats)}`);
  };
  process.on('SIGUSR2', report);
  return () => {
    process.off('SIGUSR2', report);
    delay.disable();
  };
}
