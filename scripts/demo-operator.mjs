// `npm run operator`: opens the operator dashboard on the broker of a running `npm start`
// demo, with the demo operator's generated password (read from the demo's data folder).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)));
const dataDir = path.resolve(process.env.ATM_DATA ?? path.join(root, '.atm-data'));
const read = (name) => {
  try {
    return fs.readFileSync(path.join(dataDir, name), 'utf8').trim();
  } catch {
    return '';
  }
};
const START_HINT = 'start it first with `npm start` (in another terminal), then run `npm run operator` again';
/** How long the demo's broker has to accept a connection before we say no demo is running. */
const PROBE_TIMEOUT_MS = 2_000;

/** Resolves null when something accepts a TCP connection at the URL's host and port, else why not. */
function probe(brokerUrl) {
  return new Promise((resolve) => {
    const socket = net.connect({ host: brokerUrl.hostname, port: Number(brokerUrl.port || 1883) });
    const done = (reason) => {
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(PROBE_TIMEOUT_MS, () => done('no answer'));
    socket.once('connect', () => done(null));
    socket.once('error', (error) => done(error.code ?? error.message));
  });
}

const url = read('demo-mqtt.url');
const password = read('demo-operator.password');
if (url === '' || password === '') {
  process.stderr.write(`atm: no demo is running (no demo data in ${dataDir}): ${START_HINT}\n`);
  process.exit(1);
}
// The demo's files outlive it: a stopped demo leaves its broker's URL behind, and the dashboard
// would wait for that broker for ever. Nothing listening there means no demo is running.
let brokerUrl;
try {
  brokerUrl = new URL(url);
} catch {
  process.stderr.write(`atm: ${path.join(dataDir, 'demo-mqtt.url')} does not hold a broker URL: ${START_HINT}\n`);
  process.exit(1);
}
const unreachable = await probe(brokerUrl);
if (unreachable !== null) {
  process.stderr.write(`atm: no demo is running (nothing answers at ${url}: ${unreachable}): ${START_HINT}\n`);
  process.exit(1);
}
const child = spawn(
  process.execPath,
  [
    path.join(root, 'dist', 'bin', 'atm.js'),
    'operator',
    '--mqtt',
    url,
    '--user',
    'demo-operator',
    ...process.argv.slice(2),
  ],
  {
    stdio: 'inherit',
    env: { ...process.env, ATM_PASSWORD: password },
  },
);
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
