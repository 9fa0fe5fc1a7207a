// atm bank — run the bank host until SIGTERM/SIGINT.
import { startBankHost, type BankMqttOptions } from '../../bank/host.js';
import { ExitCode, UsageError, integerOption, parse, required } from '../cli.js';

const USAGE = `usage: atm bank --data DIR [--host 127.0.0.1] [--port 7400] [--bcrypt-cost 12]
                [--hold-timeout-ms 300000] [--no-mqtt | --mqtt URL | --mqtt-port 1883]
Runs the bank host; logs one line per action to stdout. Telemetry goes to an embedded MQTT
broker on 127.0.0.1:1883 by default (operators log in with \`atm keys\` operator passwords);
--mqtt URL publishes to an external broker instead, --no-mqtt turns telemetry off. Env: ATM_DATA, ATM_HOST, ATM_PORT, …`;

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
  const mqtt = mqttOptions(values);
  const hostOptions = {
    dataDir: required(values, 'data', USAGE),
    host: typeof values.host === 'string' ? values.host : '127.0.0.1',
    port: integerOption(values, 'port', 7400, 0, 65535),
    bcryptCost: integerOption(values, 'bcrypt-cost', 12, 4, 15),
    holdTimeoutMs: integerOption(values, 'hold-timeout-ms', 5 * 60_000, 1_000, 24 * 3600_000),
  };
  let host;
  try {
    host = await startBankHost({ ...hostOptions, mqtt });
  } catch (error) {
    // The default broker port being taken (another broker, another bank) is not worth
    // refusing to run the bank for; an explicitly requested port is.
    if (values['mqtt-port'] !== undefined || mqtt.mode !== 'embedded' || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
    process.stdout.write(`telemetry off: 127.0.0.1:${mqtt.port} is in use (use --mqtt-port N or --no-mqtt)\n`);
    host = await startBankHost({ ...hostOptions, mqtt: { mode: 'off' } });
  }
  if (host.mqttPort !== null) process.stdout.write(`telemetry broker listening on 127.0.0.1:${host.mqttPort}\n`);
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

function mqttOptions(values: Record<string, string | boolean | undefined>): BankMqttOptions {
  const chosen = [values['no-mqtt'] === true, values.mqtt !== undefined, values['mqtt-port'] !== undefined].filter(Boolean).length;
  if (chosen > 1) throw new UsageError('choose one of --no-mqtt, --mqtt URL and --mqtt-port N');
  if (values['no-mqtt'] === true) return { mode: 'off' };
  if (typeof values.mqtt === 'string') {
    if (!/^mqtts?:\/\//.test(values.mqtt)) throw new UsageError('--mqtt takes a URL such as mqtt://broker:1883');
    return { mode: 'external', url: values.mqtt, username: process.env.ATM_MQTT_USERNAME, password: process.env.ATM_MQTT_PASSWORD };
  }
  return { mode: 'embedded', port: integerOption(values, 'mqtt-port', 1883, 0, 65535) };
}
