// Reference 1 of `atm bench --compare`: PostgreSQL's pgbench, builtin TPC-B (tpcb-like), on a
// throw-away cluster, with durable commits as our bank makes them.
//
// Contract of runPgbench:
// - Finds initdb, pg_ctl and postgres (options.binDir, else the newest /usr/lib/postgresql/*/bin)
//   and pgbench (beside them, else on PATH). Missing: { available: false, reason } saying what to
//   install; nothing is started. As root the server side runs as `postgres` (runuser): initdb
//   refuses root.
// - Makes a cluster in a new temp dir (owned by the server's user), listening on no TCP address
//   (listen_addresses = ''), only on a Unix socket in that dir named by a free port number.
//   fsync = on and synchronous_commit = on (the defaults, set explicitly): every commit is
//   durable, as the bank's are. Local connections are trusted: the socket's dir is 0700.
// - `pgbench -i -s scale` (scale defaults to the largest client count: TPC-B updates one branch
//   row per transaction, so fewer branches than clients would serialise the clients on them),
//   then per client count `pgbench -c N -j min(2, N) -T seconds`; parses tps (without the initial
//   connection time) and the average latency.
// - Always stops the server (`pg_ctl stop -m fast`, then SIGQUIT if that fails) and removes the
//   temp dir: on success, on failure (which rejects, with the server's log tail) and on SIGINT or
//   SIGTERM (see interruptible in process.js). Every child process has a timeout.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findPostgres, type PostgresInstallation } from './postgres-install.js';
import { freePort, interruptible, run, type RunOptions } from './process.js';

export type PgbenchOutcome =
  | {
      available: true;
      version: string;
      scale: number;
      runs: { clients: number; seconds: number; tps: number; latencyMsAvg: number }[];
    }
  | { available: false; reason: string };

export interface PgbenchOptions {
  /** One pgbench run per entry, in this order. */
  clients: readonly number[];
  /** Duration of each run (pgbench -T, whole seconds, at least 1). */
  seconds: number;
  /** pgbench -i -s; default: the largest client count. */
  scale?: number;
  log?: (line: string) => void;
  /** Where initdb, pg_ctl and postgres are; default: the newest /usr/lib/postgresql/<major>/bin. */
  binDir?: string;
  /** Where the cluster's temp dir is made; default: os.tmpdir(). */
  tempRoot?: string;
  /** Told the cluster's dir and the postmaster's pid once the server is up (tests check both go). */
  onStarted?: (cluster: { dir: string; pid: number }) => void;
}

const SUPERUSER = 'postgres';
const DATABASE = 'postgres';
const QUICK_MS = 30_000;
const INIT_MS_PER_SCALE = 10_000;
const RUN_MARGIN_MS = 60_000;
const LOG_TAIL_CHARS = 2_000;

/** tps and average latency from the output of a pgbench run; throws when they are not there. */
export function parsePgbenchOutput(output: string): { tps: number; latencyMsAvg: number } {
  const latency = /^latency average = ([\d.]+) ms$/m.exec(output);
  // PostgreSQL ≥ 14 prints one tps line, "(without initial connection time)"; older ones print
  // "(including connections establishing)" and "(excluding connections establishing)".
  const tpsLines = [...output.matchAll(/^tps = ([\d.]+) \(([^)]*)\)$/gm)];
  const tps = tpsLines.find((line) => !(line[2] ?? '').startsWith('including')) ?? tpsLines[0];
  if (latency?.[1] === undefined || tps?.[1] === undefined) {
    throw new Error(`no "tps =" and "latency average =" in pgbench's output:\n${output.slice(-LOG_TAIL_CHARS)}`);
  }
  return { tps: Number(tps[1]), latencyMsAvg: Number(latency[1]) };
}

function checkOptions(options: PgbenchOptions): number {
  if (options.clients.length === 0 || options.clients.some((n) => !Number.isInteger(n) || n < 1)) {
    throw new Error(`clients must be whole numbers ≥ 1, got [${options.clients.join(', ')}]`);
  }
  if (!Number.isInteger(options.seconds) || options.seconds < 1) {
    throw new Error(`seconds must be a whole number ≥ 1 (pgbench -T), got ${options.seconds}`);
  }
  const scale = options.scale ?? Math.max(...options.clients);
  if (!Number.isInteger(scale) || scale < 1) throw new Error(`scale must be a whole number ≥ 1, got ${scale}`);
  return scale;
}

/** The settings appended to postgresql.conf: socket only, durable commits. */
function serverSettings(socketDir: string, port: number, maxClients: number): string {
  return [
    '',
    '# atm bench --compare (bench/reference/pgbench.ts)',
    "listen_addresses = ''",
    `port = ${port}`,
    `unix_socket_directories = '${socketDir.replaceAll("'", "''")}'`,
    'fsync = on',
    'synchronous_commit = on',
    'full_page_writes = on',
    `max_connections = ${Math.max(100, maxClients + 10)}`,
    '',
  ].join('\n');
}

function readPid(dataDir: string): number | null {
  try {
    const pid = Number(fs.readFileSync(path.join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function logTail(logFile: string): string {
  try {
    return fs.readFileSync(logFile, 'utf8').slice(-LOG_TAIL_CHARS);
  } catch {
    return '';
  }
}

/** Runs pgbench's TPC-B against a throw-away cluster; see the contract at the top of this file. */
export async function runPgbench(options: PgbenchOptions): Promise<PgbenchOutcome> {
  const scale = checkOptions(options);
  const found = findPostgres(options.binDir);
  if (typeof found === 'string') return { available: false, reason: found };
  const install: PostgresInstallation = found;
  const log = options.log ?? ((): void => undefined);
  const serverUser = install.serverUser?.name ?? null;

  const dir = fs.mkdtempSync(path.join(options.tempRoot ?? os.tmpdir(), 'atm-pgbench-'));
  const dataDir = path.join(dir, 'data');
  const logFile = path.join(dir, 'server.log');
  let startAttempted = false;

  const stop = async (): Promise<void> => {
    if (startAttempted && fs.existsSync(path.join(dataDir, 'postmaster.pid'))) {
      try {
        await run(install.pgCtl, ['stop', '-D', dataDir, '-m', 'fast', '-w', '-t', '30'], {
          timeoutMs: 40_000,
          asUser: serverUser,
          cwd: dir,
        });
        log('pgbench: server stopped');
      } catch (error) {
        const pid = readPid(dataDir);
        log(`pgbench: pg_ctl stop failed (${(error as Error).message}); SIGQUIT to ${pid ?? 'no pid'}`);
        if (pid !== null) {
          try {
            process.kill(pid, 'SIGQUIT');
          } catch {
            // Already gone.
          }
        }
      }
    }
    fs.rmSync(dir, { recursive: true, force: true });
  };

  return interruptible(async (signal) => {
    const server: RunOptions = { timeoutMs: QUICK_MS, signal, asUser: serverUser, cwd: dir };
    if (install.serverUser !== null) fs.chownSync(dir, install.serverUser.uid, install.serverUser.gid);
    const versionOutput = (await run(install.postgres, ['--version'], { timeoutMs: QUICK_MS, signal })).stdout;
    const version = /\(PostgreSQL\)\s+(\S+)/.exec(versionOutput)?.[1] ?? versionOutput.trim();
    log(`pgbench: PostgreSQL ${version} from ${install.binDir}, cluster in ${dir}`);

    await run(install.initdb, ['-D', dataDir, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--no-locale'], {
      ...server,
      timeoutMs: 120_000,
    });
    const port = await freePort();
    fs.appendFileSync(path.join(dataDir, 'postgresql.conf'), serverSettings(dir, port, Math.max(...options.clients)));
    startAttempted = true;
    try {
      await run(install.pgCtl, ['start', '-D', dataDir, '-l', logFile, '-w', '-t', '60'], {
        ...server,
        timeoutMs: 70_000,
      });
    } catch (error) {
      throw new Error(`${(error as Error).message}\nserver log:\n${logTail(logFile)}`);
    }
    const pid = readPid(dataDir);
    if (pid === null) throw new Error(`the server started but wrote no postmaster.pid in ${dataDir}`);
    log(`pgbench: server ${pid} on socket ${dir}/.s.PGSQL.${port} (fsync on, synchronous_commit on)`);
    options.onStarted?.({ dir, pid });

    const connection = ['-h', dir, '-p', String(port), '-U', SUPERUSER];
    log(`pgbench: initialising scale ${scale} (${scale * 100_000} accounts)`);
    await run(install.pgbench, ['-i', '-q', '-s', String(scale), ...connection, DATABASE], {
      timeoutMs: QUICK_MS + scale * INIT_MS_PER_SCALE,
      signal,
    });
    const runs: (PgbenchOutcome & { available: true })['runs'] = [];
    for (const clients of options.clients) {
      const threads = Math.min(2, clients);
      const args = ['-c', String(clients), '-j', String(threads), '-T', String(options.seconds)];
      const { stdout } = await run(install.pgbench, [...args, ...connection, DATABASE], {
        timeoutMs: options.seconds * 1000 + RUN_MARGIN_MS,
        signal,
      });
      const figures = parsePgbenchOutput(stdout);
      log(
        `pgbench: -c ${clients} -j ${threads} -T ${options.seconds}: ${figures.tps.toFixed(1)} tps, ` +
          `${figures.latencyMsAvg.toFixed(2)} ms average`,
      );
      runs.push({ clients, seconds: options.seconds, ...figures });
    }
    return { available: true, version, scale, runs };
  }, stop);
}
