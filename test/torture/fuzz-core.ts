// What every fuzzer of the torture suite shares (issue 15, item 3): the seed, the runner that
// reports it, the split of a run budget over a fuzzer's properties, and a seeded PRNG for the
// parts that are not fast-check properties (the live mutation proxy).
import fc from 'fast-check';

/** Replays a failure: ATM_FUZZ_SEED=<seed> with the same fuzzer and at least the same runs. */
export const FUZZ_SEED_ENV = 'ATM_FUZZ_SEED';

export interface FuzzOptions {
  /** Property runs in all (split over the fuzzer's properties); 0 runs nothing. */
  runs: number;
  /** fast-check's seed; default: ATM_FUZZ_SEED, else a fresh one (always reported on failure). */
  seed?: number;
}

/** The seed to use: the caller's, else ATM_FUZZ_SEED, else a fresh 32-bit one. */
export function fuzzSeed(seed?: number): number {
  if (seed !== undefined) return seed;
  const text = process.env[FUZZ_SEED_ENV];
  if (text !== undefined && text !== '') {
    const parsed = Number(text);
    if (!Number.isSafeInteger(parsed)) throw new Error(`${FUZZ_SEED_ENV} must be an integer, got ${text}`);
    return parsed;
  }
  return (Date.now() ^ Math.floor(Math.random() * 2 ** 31)) | 0;
}

/** A property that failed: the message holds the seed, the replay line and the counterexample. */
export class FuzzFailure extends Error {
  constructor(
    readonly property: string,
    readonly seed: number,
    readonly counterexamplePath: string | null,
    report: string,
  ) {
    super(
      `fuzz property "${property}" failed (seed ${seed}, path ${counterexamplePath ?? '-'}); ` +
        `replay with ${FUZZ_SEED_ENV}=${seed}\n${report}`,
    );
    this.name = 'FuzzFailure';
  }
}

/** Runs one property `runs` times; a failure throws FuzzFailure after fast-check has shrunk it. */
export function checkProperty<Ts>(name: string, property: fc.IProperty<Ts>, runs: number, seed: number): void {
  if (runs <= 0) return;
  const details = fc.check(property, { numRuns: runs, seed });
  if (details.failed) {
    const error = details.errorInstance;
    const why = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    const report = `${fc.defaultReportMessage(details) ?? ''}\nGot ${why}`;
    throw new FuzzFailure(name, seed, details.counterexamplePath, report);
  }
}

/** Splits `runs` over properties by weight; the shares sum to exactly `runs`. */
export function splitRuns<K extends string>(runs: number, weights: Record<K, number>): Record<K, number> {
  const keys = Object.keys(weights) as K[];
  const total = keys.reduce((sum, key) => sum + weights[key], 0);
  const shares = {} as Record<K, number>;
  let given = 0;
  for (const key of keys) {
    shares[key] = Math.floor((runs * weights[key]) / total);
    given += shares[key];
  }
  // The remainder goes to the heaviest properties first, one run each.
  const byWeight = [...keys].sort((a, b) => weights[b] - weights[a]);
  for (let index = 0; given < runs; index = (index + 1) % byWeight.length, given += 1) {
    const key = byWeight[index] as K;
    shares[key] += 1;
  }
  return shares;
}

/** Mulberry32: a small seeded PRNG for the live sessions, which fast-check does not drive. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 2 ** 32;
  };
}

/** XOR edits (offset, non-zero mask): a mutation that always changes the bytes it touches. */
export const xorEdits = (maxEdits: number): fc.Arbitrary<[number, number][]> =>
  fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: maxEdits });

/** Applies XOR edits at offsets modulo the length; distinct offsets, so no edit undoes another. */
export function applyXorEdits(bytes: Uint8Array, edits: readonly [number, number][]): Buffer {
  const mutated = Buffer.from(bytes);
  const touched = new Set<number>();
  for (const [offset, mask] of edits) {
    const at = offset % mutated.length;
    if (touched.has(at)) continue;
    touched.add(at);
    mutated[at] = (mutated[at] as number) ^ mask;
  }
  return mutated;
}
