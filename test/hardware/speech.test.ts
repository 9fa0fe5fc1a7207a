// Speech guidance without processes: the amount words, the text rules, the tone's WAV bytes and
// the recording fake the kiosk's tests read a session's spoken stream from.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { PassThrough } from 'node:stream';
import { startPipeline } from '../../hardware/speech-pipeline.js';
import {
  RECORDED_EVENTS_MAX,
  RecordingSpeaker,
  SpeechFault,
  TONE_DEFAULTS,
  UTTERANCE_CHARS_MAX,
  VOLUME_STEP_DEFAULT,
  VOLUME_STEP_MAX,
  espeakAmplitude,
  spokenAmount,
  toneWav,
  utteranceText,
  type SpeakerState,
} from '../../hardware/index.js';
import { AssertionError } from '../../protocol/index.js';

test('spokenAmount reads cents as dollars and cents, singular and plural, digits as digits', () => {
  assert.equal(spokenAmount(12_050), '120 dollars and 50 cents');
  assert.equal(spokenAmount(100), '1 dollar');
  assert.equal(spokenAmount(5), '5 cents');
  assert.equal(spokenAmount(101), '1 dollar and 1 cent');
  assert.equal(spokenAmount(1), '1 cent');
  assert.equal(spokenAmount(0), '0 dollars');
  assert.equal(spokenAmount(123_456_700), '1234567 dollars');
});

test('spokenAmount asserts on anything but a non-negative integer number of cents', () => {
  for (const bad of [-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    assert.throws(() => spokenAmount(bad), AssertionError, String(bad));
  }
});

test('utteranceText drops control characters, collapses whitespace and cuts long texts at a word', () => {
  assert.equal(utteranceText('  Enter\tyour\n\npassword\u0007 '), 'Enter your password');
  assert.equal(utteranceText('\n\t'), '');
  const long = 'word '.repeat(UTTERANCE_CHARS_MAX);
  const cut = utteranceText(long);
  assert.ok(cut.length <= UTTERANCE_CHARS_MAX && cut.length > UTTERANCE_CHARS_MAX - 5, String(cut.length));
  assert.ok(cut.endsWith('word'));
  assert.equal(utteranceText('x'.repeat(UTTERANCE_CHARS_MAX + 10)).length, UTTERANCE_CHARS_MAX);
});

test('toneWav writes a mono 16-bit PCM WAV header and the sine, ramped and within its level', () => {
  const wav = toneWav(TONE_DEFAULTS);
  const samples = Math.round((TONE_DEFAULTS.sampleRateHz * TONE_DEFAULTS.durationMs) / 1_000);
  assert.equal(wav.length, 44 + samples * 2);
  assert.equal(wav.toString('ascii', 0, 4), 'RIFF');
  assert.equal(wav.readUInt32LE(4), wav.length - 8);
  assert.equal(wav.toString('ascii', 8, 16), 'WAVEfmt ');
  assert.equal(wav.readUInt32LE(16), 16);
  assert.equal(wav.readUInt16LE(20), 1, 'PCM');
  assert.equal(wav.readUInt16LE(22), 1, 'mono');
  assert.equal(wav.readUInt32LE(24), 22_050);
  assert.equal(wav.readUInt32LE(28), 44_100, 'bytes per second');
  assert.equal(wav.readUInt16LE(32), 2, 'bytes per frame');
  assert.equal(wav.readUInt16LE(34), 16, 'bits per sample');
  assert.equal(wav.toString('ascii', 36, 40), 'data');
  assert.equal(wav.readUInt32LE(40), samples * 2);
  const values = Array.from({ length: samples }, (_, index) => wav.readInt16LE(44 + index * 2));
  assert.equal(values[0], 0, 'starts silent: no click');
  assert.ok(Math.abs(values[samples - 1] ?? 1) < 1_000, 'ends near silence');
  const peak = Math.max(...values.map(Math.abs));
  assert.ok(peak > 0.45 * 32_767 && peak <= 0.5 * 32_767 + 1, String(peak));
  const silent = toneWav({ ...TONE_DEFAULTS, level: 0 });
  assert.ok(silent.subarray(44).every((byte) => byte === 0));
  assert.throws(() => toneWav({ ...TONE_DEFAULTS, durationMs: 5_000 }), AssertionError);
  assert.throws(() => toneWav({ ...TONE_DEFAULTS, frequencyHz: 20_000 }), AssertionError);
});

test('volume steps map onto espeak-ng amplitude 0..200 with the default step at its normal 100', () => {
  assert.equal(espeakAmplitude(0), 0);
  assert.equal(espeakAmplitude(VOLUME_STEP_DEFAULT), 100);
  assert.equal(espeakAmplitude(VOLUME_STEP_MAX), 200);
  assert.throws(() => espeakAmplitude(VOLUME_STEP_MAX + 1), AssertionError);
});

test('the recording speaker records says, and an unfinished utterance as interrupted by the next', () => {
  const speaker = new RecordingSpeaker();
  speaker.say('Welcome.  Insert\ncard');
  speaker.say('Enter your username');
  assert.equal(speaker.speaking(), 'Enter your username');
  speaker.finishSpeaking();
  speaker.say('Enter your password');
  speaker.stop();
  assert.deepEqual(speaker.events, [
    { kind: 'say', text: 'Welcome. Insert card' },
    { kind: 'interrupted', text: 'Welcome. Insert card' },
    { kind: 'say', text: 'Enter your username' },
    { kind: 'say', text: 'Enter your password' },
    { kind: 'interrupted', text: 'Enter your password' },
    { kind: 'stop' },
  ]);
  assert.equal(speaker.speaking(), null);
});

test('tones stand in for password characters and repeat says the last text, never a tone', () => {
  const speaker = new RecordingSpeaker();
  speaker.say('Enter your password');
  for (let index = 0; index < 4; index++) speaker.tone();
  speaker.repeat();
  assert.deepEqual(speaker.spoken(), ['Enter your password', 'Enter your password']);
  assert.equal(speaker.transcript(), 'Enter your password | <tone> | <tone> | <tone> | <tone> | Enter your password');
  assert.deepEqual(speaker.events[1], { kind: 'interrupted', text: 'Enter your password' });
  assert.equal(speaker.events.filter((event) => event.kind === 'interrupted').length, 1);
  assert.deepEqual(speaker.events.at(-1), { kind: 'repeat', text: 'Enter your password' });
  const fresh = new RecordingSpeaker();
  fresh.repeat();
  assert.deepEqual(fresh.events, [], 'nothing said yet: nothing to repeat');
});

test('volume stays within 0..VOLUME_STEP_MAX and records only real changes', () => {
  const speaker = new RecordingSpeaker();
  assert.equal(speaker.volume(), VOLUME_STEP_DEFAULT);
  for (let index = 0; index < VOLUME_STEP_MAX + 3; index++) speaker.volumeUp();
  assert.equal(speaker.volume(), VOLUME_STEP_MAX);
  for (let index = 0; index < VOLUME_STEP_MAX + 3; index++) speaker.volumeDown();
  assert.equal(speaker.volume(), 0);
  const steps = speaker.events.map((event) => (event.kind === 'volume' ? event.step : -1));
  assert.deepEqual(steps, [6, 7, 8, 9, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);
});

test('an empty text stops speech, and a long one is cut as a real speaker would', () => {
  const speaker = new RecordingSpeaker();
  speaker.say('Balance');
  speaker.say(' \n ');
  speaker.say('a '.repeat(UTTERANCE_CHARS_MAX));
  assert.deepEqual(speaker.events.slice(0, 3), [
    { kind: 'say', text: 'Balance' },
    { kind: 'interrupted', text: 'Balance' },
    { kind: 'stop' },
  ]);
  const last = speaker.spoken().at(-1) ?? '';
  assert.ok(last.length <= UTTERANCE_CHARS_MAX && last.startsWith('a a'));
  speaker.repeat();
  assert.equal(speaker.spoken().at(-1), last, 'the empty say did not replace the text to repeat');
});

test('faults are reported through state() and onState, never thrown, and close silences for good', async () => {
  const speaker = new RecordingSpeaker();
  const heard: SpeakerState[] = [];
  speaker.onState((state) => heard.push(state));
  speaker.fail(SpeechFault.OUTPUT_FAILED, 'no sound card');
  speaker.say('still recorded while faulted');
  speaker.recover();
  speaker.recover();
  await speaker.close();
  speaker.say('after close');
  speaker.tone();
  speaker.volumeUp();
  assert.deepEqual(heard, [
    { kind: 'fault', fault: 'AUDIO_OUTPUT_FAILED', detail: 'no sound card' },
    { kind: 'ready' },
    { kind: 'closed' },
  ]);
  assert.deepEqual(speaker.spoken(), ['still recorded while faulted']);
  assert.deepEqual(speaker.state(), { kind: 'closed' });
});

test('the recording speaker bounds what it holds and clear() starts afresh', () => {
  const speaker = new RecordingSpeaker();
  for (let index = 0; index < RECORDED_EVENTS_MAX; index++) speaker.tone();
  assert.throws(() => speaker.tone(), AssertionError);
  speaker.clear();
  speaker.tone();
  assert.deepEqual(speaker.events, [{ kind: 'tone' }]);
});

test('a pipeline never signals a process that did not start (no pid): kill() on it once hit pid -1', async () => {
  const kills: string[] = [];
  const child = (command: string, pid: number | undefined): ChildProcess => {
    const fake = Object.assign(new EventEmitter(), {
      pid,
      stdin: new PassThrough(),
      stdout: new PassThrough(),
      stderr: new PassThrough(),
      kill: () => {
        kills.push(command);
        return true;
      },
    });
    return fake as unknown as ChildProcess;
  };
  const engine = child('espeak-ng', undefined); // ENOENT: no pid, its error comes a tick later
  const player = child('aplay', 4242);
  const children = [engine, player];
  const pipeline = startPipeline(
    () => children.shift() ?? assert.fail('two stages only'),
    [
      { command: 'espeak-ng', args: [], missing: SpeechFault.ENGINE_MISSING, failed: SpeechFault.ENGINE_FAILED },
      { command: 'aplay', args: [], missing: SpeechFault.PLAYER_MISSING, failed: SpeechFault.OUTPUT_FAILED },
    ],
    'hello',
  );
  pipeline.interrupt();
  assert.deepEqual(kills, ['aplay'], 'only the process that exists is signalled');
  engine.emit('error', Object.assign(new Error('spawn espeak-ng ENOENT'), { code: 'ENOENT' }));
  engine.emit('close', -2, null);
  player.emit('close', null, 'SIGKILL');
  assert.deepEqual(await pipeline.finished, { kind: 'interrupted' });
});
