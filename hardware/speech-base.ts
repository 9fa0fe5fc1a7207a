// What every Speaker shares, so the espeak-ng driver and the recording fake keep the same
// promises: the text rules, repeat, the bounded volume, closed means ignored, state listeners,
// and a failing implementation never throwing into the kiosk.
import { rethrowAssertion } from '../protocol/index.js';
import { Listeners } from './listeners.js';
import { SpeechFault, VOLUME_STEP_DEFAULT, VOLUME_STEP_MAX, utteranceText } from './speech.js';
import type { Speaker, SpeakerState } from './speech.js';
import type { Unsubscribe } from './types.js';

/** Why an utterance is spoken: the kiosk said it, or the customer asked for it again. */
export type UtteranceReason = 'say' | 'repeat';

export abstract class SpeakerBase implements Speaker {
  abstract readonly kind: string;
  private lastText: string | null = null;
  private volumeStep = VOLUME_STEP_DEFAULT;
  private closed = false;
  private currentState: SpeakerState = { kind: 'ready' };
  private readonly stateListeners = new Listeners<SpeakerState>();

  say(text: string): void {
    if (this.closed) return;
    const spoken = utteranceText(text);
    if (spoken === '') {
      this.stop();
      return;
    }
    this.lastText = spoken;
    this.guard(() => this.speak(spoken, 'say'));
  }

  repeat(): void {
    const text = this.lastText;
    if (this.closed || text === null) return;
    this.guard(() => this.speak(text, 'repeat'));
  }

  stop(): void {
    if (!this.closed) this.guard(() => this.silence());
  }

  tone(): void {
    if (!this.closed) this.guard(() => this.playTone());
  }

  volume(): number {
    return this.volumeStep;
  }

  volumeUp(): void {
    this.setVolume(Math.min(VOLUME_STEP_MAX, this.volumeStep + 1));
  }

  volumeDown(): void {
    this.setVolume(Math.max(0, this.volumeStep - 1));
  }

  state(): SpeakerState {
    return this.currentState;
  }

  onState(listener: (state: SpeakerState) => void): Unsubscribe {
    return this.stateListeners.add(listener);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.shutDown();
    } finally {
      this.report({ kind: 'closed' });
    }
  }

  /** Start speaking `text` (already through utteranceText), cutting off whatever plays. */
  protected abstract speak(text: string, reason: UtteranceReason): void;
  protected abstract playTone(): void;
  protected abstract silence(): void;
  protected abstract shutDown(): Promise<void>;
  /** A hook for implementations that record volume changes; the step is already in range. */
  protected volumeChanged(_step: number): void {
    // the espeak-ng driver reads volume() at each utterance and needs no notice
  }

  /** Implementations call this with the outcome of each attempt; listeners hear only changes. */
  protected report(state: SpeakerState): void {
    if (this.currentState.kind === 'closed') return;
    if (this.closed && state.kind !== 'closed') return;
    if (JSON.stringify(state) === JSON.stringify(this.currentState)) return;
    this.currentState = state;
    this.stateListeners.emit(state);
  }

  private setVolume(step: number): void {
    if (this.closed || step === this.volumeStep) return;
    this.volumeStep = step;
    this.volumeChanged(step);
  }

  // A failure inside an implementation (spawn refusing, say, on EMFILE) must not reach a key
  // handler: it becomes the speaker's fault. A broken assertion is a bug and still crashes.
  private guard(action: () => void): void {
    try {
      action();
    } catch (error) {
      rethrowAssertion(error);
      this.report({ kind: 'fault', fault: SpeechFault.OUTPUT_FAILED, detail: String(error) });
    }
  }
}
