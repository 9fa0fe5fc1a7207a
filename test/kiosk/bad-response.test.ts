// [ATM-4.4] The kiosk never shows a balance the bank did not send. A bank with a bug (a real
// SecureChannel on loopback, answering like the bank but approving `balance` without
// balanceCents) talks to the real KioskLink and KioskController with the sim devices; the
// customer asks for the balance and is told the transaction could not be completed, not $0.00.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createSimDevices } from '../../hardware/sim.js';
import { KioskController } from '../../kiosk/controller.js';
import type { KioskState } from '../../kiosk/flow.js';
import { KioskJournal, deriveJournalKey } from '../../kiosk/journal.js';
import { KioskLink } from '../../kiosk/link.js';
import { view } from '../../kiosk/view.js';
import { SecureChannel } from '../../protocol/channel.js';
import { FakeClock } from '../helpers/clock.js';
import { TEST_PASSWORD, makeTempDir } from '../helpers/bank.js';

const KIOSK_ID = 'kiosk-badresp';
const WAIT_MS = 5_000;

/** Answers every request as the bank would, except that a balance approval has no balance. */
function answer(request: { id: number; op: string; username?: string }): Record<string, unknown> {
  switch (request.op) {
    case 'ping':
      return { id: request.id, ok: true, sessionLeftMs: 600_000 };
    case 'login':
      return { id: request.id, ok: true, username: request.username };
    case 'balance':
      return { id: request.id, ok: true }; // the bug under test: balanceCents left out
    default:
      return { id: request.id, ok: true };
  }
}

async function startBuggyBank(psk: Buffer): Promise<{ port: number; balanceAsked: () => number; close: () => void }> {
  let balanceRequests = 0;
  const server = net.createServer((stream) => {
    const channel: SecureChannel = SecureChannel.accept(
      {
        stream,
        nowMs: Date.now,
        events: {
          onMessage: (plaintext) => {
            const request = JSON.parse(plaintext.toString('utf8')) as { id: number; op: string; username?: string };
            if (request.op === 'balance') balanceRequests += 1;
            channel.send(Buffer.from(JSON.stringify(answer(request))));
          },
        },
      },
      {
        lookupPsk: (kioskId) => (kioskId === KIOSK_ID ? psk : null),
        dummyPsk: crypto.randomBytes(32),
        admitHello: () => null,
      },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    balanceAsked: () => balanceRequests,
    close: () => server.close(),
  };
}

test('a balance approval without balanceCents is shown as an error, never as 0.00', async (t) => {
  const psk = crypto.randomBytes(32);
  const bank = await startBuggyBank(psk);
  const dir = makeTempDir('atm-kiosk-badresp-');
  const clock = new FakeClock();
  const devices = createSimDevices();
  const journal = KioskJournal.open({ dir, kioskId: KIOSK_ID, key: deriveJournalKey(psk) });
  const link = new KioskLink({ host: '127.0.0.1', port: bank.port, kioskId: KIOSK_ID, psk, requestTimeoutMs: 5_000 });
  const controller = new KioskController({
    kioskId: KIOSK_ID,
    link,
    devices,
    journal,
    receiptsFile: path.join(dir, 'receipts.txt'),
    nowMs: clock.nowMs,
    tickMs: 0,
    newTxnId: () => crypto.randomUUID(),
  });
  t.after(async () => {
    await controller.stop();
    bank.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  const until = (predicate: (state: KioskState) => boolean, what: string): Promise<KioskState> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), WAIT_MS);
      const check = (): void => {
        if (!predicate(controller.state)) return;
        clearTimeout(timer);
        resolve(controller.state);
      };
      controller.onChange(check);
      check();
    });
  const press = (key: 'A' | 'enter'): void => {
    clock.advance(100);
    assert.ok(devices.keypad.press(key), `the keypad took ${key}`);
  };
  const type = (text: string): void => {
    for (const ch of text) {
      clock.advance(10);
      controller.input({ type: 'char', ch, atMs: clock.ms });
    }
  };
  await controller.start();
  await until((state) => state.screen.name === 'welcome' && state.link === 'online', 'the welcome screen, online');
  press('A');
  type('austin');
  press('enter');
  type(TEST_PASSWORD);
  press('enter');
  await until((state) => state.screen.name === 'menu', 'the menu');
  // Every screen from here on is recorded: not one of them may show a balance.
  const seen: string[] = [];
  const textOf = (state: KioskState): string => {
    const shown = view(state);
    return [shown.title, ...shown.body, state.message ?? ''].join('\n');
  };
  controller.onChange(() => seen.push(textOf(controller.state)));
  press('A');
  const after = await until(
    (state) => bank.balanceAsked() === 1 && state.screen.name !== 'menu',
    'the balance request to be answered',
  );
  const text = textOf(after);
  // The bad response also closes the session (BAD_MESSAGE), so the kiosk may show either the
  // failed transaction or out of service while it reconnects; both are errors, neither a balance.
  assert.match(text, /could not be completed|out of service/i, `the customer is told it failed: ${text}`);
  for (const screen of seen) assert.doesNotMatch(screen, /balance: |0\.00/i, `a balance was shown: ${screen}`);
});
