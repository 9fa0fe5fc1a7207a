// `atm bench --quick` as a user runs it: the real CLI, a real `atm bank` child process, load
// workers. It asserts the report's shape and that the bench cleans up — never a speed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runAtm } from '../helpers/cli.js';

const BENCH_TIMEOUT_MS = 120_000;
const SCENARIOS = ['handshake', 'balance', 'mixed', 'contended', 'login', 'sessions'];

interface Step {
  name: string;
  firstErrors: string[];
  sessions: number;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p99: number; p999: number; max: number };
  errors: number;
  bank: { syncedWritesPerRequest: number | null; cpuMsPerRequest: number | null; peakRssMiB: number | null };
}

interface Report {
  scenarios: Step[];
  requestsPerSecond?: number;
  latencyMs?: { p99: number };
}

const benchDirs = (): string[] => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith('atm-bench-'));

/** Bank processes a bench spawned (their command line names a bench temp dir), still alive. */
function benchBanks(): string[] {
  return fs
    .readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .flatMap((pid) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
        return cmdline.includes(`${os.tmpdir()}/atm-bench-`) && cmdline.includes(' bank ') ? [cmdline] : [];
      } catch {
        return [];
      }
    });
}

test('atm bench --quick --json: one JSON object on the last line, every scenario with its figures, the bank process its own; nothing left behind', async () => {
  const dirsBefore = benchDirs();
  const run = await runAtm(['bench', '--quick', '--json'], { timeoutMs: BENCH_TIMEOUT_MS });
  assert.equal(run.code, 0, run.stderr);
  const lines = run.stdout.trimEnd().split('\n');
  const report = JSON.parse(lines.at(-1) ?? '') as Report;
  assert.deepEqual([...new Set(report.scenarios.map((step) => step.name))], SCENARIOS);
  for (const step of report.scenarios) {
    assert.ok(step.sessions > 0, step.name);
    assert.equal(step.errors, 0, `${step.name} @${step.sessions}: no request failed (${step.firstErrors.join('; ')})`);
    assert.equal(typeof step.requestsPerSecond, 'number');
    if (step.name === 'sessions') continue; // idle: no requests, only the bank's memory
    assert.ok(step.requests > 0, `${step.name} @${step.sessions} did some work`);
    const { p50, p99, p999, max } = step.latencyMs;
    assert.ok(p50 > 0 && p50 <= p99 && p99 <= p999 && p999 <= max, `${step.name} percentiles in order`);
    assert.ok(step.bank.cpuMsPerRequest !== null && step.bank.cpuMsPerRequest > 0, `${step.name}: bank CPU measured`);
  }
  const mixed = report.scenarios.find((step) => step.name === 'mixed');
  assert.ok(
    mixed?.bank.syncedWritesPerRequest != null && mixed.bank.syncedWritesPerRequest > 0,
    'synced writes counted',
  );
  const idle = report.scenarios.find((step) => step.name === 'sessions');
  assert.ok(idle?.bank.peakRssMiB != null && idle.bank.peakRssMiB > 0, 'the bank’s memory measured');
  assert.equal(report.requestsPerSecond, undefined, 'two mixed steps: no single top-level figure');
  assert.deepEqual(benchDirs(), dirsBefore, 'the temp dirs are gone');
  assert.deepEqual(benchBanks(), [], 'no bank process left running');
});

test('atm bench --quick --sessions 2: only the mixed scenario, a table for a person, --out the JSON with the figure at top level, --svg the scaling chart', async () => {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'atm-bench-test-')), 'report.json');
  const svg = path.join(path.dirname(out), 'scaling.svg');
  try {
    const run = await runAtm(['bench', '--quick', '--sessions', '2', '--out', out, '--svg', svg], {
      timeoutMs: BENCH_TIMEOUT_MS,
    });
    assert.equal(run.code, 0, run.stderr);
    assert.throws(() => JSON.parse(run.stdout), SyntaxError, 'the default output is a table');
    assert.match(run.stdout, /^atm bench on \d+ cores, /);
    assert.match(run.stdout, /^mixed +2 +\d+ +[\d.]+ +[\d.]+ /m);
    const report = JSON.parse(fs.readFileSync(out, 'utf8')) as Report;
    assert.deepEqual(
      report.scenarios.map((step) => [step.name, step.sessions]),
      [['mixed', 2]],
    );
    assert.equal(report.requestsPerSecond, report.scenarios[0]?.requestsPerSecond);
    assert.equal(report.latencyMs?.p99, report.scenarios[0]?.latencyMs.p99);
    const chart = fs.readFileSync(svg, 'utf8');
    assert.match(chart, /^<svg xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    assert.equal(chart.match(/<circle /g)?.length, 2, 'the step as a point in each panel (throughput, p99)');
  } finally {
    fs.rmSync(path.dirname(out), { recursive: true, force: true });
  }
});

test('atm bench refuses an unknown scenario and --bank without keys, with the usage', async () => {
  const unknown = await runAtm(['bench', '--scenario', 'mixed,nope']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /--scenario: "mixed,nope" is not a valid list/);
  const keyless = await runAtm(['bench', '--bank', '127.0.0.1:7400']);
  assert.equal(keyless.code, 2);
  assert.match(keyless.stderr, /--bank needs --key/);
});
