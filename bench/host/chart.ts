// The scaling chart of BENCHMARKS.md and the README, drawn from a bench report (`atm bench
// --svg FILE`): the mixed scenario's
// durable requests/s and p99 over its session counts, and pgbench TPC-B at the same client
// counts when --compare ran. A pure function of the report: plain SVG, no fonts or scripts
// fetched, so it renders the same on GitHub, in a browser and in a test.
import type { BenchReport } from './report.js';

export interface Series {
  label: string;
  colour: string;
  dashed: boolean;
  /** [sessions, value] in ascending sessions. */
  points: [number, number][];
}

const WIDTH = 760;
const PANEL_HEIGHT = 220;
const MARGIN = { left: 70, right: 200, top: 40, gap: 60, bottom: 40 };
const OURS = '#1f6feb';
const PGBENCH = '#d1242f';
const TARGET = '#8c959f';

const escapeXml = (text: string): string => text.replace(/[<>&"']/g, (char) => `&#${String(char.codePointAt(0))};`);

/** A round upper bound for an axis: 1, 2 or 5 times a power of ten, at least `value`. */
export function niceCeiling(value: number): number {
  if (value <= 0) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  return [1, 2, 5, 10].map((step) => step * power).find((bound) => bound >= value) ?? 10 * power;
}

/** One panel: evenly spaced session counts on x (they grow geometrically), linear y from 0. */
function panel(title: string, unit: string, top: number, sessions: number[], series: Series[]): string {
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const maxValue = niceCeiling(Math.max(0, ...series.flatMap((line) => line.points.map(([, value]) => value))));
  const x = (count: number): number =>
    MARGIN.left +
    (sessions.length === 1 ? plotWidth / 2 : (sessions.indexOf(count) / (sessions.length - 1)) * plotWidth);
  const y = (value: number): number => top + PANEL_HEIGHT - (value / maxValue) * PANEL_HEIGHT;
  const parts: string[] = [
    `<text x="${MARGIN.left}" y="${top - 12}" font-size="14" font-weight="bold">${escapeXml(title)}</text>`,
  ];
  for (let tick = 0; tick <= 4; tick += 1) {
    const value = (maxValue * tick) / 4;
    parts.push(
      `<line x1="${MARGIN.left}" x2="${MARGIN.left + plotWidth}" y1="${y(value)}" y2="${y(value)}" stroke="#eaeef2"/>`,
      `<text x="${MARGIN.left - 8}" y="${y(value) + 4}" font-size="11" text-anchor="end">${value.toLocaleString('en')}${unit}</text>`,
    );
  }
  for (const count of sessions) {
    parts.push(
      `<text x="${x(count)}" y="${top + PANEL_HEIGHT + 16}" font-size="11" text-anchor="middle">${count}</text>`,
    );
  }
  parts.push(
    `<text x="${MARGIN.left + plotWidth / 2}" y="${top + PANEL_HEIGHT + 32}" font-size="11" text-anchor="middle">sessions (pgbench: clients)</text>`,
  );
  series.forEach((line, index) => {
    const path = line.points.map(([count, value]) => `${x(count).toFixed(1)},${y(value).toFixed(1)}`).join(' ');
    const dash = line.dashed ? ' stroke-dasharray="6 4"' : '';
    parts.push(`<polyline points="${path}" fill="none" stroke="${line.colour}" stroke-width="2"${dash}/>`);
    for (const [count, value] of line.points) {
      if (!line.dashed) parts.push(`<circle cx="${x(count)}" cy="${y(value)}" r="3" fill="${line.colour}"/>`);
    }
    const legendY = top + 14 + index * 18;
    const legendX = MARGIN.left + plotWidth + 16;
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 20}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${line.colour}" stroke-width="2"${dash}/>`,
      `<text x="${legendX + 26}" y="${legendY}" font-size="11">${escapeXml(line.label)}</text>`,
    );
  });
  return parts.join('\n');
}

/** The chart, or null when the report has no mixed step to draw. */
export function scalingChartSvg(report: BenchReport): string | null {
  const mixed = report.scenarios
    .filter((step) => step.name === 'mixed')
    .sort((left, right) => left.sessions - right.sessions);
  if (mixed.length === 0) return null;
  const sessions = mixed.map((step) => step.sessions);
  const pg = report.compare?.pgbench.available === true ? report.compare.pgbench.runs : [];
  const pgPoints = sessions.flatMap((count): [number, number][] => {
    const run = pg.find((entry) => entry.clients === count);
    return run === undefined ? [] : [[count, Math.round(run.tps)]];
  });
  const throughput: Series[] = [
    {
      label: 'atm bank (durable req/s)',
      colour: OURS,
      dashed: false,
      points: mixed.map((step) => [step.sessions, step.requestsPerSecond]),
    },
  ];
  if (pgPoints.length > 0) {
    throughput.push(
      { label: 'pgbench TPC-B (tps)', colour: PGBENCH, dashed: false, points: pgPoints },
      {
        label: 'target: 3 × pgbench',
        colour: PGBENCH,
        dashed: true,
        points: pgPoints.map(([count, tps]) => [count, 3 * tps]),
      },
    );
  }
  const latency: Series[] = [
    {
      label: 'atm bank p99',
      colour: OURS,
      dashed: false,
      points: mixed.map((step) => [step.sessions, step.latencyMs.p99]),
    },
    {
      label: 'atm bank p50',
      colour: OURS,
      dashed: true,
      points: mixed.map((step) => [step.sessions, step.latencyMs.p50]),
    },
    { label: 'target: p99 ≤ 10 ms', colour: TARGET, dashed: true, points: mixed.map((step) => [step.sessions, 10]) },
  ];
  const secondTop = MARGIN.top + PANEL_HEIGHT + MARGIN.gap;
  const height = secondTop + PANEL_HEIGHT + MARGIN.bottom + 20;
  const caption = `${report.machine}, node ${report.node}; ${report.bank}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    panel('mixed scenario: durable requests per second', '', MARGIN.top, sessions, throughput),
    panel('mixed scenario: latency', ' ms', secondTop, sessions, latency),
    `<text x="${MARGIN.left}" y="${height - 8}" font-size="10" fill="#57606a">${escapeXml(caption)}</text>`,
    '</svg>',
    '',
  ].join('\n');
}
