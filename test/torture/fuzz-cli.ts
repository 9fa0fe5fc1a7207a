// Runs one fuzzer (or all, or the live mutation proxy) from the command line, for the torture
// runner, for timing, and for the planted-bug test, which runs it in a child process because
// ATM_TEST_FAULTS is read when protocol/ loads:
//   node scripts/fuzz.mjs frame|handshake|record|messages|all [--runs N] [--seed S]
//   node scripts/fuzz.mjs proxy [--sessions N] [--lanes N] [--seed S]
// (scripts/fuzz.mjs calls fuzzMain: a file under dist/test with a top-level run would be started
// by `node --test dist/test/` as a test.)
// Prints the counts as one JSON line. Exit 0: held; 1: a property failed (its seed, replay line
// and counterexample on stderr); 2: usage or any other error.
import { FuzzFailure, runAllFuzz, runFrameFuzz, runHandshakeFuzz, runMessageFuzz, runRecordFuzz } from './fuzz.js';
import { fuzzSeed } from './fuzz-core.js';
import { runMutationProxy } from './mutation-proxy.js';

const FUZZERS = {
  frame: runFrameFuzz,
  handshake: runHandshakeFuzz,
  record: runRecordFuzz,
  messages: runMessageFuzz,
  all: runAllFuzz,
} as const;

function optionOf(argv: readonly string[], name: string, fallback: number | undefined): number | undefined {
  const at = argv.indexOf(`--${name}`);
  if (at === -1) return fallback;
  const value = Number(argv[at + 1]);
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`--${name} needs a whole number`);
  return value;
}

async function run(argv: readonly string[]): Promise<number> {
  const option = (name: string, fallback: number | undefined): number | undefined => optionOf(argv, name, fallback);
  const which = argv[0] ?? '';
  const seed = fuzzSeed(option('seed', undefined));
  const startedMs = performance.now();
  let counts: unknown;
  if (which === 'proxy') {
    counts = await runMutationProxy({
      sessions: option('sessions', 100) ?? 100,
      lanes: option('lanes', undefined),
      seed,
    });
  } else if (which in FUZZERS) {
    counts = FUZZERS[which as keyof typeof FUZZERS]({ runs: option('runs', 1000) ?? 1000, seed });
  } else {
    process.stderr.write(`usage: scripts/fuzz.mjs ${Object.keys(FUZZERS).join('|')}|proxy [--runs N] [--seed S]\n`);
    return 2;
  }
  const elapsedMs = Math.round(performance.now() - startedMs);
  process.stdout.write(`${JSON.stringify({ fuzzer: which, seed, elapsedMs, counts })}\n`);
  return 0;
}

/** Runs the fuzzer named by argv[0]; resolves to the exit code. */
export function fuzzMain(argv: readonly string[]): Promise<number> {
  return run(argv).catch((error: unknown) => {
    const text =
      error instanceof FuzzFailure
        ? error.message
        : error instanceof Error
          ? (error.stack ?? error.message)
          : String(error);
    process.stderr.write(`${text}\n`);
    return error instanceof FuzzFailure ? 1 : 2;
  });
}
