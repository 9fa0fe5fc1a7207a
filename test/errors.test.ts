// The error catalogue (protocol/errors.ts) against itself and against PROTOCOL.md: every decline
// code is unique, stable, has words for a person and one row in the [ATM-4.7] table; every
// session close reason has one row in the [ATM-4.8] table.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { inspect } from 'node:util';
import path from 'node:path';
import { repoRoot } from './helpers/paths.js';
import { AtmError, DeclineCode, SessionCloseReason, declineText, isDeclineCode } from '../protocol/errors.js';

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
    const match = /^\| `([A-Z_]+)` \|/.exec(row);
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
