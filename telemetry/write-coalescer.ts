// One write per subscriber per batch of the bank's publishes, instead of one per message.
//
// aedes writes each QoS 0 packet it delivers in a setImmediate of its own, and mqtt-packet
// uncorks the socket on the next tick, so every message became one writev on every
// subscriber's socket: 9,606 writev for 9,600 deposit events (strace of the broker thread),
// ~50 µs each on loopback, which was most of what the embedded broker cost per message with a
// dashboard subscribed (BENCHMARKS.md). The bank's messages reach the broker thread in batches;
// while a batch is being delivered every connection is corked, and uncorked by an immediate
// queued behind the batch's deliveries, so the batch leaves in one write per connection.
//
// Contract: hold(), called before each in-process publish, corks every connection once per
// event-loop turn and guarantees the uncork in the same or the next check phase: nothing is
// held longer than one turn, a connection closed meanwhile is skipped, and a connection that
// joins after the cork is left alone (it was never corked).

export interface Corkable {
  cork(): void;
  uncork(): void;
  readonly destroyed?: boolean;
}

export class WriteCoalescer {
  private corked: Corkable[] | null = null;

  constructor(private readonly connections: () => Iterable<Corkable>) {}

  hold(): void {
    if (this.corked !== null) return;
    const corked = [...this.connections()].filter((connection) => connection.destroyed !== true);
    for (const connection of corked) connection.cork();
    this.corked = corked;
    // The rest of this turn's publishes queue their deliveries (one setImmediate each) before
    // the next tick; an immediate queued then runs after all of them, in the same check phase.
    process.nextTick(() => setImmediate(() => this.release()));
  }

  /** Whether a batch is being held (for tests). */
  holding(): boolean {
    return this.corked !== null;
  }

  private release(): void {
    const corked = this.corked ?? [];
    this.corked = null;
    for (const connection of corked) {
      if (connection.destroyed !== true) connection.uncork();
    }
  }
}
