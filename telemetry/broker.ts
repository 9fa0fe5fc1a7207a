// The embedded MQTT broker (aedes) that `atm bank` runs by default. It is a table of three
// small handlers: who may connect (operators by bcrypt password; a publishing client only when
// bankCredentials are given — `atm bank` publishes in-process, LocalBroker.publish, and has
// none), who may publish (only that client, never to $SYS) and who may subscribe (operators to
// atm/v1/…, admin operators also to $SYS/…, the publishing client to anything). Retained messages survive a restart through
// RetainedFile; an optional WebSocket listener serves browser dashboards (ws://host:port).
import crypto from 'node:crypto';
import net from 'node:net';
import { Aedes, AuthErrorCode, type AuthenticateError, type Client } from 'aedes';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { RetainedFirst } from './retained-first.js';
import type { RetainedFile, RetainedMessage } from './retained-store.js';
import { WriteCoalescer } from './write-coalescer.js';

export interface BankBrokerCredentials {
  username: string;
  password: string;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /**
   * Checks an operator's password against the keystore's bcrypt hash: false (refused), true
   * (an operator) or 'admin' (an operator who may also read `$SYS/#`); never throws.
   */
  checkOperator: (username: string, password: string) => Promise<boolean | 'admin'>;
  /** A network client that may publish (the bank's own, when it publishes over MQTT); none: no client may. */
  bankCredentials?: BankBrokerCredentials;
  /** Retained messages to load at start and to keep on disk; none = memory only. */
  retained?: RetainedFile;
  /** Also listen for MQTT over WebSocket on this port (0 = any free port). */
  wsPort?: number;
}

export interface EmbeddedBroker {
  port: number;
  /** The WebSocket listener's port, or null without one. */
  wsPort: number | null;
  /** The retained messages loaded at start (the bank reads its kiosk statuses from them). */
  loaded: RetainedMessage[];
  close(): Promise<void>;
}

/** A packet the bank publishes in-process (QoS 0). */
export interface LocalPacket {
  topic: string;
  payload: Buffer;
  retain: boolean;
}

/** The broker as its own thread sees it: it can also publish in-process, with no client. */
export interface LocalBroker extends EmbeddedBroker {
  /** done is called once the broker has stored (retained) and delivered the packet, or with an error. */
  publish(packet: LocalPacket, done: (error?: Error) => void): void;
}

/** Operator dashboards are few; a flood of connections must not starve the bank's own client. */
export const BROKER_CONNECTIONS_MAX = 256;

/** WebSocket frames above this are refused (the bank's largest payload is 64 KiB). */
const WS_PAYLOAD_BYTES_MAX = 256 * 1024;

/** The part of aedes's persistence we hook: every retained message goes through it. */
interface RetainedPersistence {
  storeRetained(packet: { topic: string; payload: Buffer; qos: 0 | 1 | 2; retain: boolean }): Promise<void>;
}

/**
 * Loads the file's messages into the broker and copies every retained message the broker
 * stores (the bank's publishes and the last will) to the file. aedes has no hook for this,
 * so its own (memory) persistence's storeRetained is wrapped.
 */
async function persistRetained(broker: Aedes, file: RetainedFile): Promise<RetainedMessage[]> {
  const persistence = (broker as unknown as { persistence: RetainedPersistence }).persistence;
  const store = persistence.storeRetained.bind(persistence);
  const loaded = file.list();
  for (const message of loaded)
    await store({ topic: message.topic, payload: message.payload, qos: message.qos, retain: true });
  persistence.storeRetained = async (packet) => {
    await store(packet);
    try {
      file.set(packet.topic, packet.payload, packet.qos);
    } catch {
      // Keeping a copy on disk must never stop the broker delivering the message.
    }
  };
  return loaded;
}

function listen(server: net.Server | WebSocketServer, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    };
    if (server instanceof net.Server) server.listen(port, host, done);
    else server.once('listening', done);
  });
}

type Role = 'bank' | 'operator' | 'admin';

/** A topic no filter a client may hold ever matches: where refused publishes are sent to die. */
const DENIED_TOPIC_PREFIX = '$denied/';

function authError(): AuthenticateError {
  // AuthErrorCode is a const enum: it compiles to the number 4, with no import at run time.
  return Object.assign(new Error('bad username or password'), { returnCode: AuthErrorCode.BAD_USERNAME_OR_PASSWORD });
}

function sameSecret(a: string, b: string): boolean {
  const left = crypto.createHash('sha256').update(a).digest();
  const right = crypto.createHash('sha256').update(b).digest();
  return crypto.timingSafeEqual(left, right);
}

/** Operators may read the bank's telemetry (atm/v1/… or `#`, which never matches `$` topics). */
export function operatorMaySubscribe(filter: string): boolean {
  return filter === '#' || filter === 'atm/#' || filter.startsWith('atm/v1/');
}

/** An admin operator also reads the broker's own `$SYS` tree (clients, load, uptime). */
export function adminMaySubscribe(filter: string): boolean {
  return filter === '$SYS/#' || filter.startsWith('$SYS/');
}

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<LocalBroker> {
  const roles = new WeakMap<Client, Role>();
  const ordered = new RetainedFirst();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const user = username ?? '';
      const secret = password?.toString('utf8') ?? '';
      const bank = options.bankCredentials;
      if (bank?.username === user) {
        if (!sameSecret(secret, bank.password)) {
          done(authError(), false);
          return;
        }
        roles.set(client, 'bank');
        done(null, true);
        return;
      }
      options.checkOperator(user, secret).then(
        (ok) => {
          if (ok === false) {
            done(authError(), false);
            return;
          }
          roles.set(client, ok === 'admin' ? 'admin' : 'operator');
          done(null, true);
        },
        () => done(authError(), false),
      );
    },
    authorizePublish: (client, packet, done) => {
      if (client === null) {
        done(null);
        return;
      } // the broker's own will delivery
      const allowed = roles.get(client) === 'bank' && !packet.topic.startsWith('$');
      if (!allowed) {
        // MQTT 3.1.1 has no negative PUBACK; refusing with an error would disconnect the
        // client, which then reconnects and (QoS ≥ 1) resends: a loop. Instead the publish is
        // acknowledged and rerouted to a `$` topic nobody may subscribe to, and not retained.
        packet.topic = `${DENIED_TOPIC_PREFIX}${client.id}`;
        packet.retain = false;
        done(null);
        return;
      }
      ordered.admit(client, packet, () => done(null));
    },
    published: (packet, _client, done) => {
      ordered.published(packet);
      done(null);
    },
    authorizeSubscribe: (client, subscription, done) => {
      const role = roles.get(client);
      if (subscription.topic.startsWith(DENIED_TOPIC_PREFIX)) {
        done(null, null);
        return;
      }
      const allowed =
        role === 'bank' ||
        ((role === 'operator' || role === 'admin') && operatorMaySubscribe(subscription.topic)) ||
        (role === 'admin' && adminMaySubscribe(subscription.topic));
      if (allowed) {
        done(null, subscription);
        return;
      }
      done(null, null); // a failure return code (0x80) in the SUBACK, without disconnecting
    },
  });
  const loaded = options.retained === undefined ? [] : await persistRetained(broker, options.retained);
  const connected = new Set<Client>();
  // Bounded by BROKER_CONNECTIONS_MAX; a connection leaves the set however it ends.
  broker.on('client', (client) => {
    connected.add(client);
    client.conn.once('close', () => connected.delete(client));
  });
  broker.on('clientDisconnect', (client) => connected.delete(client));
  const coalescer = new WriteCoalescer(function* () {
    for (const client of connected) yield client.conn;
  });
  const server = net.createServer((socket) => broker.handle(socket));
  server.maxConnections = BROKER_CONNECTIONS_MAX;
  let wss: WebSocketServer | null = null;
  const closeAll = async (): Promise<void> => {
    // The broker's heartbeat timer is already running; without this a port in use would
    // leave it keeping the process alive.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    if (server.listening) await new Promise<void>((resolve) => server.close(() => resolve()));
    if (wss !== null) {
      for (const client of wss.clients) client.terminate();
      await new Promise<void>((resolve) => wss?.close(() => resolve()));
    }
    await options.retained?.close();
  };
  let port: number;
  let wsPort: number | null = null;
  try {
    port = await listen(server, options.port, options.host);
    if (options.wsPort !== undefined) {
      wss = new WebSocketServer({ host: options.host, port: options.wsPort, maxPayload: WS_PAYLOAD_BYTES_MAX });
      const sockets = wss.clients;
      wss.on('connection', (socket, request) => {
        if (sockets.size > BROKER_CONNECTIONS_MAX) {
          socket.terminate();
          return;
        }
        const stream = createWebSocketStream(socket);
        stream.on('error', () => undefined); // a dropped browser tab is not the bank's error
        broker.handle(stream, request);
      });
      wsPort = await listen(wss, options.wsPort, options.host);
      wss.on('error', () => undefined); // once listening, a failed upgrade concerns one client only
    }
  } catch (error) {
    await closeAll();
    throw error;
  }
  let closed = false;
  return {
    port,
    wsPort,
    loaded,
    publish: (packet, done) => {
      if (closed) {
        done(new Error('the broker is closed'));
        return;
      }
      coalescer.hold();
      broker.publish(
        { cmd: 'publish', topic: packet.topic, payload: packet.payload, qos: 0, retain: packet.retain, dup: false },
        (error?: Error | null) => done(error ?? undefined),
      );
    },
    close: async () => {
      if (closed) return;
      closed = true;
      await closeAll();
    },
  };
}
