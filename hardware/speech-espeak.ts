// The Speaker on espeak-ng (Debian's and Raspberry Pi OS's speech engine) and aplay (alsa-utils):
// `espeak-ng --stdout | aplay`, so that one player reports every audio failure the same way
// (espeak-ng's own output exits 0 even with no sound card) and can be pointed at the headphone
// jack's ALSA device. The text goes on stdin, never in argv: a balance read aloud must not show
// in `ps` to another local user, and a text starting with '-' cannot be taken for an option.
import { spawn } from 'node:child_process';
import { assert } from '../protocol/index.js';
import { SpeakerBase } from './speech-base.js';
import { startPipeline, type Pipeline, type PipelineStage, type SpawnProcess } from './speech-pipeline.js';
import { TONE_DEFAULTS, toneWav } from './speech-wav.js';
import { SpeechFault, VOLUME_STEP_DEFAULT, VOLUME_STEP_MAX, utteranceText } from './speech.js';

export interface EspeakOptions {
  /** The espeak-ng binary (default 'espeak-ng' on PATH). */
  espeakPath?: string;
  /** The aplay binary (default 'aplay' on PATH). */
  aplayPath?: string;
  /** ALSA device for aplay -D, e.g. 'plughw:CARD=Headphones' on a Pi; null (default) is ALSA's default. */
  audioDevice?: string | null;
  /** espeak-ng -v voice, with an optional variant ('en-us', 'en-us+f3'). */
  voice?: string;
  /** espeak-ng -s speed; 160 is a little slower than its default 175, for a first-time listener. */
  wordsPerMinute?: number;
  spawnProcess?: SpawnProcess;
}

/** espeak-ng -a takes 0..200 with 100 as its normal level: the default step maps to it. */
export const ESPEAK_AMPLITUDE_MAX = 200;
const WORDS_PER_MINUTE_MIN = 80; // espeak-ng's own range
const WORDS_PER_MINUTE_MAX = 450;

type Settings = Required<EspeakOptions>;

function settingsOf(options: EspeakOptions): Settings {
  const settings: Settings = {
    espeakPath: options.espeakPath ?? 'espeak-ng',
    aplayPath: options.aplayPath ?? 'aplay',
    audioDevice: options.audioDevice ?? null,
    voice: options.voice ?? 'en-us',
    wordsPerMinute: options.wordsPerMinute ?? 160,
    spawnProcess: options.spawnProcess ?? spawn,
  };
  assert(/^[A-Za-z0-9_+-]{1,64}$/.test(settings.voice), `bad espeak-ng voice ${JSON.stringify(settings.voice)}`);
  const { wordsPerMinute, audioDevice } = settings;
  assert(
    Number.isInteger(wordsPerMinute) &&
      wordsPerMinute >= WORDS_PER_MINUTE_MIN &&
      wordsPerMinute <= WORDS_PER_MINUTE_MAX,
    `wordsPerMinute must be an integer in ${WORDS_PER_MINUTE_MIN}..${WORDS_PER_MINUTE_MAX}`,
  );
  assert(audioDevice === null || /^[^-\s][^\s]{0,99}$/.test(audioDevice), 'bad ALSA audio device name');
  return settings;
}

export function espeakAmplitude(volumeStep: number): number {
  assert(Number.isInteger(volumeStep) && volumeStep >= 0 && volumeStep <= VOLUME_STEP_MAX, 'volume step out of range');
  return Math.round((volumeStep * ESPEAK_AMPLITUDE_MAX) / VOLUME_STEP_MAX);
}

function espeakStage(settings: Settings, volumeStep: number, output: string[]): PipelineStage {
  return {
    command: settings.espeakPath,
    args: [
      ...output,
      '-a',
      String(espeakAmplitude(volumeStep)),
      '-s',
      String(settings.wordsPerMinute),
      '-v',
      settings.voice,
      '--stdin',
    ],
    missing: SpeechFault.ENGINE_MISSING,
    failed: SpeechFault.ENGINE_FAILED,
  };
}

function aplayStage(settings: Settings): PipelineStage {
  const device = settings.audioDevice === null ? [] : ['-D', settings.audioDevice];
  return {
    command: settings.aplayPath,
    args: ['-q', ...device],
    missing: SpeechFault.PLAYER_MISSING,
    failed: SpeechFault.OUTPUT_FAILED,
  };
}

export class EspeakSpeaker extends SpeakerBase {
  readonly kind = 'espeak-ng';
  private readonly settings: Settings;
  private playing: Pipeline | null = null;

  constructor(options: EspeakOptions = {}) {
    super();
    this.settings = settingsOf(options);
  }

  protected speak(text: string): void {
    const stages = [espeakStage(this.settings, this.volume(), ['--stdout']), aplayStage(this.settings)];
    this.start(stages, text);
  }

  protected playTone(): void {
    const level = (TONE_DEFAULTS.level * this.volume()) / VOLUME_STEP_DEFAULT;
    this.start([aplayStage(this.settings)], toneWav({ ...TONE_DEFAULTS, level }));
  }

  protected silence(): void {
    this.playing?.interrupt();
    this.playing = null;
  }

  protected async shutDown(): Promise<void> {
    const playing = this.playing;
    this.silence();
    if (playing !== null) await playing.finished;
  }

  private start(stages: PipelineStage[], input: string | Buffer): void {
    this.silence();
    const pipeline = startPipeline(this.settings.spawnProcess, stages, input);
    this.playing = pipeline;
    void pipeline.finished.then((outcome) => {
      if (this.playing === pipeline) this.playing = null;
      if (outcome.kind === 'done') this.report({ kind: 'ready' });
      else if (outcome.kind === 'fault') this.report(outcome);
    });
  }
}

/** What renderToWav rejects with: the fault a speaker would have reported. */
export class SpeechError extends Error {
  constructor(
    readonly code: SpeechFault,
    message: string,
  ) {
    super(message);
    this.name = 'SpeechError';
  }
}

/** Writes `text` (through utteranceText) as a WAV file with `espeak-ng -w FILE`; no audio device needed. */
export async function renderToWav(
  text: string,
  file: string,
  options: EspeakOptions & { volumeStep?: number } = {},
): Promise<void> {
  const spoken = utteranceText(text);
  assert(spoken !== '', 'renderToWav needs a text with something to say');
  const stage = espeakStage(settingsOf(options), options.volumeStep ?? VOLUME_STEP_DEFAULT, ['-w', file]);
  const outcome = await startPipeline(options.spawnProcess ?? spawn, [stage], spoken).finished;
  if (outcome.kind === 'fault') throw new SpeechError(outcome.fault, outcome.detail);
}
