// A real full disk under a real bank (issue 15, item 4): the data dir on a small tmpfs, filled to
// the last byte while kiosks deposit and withdraw. Money-moving requests must be refused with a
// clear answer (INTERNAL: "nothing was done"), nothing acknowledged may be lost, and service must
// come back by itself when space does; after a restart the audit log verifies and matches the
// ledger. Needs mount(2) (root with CAP_SYS_ADMIN); says why it skipped otherwise.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { BankConnection } from '../../protocol/index.js';
import { startBankProcess, type BankProcess } from '../helpers/cli.js';
import { checkAudit, checkLedger, readLedger } from './ledger-check.js';
import type { TxnKnowledge } from './workload.js';

export interface DiskFullResult {
  skipped: string | null;
  /** Answers while the disk was full, by outcome (ok / decline code). */
  whileFull: Record<string, number>;
  /** Answers once space was freed again, by outcome. */
  afterFreed: Record<string, number>;
  acknowledged: number;
  violations: string[];
}

const TMPFS_BYTES = 8 * 1024 * 1024;
const PASSWORD = 'disk full password';
const REQUESTS_WHILE_FULL = 200;
const REQUESTS_AFTER = 20;

export async function runDiskFull(): Promise<DiskFullResult> {
  const result: DiskFullResult = { skipped: null, whileFull: {}, afterFreed: {}, acknowledged: 0, violations: [] };
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-torture-diskfull-'));
  const mountPoint = path.join(root, 'mnt');
  fs.mkdirSync(mountPoint);
  const mounted = spawnSync('mount', ['-t', 'tmpfs', '-o', `size=${TMPFS_BYTES}`, 'tmpfs', mountPoint], {
    encoding: 'utf8',
  });
  if (mounted.status !== 0) {
    fs.rmSync(root, { recursive: true, force: true });
    result.skipped = `cannot mount a tmpfs: ${mounted.stderr.trim() || 'mount failed'}`;
    return result;
  }
  let bank: BankProcess | null = null;
  try {
    const dataDir = path.join(mountPoint, 'bank');
    initKeystore(dataDir);
    const psk = Buffer.from(addKiosk(dataDir, 'diskfull-1', path.join(root, 'kiosk.key')).psk, 'hex');
    bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt']);
    const connection = await BankConnection.connect({ host: '127.0.0.1', port: bank.port, kioskId: 'diskfull-1', psk });
    await connection.request({ op: 'register', username: 'diskfull', password: PASSWORD });
    await connection.request({ op: 'login', username: 'diskfull', password: PASSWORD });
    const knowledge = new Map<string, TxnKnowledge>();
    let serial = 0;
    /** Alternates deposits and withdrawals (hold + post), recording what the kiosk was told. */
    const transact = async (tally: Record<string, number>): Promise<void> => {
      const txnId = `diskfull-${String(serial++).padStart(6, '0')}`;
      const count = (outcome: string): void => void (tally[outcome] = (tally[outcome] ?? 0) + 1);
      if (serial % 3 !== 0) {
        const txn: TxnKnowledge = { txnId, kind: 'deposit', username: 'diskfull', amountCents: 100, first: 'inflight' };
        knowledge.set(txnId, txn);
        const answer = await connection.request({ op: 'deposit', txnId, amountCents: 100 });
        txn.first = answer.ok ? 'ok' : 'declined';
        count(answer.ok ? 'ok' : answer.code);
        return;
      }
      const txn: TxnKnowledge = { txnId, kind: 'withdraw', username: 'diskfull', amountCents: 50, first: 'inflight' };
      knowledge.set(txnId, txn);
      const held = await connection.request({ op: 'withdraw.hold', txnId, amountCents: 50 });
      txn.first = held.ok ? 'ok' : 'declined';
      if (!held.ok) {
        txn.firstCode = held.code;
        count(held.code);
        return;
      }
      txn.settle = { op: 'post', dispensedCents: 50, outcome: 'inflight' };
      const posted = await connection.request({ op: 'withdraw.post', txnId, dispensedCents: 50 });
      txn.settle.outcome = posted.ok ? 'ok' : 'declined';
      if (!posted.ok) txn.settle.code = posted.code;
      count(posted.ok ? 'ok' : `post ${posted.code}`);
    };
    for (let i = 0; i < 30; i++) await transact({});
    // Fill the file system to its last byte.
    const filler = path.join(mountPoint, 'filler');
    const fd = fs.openSync(filler, 'w');
    const chunk = Buffer.alloc(64 * 1024);
    try {
      for (;;) fs.writeSync(fd, chunk);
    } catch {
      // ENOSPC: full
    }
    fs.closeSync(fd);
    for (let i = 0; i < REQUESTS_WHILE_FULL; i++) await transact(result.whileFull);
    fs.rmSync(filler);
    for (let i = 0; i < REQUESTS_AFTER; i++) await transact(result.afterFreed);
    // A hold whose post failed is still open: the kiosk voids it, as its journal recovery would.
    for (const txn of knowledge.values()) {
      if (txn.settle?.outcome !== 'declined') continue;
      const voided = await connection.request({
        op: 'withdraw.void',
        txnId: txn.txnId,
        reason: 'post failed: disk full',
      });
      txn.settle = { op: 'void', dispensedCents: 0, outcome: voided.ok ? 'ok' : 'declined' };
    }
    connection.close();
    await bank.stop();
    const usernames = ['diskfull'];
    const snapshot = await readLedger(dataDir, usernames, knowledge.keys());
    result.violations.push(...checkLedger(snapshot, knowledge, usernames));
    bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt']);
    result.violations.push(...checkAudit(dataDir, snapshot));
    result.acknowledged = [...knowledge.values()].filter((txn) => txn.first === 'ok').length;
    const refusedCodes = Object.keys(result.whileFull).filter((outcome) => outcome !== 'ok');
    if (refusedCodes.length === 0) result.violations.push('nothing was refused while the disk was full');
    for (const code of refusedCodes)
      if (!code.endsWith('INTERNAL')) result.violations.push(`while full, refused with ${code} instead of INTERNAL`);
    if (result.afterFreed.ok !== REQUESTS_AFTER)
      result.violations.push(`after space came back: ${JSON.stringify(result.afterFreed)}`);
    return result;
  } finally {
    await bank?.kill();
    spawnSync('umount', ['-l', mountPoint]);
    fs.rmSync(root, { recursive: true, force: true });
  }
}
