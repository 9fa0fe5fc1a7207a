// The fake at the hardware edge, in the manner of the sim drivers: a Speaker that records what it
// was asked to speak, so the kiosk's tests can read a whole session's spoken stream (every prompt
// and amount there, no password character) without a sound card.
import { assert } from '../protocol/index.js';
import { SpeakerBase, type UtteranceReason } from './speech-base.js';
import type { SpeechFault } from './speech.js';

/**
 * One thing the speaker did. 'interrupted' comes before the say, repeat, tone or stop that cut an
 * utterance still speaking (see finishSpeaking); its text is the one cut off.
 */
export type SpeechEvent =
  | { kind: 'say'; text: string }
  | { kind: 'repeat'; text: string }
  | { kind: 'tone' }
  | { kind: 'stop' }
  | { kind: 'interrupted'; text: string }
  | { kind: 'volume'; step: number };

/** A test that records more than this has a runaway loop; clear() between phases of a long test. */
export const RECORDED_EVENTS_MAX = 10_000;

export class RecordingSpeaker extends SpeakerBase {
  readonly kind = 'recording';
  private readonly recorded: SpeechEvent[] = [];
  private speakingText: string | null = null;

  /** Test power: everything the speaker did, in order. */
  get events(): readonly SpeechEvent[] {
    return this.recorded;
  }

  /** Test power: the texts spoken (said or repeated), in order. */
  spoken(): string[] {
    return this.recorded.flatMap((event) => (event.kind === 'say' || event.kind === 'repeat' ? [event.text] : []));
  }

  /** Test power: the spoken texts and tones as one string, tones as '<tone>'. */
  transcript(): string {
    return this.recorded
      .flatMap((event) => {
        if (event.kind === 'say' || event.kind === 'repeat') return [event.text];
        return event.kind === 'tone' ? ['<tone>'] : [];
      })
      .join(' | ');
  }

  /** Test power: the text still being spoken, or null. An utterance speaks until finishSpeaking(). */
  speaking(): string | null {
    return this.speakingText;
  }

  /** Test power: the current utterance reaches its end, so the next call does not interrupt it. */
  finishSpeaking(): void {
    this.speakingText = null;
  }

  /** Test power: the audio fails as a real device would report it (the speaker keeps recording). */
  fail(fault: SpeechFault, detail: string): void {
    this.report({ kind: 'fault', fault, detail });
  }

  /** Test power: the audio works again. */
  recover(): void {
    this.report({ kind: 'ready' });
  }

  /** Test power: forget the events so far. */
  clear(): void {
    this.recorded.length = 0;
  }

  protected speak(text: string, reason: UtteranceReason): void {
    this.interrupt();
    this.record({ kind: reason, text });
    this.speakingText = text;
  }

  protected playTone(): void {
    this.interrupt();
    this.record({ kind: 'tone' });
  }

  protected silence(): void {
    this.interrupt();
    this.record({ kind: 'stop' });
  }

  protected shutDown(): Promise<void> {
    this.speakingText = null;
    return Promise.resolve();
  }

  protected override volumeChanged(step: number): void {
    this.record({ kind: 'volume', step });
  }

  private interrupt(): void {
    if (this.speakingText !== null) this.record({ kind: 'interrupted', text: this.speakingText });
    this.speakingText = null;
  }

  private record(event: SpeechEvent): void {
    assert(this.recorded.length < RECORDED_EVENTS_MAX, `RecordingSpeaker holds at most ${RECORDED_EVENTS_MAX} events`);
    this.recorded.push(event);
  }
}
