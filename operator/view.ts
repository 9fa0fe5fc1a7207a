// [Seam] The dashboard's view: what any screen implementation must do (DashboardView), and the
// pure part every implementation shares — the layout for a given terminal size and the text of
// each panel as lines of toned segments. No terminal library here, so layouts are unit tests.
import type { DashboardKey } from './model.js';
import type { DashboardState } from './state.js';

export type ViewKey = DashboardKey | 'quit';

/**
 * Contract for implementers: render() shows the whole state (cheap to call often; an
 * implementation may coalesce); onKey() registers the one listener for the operator's keys;
 * destroy() gives the terminal back exactly as it was and is safe to call twice. None throws.
 */
export interface DashboardView {
  render(state: DashboardState): void;
  onKey(listener: (key: ViewKey) => void): void;
  destroy(): void;
}

/** ok green, decline yellow, bad red; muted for what is no longer current. */
export type Tone = 'plain' | 'ok' | 'decline' | 'bad' | 'muted' | 'selected' | 'heading';

export interface Segment {
  text: string;
  tone: Tone;
}

export type Line = readonly Segment[];

export const line = (text: string, tone: Tone = 'plain'): Line => [{ text, tone }];

export const lineText = (shown: Line): string => shown.map((segment) => segment.text).join('');

/** Cuts a line to `width` characters, segment by segment. */
export function clip(shown: Line, width: number): Line {
  const out: Segment[] = [];
  let room = Math.max(0, width);
  for (const segment of shown) {
    if (room === 0) break;
    const text = segment.text.slice(0, room);
    room -= text.length;
    out.push({ text, tone: segment.tone });
  }
  return out;
}

/**
 * Breaks text into lines of at most `width` characters at spaces, continuation lines indented
 * by `indent`; a word longer than a line is split. Nothing is lost, unlike clip().
 */
export function wrapText(text: string, width: number, indent: number): string[] {
  const room = Math.max(1, width);
  const pad = ' '.repeat(Math.min(indent, Math.floor(room / 2)));
  const lines: string[] = [];
  let rest = text;
  while (rest.length > room) {
    const space = rest.lastIndexOf(' ', room);
    const cut = space > pad.length ? space : room;
    lines.push(rest.slice(0, cut).trimEnd());
    rest = pad + rest.slice(cut).trimStart();
  }
  lines.push(rest);
  return lines;
}

export interface Box {
  top: number;
  left: number;
  width: number;
  height: number;
}

export interface DashboardLayout {
  header: Box;
  kiosks: Box;
  chart: Box;
  alerts: Box;
  totals: Box;
  events: Box;
  help: Box;
}

export const SCREEN_COLS_MIN = 80;
export const SCREEN_ROWS_MIN = 24;

/**
 * 80×24 and up: a header row; kiosks beside the tps chart; alerts beside the totals; the
 * event log across the bottom (it takes the extra height); the key help on the last row.
 * Smaller terminals get the 80×24 layout clipped, rather than an unreadable squeeze.
 */
export function layoutFor(cols: number, rows: number): DashboardLayout {
  const width = Math.max(cols, SCREEN_COLS_MIN);
  const height = Math.max(rows, SCREEN_ROWS_MIN);
  const body = height - 2;
  const topHeight = Math.max(7, Math.floor(body * 0.3));
  const middleHeight = Math.max(7, Math.floor(body * 0.3));
  const rightWidth = Math.max(32, Math.floor(width * 0.4));
  const leftWidth = width - rightWidth;
  const middleTop = 1 + topHeight;
  const eventsTop = middleTop + middleHeight;
  return {
    header: { top: 0, left: 0, width, height: 1 },
    kiosks: { top: 1, left: 0, width: leftWidth, height: topHeight },
    chart: { top: 1, left: leftWidth, width: rightWidth, height: topHeight },
    alerts: { top: middleTop, left: 0, width: leftWidth, height: middleHeight },
    totals: { top: middleTop, left: leftWidth, width: rightWidth, height: middleHeight },
    events: { top: eventsTop, left: 0, width, height: height - 1 - eventsTop },
    help: { top: height - 1, left: 0, width, height: 1 },
  };
}

export const HELP_TEXT = ' a ack alert  A ack all  ↑/↓ select  PgUp/PgDn scroll log  p pause log  q quit';
