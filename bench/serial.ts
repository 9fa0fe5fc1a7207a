// Serial path benchmark (part of `npm run bench`): key events from our firmware simulator
// through a real socat pseudo-terminal pair and the real serialport binding, into the kiosk's
// controller: the time from the device sending KEY to the kiosk's screen state changing (what
// the UI renders), and the throughput of a sustained burst. Bounded: 400 keys, 20 s at most.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startFirmwareSim } from '../firmware-sim/index.js';
import { createSerialDevices } from '../hardware/serial.js';
import { KioskController, KioskJournal, KioskLink, deriveJournalKey } from '../kiosk/index.js';
import { addKiosk, initKeystore, silentObserver, startBankHost } from '../bank/index.js';
import { BankConnection } from '../protocol/index.js';
import type { KeyName } from '../hardware/index.js';

const KEYS = 400;

function percentile(sorted: number[], fraction: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(fraction * sorted.length))] ?? 0;
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-serial-bench-'));
  const dataDir = path.join(root, 'bank');
  initKeystore(dataDir);
  const psk = Buffer.from(addKiosk(dataDir, 'kiosk-01', path.join(root, 'k.key')).psk, 'hex');
  const bank = await startBankHost({ dataDir, port: 0, bcryptCost: 4, observer: silentObserver });
  const sim = await startFirmwareSim();
  const devices = await createSerialDevices(sim.hostPath ?? '', {});
  const link = new KioskLink({ host: '127.0.0.1', port: bank.port, kioskId: 'kiosk-01', psk });
  const controller = new KioskController({
    kioskId: 'kiosk-01',
    link,
    devices,
    journal: KioskJournal.open({ dir: path.join(root, 'kiosk'), kioskId: 'kiosk-01', key: deriveJournalKey(psk) }),
    receiptsFile: path.join(root, 'r.txt'),
    tickMs: 0,
  });
  try {
    const setup = await BankConnection.connect({ host: '127.0.0.1', port: bank.port, kioskId: 'kiosk-01', psk });
    await setup.request({ op: 'register', username: 'bench', password: 'bench-password-1' });
    setup.close();
    await controller.start();
    const until = async (check: () => boolean, what: string): Promise<void> => {
      const deadline = performance.now() + 20_000;
      while (!check()) {
        if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
    };
    await until(
      () => controller.state.screen.name === 'welcome' && devices.keypad.state() === 'online',
      'welcome and keypad online',
    );
    // Log in from the keyboard, open the deposit screen, then type digits/clear from the device.
    controller.pressKey('A');
    'bench'.split('').forEach((ch) => controller.input({ type: 'char', ch, atMs: Date.now() }));
    controller.pressKey('enter');
    'bench-password-1'.split('').forEach((ch) => controller.input({ type: 'char', ch, atMs: Date.now() }));
    controller.pressKey('enter');
    await until(() => controller.state.screen.name === 'menu', 'menu');
    controller.pressKey('B');
    // The screen-state change is observed by the listener itself (no polling in the measure).
    let changed: (() => void) | null = null;
    controller.onChange(() => changed?.());
    const latencies: number[] = [];
    const sequence: KeyName[] = ['1', '2', '3', '4', '5', '6', 'clear'];
    const burstStart = performance.now();
    for (let index = 0; index < KEYS; index++) {
      const sent = performance.now();
      const seen = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`key ${index} never reached the screen`)), 5_000);
        changed = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      sim.device.press(sequence[index % sequence.length] as KeyName);
      await seen;
      changed = null;
      latencies.push(performance.now() - sent);
    }
    const burstMs = performance.now() - burstStart;
    const sorted = [...latencies].sort((a, b) => a - b);
    process.stdout.write(
      `${JSON.stringify(
        {
          path: 'firmware-sim KEY line → socat pty → serialport (native) → SerialKeypad → KioskController state change',
          keys: KEYS,
          latencyMs: {
            p50: Number(percentile(sorted, 0.5).toFixed(2)),
            p99: Number(percentile(sorted, 0.99).toFixed(2)),
            max: Number((sorted.at(-1) ?? 0).toFixed(2)),
          },
          keysPerSecondSequential: Math.round(KEYS / (burstMs / 1000)),
          lineStats: devices.stats(),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await controller.stop().catch(() => undefined);
    await sim.close();
    await bank.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`serial bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exitCode = 1;
});
