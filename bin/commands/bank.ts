// atm bank — run the bank host until SIGTERM/SIGINT.
import fs from 'node:fs';
import {
  KeystoreError,
  LogLineObserver,
  exitOnAssertionFailure,
  keystorePath,
  reportStatsOnSignal,
  startBankHost,
} from '../../bank/index.js';
import { AtmError, describeTestFaults, testFaultsActive } from '../../protocol/index.js';
import { bankTelemetry, type BankMqttOptions } from '../../telemetry/index.js';
import { ExitCode, UsageError, integerOption, logLine, parse, required, shellWord, stopSignal } from '../cli.js';
import { BatchedLines } from '../batched-lines.js';
import { storeUrl } from '../store-option.js';
import { explainStartFailure, refuseHeldDataDir, snapshotDataDir, undoFailedStart } from '../startup.js';

const USAGE = `usage: atm bank --data DIR [--host 127.0.0.1] [--port 7400] [--bcrypt-cost 12]
                [--hold-timeout-ms 300000] [--sweep-interval-ms 5000]
                [--store postgres://USER@HOST:PORT/DB [--host-id NAME] [--pg-pool-size 16]
                 [--pg-statement-timeout-ms 5000] [--pg-lock-timeout-ms 5000]]
                [--mqtt-port 1883 [--mqtt-ws-port N] | --mqtt URL [--mqtt-ca FILE] [--mqtt-cert FILE --mqtt-key FILE] | --no-mqtt]
                [--metrics-interval-ms 5000] [--kiosk-offline-alert-ms 60000]
                [--low-cash-count 20] [--security-quiet-ms 300000]
Runs the bank host on DIR, which must hold a keystore (\`atm keys init --data DIR\` makes one;
atm bank never does, so a mistyped --data cannot start a new, empty bank); logs one line per
action to stdout. The ledger is LevelDB in DIR/ledger with audit.log beside it, unless --store
names a PostgreSQL database (migrated by \`atm db migrate\`) that several bank hosts share: the
ledger and the one audit chain then live there, each host with its own DIR (a copy of the same
keystore) and --host-id (default the keystore's); ?sslmode=require in the URL asks for TLS, and
a password belongs in PGPASSWORD or ~/.pgpass. Telemetry (TOPICS.md) goes to an
embedded MQTT broker on 127.0.0.1:1883 (--mqtt-port N; 0 picks a free port); operators log
in with \`atm keys add-operator\` passwords; retained messages are kept in DIR/mqtt/;
--mqtt-ws-port N also serves MQTT over WebSocket. If the broker port is taken the bank
refuses to start. --mqtt URL (mqtt:// or mqtts://) publishes to an external broker instead
(ATM_MQTT_USERNAME / ATM_MQTT_PASSWORD; --mqtt-ca, --mqtt-cert, --mqtt-key: PEM files for
TLS, the broker's certificate is always verified); --no-mqtt turns telemetry off.
kill -USR2 PID writes one 'bank stats {json}' line (CPU, memory, group commits, connections,
event-loop delay since the last one) to the log.
Alerts: kiosk offline after --kiosk-offline-alert-ms without a session; low cash below
--low-cash-count notes in a cassette; security alerts clear after --security-quiet-ms quiet.
Env: ATM_DATA, ATM_HOST, ATM_PORT, … (each flag as ATM_FLAG_NAME).`;

export async function bankCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      data: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'bcrypt-cost': { type: 'string' },
      'hold-timeout-ms': { type: 'string' },
      'sweep-interval-ms': { type: 'string' },
      store: { type: 'string' },
      'host-id': { type: 'string' },
      'pg-pool-size': { type: 'string' },
      'pg-statement-timeout-ms': { type: 'string' },
      'pg-lock-timeout-ms': { type: 'string' },
      'no-mqtt': { type: 'boolean' },
      mqtt: { type: 'string' },
      'mqtt-port': { type: 'string' },
      'mqtt-ws-port': { type: 'string' },
      'mqtt-ca': { type: 'string' },
      'mqtt-cert': { type: 'string' },
      'mqtt-key': { type: 'string' },
      'metrics-interval-ms': { type: 'string' },
      'kiosk-offline-alert-ms': { type: 'string' },
      'low-cash-count': { type: 'string' },
      'security-quiet-ms': { type: 'string' },
    },
    USAGE,
  );
  const mqtt = mqttOptions(values);
  const hostOptions = {
    dataDir: required(values, 'data', USAGE),
    host: typeof values.host === 'string' ? values.host : '127.0.0.1',
    port: integerOption(values, 'port', 7400, 0, 65535),
    bcryptCost: integerOption(values, 'bcrypt-cost', 12, 4, 15),
    holdTimeoutMs: integerOption(values, 'hold-timeout-ms', 5 * 60_000, 1_000, 24 * 3600_000),
    // How often holds past their expiry are voided (by any host, on a shared ledger).
    sweepIntervalMs: integerOption(values, 'sweep-interval-ms', 5_000, 100, 3_600_000),
    ...databaseOptions(values),
  };
  const telemetryOptions = {
    mqtt,
    metricsIntervalMs: integerOption(values, 'metrics-interval-ms', 5_000, 1_000, 3600_000),
    kioskOfflineAlertMs: integerOption(values, 'kiosk-offline-alert-ms', 60_000, 1_000, 24 * 3600_000),
    lowCashCount: integerOption(values, 'low-cash-count', 20, 0, 100_000),
    securityQuietMs: integerOption(values, 'security-quiet-ms', 300_000, 1_000, 24 * 3600_000),
  };
  requireKeystore(hostOptions.dataDir);
  const embeddedPorts = mqtt.mode === 'embedded' ? [mqtt.port, mqtt.wsPort ?? 0] : [];
  if (hostOptions.port !== 0 && embeddedPorts.includes(hostOptions.port))
    throw new UsageError(`--port ${hostOptions.port} is also the telemetry broker's port; give each its own`);
  // Before LevelDB's own lock refuses: its failed open still rotates the running bank's LOG.
  refuseHeldDataDir(hostOptions.dataDir);
  const before = snapshotDataDir(hostOptions.dataDir);
  const stopping = stopSignal();
  const out = new BatchedLines(process.stdout);
  // Never silent: a bank with crash points or planted bugs must not pass for a real one.
  if (testFaultsActive) out.write(logLine(`WARNING test faults active (ATM_TEST_FAULTS): ${describeTestFaults()}`));
  // A broken ledger or audit invariant ends the process with one line; it is never a decline.
  exitOnAssertionFailure({ component: 'bank', exitCode: ExitCode.INTERNAL });
  let host;
  try {
    host = await startBankHost({
      ...hostOptions,
      telemetry: bankTelemetry(telemetryOptions),
      observer: new LogLineObserver((line) => out.write(logLine(line))),
    });
  } catch (error) {
    undoFailedStart(before, error);
    throw explainStartFailure(error, {
      dataDir: hostOptions.dataDir,
      host: hostOptions.host,
      port: hostOptions.port,
      mqttPort: mqtt.mode === 'embedded' ? mqtt.port : null,
      mqttWsPort: mqtt.mode === 'embedded' ? (mqtt.wsPort ?? null) : null,
    });
  }
  if (host.telemetry.mqttPort !== null)
    out.write(logLine(`telemetry broker listening on 127.0.0.1:${host.telemetry.mqttPort}`));
  if (host.telemetry.mqttWsPort !== null)
    out.write(logLine(`telemetry broker WebSocket listening on ws://127.0.0.1:${host.telemetry.mqttWsPort}`));
  const stopStats = reportStatsOnSignal(host, (line) => out.write(logLine(line)));
  out.write(logLine(`bank stopping (${await stopping})`));
  stopStats();
  await host.close();
  out.write(logLine('bank stopped'));
  out.flush();
  return ExitCode.OK;
}

const HOST_ID = /^[a-z0-9][a-z0-9._-]{0,31}$/;

/** --store and what goes with it; the PostgreSQL flags without --store are a usage error. */
function databaseOptions(values: Record<string, string | boolean | undefined>) {
  const url = storeUrl(values, USAGE);
  const hostId = typeof values['host-id'] === 'string' ? values['host-id'] : undefined;
  if (hostId !== undefined && !HOST_ID.test(hostId))
    throw new UsageError('--host-id must be 1-32 of a-z 0-9 . _ - (starting with a letter or digit)');
  if (url === undefined) {
    const stray = ['pg-pool-size', 'pg-statement-timeout-ms', 'pg-lock-timeout-ms'].find(
      (n) => values[n] !== undefined,
    );
    if (stray !== undefined) throw new UsageError(`--${stray} goes with --store postgres://…`);
    return { hostId };
  }
  return {
    storeUrl: url,
    hostId,
    pg: {
      poolSize: integerOption(values, 'pg-pool-size', 16, 2, 1_000),
      statementTimeoutMs: integerOption(values, 'pg-statement-timeout-ms', 5_000, 100, 600_000),
      lockTimeoutMs: integerOption(values, 'pg-lock-timeout-ms', 5_000, 100, 600_000),
    },
  };
}

/**
 * `atm bank` never creates a keystore: with a typo in --data it would otherwise start a new,
 * empty bank with fresh keys that no kiosk knows. Making a bank is `atm keys init`'s job.
 */
function requireKeystore(dataDir: string): void {
  if (fs.existsSync(keystorePath(dataDir))) return;
  const where = fs.existsSync(dataDir) ? `${dataDir} has no keystore.json` : `${dataDir} does not exist`;
  throw new AtmError(
    KeystoreError.MISSING,
    `${where}; atm bank never creates a keystore: check --data, or set up a new bank with 'atm keys init --data ${shellWord(dataDir)}'`,
  );
}

function readPem(values: Record<string, string | boolean | undefined>, name: string): Buffer | undefined {
  const file = values[name];
  if (typeof file !== 'string') return undefined;
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new UsageError(`--${name}: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function mqttOptions(values: Record<string, string | boolean | undefined>): BankMqttOptions {
  const chosen = [values['no-mqtt'] === true, values.mqtt !== undefined, values['mqtt-port'] !== undefined].filter(
    Boolean,
  ).length;
  if (chosen > 1) throw new UsageError('choose one of --no-mqtt, --mqtt URL and --mqtt-port N');
  const tlsFlags = ['mqtt-ca', 'mqtt-cert', 'mqtt-key'].filter((name) => values[name] !== undefined);
  if (tlsFlags.length > 0 && typeof values.mqtt !== 'string')
    throw new UsageError(`--${tlsFlags[0]} goes with --mqtt URL (an external broker)`);
  if ((values['mqtt-cert'] === undefined) !== (values['mqtt-key'] === undefined))
    throw new UsageError('--mqtt-cert and --mqtt-key go together');
  if (values['mqtt-ws-port'] !== undefined && (values['no-mqtt'] === true || values.mqtt !== undefined))
    throw new UsageError('--mqtt-ws-port is for the embedded broker');
  if (values['no-mqtt'] === true) return { mode: 'off' };
  if (typeof values.mqtt === 'string') {
    if (!/^mqtts?:\/\//.test(values.mqtt))
      throw new UsageError('--mqtt takes a URL such as mqtt://broker:1883 or mqtts://broker:8883');
    const tls = {
      ca: readPem(values, 'mqtt-ca'),
      cert: readPem(values, 'mqtt-cert'),
      key: readPem(values, 'mqtt-key'),
    };
    return {
      mode: 'external',
      url: values.mqtt,
      username: process.env.ATM_MQTT_USERNAME,
      password: process.env.ATM_MQTT_PASSWORD,
      tls,
    };
  }
  const wsPort = values['mqtt-ws-port'] === undefined ? undefined : integerOption(values, 'mqtt-ws-port', 0, 0, 65535);
  return { mode: 'embedded', port: integerOption(values, 'mqtt-port', 1883, 0, 65535), wsPort };
}
