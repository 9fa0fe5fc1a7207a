// A load generator of the TLS reference, the entry of a worker thread (tls.ts starts them):
// it runs the client side of the handshake and echo measurements on its own event loop and
// answers each WorkerCommand with one WorkerReply. Client TLS: 1.3 only, the server's certificate
// verified (its own self-signed cert the only CA, servername checked), no session reuse (no
// `session` is ever passed, so every handshake is a full one; a resumed one is counted).
import crypto from 'node:crypto';
import { performance } from 'node:perf_hooks';
import tls from 'node:tls';
import { parentPort, workerData } from 'node:worker_threads';
import {
  HANDSHAKE_BYTE,
  SOCKET_TIMEOUT_MS,
  TLS13,
  type WorkerCommand,
  type WorkerReply,
  type WorkerSetup,
} from './tls-messages.js';

const setup = workerData as WorkerSetup;
const port = parentPort;
if (port === null) throw new Error('tls-load-worker runs as a worker thread (tls.ts starts it)');

// One client context for all connections: tls.connect would otherwise build (and parse the CA
// into) a new one per connection, a cost of Node's API rather than of a TLS handshake.
const secureContext = tls.createSecureContext({ ca: setup.ca, ...TLS13 });

function connect(): tls.TLSSocket {
  const socket = tls.connect({
    host: '127.0.0.1',
    port: setup.port,
    secureContext,
    servername: setup.servername,
    ...TLS13,
  });
  socket.setNoDelay(true);
  socket.setTimeout(SOCKET_TIMEOUT_MS, () => socket.destroy(new Error(`no progress for ${SOCKET_TIMEOUT_MS} ms`)));
  return socket;
}

/** connect → secureConnect → 1-byte echo → close; resolves with whether the session was resumed. */
function oneConnection(): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect();
    let resumed = false;
    let echoed = false;
    socket.once('secureConnect', () => {
      resumed = socket.isSessionReused();
      socket.write(HANDSHAKE_BYTE);
    });
    socket.once('data', () => {
      echoed = true;
      socket.end();
    });
    socket.once('error', reject);
    socket.once('close', (hadError) => {
      if (echoed) resolve(resumed);
      else if (!hadError) reject(new Error('the server closed the connection before echoing'));
    });
  });
}

async function handshakes(connections: number, seconds: number): Promise<WorkerReply> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  let count = 0;
  let msTotal = 0;
  let resumed = 0;
  const loop = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const begun = performance.now();
      if (await oneConnection()) resumed += 1;
      msTotal += performance.now() - begun;
      count += 1;
    }
  };
  await Promise.all(Array.from({ length: connections }, loop));
  return { kind: 'handshakes', count, msTotal, resumed, elapsedMs: performance.now() - start };
}

/** A long-lived connection that echoes one payload at a time. */
class EchoConnection {
  private pending = 0;
  private onEcho: (() => void) | null = null;

  private constructor(private readonly socket: tls.TLSSocket) {
    socket.on('data', (chunk: Buffer) => {
      this.pending -= chunk.length;
      if (this.pending <= 0 && this.onEcho !== null) {
        const done = this.onEcho;
        this.onEcho = null;
        done();
      }
    });
  }

  static open(): Promise<EchoConnection> {
    return new Promise((resolve, reject) => {
      const socket = connect();
      socket.once('error', reject);
      socket.once('secureConnect', () => resolve(new EchoConnection(socket)));
    });
  }

  /** Sends `payload`, resolves with the ms until all of it is back. */
  roundTrip(payload: Buffer): Promise<number> {
    return new Promise((resolve, reject) => {
      const begun = performance.now();
      this.pending = payload.length;
      this.socket.once('error', reject);
      this.onEcho = () => {
        this.socket.off('error', reject);
        resolve(performance.now() - begun);
      };
      this.socket.write(payload);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

let open: EchoConnection[] = [];
let payload = Buffer.alloc(0);

async function echo(seconds: number): Promise<WorkerReply> {
  const start = performance.now();
  const deadline = start + seconds * 1000;
  const latencies: number[] = [];
  const loop = async (connection: EchoConnection): Promise<void> => {
    while (performance.now() < deadline) latencies.push(await connection.roundTrip(payload));
  };
  try {
    await Promise.all(open.map(loop));
  } finally {
    for (const connection of open) connection.close();
    open = [];
  }
  return {
    kind: 'echo',
    count: latencies.length,
    elapsedMs: performance.now() - start,
    latenciesMs: Float64Array.from(latencies),
  };
}

async function handle(command: WorkerCommand): Promise<WorkerReply> {
  switch (command.kind) {
    case 'handshakes':
      return handshakes(command.connections, command.seconds);
    case 'echo-open':
      payload = crypto.randomBytes(command.payloadBytes);
      open = await Promise.all(Array.from({ length: command.connections }, () => EchoConnection.open()));
      return { kind: 'echo-ready' };
    case 'echo-go':
      return echo(command.seconds);
  }
}

port.on('message', (command: WorkerCommand) => {
  handle(command).then(
    (reply) => port.postMessage(reply, reply.kind === 'echo' ? [reply.latenciesMs.buffer] : []),
    (error: unknown) => {
      const failed: WorkerReply = { kind: 'failed', message: error instanceof Error ? error.message : String(error) };
      port.postMessage(failed);
    },
  );
});
