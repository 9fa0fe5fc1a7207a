// The Firmata driver's cash dispenser (firmata.ts explains the driver): the cassettes are the
// sim dispenser's model, online with the board, and each note may pulse a relay pin.
import type { FirmataBoardLink } from './firmata-link.js';
import { SimDispenser } from './sim.js';
import type { CashDispenser, Cassette, DeviceState, DispenseResult, Unsubscribe } from './types.js';

/**
 * The cash dispenser: simulated cassettes (the counts live in software, as in sim.ts), online
 * with the board. With a relay pin, each note is a pulse on it before the notes count as
 * presented; the relay gives no feedback, so a jam is only the test power jamNext().
 */
export class FirmataDispenser implements CashDispenser {
  readonly kind = 'firmata';
  /** The cassette model and its test powers: jamNext(), clearJam(), setCassettes(), isLow(). */
  readonly cassetteModel: SimDispenser;
  private opened = false;
  private unsubscribe: Unsubscribe = () => undefined;
  private notesToPulse = 0;

  constructor(
    private readonly link: FirmataBoardLink,
    options: { cassettes?: readonly Cassette[]; lowCashCount?: number } = {},
  ) {
    this.cassetteModel = new SimDispenser({
      cassettes: options.cassettes,
      lowCashCount: options.lowCashCount,
      // SimDispenser waits its delay once per dispense: with a relay, that wait is the pulses.
      delayMs: link.settings.relayPin === null ? 0 : 1,
      sleep: () => this.pulseNotes(),
    });
    this.cassetteModel.unplug();
  }

  async open(): Promise<void> {
    if (this.opened) return;
    this.opened = true;
    this.unsubscribe = this.link.onOnline((online) =>
      online ? this.cassetteModel.replug() : this.cassetteModel.unplug(),
    );
    await this.link.acquire();
    if (this.link.online) this.cassetteModel.replug();
    else this.cassetteModel.unplug();
    await this.cassetteModel.open();
  }

  async close(): Promise<void> {
    if (!this.opened) return;
    this.opened = false;
    this.unsubscribe();
    await this.cassetteModel.close();
    await this.link.release();
  }

  state(): DeviceState {
    return this.cassetteModel.state();
  }

  cassettes(): Cassette[] {
    return this.cassetteModel.cassettes();
  }

  notesFor(amountCents: number): Cassette[] | null {
    return this.cassetteModel.notesFor(amountCents);
  }

  isLow(): boolean {
    return this.cassetteModel.isLow();
  }

  async dispense(amountCents: number): Promise<DispenseResult> {
    // A second dispense during one is refused by the model; it must not change the pulses in progress.
    if (this.state() !== 'deviceBusy')
      this.notesToPulse = (this.notesFor(amountCents) ?? []).reduce((sum, notes) => sum + notes.count, 0);
    return this.cassetteModel.dispense(amountCents);
  }

  onState(listener: (state: DeviceState) => void): Unsubscribe {
    return this.cassetteModel.onState(listener);
  }

  private async pulseNotes(): Promise<void> {
    const { relayPin: pin, relayPulseMs, relayGapMs } = this.link.settings;
    for (let note = 0; note < this.notesToPulse && pin !== null; note += 1) {
      const connection = this.link.current;
      if (connection === null) throw new Error(`the board went offline after ${note} relay pulses`);
      connection.io.digitalWrite(pin, 1);
      await this.link.settle(connection, relayPulseMs);
      connection.io.digitalWrite(pin, 0);
      await this.link.settle(connection, relayGapMs);
    }
  }
}
