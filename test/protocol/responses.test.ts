// [ATM-4.2, ATM-4.4] Each op's response is held to what its approval promises: the parser refuses
// an approval missing a field (a balance without balanceCents is an error, never $0.00), and a
// BankConnection talking to a bank that sends such a response over a real loopback socket rejects
// the request with BAD_RESPONSE instead of resolving with a hole in it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import net from 'node:net';
import { SecureChannel } from '../../protocol/channel.js';
import { BankConnection, ClientError } from '../../protocol/client.js';
import { AtmError } from '../../protocol/errors.js';
import type { RequestOp } from '../../protocol/messages.js';
import { parseResponseTo } from '../../protocol/responses.js';

const json = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
const HOLD_EXPIRES_AT = '2026-12-05T12:00:00.000Z';

/** One good approval per op, as the bank sends them. */
const approvals: Record<RequestOp, Record<string, unknown>> = {
  register: { username: 'austin' },
  login: { username: 'austin' },
  logout: {},
  balance: { balanceCents: 0 },
  statement: {
    transactions: [
      { txnId: 'txn-00000002', kind: 'withdraw', amountCents: 500, state: 'posted', atMs: 1_700_000_001_000 },
      { txnId: 'txn-00000001', kind: 'deposit', amountCents: 1500, state: 'posted', atMs: 1_700_000_000_000 },
    ],
  },
  'password.change': {},
  deposit: { txnId: 'txn-00000001', balanceCents: 1500 },
  'deposit.resolve': { txnId: 'txn-00000001', balanceCents: 1500 },
  'withdraw.hold': { txnId: 'txn-00000002', heldCents: 500, holdExpiresAt: HOLD_EXPIRES_AT },
  'withdraw.post': { txnId: 'txn-00000002', postedCents: 500, balanceCents: 1000 },
  'withdraw.void': { txnId: 'txn-00000002', postedCents: 0, balanceCents: 1500 },
  ping: { sessionLeftMs: 60_000 },
  'username.check': { username: 'austin' },
  'session.handover': { username: 'austin', resumeToken: 'A'.repeat(43) },
  'session.resume': { username: 'austin' },
  'device.report': {},
};

test('every op accepts its full approval, and a balance of 0 cents is a balance', () => {
  for (const [op, fields] of Object.entries(approvals) as [RequestOp, Record<string, unknown>][]) {
    const parsed = parseResponseTo(op, json({ id: 3, ok: true, ...fields }));
    assert.ok(parsed.ok, `${op}: ${parsed.ok ? '' : parsed.reason}`);
    assert.deepEqual(parsed.response, { id: 3, ok: true, ...fields });
  }
});

test('an approval missing any field its op promises is refused, naming the field', () => {
  let cases = 0;
  for (const [op, fields] of Object.entries(approvals) as [RequestOp, Record<string, unknown>][]) {
    if (op === 'ping' || op === 'session.handover') continue; // their fields are optional, tested below
    for (const field of Object.keys(fields)) {
      const { [field]: _missing, ...rest } = fields;
      const parsed = parseResponseTo(op, json({ id: 3, ok: true, ...rest }));
      assert.ok(!parsed.ok && parsed.reason.includes(field), `${op} without ${field}`);
      cases += 1;
    }
  }
  assert.ok(cases >= 15, `only ${cases} cases`);
  const balance = parseResponseTo('balance', json({ id: 3, ok: true }));
  assert.deepEqual(balance, { ok: false, reason: 'balance approval without a valid balanceCents' });
});

test('amounts must be safe integer cents of the right sign; times must parse', () => {
  const refused: [RequestOp, Record<string, unknown>][] = [
    ['balance', { balanceCents: '1500' }],
    ['balance', { balanceCents: 15.5 }],
    ['balance', { balanceCents: -1 }],
    ['balance', { balanceCents: null }],
    ['withdraw.hold', { ...approvals['withdraw.hold'], heldCents: 0 }],
    ['withdraw.hold', { ...approvals['withdraw.hold'], holdExpiresAt: 'soon' }],
    ['ping', { sessionLeftMs: -5 }],
  ];
  for (const [op, fields] of refused)
    assert.equal(parseResponseTo(op, json({ id: 1, ok: true, ...fields })).ok, false, JSON.stringify(fields));
});

test('[ATM-4.9] ping may omit sessionLeftMs; a hand-over carries username and token together or neither', () => {
  assert.ok(parseResponseTo('ping', json({ id: 1, ok: true })).ok);
  assert.ok(parseResponseTo('session.handover', json({ id: 1, ok: true })).ok);
  assert.equal(parseResponseTo('session.handover', json({ id: 1, ok: true, resumeToken: 'A'.repeat(43) })).ok, false);
  assert.equal(parseResponseTo('session.handover', json({ id: 1, ok: true, username: 'austin' })).ok, false);
});

test('a decline needs a known code and a message; anything else is refused', () => {
  assert.ok(parseResponseTo('balance', json({ id: 1, ok: false, code: 'NOT_LOGGED_IN', message: 'Not logged in' })).ok);
  for (const bad of [
    { id: 1, ok: false, code: 'NO_SUCH_CODE', message: 'x' },
    { id: 1, ok: false, code: 'BUSY' },
    { id: 1, ok: 'yes', balanceCents: 5 },
    { ok: true, balanceCents: 5 },
    [1, 2],
  ])
    assert.equal(parseResponseTo('balance', json(bad)).ok, false, JSON.stringify(bad));
  assert.equal(parseResponseTo('balance', Buffer.from('{not json')).ok, false);
});

test('a BankConnection refuses a bank approval without balanceCents with BAD_RESPONSE, over loopback', async () => {
  const psk = crypto.randomBytes(32);
  const server = net.createServer((stream) => {
    const channel: SecureChannel = SecureChannel.accept(
      {
        stream,
        nowMs: Date.now,
        events: {
          onMessage: (plaintext) => {
            const request = JSON.parse(plaintext.toString('utf8')) as { id: number; op: string };
            // A bank with a bug: it approves the balance request but forgets the balance.
            channel.send(json({ id: request.id, ok: true }));
          },
        },
      },
      { lookupPsk: () => psk, dummyPsk: crypto.randomBytes(32), admitHello: () => null },
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  const connection = await BankConnection.connect({ host: '127.0.0.1', port, kioskId: 'kiosk-resp-1', psk });
  try {
    await assert.rejects(
      connection.request({ op: 'balance' }),
      (error: unknown) =>
        error instanceof AtmError && error.code === ClientError.BAD_RESPONSE && error.message.includes('balanceCents'),
    );
    assert.equal(connection.isOpen, false, 'a session that sent a bad response is closed (BAD_MESSAGE)');
  } finally {
    connection.close();
    server.close();
  }
});
