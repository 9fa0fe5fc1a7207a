// The embedded broker's thread (started by broker-thread.ts; never imported). It builds what
// startEmbeddedBroker needs from the bank's data dir itself: operator passwords from the
// keystore file (KeystoreView re-reads it when `atm keys add-operator` changes it) and the
// retained file, so no per-connection question ever crosses back to the bank's thread.
// Replies: 'ready' (ports, the retained messages loaded), 'error' (with the listen error's
// code, so a port in use still reads EADDRINUSE to `atm bank`), and 'closed' after a close.
import assert from 'node:assert/strict';
import path from 'node:path';
import { parentPort, threadId, workerData } from 'node:worker_threads';
import bcrypt from 'bcrypt';
import { startEmbeddedBroker, type LocalBroker } from './broker.js';
import { BrokerTelemetry } from './broker-telemetry.js';
import {
  wireRetained,
  type BrokerWorkerInit,
  type BrokerWorkerReply,
  type BrokerWorkerRequest,
} from './broker-thread.js';
import { KeystoreView } from '../bank/index.js';
import { RETAINED_FILE_NAME, RetainedFile } from './retained-store.js';
import { serveTelemetryPort } from './telemetry-port.js';
import { lowerThisThreadPriority } from './thread-priority.js';

const port = parentPort;
assert.ok(port !== null, 'broker-worker.js runs only as a worker thread (see broker-thread.ts)');
const data = workerData as BrokerWorkerInit;

function reply(message: BrokerWorkerReply): void {
  port?.postMessage(message);
}

function operatorChecker(keystore: KeystoreView): (name: string, password: string) => Promise<boolean | 'admin'> {
  return async (name, password) => {
    const operators = keystore.current().operators;
    const entry = Object.hasOwn(operators, name) ? operators[name] : undefined;
    if (entry === undefined) return false;
    const ok = await bcrypt.compare(password, entry.passwordHash).catch(() => false);
    return ok && entry.admin === true ? 'admin' : ok;
  };
}

async function closeBroker(broker: LocalBroker): Promise<void> {
  try {
    await broker.close(); // closes the listeners and flushes the retained file
  } finally {
    reply({ type: 'closed' });
  }
}

async function start(): Promise<void> {
  lowerThisThreadPriority();
  let broker: LocalBroker;
  let retained: RetainedFile | null = null;
  try {
    const keystore = new KeystoreView(data.dataDir);
    retained = data.persistRetained ? RetainedFile.load(path.join(data.dataDir, RETAINED_FILE_NAME)) : null;
    broker = await startEmbeddedBroker({
      host: data.host,
      port: data.port,
      wsPort: data.wsPort,
      bankCredentials: data.bankCredentials,
      checkOperator: operatorChecker(keystore),
      retained: retained ?? undefined,
    });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { port?: unknown };
    const message = error instanceof Error ? error.message : String(error);
    reply({
      type: 'error',
      code: typeof failure.code === 'string' ? failure.code : null,
      port: typeof failure.port === 'number' ? failure.port : null,
      message,
    });
    data.telemetryPort.close();
    return; // nothing is left listening: the thread ends by itself
  }
  // The bank's telemetry, published into the broker in-process (broker-telemetry.ts).
  serveTelemetryPort(
    data.telemetryPort,
    new BrokerTelemetry(broker, { hostId: data.hostId, countsBefore: data.countsBefore }),
  );
  port?.on('message', (request: BrokerWorkerRequest) => {
    switch (request.type) {
      // One request today; the exhaustive switch fails to compile when another is added.
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- see above
      case 'close':
        void closeBroker(broker);
        break;
      default: {
        const never: never = request.type;
        assert.fail(`unknown request ${String(never)}`);
      }
    }
  });
  reply({
    type: 'ready',
    port: broker.port,
    wsPort: broker.wsPort,
    threadId,
    loaded: broker.loaded.map(wireRetained),
    retainedLoadError: retained?.loadError ?? null,
  });
}

void start();
