// The code catalogue (protocol/codes.ts) against itself and against PROTOCOL.md: every code of
// every group is unique across the whole catalogue and has exactly one row in PROTOCOL.md
// ([ATM-4.7] declines, [ATM-4.8] close reasons, [ATM-4.12] the rest); every decline code has
// words for a person.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { inspect } from 'node:util';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import {
  AtmError,
  CODE_GROUPS,
  DeclineCode,
  SessionCloseReason,
  declineText,
  isCodeOf,
  isDeclineCode,
  type Code,
  type CodeGroup,
} from '../../protocol/errors.js';
import { DataDirError } from '../../protocol/data-dir.js';
import { ClientError } from '../../protocol/client.js';
import { KeystoreError } from '../../bank/key-store.js';
import { StoreError } from '../../bank/pg-schema.js';
import { DeviceError } from '../../hardware/factory.js';
import { FlashError } from '../../hardware/flash.js';
import { SerialError } from '../../hardware/serial.js';
import { JournalError } from '../../kiosk/journal.js';
import { MQTT_ENCODE_ERROR } from '../../telemetry/mqtt-publish.js';
import { StartError } from '../../bin/startup.js';
import { FirmwareSimError } from '../../bin/commands/firmware-sim.js';
import { UsageError } from '../../bin/cli.js';

const protocolText = fs.readFileSync(path.join(repoRoot, 'PROTOCOL.md'), 'utf8');

/** The markdown table that follows the paragraph starting with `**[clause]`. */
function tableAfter(clause: string): string[] {
  const lines = protocolText.split('\n');
  const start = lines.findIndex((line) => line.startsWith(`**${clause}`));
  assert.ok(start >= 0, `PROTOCOL.md has no clause ${clause}`);
  const tableStart = lines.findIndex((line, index) => index > start && line.startsWith('|'));
  assert.ok(tableStart > start, `no table after ${clause}`);
  const table: string[] = [];
  for (let index = tableStart; index < lines.length && (lines[index] ?? '').startsWith('|'); index++)
    table.push(lines[index] ?? '');
  return table;
}

/** Codes in backticks in the first column of a table's body rows. */
function firstColumnCodes(table: string[]): string[] {
  return table.slice(2).map((row) => {
    const match = /^\| `([A-Za-z_]+)` \|/.exec(row);
    assert.ok(match !== null, `table row without a code in backticks: ${row}`);
    return match[1] as string;
  });
}

function occurrences(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

const declineCodes = Object.entries(DeclineCode);
const closeReasons = Object.entries(SessionCloseReason);

test('every decline code equals its key, so the wire string is the name in the code', () => {
  assert.ok(declineCodes.length >= 15, `only ${declineCodes.length} codes`);
  for (const [key, value] of declineCodes) assert.equal(value, key);
});

test('decline codes are unique', () => {
  const values = declineCodes.map(([, value]) => value);
  assert.equal(new Set(values).size, values.length);
});

test('every decline code has a plain-words text, and the texts name no other codes', () => {
  assert.deepEqual(Object.keys(declineText).sort(), declineCodes.map(([key]) => key).sort());
  for (const [, code] of declineCodes) {
    const text = declineText[code];
    assert.equal(typeof text, 'string');
    assert.ok(text.trim().length >= 4, `${code}: text too short`);
    assert.doesNotMatch(text, /\b[A-Z]{2,}_[A-Z_]+\b/, `${code}: the text should be words, not a code`);
  }
});

test('the codes of DESIGN §2 are all in the catalogue', () => {
  const designCodes = [
    'INSUFFICIENT_FUNDS',
    'INVALID_AMOUNT',
    'LIMIT_EXCEEDED',
    'AUTH_FAILED',
    'ACCOUNT_LOCKED',
    'USERNAME_TAKEN',
    'INVALID_USERNAME',
    'WEAK_PASSWORD',
    'DUPLICATE_TXN',
    'NOT_LOGGED_IN',
    'KIOSK_REVOKED',
    'BUSY',
    'INTERNAL',
  ];
  for (const code of designCodes) assert.ok(isDeclineCode(code), code);
});

test('isDeclineCode accepts exactly the catalogue, not inherited or look-alike names', () => {
  for (const [, code] of declineCodes) assert.equal(isDeclineCode(code), true, code);
  for (const value of [
    'toString',
    '__proto__',
    'constructor',
    'hasOwnProperty',
    '',
    'insufficient_funds',
    'OK',
    'BAD_MAC',
    null,
    undefined,
    42,
    {},
  ]) {
    assert.equal(isDeclineCode(value), false, inspect(value));
  }
});

test('[ATM-4.7] PROTOCOL.md has one decline-table row per code, each code in backticks exactly once', () => {
  const table = tableAfter('[ATM-4.7]');
  const listed = firstColumnCodes(table);
  assert.deepEqual([...listed].sort(), declineCodes.map(([, code]) => code).sort(), 'table rows and catalogue differ');
  const tableText = table.join('\n');
  for (const [, code] of declineCodes) {
    assert.equal(occurrences(tableText, `\`${code}\``), 1, `${code} in backticks in the decline table`);
    const row = table.find((line) => line.startsWith(`| \`${code}\` |`)) ?? '';
    const meaning = row.split('|')[2]?.trim() ?? '';
    assert.ok(meaning.length >= 10, `${code}: no meaning given`);
  }
});

test('[ATM-4.8] PROTOCOL.md has one close-reason row per SessionCloseReason', () => {
  for (const [key, value] of closeReasons) assert.equal(value, key);
  assert.equal(new Set(closeReasons.map(([, value]) => value)).size, closeReasons.length, 'close reasons are unique');
  const table = tableAfter('[ATM-4.8]');
  const listed = firstColumnCodes(table);
  assert.deepEqual(
    [...listed].sort(),
    closeReasons.map(([, reason]) => reason).sort(),
    'table rows and catalogue differ',
  );
  const tableText = table.join('\n');
  for (const [, reason] of closeReasons) {
    assert.equal(occurrences(tableText, `\`${reason}\``), 1, `${reason} in backticks in the close-reason table`);
    assert.ok(protocolText.includes(`\`${reason}\``), reason);
  }
});

test('decline codes and close reasons never share a name (a log line is never ambiguous)', () => {
  const reasons = new Set<string>(closeReasons.map(([, reason]) => reason));
  for (const [, code] of declineCodes) assert.equal(reasons.has(code), false, code);
});

test('AtmError carries its stable code and message', () => {
  const error = new AtmError(DeclineCode.BUSY, 'try later');
  assert.ok(error instanceof Error);
  assert.equal(error.name, 'AtmError');
  assert.equal(error.code, 'BUSY');
  assert.equal(error.message, 'try later');
});

const allCodes: { group: CodeGroup; code: Code }[] = (Object.keys(CODE_GROUPS) as CodeGroup[]).flatMap((group) =>
  CODE_GROUPS[group].map((code) => ({ group, code })),
);

test('every code in the catalogue is unique across all groups', () => {
  assert.ok(allCodes.length >= 60, `only ${allCodes.length} codes`);
  const seen = new Map<string, CodeGroup>();
  for (const { group, code } of allCodes) {
    assert.equal(seen.get(code), undefined, `${code} is in ${seen.get(code) ?? ''} and ${group}`);
    seen.set(code, group);
  }
});

test('[ATM-4.12] every code outside declines and close reasons has one row, naming its group', () => {
  const table = tableAfter('[ATM-4.12]');
  const others = allCodes.filter(({ group }) => group !== 'decline' && group !== 'sessionClose');
  assert.deepEqual(
    [...firstColumnCodes(table)].sort(),
    others.map(({ code }) => code).sort(),
    'table rows and catalogue differ',
  );
  const tableText = table.join('\n');
  for (const { group, code } of others) {
    assert.equal(occurrences(tableText, `\`${code}\``), 1, `${code} in backticks in the code table`);
    const cells = (table.find((line) => line.startsWith(`| \`${code}\` |`)) ?? '').split('|');
    assert.equal(cells[2]?.trim(), group, `${code}: group column`);
    assert.ok((cells[3]?.trim() ?? '').length >= 10, `${code}: no meaning given`);
  }
});

test('every code is documented in exactly one of the three tables', () => {
  const documented = [...firstColumnCodes(tableAfter('[ATM-4.7]')), ...firstColumnCodes(tableAfter('[ATM-4.8]'))];
  documented.push(...firstColumnCodes(tableAfter('[ATM-4.12]')));
  assert.deepEqual([...documented].sort(), allCodes.map(({ code }) => code).sort());
});

test('the const objects call sites use are views onto the catalogue, each code in its own group', () => {
  const views: [CodeGroup, Record<string, string>][] = [
    ['decline', DeclineCode],
    ['sessionClose', SessionCloseReason],
    ['client', ClientError],
    ['keystore', KeystoreError],
    ['device', DeviceError],
    ['device', SerialError],
    ['flash', FlashError],
    ['journal', JournalError],
    ['telemetry', { MQTT_ENCODE_ERROR }],
    ['store', StoreError],
    ['command', StartError],
    ['command', FirmwareSimError],
    ['command', DataDirError],
  ];
  const viewed = new Set<string>(views.flatMap(([, view]) => Object.values(view)));
  viewed.add(new UsageError('x').code);
  for (const [group, view] of views)
    for (const code of Object.values(view)) assert.ok(isCodeOf(group, code), `${code} in ${group}`);
  // Dispense and cash-in faults are types only (drivers and the serial codec read the catalogue's lists).
  const unviewed = allCodes.filter(
    ({ group, code }) => group !== 'dispenseFault' && group !== 'cashInFault' && !viewed.has(code),
  );
  assert.deepEqual(unviewed, [], 'codes in the catalogue that no view or call site names');
});

test('isCodeOf refuses inherited names and codes of another group', () => {
  for (const value of ['toString', '__proto__', 'constructor', '', 'jam ', 42, null])
    assert.equal(isCodeOf('dispenseFault', value), false, String(value));
  assert.equal(isCodeOf('decline', 'FRAME_LENGTH'), false);
  assert.equal(isCodeOf('sessionClose', 'FRAME_LENGTH'), true);
  assert.equal(isCodeOf('dispenseFault', 'jam'), true);
});
