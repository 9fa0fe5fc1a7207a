// The transaction-id filter in front of LevelDB reads (bank/txn-filter.ts): it may say "maybe"
// for an id it never saw (then the store is read), but never "no" for one it did.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { TxnIdFilter } from '../../bank/txn-filter.js';

test('no id added is ever reported absent, across the filter growing past its first capacity', () => {
  const filter = new TxnIdFilter();
  const added = Array.from({ length: 200_000 }, (_, index) =>
    index % 2 === 0 ? crypto.randomUUID() : `kiosk-07-txn-${index}`,
  );
  for (const id of added) filter.add(id);
  assert.equal(filter.ids, added.length);
  assert.equal(
    added.filter((id) => !filter.mightHave(id)).length,
    0,
    'a false negative would answer a repeated transaction as new',
  );
});

test('ids never added are mostly reported absent (few false positives), so most reads are skipped', () => {
  const filter = new TxnIdFilter();
  for (let index = 0; index < 100_000; index += 1) filter.add(crypto.randomUUID());
  const probes = 100_000;
  let maybe = 0;
  for (let index = 0; index < probes; index += 1) if (filter.mightHave(crypto.randomUUID())) maybe += 1;
  assert.ok(maybe / probes < 0.03, `false positive rate ${((100 * maybe) / probes).toFixed(2)} %`);
});
