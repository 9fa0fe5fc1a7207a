// The byte proxy of the live mutation sessions (mutation-proxy.ts): one listening port per lane,
// one link at a time, each link applying one planned mutation to one frame of one direction.
// Frames are found by their length prefix, as test/helpers/proxy.ts does; the attacker holds no
// key. Unlike that helper it can hold frames back (delay, reorder), cut a direction mid-frame
// (truncate: the bytes stop and that way is closed, as a cut cable), and it cleans up its timers.
import net from 'node:net';

export const LINK_MUTATIONS = ['flip', 'drop', 'duplicate', 'delay', 'reorder', 'splice', 'truncate'] as const;
export type LinkMutation = (typeof LINK_MUTATIONS)[number];
export type LinkDirection = 'toBank' | 'toKiosk';

export interface LinkPlan {
  mutation: LinkMutation;
  direction: LinkDirection;
  /** Which frame of that direction, 0 = the first (m1 towards the bank, m2 towards the kiosk). */
  frameIndex: number;
  /** A uniform draw in [0, 1) that picks the bit, the cut or the splice point. */
  point: number;
  delayMs: number;
}

/** How long a frame held for a reorder waits for a successor before it goes on alone. */
export const REORDER_WAIT_MS = 40;
const HEADER_BYTES = 4;

export interface LinkReport {
  /** The planned frame passed through the proxy (the session got that far). */
  applied: boolean;
  /** A reorder that found a successor to swap with. */
  swapped: boolean;
  closed: Promise<void>;
  /** Destroys both sockets now (the lane's safety net). */
  destroy(): void;
}

class FrameSplitter {
  private buffered: Buffer = Buffer.alloc(0);
  constructor(private readonly onFrame: (frame: Buffer) => void) {}
  push(chunk: Buffer): void {
    this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
    while (this.buffered.length >= HEADER_BYTES) {
      const end = HEADER_BYTES + this.buffered.readUInt32BE(0);
      if (this.buffered.length < end) return;
      this.onFrame(Buffer.from(this.buffered.subarray(0, end)));
      this.buffered = this.buffered.subarray(end);
    }
  }
}

/** Frame `target` with bytes from `other` after a cut point; the length prefix stays the target's. */
export function splice(target: Buffer, other: Buffer, point: number): Buffer {
  const cut = HEADER_BYTES + Math.floor(point * (target.length - HEADER_BYTES));
  const spliced = Buffer.from(target);
  other.copy(spliced, cut, Math.min(cut, other.length), Math.min(other.length, target.length));
  if (spliced.equals(target)) spliced[target.length - 1] = (spliced[target.length - 1] as number) ^ 0x01;
  return spliced;
}

/** One link: a kiosk's connection to the lane's port, relayed to the bank with the plan applied. */
export function mutatingLink(kioskSide: net.Socket, bankPort: number, plan: LinkPlan, spare: Buffer): LinkReport {
  const bankSide = net.connect({ host: '127.0.0.1', port: bankPort });
  const sockets: Record<LinkDirection, net.Socket> = { toBank: bankSide, toKiosk: kioskSide };
  const counters: Record<LinkDirection, number> = { toBank: 0, toKiosk: 0 };
  const previous: Record<LinkDirection, Buffer> = { toBank: spare, toKiosk: spare };
  const holding: Record<LinkDirection, Buffer[] | null> = { toBank: null, toKiosk: null };
  const pendingSwap: Record<LinkDirection, Buffer | null> = { toBank: null, toKiosk: null };
  const timers = new Set<NodeJS.Timeout>();
  let cut = false;
  const report: LinkReport = {
    applied: false,
    swapped: false,
    closed: Promise.all([closedOf(kioskSide), closedOf(bankSide)]).then(() => {
      for (const timer of timers) clearTimeout(timer);
    }),
    destroy: () => {
      kioskSide.destroy();
      bankSide.destroy();
    },
  };
  const write = (direction: LinkDirection, bytes: Buffer): void => {
    const held = holding[direction];
    if (held !== null) held.push(bytes);
    else if (!cut || direction !== plan.direction) sockets[direction].write(bytes);
  };
  const later = (delayMs: number, action: () => void): void => {
    const timer = setTimeout(() => {
      timers.delete(timer);
      action();
    }, delayMs);
    timers.add(timer);
  };
  const release = (direction: LinkDirection, first: Buffer[]): void => {
    const queued = holding[direction] ?? [];
    holding[direction] = null;
    for (const bytes of [...first, ...queued]) write(direction, bytes);
  };
  const mutate = (direction: LinkDirection, frame: Buffer): void => {
    report.applied = true;
    const at = (span: number): number => Math.floor(plan.point * span);
    switch (plan.mutation) {
      case 'flip': {
        const bit = at(frame.length * 8);
        const flipped = Buffer.from(frame);
        flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (1 << (bit & 7));
        write(direction, flipped);
        return;
      }
      case 'drop':
        return;
      case 'duplicate':
        write(direction, frame);
        write(direction, frame);
        return;
      case 'delay':
        holding[direction] = [];
        later(plan.delayMs, () => release(direction, [frame]));
        return;
      case 'reorder': {
        // The next frame of this direction goes first; with none in REORDER_WAIT_MS it is a delay.
        holding[direction] = [];
        pendingSwap[direction] = frame;
        later(REORDER_WAIT_MS, () => {
          if (pendingSwap[direction] !== frame) return; // swapped already
          pendingSwap[direction] = null;
          release(direction, [frame]);
        });
        return;
      }
      case 'splice':
        write(direction, splice(frame, previous[direction], plan.point));
        return;
      case 'truncate':
        sockets[direction].write(frame.subarray(0, at(frame.length)));
        cut = true;
        sockets[direction].end();
        return;
      default: {
        const exhaustive: never = plan.mutation;
        return exhaustive;
      }
    }
  };
  const relay = (direction: LinkDirection) =>
    new FrameSplitter((frame) => {
      const index = counters[direction]++;
      const swapWith = pendingSwap[direction];
      if (swapWith !== null) {
        pendingSwap[direction] = null;
        report.swapped = true;
        release(direction, [frame, swapWith]);
      } else if (direction === plan.direction && index === plan.frameIndex) {
        mutate(direction, frame);
      } else {
        write(direction, frame);
      }
      previous[direction] = frame;
    });
  const toBank = relay('toBank');
  const toKiosk = relay('toKiosk');
  kioskSide.on('data', (chunk: Buffer) => toBank.push(chunk));
  bankSide.on('data', (chunk: Buffer) => toKiosk.push(chunk));
  // A half-close passes on (the kiosk's goodbye, the bank's); a close or an error ends both ways.
  kioskSide.on('end', () => bankSide.end());
  bankSide.on('end', () => kioskSide.end());
  for (const [socket, peer] of [
    [kioskSide, bankSide],
    [bankSide, kioskSide],
  ] as const) {
    socket.on('error', () => peer.destroy());
    socket.on('close', () => peer.destroy());
  }
  return report;
}

function closedOf(socket: net.Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) resolve();
    else socket.once('close', () => resolve());
  });
}

/** A lane's listening port: each connection gets the plan set for it at the time. */
export interface LaneProxy {
  port: number;
  /** Sets the plan for the next connection; its report once that connection arrives. */
  expect(plan: LinkPlan): Promise<LinkReport>;
  close(): Promise<void>;
}

export async function startLaneProxy(bankPort: number): Promise<LaneProxy> {
  let waiting: { plan: LinkPlan; resolve: (report: LinkReport) => void } | null = null;
  let spare = Buffer.alloc(64, 0x5a);
  const links = new Set<LinkReport>();
  const server = net.createServer((kioskSide) => {
    const next = waiting;
    waiting = null;
    if (next === null) {
      kioskSide.destroy(); // no session planned: nothing of ours connects unplanned
      return;
    }
    const report = mutatingLink(kioskSide, bankPort, next.plan, spare);
    kioskSide.on('data', (chunk: Buffer) => (spare = Buffer.from(chunk)));
    links.add(report);
    void report.closed.then(() => links.delete(report));
    next.resolve(report);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    expect: (plan) => new Promise((resolve) => (waiting = { plan, resolve })),
    close: () =>
      new Promise<void>((resolve) => {
        for (const link of links) link.destroy();
        server.close(() => resolve());
      }),
  };
}
