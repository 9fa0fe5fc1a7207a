// `npm run operator`: opens the operator dashboard on the broker of a running `npm start`
// demo, with the demo operator's generated password (read from the demo's data folder).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
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
const url = read('demo-mqtt.url');
const password = read('demo-operator.password');
if (url === '' || password === '') {
  process.stderr.write(`atm: no running demo found in ${dataDir}: start it first with \`npm start\` (in another terminal)\n`);
  process.exit(1);
}
const child = spawn(process.execPath, [path.join(root, 'dist', 'bin', 'atm.js'), 'operator', '--mqtt', url, '--user', 'demo-operator', ...process.argv.slice(2)], {
  stdio: 'inherit',
  env: { ...process.env, ATM_PASSWORD: password },
});
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 1 : 128)));
