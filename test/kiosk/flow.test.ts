// The kiosk's screen flow (kiosk/flow.ts) and what each screen shows (kiosk/view.ts), as pure
// functions: events in, state and effects out, no sockets, no timers. Time is the atMs each
// event carries, so multi-tap windows and idle timeouts are crossed exactly, not slept through.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SIM_CASSETTES_DEFAULT } from '../../hardware/cash.js';
import type { KeyName } from '../../hardware/types.js';
import {
  AMOUNT_DIGITS_MAX,
  FAST_CASH_CENTS,
  MULTITAP_MS,
  TEXT_CHARS_MAX,
  initialState,
  step,
  type Effect,
  type EffectResult,
  type KioskEvent,
  type KioskState,
  type Screen,
} from '../../kiosk/flow.js';
import { LCD_COLUMNS_MIN, fitLcd, lcdSafe, text } from '../../kiosk/lcd.js';
import { lcdLines, view } from '../../kiosk/view.js';
import { DeclineCode as DECLINE_CODES } from '../../protocol/errors.js';
import type { StatementTxn } from '../../protocol/statement.js';

const T0 = Date.UTC(2026, 10, 27, 12, 0, 0);
const GAP_MS = 100; // between two presses unless a test says otherwise: well inside MULTITAP_MS
const PASSWORD = 'correct horse';

/** One kiosk's flow with its own clock; every event goes through step() as the controller sends it. */
class Flow {
  state: KioskState;
  effects: Effect[] = [];
  nowMs = T0;
  txnIds = 0; // transaction ids handed out, as the controller's newTxnId would

  constructor(options: Parameters<typeof initialState>[2] = {}) {
    this.state = initialState('kiosk-01', this.nowMs, {
      cassettes: SIM_CASSETTES_DEFAULT.map((cassette) => ({ ...cassette })),
      ...options,
    });
  }

  send(event: KioskEvent): Effect[] {
    const next = step(this.state, event, { newTxnId: () => txnIdOf(++this.txnIds) });
    this.state = next.state;
    this.effects.push(...next.effects);
    return next.effects;
  }

  key(key: KeyName, source: 'keypad' | 'keyboard' = 'keypad', gapMs = GAP_MS): Effect[] {
    this.nowMs += gapMs;
    return this.send({ type: 'key', key, source, atMs: this.nowMs });
  }

  keys(keys: KeyName[], source: 'keypad' | 'keyboard' = 'keypad'): Effect[] {
    return keys.flatMap((key) => this.key(key, source));
  }

  /** Typed on the keyboard: the UI sends printable characters in text fields as char events. */
  type(text: string): void {
    for (const ch of text) {
      this.nowMs += 10;
      this.send({ type: 'char', ch, atMs: this.nowMs });
    }
  }

  result(result: EffectResult): Effect[] {
    return this.send({ type: 'result', result, atMs: this.nowMs });
  }

  tickAt(atMs: number): Effect[] {
    this.nowMs = atMs;
    return this.send({ type: 'tick', atMs });
  }

  get screen(): Screen {
    return this.state.screen;
  }

  /** A call, not a property, so that an assert on one screen name does not narrow the next. */
  screenName(): Screen['name'] {
    return this.state.screen.name;
  }

  /** Everything the screen shows: title, body, help line, LCD and the feedback line. */
  text(): string {
    const shown = view(this.state);
    return [shown.title, ...shown.body, shown.keys, ...lcdLines(this.state), this.state.message ?? ''].join('\n');
  }

  online(): this {
    this.send({ type: 'link', state: 'online', detail: 'connected' });
    return this;
  }

  /** Welcome → log in as alice → the bank says yes → the menu. */
  loggedIn(): this {
    this.online();
    this.key('A');
    this.type('alice');
    this.key('enter');
    this.type(PASSWORD);
    this.key('enter');
    this.result({ effect: 'login', ok: true, username: 'alice' });
    assert.equal(this.screenName(), 'menu');
    this.effects = [];
    return this;
  }

  /** From the menu to the amount screen of a deposit (B) or a withdrawal (C). */
  amount(kind: 'deposit' | 'withdraw'): this {
    this.key(kind === 'deposit' ? 'B' : 'C');
    assert.equal(this.screenName(), 'amount');
    return this;
  }
}

function txnIdOf(count: number): string {
  return `flow-txn-${String(count).padStart(4, '0')}`;
}

const digitsOf = (amount: string): KeyName[] => [...amount] as KeyName[];
const textOf = (screen: Screen): string =>
  'text' in screen ? screen.text : assert.fail(`${screen.name} has no text field`);

// ---------------------------------------------------------------------------------------------
// Start, welcome, log in

test('a new kiosk is out of service until the bank link is online, then shows the welcome screen', () => {
  const flow = new Flow();
  assert.equal(flow.screenName(), 'outOfService');
  assert.equal(view(flow.state).title, 'Temporarily out of service');
  assert.deepEqual(flow.key('A'), [], 'keys do nothing while out of service');
  assert.equal(flow.screenName(), 'outOfService');
  flow.online();
  assert.equal(flow.screenName(), 'welcome');
  assert.match(flow.text(), /\[A\] Log in/);
  assert.match(flow.text(), /\[B\] Sign up/);
});

test('welcome: A, Enter or 1 opens the log-in screen; B or 2 the sign-up screen; other keys do nothing', () => {
  for (const key of ['A', 'enter', '1'] as const) {
    const flow = new Flow().online();
    flow.key(key);
    assert.deepEqual(flow.screen, { name: 'loginUser', text: '' }, key);
    assert.equal(view(flow.state).title, 'Log in');
  }
  for (const key of ['B', '2'] as const) {
    const flow = new Flow().online();
    flow.key(key);
    assert.deepEqual(flow.screen, { name: 'signupUser', text: '' }, key);
    assert.equal(view(flow.state).title, 'Sign up');
  }
  for (const key of ['C', 'D', '5', 'clear', 'cancel', 'backspace'] as const) {
    const flow = new Flow().online();
    assert.deepEqual(flow.key(key), []);
    assert.equal(flow.screenName(), 'welcome', key);
  }
});

test('log in: username, then a password shown only as stars, then one login effect and a busy screen', () => {
  const flow = new Flow().online();
  flow.key('A');
  flow.type('alice');
  assert.match(flow.text(), /Username:\n {2}alice_/);
  flow.key('enter');
  assert.deepEqual(flow.screen, { name: 'loginPassword', username: 'alice', text: '' });
  flow.type(PASSWORD);
  const shown = flow.text();
  assert.ok(!shown.includes(PASSWORD) && !shown.includes('horse'), `the password never shows: ${shown}`);
  assert.ok(shown.includes('*'.repeat(PASSWORD.length)), 'one star per character');
  assert.deepEqual(lcdLines(flow.state), ['LOG IN', 'Password:', '*'.repeat(PASSWORD.length)]);
  assert.deepEqual(flow.key('enter'), [{ kind: 'login', username: 'alice', password: PASSWORD }]);
  assert.equal(flow.screenName(), 'busy');
  assert.ok(!flow.text().includes(PASSWORD));
  assert.deepEqual(flow.key('A'), [], 'keys do nothing while busy');
});

test('log in: Enter on an empty username asks for one; Esc goes back to welcome', () => {
  const flow = new Flow().online();
  flow.key('A');
  assert.deepEqual(flow.key('enter'), []);
  assert.equal(flow.screenName(), 'loginUser');
  assert.equal(flow.state.message, 'Enter your username');
  flow.type('bob');
  assert.equal(flow.state.message, null, 'typing clears the feedback line');
  flow.key('cancel');
  assert.equal(flow.screenName(), 'welcome');
});

test('text fields: backspace deletes one character, clear empties the field, and a field holds at most TEXT_CHARS_MAX', () => {
  const flow = new Flow().online();
  flow.key('A');
  flow.type('alicex');
  flow.key('backspace', 'keyboard');
  assert.equal(textOf(flow.screen), 'alice');
  flow.key('clear', 'keyboard');
  assert.equal(textOf(flow.screen), '');
  flow.type('x'.repeat(TEXT_CHARS_MAX + 5));
  assert.equal(textOf(flow.screen).length, TEXT_CHARS_MAX);
});

// ---------------------------------------------------------------------------------------------
// Sign up rules

function signupUser(): Flow {
  const flow = new Flow().online();
  flow.key('B');
  return flow;
}

test('sign up: a username must be 3-32 letters, digits, . _ -; otherwise the screen stays with the rule', () => {
  for (const bad of ['ab', 'a'.repeat(33), 'bad name', 'bad!', 'émile']) {
    const flow = signupUser();
    flow.type(bad);
    assert.deepEqual(flow.key('enter'), []);
    assert.equal(flow.screenName(), 'signupUser', bad);
    assert.equal(flow.state.message, 'Username: 3-32 letters, digits, . _ -');
  }
  for (const good of ['abc', 'a'.repeat(32), 'Al.ice_-9']) {
    const flow = signupUser();
    flow.type(good);
    assert.deepEqual(
      flow.key('enter'),
      [{ kind: 'checkUsername', username: good }],
      'the bank is asked before any password is typed',
    );
    assert.equal(flow.screenName(), 'busy');
    flow.result({ effect: 'checkUsername', ok: true, username: good });
    assert.deepEqual(flow.screen, { name: 'signupPassword', username: good, text: '' }, good);
  }
});

test('sign up: a taken username is said as soon as it is entered, and stays in the field to change', () => {
  const flow = signupUser();
  flow.type('alice');
  flow.key('enter');
  flow.result({ effect: 'checkUsername', ok: false, code: 'USERNAME_TAKEN', username: 'alice' });
  assert.deepEqual(flow.screen, { name: 'signupUser', text: 'alice' });
  assert.equal(flow.state.message, 'That username is taken: choose another');
  assert.equal(flow.state.messageLcd, 'Name is taken');
});

test('username fields: a typed * clears and # submits, as the hint says; in a password they are characters', () => {
  const flow = signupUser();
  flow.type('bob*');
  assert.deepEqual(flow.screen, { name: 'signupUser', text: '' }, '* clears the username field');
  flow.type('bobby#');
  assert.equal(flow.screenName(), 'busy', '# submits it');
  assert.deepEqual(flow.effects, [{ kind: 'checkUsername', username: 'bobby' }]);
  const login = loginUser();
  login.type('alice#');
  assert.equal(login.screenName(), 'loginPassword');
  login.type('pa*ss#word');
  assert.deepEqual(login.screen, { name: 'loginPassword', username: 'alice', text: 'pa*ss#word' });
  assert.match(view(login.state).keys, /Delete: clear/);
  assert.doesNotMatch(view(login.state).keys, /\*: clear/);
});

function signupPassword(): Flow {
  const flow = signupUser();
  flow.type('newbie');
  flow.key('enter');
  flow.result({ effect: 'checkUsername', ok: true, username: 'newbie' });
  return flow;
}

test('sign up: a password must be 8-72 bytes; a shorter or longer one is cleared and the rule shown', () => {
  // 'é' is two bytes in UTF-8: 37 of them are 37 characters but 74 bytes.
  for (const bad of ['1234567', 'é'.repeat(37)]) {
    const flow = signupPassword();
    flow.type(bad);
    flow.key('enter');
    assert.deepEqual(flow.screen, { name: 'signupPassword', username: 'newbie', text: '' }, bad);
    assert.equal(flow.state.message, 'Password: 8 to 72 characters');
  }
  for (const good of ['12345678', 'p'.repeat(72), 'é'.repeat(36)]) {
    const flow = signupPassword();
    flow.type(good);
    flow.key('enter');
    assert.deepEqual(flow.screen, { name: 'signupConfirm', username: 'newbie', password: good, text: '' });
    assert.ok(!flow.text().includes(good), 'the password is not on screen');
  }
});

test('sign up: a confirmation that does not match asks for the password again; a match sends one register effect', () => {
  const flow = signupPassword();
  flow.type(PASSWORD);
  flow.key('enter');
  flow.type('correct horsE');
  assert.ok(
    flow.text().includes('*'.repeat(PASSWORD.length)) && !flow.text().includes('horsE'),
    'the confirmation is masked',
  );
  assert.deepEqual(flow.key('enter'), []);
  assert.deepEqual(flow.screen, { name: 'signupPassword', username: 'newbie', text: '' });
  assert.equal(flow.state.message, 'Passwords did not match: enter it again');
  flow.type(PASSWORD);
  flow.key('enter');
  flow.type(PASSWORD);
  assert.deepEqual(flow.key('enter'), [{ kind: 'register', username: 'newbie', password: PASSWORD }]);
  assert.equal(flow.screenName(), 'busy');
  flow.result({ effect: 'register', ok: true, username: 'newbie' });
  assert.equal(flow.screenName(), 'menu');
  assert.equal(flow.state.username, 'newbie');
  assert.equal(flow.state.message, 'Account created. Welcome!');
  assert.match(view(flow.state).title, /newbie/);
});

test('sign up refused (a name taken meanwhile) goes back to the username with plain words', () => {
  const flow = signupPassword();
  flow.type(PASSWORD);
  flow.key('enter');
  flow.type(PASSWORD);
  flow.key('enter');
  flow.result({ effect: 'register', ok: false, code: 'USERNAME_TAKEN', username: 'newbie' });
  assert.deepEqual(flow.screen, { name: 'signupUser', text: '' });
  assert.equal(flow.state.message, 'Username is taken');
});

function wrongPassword(): Flow {
  const login = loginUser();
  login.type('alice');
  login.key('enter');
  login.type('wrong password');
  login.key('enter');
  return login;
}

test('log in: a wrong password keeps the username, asks only for the password, and says how many tries are left', () => {
  const login = wrongPassword();
  login.result({ effect: 'login', ok: false, code: 'AUTH_FAILED', username: 'alice', attemptsLeft: 2 });
  assert.deepEqual(login.screen, { name: 'loginPassword', username: 'alice', text: '' });
  assert.equal(login.state.message, 'Wrong password: 2 tries left before a lock');
  assert.equal(login.state.messageLcd, 'Wrong: 2 tries left');
  assert.equal(login.state.username, null);
  login.type('again');
  login.key('enter');
  login.result({ effect: 'login', ok: false, code: 'AUTH_FAILED', username: 'alice', attemptsLeft: 1 });
  assert.equal(login.state.message, 'Wrong password: 1 try left before the account locks');
  // Esc on the password goes back to the username, kept, to correct it.
  login.key('cancel');
  assert.deepEqual(login.screen, { name: 'loginUser', text: 'alice' });
});

test('log in: the attempt that locks the account says so at once, with the time to wait', () => {
  const login = wrongPassword();
  login.result({
    effect: 'login',
    ok: false,
    code: 'ACCOUNT_LOCKED',
    username: 'alice',
    lockedUntil: new Date(login.nowMs + 15 * 60_000).toISOString(),
  });
  assert.deepEqual(login.screen, { name: 'loginUser', text: '' });
  assert.equal(login.state.message, 'Account locked — try again in 15 min');
  assert.equal(login.state.messageLcd, 'Locked 15 min');
});

test('log in: an unknown user (no tries counted) gets the plain refusal and the username again', () => {
  const login = wrongPassword();
  login.result({ effect: 'login', ok: false, code: 'AUTH_FAILED', username: 'alice' });
  assert.deepEqual(login.screen, { name: 'loginPassword', username: 'alice', text: '' });
  assert.equal(login.state.message, 'Wrong username or password');
});

// ---------------------------------------------------------------------------------------------
// Multi-tap on the keypad; keyboard digits

function loginUser(): Flow {
  const flow = new Flow().online();
  flow.key('A');
  return flow;
}

test('multi-tap: 2 then 2 within MULTITAP_MS is b; 2222 is the digit 2; 22222 wraps to a', () => {
  const cases: [string, string][] = [
    ['2', 'a'],
    ['22', 'b'],
    ['222', 'c'],
    ['2222', '2'],
    ['22222', 'a'],
    ['7777', 's'],
    ['77777', '7'],
    ['1', '1'],
    ['11', '.'],
    ['0', '0'],
    ['00', '0'],
  ];
  for (const [presses, expected] of cases) {
    const flow = loginUser();
    flow.keys(digitsOf(presses));
    assert.equal(textOf(flow.screen), expected, presses);
  }
});

test('multi-tap: the same key after the window (MULTITAP_MS) starts a new letter; exactly at the window it still cycles', () => {
  const late = loginUser();
  late.key('2');
  late.key('2', 'keypad', MULTITAP_MS + 1);
  assert.equal(textOf(late.screen), 'aa');
  late.key('2', 'keypad', MULTITAP_MS);
  assert.equal(textOf(late.screen), 'ab', 'the window counts from the last press');

  const edge = loginUser();
  edge.key('2');
  edge.key('2', 'keypad', MULTITAP_MS);
  assert.equal(textOf(edge.screen), 'b');
});

test('multi-tap: another key, backspace or clear ends the letter in progress', () => {
  const flow = loginUser();
  flow.keys(digitsOf('2233'));
  assert.equal(textOf(flow.screen), 'be');
  flow.key('backspace');
  assert.equal(textOf(flow.screen), 'b');
  flow.key('2');
  assert.equal(textOf(flow.screen), 'ba', 'after backspace a press starts a new letter');
  flow.key('clear');
  flow.key('2');
  assert.equal(textOf(flow.screen), 'a');
});

test('keyboard digits and typed digits in a text field are digits, not letters', () => {
  const flow = loginUser();
  flow.keys(digitsOf('2222'), 'keyboard');
  assert.equal(textOf(flow.screen), '2222');
  flow.type('22');
  assert.equal(textOf(flow.screen), '222222');
});

test('a keypad alone can sign up: multi-tap username, Enter (#), multi-tap password, confirm', () => {
  const flow = new Flow().online();
  flow.key('B');
  // b-o-b: 22, 666 (3 × o), 22 after the window so it is a new letter.
  flow.keys(digitsOf('22666'));
  flow.key('2', 'keypad', MULTITAP_MS + 1);
  flow.key('2');
  assert.equal(textOf(flow.screen), 'bob');
  assert.deepEqual(flow.key('enter'), [{ kind: 'checkUsername', username: 'bob' }]);
  flow.result({ effect: 'checkUsername', ok: true, username: 'bob' });
  const password: KeyName[] = digitsOf('23456789');
  flow.keys(password);
  assert.equal(textOf(flow.screen), 'adgjmptw');
  flow.key('enter');
  flow.keys(password);
  assert.deepEqual(flow.key('enter'), [{ kind: 'register', username: 'bob', password: 'adgjmptw' }]);
});

// ---------------------------------------------------------------------------------------------
// Amounts

test('amount entry fills from the right: 1 → 0.01, 15 → 0.15, 1500 → 15.00', () => {
  const flow = new Flow().loggedIn().amount('deposit');
  assert.match(flow.text(), /Amount: 0\.00/);
  const shown: string[] = [];
  for (const digit of digitsOf('1500')) {
    flow.key(digit);
    shown.push(lcdLines(flow.state)[1] ?? '');
  }
  assert.deepEqual(shown, ['Amount: 0.01', 'Amount: 0.15', 'Amount: 1.50', 'Amount: 15.00']);
  assert.match(view(flow.state).body.join('\n'), / {4}15\.00/);
  assert.deepEqual(flow.key('enter'), [], 'nothing moves before the confirmation');
  assert.equal(flow.screenName(), 'confirm');
  assert.match(flow.text(), /Deposit 15\.00\?/);
  assert.deepEqual(flow.key('enter'), [{ kind: 'deposit', amountCents: 1500, txnId: txnIdOf(1), notes: null }]);
  assert.equal(flow.screenName(), 'busy');
  assert.match(flow.text(), /Depositing 15\.00/);
});

test('amount entry: backspace drops the last digit, clear empties, a leading zero is ignored, at most AMOUNT_DIGITS_MAX digits', () => {
  const flow = new Flow().loggedIn().amount('deposit');
  flow.keys(digitsOf('1500'));
  flow.key('backspace');
  assert.match(flow.text(), /Amount: 1\.50/);
  flow.key('clear');
  assert.match(flow.text(), /Amount: 0\.00/);
  flow.keys(digitsOf('005'));
  assert.deepEqual(flow.screen, { name: 'amount', kind: 'deposit', digits: '5' });
  assert.match(flow.text(), /Amount: 0\.05/);
  flow.key('0');
  assert.match(flow.text(), /Amount: 0\.50/, 'a zero after the first digit counts');
  flow.key('clear');
  flow.keys(digitsOf('9'.repeat(AMOUNT_DIGITS_MAX + 3)));
  assert.equal(AMOUNT_DIGITS_MAX, 7);
  assert.match(flow.text(), /Amount: 99999\.99/);
  flow.key('enter');
  assert.deepEqual(flow.key('enter'), [{ kind: 'deposit', amountCents: 9_999_999, txnId: txnIdOf(1), notes: null }]);
});

test('amount entry: Enter with no amount asks for one; cancel goes back to the menu; A-D do nothing on a deposit', () => {
  const flow = new Flow().loggedIn().amount('deposit');
  assert.deepEqual(flow.key('enter'), []);
  assert.equal(flow.state.message, 'Enter an amount');
  assert.deepEqual(flow.keys(['A', 'B', 'C', 'D']), []);
  assert.equal(flow.screenName(), 'amount');
  flow.key('cancel');
  assert.equal(flow.screenName(), 'menu');
});

test('withdraw fast cash A-D asks to confirm 20.00, 60.00, 100.00, 200.00 with the notes, then sends one withdraw effect', () => {
  const expected = { A: 2000, B: 6000, C: 10_000, D: 20_000 } as const;
  assert.deepEqual(FAST_CASH_CENTS, expected);
  for (const key of ['A', 'B', 'C', 'D'] as const) {
    const flow = new Flow().loggedIn().amount('withdraw');
    flow.key('1'); // typed digits do not matter to a fast-cash key
    assert.deepEqual(flow.key(key), [], `${key}: no money moves on the fast-cash key itself`);
    assert.equal(flow.screenName(), 'confirm');
    assert.match(flow.text(), new RegExp(`Withdraw ${(expected[key] / 100).toFixed(2).replace('.', '\\.')}\\?`));
    assert.match(flow.text(), new RegExp(`You will receive: ${expected[key] / 2000} x 20\\.00`));
    if (key !== 'D') assert.deepEqual(flow.key(key), [], 'the same key again does not confirm'); // D means "change"
    assert.equal(flow.screenName(), 'confirm');
    assert.deepEqual(flow.key('enter'), [{ kind: 'withdraw', amountCents: expected[key], txnId: txnIdOf(1) }], key);
    assert.equal(flow.screenName(), 'busy');
  }
  assert.match(new Flow().loggedIn().amount('withdraw').text(), /A20 B60 C100 D200/);
  // Esc on the confirmation goes back to the amount, nothing sent.
  const back = new Flow().loggedIn().amount('withdraw');
  back.key('B');
  assert.deepEqual(back.key('cancel'), []);
  assert.equal(back.screenName(), 'amount');
});

test('an empty machine offers no withdrawal; fast cash offers only what the cassettes can pay', () => {
  const empty = new Flow({ cassettes: [{ denominationCents: 2000, count: 0 }] }).loggedIn();
  assert.match(empty.text(), /\[C\] Withdraw cash \(unavailable\)/);
  assert.deepEqual(empty.key('C'), []);
  assert.equal(empty.screenName(), 'menu');
  assert.equal(empty.state.message, 'Withdrawals are unavailable at this machine right now');
  // Three 20.00 notes left: 20.00 and 60.00 can be paid, 100.00 and 200.00 cannot.
  const low = new Flow({ cassettes: [{ denominationCents: 2000, count: 3 }] }).loggedIn().amount('withdraw');
  assert.match(low.text(), /\[A\] 20\.00/);
  assert.match(low.text(), /\[B\] 60\.00/);
  assert.doesNotMatch(low.text(), /\[C\]|\[D\]|100\.00|200\.00/);
  assert.deepEqual(low.key('C'), []);
  assert.equal(low.screenName(), 'amount');
  assert.equal(low.state.message, '100.00 cannot be paid at this machine now');
  low.keys(digitsOf('8000'));
  low.key('enter');
  assert.equal(low.screenName(), 'amount');
  assert.equal(low.state.message, 'This machine cannot pay 80.00 right now: try another amount');
  // The dispenser reports its cassettes after a payout: the menu follows.
  const menu = new Flow({ cassettes: [{ denominationCents: 2000, count: 1 }] }).loggedIn();
  menu.send({ type: 'cash', cassettes: [{ denominationCents: 2000, count: 0 }] });
  assert.match(menu.text(), /\(unavailable\)/);
});

test('a withdrawal that is not a multiple of the smallest note is refused with a message, no effect', () => {
  const flow = new Flow({ cassettes: [{ denominationCents: 2000, count: 100 }] }).loggedIn().amount('withdraw');
  flow.keys(digitsOf('5000'));
  assert.deepEqual(flow.key('enter'), []);
  assert.equal(flow.screenName(), 'amount');
  assert.equal(flow.state.message, 'Amounts in multiples of 20.00');
  flow.keys(digitsOf('1'));
  assert.equal(flow.state.message, null);
  // With 10.00 notes, 50.00 is fine.
  const tens = new Flow().loggedIn().amount('withdraw');
  tens.keys(digitsOf('5000'));
  tens.key('enter');
  assert.match(tens.text(), /You will receive: 2 x 20\.00 \+ 1 x 10\.00/);
  assert.deepEqual(tens.key('enter'), [{ kind: 'withdraw', amountCents: 5000, txnId: txnIdOf(1) }]);
  const odd = new Flow().loggedIn().amount('withdraw');
  odd.keys(digitsOf('5050'));
  assert.deepEqual(odd.key('enter'), []);
  assert.equal(odd.state.message, 'Amounts in multiples of 10.00');
});

// ---------------------------------------------------------------------------------------------
// Results in plain words

function resultText(
  result: EffectResult,
  from: 'deposit' | 'withdraw' | 'balance' = 'withdraw',
): { flow: Flow; text: string } {
  const flow = new Flow().loggedIn();
  if (from === 'balance') flow.key('A');
  else {
    flow.amount(from);
    if (from === 'deposit') flow.keys(digitsOf('15000'));
    else flow.key('A');
    flow.key('enter');
    flow.key('enter');
  }
  assert.equal(flow.screenName(), 'busy');
  flow.result(result);
  return { flow, text: flow.text() };
}

const RAW_CODE = /[A-Z]{3,}_[A-Z_]+/;

test('results: a deposit and a full withdrawal say what happened, and offer a receipt', () => {
  const deposit = resultText(
    { effect: 'deposit', ok: true, amountCents: 15_000, balanceCents: 15_000, txnId: 'dep-00000001', escrow: null },
    'deposit',
  );
  assert.equal(view(deposit.flow.state).title, 'Deposit accepted');
  assert.match(deposit.text, /Amount: 150\.00/);
  assert.match(deposit.text, /New balance: 150\.00/);
  assert.match(deposit.text, /\[A\] Print receipt/);
  const effects = deposit.flow.key('A');
  assert.equal(effects.length, 1);
  const receipt = effects[0];
  assert.ok(receipt?.kind === 'receipt');
  assert.match(receipt.text, /DEPOSIT\nAmount: 150\.00\nBalance: 150\.00\nRef: dep-00000001/);
  assert.match(receipt.text, /Customer al\*\*\*/, 'the receipt masks the username');
  assert.match(receipt.text, /2026-11-27 12:00:\d\d UTC/, 'the receipt is dated by the injected clock');
  assert.equal(deposit.flow.screenName(), 'receipt');

  const withdraw = resultText({
    effect: 'withdraw',
    ok: true,
    requestedCents: 6000,
    dispensedCents: 6000,
    balanceCents: 9000,
    txnId: 'wd-00000001',
  });
  assert.equal(view(withdraw.flow.state).title, 'Cash dispensed');
  assert.match(withdraw.text, /Please take your cash\./);
  assert.match(withdraw.text, /Amount: 60\.00/);
  assert.match(withdraw.text, /New balance: 90\.00/);
});

test('results: a partial dispense says "Only 60.00 of 100.00" and that only 60.00 was charged', () => {
  const { flow, text } = resultText({
    effect: 'withdraw',
    ok: true,
    requestedCents: 10_000,
    dispensedCents: 6000,
    balanceCents: 4000,
    txnId: 'wd-00000002',
  });
  assert.equal(view(flow.state).title, 'Partial withdrawal');
  assert.match(text, /Only 60\.00 of 100\.00 could be dispensed\./);
  assert.match(text, /You were charged 60\.00 only\./);
  assert.match(text, /New balance: 40\.00/);
});

test('results: every withdrawal failure has its own plain words, never a raw code', () => {
  const failures: [EffectResult, string, RegExp][] = [
    [
      {
        effect: 'withdraw',
        ok: false,
        code: 'DISPENSE_FAULT',
        requestedCents: 6000,
        dispensedCents: 0,
        balanceCents: 15_000,
      },
      'Withdrawal failed',
      /no cash was dispensed[\s\S]*Nothing was taken from your account[\s\S]*Balance: 150\.00/,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'SETTLE_PENDING', requestedCents: 6000, dispensedCents: 6000 },
      'Please take your cash',
      /Dispensed: 60\.00[\s\S]*updated with exactly this amount/,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'CANNOT_DISPENSE', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal not possible',
      /cannot dispense that amount/,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'INSUFFICIENT_FUNDS', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /Insufficient funds/,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'LIMIT_EXCEEDED', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /Amount exceeds the limit/,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'SESSION_CLOSED', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /The bank did not answer\. Please try again\./,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'REQUEST_TIMEOUT', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /The bank did not answer\. Please try again\./,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'BANK_UNREACHABLE', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /The bank did not answer\. Please try again\./,
    ],
    [
      { effect: 'withdraw', ok: false, code: 'SOMETHING_NEW', requestedCents: 6000, dispensedCents: 0 },
      'Withdrawal declined',
      /The transaction could not be completed/,
    ],
  ];
  for (const [result, title, words] of failures) {
    const { flow, text } = resultText(result);
    const code = 'code' in result ? result.code : '';
    assert.equal(view(flow.state).title, title, code);
    assert.match(text, words, code);
    assert.doesNotMatch(text, RAW_CODE, `${code}: no raw code on screen`);
    assert.doesNotMatch(text, /Print receipt/, `${code}: no receipt for a failure`);
  }
  // The DISPENSE_FAULT screen without a balance from the bank says nothing about a balance.
  const noBalance = resultText({
    effect: 'withdraw',
    ok: false,
    code: 'DISPENSE_FAULT',
    requestedCents: 6000,
    dispensedCents: 0,
  });
  assert.doesNotMatch(noBalance.text, /Balance:/);
});

test('results: deposit and balance failures, and link errors, are plain words', () => {
  const deposit = resultText({ effect: 'deposit', ok: false, code: 'SESSION_CLOSED', escrow: null }, 'deposit');
  assert.equal(view(deposit.flow.state).title, 'Deposit declined');
  assert.match(deposit.text, /The bank did not answer\. Please try again\./);
  assert.doesNotMatch(deposit.text, RAW_CODE);

  const balance = resultText({ effect: 'balance', ok: true, balanceCents: 12_345 }, 'balance');
  assert.equal(view(balance.flow.state).title, 'Balance');
  assert.match(balance.text, /Available balance: 123\.45/);

  const balanceFailed = resultText({ effect: 'balance', ok: false, code: 'REQUEST_TIMEOUT' }, 'balance');
  assert.equal(balanceFailed.flow.screenName(), 'menu');
  assert.equal(balanceFailed.flow.state.message, 'The bank did not answer. Please try again.');

  const login = loginUser();
  login.type('alice');
  login.key('enter');
  login.type(PASSWORD);
  login.key('enter');
  login.result({ effect: 'login', ok: false, code: 'BANK_UNREACHABLE' });
  assert.equal(login.state.message, 'The bank did not answer. Please try again.');
});

test('results: ACCOUNT_LOCKED with lockedUntil 14 minutes ahead says "Account locked — try again in 14 min"', () => {
  const lockedIn = (msAhead: number): string | null => {
    const flow = loginUser();
    flow.type('alice');
    flow.key('enter');
    flow.type('wrong password');
    flow.key('enter');
    flow.result({
      effect: 'login',
      ok: false,
      code: 'ACCOUNT_LOCKED',
      lockedUntil: new Date(flow.nowMs + msAhead).toISOString(),
    });
    assert.equal(flow.screenName(), 'loginUser');
    return flow.state.message;
  };
  assert.equal(lockedIn(14 * 60_000), 'Account locked — try again in 14 min');
  assert.equal(lockedIn(13 * 60_000 + 1_000), 'Account locked — try again in 14 min', 'a started minute counts');
  assert.equal(lockedIn(10_000), 'Account locked — try again in 1 min', 'never "0 min"');
  // Without a time the plain decline text.
  const flow = loginUser();
  flow.type('alice');
  flow.key('enter');
  flow.type('x'.repeat(8));
  flow.key('enter');
  flow.result({ effect: 'login', ok: false, code: 'ACCOUNT_LOCKED' });
  assert.equal(flow.state.message, 'Account locked');
});

test('result screen: B or Enter back to the menu, D or Esc logs out with a logout effect', () => {
  const toMenu = resultText({ effect: 'balance', ok: true, balanceCents: 100 }, 'balance').flow;
  toMenu.key('enter');
  assert.equal(toMenu.screenName(), 'menu');
  for (const key of ['D', 'cancel'] as const) {
    const { flow } = resultText({ effect: 'balance', ok: true, balanceCents: 100 }, 'balance');
    assert.deepEqual(flow.key(key), [{ kind: 'logout' }]);
    assert.equal(flow.screenName(), 'welcome');
    assert.equal(flow.state.username, null);
    assert.equal(flow.state.message, 'Thank you. Goodbye.');
  }
  const menu = new Flow().loggedIn();
  assert.deepEqual(menu.key('D'), [{ kind: 'logout' }]);
  assert.equal(menu.screenName(), 'welcome');
});

// ---------------------------------------------------------------------------------------------
// Idle timeouts, link and devices

test('idle: a warning at idleWarnMs, a logout effect and the welcome screen at idleLogoutMs', () => {
  const flow = new Flow({ idleWarnMs: 20_000, idleLogoutMs: 30_000 }).loggedIn();
  const lastInputMs = flow.state.lastInputMs;
  assert.deepEqual(flow.tickAt(lastInputMs + 19_999), []);
  assert.equal(flow.state.message, null, 'no warning before idleWarnMs');
  flow.tickAt(lastInputMs + 20_000);
  assert.equal(flow.screenName(), 'menu');
  assert.equal(flow.state.message, 'Are you still there? Press any key within 10 s');
  flow.tickAt(lastInputMs + 25_000);
  assert.equal(flow.state.message, 'Are you still there? Press any key within 10 s', 'the warning is given once');
  assert.deepEqual(flow.tickAt(lastInputMs + 29_999), []);
  assert.equal(flow.screenName(), 'menu');
  assert.deepEqual(flow.tickAt(lastInputMs + 30_000), [{ kind: 'logout' }]);
  assert.equal(flow.screenName(), 'welcome');
  assert.equal(flow.state.username, null);
  assert.equal(flow.state.message, 'Session ended after no activity');
  assert.deepEqual(flow.tickAt(lastInputMs + 90_000), [], 'the welcome screen never times out');
});

test('idle: a key dismisses the warning and does nothing else; the clock starts again from that key', () => {
  const flow = new Flow({ idleWarnMs: 20_000, idleLogoutMs: 30_000 }).loggedIn();
  flow.tickAt(flow.state.lastInputMs + 20_000);
  assert.ok(flow.state.idleWarned);
  assert.deepEqual(
    flow.key('A', 'keypad', 0),
    [],
    'A would ask for the balance, but here it only dismisses the warning',
  );
  assert.equal(flow.screenName(), 'menu');
  assert.equal(flow.state.message, null);
  const keyMs = flow.nowMs;
  assert.deepEqual(flow.tickAt(keyMs + 29_999), []);
  assert.equal(flow.screenName(), 'menu', 'not logged out 30 s after the last tick, only 30 s after the key');
  assert.deepEqual(flow.tickAt(keyMs + 30_000), [{ kind: 'logout' }]);
});

test('idle: a half-typed log-in goes back to welcome without a logout effect; a busy screen never times out', () => {
  const flow = loginUser();
  flow.type('ali');
  assert.deepEqual(flow.tickAt(flow.nowMs + 30_000), []);
  assert.equal(flow.screenName(), 'welcome');

  const busy = new Flow().loggedIn();
  busy.key('A');
  assert.equal(busy.screenName(), 'busy');
  assert.deepEqual(busy.tickAt(busy.nowMs + 120_000), []);
  assert.equal(busy.screenName(), 'busy');
  assert.equal(busy.state.message, null);
});

test('link offline: out of service and logged out; online again: the welcome screen', () => {
  const flow = new Flow().loggedIn();
  flow.send({ type: 'link', state: 'offline', detail: 'ECONNREFUSED 127.0.0.1:7400' });
  assert.equal(flow.screenName(), 'outOfService');
  assert.equal(flow.state.username, null);
  assert.equal(flow.state.link, 'offline');
  assert.equal(view(flow.state).title, 'Temporarily out of service');
  assert.deepEqual(flow.key('A'), []);
  assert.equal(flow.screenName(), 'outOfService');
  flow.send({ type: 'link', state: 'online', detail: 'connected' });
  assert.equal(flow.screenName(), 'welcome');
  assert.equal(flow.state.link, 'online');
  // Going online while someone is mid-way does not throw them out.
  flow.key('A');
  flow.send({ type: 'link', state: 'online', detail: 'connected' });
  assert.equal(flow.screenName(), 'loginUser');
});

test('dispenser hardwareError: the menu marks withdrawals unavailable and C says so instead of opening the amount screen', () => {
  const flow = new Flow().loggedIn();
  flow.send({ type: 'device', device: 'dispenser', state: 'hardwareError' });
  assert.match(flow.text(), /\[C\] Withdraw cash \(unavailable\)/);
  assert.deepEqual(flow.key('C'), []);
  assert.equal(flow.screenName(), 'menu');
  assert.equal(flow.state.message, 'Withdrawals are unavailable at this machine right now');
  flow.key('3');
  assert.equal(flow.screenName(), 'menu');
  flow.send({ type: 'device', device: 'dispenser', state: 'deviceBusy' });
  assert.doesNotMatch(view(flow.state).body.join('\n'), /unavailable/, 'a dispenser busy with notes is not broken');
  flow.key('C');
  assert.equal(flow.screenName(), 'amount');
});

// ---------------------------------------------------------------------------------------------
// Every screen's view

function everyScreen(): { label: string; state: KioskState }[] {
  const base = new Flow().loggedIn().state;
  const at = (label: string, screen: Screen, message: string | null = null): { label: string; state: KioskState } => ({
    label,
    state: { ...base, screen, message },
  });
  const long = 'A message far longer than twenty characters, as a decline can be';
  return [
    at('outOfService', { name: 'outOfService', reason: 'The connection to the bank was lost. Reconnecting…' }),
    at('welcome', { name: 'welcome' }, 'Session ended after no activity'),
    at('loginUser', { name: 'loginUser', text: 'alice' }, long),
    at('loginPassword', { name: 'loginPassword', username: 'alice', text: 'x'.repeat(20) }),
    at('signupUser', { name: 'signupUser', text: 'abcdefghijklmnopqrst' }),
    at('signupPassword', { name: 'signupPassword', username: 'bob', text: 'secret' }),
    at('signupConfirm', { name: 'signupConfirm', username: 'bob', password: 'secretsecret', text: 'secret' }),
    at('passwordOld', { name: 'passwordOld', text: 'x'.repeat(30) }, long),
    at('passwordNew', { name: 'passwordNew', oldPassword: 'old secret', text: 'y'.repeat(72) }),
    at('passwordRepeat', { name: 'passwordRepeat', oldPassword: 'old secret', newPassword: 'new secret', text: 'z' }),
    at('busy', { name: 'busy', message: 'Withdrawing 99999.99 from your account…', lcd: [] }),
    at('menu', { name: 'menu' }, long),
    at('amount deposit', { name: 'amount', kind: 'deposit', digits: '9999999' }),
    at('amount withdraw', { name: 'amount', kind: 'withdraw', digits: '9999999' }, long),
    at('confirm withdraw', {
      name: 'confirm',
      kind: 'withdraw',
      amountCents: 99_999_00,
      notes: [
        { denominationCents: 2000, count: 4999 },
        { denominationCents: 1000, count: 1 },
      ],
      digits: '',
    }),
    at('confirm deposit', { name: 'confirm', kind: 'deposit', amountCents: 99_999_99, notes: null, digits: '' }),
    at('result', {
      name: 'result',
      title: 'A very long result title indeed',
      lines: ['Only 60.00 of 100.00 could be dispensed.', 'line two that is long too', 'three', 'four', 'five'],
      receipt: 'R',
      lcd: [],
    }),
    at('result without receipt', { name: 'result', title: 'Withdrawal failed', lines: [], receipt: null, lcd: [] }),
    at('receipt', { name: 'receipt', body: 'SECURE ATM\nThank you' }),
  ];
}

const LCD_SIZES = [
  { rows: 4, columns: 20 },
  { rows: 2, columns: 16 },
] as const;
/** What an HD44780 (A00 ROM) shows as itself: printable ASCII but \\ (a yen sign) and ~ (an arrow). */
const HD44780_TEXT = /^[\x20-\x5b\x5d-\x7d]*$/;

test('every screen has a title, help keys where keys work, and fits a 20x4 and a 16x2 display in HD44780 characters', () => {
  const names = new Set<string>();
  for (const { label, state } of everyScreen()) {
    names.add(state.screen.name);
    const shown = view(state);
    assert.ok(shown.title.trim().length > 0, `${label}: title`);
    assert.ok(shown.body.length > 0, `${label}: body`);
    // Every line has a form for the narrowest display, so fitting never has to cut one.
    for (const line of shown.lcd) {
      const shortest = line.forms.at(-1) ?? '';
      assert.ok(
        shortest.length <= LCD_COLUMNS_MIN,
        `${label}: ${JSON.stringify(shortest)} has no form of at most ${LCD_COLUMNS_MIN} characters`,
      );
      for (const form of line.forms) assert.match(form, HD44780_TEXT, `${label}: ${JSON.stringify(form)}`);
    }
    for (const size of LCD_SIZES) {
      const lines = lcdLines(state, size);
      assert.ok(lines.length <= size.rows, `${label}: ${lines.length} LCD lines on ${size.columns}x${size.rows}`);
      for (const line of lines) {
        assert.ok(
          line.length <= size.columns,
          `${label}: LCD line ${JSON.stringify(line)} is ${line.length} > ${size.columns} characters`,
        );
        assert.match(
          line,
          HD44780_TEXT,
          `${label}: LCD line ${JSON.stringify(line)} has a character the HD44780 cannot show`,
        );
      }
    }
  }
  const all: Screen['name'][] = [
    'outOfService',
    'welcome',
    'loginUser',
    'loginPassword',
    'signupUser',
    'signupPassword',
    'signupConfirm',
    'passwordOld',
    'passwordNew',
    'passwordRepeat',
    'busy',
    'menu',
    'amount',
    'confirm',
    'result',
    'receipt',
  ];
  assert.deepEqual([...names].sort(), [...all].sort(), 'every screen is covered');
});

test('the LCD shows the feedback line in its short form, never cut: 20x4 below the screen, 16x2 in place of the heading', () => {
  const flow = loginUser();
  flow.key('enter');
  assert.deepEqual(lcdLines(flow.state), ['LOG IN', 'Username:', '', 'Enter username']);
  assert.deepEqual(lcdLines(flow.state, { rows: 2, columns: 16 }), ['', 'Enter username']);
  const menu = new Flow().loggedIn();
  menu.send({ type: 'device', device: 'dispenser', state: 'hardwareError' });
  menu.key('C');
  assert.deepEqual(lcdLines(menu.state), ['A:Balance B:Deposit', 'C:No cash D:Logout', 'No withdrawals']);
});

// View.lcd promises lines of at most 20 characters; a text field longer than that scrolls so
// the customer still sees what they type.
test('a text field longer than 20 characters still fits the LCD, showing its last 20 characters', () => {
  const flow = loginUser();
  flow.type('a'.repeat(30));
  for (const line of lcdLines(flow.state))
    assert.ok(line.length <= 20, `LCD line ${JSON.stringify(line)} is ${line.length} characters`);
  assert.ok(lcdLines(flow.state).includes('a'.repeat(20)), 'the display scrolls to the cursor');
});

// ---------------------------------------------------------------------------------------------
// Issue 12: limits in words, faults named

test('[item 6] a limit decline names the limit, its value, and what is left today', () => {
  const cases: [EffectResult, string, string | [string, string]][] = [
    [
      {
        effect: 'withdraw',
        ok: false,
        code: 'LIMIT_EXCEEDED',
        requestedCents: 120_000,
        dispensedCents: 0,
        limit: { kind: 'withdrawal', limitCents: 100_000, leftCents: 40_000 },
      },
      "Over the 1000.00 limit per withdrawal; 400.00 left of today's limit",
      ['Limit 1000.00 each', 'Max 1000.00'],
    ],
    [
      {
        effect: 'withdraw',
        ok: false,
        code: 'LIMIT_EXCEEDED',
        requestedCents: 60_000,
        dispensedCents: 0,
        limit: { kind: 'withdrawalDaily', limitCents: 200_000, leftCents: 40_000 },
      },
      'Over the daily limit of 2000.00: 400.00 left today',
      ['Left today 400.00', 'Left 400.00'],
    ],
    [
      {
        effect: 'deposit',
        ok: false,
        code: 'LIMIT_EXCEEDED',
        escrow: null,
        limit: { kind: 'deposit', limitCents: 1_000_000 },
      },
      'Over the 10000.00 limit per deposit',
      ['Limit 10000.00 each', 'Max 10000.00'],
    ],
  ];
  for (const [result, words, lcd] of cases) {
    const { flow, text } = resultText(result, result.effect === 'deposit' ? 'deposit' : 'withdraw');
    assert.match(text, new RegExp(words.replaceAll('.', '\\.')));
    LCD_SIZES.forEach((size, index) => {
      const wanted = typeof lcd === 'string' ? lcd : lcd[index];
      assert.ok(
        lcdLines(flow.state, size).includes(wanted as string),
        `${wanted} on ${size.columns}x${size.rows}: ${JSON.stringify(lcdLines(flow.state, size))}`,
      );
    });
  }
  // Without the detail (an older bank) the plain words remain.
  assert.match(
    resultText({ effect: 'withdraw', ok: false, code: 'LIMIT_EXCEEDED', requestedCents: 1, dispensedCents: 0 }).text,
    /Amount exceeds the limit/,
  );
});

test('[item 8] a tamper switch or a missing keypad stops the machine, names the cause, and ignores keys until cleared', () => {
  const flow = new Flow().loggedIn().amount('deposit');
  flow.key('5');
  for (const [device, state, words] of [
    ['keypad', 'fraudAttempt', /enclosure is open \(tamper switch\)/],
    ['dispenser', 'fraudAttempt', /enclosure is open \(tamper switch\)/],
    ['keypad', 'noDevice', /keypad was not found/],
    ['keypad', 'offline', /keypad is not answering/],
  ] as const) {
    flow.send({ type: 'device', device, state });
    assert.equal(view(flow.state).title, 'Temporarily out of service', `${device} ${state}`);
    assert.match(view(flow.state).body.join('\n'), words);
    assert.doesNotMatch(view(flow.state).body.join('\n'), /\[A\] Log in|Enter the amount/);
    assert.equal(lcdLines(flow.state)[0], 'OUT OF SERVICE');
    assert.deepEqual(flow.key('enter'), [], 'keys do nothing');
    flow.send({ type: 'device', device, state: 'online' });
  }
  // Cleared: the customer is back where they were, the amount as typed.
  assert.deepEqual(flow.screen, { name: 'amount', kind: 'deposit', digits: '5' });
  // A broken display does not stop the machine: the screen is the primary output.
  flow.send({ type: 'device', device: 'display', state: 'hardwareError' });
  assert.equal(view(flow.state).title, 'Deposit');
});

test('[item 8] the out-of-service screen tells a refused key from an unreachable bank and a lost link', () => {
  const flow = new Flow();
  flow.send({ type: 'link', state: 'offline', detail: 'secure session refused', cause: 'refused' });
  assert.match(view(flow.state).body.join('\n'), /The bank refused this machine’s key/);
  assert.deepEqual(lcdLines(flow.state), ['OUT OF SERVICE', 'Key refused']);
  flow.send({ type: 'link', state: 'offline', detail: 'ECONNREFUSED', cause: 'unreachable' });
  assert.match(view(flow.state).body.join('\n'), /The bank cannot be reached/);
  flow.online();
  flow.send({ type: 'link', state: 'offline', detail: 'TRUNCATED', cause: 'lost' });
  assert.match(view(flow.state).body.join('\n'), /The connection to the bank was lost/);
});

test('fitLcd: the widest form that fits, lines of the highest rank dropped first, and only ROM characters', () => {
  const lines = [
    text(1, 'A long heading here', 'Heading'),
    text(0, 'Balance: 1234.56', 'Bal: 1234.56'),
    text(2, 'detail'),
  ];
  assert.deepEqual(fitLcd(lines, { rows: 4, columns: 20 }), ['A long heading here', 'Balance: 1234.56', 'detail']);
  assert.deepEqual(fitLcd(lines, { rows: 2, columns: 16 }), ['Heading', 'Balance: 1234.56']);
  assert.deepEqual(fitLcd(lines, { rows: 1, columns: 12 }), ['Bal: 1234.56']);
  assert.equal(lcdSafe('Withdrawing 60.00…'), 'Withdrawing 60.00...');
  assert.equal(lcdSafe('Account locked — try'), 'Account locked - try');
  assert.equal(lcdSafe('C:\\ ~ é'), 'C:/ - ?');
});

test('every result screen has display forms for a 16-column display, whatever the decline', () => {
  const big = 100_000_000_00; // the largest amount the bank takes: 100000000.00
  const results: [EffectResult, 'deposit' | 'withdraw' | 'balance'][] = [
    [{ effect: 'deposit', ok: true, amountCents: big, balanceCents: big, txnId: 't', escrow: null }, 'deposit'],
    [{ effect: 'balance', ok: true, balanceCents: big }, 'balance'],
    [
      { effect: 'withdraw', ok: true, requestedCents: big, dispensedCents: big, balanceCents: big, txnId: 't' },
      'withdraw',
    ],
    [
      { effect: 'withdraw', ok: true, requestedCents: big, dispensedCents: 6000, balanceCents: big, txnId: 't' },
      'withdraw',
    ],
    [
      {
        effect: 'withdraw',
        ok: false,
        code: 'DISPENSE_FAULT',
        requestedCents: big,
        dispensedCents: 0,
        balanceCents: big,
      },
      'withdraw',
    ],
    [{ effect: 'withdraw', ok: false, code: 'SETTLE_PENDING', requestedCents: big, dispensedCents: big }, 'withdraw'],
    [{ effect: 'withdraw', ok: false, code: 'CANNOT_DISPENSE', requestedCents: big, dispensedCents: 0 }, 'withdraw'],
    [
      {
        effect: 'withdraw',
        ok: false,
        code: 'LIMIT_EXCEEDED',
        requestedCents: big,
        dispensedCents: 0,
        limit: { kind: 'withdrawalDaily', limitCents: big, leftCents: big },
      },
      'withdraw',
    ],
    [
      {
        effect: 'deposit',
        ok: false,
        code: 'LIMIT_EXCEEDED',
        escrow: null,
        limit: { kind: 'balance', limitCents: big, leftCents: big },
      },
      'deposit',
    ],
    ...Object.keys(DECLINE_CODES).map((code): [EffectResult, 'withdraw'] => [
      { effect: 'withdraw', ok: false, code, requestedCents: 2000, dispensedCents: 0 },
      'withdraw',
    ]),
    [{ effect: 'withdraw', ok: false, code: 'BANK_UNREACHABLE', requestedCents: 2000, dispensedCents: 0 }, 'withdraw'],
  ];
  for (const [result, from] of results) {
    const { flow } = resultText(result, from);
    const lines = view(flow.state).lcd;
    assert.ok(lines.length > 0, JSON.stringify(result));
    for (const line of lines)
      assert.ok(
        (line.forms.at(-1) ?? '').length <= LCD_COLUMNS_MIN,
        `${JSON.stringify(result)}: ${JSON.stringify(line.forms)}`,
      );
  }
});

// ---------------------------------------------------------------------------------------------
// Transaction ids: created once, kept in state, reused by a retry ([ATM-4.2], STYLE: sessions)

/** A call, so that asserting the pending transaction is null does not narrow the next read. */
const pendingTxnId = (flow: Flow): string | undefined => flow.state.txn?.txnId;

test('a transaction id is created once at the confirmation and kept in state; a retry after no answer reuses it; an answer ends it', () => {
  const flow = new Flow().loggedIn().amount('withdraw');
  flow.key('B'); // fast cash 60.00
  assert.equal(flow.state.txn, null, 'no id before the customer confirms');
  assert.deepEqual(flow.key('enter'), [{ kind: 'withdraw', amountCents: 6000, txnId: txnIdOf(1) }]);
  assert.deepEqual(flow.state.txn, {
    kind: 'withdraw',
    amountCents: 6000,
    txnId: txnIdOf(1),
    inFlight: true,
    notes: null,
  });
  // No answer came: the customer is told to try again and the transaction stays pending.
  flow.result({ effect: 'withdraw', ok: false, code: 'REQUEST_TIMEOUT', requestedCents: 6000, dispensedCents: 0 });
  assert.match(flow.text(), /The bank did not answer\. Please try again\./);
  assert.equal(pendingTxnId(flow), txnIdOf(1));
  // The retry (same kind, same amount) carries the same id; no new id is drawn.
  flow.key('enter');
  flow.amount('withdraw');
  flow.keys(digitsOf('6000'));
  flow.key('enter');
  assert.deepEqual(flow.key('enter'), [{ kind: 'withdraw', amountCents: 6000, txnId: txnIdOf(1) }]);
  assert.equal(flow.txnIds, 1);
  // The bank answered: the transaction is over, and the next one has a new id.
  flow.result({
    effect: 'withdraw',
    ok: true,
    requestedCents: 6000,
    dispensedCents: 6000,
    balanceCents: 4000,
    txnId: txnIdOf(1),
  });
  assert.equal(flow.state.txn, null);
  flow.key('enter');
  flow.amount('withdraw');
  flow.key('B');
  assert.deepEqual(flow.key('enter'), [{ kind: 'withdraw', amountCents: 6000, txnId: txnIdOf(2) }]);
});

test('a pending transaction is not reused for another amount, after a decline, or once the customer is logged out', () => {
  const flow = new Flow().loggedIn().amount('deposit');
  flow.keys(digitsOf('1500'));
  flow.key('enter');
  assert.deepEqual(flow.key('enter'), [{ kind: 'deposit', amountCents: 1500, txnId: txnIdOf(1), notes: null }]);
  flow.result({ effect: 'deposit', ok: false, code: 'SESSION_CLOSED', escrow: null });
  assert.equal(pendingTxnId(flow), txnIdOf(1), 'no answer: still pending');
  // Another amount is another transaction.
  flow.key('enter');
  flow.amount('deposit');
  flow.keys(digitsOf('2500'));
  flow.key('enter');
  assert.deepEqual(flow.key('enter'), [{ kind: 'deposit', amountCents: 2500, txnId: txnIdOf(2), notes: null }]);
  // A decline is an answer: nothing is pending after it.
  flow.result({ effect: 'deposit', ok: false, code: 'LIMIT_EXCEEDED', escrow: null });
  assert.equal(flow.state.txn, null);
  // A withdrawal left unanswered, then the customer logs out: the id is dropped with the session
  // (the controller voids an unanswered hold at logout; the bank would replay its first answer).
  flow.key('enter');
  flow.amount('withdraw');
  flow.key('A');
  assert.deepEqual(flow.key('enter'), [{ kind: 'withdraw', amountCents: 2000, txnId: txnIdOf(3) }]);
  flow.result({ effect: 'withdraw', ok: false, code: 'BANK_UNREACHABLE', requestedCents: 2000, dispensedCents: 0 });
  assert.equal(pendingTxnId(flow), txnIdOf(3));
  assert.deepEqual(flow.key('D'), [{ kind: 'logout' }]);
  assert.equal(flow.state.txn, null);
  // The same when the link drops (the bank session, and its login, are gone).
  flow.loggedIn().amount('withdraw');
  flow.key('A');
  flow.key('enter');
  flow.result({ effect: 'withdraw', ok: false, code: 'REQUEST_TIMEOUT', requestedCents: 2000, dispensedCents: 0 });
  assert.equal(pendingTxnId(flow), txnIdOf(4));
  flow.send({ type: 'link', state: 'offline', detail: 'lost' });
  assert.equal(flow.state.txn, null);
});

// ---------------------------------------------------------------------------------------------
// The customer's account: mini statement ([ATM-4.13]) and password change ([ATM-4.14])

/** The main panel of an 80×24 kiosk: 80 less the 26-column side panels, its border and padding. */
const PANEL_COLUMNS = 50;
/** Its rows: 24 less title, help and status bars, the border, and the blank first line. */
const PANEL_ROWS = 18;
const NEW_PASSWORD = 'battery staple 42';

/** A statement of `count` transactions, newest first, one a minute, deposits and withdrawals alternating. */
function statementOf(count: number, newestMs = T0 - 60_000): StatementTxn[] {
  return Array.from({ length: count }, (_, index) => ({
    txnId: `kiosk-txn-${String(count - index).padStart(4, '0')}`,
    kind: index % 2 === 0 ? ('deposit' as const) : ('withdraw' as const),
    amountCents: (index + 1) * 20_00 + index,
    state: 'posted' as const,
    atMs: newestMs - index * 60_000,
  }));
}

function statementFlow(result: EffectResult): Flow {
  const flow = new Flow().loggedIn();
  assert.deepEqual(flow.key('5'), [{ kind: 'statement' }]);
  assert.equal(flow.screenName(), 'busy');
  flow.result(result);
  return flow;
}

test('menu: A-D as before, 5 the mini statement and 6 the password change, all shown; 5 asks the bank behind a busy screen', () => {
  const flow = new Flow().loggedIn();
  const shown = view(flow.state);
  for (const line of ['[A] Balance', '[B] Deposit', '[C] Withdraw cash', '[5] Mini statement', '[6] Change password'])
    assert.ok(
      shown.body.some((body) => body.includes(line)),
      line,
    );
  assert.equal(shown.body.at(-1), '  [D] Log out');
  assert.match(shown.keys, /5: statement {2}6: password/);
  // The help line is one row of an 80-column terminal, after its leading space.
  assert.ok(shown.keys.length <= 79, `${shown.keys.length}: ${shown.keys}`);
  assert.deepEqual(flow.key('5'), [{ kind: 'statement' }]);
  assert.equal(flow.screenName(), 'busy');
  assert.match(flow.text(), /Fetching your statement…/);
  const password = new Flow().loggedIn();
  assert.deepEqual(password.key('6'), []);
  assert.deepEqual(password.screen, { name: 'passwordOld', text: '' });
});

test('statement: newest first as the bank sent them, + for deposits, - for withdrawals, UTC times, ids shortened, within the 80x24 panel', () => {
  const transactions = statementOf(10);
  const flow = statementFlow({ effect: 'statement', ok: true, transactions });
  const shown = view(flow.state);
  assert.equal(shown.title, 'Mini statement');
  assert.equal(shown.body[0], 'Your last 10 transactions, newest first (UTC):');
  assert.equal(shown.body[1], 'Date  Time  Type           Amount Ref');
  // T0 is 2026-11-27 12:00 UTC: the newest a minute before, then one a minute.
  assert.equal(shown.body[2], '11-27 11:59 Deposit        +20.00 txn-0010');
  assert.equal(shown.body[3], '11-27 11:58 Withdrawal     -40.01 txn-0009');
  assert.equal(shown.body[11], '11-27 11:50 Withdrawal    -200.09 txn-0001');
  for (const line of shown.body) assert.ok(line.length <= PANEL_COLUMNS, `${line.length}: ${line}`);
  assert.ok(shown.body.length <= PANEL_ROWS - 2, `${shown.body.length} lines leave room for a feedback line`);
  assert.match(shown.keys, /A: receipt/);
  assert.deepEqual(lcdLines(flow.state), ['MINI STATEMENT', '10 transactions', 'Last: +20.00']);
  assert.deepEqual(lcdLines(flow.state, { rows: 2, columns: 16 }), ['MINI STATEMENT', '10 transactions']);

  const effects = flow.key('A');
  assert.equal(effects.length, 1);
  const receipt = effects[0];
  assert.ok(receipt?.kind === 'receipt');
  const printed = receipt.text.split('\n');
  const listed = shown.body.slice(1, 12);
  assert.deepEqual(printed.slice(printed.indexOf('MINI STATEMENT (UTC)') + 1, -1), listed, 'the screen lines, printed');
  for (const line of listed) assert.ok(line.length <= 42, `an 80 mm receipt line: ${line}`);
  assert.equal(flow.screenName(), 'receipt');
  // Seventeen printed lines: the receipt screen shows its start and fits the panel with a feedback line.
  const receiptScreen = view(flow.state).body;
  assert.ok(receiptScreen.length <= PANEL_ROWS - 2, `${receiptScreen.length} lines`);
  assert.ok(receiptScreen.includes('  … and 6 more lines on the printed receipt'), receiptScreen.join('\n'));
  flow.key('B');
  assert.equal(flow.screenName(), 'menu');
});

test('statement: an amount as large as the bank takes still shows whole, on the screen and the display', () => {
  const [txn] = statementOf(1);
  assert.ok(txn !== undefined);
  const flow = statementFlow({
    effect: 'statement',
    ok: true,
    transactions: [{ ...txn, kind: 'withdraw', amountCents: 100_000_000_00 }],
  });
  assert.equal(view(flow.state).body[0], 'Your last transaction (UTC):');
  assert.match(flow.text(), /11-27 11:59 Withdrawal -100000000\.00 txn-0001/);
  assert.deepEqual(lcdLines(flow.state, { rows: 2, columns: 16 }), ['MINI STATEMENT', '1 transaction']);
  assert.deepEqual(lcdLines(flow.state), ['MINI STATEMENT', '1 transaction', 'Last: -100000000.00']);
  assert.deepEqual(lcdLines(flow.state, { rows: 4, columns: 16 }).at(-1), '-100000000.00');
});

test('statement: an empty account says so and offers no receipt; a decline or no answer is plain words on the menu', () => {
  const empty = statementFlow({ effect: 'statement', ok: true, transactions: [] });
  assert.equal(view(empty.state).title, 'Mini statement');
  assert.match(empty.text(), /There are no transactions on this account yet\./);
  assert.doesNotMatch(empty.text(), /receipt/i);
  assert.deepEqual(empty.key('A'), []);
  assert.deepEqual(lcdLines(empty.state), ['MINI STATEMENT', 'No transactions']);
  empty.key('enter');
  assert.equal(empty.screenName(), 'menu');

  const unanswered = statementFlow({ effect: 'statement', ok: false, code: 'REQUEST_TIMEOUT' });
  assert.equal(unanswered.screenName(), 'menu');
  assert.equal(unanswered.state.message, 'The bank did not answer. Please try again.');
  const declined = statementFlow({ effect: 'statement', ok: false, code: 'BUSY' });
  assert.equal(declined.screenName(), 'menu');
  assert.doesNotMatch(declined.text(), RAW_CODE);
  const refused = statementFlow({ effect: 'statement', ok: false, code: 'BAD_RESPONSE' });
  assert.equal(refused.state.message, 'The transaction could not be completed');
});

/** Logged in, at the current-password field. */
function passwordChange(): Flow {
  const flow = new Flow().loggedIn();
  flow.key('6');
  assert.equal(flow.screenName(), 'passwordOld');
  return flow;
}

test('password change: three masked fields; a mismatch asks for the new one again with no effect; a match sends one effect and the state keeps no password', () => {
  const flow = passwordChange();
  const everyPassword = [PASSWORD, NEW_PASSWORD, 'battery staple 43'];
  const noPasswordShown = (where: string): void => {
    for (const password of everyPassword) assert.ok(!flow.text().includes(password), `${where}: ${password} shown`);
  };
  flow.type(PASSWORD);
  assert.match(flow.text(), new RegExp(`Current password:\\n  \\*{${PASSWORD.length}}_`));
  noPasswordShown('current');
  assert.deepEqual(flow.key('enter'), []);
  assert.deepEqual(flow.screen, { name: 'passwordNew', oldPassword: PASSWORD, text: '' });
  assert.match(flow.text(), /Password rules: 8 to 72 characters/);
  flow.type(NEW_PASSWORD);
  noPasswordShown('new');
  flow.key('enter');
  assert.equal(flow.screenName(), 'passwordRepeat');
  flow.type('battery staple 43');
  noPasswordShown('repeat');
  assert.deepEqual(flow.key('enter'), [], 'a mismatch sends nothing');
  assert.deepEqual(flow.screen, { name: 'passwordNew', oldPassword: PASSWORD, text: '' });
  assert.equal(flow.state.message, 'Passwords did not match: enter the new one again');

  flow.type(NEW_PASSWORD);
  flow.key('enter');
  flow.type(NEW_PASSWORD);
  assert.deepEqual(flow.key('enter'), [{ kind: 'changePassword', oldPassword: PASSWORD, newPassword: NEW_PASSWORD }]);
  assert.equal(flow.screenName(), 'busy');
  assert.match(flow.text(), /Changing your password…/);
  const kept = JSON.stringify(flow.state);
  for (const password of everyPassword) assert.ok(!kept.includes(password), `the state keeps ${password}`);
  flow.result({ effect: 'changePassword', ok: true });
  assert.equal(flow.screenName(), 'menu');
  assert.equal(flow.state.message, 'Password changed');
  assert.deepEqual(lcdLines(flow.state).at(-1), 'Password changed');
});

test('password change: a keypad types it by multi-tap, * and # are characters, Esc leaves for the menu and drops what was typed', () => {
  const flow = passwordChange();
  flow.keys(['2', '2']); // b
  flow.key('3', 'keypad', MULTITAP_MS + 1); // d
  assert.equal(textOf(flow.screen), 'bd');
  flow.type('*#');
  assert.equal(textOf(flow.screen), 'bd*#');
  assert.match(flow.text(), /\*{4}_/);
  flow.key('enter');
  assert.equal(flow.screenName(), 'passwordNew');
  flow.type(NEW_PASSWORD);
  assert.deepEqual(flow.key('cancel'), []);
  assert.deepEqual(flow.screen, { name: 'menu' });
  assert.ok(!JSON.stringify(flow.state).includes('bd*#'), 'the typed password went with its screen');
});

test('password change: the new password must be 8-72 bytes and differ from the current one; an empty current one is asked for', () => {
  const flow = passwordChange();
  flow.key('enter');
  assert.equal(flow.screenName(), 'passwordOld');
  assert.equal(flow.state.message, 'Enter your current password');
  flow.type(PASSWORD);
  flow.key('enter');
  for (const bad of ['1234567', 'é'.repeat(37)]) {
    flow.type(bad);
    assert.deepEqual(flow.key('enter'), []);
    assert.deepEqual(flow.screen, { name: 'passwordNew', oldPassword: PASSWORD, text: '' }, bad);
    assert.equal(flow.state.message, 'Password: 8 to 72 characters');
  }
  flow.type(PASSWORD);
  assert.deepEqual(flow.key('enter'), []);
  assert.deepEqual(flow.screen, { name: 'passwordNew', oldPassword: PASSWORD, text: '' });
  assert.equal(flow.state.message, 'The new password must differ from the current one');
  flow.type('é'.repeat(36));
  flow.key('enter');
  assert.equal(flow.screenName(), 'passwordRepeat', '72 bytes is within the rule');
});

test('password change: idle on a password field logs out and the typed password goes with the screen', () => {
  const flow = passwordChange();
  flow.type(PASSWORD);
  const effects = flow.tickAt(flow.state.lastInputMs + flow.state.idleLogoutMs);
  assert.deepEqual(effects, [{ kind: 'logout' }]);
  assert.equal(flow.screenName(), 'welcome');
  assert.ok(!JSON.stringify(flow.state).includes(PASSWORD));
});

/** Through the three fields to the busy screen, then the bank's answer. */
function passwordChangeAnswered(result: EffectResult): { flow: Flow; effects: Effect[] } {
  const flow = passwordChange();
  flow.type(PASSWORD);
  flow.key('enter');
  flow.type(NEW_PASSWORD);
  flow.key('enter');
  flow.type(NEW_PASSWORD);
  flow.key('enter');
  assert.equal(flow.screenName(), 'busy');
  return { flow, effects: flow.result(result) };
}

test('password change answers: wrong current password with tries left, locked (logged out), weak, no answer, other declines', () => {
  const wrong = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'AUTH_FAILED', attemptsLeft: 2 });
  assert.deepEqual(wrong.flow.screen, { name: 'passwordOld', text: '' });
  assert.equal(wrong.flow.state.message, 'Wrong password: 2 tries left before a lock');
  assert.equal(wrong.flow.state.username, 'alice');
  const bare = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'AUTH_FAILED' });
  assert.equal(bare.flow.state.message, 'Wrong current password');

  const lockedUntil = new Date(T0 + 15 * 60_000).toISOString();
  const locked = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'ACCOUNT_LOCKED', lockedUntil });
  assert.deepEqual(locked.effects, [{ kind: 'logout' }]);
  assert.equal(locked.flow.screenName(), 'welcome');
  assert.equal(locked.flow.state.username, null);
  assert.equal(locked.flow.state.message, 'Account locked — try again in 15 min');

  const weak = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'WEAK_PASSWORD' });
  assert.deepEqual(weak.flow.screen, { name: 'passwordOld', text: '' });
  assert.equal(weak.flow.state.message, 'Password: 8 to 72 characters');

  const unanswered = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'REQUEST_TIMEOUT' });
  assert.equal(unanswered.flow.screenName(), 'menu');
  assert.equal(unanswered.flow.state.message, 'The bank did not answer: your password may or may not have changed');
  const busy = passwordChangeAnswered({ effect: 'changePassword', ok: false, code: 'BUSY' });
  assert.equal(busy.flow.screenName(), 'menu');
  assert.doesNotMatch(busy.flow.text(), RAW_CODE);
  for (const { flow } of [wrong, locked, weak, unanswered, busy])
    for (const line of lcdLines(flow.state, { rows: 2, columns: 16 })) assert.ok(line.length <= 16, line);
});
