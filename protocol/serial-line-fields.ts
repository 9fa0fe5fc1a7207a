// [SL-2.4] Reading a line's arguments: the small parsers every verb's handler is made of, shared
// by serial-line-parse.ts and the cash-in verbs (serial-line-cash-in.ts). Each returns NaN or null
// for a bad field, never throws; a handler turns that into its reason.
import type { Cassette } from './devices.js';
import { isIn } from './serial-line-spec.js';

/** One verb's argument reader: the message, or why the arguments are bad. */
export type Handler<T> = (rest: string | null) => T | string;

/** Exactly `count` single-space-separated arguments, or null. */
export function split(rest: string | null, count: number): string[] | null {
  const parts = rest === null ? [] : rest.split(' ');
  return parts.length === count && parts.every((part) => part.length > 0) ? parts : null;
}

/** [SL-2.4] Decimal, no sign, no leading zeros, within [min, max]; NaN otherwise. */
export function integer(text: string | undefined, min: number, max: number): number {
  if (text === undefined || !/^(0|[1-9][0-9]{0,15})$/.test(text)) return Number.NaN;
  const value = Number(text);
  return isIn(value, min, max) ? value : Number.NaN;
}

export function noArguments<T>(message: T): Handler<T> {
  return (rest) => (rest === null ? message : 'takes no arguments');
}

export function oneInteger<T>(min: number, max: number, build: (value: number) => T): Handler<T> {
  return (rest) => {
    const value = integer(split(rest, 1)?.[0], min, max);
    return Number.isNaN(value) ? `expects one integer ${min}..${max}` : build(value);
  };
}

/** `denominationCents:count` fields, each denomination ≥ 1 and count in [countMin, countMax]; null if any is bad. */
export function notePairs(fields: readonly string[], countMin: number, countMax: number): Cassette[] | null {
  const notes = fields.map((pair) => {
    const [denomination, count, extra] = pair.split(':');
    return {
      denominationCents: integer(denomination, 1, Number.MAX_SAFE_INTEGER),
      count: extra === undefined ? integer(count, countMin, countMax) : Number.NaN,
    };
  });
  return notes.every((note) => !Number.isNaN(note.denominationCents) && !Number.isNaN(note.count)) ? notes : null;
}

/** Strictly largest first (so each denomination once): the canonical order of ACCEPTS, DEPOSITS and ESCROW. */
export function descending(denominationsCents: readonly number[]): boolean {
  return denominationsCents.every((cents, index) => index === 0 || cents < (denominationsCents[index - 1] as number));
}
