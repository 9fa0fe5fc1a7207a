// Runs the kiosk: feeds key presses, time, link and device changes into the pure flow
// (flow.ts), carries out the effects it asks for (bank requests, the two-phase withdrawal
// with the dispenser, receipts), and journals every transaction step before acting on it.
// No terminal here: the blessed UI (ui.ts) and the tests both drive this class.
import crypto from 'node:crypto';
import fs from 'node:fs';
import type { Devices as HardwareDevices, KeyName, Speaker } from '../hardware/index.js';
import { speechFor } from './speech-guide.js';
import { AtmError } from '../protocol/index.js';
import { initialState, step, type Effect, type EffectResult, type KioskEvent, type KioskState } from './flow.js';
import type { BankLink, Journal } from './seams.js';
import { declineDetail, deposit, settleUnfinished, withdraw, type TellerOptions } from './teller.js';
import { lcdLines } from './view.js';

export interface KioskControllerOptions {
  kioskId: string;
  link: BankLink;
  devices: HardwareDevices;
  journal: Journal;
  receiptsFile: string;
  nowMs?: () => number;
  tickMs?: number; // 0: no timer (tests send tick events themselves)
  newTxnId?: () => string;
  idleWarnMs?: number;
  idleLogoutMs?: number;
  log?: (line: string) => void;
  /** Speech guidance through the headphone jack (atm kiosk --speech); absent: silent. */
  speaker?: Speaker;
  /** Presented cash not taken within this is retracted (default TAKE_TIMEOUT_MS_DEFAULT). */
  takeTimeoutMs?: number;
  /** Waits between askings of a deposit whose answer was lost; resolves false once the kiosk stops. Default: a timer. */
  pause?: (ms: number) => Promise<boolean>;
}

export class KioskController {
  private current: KioskState;
  private readonly listeners: ((state: KioskState) => void)[] = [];
  private readonly nowMs: () => number;
  private readonly newTxnId: () => string;
  private ticker: NodeJS.Timeout | null = null;
  private settling: Promise<void> = Promise.resolve();
  private readonly log: (line: string) => void;
  private readonly teller: TellerOptions;
  /** Ends the teller's waits between askings when the kiosk stops. */
  private readonly stopping = new AbortController();

  constructor(private readonly options: KioskControllerOptions) {
    this.nowMs = options.nowMs ?? (() => Date.now());
    this.newTxnId = options.newTxnId ?? (() => crypto.randomUUID());
    this.log = options.log ?? (() => undefined);
    this.teller = {
      active: new Set(),
      link: options.link,
      journal: options.journal,
      dispenser: options.devices.dispenser,
      ...(options.devices.acceptor === undefined ? {} : { acceptor: options.devices.acceptor }),
      onDispensed: () => {
        this.updateCash();
        this.reportDevices();
      },
      onWaiting: (txnId) => this.input({ type: 'txnWaiting', txnId }),
      onPresented: (txnId, amountCents) => this.input({ type: 'cashPresented', txnId, amountCents }),
      ...(options.takeTimeoutMs === undefined ? {} : { takeTimeoutMs: options.takeTimeoutMs }),
      pause: options.pause ?? ((ms) => this.pause(ms)),
      log: this.log,
    };
    this.current = initialState(options.kioskId, this.nowMs(), {
      cassettes: options.devices.dispenser.cassettes(),
      idleWarnMs: options.idleWarnMs,
      idleLogoutMs: options.idleLogoutMs,
      cashIn: options.devices.acceptor !== undefined,
    });
  }

  get state(): KioskState {
    return this.current;
  }

  onChange(listener: (state: KioskState) => void): void {
    this.listeners.push(listener);
  }

  async start(): Promise<void> {
    const { keypad, display, dispenser } = this.options.devices;
    await Promise.all([keypad.open(), display.open(), dispenser.open()]);
    keypad.onKey((key) => this.input({ type: 'key', key, source: 'keypad', atMs: this.nowMs() }));
    for (const [name, device] of [
      ['keypad', keypad],
      ['display', display],
      ['dispenser', dispenser],
    ] as const) {
      this.input({ type: 'device', device: name, state: device.state() });
      device.onState((state) => {
        this.input({ type: 'device', device: name, state });
        this.updateCash();
        this.reportDevices();
      });
    }
    this.updateCash();
    await this.options.devices.printer?.open();
    this.options.devices.printer?.onState(() => this.reportDevices());
    const acceptor = this.options.devices.acceptor;
    if (acceptor !== undefined) {
      await acceptor.open();
      this.input({ type: 'device', device: 'acceptor', state: acceptor.state() });
      // The bank hears of the module's faults, not of every note it counts: the slot opening and
      // closing (deviceBusy) is the module at work, and a report per change would be chatter.
      let reported = acceptor.state();
      acceptor.onState((state) => {
        this.input({ type: 'device', device: 'acceptor', state });
        const worth = state === 'deviceBusy' ? 'online' : state;
        if (worth === reported) return;
        reported = worth;
        this.reportDevices();
      });
      acceptor.onEscrow((escrow) => this.input({ type: 'escrow', escrow }));
      await this.returnOrphanNotes(acceptor);
    }
    this.options.link.onState((state, detail, cause) => {
      if (state === 'online') {
        // [DESIGN §5] settle what a power cut left unfinished before serving anyone.
        // model: protocol/settlement.pml, k_recover at k_start. On a reconnect this also runs while
        // a withdrawal is still dispensing: the teller's active set keeps recovery off it (the model's
        // -DTODAY_RECONNECT_SETTLE, proctype Reconnect, shows the bug this prevents).
        this.settling = settleUnfinished(this.teller).finally(() => {
          this.reportDevices();
          this.input({ type: 'link', state: this.options.link.state, detail, cause: this.options.link.cause });
        });
      } else {
        this.input({ type: 'link', state, detail, cause });
      }
    });
    this.options.link.start();
    const tickMs = this.options.tickMs ?? 500;
    if (tickMs > 0) {
      this.ticker = setInterval(() => this.input({ type: 'tick', atMs: this.nowMs() }), tickMs);
      this.ticker.unref();
    }
    this.render();
    this.speak(null, this.current);
  }

  async stop(): Promise<void> {
    if (this.ticker !== null) clearInterval(this.ticker);
    this.stopping.abort();
    await this.settling.catch(() => undefined);
    await this.options.link.stop();
    const { keypad, display, dispenser } = this.options.devices;
    await Promise.allSettled([
      keypad.close(),
      display.close(),
      dispenser.close(),
      this.options.devices.acceptor?.close(),
      this.options.devices.printer?.close(),
      this.options.speaker?.close(),
    ]);
  }

  /** Whether an open deposit (asked, or answered with its notes not yet moved) owns the escrow's notes. */
  private escrowClaimed(): boolean {
    return this.options.journal.unfinished().some((item) => item.kind === 'deposit' && (item.notes ?? null) !== null);
  }

  /** Waits ms, or less when the kiosk stops: true when the wait ran its course. */
  private pause(ms: number): Promise<boolean> {
    const signal = this.stopping.signal;
    if (signal.aborted) return Promise.resolve(false);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        signal.removeEventListener('abort', stopped);
        resolve(true);
      }, ms);
      const stopped = (): void => {
        clearTimeout(timer);
        resolve(false);
      };
      signal.addEventListener('abort', stopped, { once: true });
    });
  }

  /**
   * Notes found in the escrow at start that no open deposit claims (the power went while the
   * customer was still inserting them, before any bank was asked): they go back through the slot.
   * Notes of an open deposit stay for recovery, which stores or returns them as the bank answers.
   */
  private async returnOrphanNotes(acceptor: NonNullable<HardwareDevices['acceptor']>): Promise<void> {
    const escrow = acceptor.escrow();
    if (escrow.totalCents === 0) return;
    if (this.escrowClaimed()) {
      this.input({ type: 'escrow', escrow });
      return;
    }
    const returned = await acceptor.returnNotes();
    this.log(
      `start: ${escrow.totalCents} cents of notes in the escrow with no deposit asked: ${returned.ok ? 'returned' : `not returned (${returned.fault})`}`,
    );
    this.input({ type: 'escrow', escrow: acceptor.escrow() });
  }

  /** Keyboard input from the UI, keypad presses, ticks: everything enters here. */
  input(event: KioskEvent): void {
    const { state, effects } = step(this.current, event, { newTxnId: this.newTxnId });
    const changed = state !== this.current;
    const before = this.current;
    this.current = state;
    if (changed) {
      this.render();
      this.speak(before, state);
    }
    for (const effect of effects) void this.run(effect);
  }

  pressKey(key: KeyName, source: 'keypad' | 'keyboard' = 'keyboard'): void {
    this.options.speaker?.stop(); // the next key interrupts whatever is being said
    this.input({ type: 'key', key, source, atMs: this.nowMs() });
  }

  /** The speech keys: say the last prompt again, or change the volume (a no-op without a speaker). */
  speech(command: 'repeat' | 'louder' | 'softer'): void {
    const speaker = this.options.speaker;
    if (speaker === undefined) return;
    if (command === 'repeat') speaker.repeat();
    else if (command === 'louder') speaker.volumeUp();
    else speaker.volumeDown();
  }

  private speak(before: KioskState | null, after: KioskState): void {
    const speaker = this.options.speaker;
    if (speaker === undefined) return;
    for (const action of speechFor(before, after)) {
      if (action.kind === 'tone') speaker.tone();
      else speaker.say(action.text);
    }
  }

  private render(): void {
    for (const listener of this.listeners) listener(this.current);
    const display = this.options.devices.display;
    display.show(lcdLines(this.current, { rows: display.rows, columns: display.columns })).catch(() => undefined);
  }

  private finish(result: EffectResult): void {
    this.input({ type: 'result', result, atMs: this.nowMs() });
  }

  private async run(effect: Effect): Promise<void> {
    try {
      switch (effect.kind) {
        case 'login':
        case 'register': {
          this.finish(await this.authenticate(effect.kind, effect.username, effect.password));
          return;
        }
        case 'checkUsername': {
          const response = await this.options.link.request({ op: 'username.check', username: effect.username });
          this.finish(
            response.ok
              ? { effect: 'checkUsername', ok: true, username: effect.username }
              : { effect: 'checkUsername', ok: false, code: response.code, username: effect.username },
          );
          return;
        }
        case 'balance': {
          const response = await this.options.link.request({ op: 'balance' });
          if (!response.ok) {
            this.finish({ effect: 'balance', ok: false, code: response.code, ...declineDetail(response) });
            return;
          }
          // A balance the bank did not send is an error, never 0 on a customer's screen.
          if (typeof response.balanceCents !== 'number') {
            this.finish({ effect: 'balance', ok: false, code: 'BAD_RESPONSE' });
            return;
          }
          this.finish({ effect: 'balance', ok: true, balanceCents: response.balanceCents });
          return;
        }
        case 'statement': {
          // The link refuses a list that breaks [ATM-4.13] (BAD_RESPONSE): what arrives here is valid.
          const response = await this.options.link.request({ op: 'statement' });
          this.finish(
            response.ok
              ? { effect: 'statement', ok: true, transactions: response.transactions }
              : { effect: 'statement', ok: false, code: response.code, ...declineDetail(response) },
          );
          return;
        }
        case 'changePassword': {
          const { oldPassword, newPassword } = effect;
          const response = await this.options.link.request({ op: 'password.change', oldPassword, newPassword });
          this.finish(
            response.ok
              ? { effect: 'changePassword', ok: true }
              : { effect: 'changePassword', ok: false, code: response.code, ...declineDetail(response) },
          );
          return;
        }
        case 'deposit':
        case 'withdraw': {
          const txn = { txnId: effect.txnId, username: this.current.username ?? '', amountCents: effect.amountCents };
          this.finish(
            await (effect.kind === 'deposit'
              ? deposit(this.teller, { ...txn, notes: effect.notes })
              : withdraw(this.teller, txn)),
          );
          if (effect.kind === 'deposit') this.reportDevices(); // the deposit cassette's counts
          return;
        }
        case 'cashIn': {
          const acceptor = this.options.devices.acceptor;
          if (acceptor === undefined) return;
          // Interlock: notes an open deposit claims are the bank's answer's to move, never the screen's.
          if (effect.step === 'return' && this.escrowClaimed()) {
            this.log('cash-in return skipped: the escrow holds the notes of a deposit not yet finished');
            return;
          }
          const done =
            effect.step === 'open'
              ? await acceptor.openSlot()
              : effect.step === 'close'
                ? await acceptor.closeSlot()
                : await acceptor.returnNotes();
          if (!done.ok) this.log(`cash-in ${effect.step}: ${done.fault} (${done.detail})`);
          this.finish(
            done.ok
              ? { effect: 'cashIn', step: effect.step, ok: true, escrow: done.escrow }
              : { effect: 'cashIn', step: effect.step, ok: false, fault: done.fault, escrow: done.escrow },
          );
          return;
        }
        case 'logout':
          await this.options.link.request({ op: 'logout' }).catch(() => undefined);
          this.settling = settleUnfinished(this.teller).catch((error: unknown) =>
            this.log(`recovery: ${String(error)}`),
          ); // model: protocol/settlement.pml, k_recover after each customer
          return;
        case 'receipt': {
          const printer = this.options.devices.printer;
          if (printer === undefined) {
            fs.appendFileSync(this.options.receiptsFile, `${effect.text}\n${'-'.repeat(32)}\n`, { mode: 0o600 });
            this.finish({ effect: 'receipt', ok: true });
            return;
          }
          const printed = await printer.print(effect.text.split('\n'));
          if (!printed.ok) this.log(`receipt not printed: ${printed.fault} (${printed.detail})`);
          this.finish(
            printed.ok ? { effect: 'receipt', ok: true } : { effect: 'receipt', ok: false, fault: printed.fault },
          );
          return;
        }
        default: {
          const exhaustive: never = effect;
          return exhaustive;
        }
      }
    } catch (error) {
      // A link failure mid-request: the flow turns the code into plain words, never a trace.
      const code = error instanceof AtmError ? error.code : 'INTERNAL';
      this.log(`effect ${effect.kind} failed: ${error instanceof Error ? error.message : String(error)}`);
      if (effect.kind === 'login' || effect.kind === 'register') this.finish({ effect: effect.kind, ok: false, code });
      else if (effect.kind === 'checkUsername')
        this.finish({ effect: 'checkUsername', ok: false, code, username: effect.username });
      else if (effect.kind === 'balance' || effect.kind === 'statement' || effect.kind === 'changePassword')
        this.finish({ effect: effect.kind, ok: false, code });
      else if (effect.kind === 'deposit') this.finish({ effect: 'deposit', ok: false, code, escrow: null });
      else if (effect.kind === 'withdraw')
        this.finish({ effect: 'withdraw', ok: false, code, requestedCents: effect.amountCents, dispensedCents: 0 });
    }
  }

  private async authenticate(kind: 'login' | 'register', username: string, password: string): Promise<EffectResult> {
    if (kind === 'register') {
      const registered = await this.options.link.request({ op: 'register', username, password });
      if (!registered.ok) return { effect: 'register', ok: false, code: registered.code, username };
    }
    const login = await this.options.link.request({ op: 'login', username, password });
    if (!login.ok) return { effect: kind, ok: false, code: login.code, username, ...declineDetail(login) };
    return { effect: kind, ok: true, username: login.username };
  }

  /** The flow offers only what the cassettes can pay: it hears of every change in them. */
  private updateCash(): void {
    this.input({ type: 'cash', cassettes: this.options.devices.dispenser.cassettes() });
  }

  private reportDevices(): void {
    if (this.options.link.state !== 'online') return;
    const { keypad, display, dispenser } = this.options.devices;
    void this.options.link
      .request({
        op: 'device.report',
        keypad: keypad.state(),
        display: display.state(),
        dispenser: dispenser.state(),
        cassettes: dispenser.cassettes().slice(0, 8),
        ...(this.options.devices.acceptor === undefined
          ? {}
          : {
              cashIn: this.options.devices.acceptor.state(),
              deposited: this.options.devices.acceptor.cassette().slice(0, 8),
            }),
        ...(this.options.devices.printer === undefined ? {} : { printer: this.options.devices.printer.state() }),
        ...(dispenser.retractedNotes === undefined ? {} : { retractedNotes: dispenser.retractedNotes() }),
      })
      .catch(() => undefined);
  }
}
