// `npm run operator` (scripts/demo-operator.mjs) when no demo is running, in a real
// pseudo-terminal as a user runs it: it must say so and how to start one, and exit non-zero
// promptly, rather than open a dashboard that waits forever for a broker nobody runs.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import bcrypt from 'bcrypt';
import { addOperator } from '../../bank/index.js';
import { startTestBank } from '../helpers/bank.js';
import { cleanEnv, freePort, tempDir } from '../helpers/cli.js';
import { repoRoot } from '../helpers/paths.js';
import { spawnPty } from '../helpers/pty.js';

const script = path.join(repoRoot, 'scripts', 'demo-operator.mjs');
const EXIT_TIMEOUT_MS = 5_000;

async function runScript(
  t: { after: (fn: () => unknown) => void },
  dataDir: string,
): Promise<{ exitCode: number; screen: string }> {
  const pty = spawnPty(process.execPath, [script], { env: cleanEnv({ ATM_DATA: dataDir }) });
  t.after(() => pty.kill());
  const timeout = new Promise<never>((_, reject) =>
    setTimeout(
      () => reject(new Error(`still running after ${EXIT_TIMEOUT_MS} ms; the screen:\n${pty.screenText()}`)),
      EXIT_TIMEOUT_MS,
    ).unref(),
  );
  const exit = await Promise.race([pty.exited, timeout]);
  // The last output can reach the screen just after the exit is seen.
  await pty.waitFor(/again/, 2_000).catch(() => undefined);
  // The terminal wraps long lines at 80 columns: read the message as one line.
  return { exitCode: exit.exitCode, screen: pty.screenText().replace(/\n/g, '') };
}

test('npm run operator after a demo has stopped (its files left behind, nothing listening): says no demo is running and exits 1 at once', async (t) => {
  const data = tempDir('atm-demo-op-');
  t.after(() => data.remove());
  // What a demo leaves in its data folder; the broker it names has gone with it.
  fs.writeFileSync(path.join(data.dir, 'demo-mqtt.url'), `mqtt://127.0.0.1:${await freePort()}\n`);
  fs.writeFileSync(path.join(data.dir, 'demo-operator.password'), 'left-behind\n');
  const { exitCode, screen } = await runScript(t, data.dir);
  assert.equal(exitCode, 1);
  assert.match(screen, /no demo is running/);
  assert.match(screen, /npm start/);
  assert.doesNotMatch(screen, /waiting for the broker/);
});

test('npm run operator with no demo data at all: says no demo is running and how to start it, exit 1', async (t) => {
  const data = tempDir('atm-demo-op-');
  t.after(() => data.remove());
  const { exitCode, screen } = await runScript(t, data.dir);
  assert.equal(exitCode, 1);
  assert.match(screen, /no demo is running/);
  assert.match(screen, /npm start/);
});

test('npm run operator with a demo running: the dashboard opens on its broker as demo-operator, and q quits with 0', async (t) => {
  const bank = await startTestBank({ mqtt: { mode: 'embedded', port: 0 } });
  t.after(() => bank.cleanup());
  const password = 'demo operator secret';
  addOperator(bank.dataDir, 'demo-operator', await bcrypt.hash(password, 4));
  fs.writeFileSync(path.join(bank.dataDir, 'demo-mqtt.url'), `mqtt://127.0.0.1:${bank.host.telemetry.mqttPort}\n`);
  fs.writeFileSync(path.join(bank.dataDir, 'demo-operator.password'), `${password}\n`);
  const pty = spawnPty(process.execPath, [script], { env: cleanEnv({ ATM_DATA: bank.dataDir }) });
  t.after(() => pty.kill());
  await pty.waitFor(`127.0.0.1:${bank.host.telemetry.mqttPort} online`, 10_000);
  pty.type('q');
  assert.equal((await pty.exited).exitCode, 0);
});
