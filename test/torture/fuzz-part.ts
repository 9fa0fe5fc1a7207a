// The fuzzers and the live mutation proxy as parts of `npm run torture` (runner.ts's Part shape,
// kept structural here so this file does not depend on the runner): a bounded size by default,
// and with --long at least FUZZ_FRAMES_LONG fuzzed frames and 10,000 mutated live sessions. A
// planted stale-record-seq bug is switched on in a child process (ATM_TEST_FAULTS is read when
// protocol/ loads), where the record fuzzer must find it.
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { TEST_FAULTS_ENV } from '../../protocol/faults.js';
import { FUZZ_SEED_ENV, FuzzFailure } from './fuzz-core.js';
import { FUZZ_FRAMES_LONG, runAllFuzz, runFrameFuzz } from './fuzz.js';
import { runMutationProxy } from './mutation-proxy.js';

interface Scale {
  long: boolean;
  seed: number;
  plant: readonly string[];
}
interface PartResult {
  summary: string;
  failures: string[];
  figures: Record<string, unknown>;
}

/** Frame-fuzzer runs per runAllFuzz call: ~5.3 fuzzed frames each, all fuzzers together. */
export const FUZZ_RUNS = { short: 5_000, long: 200_000 } as const;
export const MUTATION_SESSIONS = { short: 300, long: 10_000 } as const;
export const PLANTED_RECORD_BUG = 'stale-record-seq';

const CLI = fileURLToPath(new URL('../../../scripts/fuzz.mjs', import.meta.url));

export interface ChildRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
}

/** Runs scripts/fuzz.mjs in a child process with the given extra environment (ATM_TEST_FAULTS unset unless given). */
export function runFuzzChild(args: readonly string[], env: Record<string, string> = {}): Promise<ChildRun> {
  // The parent's own faults never leak into the child: only what `env` says is switched on.
  const inherited = Object.entries(process.env).filter(([name]) => name !== TEST_FAULTS_ENV);
  const childEnv = { ...Object.fromEntries(inherited), ...env };
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (exitCode) => resolve({ exitCode, stdout, stderr }));
  });
}

async function plantedRun(seed: number): Promise<PartResult> {
  const child = await runFuzzChild(['record', '--runs', '2000', '--seed', String(seed)], {
    [TEST_FAULTS_ENV]: `plant=${PLANTED_RECORD_BUG}`,
  });
  const found = child.exitCode === 1;
  return {
    summary: `fuzz: planted ${PLANTED_RECORD_BUG} ${found ? 'found' : 'NOT found'} by the record fuzzer`,
    // A planted bug that is found is what the runner reports as a failure (the suite caught it).
    failures: found ? [child.stderr.split('\n').slice(0, 6).join(' | ')] : [],
    figures: { exitCode: child.exitCode },
  };
}

export const fuzzPart = {
  name: 'fuzz',
  run: async ({ long, seed, plant }: Scale): Promise<PartResult> => {
    if (plant.includes(PLANTED_RECORD_BUG)) return plantedRun(seed);
    const startedMs = performance.now();
    try {
      const counts = runAllFuzz({ runs: long ? FUZZ_RUNS.long : FUZZ_RUNS.short, seed });
      // Long mode promises a million frames: top up with frame-decoder runs if the mix fell short.
      while (long && counts.frames < FUZZ_FRAMES_LONG) {
        const more = runFrameFuzz({ runs: 20_000, seed: seed + counts.frames });
        counts.frame.frames += more.frames;
        counts.frames += more.frames;
      }
      const seconds = (performance.now() - startedMs) / 1000;
      return {
        summary:
          `fuzz: ${counts.frames} frames (decoder ${counts.frame.frames}, handshake ${counts.handshake.messages}, ` +
          `records ${counts.record.records}), ${counts.messages.requests + counts.messages.responses} messages, ` +
          `0 handshakes opened without the PSK, in ${seconds.toFixed(1)} s`,
        failures: [],
        figures: { ...counts, seconds },
      };
    } catch (error) {
      if (!(error instanceof FuzzFailure)) throw error;
      return {
        summary: `fuzz: ${error.property} failed (${FUZZ_SEED_ENV}=${error.seed})`,
        failures: [error.message],
        figures: {},
      };
    }
  },
};

export const mutationPart = {
  name: 'mutation',
  run: async ({ long, seed }: Scale): Promise<PartResult> => {
    try {
      const counts = await runMutationProxy({
        sessions: long ? MUTATION_SESSIONS.long : MUTATION_SESSIONS.short,
        lanes: long ? 16 : 8,
        seed,
      });
      return {
        summary:
          `mutation proxy: ${counts.sessions} live sessions (${JSON.stringify(counts.byMutation)}), ` +
          `${counts.completed} completed, ${counts.closed} closed with a typed error, ` +
          `${counts.appliedUnacknowledged} deposits applied with the answer lost and settled by the same id, ` +
          `bank peak ${counts.bankConnectionsMax} connections, in ${(counts.elapsedMs / 1000).toFixed(1)} s`,
        failures: [],
        figures: { ...counts },
      };
    } catch (error) {
      return {
        summary: 'mutation proxy: failed',
        failures: [error instanceof Error ? error.message : String(error)],
        figures: {},
      };
    }
  },
};
