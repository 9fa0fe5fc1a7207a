// [ATM-4.2] device.report's optional fields: a kiosk with a cash-in module or a receipt printer
// reports them; one without leaves them out; a present field is checked like any other.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseRequest } from '../../protocol/index.js';

const base = {
  id: 1,
  op: 'device.report',
  keypad: 'online',
  display: 'online',
  dispenser: 'online',
  cassettes: [{ denominationCents: 2000, count: 10 }],
};
const parse = (value: unknown): ReturnType<typeof parseRequest> => parseRequest(Buffer.from(JSON.stringify(value)));

test('device.report: the cash-in module and printer are optional, and checked when present', () => {
  assert.equal(parse(base).ok, true, 'a kiosk without them');
  const full = {
    ...base,
    cashIn: 'hardwareError',
    deposited: [{ denominationCents: 5000, count: 3 }],
    printer: 'online',
    retractedNotes: 2,
  };
  const parsed = parse(full);
  assert.ok(parsed.ok);
  assert.deepEqual(parsed.request, full);
  for (const bad of [
    { cashIn: 'jammed' },
    { printer: 3 },
    { deposited: [{ denominationCents: -5, count: 1 }] },
    { deposited: 'many' },
    { scanner: 'online' },
    { retractedNotes: -1 },
    { retractedNotes: 1.5 },
  ]) {
    const refused = parse({ ...base, ...bad });
    assert.equal(refused.ok, false, JSON.stringify(bad));
  }
});
