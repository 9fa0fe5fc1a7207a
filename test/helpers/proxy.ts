// A byte-level man in the middle between a real client and a real bank. It reassembles the
// length-prefixed frames in each direction and lets a test rewrite, drop, replay, reorder or
// reflect them before they go on. No crypto here: the attacker has none of the keys.
import net from 'node:net';

export type Direction = 'toBank' | 'toKiosk';

export interface ProxyFrame {
  direction: Direction;
  index: number; // per direction, 0 = first frame (m1 or m2)
  bytes: Buffer; // the whole frame, length prefix included
}

/** Returns the bytes to forward in place of the frame (an empty array drops it). */
export type FrameHook = (frame: ProxyFrame, link: ProxyLink) => Buffer[];

export interface ProxyLink {
  /** Sends raw bytes to one side, e.g. a recorded or reflected frame. */
  send(direction: Direction, bytes: Buffer): void;
  /** Half-closes the way to the bank (EOF), as a cable cut after the last frame would. */
  endToBank(): void;
  recorded: ProxyFrame[];
  bankClosed: Promise<void>;
  /** Resolves when the kiosk's side of the proxy has closed. */
  kioskClosed: Promise<void>;
  /**
   * The proxy's local port towards the bank: the bank logs this link as 127.0.0.1:<port>,
   * so a test can find the bank's close reason for exactly this link.
   */
  readonly bankLocalPort: number | undefined;
  /** The recorded frames of one direction, in order. */
  framesOf(direction: Direction): ProxyFrame[];
}

export interface Proxy {
  port: number;
  links: ProxyLink[];
  close(): Promise<void>;
}

function frameSplitter(onFrame: (bytes: Buffer) => void): (chunk: Buffer) => void {
  let buffered = Buffer.alloc(0);
  return (chunk) => {
    buffered = Buffer.concat([buffered, chunk]);
    while (buffered.length >= 4) {
      const length = buffered.readUInt32BE(0);
      if (buffered.length < 4 + length) return;
      onFrame(buffered.subarray(0, 4 + length));
      buffered = buffered.subarray(4 + length);
    }
  };
}

export async function startProxy(bankPort: number, hook: FrameHook = (frame) => [frame.bytes]): Promise<Proxy> {
  const links: ProxyLink[] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((kioskSide) => {
    const bankSide = net.connect({ host: '127.0.0.1', port: bankPort });
    sockets.add(kioskSide);
    sockets.add(bankSide);
    let resolveBankClosed!: () => void;
    let resolveKioskClosed!: () => void;
    // Kept once connected: a destroyed socket no longer reports its port.
    let bankLocalPort: number | undefined;
    bankSide.once('connect', () => (bankLocalPort = bankSide.localPort));
    const link: ProxyLink = {
      send: (direction, bytes) => (direction === 'toBank' ? bankSide : kioskSide).write(bytes),
      endToBank: () => bankSide.end(),
      recorded: [],
      bankClosed: new Promise<void>((resolve) => (resolveBankClosed = resolve)),
      kioskClosed: new Promise<void>((resolve) => (resolveKioskClosed = resolve)),
      get bankLocalPort() {
        return bankLocalPort ?? bankSide.localPort;
      },
      framesOf: (direction) => link.recorded.filter((frame) => frame.direction === direction),
    };
    links.push(link);
    const counters = { toBank: 0, toKiosk: 0 };
    const relay = (direction: Direction) =>
      frameSplitter((bytes) => {
        const frame: ProxyFrame = { direction, index: counters[direction]++, bytes: Buffer.from(bytes) };
        link.recorded.push(frame);
        for (const out of hook(frame, link)) link.send(direction, out);
      });
    kioskSide.on('data', relay('toBank'));
    bankSide.on('data', relay('toKiosk'));
    bankSide.on('close', () => {
      resolveBankClosed();
      kioskSide.destroy();
    });
    kioskSide.on('close', () => {
      resolveKioskClosed();
      bankSide.end();
    });
    kioskSide.on('error', () => bankSide.destroy());
    bankSide.on('error', () => kioskSide.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    links,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
