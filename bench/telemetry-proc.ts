// CPU time from /proc (Linux) for the telemetry benchmark: a process, one of its threads, and
// this process's telemetry threads (the ones at a raised nice value).
import fs from 'node:fs';

/**
 * utime + stime (µs) and nice of a process or one of its threads, from a /proc stat file (Linux).
 * The fields after the ")" that closes the command name start at the 3rd (state): utime,
 * stime and nice are the 14th, 15th and 19th.
 */
function readStat(statPath: string): { cpuUs: number; nice: number } {
  const fields = fs.readFileSync(statPath, 'utf8').split(') ')[1]?.split(' ') ?? [];
  return {
    cpuUs: ((Number(fields[11]) + Number(fields[12])) * 1_000_000) / CLOCK_TICKS_PER_SECOND,
    nice: Number(fields[16]),
  };
}

/** utime + stime of a process (or, with a task path, one thread) in µs; null when unreadable. */
export function processCpuUs(pid: number | null, statPath = `/proc/${pid}/stat`): number | null {
  if (pid === null) return null;
  try {
    const { cpuUs } = readStat(statPath);
    return Number.isFinite(cpuUs) ? cpuUs : null;
  } catch {
    return null;
  }
}
/**
 * CPU time (µs) of this process's threads that run at a raised nice value: the telemetry
 * threads (telemetry/thread-priority.ts), by task id; empty where /proc cannot be read.
 */
export function telemetryThreadsCpuUs(): Map<string, number> {
  const threads = new Map<string, number>();
  try {
    for (const taskId of fs.readdirSync(`/proc/${process.pid}/task`)) {
      const { cpuUs, nice } = readStat(`/proc/${process.pid}/task/${taskId}/stat`);
      if (nice > 0) threads.set(taskId, cpuUs);
    }
  } catch {
    // A thread that ended between the listing and the read; the next sample has the rest.
  }
  return threads;
}

// USER_HZ: 100 on every Linux build Node supports (getconf CLK_TCK).
const CLOCK_TICKS_PER_SECOND = 100;
