// atm bank — run the bank host until SIGTERM/SIGINT.
import { startBankHost } from '../../bank/index.js';
import { ExitCode, UsageError, integerOption, parse, required } from '../cli.js';

const USAGE = `usage: atm bank --data DIR [--host 127.0.0.1] [--port 7400] [--bcrypt-cost 12]
                [--hold-timeout-ms 300000] [--no-mqtt | --mqtt URL | --mqtt-port 1883]
Runs the bank host; logs one line per action to stdout. Env: ATM_DATA, ATM_HOST, ATM_PORT, …`;

export async function bankCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      data: { type: 'string' },
      host: { type: 'string' },
      port: { type: 'string' },
      'bcrypt-cost': { type: 'string' },
      'hold-timeout-ms': { type: 'string' },
      'no-mqtt': { type: 'boolean' },
      mqtt: { type: 'string' },
      'mqtt-port': { type: 'string' },
    },
    USAGE,
  );
  if (values.mqtt !== undefined || values['mqtt-port'] !== undefined) {
    throw new UsageError('MQTT telemetry is not built yet in this version; run with --no-mqtt (the default for now)');
  }
  const host = await startBankHost({
    dataDir: required(values, 'data', USAGE),
    host: typeof values.host === 'string' ? values.host : '127.0.0.1',
    port: integerOption(values, 'port', 7400, 0, 65535),
    bcryptCost: integerOption(values, 'bcrypt-cost', 12, 4, 15),
    holdTimeoutMs: integerOption(values, 'hold-timeout-ms', 5 * 60_000, 1_000, 24 * 3600_000),
  });
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      process.stdout.write(`bank stopping (${signal})\n`);
      resolve();
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });
  await host.close();
  process.stdout.write('bank stopped\n');
  return ExitCode.OK;
}
