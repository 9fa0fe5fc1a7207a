// A throw-away PostgreSQL cluster for the bench and the tests: initdb in a new temp dir, the
// server listening only on a Unix socket in that dir (a free port number names the socket),
// fsync and synchronous_commit on, local connections trusted (the dir is 0700).
//
// Contract of PgCluster:
// - start() finds the programs (findPostgres), runs initdb and the server as the `postgres`
//   user when we are root (initdb refuses root), and resolves once the server accepts
//   connections; it rejects with the server log's tail when it cannot start, and then has
//   removed what it made. A string from startOrReason says why PostgreSQL is not usable here.
// - A standby (startStandby) is a pg_basebackup of a running primary that streams from it
//   over the primary's socket; the primary lists it in synchronous_standby_names when asked.
// - stop() stops the server (pg_ctl stop -m fast, else SIGQUIT) and removes the temp dir; kill()
//   is a power cut (SIGKILL to the postmaster, its children die with it); both are idempotent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPostgres, type PostgresInstallation } from './postgres-install.js';
import { freePort, run } from './process.js';

export const PG_SUPERUSER = 'postgres';
const QUICK_MS = 30_000;
const LOG_TAIL_CHARS = 2_000;

export interface PgClusterOptions {
  /** Where the cluster's temp dir is made; default os.tmpdir(). */
  tempRoot?: string;
  binDir?: string;
  /** Extra postgresql.conf settings (value text as written in the file). */
  settings?: Record<string, string>;
  maxConnections?: number;
}

function quoted(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export class PgCluster {
  private stopped = false;

  private constructor(
    readonly install: PostgresInstallation,
    /** The temp dir: data/, server.log and the socket live here. */
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return path.join(this.dir, 'data');
  }

  get logFile(): string {
    return path.join(this.dir, 'server.log');
  }

  /** The socket's dir: the `host` of a connection URL. */
  get socketDir(): string {
    return this.dir;
  }

  /** A connection URL for `pg` (and for `atm --store`). */
  url(database = PG_SUPERUSER): string {
    return `postgres://${PG_SUPERUSER}@localhost/${database}?host=${encodeURIComponent(this.dir)}&port=${this.port}`;
  }

  /** libpq's key=value form, for primary_conninfo and psql. */
  conninfo(database = PG_SUPERUSER): string {
    return `host=${this.dir} port=${this.port} user=${PG_SUPERUSER} dbname=${database}`;
  }

  get pid(): number | null {
    try {
      const pid = Number(fs.readFileSync(path.join(this.dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
      return Number.isInteger(pid) && pid > 0 ? pid : null;
    } catch {
      return null;
    }
  }

  logTail(): string {
    try {
      return fs.readFileSync(this.logFile, 'utf8').slice(-LOG_TAIL_CHARS);
    } catch {
      return '';
    }
  }

  /** A new primary; see the contract at the top of this file. */
  static async start(options: PgClusterOptions = {}): Promise<PgCluster> {
    const found = findPostgres(options.binDir);
    if (typeof found === 'string') throw new Error(found);
    const cluster = await PgCluster.make(found, options, 'atm-pg-');
    try {
      await cluster.runServer(
        cluster.install.initdb,
        ['-D', cluster.dataDir, '-U', PG_SUPERUSER, '--auth=trust', '--encoding=UTF8', '--no-locale'],
        120_000,
      );
      cluster.appendSettings(options, {});
      await cluster.pgCtlStart();
      return cluster;
    } catch (error) {
      await cluster.stop();
      throw error;
    }
  }

  /** PostgreSQL started, or why it cannot be here (not installed, no postgres user). */
  static async startOrReason(options: PgClusterOptions = {}): Promise<PgCluster | string> {
    const found = findPostgres(options.binDir);
    if (typeof found === 'string') return found;
    return PgCluster.start(options);
  }

  /**
   * A streaming standby of this running primary, made by pg_basebackup through the primary's
   * socket; `synchronous` names it in the primary's synchronous_standby_names (and reloads), so
   * a commit on the primary returns only once the standby has flushed it.
   */
  async startStandby(options: PgClusterOptions & { name: string; synchronous: boolean }): Promise<PgCluster> {
    const standby = await PgCluster.make(this.install, options, 'atm-pg-standby-');
    try {
      const basebackup = path.join(this.install.binDir, 'pg_basebackup');
      await standby.runServer(
        basebackup,
        ['-D', standby.dataDir, '-h', this.dir, '-p', String(this.port), '-U', PG_SUPERUSER, '-X', 'stream', '-R'],
        120_000,
      );
      // -R wrote primary_conninfo (in postgresql.auto.conf, which wins over postgresql.conf) and
      // standby.signal; the walreceiver names itself by cluster_name, what the primary waits for.
      standby.appendSettings(options, { cluster_name: quoted(options.name) });
      await standby.pgCtlStart();
      if (options.synchronous) {
        fs.appendFileSync(
          path.join(this.dataDir, 'postgresql.conf'),
          `synchronous_standby_names = ${quoted(options.name)}\n`,
        );
        await this.runServer(this.install.pgCtl, ['reload', '-D', this.dataDir], QUICK_MS);
      }
      return standby;
    } catch (error) {
      await standby.stop();
      throw error;
    }
  }

  /** Promotes a standby to a primary that takes writes (pg_ctl promote -w). */
  async promote(): Promise<void> {
    await this.runServer(this.install.pgCtl, ['promote', '-D', this.dataDir, '-w', '-t', '60'], 70_000);
  }

  /** A power cut: SIGKILL to the postmaster and every process it started, at once. */
  kill(): void {
    const pid = this.pid;
    if (pid === null) return;
    for (const victim of [pid, ...childrenOf(pid)]) {
      try {
        process.kill(victim, 'SIGKILL');
      } catch {
        // Already gone.
      }
    }
  }

  /** Stops the server and removes the temp dir; safe to call twice and after kill(). */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    const pid = this.pid;
    if (pid !== null && alive(pid)) {
      try {
        await this.runServer(this.install.pgCtl, ['stop', '-D', this.dataDir, '-m', 'fast', '-w', '-t', '30'], 40_000);
      } catch {
        try {
          process.kill(pid, 'SIGQUIT');
        } catch {
          // Already gone.
        }
      }
    }
    // A killed postmaster leaves backends that exit on their own within moments.
    for (let tries = 0; tries < 50 && pid !== null && alive(pid); tries++) await sleep(100);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }

  private static async make(install: PostgresInstallation, options: PgClusterOptions, prefix: string) {
    const dir = fs.mkdtempSync(path.join(options.tempRoot ?? os.tmpdir(), prefix));
    fs.chmodSync(dir, 0o700);
    if (install.serverUser !== null) fs.chownSync(dir, install.serverUser.uid, install.serverUser.gid);
    return new PgCluster(install, dir, await freePort());
  }

  private appendSettings(options: PgClusterOptions, extra: Record<string, string>): void {
    const settings: Record<string, string> = {
      listen_addresses: "''",
      port: String(this.port),
      unix_socket_directories: quoted(this.dir),
      fsync: 'on',
      synchronous_commit: 'on',
      full_page_writes: 'on',
      max_connections: String(options.maxConnections ?? 100),
      wal_level: 'replica',
      max_wal_senders: '4',
      hot_standby: 'on',
      ...extra,
      ...options.settings,
    };
    const lines = Object.entries(settings).map(([key, value]) => `${key} = ${value}`);
    fs.appendFileSync(
      path.join(this.dataDir, 'postgresql.conf'),
      ['', '# bench/reference/postgres-cluster.ts', ...lines, ''].join('\n'),
    );
  }

  private async pgCtlStart(): Promise<void> {
    try {
      await this.runServer(
        this.install.pgCtl,
        ['start', '-D', this.dataDir, '-l', this.logFile, '-w', '-t', '60'],
        70_000,
      );
    } catch (error) {
      throw new Error(`${(error as Error).message}\nserver log:\n${this.logTail()}`);
    }
  }

  private runServer(command: string, args: string[], timeoutMs: number): Promise<unknown> {
    return run(command, args, { timeoutMs, asUser: this.install.serverUser?.name ?? null, cwd: this.dir });
  }
}

/** The pids whose parent is `pid` (from /proc; the postmaster's backends and helpers). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) children.push(Number(entry));
    } catch {
      // Gone meanwhile.
    }
  }
  return children;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
