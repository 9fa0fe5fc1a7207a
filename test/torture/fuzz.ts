// The torture suite's fuzzers (issue 15, item 3 "Hostile peers"), one call each, returning what
// they fed and what came out, so the torture runner can run them at any scale (its long mode feeds
// at least FUZZ_FRAMES_LONG frames) and test/torture/fuzz.test.ts at a small one. A failure throws
// FuzzFailure, whose message names the seed (replay: ATM_FUZZ_SEED=<seed>) and the shrunk
// counterexample. The live sessions through a mutating proxy are in mutation-proxy.ts.
import { fuzzSeed, type FuzzOptions } from './fuzz-core.js';
import { runFrameFuzz, type FrameFuzzCounts } from './fuzz-frame.js';
import { runHandshakeFuzz, type HandshakeFuzzCounts } from './fuzz-handshake.js';
import { runMessageFuzz, type MessageFuzzCounts } from './fuzz-messages.js';
import { runRecordFuzz, type RecordFuzzCounts } from './fuzz-record.js';

export { FUZZ_SEED_ENV, FuzzFailure, fuzzSeed, type FuzzOptions } from './fuzz-core.js';
export { runFrameFuzz, type FrameFuzzCounts } from './fuzz-frame.js';
export { runHandshakeFuzz, type HandshakeFuzzCounts } from './fuzz-handshake.js';
export { runMessageFuzz, type MessageFuzzCounts } from './fuzz-messages.js';
export { RECORD_MUTATIONS, runRecordFuzz, type RecordFuzzCounts, type RecordMutation } from './fuzz-record.js';

/** What the torture runner's long mode must feed, at the least, across the fuzzers. */
export const FUZZ_FRAMES_LONG = 1_000_000;

export interface AllFuzzOptions {
  /** Runs of the frame fuzzer; the others get fixed fractions of it (their runs cost more). */
  runs: number;
  seed?: number;
}

export interface AllFuzzCounts {
  seed: number;
  frame: FrameFuzzCounts;
  handshake: HandshakeFuzzCounts;
  record: RecordFuzzCounts;
  messages: MessageFuzzCounts;
  /** Frames given to a decoder, a channel or a record opener, all fuzzers together. */
  frames: number;
}

/** Per frame-fuzzer run: what the others run (a handshake run costs ~100 frame runs of CPU). */
export const FUZZ_RUN_SHARES = { handshake: 0.02, record: 0.25, messages: 0.5 } as const;

/** Every fuzzer with one seed; `runs` scales them together. */
export function runAllFuzz(options: AllFuzzOptions): AllFuzzCounts {
  const seed = fuzzSeed(options.seed);
  const share = (fraction: number): FuzzOptions => ({ runs: Math.ceil(options.runs * fraction), seed });
  const frame = runFrameFuzz({ runs: options.runs, seed });
  const handshake = runHandshakeFuzz(share(FUZZ_RUN_SHARES.handshake));
  const record = runRecordFuzz(share(FUZZ_RUN_SHARES.record));
  const messages = runMessageFuzz(share(FUZZ_RUN_SHARES.messages));
  const frames = frame.frames + handshake.messages + record.records;
  return { seed, frame, handshake, record, messages, frames };
}
