// The scaling chart drawn from a report: what it plots and where, read back from the SVG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { niceCeiling, scalingChartSvg } from '../../bench/host/chart.js';
import type { BenchReport, StepReport } from '../../bench/host/report.js';
import type { CompareReport } from '../../bench/host/compare.js';

function step(name: string, sessions: number, requestsPerSecond: number, p99: number): StepReport {
  return {
    name,
    sessions,
    requests: requestsPerSecond * 5,
    seconds: 5,
    requestsPerSecond,
    latencyMs: { p50: p99 / 3, p99, p999: p99 * 2, max: p99 * 3 },
    byOp: {},
    errors: 0,
    firstErrors: [],
    bank: {
      cpuMsPerRequest: 0.3,
      cpuPercent: 100,
      syncedWritesPerRequest: 0.1,
      batchesPerSyncedWrite: 2,
      databaseCpuMsPerRequest: null,
      peakRssMiB: 100,
      eventLoopDelayMs: null,
      connections: sessions,
      perHost: null,
    },
  };
}

function report(steps: StepReport[], compare?: CompareReport): BenchReport {
  return {
    machine: '2 cores, 24 GiB',
    node: 'v20',
    store: 'level',
    bankHosts: 1,
    bank: 'atm bank <spawned>',
    bcryptCost: { throughput: 4, login: 12 },
    scenarios: steps,
    ...(compare === undefined ? {} : { compare }),
  };
}

/** The [x, y] of each circle, in document order. */
const circles = (svg: string): [number, number][] =>
  [...svg.matchAll(/<circle cx="([\d.]+)" cy="([\d.]+)"/g)].map((match) => [Number(match[1]), Number(match[2])]);

test('niceCeiling rounds up to 1, 2 or 5 times a power of ten', () => {
  assert.deepEqual(
    [0, 0.3, 1, 7, 12, 4_161, 20_000, 20_001].map(niceCeiling),
    [1, 0.5, 1, 10, 20, 5_000, 20_000, 50_000],
  );
});

test('no mixed step: no chart', () => {
  assert.equal(scalingChartSvg(report([step('balance', 64, 5_000, 10)])), null);
});

test('each mixed step is a point in both panels, in session order, higher values drawn higher; other scenarios ignored', () => {
  const svg = scalingChartSvg(
    report([step('mixed', 32, 4_000, 20), step('handshake', 16, 1_600, 30), step('mixed', 1, 500, 4)]),
  );
  assert.ok(svg !== null);
  const points = circles(svg);
  assert.equal(points.length, 4, 'two steps × (throughput, p99)');
  const [low, high, lowP99, highP99] = points as [
    [number, number],
    [number, number],
    [number, number],
    [number, number],
  ];
  assert.ok(low[0] < high[0], '1 session left of 32');
  assert.ok(high[1] < low[1], '4,000/s above 500/s');
  assert.ok(highP99[1] < lowP99[1], '20 ms above 4 ms');
  assert.ok(lowP99[1] > low[1], 'the latency panel is below the throughput panel');
  assert.doesNotMatch(svg, /pgbench TPC-B/, 'no reference without --compare');
  assert.match(svg, /target: p99 ≤ 10 ms/);
});

test('with --compare: pgbench at the same client counts and the 3× target line; text is escaped', () => {
  const compare: CompareReport = {
    pgbench: {
      available: true,
      version: '15',
      scale: 32,
      runs: [{ clients: 32, seconds: 5, tps: 1_500.4, latencyMsAvg: 21 }],
    },
    tls: {
      handshakes: [],
      echo: { connections: 64, payloadBytes: 100, roundTripsPerSecond: 20_000, latencyMs: { p50: 1, p99: 2 } },
    },
    targets: [],
  };
  const withCompare = report([step('mixed', 1, 500, 4), step('mixed', 32, 4_000, 20)], compare);
  withCompare.bank = 'a <bank> & more';
  const svg = scalingChartSvg(withCompare);
  assert.ok(svg !== null);
  assert.match(svg, /pgbench TPC-B \(tps\)/);
  assert.match(svg, /target: 3 × pgbench/);
  assert.equal(circles(svg).length, 5, 'ours ×2, pgbench @32, p99 ×2');
  assert.match(svg, /a &#60;bank&#62; &#38; more/);
  assert.doesNotMatch(svg, /<bank>/);
});
