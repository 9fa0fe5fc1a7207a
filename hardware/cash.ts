// Cash arithmetic every dispenser driver shares: the default cassettes, their checks, and which
// notes make an amount exactly. Pure; money in integer cents.
import { CASSETTES_MAX, assert } from '../protocol/index.js';
import type { Cassette, DispenseFault, DispenseResult } from './types.js';

// Two cassettes, as on many street ATMs: 20.00 notes, and 10.00 notes so that amounts like
// 50.00 can be paid.
export const SIM_CASSETTES_DEFAULT: readonly Cassette[] = [
  { denominationCents: 2000, count: 100 },
  { denominationCents: 1000, count: 100 },
];
export const LOW_CASH_COUNT_DEFAULT = 10;
/** Bounds notesFor's search; past it the amount counts as one the cassettes cannot make. */
export const NOTES_SEARCH_STEPS_MAX = 100_000;

function greatestCommonDivisor(a: number, b: number): number {
  return b === 0 ? a : greatestCommonDivisor(b, a % b);
}

/**
 * The notes that make amountCents exactly, largest denomination first, or null. Greedy first
 * (as many large notes as fit), backtracking to fewer when the rest cannot be made: 5000+2000×3
 * has no 6000, but 2000×3 has. Pruned by what the smaller cassettes hold and by their common
 * divisor; bounded by stepsMax, beyond which it answers null (never wrong cash).
 */
export function notesForAmount(
  cassettes: readonly Cassette[],
  amountCents: number,
  stepsMax = NOTES_SEARCH_STEPS_MAX,
): Cassette[] | null {
  if (!Number.isSafeInteger(amountCents) || amountCents <= 0) return null;
  const loaded = cassettes
    .filter((cassette) => cassette.count > 0)
    .sort((a, b) => b.denominationCents - a.denominationCents);
  const capacityFrom: number[] = new Array<number>(loaded.length + 1).fill(0);
  const divisorFrom: number[] = new Array<number>(loaded.length + 1).fill(0);
  for (let index = loaded.length - 1; index >= 0; index -= 1) {
    const cassette = loaded[index] as Cassette;
    capacityFrom[index] = (capacityFrom[index + 1] ?? 0) + cassette.denominationCents * cassette.count;
    divisorFrom[index] = greatestCommonDivisor(cassette.denominationCents, divisorFrom[index + 1] ?? 0);
  }
  const counts: number[] = new Array<number>(loaded.length).fill(0);
  let steps = 0;
  const search = (index: number, remainingCents: number): boolean => {
    if (remainingCents === 0) return true;
    const cassette = loaded[index];
    if (cassette === undefined) return false;
    if (remainingCents > (capacityFrom[index] ?? 0) || remainingCents % (divisorFrom[index] ?? 1) !== 0) return false;
    for (
      let take = Math.min(cassette.count, Math.floor(remainingCents / cassette.denominationCents));
      take >= 0;
      take -= 1
    ) {
      steps += 1;
      if (steps > stepsMax) return false;
      counts[index] = take;
      if (search(index + 1, remainingCents - take * cassette.denominationCents)) return true;
    }
    counts[index] = 0;
    return false;
  };
  if (!search(0, amountCents)) return null;
  return loaded
    .map((cassette, index) => ({ denominationCents: cassette.denominationCents, count: counts[index] ?? 0 }))
    .filter((notes) => notes.count > 0);
}

export function assertCassettes(cassettes: readonly Cassette[]): void {
  assert(cassettes.length >= 1 && cassettes.length <= CASSETTES_MAX, `1..${CASSETTES_MAX} cassettes`);
  let capacityCents = 0;
  for (const { denominationCents, count } of cassettes) {
    assert(Number.isSafeInteger(denominationCents) && denominationCents > 0, `bad denomination ${denominationCents}`);
    assert(Number.isSafeInteger(count) && count >= 0, `bad note count ${count}`);
    capacityCents += denominationCents * count;
  }
  assert(Number.isSafeInteger(capacityCents), 'cassettes hold more cents than a safe integer');
  // One cassette per denomination keeps notesFor's answer (per denomination) unambiguous.
  assert(
    new Set(cassettes.map((cassette) => cassette.denominationCents)).size === cassettes.length,
    'one cassette per denomination',
  );
}

/** A dispense that failed: what the fault was, why, and what left the machine anyway. */
export function dispenseFailure(fault: DispenseFault, detail: string, dispensedCents = 0): DispenseResult {
  return { ok: false, fault, dispensedCents, detail };
}

/**
 * Takes the notes notesForAmount chose out of the loaded cassettes (their counts go down), at
 * most notesMax of them, as a jam part-way would; what left the machine, in notes and cents.
 * The sim dispenser and the firmware simulator's device both pay out through this.
 */
export function takeNotes(
  loaded: Cassette[],
  notes: readonly Cassette[],
  notesMax = Number.POSITIVE_INFINITY,
): { presented: number; dispensedCents: number } {
  let presented = 0;
  let dispensedCents = 0;
  for (const note of notes) {
    const cassette = loaded.find((candidate) => candidate.denominationCents === note.denominationCents);
    assert(cassette !== undefined && cassette.count >= note.count, 'notes chosen that the cassettes lack');
    const taken = Math.min(note.count, notesMax - presented);
    cassette.count -= taken;
    presented += taken;
    dispensedCents += taken * note.denominationCents;
  }
  return { presented, dispensedCents };
}
