// Keeps a bank publish behind the retained one before it, against aedes's reordering
// (moscajs/aedes#994). Split from broker.ts (issue 13): a piece of ordering logic with its own
// reason, apart from the broker's wiring and access rules.
import type { Client } from 'aedes';

/**
 * aedes 1.2 delivers a retained publish a few microtasks later than a plain one (it awaits
 * the persistence first), and each subscriber then drops whichever packet is older than one
 * it already got (dedupe by broker counter): a kiosk status followed at once by an event
 * never reached a `#` subscriber (the same inversion as moscajs/aedes#994, open). So a bank
 * publish that follows a retained one still in the broker waits until that one has been
 * published (`published` hook); with none in flight it goes straight through.
 */
const PUBLISH_STALL_MS = 1_000;

export class RetainedFirst {
  /** Per client: the latest retained publish not yet published. */
  private readonly inFlight = new WeakMap<Client, Promise<void>>();
  private readonly releases = new WeakMap<object, () => void>();

  admit(client: Client, packet: { retain: boolean }, done: () => void): void {
    const before = this.inFlight.get(client);
    if (packet.retain) {
      const turn = new Promise<void>((resolve) => this.releases.set(packet, resolve));
      this.inFlight.set(client, turn);
      void turn.then(() => {
        if (this.inFlight.get(client) === turn) this.inFlight.delete(client);
      });
    }
    if (before === undefined) {
      done();
      return;
    }
    // A publish that failed inside aedes is never `published`; it must not stall the rest.
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<void>((resolve) => (timer = setTimeout(resolve, PUBLISH_STALL_MS)));
    timer?.unref();
    void Promise.race([before, stalled]).then(() => {
      clearTimeout(timer);
      done();
    });
  }

  published(packet: object): void {
    this.releases.get(packet)?.();
    this.releases.delete(packet);
  }
}
