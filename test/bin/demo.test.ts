// `npm start` is `atm demo`: the bank host with its embedded broker, a provisioned demo
// kiosk and demo operator, and the kiosk UI. Checked as a user meets it: piped (the bank
// alone, with `atm client` lines to paste) and in a real pseudo-terminal (the kiosk UI).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test, type TestContext } from 'node:test';
import { loadKeystore } from '../../bank/index.js';
import { connectMqttAsync } from '../../protocol/index.js';
import { cleanEnv, runAtm, tempDir } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { spawnPty } from '../helpers/pty.js';

const WAIT_MS = 15_000;
const PASSWORD = 'correct horse battery';

function waitForText(read: () => string, pattern: RegExp, what: string): Promise<RegExpMatchArray> {
  const deadline = Date.now() + WAIT_MS;
  return new Promise((resolve, reject) => {
    const poll = (): void => {
      const match = read().match(pattern);
      if (match !== null) {
        resolve(match);
        return;
      }
      if (Date.now() > deadline) {
        reject(new Error(`no ${what} within ${WAIT_MS} ms; output so far:\n${read()}`));
        return;
      }
      setTimeout(poll, 25);
    };
    poll();
  });
}

async function startPipedDemo(
  t: TestContext,
  dataDir: string,
): Promise<{ stdout: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, [atmBin, 'demo', '--data', dataDir, '--port', '0', '--mqtt-port', '0'], {
    env: cleanEnv(),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  let stdout = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitForText(() => stdout, /Operator dashboard[^\n]*\n[^\n]*atm operator[^\n]*\n/, 'operator line');
  return {
    stdout,
    stop: () => {
      child.kill('SIGTERM');
      return exited;
    },
  };
}

test('piped, the demo runs the bank with its broker, provisions a kiosk and an operator, and prints lines that work', async (t) => {
  const root = tempDir('atm-demo-');
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  const { stdout, stop } = await startPipedDemo(t, dataDir);
  const bankPort = Number((/--bank 127\.0\.0\.1:(\d+)/.exec(stdout) ?? [])[1]);
  assert.ok(bankPort > 0, stdout);

  // The kiosk and the operator are provisioned with owner-only files; no secret is printed.
  const operatorPassword = fs.readFileSync(path.join(dataDir, 'demo-operator.password'), 'utf8').trim();
  assert.equal(fs.statSync(path.join(dataDir, 'demo-operator.password')).mode & 0o777, 0o600);
  assert.equal(fs.statSync(path.join(dataDir, 'demo-kiosk.key')).mode & 0o777, 0o600);
  assert.ok(loadKeystore(dataDir).operators['demo-operator'] !== undefined);
  assert.ok(!stdout.includes(operatorPassword), 'the operator password is never printed');
  const mqttUrl = fs.readFileSync(path.join(dataDir, 'demo-mqtt.url'), 'utf8').trim();
  assert.match(mqttUrl, /^mqtt:\/\/127\.0\.0\.1:\d+$/);

  // The printed client lines work as pasted (paths relative to the demo's working directory).
  const common = [
    'client',
    '--bank',
    `127.0.0.1:${bankPort}`,
    '--kiosk',
    'demo-kiosk',
    '--key',
    path.join(dataDir, 'demo-kiosk.key'),
  ];
  const env = { ATM_PASSWORD: PASSWORD };
  assert.equal((await runAtm([...common, 'register', '--user', 'austin'], { env })).code, 0);
  const deposit = await runAtm([...common, '--json', 'deposit', '--user', 'austin', '--amount', '150.00'], { env });
  assert.equal(deposit.code, 0, deposit.stderr);
  assert.equal((JSON.parse(deposit.stdout) as { balanceCents: number }).balanceCents, 15_000);

  // The demo operator can read the telemetry of what just happened (retained kiosk status).
  const subscriber = await connectMqttAsync(mqttUrl, {
    protocolVersion: 4,
    username: 'demo-operator',
    password: operatorPassword,
    reconnectPeriod: 0,
  });
  t.after(() => subscriber.endAsync(true));
  const statuses: string[] = [];
  subscriber.on('message', (topic, payload) => statuses.push(`${topic} ${payload.toString('utf8')}`));
  await subscriber.subscribeAsync('atm/v1/kiosk/+/status', { qos: 0 });
  await waitForText(
    () => statuses.join('\n'),
    /atm\/v1\/kiosk\/demo-kiosk\/status .*"status":"offline"/,
    'retained demo-kiosk status',
  );

  assert.equal(await stop(), 0);

  // A second run keeps the operator's password (a dashboard command stays valid).
  const again = await startPipedDemo(t, dataDir);
  assert.equal(fs.readFileSync(path.join(dataDir, 'demo-operator.password'), 'utf8').trim(), operatorPassword);
  assert.equal(await again.stop(), 0);
});

test('in a terminal, the demo opens the kiosk UI on the welcome screen and Ctrl-C stops it cleanly', async (t) => {
  const root = tempDir('atm-demo-tty-');
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  const pty = spawnPty(process.execPath, [atmBin, 'demo', '--data', dataDir, '--port', '0', '--mqtt-port', '0'], {
    env: cleanEnv(),
    cwd: root.dir,
  });
  t.after(() => pty.kill().then(() => undefined));
  await pty.waitFor(/welcome to secure atm\./i, WAIT_MS);
  assert.match(pty.screenText(), /demo-kiosk/);
  pty.press('ctrl-c');
  await pty.waitForOutput(/Demo stopped\. Bank log: data\/bank\.log/, WAIT_MS);
  assert.equal((await pty.exited).exitCode, 0);
  const log = fs.readFileSync(path.join(dataDir, 'bank.log'), 'utf8');
  assert.match(log, /bank \S+ listening on 127\.0\.0\.1:\d+/);
  assert.match(log, /npx atm operator --mqtt mqtt:\/\/127\.0\.0\.1:\d+ --user demo-operator/);
});
