// The PostgreSQL ledger `atm bench --store postgres` runs its banks on: a throw-away cluster
// (bench/reference/postgres-cluster.ts: initdb in a temp dir, Unix socket only, fsync and
// synchronous_commit on), one fresh, migrated database per spawned bank (its hosts share it),
// and the server's CPU from /proc: the postmaster and its backends, plus what the backends
// that have exited used (the postmaster reaps them: cutime/cstime).
import fs from 'node:fs';
import pg from 'pg';
import { migrate } from '../../bank/index.js';
import { PgCluster, type PgClusterOptions } from '../reference/postgres-cluster.js';

/** Two hosts × (a pool of 16 + a committer + a spare) and the bench's own, with room to spare. */
const MAX_CONNECTIONS = 100;

/** USER_HZ: 100 on every Linux build Node supports. */
const CLOCK_TICKS_PER_SECOND = 100;

export class DatabaseUnderTest {
  private databases = 0;

  private constructor(
    readonly cluster: PgCluster,
    /** The server's version (SHOW server_version). */
    readonly version: string,
  ) {}

  /**
   * Starts the cluster; rejects with one line saying why when PostgreSQL is not usable here
   * (not installed, no postgres user to run it as root). binDir: only the tests point it
   * somewhere (at an empty dir, to see that refusal).
   */
  static async start(options: Pick<PgClusterOptions, 'binDir'> = {}): Promise<DatabaseUnderTest> {
    const cluster = await PgCluster.startOrReason({ ...options, maxConnections: MAX_CONNECTIONS });
    if (typeof cluster === 'string') throw new Error(`--store postgres: ${cluster}`);
    try {
      const result = await query(cluster.url(), 'SHOW server_version');
      const version: unknown = (result.rows[0] as { server_version?: unknown } | undefined)?.server_version;
      return new DatabaseUnderTest(cluster, typeof version === 'string' ? version : '?');
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** A new database with the ledger's schema (`atm db migrate`'s migrate()); its URL. */
  async freshDatabase(): Promise<string> {
    this.databases += 1;
    const name = `atm_bench_${this.databases}`;
    await query(this.cluster.url(), `CREATE DATABASE ${name}`);
    const client = new pg.Client({ connectionString: this.cluster.url(name) });
    await client.connect();
    try {
      await migrate(client);
    } finally {
      await client.end();
    }
    return this.cluster.url(name);
  }

  /** user + system CPU (µs) of the whole server: postmaster, live backends, reaped backends. */
  cpuUs(): number | null {
    const postmaster = this.cluster.pid;
    if (postmaster === null) return null;
    let ticks = 0;
    for (const entry of fs.readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const fields = statFields(Number(entry));
      if (fields === null) continue;
      const pid = Number(entry);
      // Fields from the state on (stat(5) field 3 is index 0): ppid 1, utime 11, stime 12,
      // cutime 13, cstime 14.
      if (pid === postmaster) ticks += sum(fields, [11, 12, 13, 14]);
      else if (Number(fields[1]) === postmaster) ticks += sum(fields, [11, 12]);
    }
    return (ticks * 1_000_000) / CLOCK_TICKS_PER_SECOND;
  }

  /** Stops the server and removes its temp dir (idempotent). */
  stop(): Promise<void> {
    return this.cluster.stop();
  }
}

async function query(url: string, text: string): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await client.query(text);
  } finally {
    await client.end();
  }
}

/** /proc/PID/stat after the command name (which is in parentheses and may hold spaces), or null. */
function statFields(pid: number): string[] | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return null; // gone meanwhile
  }
}

function sum(fields: string[], indices: number[]): number {
  return indices.reduce((total, index) => total + (Number(fields[index]) || 0), 0);
}
