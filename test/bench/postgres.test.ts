// `atm bench --store postgres` as a user runs it: the real CLI starts a throw-away PostgreSQL
// cluster, two real `atm bank` processes on one migrated database, load split between them.
// It asserts the report says so and that everything is gone afterwards — never a speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runBench, QUICK_SESSIONS } from '../../bench/host/run.js';
import { runAtm } from '../helpers/cli.js';

const BENCH_TIMEOUT_MS = 60_000;

interface Step {
  name: string;
  sessions: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number };
  errors: number;
  firstErrors: string[];
  bank: {
    cpuMsPerRequest: number | null;
    syncedWritesPerRequest: number | null;
    databaseCpuMsPerRequest: number | null;
    perHost: { connections: number | null; syncedWrites: number | null }[] | null;
  };
}

interface Report {
  store: string | null;
  bankHosts: number;
  bank: string;
  database?: { postgres: string };
  scenarios: Step[];
}

/** What a bench leaves in the temp dir if it does not clean up: its own dir, the cluster's (mkdtemp's six). */
const leftovers = (): string[] =>
  fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('atm-bench-') || /^atm-pg-[^-]{6}$/.test(name));

/** Processes whose command line names a bench or cluster temp dir, still alive. */
function leftoverProcesses(): string[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return cmdline.includes(`${os.tmpdir()}/atm-bench-`) || cmdline.includes(`${os.tmpdir()}/atm-pg-`)
          ? [cmdline]
          : [];
      } catch {
        return [];
      }
    });
}

test('atm bench --quick --store postgres --bank-hosts 2 --scenario mixed --json: two hosts on one throw-away PostgreSQL, sessions split, no errors, nothing left behind', async () => {
  const before = leftovers();
  const run = await runAtm(
    ['bench', '--quick', '--store', 'postgres', '--bank-hosts', '2', '--scenario', 'mixed', '--json'],
    { timeoutMs: BENCH_TIMEOUT_MS },
  );
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(run.stdout.trimEnd().split('\n').at(-1) ?? '') as Report;
  assert.equal(report.store, 'postgres');
  assert.equal(report.bankHosts, 2);
  assert.match(report.database?.postgres ?? '', /^\d+/);
  assert.match(report.bank, /^2 atm bank processes .* PostgreSQL/);
  assert.deepEqual(
    report.scenarios.map((step) => [step.name, step.sessions]),
    QUICK_SESSIONS.mixed.map((sessions) => ['mixed', sessions]),
  );
  for (const step of report.scenarios) {
    const label = `mixed @${step.sessions}`;
    assert.ok(step.requests > 0, `${label} did some work`);
    assert.equal(step.errors, 0, `${label}: no request failed (${step.firstErrors.join('; ')})`);
    assert.ok(step.latencyMs.p50 > 0 && step.latencyMs.p50 <= step.latencyMs.p99, `${label}: percentiles in order`);
    assert.ok(step.bank.cpuMsPerRequest !== null && step.bank.cpuMsPerRequest > 0, `${label}: bank CPU measured`);
    assert.ok(step.bank.syncedWritesPerRequest !== null && step.bank.syncedWritesPerRequest > 0, `${label}: commits`);
    assert.ok(step.bank.databaseCpuMsPerRequest !== null && step.bank.databaseCpuMsPerRequest > 0, `${label}: db CPU`);
    assert.equal(step.bank.perHost?.length, 2, `${label}: a figure for each host`);
  }
  // Four sessions: session i on host i mod 2, so both hosts served and committed.
  const hosts = report.scenarios.find((step) => step.sessions === 4)?.bank.perHost ?? [];
  assert.deepEqual(
    hosts.map((host) => host.connections),
    [2, 2],
  );
  assert.ok(
    hosts.every((host) => (host.syncedWrites ?? 0) > 0),
    'both hosts wrote to the ledger',
  );
  assert.deepEqual(leftovers(), before, 'the bench and cluster temp dirs are gone');
  assert.deepEqual(leftoverProcesses(), [], 'no bank or PostgreSQL process left running');
});

test('--store postgres where PostgreSQL is not installed: one line saying so, nothing left behind', async () => {
  const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-nopg-'));
  const before = leftovers();
  try {
    await assert.rejects(
      runBench(
        {
          scenarios: ['mixed'],
          sessions: QUICK_SESSIONS,
          contendedAccounts: 2,
          durationMs: 100,
          requestsMax: 10,
          workers: 1,
          bcryptCost: 4,
          loginBcryptCost: 4,
          telemetry: false,
          store: 'postgres',
          bankHosts: 1,
          attach: null,
          postgresBinDir: empty,
        },
        () => undefined,
      ),
      (error: Error) => {
        assert.match(error.message, /^--store postgres: PostgreSQL is not installed: no initdb, pg_ctl, postgres in /);
        assert.doesNotMatch(error.message, /\n/);
        return true;
      },
    );
    assert.deepEqual(leftovers(), before);
  } finally {
    fs.rmSync(empty, { recursive: true, force: true });
  }
});

test('atm bench refuses --bank-hosts without --store postgres, an unknown store, and --store with --bank', async () => {
  const hosts = await runAtm(['bench', '--bank-hosts', '2']);
  assert.equal(hosts.code, 2);
  assert.match(hosts.stderr, /--bank-hosts 2 needs --store postgres/);
  const three = await runAtm(['bench', '--store', 'postgres', '--bank-hosts', '3']);
  assert.equal(three.code, 2);
  assert.match(three.stderr, /--bank-hosts/);
  const store = await runAtm(['bench', '--store', 'mongo']);
  assert.equal(store.code, 2);
  assert.match(store.stderr, /--store \(or ATM_STORE\) takes level or postgres, not "mongo"/);
  const attached = await runAtm(['bench', '--bank', '127.0.0.1:7400', '--key', 'k.key', '--store', 'postgres']);
  assert.equal(attached.code, 2);
  assert.match(attached.stderr, /--bank measures a running bank as it is/);
});
