// Money is integer cents everywhere; dollars exist only when parsing what a person typed
// and when formatting for a person. These two functions are that boundary.

/** Largest amount any single request may carry; far below 2^53 so sums stay exact. */
export const AMOUNT_CENTS_MAX = 100_000_000_00; // 100 million dollars

export function isValidAmountCents(amountCents: unknown): amountCents is number {
  return (
    typeof amountCents === 'number' &&
    Number.isSafeInteger(amountCents) &&
    amountCents > 0 &&
    amountCents <= AMOUNT_CENTS_MAX
  );
}

export type ParsedAmount = { ok: true; amountCents: number } | { ok: false; reason: string };

/** "150", "150.5", "150.50" → cents. Refuses signs, exponents, thousands separators, > 2 decimals. */
export function parseDollars(text: string): ParsedAmount {
  const match = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text.trim());
  if (!match) return { ok: false, reason: `not an amount in dollars with at most 2 decimals: ${JSON.stringify(text)}` };
  const dollars = Number(match[1]);
  const cents = Number((match[2] ?? '').padEnd(2, '0'));
  const amountCents = dollars * 100 + cents;
  if (!isValidAmountCents(amountCents)) return { ok: false, reason: `amount out of range: ${text}` };
  return { ok: true, amountCents };
}

/** 15000 → "150.00"; negative values keep their sign. */
export function formatCents(amountCents: number): string {
  const sign = amountCents < 0 ? '-' : '';
  const absolute = Math.abs(amountCents);
  return `${sign}${Math.floor(absolute / 100)}.${String(absolute % 100).padStart(2, '0')}`;
}
