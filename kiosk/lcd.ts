// Text for the kiosk's character display (an HD44780 16×2 or 20×4, or whatever the driver
// reports), written for the glass rather than cut from the screen's sentences. Each line comes
// in forms from longest to shortest and the widest that fits is shown; a line with an amount
// always has a last form that is the amount alone, so an amount is never cut. On a display
// with fewer rows the lines of lowest rank go first. Only characters the HD44780's A00 ROM
// shows as themselves: printable ASCII without '\' (¥ there) and '~' (→ there).
import { formatCents } from '../protocol/index.js';

/** The smallest display the kiosk writes for: every line has a form this wide or narrower. */
export const LCD_COLUMNS_MIN = 16;

export interface LcdLine {
  /** Longest first; the last must be at most LCD_COLUMNS_MIN wide. */
  forms: readonly string[];
  /** 0 is shown on every display; higher ranks are dropped first when rows run out. */
  rank: number;
}

export interface LcdSize {
  rows: number;
  columns: number;
}

export const text = (rank: number, ...forms: string[]): LcdLine => ({ forms, rank });

/** "Balance: 1234.56", "Bal: 1234.56", then "1234.56" alone: the amount is never cut. */
export function amount(rank: number, labels: readonly string[], amountCents: number): LcdLine {
  const shown = formatCents(amountCents);
  return { forms: [...labels.map((label) => `${label} ${shown}`), shown], rank };
}

const TRANSLITERATIONS: Record<string, string> = {
  '…': '...',
  '—': '-',
  '–': '-',
  '·': '.',
  '×': 'x',
  '\\': '/',
  '~': '-',
  '’': "'",
  '‘': "'",
  '“': '"',
  '”': '"',
};

/** Maps what the ROM cannot show to look-alikes, then anything else left to '?'. */
export function lcdSafe(line: string): string {
  return Array.from(line)
    .map((character) => TRANSLITERATIONS[character] ?? character)
    .join('')
    .replace(/[^\x20-\x5b\x5d-\x7d]/g, '?');
}

/** The display's text: the rows that matter most, each in the widest form that fits. */
export function fitLcd(lines: readonly LcdLine[], size: LcdSize): string[] {
  const kept = lines.map((line, index) => ({ line, index }));
  while (kept.length > size.rows) {
    // Drop the last of the highest rank: a screen's later lines are its details.
    let drop = 0;
    kept.forEach((entry, at) => {
      if (entry.line.rank >= (kept[drop] as (typeof kept)[number]).line.rank) drop = at;
    });
    kept.splice(drop, 1);
  }
  return kept.map(({ line }) => {
    const forms = line.forms.map(lcdSafe);
    return forms.find((form) => form.length <= size.columns) ?? (forms.at(-1) ?? '').slice(0, size.columns);
  });
}
