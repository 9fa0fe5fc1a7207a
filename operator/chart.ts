// The transactions-per-second chart, drawn as text: one column per slice of the window, bars
// of eighth blocks stacked over the panel's rows, so no chart library is needed and it reads
// the same in any terminal with Unicode.
import { currentTps, tpsColumns } from './rates.js';
import type { DashboardState } from './state.js';
import { line, type Line } from './view.js';
import type { PanelText } from './panels.js';

const EIGHTHS = [' ', '▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

export const formatTps = (tps: number): string => (tps >= 100 ? tps.toFixed(0) : tps.toFixed(1));

/** Rows of bar characters, top row first; the tallest column fills the height. */
export function barRows(values: readonly number[], rows: number): string[] {
  const peak = Math.max(...values, 0);
  const out: string[] = [];
  for (let row = rows - 1; row >= 0; row--) {
    let text = '';
    for (const value of values) {
      // A non-zero rate always shows at least one eighth, so a trickle is not invisible.
      const eighths = peak === 0 || value === 0 ? 0 : Math.max(1, Math.round((value / peak) * rows * 8));
      text += EIGHTHS[Math.min(8, Math.max(0, eighths - row * 8))] ?? ' ';
    }
    out.push(text);
  }
  return out;
}

export function chartPanel(state: DashboardState, width: number, rows: number): PanelText {
  const { rates, limits } = state;
  const minutes = Math.round(limits.tpsWindowMs / 60_000);
  // "counted": no metrics from the bank, so the rate is counted from the events we received.
  const label = ` TPS, last ${minutes} min${rates.source === 'events' ? ' (counted)' : ''} `;
  if (rates.samples.length === 0)
    return { label, lines: [line(state.connection.everOnline ? 'no data yet' : 'waiting for the broker…', 'muted')] };
  const values = tpsColumns(rates.samples, state.nowMs, limits.tpsWindowMs, width);
  const peak = Math.max(...values, 0);
  const latest = rates.latest;
  const latency =
    latest !== null && latest.p99Ms !== null && rates.source === 'metrics' ? ` p99 ${Math.round(latest.p99Ms)}ms` : '';
  const lines: Line[] = [line(`now ${formatTps(currentTps(rates, state.nowMs))}/s peak ${formatTps(peak)}${latency}`)];
  lines.push(...barRows(values, Math.max(1, rows - 1)).map((text) => line(text, 'ok')));
  return { label, lines };
}
