// Speech guidance (issue 17 item 6): a whole customer session on the kiosk controller against a
// real bank, spoken into the recording Speaker (the fake at the hardware edge). The spoken stream
// holds every screen's prompt and every amount, in words; a password is only ever tones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { RecordingSpeaker } from '../../hardware/index.js';
import { createSimDevices } from '../../hardware/sim.js';
import type { KeyName } from '../../hardware/types.js';
import type { KioskState } from '../../kiosk/flow.js';
import { speechFor, spokenPrompt, spokenText } from '../../kiosk/speech-guide.js';
import { initialState } from '../../kiosk/flow.js';
import { FakeClock } from '../helpers/clock.js';
import { kioskOnTestBank } from '../helpers/kiosk.js';
import { TEST_PASSWORD, makeTempDir, startTestBank } from '../helpers/bank.js';
import { eventually } from '../helpers/wait.js';

const USER = 'listener';

test('amounts and keys read aloud unambiguously', () => {
  assert.equal(spokenText('Deposit 150.00?'), 'Deposit 150 dollars?');
  assert.equal(spokenText('New balance: 0.05'), 'New balance: 5 cents');
  assert.equal(spokenText('  [A] Balance   [D] Log out'), 'A Balance D Log out');
  assert.equal(spokenText('Amount: 1234.56'), 'Amount: 1234 dollars and 56 cents');
});

test('every password field, the password change ones too, is a tone per character and never read back', () => {
  const base = { ...initialState('kiosk-01', 0), link: 'online' as const, username: 'alice' };
  for (const screen of [
    { name: 'loginPassword', username: 'alice', text: '' },
    { name: 'signupPassword', username: 'alice', text: '' },
    { name: 'signupConfirm', username: 'alice', password: 'secret-one', text: '' },
    { name: 'passwordOld', text: '' },
    { name: 'passwordNew', oldPassword: 'secret-one', text: '' },
    { name: 'passwordRepeat', oldPassword: 'secret-one', newPassword: 'secret-two', text: '' },
  ] as const) {
    const before = { ...base, screen };
    const after = { ...base, screen: { ...screen, text: 'q' } };
    assert.deepEqual(speechFor(before, after), [{ kind: 'tone' }], screen.name);
    assert.doesNotMatch(spokenPrompt(after), /secret|\bq\b/, screen.name);
  }
});

test('a whole session spoken: every prompt and amount, the password never, the next key interrupts, F10 repeats', async (t) => {
  const bank = await startTestBank();
  t.after(() => bank.cleanup());
  (await bank.loginAs(USER)).close();
  const dir = makeTempDir('atm-speech-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const clock = new FakeClock();
  const devices = createSimDevices({ acceptor: { stateFile: path.join(dir, 'cash-in.json') } });
  const acceptor = devices.acceptor ?? assert.fail();
  const speaker = new RecordingSpeaker();
  let txns = 0;
  const { controller } = kioskOnTestBank(bank, {
    devices,
    dir,
    speaker,
    nowMs: clock.nowMs,
    newTxnId: () => `speech-txn-${String(++txns).padStart(4, '0')}`,
  });
  t.after(() => controller.stop());
  const until = (predicate: (state: KioskState) => boolean, what: string): Promise<KioskState> =>
    eventually(() => (predicate(controller.state) ? controller.state : null), what, 5_000, 5);
  const press = (...keys: KeyName[]): void => {
    for (const key of keys) {
      clock.advance(100);
      controller.pressKey(key, 'keypad');
    }
  };
  const type = (text: string): void => {
    for (const ch of text) {
      clock.advance(10);
      controller.input({ type: 'char', ch, atMs: clock.ms });
    }
  };
  await controller.start();
  await until((state) => state.screen.name === 'welcome', 'welcome');
  press('A');
  type(USER);
  press('enter');
  type(TEST_PASSWORD);
  press('enter');
  await until((state) => state.screen.name === 'menu', 'the menu');
  press('B');
  await until((state) => state.devices.acceptor === 'deviceBusy', 'the slot');
  acceptor.insert(5000);
  acceptor.insert(2000);
  await until((state) => state.escrow.totalCents === 7000, 'the notes counted');
  press('enter', 'enter');
  await until((state) => state.screen.name === 'result', 'the deposit');
  press('B', 'C');
  press('A', 'enter'); // fast cash 20.00
  await until((state) => state.screen.name === 'result' && state.screen.title.includes('Cash'), 'the withdrawal');
  press('B', 'A');
  await until((state) => state.screen.name === 'result' && state.screen.title === 'Balance', 'the balance');
  controller.speech('repeat');
  controller.speech('louder');
  press('D');
  await until((state) => state.screen.name === 'welcome', 'goodbye');

  const spoken = speaker.spoken().join('\n');
  for (const prompt of [
    'Welcome to Secure ATM',
    'Type your username',
    'Password',
    'What would you like to do?',
    'Insert your notes into the slot',
    'Counted 70 dollars',
    'Deposit 70 dollars?',
    'Deposit accepted',
    'New balance: 70 dollars',
    'Withdraw cash',
    'Withdraw 20 dollars?',
    'Cash dispensed',
    'New balance: 50 dollars',
    'Available balance: 50 dollars',
    'Thank you. Goodbye.',
  ])
    assert.ok(spoken.includes(prompt), `spoken: ${prompt}`);
  // Every letter of the username was read back as typed; the password was only tones.
  for (const letter of USER) assert.ok(speaker.spoken().includes(letter), `the username's ${letter}`);
  const tones = speaker.events.filter((event) => event.kind === 'tone').length;
  assert.equal(tones, TEST_PASSWORD.length, 'one tone per password character');
  for (const word of TEST_PASSWORD.split(' '))
    assert.ok(!speaker.spoken().some((text) => text.includes(word)), `never a word of the password: ${word}`);
  const passwordChars = new Set(TEST_PASSWORD.replaceAll(' ', ''));
  const passwordStart = speaker.events.findIndex((event) => event.kind === 'tone');
  const passwordEnd = speaker.events.map((event) => event.kind).lastIndexOf('tone');
  assert.ok(
    !speaker.events
      .slice(passwordStart, passwordEnd + 1)
      .some((event) => event.kind === 'say' && passwordChars.has(event.text)),
    'no character spoken while the password was typed',
  );
  assert.ok(
    speaker.events.some((event) => event.kind === 'repeat'),
    'F10 said the screen again',
  );
  assert.ok(
    speaker.events.some((event) => event.kind === 'volume'),
    'the volume changed',
  );
  assert.ok(
    speaker.events.some((event) => event.kind === 'stop' || event.kind === 'interrupted'),
    'a key interrupted the speech',
  );
});
