// The references of `atm bench --compare` (bench/reference/): each run with tiny settings returns
// figures and leaves nothing behind (no server process, no temp dir), also when interrupted; a
// missing PostgreSQL is reported, not thrown. No timing is asserted: speed is what they measure.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { parsePgbenchOutput, runPgbench, runTlsReference } from '../../bench/reference/index.js';
import { waitUntil } from '../helpers/wait.js';

let root = '';

before(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-reference-test-'));
  // As root, the cluster's dir under here is used by the postgres user: it must be able to pass.
  fs.chmodSync(root, 0o755);
});

after(() => fs.rmSync(root, { recursive: true, force: true }));

/** A fresh, empty dir under the test's root for one run's temp dirs. */
function tempRoot(name: string): string {
  const dir = path.join(root, name);
  fs.mkdirSync(dir, { mode: 0o755 });
  fs.chmodSync(dir, 0o755);
  return dir;
}

/** Whether `pid` is a live process (a zombie nobody has reaped yet counts as gone). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.startsWith('Z') !== true;
  } catch {
    return false;
  }
}

test('the TLS reference measures handshakes and echo round trips, then stops its server and removes its key', async () => {
  const runRoot = tempRoot('tls');
  const seen: { started?: { dir: string; serverPid: number } } = {};
  const result = await runTlsReference({
    handshakeConcurrency: [1, 2],
    handshakeSeconds: 0.3,
    echoConnections: 4,
    echoSeconds: 0.3,
    tempRoot: runRoot,
    onStarted: (resources) => (seen.started = resources),
  });
  assert.deepEqual(
    result.handshakes.map((h) => h.concurrency),
    [1, 2],
  );
  for (const handshake of result.handshakes) {
    assert.ok(handshake.perSecond > 0 && handshake.msEach > 0, JSON.stringify(handshake));
  }
  assert.equal(result.echo.connections, 4);
  assert.equal(result.echo.payloadBytes, 100);
  assert.ok(result.echo.roundTripsPerSecond > 0, JSON.stringify(result.echo));
  assert.ok(result.echo.latencyMs.p50 > 0 && result.echo.latencyMs.p99 >= result.echo.latencyMs.p50);

  assert.ok(seen.started !== undefined, 'onStarted was called');
  const { dir, serverPid } = seen.started;
  assert.equal(alive(serverPid), false, `echo server ${serverPid} is gone`);
  assert.equal(fs.existsSync(dir), false, `${dir} is removed`);
  assert.deepEqual(fs.readdirSync(runRoot), []);
});

test('pgbench runs TPC-B on a throw-away cluster, then stops the server and removes the cluster', async () => {
  const runRoot = tempRoot('pgbench');
  const seen: { started?: { dir: string; pid: number } } = {};
  const outcome = await runPgbench({
    clients: [1],
    seconds: 1,
    scale: 1,
    tempRoot: runRoot,
    onStarted: (cluster) => (seen.started = cluster),
  });
  assert.ok(outcome.available, outcome.available ? '' : outcome.reason);
  assert.match(outcome.version, /^\d+\.\d+/);
  assert.equal(outcome.scale, 1);
  assert.equal(outcome.runs.length, 1);
  const [only] = outcome.runs;
  assert.equal(only?.clients, 1);
  assert.equal(only.seconds, 1);
  assert.ok(only.tps > 0 && only.latencyMsAvg > 0, JSON.stringify(only));

  assert.ok(seen.started !== undefined, 'onStarted was called');
  const { dir, pid } = seen.started;
  await waitUntil(() => !alive(pid), `postmaster ${pid} to be gone`);
  assert.equal(fs.existsSync(dir), false, `${dir} is removed`);
  assert.deepEqual(fs.readdirSync(runRoot), []);
});

test('SIGINT during a pgbench run stops the server and removes the cluster before the process ends', async () => {
  const runRoot = tempRoot('pgbench-sigint');
  const module = new URL('../../bench/reference/index.js', import.meta.url).href;
  const script = [
    `import { runPgbench } from ${JSON.stringify(module)};`,
    `await runPgbench({ clients: [1], seconds: 60, scale: 1, tempRoot: ${JSON.stringify(runRoot)},`,
    `  onStarted: (cluster) => process.stdout.write(JSON.stringify(cluster) + '\\n') });`,
  ].join('\n');
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) =>
    child.on('exit', (code, signal) => resolve(signal ?? code)),
  );
  try {
    await waitUntil(
      () => stdout.includes('\n'),
      () => `the cluster to start (stderr: ${stderr})`,
      30_000,
    );
    const cluster = JSON.parse(stdout.split('\n')[0] ?? '') as { dir: string; pid: number };
    child.kill('SIGINT');
    assert.equal(await exited, 'SIGINT', `ended by its SIGINT after cleaning up (stderr: ${stderr})`);
    await waitUntil(() => !alive(cluster.pid), `postmaster ${cluster.pid} to be gone`);
    assert.equal(fs.existsSync(cluster.dir), false, `${cluster.dir} is removed`);
    assert.deepEqual(fs.readdirSync(runRoot), []);
  } finally {
    child.kill('SIGKILL');
  }
});

test('a missing PostgreSQL installation is reported with what to install, and nothing is made', async () => {
  const runRoot = tempRoot('pgbench-missing');
  const binDir = tempRoot('empty-bin');
  const outcome = await runPgbench({ clients: [1], seconds: 1, binDir, tempRoot: runRoot });
  if (outcome.available) assert.fail('reported available with an empty binDir');
  assert.match(outcome.reason, /PostgreSQL is not installed.*apt-get install postgresql/);
  assert.deepEqual(fs.readdirSync(runRoot), []);
});

test("pgbench's output is parsed for tps (without connection time) and average latency, old and new formats", () => {
  const v15 = [
    'number of transactions actually processed: 500',
    'latency average = 1.996 ms',
    'initial connection time = 3.397 ms',
    'tps = 500.882310 (without initial connection time)',
  ].join('\n');
  assert.deepEqual(parsePgbenchOutput(v15), { tps: 500.88231, latencyMsAvg: 1.996 });
  const v12 = [
    'latency average = 2.5 ms',
    'tps = 390.1 (including connections establishing)',
    'tps = 400.2 (excluding connections establishing)',
  ].join('\n');
  assert.deepEqual(parsePgbenchOutput(v12), { tps: 400.2, latencyMsAvg: 2.5 });
  assert.throws(() => parsePgbenchOutput('pgbench: error: connection refused'), /no "tps =" and "latency average ="/);
});
