// A real PostgreSQL for the tests: one throw-away cluster per test file (initdb in a temp dir
// as the postgres user, a Unix socket, a free port; bench/reference/postgres-cluster.ts), and a
// fresh, migrated database per test, copied from a migrated template (CREATE DATABASE …
// TEMPLATE takes ~0.15 s, migrating each one longer). Not installed is a failure, not a skip:
// .ci/run installs the postgresql package.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';
import { PG_SUPERUSER, PgCluster } from '../../bench/reference/postgres-cluster.js';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { migrate } from '../../bank/pg-schema.js';

const TEMPLATE = 'atm_template';

export class TestPostgres {
  private databases = 0;

  private constructor(readonly cluster: PgCluster) {}

  static async start(): Promise<TestPostgres> {
    const cluster = await PgCluster.startOrReason();
    if (typeof cluster === 'string') throw new Error(`these tests need PostgreSQL: ${cluster}`);
    const server = new TestPostgres(cluster);
    try {
      await server.sql(`CREATE DATABASE ${TEMPLATE}`);
      const client = new pg.Client({ connectionString: cluster.url(TEMPLATE) });
      await client.connect();
      try {
        await migrate(client);
      } finally {
        await client.end();
      }
    } catch (error) {
      await cluster.stop();
      throw error;
    }
    return server;
  }

  /** A new database with the ledger schema; returns its URL. */
  async freshDatabase(): Promise<string> {
    this.databases += 1;
    const name = `atm_test_${this.databases}`;
    await this.sql(`CREATE DATABASE ${name} TEMPLATE ${TEMPLATE}`);
    return this.cluster.url(name);
  }

  /** A new database with no schema at all (for `atm db migrate` and the start-up check). */
  async emptyDatabase(): Promise<string> {
    this.databases += 1;
    const name = `atm_empty_${this.databases}`;
    await this.sql(`CREATE DATABASE ${name}`);
    return this.cluster.url(name);
  }

  /** Runs statements on the cluster's postgres database as the superuser. */
  async sql(text: string, values: unknown[] = [], url = this.cluster.url()): Promise<pg.QueryResult> {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      return await client.query(text, values);
    } finally {
      await client.end();
    }
  }

  stop(): Promise<void> {
    return this.cluster.stop();
  }
}

/**
 * The address a network's bank hosts use for the database (a floating IP, a DNS name or a
 * load balancer in production): a TCP port on 127.0.0.1 that forwards to one cluster's socket
 * and is moved to another when the standby is promoted. Moving it cuts the connections that
 * went to the old target, as a fail-over does.
 */
export class DatabaseFrontDoor {
  private readonly sockets = new Set<net.Socket>();

  private constructor(
    private readonly server: net.Server,
    private target: PgCluster,
  ) {}

  static async open(target: PgCluster): Promise<DatabaseFrontDoor> {
    const server = net.createServer();
    const door = new DatabaseFrontDoor(server, target);
    server.on('connection', (client) => door.forward(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return door;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  url(database: string): string {
    return `postgres://${PG_SUPERUSER}@127.0.0.1:${this.port}/${database}`;
  }

  moveTo(target: PgCluster): void {
    this.target = target;
    for (const socket of this.sockets) socket.destroy();
  }

  private forward(client: net.Socket): void {
    const upstream = net.connect(path.join(this.target.socketDir, `.s.PGSQL.${this.target.port}`));
    for (const socket of [client, upstream]) {
      this.sockets.add(socket);
      socket.on('close', () => {
        this.sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
      socket.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/**
 * The data dirs of a network's bank hosts under root (host-0, host-1, …): the first gets a
 * keystore with these kiosks (their key files beside, in root), the others a copy of it, as
 * OPERATIONS.md tells operators to do. Returns the dirs and each kiosk's PSK.
 */
export function networkDataDirs(
  root: string,
  hosts: number,
  kioskIds: readonly string[],
): { dirs: string[]; psks: Map<string, Buffer> } {
  const dirs = Array.from({ length: hosts }, (_, index) => path.join(root, `host-${index}`));
  const first = dirs[0] as string;
  initKeystore(first);
  const psks = new Map<string, Buffer>();
  for (const kioskId of kioskIds)
    psks.set(kioskId, Buffer.from(addKiosk(first, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex'));
  for (const dir of dirs.slice(1)) {
    fs.mkdirSync(dir, { mode: 0o700 });
    fs.copyFileSync(path.join(first, 'keystore.json'), path.join(dir, 'keystore.json'));
  }
  return { dirs, psks };
}
