// Metrics accumulator: rates, percentiles and counts per interval, injected times, no timers.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsAccumulator, percentile, xorshift } from '../../telemetry/metrics.js';
import { parseTelemetry } from '../../protocol/telemetry.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const GAUGES = { sessionsOpen: 3, telemetryDropped: 0 };

test('an interval becomes rates per action, percentiles, counts; then the next interval starts empty', () => {
  const metrics = new MetricsAccumulator(T0);
  for (let index = 1; index <= 100; index += 1) metrics.record('deposit', 'ok', index);
  for (let index = 0; index < 10; index += 1) metrics.record('login', index < 4 ? 'AUTH_FAILED' : 'ok', 5);
  metrics.record('login', 'ACCOUNT_LOCKED', 5);
  const payload = metrics.snapshot(T0 + 5_000, GAUGES);
  assert.deepEqual(payload, {
    intervalMs: 5_000,
    tps: { deposit: 20, login: 2.2 },
    requests: 111,
    p50Ms: 45,
    p99Ms: 99,
    sessionsOpen: 3,
    loginsFailed: 5,
    telemetryDropped: 0,
  });
  const body = JSON.stringify({ v: 1, ts: new Date(T0).toISOString(), seq: 1, ...payload });
  assert.notEqual(parseTelemetry('atm/v1/metrics', body), null);
  const next = metrics.snapshot(T0 + 10_000, { sessionsOpen: 0, telemetryDropped: 7 });
  assert.deepEqual(next, {
    intervalMs: 5_000,
    tps: {},
    requests: 0,
    p50Ms: null,
    p99Ms: null,
    sessionsOpen: 0,
    loginsFailed: 0,
    telemetryDropped: 7,
  });
});

test('a zero-length interval has zero rates, not infinite ones', () => {
  const metrics = new MetricsAccumulator(T0);
  metrics.record('deposit', 'ok', 1);
  assert.deepEqual(metrics.snapshot(T0, GAUGES).tps, { deposit: 0 });
});

test('percentile is nearest-rank over ascending values', () => {
  assert.equal(percentile([], 0.5), null);
  assert.equal(percentile([7], 0.99), 7);
  assert.equal(percentile([1, 2, 3, 4], 0.5), 2);
  assert.equal(percentile([1, 2, 3, 4], 0.99), 4);
  assert.equal(percentile([1.26], 0.5), 1.3);
});

test('the latency sample is bounded: past the cap a reservoir keeps a uniform sample', () => {
  const metrics = new MetricsAccumulator(T0, { latencySamplesMax: 1_000, random: xorshift(42) });
  // 100 000 latencies, uniform over 0..99 ms: the sample's percentiles stay close.
  for (let index = 0; index < 100_000; index += 1) metrics.record('deposit', 'ok', index % 100);
  const payload = metrics.snapshot(T0 + 1_000, GAUGES);
  assert.equal(payload.requests, 100_000);
  assert.equal(payload.tps.deposit, 100_000);
  assert.ok(payload.p50Ms !== null && Math.abs(payload.p50Ms - 49.5) <= 6, `p50 ${payload.p50Ms}`);
  assert.ok(payload.p99Ms !== null && payload.p99Ms >= 95, `p99 ${payload.p99Ms}`);
});

test('actions are bounded: past 31 distinct names the rest count as "other"', () => {
  const metrics = new MetricsAccumulator(T0);
  for (let index = 0; index < 40; index += 1) metrics.record(`action${index}`, 'ok', 1);
  const payload = metrics.snapshot(T0 + 1_000, GAUGES);
  assert.equal(Object.keys(payload.tps).length, 32);
  assert.equal(payload.tps.other, 9);
  const body = JSON.stringify({ v: 1, ts: new Date(T0).toISOString(), seq: 1, ...payload });
  assert.notEqual(parseTelemetry('atm/v1/metrics', body), null);
});

test('bad latencies (NaN, negative) count as 0 rather than poisoning the percentiles', () => {
  const metrics = new MetricsAccumulator(T0);
  metrics.record('deposit', 'ok', Number.NaN);
  metrics.record('deposit', 'ok', -3);
  const payload = metrics.snapshot(T0 + 1_000, GAUGES);
  assert.equal(payload.p50Ms, 0);
  assert.equal(payload.p99Ms, 0);
});
