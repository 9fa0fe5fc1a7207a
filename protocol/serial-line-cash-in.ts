// [SL-3.8]–[SL-3.10], [SL-4.10]–[SL-4.13] The cash-in module's verbs (a note acceptor with an
// escrow and a deposit cassette), spoken only with a device whose HELLO names `cashin`: their
// parsers (never throw, as every verb's) and their encoders (assert, as every encoder does).
// The escrow travels as a full snapshot after every change, never as a delta, so a line lost to
// noise is repaired by the next one.
import { assert } from './assert.js';
import type { Cassette } from './devices.js';
import { descending, integer, noArguments, notePairs, split, type Handler } from './serial-line-fields.js';
import {
  CASH_IN_ID_MAX,
  DEPOSIT_CAPACITY_MAX,
  ESCROW_LINE_NOTES_MAX,
  ESCROW_REJECTED_MAX,
  ESCROW_SLOTS,
  NOTE_KINDS_MAX,
  RETURN_FAULTS,
  STORE_FAULTS,
  isIn,
  type CashInDeviceMessage,
  type CashInHostMessage,
} from './serial-line-spec.js';

const idOnly =
  (verb: 'STORE' | 'RETURN'): Handler<CashInHostMessage> =>
  (rest) => {
    const id = integer(split(rest, 1)?.[0], 1, CASH_IN_ID_MAX);
    return Number.isNaN(id) ? `expects one id 1..${CASH_IN_ID_MAX}` : { verb, id };
  };

export const CASH_IN_HOST_HANDLERS: Record<string, Handler<CashInHostMessage>> = {
  CASHIN: noArguments<CashInHostMessage>({ verb: 'CASHIN' }),
  SLOT: (rest) =>
    rest === 'OPEN' || rest === 'CLOSE' ? { verb: 'SLOT', open: rest === 'OPEN' } : 'expects OPEN or CLOSE',
  STORE: idOnly('STORE'),
  RETURN: idOnly('RETURN'),
};

/** Notes largest first, each denomination once, counts 1..countMax: DEPOSITS and ESCROW. */
function heldNotes(fields: readonly string[], countMax: number): Cassette[] | null {
  if (fields.length > NOTE_KINDS_MAX) return null;
  const notes = notePairs(fields, 1, countMax);
  return notes !== null && descending(notes.map((note) => note.denominationCents)) ? notes : null;
}

/** STORED and RETURNED: `id cents fault`, the fault one of the verb's own or '-'. */
function movement<F extends string>(fields: string | null, faults: readonly F[]) {
  const parts = split(fields, 3);
  const id = integer(parts?.[0], 1, CASH_IN_ID_MAX);
  const cents = integer(parts?.[1], 0, Number.MAX_SAFE_INTEGER);
  const faultText = parts?.[2] ?? '';
  const fault = faultText === '-' ? null : faults.find((name) => name === faultText);
  if (Number.isNaN(id) || Number.isNaN(cents) || fault === undefined) return 'expects id, cents and a fault or -';
  return { id, cents, fault };
}

export const CASH_IN_DEVICE_HANDLERS: Record<string, Handler<CashInDeviceMessage>> = {
  ACCEPTS: (rest) => {
    const [capacity, ...denominations] = rest === null ? [] : rest.split(' ');
    const capacityNotes = integer(capacity, 1, DEPOSIT_CAPACITY_MAX);
    const denominationsCents = denominations.map((text) => integer(text, 1, Number.MAX_SAFE_INTEGER));
    const valid =
      !Number.isNaN(capacityNotes) &&
      denominationsCents.length >= 1 &&
      denominationsCents.length <= NOTE_KINDS_MAX &&
      denominationsCents.every((cents) => !Number.isNaN(cents)) &&
      descending(denominationsCents);
    return valid
      ? { verb: 'ACCEPTS', capacityNotes, denominationsCents }
      : `expects capacityNotes and 1..${NOTE_KINDS_MAX} denominations, largest first`;
  },
  DEPOSITS: (rest) => {
    const notes = heldNotes(rest === null ? [] : rest.split(' '), DEPOSIT_CAPACITY_MAX);
    return notes === null ? 'expects denominationCents:count pairs, largest first' : { verb: 'DEPOSITS', notes };
  },
  ESCROW: (rest) => {
    const [slotText, rejectedText, ...pairs] = rest === null ? [] : rest.split(' ');
    const slot = ESCROW_SLOTS.find((name) => name === slotText);
    const rejected = integer(rejectedText, 0, ESCROW_REJECTED_MAX);
    const notes = heldNotes(pairs, ESCROW_LINE_NOTES_MAX);
    if (slot === undefined || Number.isNaN(rejected) || notes === null)
      return 'expects slot, rejected and denominationCents:count pairs, largest first';
    if (notes.reduce((sum, note) => sum + note.count, 0) > ESCROW_LINE_NOTES_MAX)
      return `more than ${ESCROW_LINE_NOTES_MAX} notes`;
    return { verb: 'ESCROW', slot, rejected, notes };
  },
  STORED: (rest) => {
    const moved = movement(rest, STORE_FAULTS);
    return typeof moved === 'string'
      ? moved
      : { verb: 'STORED', id: moved.id, storedCents: moved.cents, fault: moved.fault };
  },
  RETURNED: (rest) => {
    const moved = movement(rest, RETURN_FAULTS);
    return typeof moved === 'string'
      ? moved
      : { verb: 'RETURNED', id: moved.id, returnedCents: moved.cents, fault: moved.fault };
  },
};

export function encodeCashInHost(message: CashInHostMessage): string {
  switch (message.verb) {
    case 'CASHIN':
      return 'CASHIN';
    case 'SLOT':
      return `SLOT ${message.open ? 'OPEN' : 'CLOSE'}`;
    case 'STORE':
    case 'RETURN':
      assert(isIn(message.id, 1, CASH_IN_ID_MAX), `${message.verb} id`);
      return `${message.verb} ${message.id}`;
    default: {
      const exhaustive: never = message;
      return exhaustive;
    }
  }
}

function pairs(notes: readonly Cassette[], countMax: number): string[] {
  assert(notes.length <= NOTE_KINDS_MAX, `at most ${NOTE_KINDS_MAX} kinds of note`);
  assert(
    notes.every((note) => isIn(note.denominationCents, 1, Number.MAX_SAFE_INTEGER) && isIn(note.count, 1, countMax)),
    'notes: denominations ≥ 1, counts in range',
  );
  assert(descending(notes.map((note) => note.denominationCents)), 'notes largest first, each once');
  return notes.map((note) => `${note.denominationCents}:${note.count}`);
}

/** The line's body (without checksum); serial-line.ts frames it. */
export function encodeCashInDevice(message: CashInDeviceMessage): string {
  switch (message.verb) {
    case 'ACCEPTS':
      assert(isIn(message.capacityNotes, 1, DEPOSIT_CAPACITY_MAX), 'ACCEPTS capacityNotes');
      assert(
        message.denominationsCents.length >= 1 &&
          message.denominationsCents.length <= NOTE_KINDS_MAX &&
          message.denominationsCents.every((cents) => isIn(cents, 1, Number.MAX_SAFE_INTEGER)) &&
          descending(message.denominationsCents),
        'ACCEPTS denominations',
      );
      return ['ACCEPTS', message.capacityNotes, ...message.denominationsCents].join(' ');
    case 'DEPOSITS':
      return ['DEPOSITS', ...pairs(message.notes, DEPOSIT_CAPACITY_MAX)].join(' ');
    case 'ESCROW':
      assert(ESCROW_SLOTS.includes(message.slot), 'ESCROW slot');
      assert(isIn(message.rejected, 0, ESCROW_REJECTED_MAX), 'ESCROW rejected');
      assert(message.notes.reduce((sum, note) => sum + note.count, 0) <= ESCROW_LINE_NOTES_MAX, 'ESCROW notes');
      return ['ESCROW', message.slot, message.rejected, ...pairs(message.notes, ESCROW_LINE_NOTES_MAX)].join(' ');
    case 'STORED':
    case 'RETURNED': {
      const cents = message.verb === 'STORED' ? message.storedCents : message.returnedCents;
      const faults: readonly string[] = message.verb === 'STORED' ? STORE_FAULTS : RETURN_FAULTS;
      assert(
        isIn(message.id, 1, CASH_IN_ID_MAX) && isIn(cents, 0, Number.MAX_SAFE_INTEGER),
        `${message.verb} id/cents`,
      );
      assert(message.fault === null || faults.includes(message.fault), `${message.verb} fault`);
      return `${message.verb} ${message.id} ${cents} ${message.fault ?? '-'}`;
    }
    default: {
      const exhaustive: never = message;
      return exhaustive;
    }
  }
}
