// The embedded MQTT broker (aedes) that `atm bank` runs by default. It is a table of three
// small handlers: who may connect (operators by bcrypt password, the bank by a per-run
// secret), who may publish (only the bank, never to $SYS) and who may subscribe (operators
// to atm/v1/…, the bank as admin to anything).
import crypto from 'node:crypto';
import net from 'node:net';
import { Aedes, type AuthenticateError, type Client } from 'aedes';

export interface BankBrokerCredentials {
  username: string;
  password: string;
}

export interface EmbeddedBrokerOptions {
  host: string;
  port: number;
  /** Checks an operator's password against the keystore's bcrypt hash; never throws. */
  checkOperator: (username: string, password: string) => Promise<boolean>;
  bankCredentials: BankBrokerCredentials;
}

export interface EmbeddedBroker {
  port: number;
  close(): Promise<void>;
}

type Role = 'bank' | 'operator';

/** A topic no filter a client may hold ever matches: where refused publishes are sent to die. */
const DENIED_TOPIC_PREFIX = '$denied/';

function authError(): AuthenticateError {
  return Object.assign(new Error('bad username or password'), { returnCode: 4 as const });
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

export async function startEmbeddedBroker(options: EmbeddedBrokerOptions): Promise<EmbeddedBroker> {
  const roles = new WeakMap<Client, Role>();
  const broker = await Aedes.createBroker({
    authenticate: (client, username, password, done) => {
      const user = username ?? '';
      const secret = password?.toString('utf8') ?? '';
      if (user === options.bankCredentials.username) {
        if (!sameSecret(secret, options.bankCredentials.password)) return done(authError(), false);
        roles.set(client, 'bank');
        return done(null, true);
      }
      options.checkOperator(user, secret).then(
        (ok) => {
          if (!ok) return done(authError(), false);
          roles.set(client, 'operator');
          done(null, true);
        },
        () => done(authError(), false),
      );
    },
    authorizePublish: (client, packet, done) => {
      if (client === null) return done(null); // the broker's own will delivery
      const allowed = roles.get(client) === 'bank' && !packet.topic.startsWith('$');
      if (!allowed) {
        // MQTT 3.1.1 has no negative PUBACK; refusing with an error would disconnect the
        // client, which then reconnects and (QoS ≥ 1) resends: a loop. Instead the publish is
        // acknowledged and rerouted to a `$` topic nobody may subscribe to, and not retained.
        packet.topic = `${DENIED_TOPIC_PREFIX}${client.id}`;
        packet.retain = false;
      }
      done(null);
    },
    authorizeSubscribe: (client, subscription, done) => {
      const role = roles.get(client);
      if (subscription.topic.startsWith(DENIED_TOPIC_PREFIX)) return done(null, null);
      if (role === 'bank' || (role === 'operator' && operatorMaySubscribe(subscription.topic))) return done(null, subscription);
      done(null, null); // a failure return code (0x80) in the SUBACK, without disconnecting
    },
  });
  const server = net.createServer((socket) => broker.handle(socket));
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } catch (error) {
    // The broker's heartbeat timer is already running; without this a port in use would
    // leave it keeping the process alive.
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    throw error;
  }
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  let closed = false;
  return {
    port,
    close: async () => {
      if (closed) return;
      closed = true;
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
