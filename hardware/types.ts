// [Seam] The kiosk's devices. Each interface is the contract for every driver (sim now;
// serial and firmata later): the kiosk never imports a driver, only these types.

import type { Cassette, CashInFault, DeviceState, DispenseFault, KeyName } from '../protocol/index.js';

/** The device vocabulary lives in protocol/devices.ts: the serial line codec speaks it too. */
export type { Cassette, CashInFault, DeviceState, DispenseFault, KeyName };
export { KEY_NAMES } from '../protocol/index.js';

export type Unsubscribe = () => void;

/**
 * A keypad. Contract:
 * - onKey listeners get each press once, in order, after open() resolved and before close().
 * - state() is 'online' when presses can arrive, 'offline' when unplugged (the driver keeps
 *   trying to reconnect and reports 'online' again), 'hardwareError' on a fault.
 * - onState listeners get every change of state(); drivers never throw into listeners.
 * - open() rejects only for a configuration error (bad path); a device that is merely absent
 *   opens as 'offline' and comes online when it appears.
 */
export interface Keypad {
  readonly kind: string;
  open(): Promise<void>;
  close(): Promise<void>;
  state(): DeviceState;
  onKey(listener: (key: KeyName) => void): Unsubscribe;
  onState(listener: (state: DeviceState) => void): Unsubscribe;
}

/**
 * A character display of `rows` × `columns` (e.g. a 20×4 HD44780). Contract:
 * - show(lines) replaces the whole display; lines beyond `rows` are dropped and each line is
 *   cut or padded to `columns`; non-ASCII characters are replaced by '?'.
 * - show() resolves once the device accepted the text; it rejects (never throws synchronously)
 *   when the device is offline, and the caller carries on: the screen is the primary output.
 */
export interface Display {
  readonly kind: string;
  readonly rows: number;
  readonly columns: number;
  open(): Promise<void>;
  close(): Promise<void>;
  state(): DeviceState;
  show(lines: string[]): Promise<void>;
  onState(listener: (state: DeviceState) => void): Unsubscribe;
}

/** dispensedCents is what physically left the machine: it may be less than asked (partial). */
export type DispenseResult =
  { ok: true; dispensedCents: number } | { ok: false; fault: DispenseFault; dispensedCents: number; detail: string };

/**
 * A cash dispenser. Contract:
 * - notesFor(amountCents) is the notes it would use, or null if the cassettes cannot make the
 *   amount exactly; the kiosk checks it before asking the bank for a hold.
 * - dispense(amountCents) resolves (never rejects) with what actually left the machine; a jam
 *   part-way reports the notes already presented. One dispense at a time.
 * - cassettes() reflects every dispense; counts never go negative.
 */
export interface CashDispenser {
  readonly kind: string;
  open(): Promise<void>;
  close(): Promise<void>;
  state(): DeviceState;
  cassettes(): Cassette[];
  notesFor(amountCents: number): Cassette[] | null;
  dispense(amountCents: number): Promise<DispenseResult>;
  onState(listener: (state: DeviceState) => void): Unsubscribe;
  /**
   * A dispenser with a presenter (a shutter and a sensor at the slot): after a dispense that moved
   * notes, resolves 'taken' once the customer took them, or 'retracted' once, timeoutMs after they
   * were presented, it pulled them back into its retract bin; 'nothing' when none are presented.
   * Never rejects. Absent on a dispenser that drops notes into an open tray (it cannot know).
   */
  awaitTake?(timeoutMs: number): Promise<TakeOutcome>;
  /** With a presenter: the notes retracted into its bin since the last replenishment. */
  retractedNotes?(): number;
}

export type TakeOutcome = 'taken' | 'retracted' | 'nothing';

/**
 * What the escrow of a cash-in module holds: the notes counted, by denomination (largest first,
 * only denominations with notes), their total, and how many notes were refused (torn, unknown,
 * counterfeit: handed straight back through the slot, never in the escrow).
 */
export interface EscrowCount {
  notes: Cassette[];
  totalCents: number;
  rejected: number;
}

/** The result of every cash-in step: the escrow as it stands afterwards, and why it failed if it did. */
export type CashInResult =
  { ok: true; escrow: EscrowCount } | { ok: false; fault: CashInFault; detail: string; escrow: EscrowCount };

/**
 * A cash-in module (note acceptor with an escrow), as on a deposit-taking ATM. Notes pass a
 * validator into the escrow, where they wait while the customer confirms and the bank answers;
 * only then are they stored into the cassette (approved) or handed back (cancelled, declined).
 * Contract:
 * - The escrow is physical: it keeps its notes across close()/open() and a power cut, so escrow()
 *   after open() is what a restart must resolve (store or return, as the bank's answer says).
 * - openSlot() lets notes in; each counted or refused note changes escrow() and is heard by onEscrow
 *   listeners; closeSlot() stops that and answers the final count. Notes arrive only while the slot is
 *   open; an escrow holding ESCROW_NOTES_MAX notes refuses more (counted as rejected).
 * - store() moves the whole escrow into the cassette; returnNotes() presents it at the slot and
 *   resolves once the customer took the notes, or with the 'notesNotTaken' fault once they were retained
 *   (pulled back into the retain bin after the take timeout). Both empty the escrow when ok.
 * - Every method resolves (never rejects) with a CashInResult: a fault ('escrowJam', 'cassetteFull',
 *   'cashInOffline', 'cashInFault', 'cashInBusy' for a step while another runs) leaves the escrow as it was,
 *   so the caller can try again or report it; notes are never lost or counted twice.
 * - cassette() is what the deposit cassette holds, per denomination; capacityNotes bounds it.
 * - state() and onState as for the other devices: 'deviceBusy' while the slot is open or notes move.
 */
export interface CashAcceptor {
  readonly kind: string;
  /** Denominations it accepts, largest first: the screen tells the customer. */
  readonly denominationsCents: readonly number[];
  readonly capacityNotes: number;
  open(): Promise<void>;
  close(): Promise<void>;
  state(): DeviceState;
  escrow(): EscrowCount;
  cassette(): Cassette[];
  openSlot(): Promise<CashInResult>;
  closeSlot(): Promise<CashInResult>;
  store(): Promise<CashInResult>;
  returnNotes(): Promise<CashInResult>;
  onEscrow(listener: (escrow: EscrowCount) => void): Unsubscribe;
  onState(listener: (state: DeviceState) => void): Unsubscribe;
}

/** Bounds the escrow, as the mechanism's stack does (a typical escrow holds 30–100 notes). */
export const ESCROW_NOTES_MAX = 50;

/** What the roll holds, as the printer's sensors say: near-end is 'low', end is 'out'. */
export type PaperStatus = 'ok' | 'low' | 'out' | 'unknown';

/** Why a receipt was not printed: stable codes the kiosk may log or report. */
export const PRINT_FAULTS = ['paperOut', 'offline', 'writeFailed', 'timeout'] as const;
export type PrintFault = (typeof PRINT_FAULTS)[number];

export type PrintResult = { ok: true } | { ok: false; fault: PrintFault; detail: string };

/**
 * A receipt printer of `columns` characters a line (42: an 80 mm roll in Epson font A; 32: a
 * 58 mm roll). Contract:
 * - print(lines) resolves (never rejects, never throws) with ok or a fault: a receipt is a
 *   courtesy, so a printer fault must never reach the transaction. Lines are made printable
 *   ASCII (anything else becomes '?'), longer lines are wrapped at `columns`, and a receipt
 *   stops at RECEIPT_LINES_MAX lines (receipt.ts). Receipts print one at a time, in call order.
 * - ok means the printer took the whole receipt and still had paper after it; 'paperOut' means
 *   nothing was printed, or the roll ran out during this receipt; 'offline', 'timeout' and
 *   'writeFailed' mean the receipt may be missing or partial.
 * - state() is the device's ('online', 'offline', 'noDevice' when its port is missing); the
 *   paper is not a state but paper(), as XFS keeps the media status apart from the device's:
 *   a printer out of paper is still online. paper() is 'unknown' while offline.
 * - onState and onPaper listeners hear every change; drivers never throw into listeners.
 * - open() rejects only for a configuration error; an absent printer opens 'offline' and comes
 *   online when it appears.
 */
export interface ReceiptPrinter {
  readonly kind: string;
  readonly columns: number;
  open(): Promise<void>;
  close(): Promise<void>;
  state(): DeviceState;
  paper(): PaperStatus;
  print(lines: readonly string[]): Promise<PrintResult>;
  onState(listener: (state: DeviceState) => void): Unsubscribe;
  onPaper(listener: (paper: PaperStatus) => void): Unsubscribe;
}

export interface Devices {
  keypad: Keypad;
  display: Display;
  dispenser: CashDispenser;
  /** Absent on a kiosk without a cash-in module: it takes typed (envelope) deposits. */
  acceptor?: CashAcceptor;
  /** Absent: receipts go to the controller's receipts file. */
  printer?: ReceiptPrinter;
}
