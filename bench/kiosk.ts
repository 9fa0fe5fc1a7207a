// Kiosk benchmark (part of `npm run bench`): start-up to the first screen, and memory after a
// 100-transaction session, of the real `atm kiosk` process in a real pseudo-terminal against a
// real bank host. Bounded: 5 start-ups, 100 transactions, each step with a deadline.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore, silentObserver, startBankHost } from '../bank/index.js';
import { BankConnection } from '../protocol/index.js';
import { atmBin } from '../test/helpers/paths.js';
import { spawnPty, type PtyProcess } from '../test/helpers/pty.js';

const STARTS = 5;
const TRANSACTIONS = 100;
const PASSWORD = 'bench-password-1';

function rssMiB(pid: number): number {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  return Math.round(kib / 1024);
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-kiosk-bench-'));
  const dataDir = path.join(root, 'bank');
  initKeystore(dataDir);
  const keyFile = path.join(root, 'kiosk-01.key');
  const psk = Buffer.from(addKiosk(dataDir, 'kiosk-01', keyFile).psk, 'hex');
  const bank = await startBankHost({ dataDir, port: 0, bcryptCost: 10, observer: silentObserver });
  const kiosks: PtyProcess[] = [];
  const spawn = (): PtyProcess => {
    const kiosk = spawnPty(
      process.execPath,
      [
        atmBin,
        'kiosk',
        '--bank',
        `127.0.0.1:${bank.port}`,
        '--key',
        keyFile,
        '--data',
        path.join(root, 'kiosk'),
        '--dispense-delay-ms',
        '0',
      ],
      { cols: 80, rows: 24 },
    );
    kiosks.push(kiosk);
    return kiosk;
  };
  try {
    const setup = await BankConnection.connect({ host: '127.0.0.1', port: bank.port, kioskId: 'kiosk-01', psk });
    await setup.request({ op: 'register', username: 'bench', password: PASSWORD });
    setup.close();

    const startMs: number[] = [];
    for (let run = 0; run < STARTS; run++) {
      const started = performance.now();
      const kiosk = spawn();
      await kiosk.waitFor('Welcome to Secure ATM', 10_000);
      startMs.push(performance.now() - started);
      await kiosk.kill();
    }

    const kiosk = spawn();
    await kiosk.waitFor('Welcome to Secure ATM', 10_000);
    const rssStart = rssMiB(kiosk.pid);
    kiosk.type('a');
    await kiosk.waitFor('Username:');
    kiosk.type('bench');
    kiosk.press('enter');
    await kiosk.waitFor('Password:');
    kiosk.type(PASSWORD);
    kiosk.press('enter');
    await kiosk.waitFor('What would you like to do?');
    const started = performance.now();
    for (let index = 0; index < TRANSACTIONS; index++) {
      const kind = index % 3;
      if (kind === 0) {
        kiosk.type('b');
        await kiosk.waitFor('Enter the amount to deposit');
        kiosk.type('3000');
        kiosk.press('enter');
        await kiosk.waitFor('Deposit accepted');
      } else if (kind === 1) {
        kiosk.type('c');
        await kiosk.waitFor('Fast cash');
        kiosk.type('a');
        await kiosk.waitFor('Cash dispensed');
      } else {
        kiosk.type('a');
        await kiosk.waitFor('Available balance');
      }
      kiosk.type('b');
      await kiosk.waitFor('What would you like to do?');
    }
    const sessionMs = performance.now() - started;
    const rssEnd = rssMiB(kiosk.pid);
    const sorted = [...startMs].sort((a, b) => a - b);
    const report = {
      machine: `${os.cpus().length} cores, ${Math.round(os.totalmem() / 2 ** 30)} GiB, node ${process.version}`,
      startupToFirstScreenMs: {
        median: Math.round(sorted[Math.floor(sorted.length / 2)] ?? 0),
        max: Math.round(sorted.at(-1) ?? 0),
        runs: sorted.map(Math.round),
      },
      transactions: TRANSACTIONS,
      sessionSeconds: Number((sessionMs / 1000).toFixed(2)),
      msPerTransactionWithScreens: Math.round(sessionMs / TRANSACTIONS),
      kioskRssMiB: { afterStart: rssStart, after100Transactions: rssEnd },
      targets: { startupMs: 1500, rssMiB: 120 },
    };
    process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  } finally {
    for (const kiosk of kiosks) await kiosk.kill().catch(() => undefined);
    await bank.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`kiosk bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
