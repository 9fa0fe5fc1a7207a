// The one catalogue of stable codes: every string that names an outcome a person, a log, the CLI's
// JSON or telemetry may see. Each group below is a list, and `Code` is the union of them all, so an
// AtmError, a decline, a close reason or a dispense fault can only carry a code that is here. The
// const objects elsewhere (DeclineCode, ClientError, KeystoreError, ...) are views onto these lists
// (`satisfies` keeps them honest); test/protocol/errors.test.ts checks every code is unique and has one row
// in PROTOCOL.md's tables ([ATM-4.7], [ATM-4.8], [ATM-4.12]).

export const CODE_GROUPS = {
  /** [ATM-4.7] The bank's answers to a request it refuses (DESIGN §2 plus UNKNOWN_TXN, BAD_REQUEST). */
  decline: [
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
    'UNKNOWN_TXN',
    'BAD_REQUEST',
  ],
  /** [ATM-4.8] Why a secure session closed; logged and sent to telemetry, never to the peer. */
  sessionClose: [
    'FRAME_LENGTH',
    'VERSION',
    'RECORD_TYPE',
    'BAD_MAC',
    'HANDSHAKE',
    'REPLAYED_HELLO',
    'STALE_TIMESTAMP',
    'RATE_LIMITED',
    'TIMEOUT',
    'TRUNCATED',
    'PEER_CLOSED',
    'SEQUENCE_LIMIT',
    'LIFETIME',
    'BAD_MESSAGE',
    'SOCKET',
    'LOCAL_CLOSE',
    'EVICTED',
  ],
  /** [ATM-4.12] The kiosk side of a session (protocol/client.ts). */
  client: ['BANK_UNREACHABLE', 'HANDSHAKE_FAILED', 'SESSION_CLOSED', 'REQUEST_TIMEOUT', 'BAD_RESPONSE'],
  /** [ATM-4.12] The bank's keystore and kiosk key files (bank/key-store.ts). */
  keystore: [
    'KEYSTORE_MISSING',
    'KEYSTORE_CORRUPT',
    'KIOSK_EXISTS',
    'KIOSK_UNKNOWN',
    'INVALID_KIOSK_ID',
    'FILE_EXISTS',
    'KEY_FILE_INVALID',
    'KEY_FILE_MODE',
  ],
  /** [ATM-4.12] Choosing and opening devices (hardware/factory.ts, hardware/serial.ts). */
  device: ['UNKNOWN_DEVICE_DRIVER', 'BAD_DEVICE_SPEC', 'BAD_SERIAL_PATH'],
  /** [ATM-4.12] Flashing firmware onto a board (hardware/flash.ts). */
  flash: ['AVRDUDE_MISSING', 'HEX_MISSING', 'HEX_HASH_MISMATCH', 'FLASH_FAILED', 'BAD_BOARD'],
  /** [ATM-4.12] Why a dispenser gave out less than asked (protocol/devices.ts; the serial line's words). */
  dispenseFault: ['jam', 'cashLow', 'cannotMake', 'offline', 'hardwareError'],
  /** [ATM-4.12] Why the cash-in module could not count, store or return notes (protocol/devices.ts). */
  cashInFault: ['escrowJam', 'cassetteFull', 'notesNotTaken', 'cashInOffline', 'cashInFault', 'cashInBusy'],
  /** [ATM-4.12] The kiosk's own journal (kiosk/journal.ts). */
  journal: ['JOURNAL_CORRUPT'],
  /** [ATM-4.12] Telemetry's MQTT encoder (telemetry/mqtt-publish.ts). */
  telemetry: ['MQTT_ENCODE'],
  /** [ATM-4.12] The ledger's PostgreSQL store (bank/pg-store.ts, bank/pg-schema.ts). */
  store: ['STORE_UNAVAILABLE', 'STORE_SCHEMA'],
  /** [ATM-4.12] The command line and process start (bin/). */
  command: [
    'USAGE',
    'PORT_IN_USE',
    'MQTT_PORT_IN_USE',
    'DATA_DIR_IN_USE',
    'DATA_DIR_UNUSABLE',
    'FIRMWARE_SIM_START_FAILED',
  ],
} as const;

export type CodeGroup = keyof typeof CODE_GROUPS;
/** The codes of one group. */
export type CodeOf<Group extends CodeGroup> = (typeof CODE_GROUPS)[Group][number];
/** Every stable code there is. */
export type Code = CodeOf<CodeGroup>;

/** `{ X: 'X', ... }` for a group whose names are their own keys, so call sites read `DeclineCode.BUSY`. */
function selfNamed<Group extends CodeGroup>(group: Group): { readonly [K in CodeOf<Group>]: K } {
  return Object.freeze(Object.fromEntries(CODE_GROUPS[group].map((code) => [code, code]))) as {
    readonly [K in CodeOf<Group>]: K;
  };
}

export const DeclineCode = selfNamed('decline');
export type DeclineCode = CodeOf<'decline'>;

export const SessionCloseReason = selfNamed('sessionClose');
export type SessionCloseReason = CodeOf<'sessionClose'>;

export type DispenseFault = CodeOf<'dispenseFault'>;
export const DISPENSE_FAULTS: readonly DispenseFault[] = CODE_GROUPS.dispenseFault;
export type CashInFault = CodeOf<'cashInFault'>;
export const CASH_IN_FAULTS: readonly CashInFault[] = CODE_GROUPS.cashInFault;

export function isCodeOf<Group extends CodeGroup>(group: Group, value: unknown): value is CodeOf<Group> {
  return typeof value === 'string' && (CODE_GROUPS[group] as readonly string[]).includes(value);
}

export function isDeclineCode(value: unknown): value is DeclineCode {
  return isCodeOf('decline', value);
}
