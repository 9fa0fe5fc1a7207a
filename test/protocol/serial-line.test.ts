// The serial line codec (protocol/serial-line.ts, hardware/PROTOCOL.md [SL-2]–[SL-4]): every
// verb against fixed wire lines both ways, every reason a line is refused, the splitter's
// limits, and fast-check properties (random input never throws; valid messages round-trip).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { KEY_NAMES } from '../../hardware/index.js';
import type { DispenseFault, KeyName } from '../../hardware/index.js';
import {
  CAPABILITIES_MAX,
  CASH_IN_ID_MAX,
  DEVICE_FAULT_NAMES,
  ESCROW_LINE_NOTES_MAX,
  ESCROW_REJECTED_MAX,
  ESCROW_SLOTS,
  RETURN_FAULTS,
  STORE_FAULTS,
  DISPENSE_ID_MAX,
  LCD_COLUMNS_MAX,
  LINE_BYTES_MAX,
  LineSplitter,
  SEQUENCE_MAX,
  UNKNOWN_VERB,
  encodeDeviceMessage,
  encodeHostMessage,
  parseDeviceLine,
  parseHostLine,
  serialLineChecksum,
} from '../../protocol/serial-line.js';
import type { DeviceMessage, HostMessage, ParsedLine } from '../../protocol/serial-line.js';
import { repoRoot } from '../helpers/paths.js';

/** A body with its correct checksum, for lines the encoders would never produce. */
const signed = (body: string): string =>
  `${body}*${serialLineChecksum(body).toString(16).toUpperCase().padStart(2, '0')}`;
const reasonOf = (parsed: ParsedLine<unknown>): string => (parsed.ok ? 'ok' : parsed.reason);

const HOST_FIXTURES: [HostMessage, string][] = [
  [{ verb: 'HELLO', version: 1 }, 'HELLO 1*81'],
  [{ verb: 'PING', seq: 42 }, 'PING 42*95'],
  [{ verb: 'LCD', row: 0, col: 0, text: 'Welcome' }, 'LCD 0 0 Welcome*70'],
  [{ verb: 'LCD', row: 2, col: 4, text: 'PIN: ****' }, 'LCD 2 4 PIN: *****8F'],
  [{ verb: 'CLEAR' }, 'CLEAR*AC'],
  [{ verb: 'BACKLIGHT', on: false }, 'BACKLIGHT 0*94'],
  [{ verb: 'DISPENSE', id: 7, amountCents: 6000 }, 'DISPENSE 7 6000*0C'],
  [{ verb: 'COUNTS' }, 'COUNTS*0B'],
];

/** [SL-3.8]–[SL-3.10] The cash-in verbs, host to device; their checksums are filled in below from the encoder's. */
const CASH_IN_HOST: HostMessage[] = [
  { verb: 'CASHIN' },
  { verb: 'SLOT', open: true },
  { verb: 'SLOT', open: false },
  { verb: 'STORE', id: 3 },
  { verb: 'RETURN', id: CASH_IN_ID_MAX },
];

/** [SL-4.10]–[SL-4.13] The cash-in verbs, device to host, with the bodies PROTOCOL.md shows. */
const CASH_IN_DEVICE: [DeviceMessage, string][] = [
  [
    { verb: 'ACCEPTS', capacityNotes: 1000, denominationsCents: [5000, 2000, 1000, 500] },
    'ACCEPTS 1000 5000 2000 1000 500',
  ],
  [{ verb: 'DEPOSITS', notes: [] }, 'DEPOSITS'],
  [
    {
      verb: 'DEPOSITS',
      notes: [
        { denominationCents: 5000, count: 3 },
        { denominationCents: 2000, count: 12 },
      ],
    },
    'DEPOSITS 5000:3 2000:12',
  ],
  [{ verb: 'ESCROW', slot: 'closed', rejected: 0, notes: [] }, 'ESCROW closed 0'],
  [
    {
      verb: 'ESCROW',
      slot: 'open',
      rejected: 1,
      notes: [
        { denominationCents: 2000, count: 2 },
        { denominationCents: 1000, count: 1 },
      ],
    },
    'ESCROW open 1 2000:2 1000:1',
  ],
  [{ verb: 'ESCROW', slot: 'jam', rejected: 0, notes: [{ denominationCents: 2000, count: 1 }] }, 'ESCROW jam 0 2000:1'],
  [{ verb: 'STORED', id: 3, storedCents: 5000, fault: null }, 'STORED 3 5000 -'],
  [{ verb: 'STORED', id: 4, storedCents: 0, fault: 'cassetteFull' }, 'STORED 4 0 cassetteFull'],
  [{ verb: 'RETURNED', id: 5, returnedCents: 2000, fault: 'notesNotTaken' }, 'RETURNED 5 2000 notesNotTaken'],
  [{ verb: 'RETURNED', id: 6, returnedCents: 0, fault: 'escrowJam' }, 'RETURNED 6 0 escrowJam'],
];

const DEVICE_FIXTURES: [DeviceMessage, string][] = [
  [
    { verb: 'HELLO', version: 1, device: 'atm-firmware-sim', caps: ['keypad4x4', 'lcd20x4', 'dispenser'] },
    'HELLO 1 atm-firmware-sim keypad4x4 lcd20x4 dispenser*54',
  ],
  [{ verb: 'PONG', seq: 42 }, 'PONG 42*63'],
  [{ verb: 'KEY', key: '5' }, 'KEY 5*99'],
  [{ verb: 'KEY', key: 'enter' }, 'KEY #*FB'],
  [{ verb: 'KEY', key: 'clear' }, 'KEY **C4'],
  [{ verb: 'KEY', key: 'cancel' }, 'KEY ESC*C6'],
  [{ verb: 'KEY', key: 'backspace' }, 'KEY BS*B1'],
  [{ verb: 'DISPENSED', id: 7, dispensedCents: 6000, fault: null }, 'DISPENSED 7 6000 -*FE'],
  [{ verb: 'DISPENSED', id: 8, dispensedCents: 2000, fault: 'jam' }, 'DISPENSED 8 2000 jam*AC'],
  [{ verb: 'DISPENSED', id: 9, dispensedCents: 0, fault: 'cannotMake' }, 'DISPENSED 9 0 cannotMake*0B'],
  [
    {
      verb: 'CASH',
      cassettes: [
        { denominationCents: 2000, count: 97 },
        { denominationCents: 1000, count: 100 },
      ],
    },
    'CASH 2000:97 1000:100*5B',
  ],
  [{ verb: 'CASH', cassettes: [] }, 'CASH*80'],
  [{ verb: 'FAULT', fault: 'jam' }, 'FAULT jam*78'],
  [{ verb: 'FAULT', fault: 'cashLow' }, 'FAULT cashLow*3A'],
  [{ verb: 'FAULT', fault: 'tamper' }, 'FAULT tamper*9B'],
  [{ verb: 'FAULT', fault: 'ok' }, 'FAULT ok*D0'],
  [{ verb: 'HB', uptimeMs: 12000 }, 'HB 12000*BA'],
];

test('[SL-2.2] the checksum is CRC-8/SMBUS: check value 0xF4 for "123456789"', () => {
  assert.equal(serialLineChecksum('123456789'), 0xf4);
  assert.equal(serialLineChecksum(''), 0);
});

test('[SL-3] every host verb encodes to its documented line and parses back', () => {
  for (const [message, line] of HOST_FIXTURES) {
    assert.equal(encodeHostMessage(message), `${line}\n`);
    assert.deepEqual(parseHostLine(line), { ok: true, message });
  }
  assert.deepEqual(new Set(HOST_FIXTURES.map(([message]) => message.verb)).size, 7, 'all seven host verbs');
});

test('[SL-4] every device verb, key and fault encodes to its documented line and parses back', () => {
  for (const [message, line] of DEVICE_FIXTURES) {
    assert.equal(encodeDeviceMessage(message), `${line}\n`);
    assert.deepEqual(parseDeviceLine(line), { ok: true, message });
  }
  assert.equal(new Set(DEVICE_FIXTURES.map(([message]) => message.verb)).size, 7, 'all seven device verbs');
  for (const key of KEY_NAMES)
    assert.deepEqual(parseDeviceLine(encodeDeviceMessage({ verb: 'KEY', key }).trimEnd()), {
      ok: true,
      message: { verb: 'KEY', key },
    });
  for (const fault of ['jam', 'cashLow', 'cannotMake', 'offline', 'hardwareError'] satisfies DispenseFault[]) {
    const message: DeviceMessage = { verb: 'DISPENSED', id: DISPENSE_ID_MAX, dispensedCents: 0, fault };
    assert.deepEqual(parseDeviceLine(encodeDeviceMessage(message).trimEnd()), { ok: true, message });
  }
});

test('[SL-3.8]–[SL-3.10], [SL-4.10]–[SL-4.13] the cash-in verbs encode to their lines and parse back', () => {
  for (const message of CASH_IN_HOST) {
    const line = encodeHostMessage(message).trimEnd();
    assert.deepEqual(parseHostLine(line), { ok: true, message }, line);
    assert.equal(reasonOf(parseDeviceLine(line)), UNKNOWN_VERB, 'a host verb is unknown to the host');
  }
  assert.deepEqual(
    CASH_IN_HOST.map((message) => encodeHostMessage(message).trimEnd().split('*')[0]),
    ['CASHIN', 'SLOT OPEN', 'SLOT CLOSE', 'STORE 3', `RETURN ${CASH_IN_ID_MAX}`],
  );
  for (const [message, body] of CASH_IN_DEVICE) {
    assert.equal(encodeDeviceMessage(message), `${signed(body)}\n`);
    assert.deepEqual(parseDeviceLine(signed(body)), { ok: true, message });
    assert.equal(reasonOf(parseHostLine(signed(body))), UNKNOWN_VERB);
  }
  assert.equal(new Set(CASH_IN_DEVICE.map(([message]) => message.verb)).size, 5, 'all five cash-in device verbs');
});

test('[SL-2.6] malformed cash-in lines are refused with their reason', () => {
  const hostCases: [string, string][] = [
    [signed('CASHIN 1'), 'bad CASHIN: takes no arguments'],
    [signed('SLOT'), 'bad SLOT: expects OPEN or CLOSE'],
    [signed('SLOT open'), 'bad SLOT: expects OPEN or CLOSE'],
    [signed('SLOT OPEN NOW'), 'bad SLOT: expects OPEN or CLOSE'],
    [signed('STORE 0'), `bad STORE: expects one id 1..${CASH_IN_ID_MAX}`],
    [signed(`RETURN ${CASH_IN_ID_MAX + 1}`), `bad RETURN: expects one id 1..${CASH_IN_ID_MAX}`],
    [signed('RETURN 1 2'), `bad RETURN: expects one id 1..${CASH_IN_ID_MAX}`],
  ];
  for (const [line, reason] of hostCases) assert.equal(reasonOf(parseHostLine(line)), reason, line);
  const accepts = 'bad ACCEPTS: expects capacityNotes and 1..8 denominations, largest first';
  const escrow = 'bad ESCROW: expects slot, rejected and denominationCents:count pairs, largest first';
  const deposits = 'bad DEPOSITS: expects denominationCents:count pairs, largest first';
  const moved = 'expects id, cents and a fault or -';
  const deviceCases: [string, string][] = [
    [signed('ACCEPTS 1000'), accepts],
    [signed('ACCEPTS 0 2000'), accepts],
    [signed('ACCEPTS 1000 1000 2000'), accepts], // not largest first
    [signed('ACCEPTS 1000 2000 2000'), accepts], // twice
    [signed(`ACCEPTS 10 ${Array.from({ length: 9 }, (_, index) => 900 - index).join(' ')}`), accepts],
    [signed('DEPOSITS 2000:0'), deposits], // only denominations with notes
    [signed('DEPOSITS 1000:1 2000:1'), deposits],
    [signed('DEPOSITS 2000'), deposits],
    [signed('ESCROW'), escrow],
    [signed('ESCROW ajar 0'), escrow],
    [signed(`ESCROW open ${ESCROW_REJECTED_MAX + 1}`), escrow],
    [signed('ESCROW open 0 1000:1 1000:1'), escrow],
    [signed('ESCROW open 0 2000:1:1'), escrow],
    [signed(`ESCROW open 0 2000:${ESCROW_LINE_NOTES_MAX + 1}`), escrow],
    [signed('ESCROW open 0 2000:50 1000:50'), `bad ESCROW: more than ${ESCROW_LINE_NOTES_MAX} notes`],
    [signed('STORED 1 0 notesNotTaken'), `bad STORED: ${moved}`], // a store never leaves notes at the slot
    [signed('RETURNED 1 0 cassetteFull'), `bad RETURNED: ${moved}`],
    [signed('STORED 1 0 cashInOffline'), `bad STORED: ${moved}`], // the host's own fault, never on the wire
    [signed('STORED 0 0 -'), `bad STORED: ${moved}`],
    [signed('RETURNED 1 -'), `bad RETURNED: ${moved}`],
  ];
  for (const [line, reason] of deviceCases) assert.equal(reasonOf(parseDeviceLine(line)), reason, line);
  assert.throws(
    () =>
      encodeDeviceMessage({
        verb: 'ESCROW',
        slot: 'open',
        rejected: 0,
        notes: [{ denominationCents: 1000, count: 0 }],
      }),
    /assertion failed/,
  );
  assert.throws(
    () => encodeDeviceMessage({ verb: 'ACCEPTS', capacityNotes: 5, denominationsCents: [500, 1000] }),
    /assertion failed/,
  );
  assert.throws(() => encodeHostMessage({ verb: 'STORE', id: 0 }), /assertion failed/);
});

test('[SL-8] the session transcript in hardware/PROTOCOL.md decodes line by line', () => {
  const document = fs.readFileSync(path.join(repoRoot, 'hardware', 'PROTOCOL.md'), 'utf8');
  const transcript = document.slice(document.indexOf('## [SL-8]'));
  const lines = transcript.split('\n').filter((line) => line.startsWith('→ ') || line.startsWith('← '));
  assert.ok(lines.length >= 16, 'the transcript is there');
  for (const line of lines) {
    const parsed = line.startsWith('→ ') ? parseHostLine(line.slice(2)) : parseDeviceLine(line.slice(2));
    assert.equal(reasonOf(parsed), 'ok', line);
  }
});

test('every example line anywhere in hardware/PROTOCOL.md decodes in its direction', () => {
  const document = fs.readFileSync(path.join(repoRoot, 'hardware', 'PROTOCOL.md'), 'utf8');
  const examples = [...document.matchAll(/([→←]) ([^`\n]+\*[0-9A-F]{2})/g)];
  assert.ok(examples.length >= 50, `the examples are there (${examples.length})`);
  for (const [, arrow, line = ''] of examples) {
    const parsed = arrow === '→' ? parseHostLine(line) : parseDeviceLine(line);
    assert.equal(reasonOf(parsed), 'ok', `${arrow} ${line}`);
  }
});

test('[SL-2.6] a changed character anywhere in a line fails the checksum (or the framing)', () => {
  for (const [, line] of [...HOST_FIXTURES, ...DEVICE_FIXTURES]) {
    const parse = HOST_FIXTURES.some(([, host]) => host === line) ? parseHostLine : parseDeviceLine;
    for (let index = 0; index < line.length; index += 1) {
      for (const replacement of ['0', 'A', '*', ' ', 'z']) {
        if (line[index] === replacement) continue;
        const damaged = line.slice(0, index) + replacement + line.slice(index + 1);
        assert.equal(parse(damaged).ok, false, `${JSON.stringify(damaged)} must not parse`);
      }
    }
  }
});

test('[SL-2.6] refusals are checked in order and each has its reason', () => {
  const cases: [string, string][] = [
    ['X'.repeat(LINE_BYTES_MAX), 'oversize line'],
    [signed('LCD 0 0 café'), 'non-printable or non-ASCII character'],
    [`${signed('PING 1')}\t`, 'non-printable or non-ASCII character'],
    ['PING 1', 'no checksum'],
    ['PING 1*ad', 'malformed checksum'],
    ['PING 1*A', 'malformed checksum'],
    ['PING 1*00', 'checksum mismatch'],
    [signed('ping 1'), 'malformed verb'],
    [signed(''), 'malformed verb'],
    [signed('FROBNICATE 1'), UNKNOWN_VERB],
    [signed('PONG 1'), UNKNOWN_VERB], // a device verb sent to the device
    [signed('PING 01'), 'bad PING: expects one integer 0..2147483647'],
    [signed(`PING ${SEQUENCE_MAX + 1}`), 'bad PING: expects one integer 0..2147483647'],
    [signed('PING -1'), 'bad PING: expects one integer 0..2147483647'],
    [signed('PING 1 2'), 'bad PING: expects one integer 0..2147483647'],
    [signed('PING  1'), 'bad PING: expects one integer 0..2147483647'],
    [signed('HELLO 0'), 'bad HELLO: expects one integer 1..65535'],
    [signed('CLEAR '), 'bad CLEAR: takes no arguments'],
    [signed('BACKLIGHT 2'), 'bad BACKLIGHT: expects 1 or 0'],
    [signed('LCD 4 0 x'), 'bad LCD: expects row 0-3, col 0-39, text'],
    [signed('LCD 0 40 x'), 'bad LCD: expects row 0-3, col 0-39, text'],
    [signed('LCD 0 0'), 'bad LCD: expects row 0-3, col 0-39, text'],
    [signed(`LCD 0 1 ${'x'.repeat(40)}`), 'bad LCD: text runs past column 40'],
    [signed('DISPENSE 0 100'), 'bad DISPENSE: expects id and amountCents'],
    [signed(`DISPENSE ${DISPENSE_ID_MAX + 1} 100`), 'bad DISPENSE: expects id and amountCents'],
    [signed('DISPENSE 1 0'), 'bad DISPENSE: expects id and amountCents'],
    [signed('DISPENSE 1 12.5'), 'bad DISPENSE: expects id and amountCents'],
    [signed('DISPENSE 1 99999999999999999'), 'bad DISPENSE: expects id and amountCents'],
  ];
  for (const [line, reason] of cases) assert.equal(reasonOf(parseHostLine(line)), reason, line);
  const deviceCases: [string, string][] = [
    [signed('KEY E'), 'bad KEY: unknown key'],
    [signed('KEY enter'), 'bad KEY: unknown key'],
    [signed('FAULT fire'), 'bad FAULT: unknown fault'],
    [signed('DISPENSED 1 0 broken'), 'bad DISPENSED: expects id, dispensedCents and a fault or -'],
    [signed('CASH 2000:1:2'), 'bad CASH: expects denominationCents:count pairs'],
    [signed('CASH 0:1'), 'bad CASH: expects denominationCents:count pairs'],
    [signed('CASH '), 'bad CASH: expects denominationCents:count pairs'],
    [
      signed(`CASH ${Array.from({ length: 9 }, (_, index) => `${index + 1}:1`).join(' ')}`),
      'bad CASH: more than 8 cassettes',
    ],
    [signed('HELLO 1'), 'bad HELLO: expects version and device name'],
    [
      signed(`HELLO 1 dev ${Array.from({ length: CAPABILITIES_MAX + 1 }, () => 'x').join(' ')}`),
      'bad HELLO: bad capability list',
    ],
    [signed('HELLO 1 dev a/b'), 'bad HELLO: bad capability list'],
    [signed('DISPENSE 1 100'), UNKNOWN_VERB], // a host verb sent to the host
  ];
  for (const [line, reason] of deviceCases) assert.equal(reasonOf(parseDeviceLine(line)), reason, line);
});

test('[SL-3.3] LCD text keeps spaces and stars; the encoder turns non-ASCII into ? and cuts at column 40', () => {
  for (const text of ['', '  padded  ', '*', '** x **', 'a*BC']) {
    const message: HostMessage = { verb: 'LCD', row: 3, col: 0, text };
    assert.deepEqual(parseHostLine(encodeHostMessage(message).trimEnd()), { ok: true, message });
  }
  assert.equal(
    encodeHostMessage({ verb: 'LCD', row: 0, col: 0, text: 'Café 😀\t!' }),
    `${signed('LCD 0 0 Caf? ??!')}\n`,
  );
  const cut = parseHostLine(encodeHostMessage({ verb: 'LCD', row: 1, col: 30, text: 'x'.repeat(50) }).trimEnd());
  assert.deepEqual(cut, {
    ok: true,
    message: { verb: 'LCD', row: 1, col: 30, text: 'x'.repeat(LCD_COLUMNS_MAX - 30) },
  });
});

test('[SL-2.3] encoders assert on invalid messages; the largest valid CASH fills exactly 96 bytes', () => {
  assert.throws(() => encodeHostMessage({ verb: 'LCD', row: 4, col: 0, text: '' }), /assertion failed/);
  assert.throws(() => encodeHostMessage({ verb: 'DISPENSE', id: 0, amountCents: 100 }), /assertion failed/);
  assert.throws(() => encodeHostMessage({ verb: 'DISPENSE', id: 1, amountCents: 1.5 }), /assertion failed/);
  assert.throws(() => encodeDeviceMessage({ verb: 'KEY', key: 'E' as KeyName }), /assertion failed/);
  assert.throws(
    () => encodeDeviceMessage({ verb: 'HELLO', version: 1, device: 'has space', caps: [] }),
    /assertion failed/,
  );
  const full: DeviceMessage = {
    verb: 'CASH',
    cassettes: Array.from({ length: 8 }, (_, index) => ({ denominationCents: 10_000 + index, count: 9999 })),
  };
  assert.equal(encodeDeviceMessage(full).length, LINE_BYTES_MAX);
  assert.throws(
    () =>
      encodeDeviceMessage({
        verb: 'CASH',
        cassettes: Array.from({ length: 8 }, (_, index) => ({ denominationCents: 100_000 + index, count: 9999 })),
      }),
    /exceeds 96/,
  );
});

test('[SL-2.5] the splitter joins chunks, strips CR, skips empty lines and counts lines', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(splitter.push('HELLO 1*8'), []);
  assert.deepEqual(splitter.push(Buffer.from('1\r\n\n\r\nPING 1*AD\nPI')), ['HELLO 1*81', 'PING 1*AD']);
  assert.deepEqual(splitter.push('NG 2*'), []);
  assert.deepEqual(splitter.stats, { lines: 2, oversize: 0, corrupt: 0, unknown: 0 });
});

test('[SL-2.3] a line of 96 bytes passes; 97 is dropped as oversize; a flood is never buffered', () => {
  const splitter = new LineSplitter();
  const longest = 'x'.repeat(LINE_BYTES_MAX - 1);
  assert.deepEqual(splitter.push(`${longest}\n`), [longest]);
  assert.deepEqual(splitter.push(`${longest}\r\n`), [longest], 'a CR before the newline does not count');
  assert.deepEqual(splitter.push(`${longest}y\nok*00\n`), ['ok*00']);
  assert.deepEqual(splitter.stats, { lines: 4, oversize: 1, corrupt: 0, unknown: 0 });
  const flood = Buffer.alloc(4 * 1024 * 1024, 0x41);
  assert.deepEqual(splitter.push(flood), []);
  assert.deepEqual(splitter.push(flood), []);
  assert.deepEqual(splitter.push('\nafter*00\n'), ['after*00']);
  assert.equal(splitter.stats.oversize, 2);
  assert.deepEqual(splitter.push('half a li'), []);
  splitter.discardPartialLine();
  assert.deepEqual(splitter.push('ne\nwhole*00\n'), ['ne', 'whole*00'], 'the cut line is gone; counters stay');
  assert.equal(splitter.stats.oversize, 2);
  const small = new LineSplitter(8);
  assert.deepEqual(small.push('1234567\n12345678\n'), ['1234567']);
  assert.equal(small.stats.oversize, 1);
  assert.throws(() => new LineSplitter(1), /maxBytes/);
});

test('[SL-2.5] a byte outside printable ASCII makes the line corrupt; countRejected sorts unknown from corrupt', () => {
  const splitter = new LineSplitter();
  assert.deepEqual(
    splitter.push(Buffer.from([0x4b, 0x45, 0x59, 0x20, 0xc3, 0xa9, 0x0a, 0x00, 0x0a, 0x41, 0x7f, 0x0a])),
    [],
  );
  assert.deepEqual(splitter.push('KEY café\nfine*00\n'), ['fine*00']);
  assert.equal(splitter.stats.corrupt, 4);
  splitter.countRejected(UNKNOWN_VERB);
  splitter.countRejected('checksum mismatch');
  assert.deepEqual(splitter.stats, { lines: 5, oversize: 0, corrupt: 5, unknown: 1 });
});

// ---------------------------------------------------------------- properties (fast-check)

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code)),
  maxLength: 40,
});
const name = fc.stringMatching(/^[A-Za-z0-9._-]{1,24}$/);

const hostMessage: fc.Arbitrary<HostMessage> = fc.oneof(
  fc.integer({ min: 1, max: 65_535 }).map((version): HostMessage => ({ verb: 'HELLO', version })),
  fc.integer({ min: 0, max: SEQUENCE_MAX }).map((seq): HostMessage => ({ verb: 'PING', seq })),
  fc
    .tuple(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 39 }), printable)
    .map(([row, col, text]): HostMessage => ({ verb: 'LCD', row, col, text: text.slice(0, LCD_COLUMNS_MAX - col) })),
  fc.constant<HostMessage>({ verb: 'CLEAR' }),
  fc.boolean().map((on): HostMessage => ({ verb: 'BACKLIGHT', on })),
  fc
    .tuple(fc.integer({ min: 1, max: DISPENSE_ID_MAX }), fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }))
    .map(([id, amountCents]): HostMessage => ({ verb: 'DISPENSE', id, amountCents })),
  fc.constant<HostMessage>({ verb: 'COUNTS' }),
  fc.constant<HostMessage>({ verb: 'CASHIN' }),
  fc.boolean().map((open): HostMessage => ({ verb: 'SLOT', open })),
  fc
    .tuple(fc.constantFrom('STORE' as const, 'RETURN' as const), fc.integer({ min: 1, max: CASH_IN_ID_MAX }))
    .map(([verb, id]): HostMessage => ({ verb, id })),
);

/** Notes largest first, each denomination once, counts 1..countMax: what DEPOSITS and ESCROW carry. */
const heldNotes = (countMax: number, kindsMax: number) =>
  fc
    .uniqueArray(fc.integer({ min: 1, max: 99_999 }), { maxLength: kindsMax })
    .chain((denominations) =>
      fc.tuple(
        ...denominations
          .sort((a, b) => b - a)
          .map((denominationCents) =>
            fc.integer({ min: 1, max: countMax }).map((count) => ({ denominationCents, count })),
          ),
      ),
    );

const deviceMessage: fc.Arbitrary<DeviceMessage> = fc.oneof(
  // Six capabilities of up to six characters with the longest name fill 86 bytes: a HELLO must fit the line [SL-2.3].
  fc
    .tuple(fc.integer({ min: 1, max: 65_535 }), name, fc.array(fc.stringMatching(/^[a-z0-9]{1,6}$/), { maxLength: 6 }))
    .map(([version, device, caps]): DeviceMessage => ({ verb: 'HELLO', version, device, caps })),
  fc.integer({ min: 0, max: SEQUENCE_MAX }).map((seq): DeviceMessage => ({ verb: 'PONG', seq })),
  fc.constantFrom(...KEY_NAMES).map((key): DeviceMessage => ({ verb: 'KEY', key })),
  fc
    .tuple(
      fc.integer({ min: 1, max: DISPENSE_ID_MAX }),
      fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
      fc.constantFrom<DispenseFault | null>(null, 'jam', 'cashLow', 'cannotMake', 'offline', 'hardwareError'),
    )
    .map(([id, dispensedCents, fault]): DeviceMessage => ({ verb: 'DISPENSED', id, dispensedCents, fault })),
  fc
    .array(
      fc
        .tuple(fc.integer({ min: 1, max: 99_999 }), fc.integer({ min: 0, max: 9999 }))
        .map(([denominationCents, count]) => ({ denominationCents, count })),
      { maxLength: 8 },
    )
    .map((cassettes): DeviceMessage => ({ verb: 'CASH', cassettes })),
  fc.constantFrom(...DEVICE_FAULT_NAMES).map((fault): DeviceMessage => ({ verb: 'FAULT', fault })),
  fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }).map((uptimeMs): DeviceMessage => ({ verb: 'HB', uptimeMs })),
  fc
    .tuple(
      fc.integer({ min: 1, max: 999_999 }),
      fc.uniqueArray(fc.integer({ min: 1, max: 99_999 }), { minLength: 1, maxLength: 8 }),
    )
    .map(([capacityNotes, denominations]): DeviceMessage => ({
      verb: 'ACCEPTS',
      capacityNotes,
      denominationsCents: denominations.sort((a, b) => b - a),
    })),
  heldNotes(999, 8).map((notes): DeviceMessage => ({ verb: 'DEPOSITS', notes })), // 8 × 5 digits × 3 digits: 92 bytes
  fc
    .tuple(fc.constantFrom(...ESCROW_SLOTS), fc.integer({ min: 0, max: ESCROW_REJECTED_MAX }), heldNotes(12, 8))
    .map(([slot, rejected, notes]): DeviceMessage => ({ verb: 'ESCROW', slot, rejected, notes })),
  fc
    .tuple(
      fc.integer({ min: 1, max: CASH_IN_ID_MAX }),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.constantFrom(null, ...STORE_FAULTS),
    )
    .map(([id, storedCents, fault]): DeviceMessage => ({ verb: 'STORED', id, storedCents, fault })),
  fc
    .tuple(
      fc.integer({ min: 1, max: CASH_IN_ID_MAX }),
      fc.integer({ min: 0, max: 10_000_000 }),
      fc.constantFrom(null, ...RETURN_FAULTS),
    )
    .map(([id, returnedCents, fault]): DeviceMessage => ({ verb: 'RETURNED', id, returnedCents, fault })),
);

test('property: parse(encode(m)) deep-equals m for every valid message, through any chunking', () => {
  fc.assert(
    fc.property(
      fc.array(hostMessage, { maxLength: 12 }),
      fc.array(deviceMessage, { maxLength: 12 }),
      fc.integer({ min: 1, max: 50 }),
      (hosts, devices, chunkBytes) => {
        for (const [messages, encode, parse] of [
          [hosts, encodeHostMessage, parseHostLine],
          [devices, encodeDeviceMessage, parseDeviceLine],
        ] as [unknown[], (message: unknown) => string, (line: string) => ParsedLine<unknown>][]) {
          const wire = Buffer.from(messages.map((message) => encode(message)).join(''), 'latin1');
          const splitter = new LineSplitter();
          const lines: string[] = [];
          for (let offset = 0; offset < wire.length; offset += chunkBytes)
            lines.push(...splitter.push(wire.subarray(offset, offset + chunkBytes)));
          assert.deepEqual(
            lines.map((line) => parse(line)),
            messages.map((message) => ({ ok: true, message })),
          );
        }
      },
    ),
    { numRuns: 300 },
  );
});

test('property: random strings never make a parser throw; a line that parses is canonical (re-encodes to itself)', () => {
  const verbs = fc.constantFrom(
    'HELLO',
    'PING',
    'LCD',
    'CLEAR',
    'BACKLIGHT',
    'DISPENSE',
    'COUNTS',
    'PONG',
    'KEY',
    'DISPENSED',
    'CASH',
    'FAULT',
    'HB',
    'CASHIN',
    'SLOT',
    'STORE',
    'RETURN',
    'ACCEPTS',
    'DEPOSITS',
    'ESCROW',
    'STORED',
    'RETURNED',
    'NOPE',
  );
  const argument = fc.oneof(
    fc.stringMatching(/^[0-9]{1,4}$/),
    fc.stringMatching(/^[0-9A-Za-z*#:-]{0,12}$/),
    fc.constantFrom('-', 'jam', 'ok', 'ESC', '2000:5', '0', '01', 'OPEN', 'open', 'closed', 'escrowJam', '1000:1'),
  );
  const plausible = fc
    .tuple(verbs, fc.array(argument, { maxLength: 4 }))
    .map(([verb, args]) => signed([verb, ...args].join(' ')));
  const encoded = fc
    .oneof(hostMessage.map(encodeHostMessage), deviceMessage.map(encodeDeviceMessage))
    .map((line) => line.slice(0, -1));
  const anyText = fc.oneof(
    fc.string({ unit: 'binary', maxLength: 120 }),
    printable,
    printable.map(signed),
    plausible,
    encoded,
  );
  let parsedLines = 0;
  fc.assert(
    fc.property(anyText, (line) => {
      const host = parseHostLine(line);
      const device = parseDeviceLine(line);
      if (host.ok) assert.equal(encodeHostMessage(host.message), `${line}\n`);
      if (device.ok) assert.equal(encodeDeviceMessage(device.message), `${line}\n`);
      for (const parsed of [host, device]) if (!parsed.ok) assert.equal(typeof parsed.reason, 'string');
      if (host.ok || device.ok) parsedLines += 1;
    }),
    { numRuns: 3000 },
  );
  assert.ok(parsedLines > 300, `the generator reaches valid lines too (${parsedLines} of 3000)`);
});

test('property: random bytes through the splitter never throw; what comes out is printable and within the limit', () => {
  fc.assert(
    fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 10 }), (chunks) => {
      const splitter = new LineSplitter();
      let newlines = 0;
      for (const chunk of chunks) {
        newlines += chunk.filter((byte) => byte === 0x0a).length;
        for (const line of splitter.push(Buffer.from(chunk))) {
          assert.ok(line.length > 0 && line.length + 1 <= LINE_BYTES_MAX);
          assert.match(line, /^[\x20-\x7e]*$/);
        }
      }
      const { lines, oversize, corrupt } = splitter.stats;
      assert.ok(lines <= newlines && oversize + corrupt <= lines);
    }),
    { numRuns: 500 },
  );
});
