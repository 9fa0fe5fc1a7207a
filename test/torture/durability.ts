// Durability seen from the kernel: a SIGKILL cannot show a missing fsync (the page cache outlives
// the process; only a power cut loses it), and this kernel has no device-mapper to fake a power
// cut (dm-flakey), so the bank is traced instead. `strace` follows every thread of a real `atm bank`
// under load and counts fdatasync/fsync calls per file; the bank's own stats say how many group
// commits it answered. Each answered group must have synced the LevelDB log it was written to:
// log syncs ≥ commits. The planted bug skip-fsync (commits written with sync: false) shows as 0.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { TEST_FAULTS_ENV } from '../../protocol/index.js';
import { waitUntil } from '../helpers/wait.js';
import { startTortureBank } from './bank-fixture.js';
import { Workload } from './workload.js';

export interface DurabilityResult {
  /** Why it could not run (no strace, ptrace not allowed), or null. */
  skipped: string | null;
  requests: number;
  commitsWritten: number;
  ledgerLogSyncs: number;
  auditLogSyncs: number;
  violations: string[];
}

const PASSWORD = 'durability password';
const STATS_PATTERN = /bank stats (\{.*\})$/;

export function straceMissing(): string | null {
  const probe = spawnSync('strace', ['-V'], { encoding: 'utf8' });
  return probe.error === undefined && probe.status === 0 ? null : 'strace is not installed';
}

export async function runDurabilityTrace(options: {
  sessions: number;
  requestsPerSession: number;
  seed: number;
  plant?: readonly string[];
}): Promise<DurabilityResult> {
  const missing = straceMissing();
  const result: DurabilityResult = {
    skipped: missing,
    requests: 0,
    commitsWritten: 0,
    ledgerLogSyncs: 0,
    auditLogSyncs: 0,
    violations: [],
  };
  if (missing !== null) return result;
  const plant = options.plant ?? [];
  const fixture = await startTortureBank({
    name: 'durable',
    sessions: options.sessions,
    accounts: 4,
    password: PASSWORD,
    env: plant.length === 0 ? {} : { [TEST_FAULTS_ENV]: `plant=${plant.join(';')}` },
  });
  const { root, bank } = fixture;
  const tracePath = path.join(root, 'trace.txt');
  const tracer = spawn(
    'strace',
    ['-f', '-y', '-qq', '-e', 'trace=fdatasync,fsync', '-o', tracePath, '-p', String(bank.pid)],
    {
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let tracerError = '';
  tracer.stderr.setEncoding('utf8').on('data', (chunk: string) => (tracerError += chunk));
  try {
    // strace writes its output file once attached to every thread; nothing is sent before that.
    await waitUntil(() => fs.existsSync(tracePath) || tracer.exitCode !== null, 'strace attached', 10_000);
    if (tracer.exitCode !== null) {
      result.skipped = `strace could not attach (ptrace not allowed?): ${tracerError.trim()}`;
      return result;
    }
    const workload = new Workload(
      fixture.workload({
        sessions: options.sessions,
        requestsPerSession: options.requestsPerSession,
        seed: options.seed,
        txnPrefix: `durable${options.seed}`,
      }),
    );
    await workload.run();
    workload.close();
    result.requests = workload.requests;
    let stats: { commitsWritten: number } | null = null;
    bank.onLine((line: string) => {
      const match = STATS_PATTERN.exec(line);
      if (match !== null) stats = JSON.parse(match[1] as string) as { commitsWritten: number };
    });
    process.kill(bank.pid, 'SIGUSR2');
    await waitUntil(() => stats !== null, 'the bank stats line', 10_000);
    result.commitsWritten = (stats as { commitsWritten: number } | null)?.commitsWritten ?? 0;
    tracer.kill('SIGINT');
    await new Promise((resolve) => tracer.once('exit', resolve));
    const trace = fs.readFileSync(tracePath, 'utf8');
    for (const match of trace.matchAll(/\b(?:fdatasync|fsync)\(\d+<([^>]*)>/g)) {
      const file = match[1] ?? '';
      if (/\/ledger\/\d+\.log$/.test(file)) result.ledgerLogSyncs += 1;
      if (file.endsWith('/audit.log')) result.auditLogSyncs += 1;
    }
    if (result.ledgerLogSyncs < result.commitsWritten)
      result.violations.push(
        `${result.commitsWritten} group commits answered, but the ledger's log was synced only ${result.ledgerLogSyncs} times: ` +
          'answers went out before their batch was on disk',
      );
    return result;
  } finally {
    if (tracer.exitCode === null) tracer.kill('SIGKILL');
    await fixture.remove();
  }
}
