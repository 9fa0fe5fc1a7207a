// How a serial link reads the device's lines, and what it counts across its connections (each
// has a fresh LineSplitter, whose counts are folded in): the one-line summary the kiosk's log
// gets, and when dropped lines are worth a log line. Pure apart from the time passed in.
import { LINE_BYTES_MAX, LineSplitter, parseDeviceLine } from '../protocol/index.js';
import type { DeviceMessage, LineStats } from '../protocol/index.js';

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
  private splitter = new LineSplitter(LINE_BYTES_MAX);
  private droppedLogged = 0;
  private dropLoggedAtMs = Number.NEGATIVE_INFINITY;

  /** A new connection reads with a fresh splitter (no half line survives a reconnect); the old one's counts are kept. */
  newConnection(): void {
    this.fold();
    this.folded = { ...NO_LINES };
    this.splitter = new LineSplitter(LINE_BYTES_MAX);
  }

  /** The device messages in a chunk, in order; a line that does not parse is counted and dropped, never thrown. */
  *messages(chunk: Buffer): Generator<DeviceMessage> {
    for (const line of this.splitter.push(chunk)) {
      const parsed = parseDeviceLine(line);
      if (!parsed.ok) {
        this.splitter.countRejected(parsed.reason);
        this.count.lastRejectReason = parsed.reason;
        continue;
      }
      this.count.messages += 1;
      yield parsed.message;
    }
  }

  /** Everything so far, with what the current splitter counted since the last fold. */
  snapshot(): SerialLinkStats {
    this.fold();
    return { ...this.count };
  }

  /** One line for the kiosk's log: what the line carried and what was dropped. */
  summary(): string {
    const stats = this.snapshot();
    return `${stats.lines} lines, ${stats.messages} messages; dropped ${stats.oversize} oversize, ${stats.corrupt} corrupt, ${stats.unknown} unknown; ${stats.connects} connects, ${stats.disconnects} disconnects`;
  }

  /** Dropped lines are worth a log line (noise means a bad cable or baud rate), at most one per DROP_LOG_INTERVAL_MS. */
  dropReport(nowMs: number): string | null {
    const stats = this.snapshot();
    const dropped = stats.oversize + stats.corrupt + stats.unknown;
    if (dropped === this.droppedLogged) return null;
    if (nowMs - this.dropLoggedAtMs < DROP_LOG_INTERVAL_MS) return null;
    this.dropLoggedAtMs = nowMs;
    this.droppedLogged = dropped;
    return `dropping lines (${this.summary()}); last: ${stats.lastRejectReason ?? 'oversize or bad bytes'}`;
  }

  private fold(): void {
    const splitter: LineStats = this.splitter.stats;
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
