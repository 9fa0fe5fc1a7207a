// The external broker's MQTT client, on its own thread (started by telemetry-thread.ts; never
// imported). It serves the bank's telemetry port until the bank closes it.
import assert from 'node:assert/strict';
import { workerData } from 'node:worker_threads';
import { serveTelemetryPort } from './telemetry-port.js';
import { lowerThisThreadPriority } from './thread-priority.js';
import type { TelemetryWorkerInit } from './telemetry-thread.js';
import { MqttTelemetry, type MqttTlsOptions } from './telemetry.js';

const init = workerData as TelemetryWorkerInit | null;
assert.ok(init?.port !== undefined, 'telemetry-worker.js runs only as a worker thread (see telemetry-thread.ts)');

const asBuffer = (bytes: Uint8Array | undefined): Buffer | undefined =>
  bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
const tls: MqttTlsOptions | undefined =
  init.options.tls === undefined
    ? undefined
    : { ca: asBuffer(init.options.tls.ca), cert: asBuffer(init.options.tls.cert), key: asBuffer(init.options.tls.key) };

lowerThisThreadPriority();
serveTelemetryPort(init.port, new MqttTelemetry({ ...init.options, tls }));
