// The dashboard on a real terminal, with plain blessed boxes (no chart library: the tps chart
// is text from chart.ts). It only paints what panels.ts says and turns key presses into
// ViewKeys; every decision is in the reducer. Lays itself out again on resize, and paints at
// most every RENDER_INTERVAL_MS however fast telemetry arrives.
import blessed from 'blessed';
import type { Readable, Writable } from 'node:stream';
import { chartPanel } from './chart.js';
import { alertsPanel, eventsPanel, headerLine, kiosksPanel, totalsPanel, type PanelText } from './panels.js';
import type { DashboardState } from './state.js';
import {
  HELP_TEXT,
  clip,
  layoutFor,
  type Box,
  type DashboardView,
  type Line,
  type Tone,
  type ViewKey,
} from './view.js';

export const RENDER_INTERVAL_MS = 100;

const TONE_TAGS: Record<Tone, [string, string]> = {
  plain: ['', ''],
  ok: ['{green-fg}', '{/green-fg}'],
  decline: ['{yellow-fg}', '{/yellow-fg}'],
  bad: ['{red-fg}', '{/red-fg}'],
  muted: ['{gray-fg}', '{/gray-fg}'],
  selected: ['{inverse}', '{/inverse}'],
  heading: ['{bold}', '{/bold}'],
};

function tagged(shown: Line, width: number): string {
  return clip(shown, width)
    .map((segment) => {
      const [open, close] = TONE_TAGS[segment.tone];
      return `${open}${blessed.escape(segment.text)}${close}`;
    })
    .join('');
}

interface KeyInfo {
  name?: string;
  ctrl?: boolean;
  shift?: boolean;
}

/** Terminal key → dashboard key; null for keys the dashboard does not use. */
export function viewKeyOf(ch: string | undefined, key: KeyInfo | undefined): ViewKey | null {
  if (key?.ctrl === true) return key.name === 'c' ? 'quit' : null;
  if (ch === 'q' || ch === 'Q') return 'quit';
  if (ch === 'A') return 'ackAll';
  if (ch === 'a') return 'ack';
  if (ch === 'p' || ch === ' ') return 'pause';
  if (key?.name === 'up' || ch === 'k') return 'up';
  if (key?.name === 'down' || ch === 'j') return 'down';
  if (key?.name === 'pageup') return 'logOlder';
  if (key?.name === 'pagedown') return 'logNewer';
  return null;
}

export interface BlessedViewOptions {
  /** Where keys come from (default stdin; /dev/tty when stdin carried the password). */
  input?: Readable;
  output?: Writable;
}

export class BlessedDashboardView implements DashboardView {
  private readonly screen: blessed.Widgets.Screen;
  private readonly boxes: Record<
    'header' | 'kiosks' | 'chart' | 'alerts' | 'totals' | 'events' | 'help',
    blessed.Widgets.BoxElement
  >;
  private state: DashboardState | null = null;
  private cooldown: NodeJS.Timeout | null = null;
  private dirty = false;
  private destroyed = false;

  constructor(options: BlessedViewOptions = {}) {
    // blessed's types have input and output swapped; both are duplex tty streams in practice.
    const streams = {
      input: options.input as unknown as Writable | undefined,
      output: options.output as unknown as Readable | undefined,
    };
    this.screen = blessed.screen({ smartCSR: true, title: 'ATM operator', fullUnicode: true, ...streams });
    // wrap: false, because blessed wraps a full-width line whose closing colour tag it counts
    // as text; lines are clipped to the box by clip() instead.
    const panel = (label: string): blessed.Widgets.BoxElement =>
      blessed.box({
        parent: this.screen,
        border: 'line',
        label,
        tags: true,
        wrap: false,
        style: { border: { fg: 'cyan' } },
      });
    this.boxes = {
      header: blessed.box({
        parent: this.screen,
        height: 1,
        tags: true,
        wrap: false,
        style: { fg: 'white', bg: 'blue' },
      }),
      kiosks: panel(' Kiosks '),
      chart: panel(' Transactions/s '),
      alerts: panel(' Alerts '),
      totals: panel(' Totals '),
      events: panel(' Events '),
      help: blessed.box({
        parent: this.screen,
        height: 1,
        tags: false,
        content: HELP_TEXT,
        style: { fg: 'black', bg: 'white' },
      }),
    };
    this.screen.on('resize', () => this.paint());
  }

  onKey(listener: (key: ViewKey) => void): void {
    this.screen.on('keypress', (ch: string | undefined, key: KeyInfo | undefined) => {
      const mapped = viewKeyOf(ch, key);
      if (mapped !== null) listener(mapped);
    });
  }

  render(state: DashboardState): void {
    this.state = state;
    if (this.destroyed) return;
    if (this.cooldown !== null) {
      this.dirty = true;
      return;
    }
    this.paint();
    this.cooldown = setTimeout(() => {
      this.cooldown = null;
      if (this.dirty) this.render(this.state ?? state);
    }, RENDER_INTERVAL_MS);
    this.dirty = false;
  }

  private place(box: blessed.Widgets.BoxElement, at: Box, text: PanelText | null): void {
    box.top = at.top;
    box.left = at.left;
    box.width = at.width;
    box.height = at.height;
    if (text === null) return;
    box.setLabel(text.label.slice(0, Math.max(0, at.width - 4)));
    box.setContent(text.lines.map((shown) => tagged(shown, at.width - 2)).join('\n'));
  }

  private paint(): void {
    const state = this.state;
    if (state === null || this.destroyed) return;
    const layout = layoutFor(Number(this.screen.width), Number(this.screen.height));
    const inner = (box: Box): number => box.height - 2;
    this.place(this.boxes.header, layout.header, null);
    this.boxes.header.setContent(tagged(headerLine(state, layout.header.width), layout.header.width));
    this.place(this.boxes.kiosks, layout.kiosks, kiosksPanel(state, inner(layout.kiosks), layout.kiosks.width - 2));
    this.place(this.boxes.chart, layout.chart, chartPanel(state, layout.chart.width - 2, inner(layout.chart)));
    this.place(this.boxes.alerts, layout.alerts, alertsPanel(state, inner(layout.alerts), layout.alerts.width - 2));
    this.place(this.boxes.totals, layout.totals, totalsPanel(state));
    this.place(this.boxes.events, layout.events, eventsPanel(state, inner(layout.events), layout.events.width - 2));
    this.place(this.boxes.help, layout.help, null);
    this.screen.render();
  }

  destroy(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    if (this.cooldown !== null) clearTimeout(this.cooldown);
    this.screen.destroy();
  }
}
