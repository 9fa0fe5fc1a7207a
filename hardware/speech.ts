// [Seam] Speech guidance through the headphone jack, in the manner of ADA §707.5: a kiosk
// device like the keypad, so it lives here. The kiosk knows only `Speaker`; espeak-ng
// (speech-espeak.ts) and the recording fake (speech-recording.ts) implement it.
import { assert } from '../protocol/index.js';
import type { Unsubscribe } from './types.js';

/** Longer texts are cut here: about a minute of speech, so one call cannot hold the jack for long. */
export const UTTERANCE_CHARS_MAX = 1_000;
/** Volume is a step in 0..VOLUME_STEP_MAX; the customer changes it one step per key. */
export const VOLUME_STEP_MAX = 10;
export const VOLUME_STEP_DEFAULT = 5;

/**
 * Why a speaker is silent. The codes are the speaker's state, reported and never thrown; the
 * kiosk logs them and carries on without speech (the screen is the primary output).
 */
export const SpeechFault = {
  /** The speech engine (espeak-ng) is not installed or not at the configured path. */
  ENGINE_MISSING: 'SPEECH_ENGINE_MISSING',
  /** The speech engine ran and failed (a bad voice name, a broken install). */
  ENGINE_FAILED: 'SPEECH_ENGINE_FAILED',
  /** The audio player (aplay) is not installed or not at the configured path. */
  PLAYER_MISSING: 'AUDIO_PLAYER_MISSING',
  /** The player could not play: no audio device, a wrong device name, the device busy. */
  OUTPUT_FAILED: 'AUDIO_OUTPUT_FAILED',
} as const;
export type SpeechFault = (typeof SpeechFault)[keyof typeof SpeechFault];

/**
 * 'ready' until something fails; 'fault' says what the last attempt met (each later attempt tries
 * again, so plugging headphones or a sound card back in recovers); 'closed' after close().
 */
export type SpeakerState =
  { kind: 'ready' } | { kind: 'fault'; fault: SpeechFault; detail: string } | { kind: 'closed' };

/**
 * The speech output. Contract for implementers:
 * - Nothing throws into the caller and nothing returns a promise but close(): the kiosk calls
 *   these from key handlers and never waits for audio. Failures become state() (and onState).
 * - say(text) starts speaking at once, interrupting whatever is being spoken or toned: at most
 *   one utterance plays at a time. The text is passed through utteranceText() first (control
 *   characters dropped, whitespace collapsed, cut at UTTERANCE_CHARS_MAX); an empty result stops.
 * - tone() interrupts likewise and plays a short neutral tone. The kiosk calls it for each
 *   password character, which is never spoken; tone() carries no text and never changes what
 *   repeat() says.
 * - repeat() says the last said text again (nothing if there is none); stop() silences.
 * - volume() is a step in 0..VOLUME_STEP_MAX (VOLUME_STEP_DEFAULT at start); volumeUp/Down move
 *   it one step and stay in range. It applies from the next say, repeat or tone.
 * - onState listeners hear every change of state(); close() silences, resolves once the audio
 *   has stopped, and every call after it is ignored.
 */
export interface Speaker {
  readonly kind: string;
  say(text: string): void;
  stop(): void;
  tone(): void;
  repeat(): void;
  volume(): number;
  volumeUp(): void;
  volumeDown(): void;
  state(): SpeakerState;
  onState(listener: (state: SpeakerState) => void): Unsubscribe;
  close(): Promise<void>;
}

/** What a speaker actually speaks for `text`: control characters out, whitespace collapsed, bounded. */
export function utteranceText(text: string): string {
  const plain = text
    .replace(/[\u0000-\u001f\u007f]/g, ' ')
    .replace(/\s+/g, ' ')
    .trim();
  if (plain.length <= UTTERANCE_CHARS_MAX) return plain;
  // Cut at the last word that fits, so the engine does not read half a word or number.
  const cut = plain.slice(0, UTTERANCE_CHARS_MAX + 1);
  const space = cut.lastIndexOf(' ');
  return (space > 0 ? cut.slice(0, space) : cut.slice(0, UTTERANCE_CHARS_MAX)).trim();
}

/**
 * An amount as words a speech engine reads without ambiguity: 12050 → "120 dollars and 50 cents",
 * 100 → "1 dollar", 5 → "5 cents", 0 → "0 dollars". Digits stay digits (espeak-ng reads them as
 * numbers); no thousands separators or decimal point, which engines read differently.
 */
export function spokenAmount(amountCents: number): string {
  assert(
    Number.isSafeInteger(amountCents) && amountCents >= 0,
    `spokenAmount needs a non-negative integer number of cents, got ${String(amountCents)}`,
  );
  const dollars = Math.floor(amountCents / 100);
  const cents = amountCents % 100;
  const dollarWords = `${dollars} ${dollars === 1 ? 'dollar' : 'dollars'}`;
  const centWords = `${cents} ${cents === 1 ? 'cent' : 'cents'}`;
  if (cents === 0) return dollarWords;
  if (dollars === 0) return centWords;
  return `${dollarWords} and ${centWords}`;
}
