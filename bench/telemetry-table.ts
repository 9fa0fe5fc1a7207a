// Number and Markdown table formatting for the telemetry benchmark's report.

export const fixed = (value: number, digits = 2): string => value.toFixed(digits);
export const signedPercent = (value: number): string => `${value >= 0 ? '+' : ''}${value.toFixed(1)} %`;

export function table(header: string[], rows: string[][]): string {
  const widths = header.map((cell, index) => Math.max(cell.length, ...rows.map((row) => (row[index] ?? '').length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((cell, index) => cell.padEnd(widths[index] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((width) => '-'.repeat(width + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
