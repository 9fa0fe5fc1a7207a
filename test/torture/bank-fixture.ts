// The torture parts' common start: a temp dir with a keystore, enough kiosk keys for the
// sessions (the bank allows 4 sessions per kiosk, bank/server-limits.ts; one more for recovery),
// a real `atm bank` process, and the accounts registered. The accounts are made by a bank without
// test faults, stopped cleanly, so a crash point or planted bug never hits the set-up; the bank
// the caller gets runs with `env`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection } from '../../protocol/index.js';
import { startBankProcess, type BankProcess } from '../helpers/cli.js';
import type { WorkloadOptions } from './workload.js';

const SESSIONS_PER_KIOSK = 4;
const BANK_ARGS = ['--bcrypt-cost', '4', '--no-mqtt'];

export interface TortureBankOptions {
  /** Names the temp dir, the kiosks and the accounts. */
  name: string;
  sessions: number;
  accounts: number;
  password: string;
  /** The environment of every bank after set-up (ATM_TEST_FAULTS). */
  env?: Record<string, string>;
}

export interface TortureBank {
  readonly root: string;
  readonly dataDir: string;
  readonly usernames: readonly string[];
  /** The bank now running (replaced by restart()). */
  bank: BankProcess;
  /** Starts a bank on the same data dir (after the last one died) and makes it the current one. */
  restart(): Promise<BankProcess>;
  /** Options for a Workload against the current bank. */
  workload(
    options: Pick<WorkloadOptions, 'sessions' | 'requestsPerSession' | 'seed' | 'txnPrefix'> & Partial<WorkloadOptions>,
  ): WorkloadOptions;
  /** Kills the bank and removes the temp dir. */
  remove(): Promise<void>;
}

export async function startTortureBank(options: TortureBankOptions): Promise<TortureBank> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), `atm-torture-${options.name}-`));
  const dataDir = path.join(root, 'bank');
  initKeystore(dataDir);
  const kioskIds = Array.from(
    { length: Math.ceil(options.sessions / SESSIONS_PER_KIOSK) + 1 },
    (_, index) => `${options.name}-${index + 1}`,
  );
  const psks = new Map<string, Buffer>();
  for (const kioskId of kioskIds)
    psks.set(kioskId, Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex'));
  const psk = (kioskId: string): Buffer => psks.get(kioskId) as Buffer;
  const usernames = Array.from(
    { length: options.accounts },
    (_, index) => `${options.name}${String(index).padStart(3, '0')}`,
  );
  let bank = await startBankProcess(dataDir, BANK_ARGS);
  try {
    const kioskId = kioskIds[0] as string;
    const setup = await BankConnection.connect({ host: '127.0.0.1', port: bank.port, kioskId, psk: psk(kioskId) });
    for (const username of usernames) {
      const registered = await setup.request({ op: 'register', username, password: options.password });
      if (!registered.ok) throw new Error(`register ${username}: ${registered.code}`);
    }
    setup.close();
    await bank.stop();
    bank = await startBankProcess(dataDir, BANK_ARGS, { env: options.env ?? {} });
  } catch (error) {
    await bank.kill();
    fs.rmSync(root, { recursive: true, force: true });
    throw error;
  }
  const fixture: TortureBank = {
    root,
    dataDir,
    usernames,
    bank,
    restart: async () => {
      fixture.bank = await startBankProcess(dataDir, BANK_ARGS, { env: options.env ?? {} });
      return fixture.bank;
    },
    workload: (extra) => ({
      host: '127.0.0.1',
      port: fixture.bank.port,
      kioskIds,
      psk,
      usernames,
      password: options.password,
      ...extra,
    }),
    remove: async () => {
      await fixture.bank.kill();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return fixture;
}
