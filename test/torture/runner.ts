// `npm run torture` (scripts/torture.mjs calls main): the torture suite at a bounded size, or at
// the size RELIABILITY.md quotes with --long. Parts: crash (the crash loop), history (the
// linearisability checker on a concurrent run), and the parts registered by the other torture
// modules (fuzzing, live mutation, the SPIN model). Exit code 0 only when every part found nothing.
import { parseArgs } from 'node:util';
import { DEFAULT_CRASH_POINTS, runCrashLoop } from './crash-loop.js';
import { runDiskFull } from './disk-full.js';
import { runDurabilityTrace } from './durability.js';
import { runSlowloris } from './slowloris.js';
import { runHistory } from './history-run.js';

export interface PartResult {
  /** One line for a person. */
  summary: string;
  /** What went wrong; empty when the part passed. */
  failures: string[];
  /** The figures, for --json and RELIABILITY.md. */
  figures: Record<string, unknown>;
}

export interface Scale {
  long: boolean;
  seed: number;
  plant: readonly string[];
  rounds?: number;
  roundMs?: number;
}

export interface Part {
  name: string;
  run: (scale: Scale) => Promise<PartResult>;
}

export const crashPart: Part = {
  name: 'crash',
  run: async ({ long, seed, plant, rounds, roundMs }) => {
    const result = await runCrashLoop({
      rounds: rounds ?? (long ? 60 : 12),
      sessions: 16,
      accounts: 8,
      seed,
      crashPoints: DEFAULT_CRASH_POINTS,
      plant,
      roundMsMax: roundMs ?? 1_500,
      // A planted bug needs finding once, not counting.
      stopAtFirstViolation: plant.length > 0,
    });
    const atPoints = Object.values(result.kills.atFaultPoint).reduce((sum, count) => sum + count, 0);
    return {
      summary:
        `crash loop: ${result.rounds} rounds, ${result.kills.fromOutside + atPoints} SIGKILLs ` +
        `(${result.kills.fromOutside} from outside, ${atPoints} at fault points ${JSON.stringify(result.kills.atFaultPoint)}), ` +
        `${result.requests} requests, ${result.acknowledged} acknowledged of ${result.transactions} transactions, ` +
        `${result.resolvedAfterRestart} resolved after restarts, ${result.violations.length} violations in ${result.seconds.toFixed(0)} s`,
      failures: result.violations,
      figures: { ...result, violations: result.violations.length },
    };
  },
};

export const historyPart: Part = {
  name: 'history',
  run: async ({ long, seed, plant }) => {
    const result = await runHistory({ sessions: 64, accounts: 16, operations: long ? 100_000 : 20_000, seed, plant });
    return {
      summary:
        `history: ${result.operations} operations over ${result.sessions} sessions and ${result.accounts} accounts ` +
        `(${result.runSeconds.toFixed(1)} s), checked in ${result.checkSeconds.toFixed(1)} s: ${result.anomalies.length} anomalies`,
      failures: [
        ...result.anomalies.map((anomaly) => `${anomaly.username}: ${anomaly.why}`),
        ...result.sessionsRefused.map((why) => `a session could not start: ${why}`),
      ],
      figures: { ...result, anomalies: result.anomalies.length, sessionsRefused: result.sessionsRefused.length },
    };
  },
};

const USAGE = `usage: npm run torture -- [PART…] [--long] [--seed N] [--rounds N] [--round-ms MS] [--plant BUG] [--json]
Parts: crash, history and the registered others (all by default). --long runs the sizes RELIABILITY.md quotes.`;

/** Runs the parts named on the command line; resolves to the exit code. */
export async function main(
  argv: string[],
  parts: readonly Part[],
  write = (line: string) => void process.stdout.write(`${line}\n`),
): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      long: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      seed: { type: 'string' },
      rounds: { type: 'string' },
      'round-ms': { type: 'string' },
      plant: { type: 'string', multiple: true, default: [] },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    write(USAGE);
    return 0;
  }
  const unknown = positionals.filter((name) => !parts.some((part) => part.name === name));
  if (unknown.length > 0) {
    write(`unknown part ${unknown.join(', ')}\n${USAGE}`);
    return 2;
  }
  const chosen = positionals.length === 0 ? parts : parts.filter((part) => positionals.includes(part.name));
  const seed = values.seed === undefined ? Date.now() % 1_000_000 : Number(values.seed);
  const rounds = values.rounds === undefined ? undefined : Number(values.rounds);
  const roundMs = values['round-ms'] === undefined ? undefined : Number(values['round-ms']);
  write(`torture: seed ${seed}${values.long ? ', long' : ''} (rerun with --seed ${seed})`);
  const report: Record<string, unknown> = { seed, long: values.long };
  let failed = false;
  for (const part of chosen) {
    const result = await part.run({
      long: values.long,
      seed,
      plant: values.plant,
      ...(rounds === undefined ? {} : { rounds }),
      ...(roundMs === undefined ? {} : { roundMs }),
    });
    write(`${result.failures.length === 0 ? 'ok  ' : 'FAIL'} ${result.summary}`);
    for (const failure of result.failures.slice(0, 20)) write(`     ${failure}`);
    if (result.failures.length > 20) write(`     … and ${result.failures.length - 20} more`);
    failed ||= result.failures.length > 0;
    report[part.name] = { ...result.figures, failures: result.failures.slice(0, 20) };
  }
  if (values.json) write(JSON.stringify(report));
  return failed ? 1 : 0;
}

export const durabilityPart: Part = {
  name: 'durability',
  run: async ({ long, seed, plant }) => {
    const result = await runDurabilityTrace({ sessions: 16, requestsPerSession: long ? 500 : 100, seed, plant });
    if (result.skipped !== null)
      return { summary: `durability: skipped (${result.skipped})`, failures: [], figures: { ...result } };
    return {
      summary:
        `durability (strace): ${result.requests} requests, ${result.commitsWritten} group commits answered, ` +
        `${result.ledgerLogSyncs} fdatasyncs of the ledger's log, ${result.auditLogSyncs} of audit.log`,
      failures: result.violations,
      figures: { ...result },
    };
  },
};

export const diskFullPart: Part = {
  name: 'disk-full',
  run: async () => {
    const result = await runDiskFull();
    if (result.skipped !== null)
      return { summary: `disk full: skipped (${result.skipped})`, failures: [], figures: { ...result } };
    return {
      summary:
        `disk full (tmpfs): while full ${JSON.stringify(result.whileFull)}, after space came back ` +
        `${JSON.stringify(result.afterFreed)}, ${result.acknowledged} acknowledged transactions checked`,
      failures: result.violations,
      figures: { ...result },
    };
  },
};

/** The bar: honest p99 under this while 5,000 slow connections hang on. */
const SLOWLORIS_P99_MS_MAX = 50;
const SLOWLORIS_RSS_MIB_MAX = 300;

export const slowlorisPart: Part = {
  name: 'slowloris',
  run: async ({ long, seed }) => {
    const result = await runSlowloris({
      slowConnections: 5_000,
      floodConnections: 16,
      honestSessions: 32,
      thinkMs: 50,
      seconds: long ? 30 : 10,
      seed,
    });
    const failures: string[] = [];
    if (result.honestFailures > 0)
      failures.push(
        `${result.honestFailures} honest requests or sessions failed: ${result.honestFailureReasons.join('; ')}`,
      );
    if (result.latencyMs.p99 >= SLOWLORIS_P99_MS_MAX)
      failures.push(`honest p99 ${result.latencyMs.p99} ms, over ${SLOWLORIS_P99_MS_MAX} ms`);
    if (result.bankRssMiB.peak >= SLOWLORIS_RSS_MIB_MAX)
      failures.push(`bank RSS ${result.bankRssMiB.peak} MiB, over ${SLOWLORIS_RSS_MIB_MAX} MiB`);
    return {
      summary:
        `slowloris: ${result.slowConnections} slow connections + ${result.floodConnections} flooding for ${result.seconds} s ` +
        `(${result.attacker.connectsTotal} attacker connects, ${result.attacker.closedByBank} closed by the bank); ` +
        `${result.honestSessions} honest sessions: ${result.honestRequests} requests, p50 ${result.latencyMs.p50} ms, ` +
        `p99 ${result.latencyMs.p99} ms, max ${result.latencyMs.max} ms; bank RSS ${result.bankRssMiB.before} → ${result.bankRssMiB.peak} MiB`,
      failures,
      figures: { ...result },
    };
  },
};
