// The clock jumping (issue 15, item 4), on the bank's injected clock: forward past a hold's expiry
// and a lockout's end, and back by an hour. What must hold: a jump forward expires holds (the
// sweeper voids them; a late post moves nothing) and ends lockouts; a jump back never voids a hold
// early, never ends a lockout early, and leaves the audit chain verifiable although its timestamps
// then go backwards. (A jump back lengthens holds and lockouts by the jump: RELIABILITY.md.)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { verifyAuditLog, auditKeyOf, loadKeystore } from '../../bank/index.js';
import { startTestBank, TEST_PASSWORD } from '../helpers/bank.js';
import { auditRecords } from '../helpers/audit.js';
import { FakeClock } from '../helpers/clock.js';

const MINUTE_MS = 60_000;
const HOUR_MS = 60 * MINUTE_MS;
const HOLD_TIMEOUT_MS = 5 * MINUTE_MS;
const LOCK_MS = 15 * MINUTE_MS;

test('clock jumps: forward expires holds and lockouts; back voids nothing early, unlocks nothing early, and the audit chain still verifies', async (t) => {
  const clock = new FakeClock();
  const bank = await startTestBank({
    nowMs: clock.nowMs,
    holdTimeoutMs: HOLD_TIMEOUT_MS,
    lockMs: LOCK_MS,
    loginFailuresMax: 3,
    sweepIntervalMs: 0,
  });
  t.after(() => bank.cleanup());
  const alice = await bank.loginAs('clockalice');
  assert.ok((await alice.request({ op: 'deposit', txnId: 'clock-dep-0001', amountCents: 10_000 })).ok);

  // Back an hour with a hold open: the sweeper must not void it, and its post still works.
  assert.ok((await alice.request({ op: 'withdraw.hold', txnId: 'clock-wd-00001', amountCents: 2_000 })).ok);
  clock.advance(-HOUR_MS);
  assert.equal(await bank.host.sweep(), 0, 'a jump back voids nothing');
  alice.close();
  const again = await bank.loginAs('clockalice');
  const posted = await again.request({ op: 'withdraw.post', txnId: 'clock-wd-00001', dispensedCents: 2_000 });
  assert.ok(posted.ok && posted.balanceCents === 8_000, JSON.stringify(posted));

  // Forward past the expiry with a hold open: voided by the sweeper; the late post moves nothing.
  assert.ok((await again.request({ op: 'withdraw.hold', txnId: 'clock-wd-00002', amountCents: 3_000 })).ok);
  clock.advance(HOLD_TIMEOUT_MS + MINUTE_MS);
  assert.equal(await bank.host.sweep(), 1);
  again.close();
  const late = await bank.loginAs('clockalice');
  const latePost = await late.request({ op: 'withdraw.post', txnId: 'clock-wd-00002', dispensedCents: 3_000 });
  assert.ok(!latePost.ok && latePost.code === 'UNKNOWN_TXN', JSON.stringify(latePost));
  const balance = await late.request({ op: 'balance' });
  assert.ok(balance.ok && balance.balanceCents === 8_000, 'the voided hold released its money, nothing debited');
  late.close();

  // A lockout survives a jump back and ends after a jump past its end.
  const intruder = await bank.connect();
  for (let attempt = 0; attempt < 3; attempt++)
    await intruder.request({ op: 'login', username: 'clockalice', password: 'wrong password!' });
  const locked = await intruder.request({ op: 'login', username: 'clockalice', password: TEST_PASSWORD });
  assert.ok(!locked.ok && locked.code === 'ACCOUNT_LOCKED');
  intruder.close();
  clock.advance(-HOUR_MS);
  const stillLocked = await bank.connect();
  const refused = await stillLocked.request({ op: 'login', username: 'clockalice', password: TEST_PASSWORD });
  assert.ok(!refused.ok && refused.code === 'ACCOUNT_LOCKED', 'a jump back does not unlock');
  stillLocked.close();
  clock.advance(HOUR_MS + LOCK_MS + MINUTE_MS);
  const unlocked = await bank.connect();
  assert.ok((await unlocked.request({ op: 'login', username: 'clockalice', password: TEST_PASSWORD })).ok);
  unlocked.close();

  // The chain is by sequence and hash, not time: timestamps that go back still verify.
  const key = auditKeyOf(loadKeystore(bank.dataDir));
  await bank.stop();
  assert.deepEqual(verifyAuditLog(bank.dataDir, key).ok, true);
  const times = auditRecords(bank.dataDir).map((record) => Date.parse(record.ts));
  assert.ok(
    times.some((time, index) => index > 0 && time < (times[index - 1] as number)),
    'the log shows the jump back',
  );
});
