// [ATM-4] The message parsers under fuzzing, both sides: the bank's parseRequest and the kiosk's
// parseResponseTo. Inputs are arbitrary bytes, arbitrary JSON, and JSON text written token by
// token (so it can hold what JSON.stringify never writes: 1e400, -0, 1.0, duplicate keys,
// __proto__, NaN and 0x10 that are not JSON at all), over the 4096-byte limit or not. Properties:
// nothing is thrown; each parser takes exactly what PROTOCOL.md's rules (fuzz-messages-spec.ts)
// take; a refused request gets the decline [ATM-4.6] names; and an amount that passed the schema
// moves money at the bank's boundary (bank/ledger.ts) only when it is integer cents in range, by
// exactly that many cents.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decideDeposit, decideHold, decidePost, DEFAULT_LIMITS, utcDay } from '../../bank/ledger.js';
import { badRequestCode } from '../../bank/server-limits.js';
import type { Account, TxnRecord } from '../../bank/types.js';
import { CODE_GROUPS } from '../../protocol/codes.js';
import { parseRequest, type Request, type RequestOp } from '../../protocol/messages.js';
import { parseResponseTo } from '../../protocol/responses.js';
import { checkProperty, fuzzSeed, splitRuns, type FuzzOptions } from './fuzz-core.js';
import {
  APPROVAL_FIELDS,
  DEVICE_STATE_NAMES,
  REQUEST_FIELDS,
  REQUEST_OPS,
  amountValid,
  expectedDecline,
  requestVerdict,
  responseAccepted,
  type RequestFieldKind,
  type ResponseFieldKind,
} from './fuzz-messages-spec.js';

export interface MessageFuzzCounts {
  runs: number;
  requests: number;
  responses: number;
  accepted: number;
  refused: number;
  /** Parsed money requests whose amount went through the bank's ledger decision. */
  amountsDecided: number;
}

const T0_MS = Date.UTC(2026, 10, 27, 12, 0, 0);

/** Raw JSON number text, hostile and not; some of it is not JSON at all. */
const numberToken = fc.oneof(
  fc.integer({ min: 1, max: 1_000_000 }).map(String),
  fc.integer().map(String),
  fc.double().map((value) => (Number.isFinite(value) ? String(value) : '1e400')),
  fc.constantFrom('0', '-0', '1', '-1', '0.5', '1.0', '1e2', '1E2', '1e-2', '100.00', '1e400', '-1e400'),
  fc.constantFrom('9007199254740991', '9007199254740992', '9007199254740993', '10000000000', '10000000001'),
  fc.constantFrom('99999999999999999999', 'NaN', 'Infinity', '-Infinity', '0x10', '01', '+1', '.5', '5.'),
);
/** Strings just under, at and just over a kind's limits ([ATM-4.3]), of characters a txnId may hold. */
const atLimits = (...lengths: number[]): fc.Arbitrary<string> =>
  fc
    .constantFrom(...lengths.flatMap((length) => [length - 1, length, length + 1]))
    .chain((length) =>
      fc.string({ unit: fc.constantFrom('a', 'Z', '0', '9', '_', '-'), minLength: length, maxLength: length }),
    )
    .map((text) => JSON.stringify(text));

const stringToken = fc.oneof(
  fc
    .oneof(
      fc.string({ maxLength: 80 }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.stringMatching(/^[A-Za-z0-9_-]{6,66}$/),
      fc.constantFrom('', 'toString', '__proto__', 'online', 'offline'),
    )
    .map((text) => JSON.stringify(text)),
  atLimits(8, 43, 64, 256, 1024),
);
const otherToken = fc.oneof(
  fc.constantFrom('null', 'true', 'false', '[]', '{}', '[1,2]', '{"a":1}', '"\\u0000"', '{"__proto__":1}'),
  fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value)),
);
const anyToken = fc.oneof(numberToken, stringToken, otherToken);

const cassetteToken = fc
  .array(
    fc.oneof(
      fc.record({ denominationCents: fc.integer({ min: -5, max: 10_000 }), count: fc.integer({ min: -2, max: 500 }) }),
      fc.jsonValue({ maxDepth: 1 }),
    ),
    { maxLength: 10 },
  )
  .map((cassettes) => JSON.stringify(cassettes));

/** A token that is valid for the kind most of the time, at its limits often, and hostile otherwise. */
const REQUEST_TOKENS: Record<RequestFieldKind, fc.Arbitrary<string>> = {
  username: fc.oneof(
    fc.stringMatching(/^[a-z0-9._-]{3,32}$/).map((text) => JSON.stringify(text)),
    atLimits(64),
  ),
  password: fc.oneof(
    fc.string({ minLength: 8, maxLength: 72 }).map((text) => JSON.stringify(text)),
    atLimits(1024),
  ),
  txnId: fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/).map((text) => JSON.stringify(text)),
    atLimits(8, 64),
  ),
  cents: numberToken,
  reason: fc.oneof(stringToken, atLimits(256)),
  token: fc.oneof(
    fc.stringMatching(/^[A-Za-z0-9_-]{43}$/).map((text) => JSON.stringify(text)),
    atLimits(43),
  ),
  deviceState: fc.oneof(
    fc.constantFrom(...DEVICE_STATE_NAMES).map((text) => JSON.stringify(text)),
    stringToken,
  ),
  cassettes: cassetteToken,
};

const STRAY_KEYS = ['__proto__', 'constructor', 'extra', 'ID', 'amountCents', 'txnId', 'username', 'reason'];
const FAKE_OPS = ['transfer', '__proto__', 'toString', 'constructor', 'hasOwnProperty', '', 'Deposit'];

/** The key/token pairs of a request-like object, in order (a key may repeat: the last one wins). */
function requestEntries(op: string): fc.Arbitrary<[string, string][]> {
  const fields = Object.hasOwn(REQUEST_FIELDS, op) ? Object.entries(REQUEST_FIELDS[op as RequestOp]) : [];
  const fieldEntry = ([field, kind]: [string, RequestFieldKind]): fc.Arbitrary<[string, string][]> =>
    fc.oneof(
      { weight: 6, arbitrary: REQUEST_TOKENS[kind].map((token): [string, string][] => [[field, token]]) },
      { weight: 1, arbitrary: anyToken.map((token): [string, string][] => [[field, token]]) },
      { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    );
  const idToken = fc.oneof(
    { weight: 6, arbitrary: fc.nat().map(String) },
    { weight: 1, arbitrary: fc.constantFrom('-1', '1.5', '"1"', 'null', '9007199254740992', '1e400', '0') },
  );
  return fc
    .tuple(
      fc.option(idToken, { freq: 12 }),
      fc.option(fc.constant(JSON.stringify(op)), { freq: 12 }),
      fc.tuple(...fields.map(fieldEntry)),
      fc.oneof(
        { weight: 3, arbitrary: fc.constant<[string, string][]>([]) },
        { weight: 1, arbitrary: fc.array(fc.tuple(fc.constantFrom(...STRAY_KEYS), anyToken), { maxLength: 2 }) },
      ),
      fc.boolean(),
    )
    .map(([id, opToken, fieldParts, strays, straysFirst]) => {
      const head: [string, string][] = [];
      if (id !== null) head.push(['id', id]);
      if (opToken !== null) head.push(['op', opToken]);
      const body = fieldParts.flat();
      return [...head, ...(straysFirst ? [...strays, ...body] : [...body, ...strays])];
    });
}

const objectText = (entries: readonly [string, string][], padBytes: number): string =>
  `{${' '.repeat(padBytes)}${entries.map(([key, token]) => `${JSON.stringify(key)}:${token}`).join(',')}}`;

const requestText = fc
  .oneof(
    { weight: 4, arbitrary: fc.constantFrom<string>('deposit', 'withdraw.hold', 'withdraw.post') },
    { weight: 4, arbitrary: fc.constantFrom<string>(...REQUEST_OPS) },
    fc.constantFrom(...FAKE_OPS),
    fc.string(),
  )
  .chain((op) =>
    fc.tuple(
      requestEntries(op),
      fc.oneof(
        { weight: 9, arbitrary: fc.constant(0) },
        { weight: 1, arbitrary: fc.integer({ min: 3900, max: 4200 }) },
      ),
    ),
  )
  .map(([entries, padBytes]) => objectText(entries, padBytes));

/** An account that can take a deposit, a hold, and has a hold of 100.00 to post. */
const ACCOUNT: Account = {
  username: 'fuzz-user',
  passwordHash: '$2b$04$fuzz',
  balanceCents: 5_000_00,
  heldCents: 100_00,
  failedLogins: 0,
  lockedUntilMs: 0,
  withdrawnDay: utcDay(T0_MS),
  withdrawnTodayCents: 100_00,
  createdAtMs: T0_MS,
};
const HOLD: TxnRecord = {
  txnId: 'fuzz-hold-0001',
  kind: 'withdraw',
  username: ACCOUNT.username,
  kioskId: 'kiosk-01',
  amountCents: 100_00,
  postedCents: 0,
  state: 'held',
  createdAtMs: T0_MS,
  response: { ok: true, txnId: 'fuzz-hold-0001', heldCents: 100_00, holdExpiresAt: new Date(T0_MS).toISOString() },
};

/** At the bank's boundary, an amount that passed the schema moves money only if it is valid. */
function decideAmount(request: Request): boolean {
  switch (request.op) {
    case 'deposit': {
      const decision = decideDeposit(ACCOUNT, request.amountCents, DEFAULT_LIMITS);
      if (!amountValid(request.amountCents))
        assert.ok(!decision.ok && decision.code === 'INVALID_AMOUNT', `deposit of ${request.amountCents} not refused`);
      else if (decision.ok) assert.equal(decision.account.balanceCents, ACCOUNT.balanceCents + request.amountCents);
      else assert.equal(decision.code, 'LIMIT_EXCEEDED');
      return true;
    }
    case 'withdraw.hold': {
      const decision = decideHold(ACCOUNT, request.amountCents, DEFAULT_LIMITS, T0_MS);
      if (!amountValid(request.amountCents))
        assert.ok(!decision.ok && decision.code === 'INVALID_AMOUNT', `hold of ${request.amountCents} not refused`);
      else if (decision.ok) assert.equal(decision.account.heldCents, ACCOUNT.heldCents + request.amountCents);
      else assert.ok(decision.code === 'LIMIT_EXCEEDED' || decision.code === 'INSUFFICIENT_FUNDS');
      return true;
    }
    case 'withdraw.post': {
      const decision = decidePost(ACCOUNT, HOLD, request.dispensedCents, T0_MS);
      const valid = amountValid(request.dispensedCents) && request.dispensedCents <= HOLD.amountCents;
      assert.equal(decision.ok, valid, `post of ${request.dispensedCents}`);
      if (decision.ok) assert.equal(decision.account.balanceCents, ACCOUNT.balanceCents - request.dispensedCents);
      else assert.equal(decision.code, 'INVALID_AMOUNT');
      return true;
    }
    default:
      return false;
  }
}

/** parseRequest against the reference, for one text. */
function checkRequest(text: string, counts: MessageFuzzCounts): void {
  const verdict = requestVerdict(text);
  const parsed = parseRequest(Buffer.from(text, 'utf8'));
  counts.requests += 1;
  assert.equal(parsed.ok, verdict.ok, `parseRequest ${parsed.ok ? 'took' : 'refused'} ${text.slice(0, 200)}`);
  if (!parsed.ok) {
    counts.refused += 1;
    assert.equal(parsed.id, verdict.id, 'the id a refusal echoes');
    const decline = expectedDecline(verdict);
    if (decline !== null) assert.equal(badRequestCode(parsed), decline, `decline for ${parsed.reason}`);
    return;
  }
  counts.accepted += 1;
  if (decideAmount(parsed.request)) counts.amountsDecided += 1;
}

const responseOp = fc.constantFrom<RequestOp>(...REQUEST_OPS);

/** A statement's list: mostly well formed (so ordering and the limit are what decides), sometimes not. */
const statementToken = fc
  .array(
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.record({
          txnId: fc.oneof(fc.stringMatching(/^[A-Za-z0-9_-]{8,64}$/), fc.constantFrom('', 'short', 'a!b-cdefgh')),
          kind: fc.constantFrom('deposit', 'withdraw', 'held', ''),
          amountCents: fc.oneof(fc.integer({ min: 1, max: 100_000 }), fc.constantFrom(0, -1, 1.5)),
          state: fc.constantFrom('posted', 'posted', 'held', 'voided'),
          atMs: fc.oneof(fc.integer({ min: 0, max: 4102444800000 }), fc.constantFrom(-1, 0.5)),
        }),
      },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 1 }) },
    ),
    { maxLength: 12 },
  )
  .map((entries) => {
    // Sorted newest first most of the time, so order is not the only thing ever refused.
    const sorted = entries.every((entry) => typeof entry === 'object' && entry !== null && 'atMs' in entry)
      ? [...(entries as { atMs: number }[])].sort((a, b) => b.atMs - a.atMs)
      : entries;
    return JSON.stringify(sorted);
  });

const RESPONSE_TOKENS: Record<ResponseFieldKind, fc.Arbitrary<string>> = {
  text: fc.oneof(
    fc.stringMatching(/^[a-z0-9._-]{1,20}$/).map((text) => JSON.stringify(text)),
    stringToken,
  ),
  cents: numberToken,
  centsOrZero: numberToken,
  isoTime: fc.oneof(
    fc.integer({ min: 0, max: 4102444800000 }).map((ms) => JSON.stringify(new Date(ms).toISOString())),
    fc.constantFrom('"2026-13-01T00:00:00Z"', '"yesterday"', '""', '"2026-11-27"'),
    anyToken,
  ),
  statement: fc.oneof({ weight: 4, arbitrary: statementToken }, { weight: 1, arbitrary: anyToken }),
};

const declineCode = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom(...CODE_GROUPS.decline).map((code) => JSON.stringify(code)) },
  { weight: 1, arbitrary: fc.constantFrom('"BAD_MAC"', '"toString"', '"NOPE"', 'null', '1') },
);

function responseEntries(op: RequestOp): fc.Arbitrary<[string, string][]> {
  const schema = APPROVAL_FIELDS[op];
  const fields = [...Object.entries(schema.required), ...Object.entries(schema.optional ?? {})];
  const fieldEntry = ([field, kind]: [string, ResponseFieldKind]): fc.Arbitrary<[string, string][]> =>
    fc.oneof(
      { weight: 6, arbitrary: RESPONSE_TOKENS[kind].map((token): [string, string][] => [[field, token]]) },
      { weight: 1, arbitrary: fc.constant<[string, string][]>([]) },
    );
  return fc
    .tuple(
      fc.oneof({ weight: 8, arbitrary: fc.integer().map(String) }, { weight: 1, arbitrary: anyToken }),
      fc.oneof({ weight: 4, arbitrary: fc.constantFrom('true', 'false') }, { weight: 1, arbitrary: anyToken }),
      fc.tuple(...fields.map(fieldEntry)),
      declineCode,
      fc.option(stringToken, { freq: 8 }),
    )
    .map(([id, ok, fieldParts, code, message]) => {
      const entries: [string, string][] = [
        ['id', id],
        ['ok', ok],
      ];
      if (ok === 'false')
        entries.push(['code', code], ...(message === null ? [] : [['message', message] as [string, string]]));
      else entries.push(...fieldParts.flat());
      return entries;
    });
}

const responseCase = responseOp.chain((op) =>
  responseEntries(op).map((entries) => ({ op, text: objectText(entries, 0) })),
);

/** parseResponseTo against the reference, for one text. */
function checkResponse(op: RequestOp, text: string, counts: MessageFuzzCounts): void {
  const parsed = parseResponseTo(op, Buffer.from(text, 'utf8'));
  counts.responses += 1;
  assert.equal(parsed.ok, responseAccepted(op, text), `parseResponseTo(${op}) on ${text.slice(0, 200)}`);
  if (!parsed.ok) {
    counts.refused += 1;
    return;
  }
  counts.accepted += 1;
  // Stated once more where it matters: every amount the kiosk takes is whole, non-negative cents.
  const record = parsed.response as unknown as Record<string, unknown>;
  for (const field of ['balanceCents', 'heldCents', 'postedCents'])
    if (record.ok === true && field in record)
      assert.ok(Number.isSafeInteger(record[field]) && (record[field] as number) >= 0);
}

/** [ATM-4] fuzzing of parseRequest (bank side) and parseResponseTo (kiosk side). */
export function runMessageFuzz(options: FuzzOptions): MessageFuzzCounts {
  const seed = fuzzSeed(options.seed);
  const counts: MessageFuzzCounts = { runs: 0, requests: 0, responses: 0, accepted: 0, refused: 0, amountsDecided: 0 };
  const runs = splitRuns(options.runs, { requests: 4, responses: 3, anyJson: 2, bytes: 1 });
  const run =
    <T>(check: (value: T) => void) =>
    (value: T) => {
      counts.runs += 1;
      check(value);
    };
  checkProperty(
    'messages: parseRequest takes exactly the requests [ATM-4.3] allows',
    fc.property(
      requestText,
      run((text: string) => checkRequest(text, counts)),
    ),
    runs.requests,
    seed,
  );
  checkProperty(
    'messages: parseResponseTo takes exactly the responses [ATM-4.4] allows',
    fc.property(
      responseCase,
      run(({ op, text }: { op: RequestOp; text: string }) => checkResponse(op, text, counts)),
    ),
    runs.responses,
    seed,
  );
  checkProperty(
    'messages: any JSON value, both parsers',
    fc.property(
      fc.tuple(fc.jsonValue(), responseOp),
      run(([value, op]: [unknown, RequestOp]) => {
        const text = JSON.stringify(value);
        checkRequest(text, counts);
        checkResponse(op, text, counts);
      }),
    ),
    runs.anyJson,
    seed,
  );
  checkProperty(
    'messages: arbitrary bytes, both parsers',
    fc.property(
      fc.tuple(fc.uint8Array({ maxLength: 5000 }), responseOp),
      run(([bytes, op]: [Uint8Array, RequestOp]) => {
        const text = Buffer.from(bytes).toString('utf8');
        const verdicts = [
          [parseRequest(bytes).ok, requestVerdict(text).ok],
          [parseResponseTo(op, bytes).ok, responseAccepted(op, text)],
        ];
        for (const [parsed, expected] of verdicts) {
          assert.equal(parsed, expected, `on bytes ${Buffer.from(bytes).toString('hex').slice(0, 200)}`);
          if (parsed === true) counts.accepted += 1;
          else counts.refused += 1;
        }
        counts.requests += 1;
        counts.responses += 1;
      }),
    ),
    runs.bytes,
    seed,
  );
  return counts;
}
