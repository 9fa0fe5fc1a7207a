// Telemetry is best effort and transactions are not: the threads that publish telemetry (the
// embedded broker's, the external broker's MQTT client) lower their own scheduling priority,
// so on a busy host the kernel gives the bank's transaction thread the CPU first, and a
// telemetry thread that falls behind only fills its bounded queue and drops (counted), as
// with a slow broker. Without it, on 2 cores, the broker's routing took turns with the
// transactions and cost ~20 % of the bank's throughput (BENCHMARKS.md).
import fs from 'node:fs';
import os from 'node:os';

/** nice value of the telemetry threads: +10 weighs ~1/10 of a default thread under contention. */
export const TELEMETRY_THREAD_NICE = 10;

/**
 * Lowers the calling thread's priority (Linux: a thread is a task with its own nice value, and
 * /proc/thread-self names it). Returns the nice value now in effect, or null where this is not
 * possible (another OS, no /proc); never throws: a telemetry thread at normal priority still works.
 */
export function lowerThisThreadPriority(nice = TELEMETRY_THREAD_NICE): number | null {
  try {
    const taskId = Number(fs.readlinkSync('/proc/thread-self').split('/').at(-1));
    if (!Number.isSafeInteger(taskId) || taskId <= 0) return null;
    os.setPriority(taskId, nice);
    return os.getPriority(taskId);
  } catch {
    return null;
  }
}
