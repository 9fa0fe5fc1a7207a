// What a serial link counts across its connections (each has a fresh LineSplitter, whose
// counts are folded in), the one-line summary the kiosk's log gets, and when dropped lines are
// worth a log line. Pure apart from the time passed in.
import type { LineStats } from '../protocol/index.js';

/** At most one "dropping lines" log line per this long: noise must not flood the log. */
const DROP_LOG_INTERVAL_MS = 10_000;

export interface SerialLinkStats {
  /** Lines that parsed into a device message. */
  messages: number;
  /** Every line seen, and those dropped: over LINE_BYTES_MAX, corrupt (bad byte, checksum or field), unknown verb. */
  lines: number;
  oversize: number;
  corrupt: number;
  unknown: number;
  /** Why the last dropped line did not parse (oversize lines never reach the parser). */
  lastRejectReason: string | null;
  connects: number;
  disconnects: number;
}

type SplitterCounts = Pick<LineStats, 'lines' | 'oversize' | 'corrupt' | 'unknown'>;
const NO_LINES: SplitterCounts = { lines: 0, oversize: 0, corrupt: 0, unknown: 0 };

export class SerialLinkCounters {
  /** The link's own counts (messages, connects, …); the line counts come from the splitters. */
  readonly count: SerialLinkStats = { ...NO_LINES, messages: 0, lastRejectReason: null, connects: 0, disconnects: 0 };
  private folded: SplitterCounts = { ...NO_LINES };
  private droppedLogged = 0;
  private dropLoggedAtMs = Number.NEGATIVE_INFINITY;

  /** Everything so far, with what the current splitter counted since the last fold. */
  snapshot(splitter: LineStats): SerialLinkStats {
    this.fold(splitter);
    return { ...this.count };
  }

  /** The current splitter is replaced by a fresh one: fold in its last counts first. */
  replaceSplitter(splitter: LineStats): void {
    this.fold(splitter);
    this.folded = { ...NO_LINES };
  }

  /** One line for the kiosk's log: what the line carried and what was dropped. */
  summary(splitter: LineStats): string {
    const stats = this.snapshot(splitter);
    return `${stats.lines} lines, ${stats.messages} messages; dropped ${stats.oversize} oversize, ${stats.corrupt} corrupt, ${stats.unknown} unknown; ${stats.connects} connects, ${stats.disconnects} disconnects`;
  }

  /** Dropped lines are worth a log line (noise means a bad cable or baud rate), at most one per DROP_LOG_INTERVAL_MS. */
  dropReport(splitter: LineStats, nowMs: number): string | null {
    const stats = this.snapshot(splitter);
    const dropped = stats.oversize + stats.corrupt + stats.unknown;
    if (dropped === this.droppedLogged) return null;
    if (nowMs - this.dropLoggedAtMs < DROP_LOG_INTERVAL_MS) return null;
    this.dropLoggedAtMs = nowMs;
    this.droppedLogged = dropped;
    return `dropping lines (${this.summary(splitter)}); last: ${stats.lastRejectReason ?? 'oversize or bad bytes'}`;
  }

  private fold(splitter: LineStats): void {
    this.count.lines += splitter.lines - this.folded.lines;
    this.count.oversize += splitter.oversize - this.folded.oversize;
    this.count.corrupt += splitter.corrupt - this.folded.corrupt;
    this.count.unknown += splitter.unknown - this.folded.unknown;
    this.folded = {
      lines: splitter.lines,
      oversize: splitter.oversize,
      corrupt: splitter.corrupt,
      unknown: splitter.unknown,
    };
  }
}
