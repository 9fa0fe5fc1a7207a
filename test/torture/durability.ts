// Durability seen from the kernel: a SIGKILL cannot show a missing fsync (the page cache outlives
// the process; only a power cut loses it), and this kernel has no device-mapper to fake a power
// cut (dm-flakey), so the bank is traced instead. `strace` follows every thread of a real `atm bank`
// under load and counts fdatasync/fsync calls per file; the bank's own stats say how many group
// commits it answered. Each answered group must have synced the LevelDB log it was written to:
// log syncs ≥ commits. The planted bug skip-fsync (commits written with sync: false) shows as 0.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection, TEST_FAULTS_ENV } from '../../protocol/index.js';
import { startBankProcess } from '../helpers/cli.js';
import { waitUntil } from '../helpers/wait.js';
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
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-torture-durability-'));
  const dataDir = path.join(root, 'bank');
  initKeystore(dataDir);
  const kioskIds = Array.from({ length: Math.ceil(options.sessions / 4) }, (_, index) => `durable-${index}`);
  const psks = new Map<string, Buffer>();
  for (const kioskId of kioskIds)
    psks.set(kioskId, Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex'));
  const plant = options.plant ?? [];
  const env = plant.length === 0 ? {} : { [TEST_FAULTS_ENV]: `plant=${plant.join(';')}` };
  const bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt'], { env });
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
    const usernames = ['durable01', 'durable02', 'durable03', 'durable04'];
    const setup = await BankConnection.connect({
      host: '127.0.0.1',
      port: bank.port,
      kioskId: kioskIds[0] as string,
      psk: psks.get(kioskIds[0] as string) as Buffer,
    });
    for (const username of usernames) await setup.request({ op: 'register', username, password: PASSWORD });
    setup.close();
    const workload = new Workload({
      host: '127.0.0.1',
      port: bank.port,
      kioskIds,
      psk: (kioskId) => psks.get(kioskId) as Buffer,
      usernames,
      password: PASSWORD,
      sessions: options.sessions,
      requestsPerSession: options.requestsPerSession,
      seed: options.seed,
      txnPrefix: `durable${options.seed}`,
    });
    await workload.run();
    workload.close();
    result.requests = workload.requests;
    let stats: { commitsWritten: number } | null = null;
    bank.onLine((line) => {
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
    await bank.kill();
    fs.rmSync(root, { recursive: true, force: true });
  }
}
