// The tone played for each password character: a short sine as a PCM WAV made in memory, so no
// sound file ships with the kiosk and the tone follows the volume. Pure: bytes out, no I/O.
import { assert } from '../protocol/index.js';

export const WAV_HEADER_BYTES = 44;
/** A tone longer than this would lag behind a customer typing a password. */
export const TONE_DURATION_MS_MAX = 1_000;

export interface ToneOptions {
  frequencyHz: number;
  durationMs: number;
  sampleRateHz: number;
  /** Peak level as a fraction of full scale, 0..1. */
  level: number;
}

/** A neutral beep: 880 Hz for 80 ms at espeak-ng's sample rate, at half scale. */
export const TONE_DEFAULTS: ToneOptions = { frequencyHz: 880, durationMs: 80, sampleRateHz: 22_050, level: 0.5 };

// Ramps in and out keep the tone from clicking at its edges.
const RAMP_MS = 5;

/** A mono 16-bit little-endian PCM WAV (RIFF header, "fmt " and "data" chunks) of one sine tone. */
export function toneWav(options: ToneOptions): Buffer {
  const { frequencyHz, durationMs, sampleRateHz, level } = options;
  assert(Number.isInteger(sampleRateHz) && sampleRateHz >= 8_000 && sampleRateHz <= 48_000, 'tone sample rate');
  assert(frequencyHz > 0 && frequencyHz < sampleRateHz / 2, 'tone frequency must be below the Nyquist rate');
  assert(
    durationMs > 0 && durationMs <= TONE_DURATION_MS_MAX,
    `tone duration must be in 1..${TONE_DURATION_MS_MAX} ms`,
  );
  assert(level >= 0 && level <= 1, 'tone level must be in 0..1');
  const samples = Math.round((sampleRateHz * durationMs) / 1_000);
  const rampSamples = Math.min(Math.round((sampleRateHz * RAMP_MS) / 1_000), Math.floor(samples / 2));
  const dataBytes = samples * 2;
  const wav = Buffer.alloc(WAV_HEADER_BYTES + dataBytes);
  wav.write('RIFF', 0, 'ascii');
  wav.writeUInt32LE(36 + dataBytes, 4);
  wav.write('WAVE', 8, 'ascii');
  wav.write('fmt ', 12, 'ascii');
  wav.writeUInt32LE(16, 16); // fmt chunk size for PCM
  wav.writeUInt16LE(1, 20); // format 1: integer PCM
  wav.writeUInt16LE(1, 22); // channels
  wav.writeUInt32LE(sampleRateHz, 24);
  wav.writeUInt32LE(sampleRateHz * 2, 28); // bytes per second
  wav.writeUInt16LE(2, 32); // bytes per frame
  wav.writeUInt16LE(16, 34); // bits per sample
  wav.write('data', 36, 'ascii');
  wav.writeUInt32LE(dataBytes, 40);
  for (let index = 0; index < samples; index++) {
    const edge = Math.min(index, samples - 1 - index);
    const envelope = rampSamples > 0 && edge < rampSamples ? edge / rampSamples : 1;
    const value = Math.sin((2 * Math.PI * frequencyHz * index) / sampleRateHz) * level * envelope;
    wav.writeInt16LE(Math.round(value * 32_767), WAV_HEADER_BYTES + index * 2);
  }
  return wav;
}
