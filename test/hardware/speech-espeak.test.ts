// The espeak-ng speaker with the real espeak-ng, aplay and sox (.ci/run installs them). Audio
// goes to ALSA's 'null' device, which every ALSA install has and which needs no sound card; a
// device name that does not exist stands for a kiosk without one.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {
  EspeakSpeaker,
  SpeechError,
  SpeechFault,
  renderToWav,
  type EspeakOptions,
  type SpeakerState,
} from '../../hardware/index.js';
import type { SpawnProcess } from '../../hardware/speech-pipeline.js';
import { makeTempDir } from '../helpers/bank.js';
import { waitUntil } from '../helpers/wait.js';

const installed = (command: string, flag: string): boolean =>
  spawnSync(command, [flag], { stdio: 'ignore' }).error === undefined;
const missing = [
  installed('espeak-ng', '--version') ? null : 'espeak-ng',
  installed('aplay', '--version') ? null : 'aplay (alsa-utils)',
  installed('sox', '--version') ? null : 'sox',
].filter((name) => name !== null);
const skip = missing.length > 0 ? `needs ${missing.join(', ')} (.ci/run installs them)` : false;

const PROMPT = 'Please enter your password, then press Enter.';
const LONG_TEXT = 'Your balance is 1234 dollars and 56 cents. '.repeat(20);

interface Spawned {
  command: string;
  args: readonly string[];
  child: ChildProcess;
  ended: Promise<NodeJS.Signals | number | null>;
}

/** A spawn hook that keeps every child, and can point a command somewhere else. */
function recordingSpawn(redirect: (command: string) => string = (command) => command): {
  spawned: Spawned[];
  spawnProcess: SpawnProcess;
} {
  const spawned: Spawned[] = [];
  const spawnProcess: SpawnProcess = (command, args, options) => {
    const child = spawn(redirect(command), args, options);
    const ended = new Promise<NodeJS.Signals | number | null>((resolve) =>
      child.on('close', (code, signal) => resolve(signal ?? code)),
    );
    spawned.push({ command, args, child, ended });
    return child;
  };
  return { spawned, spawnProcess };
}

function speakerFor(t: TestContext, options: EspeakOptions): { speaker: EspeakSpeaker; states: SpeakerState[] } {
  const speaker = new EspeakSpeaker(options);
  const states: SpeakerState[] = [];
  speaker.onState((state) => states.push(state));
  t.after(() => speaker.close());
  return { speaker, states };
}

/** Lets the close events already delivered finish reporting (a turn of the event loop, no timer). */
function settled(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

function sox(file: string, flag: string): string {
  const result = spawnSync('sox', ['--i', flag, file], { encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);
  return result.stdout.trim();
}

test(
  'renderToWav writes a prompt as a WAV that sox reads: 22050 Hz, mono, longer than nothing',
  { skip },
  async (t) => {
    const dir = makeTempDir('atm-speech-');
    t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
    const file = path.join(dir, 'prompt.wav');
    await renderToWav(PROMPT, file);
    assert.equal(sox(file, '-r'), '22050');
    assert.equal(sox(file, '-c'), '1');
    const durationS = Number(sox(file, '-D'));
    assert.ok(durationS > 0.5 && durationS < 10, `duration ${durationS} s`);
    await assert.rejects(
      renderToWav(PROMPT, path.join(dir, 'none.wav'), { espeakPath: path.join(dir, 'no-espeak-ng') }),
      (error: unknown) => error instanceof SpeechError && error.code === SpeechFault.ENGINE_MISSING,
    );
  },
);

test('a second say kills the first utterance at once and speaks; the text never goes in argv', { skip }, async (t) => {
  const { spawned, spawnProcess } = recordingSpawn();
  const { speaker, states } = speakerFor(t, { audioDevice: 'null', spawnProcess });
  speaker.volumeUp();
  speaker.volumeUp();
  speaker.say(LONG_TEXT);
  speaker.say(PROMPT);
  assert.deepEqual(
    spawned.map((each) => each.command),
    ['espeak-ng', 'aplay', 'espeak-ng', 'aplay'],
  );
  const [firstEngine, firstPlayer, engine, player] = spawned;
  assert.ok(firstEngine && firstPlayer && engine && player);
  assert.equal(await firstEngine.ended, 'SIGKILL');
  assert.equal(await firstPlayer.ended, 'SIGKILL');
  assert.equal(await engine.ended, 0);
  assert.equal(await player.ended, 0);
  assert.deepEqual(engine.args, ['--stdout', '-a', '140', '-s', '160', '-v', 'en-us', '--stdin']);
  assert.deepEqual(player.args, ['-q', '-D', 'null']);
  await settled();
  assert.deepEqual(speaker.state(), { kind: 'ready' });
  assert.deepEqual(states, [], 'an interrupted utterance is not a fault');
});

test('stop and close kill the utterance; after close nothing more is spawned', { skip }, async (t) => {
  const { spawned, spawnProcess } = recordingSpawn();
  const { speaker, states } = speakerFor(t, { audioDevice: 'null', spawnProcess });
  speaker.say(LONG_TEXT);
  speaker.stop();
  assert.equal(await spawned[0]?.ended, 'SIGKILL');
  speaker.say(LONG_TEXT);
  await speaker.close();
  assert.equal(spawned.length, 4);
  assert.ok(spawned.every((each) => each.child.exitCode !== null || each.child.signalCode !== null));
  speaker.say(PROMPT);
  speaker.tone();
  speaker.repeat();
  assert.equal(spawned.length, 4);
  assert.deepEqual(states, [{ kind: 'closed' }]);
});

test(
  'a missing espeak-ng is a typed fault, not a throw, and the next say that works clears it',
  { skip },
  async (t) => {
    let engineMissing = true;
    const { spawnProcess } = recordingSpawn((command) =>
      command === 'espeak-ng' && engineMissing ? '/nonexistent/espeak-ng' : command,
    );
    const { speaker, states } = speakerFor(t, { audioDevice: 'null', spawnProcess });
    speaker.say(PROMPT);
    await waitUntil(() => states.length === 1, 'the fault');
    const [fault] = states;
    assert.ok(fault?.kind === 'fault', JSON.stringify(fault));
    assert.equal(fault.fault, SpeechFault.ENGINE_MISSING);
    assert.match(fault.detail, /espeak-ng not found/);
    engineMissing = false;
    speaker.repeat();
    await waitUntil(() => states.length === 2, 'the recovery');
    assert.deepEqual(states[1], { kind: 'ready' });
  },
);

test('a nonexistent espeak-ng or aplay path gives its fault code', { skip }, async (t) => {
  const dir = makeTempDir('atm-speech-');
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  const engine = speakerFor(t, { espeakPath: path.join(dir, 'espeak-ng'), audioDevice: 'null' });
  engine.speaker.say(PROMPT);
  const player = speakerFor(t, { aplayPath: path.join(dir, 'aplay') });
  player.speaker.say(PROMPT);
  player.speaker.tone();
  await waitUntil(() => engine.states.length > 0 && player.states.length > 0, 'both faults');
  assert.deepEqual(
    [engine.speaker.state(), player.speaker.state()].map((state) =>
      state.kind === 'fault' ? state.fault : state.kind,
    ),
    [SpeechFault.ENGINE_MISSING, SpeechFault.PLAYER_MISSING],
  );
});

test('no audio device: tones and speech report AUDIO_OUTPUT_FAILED with aplay’s reason', { skip }, async (t) => {
  const { spawned, spawnProcess } = recordingSpawn();
  const { speaker, states } = speakerFor(t, { audioDevice: 'atm_no_such_device', spawnProcess });
  speaker.tone();
  await waitUntil(() => states.length > 0, 'the fault');
  const [fault] = states;
  assert.ok(fault?.kind === 'fault' && fault.fault === SpeechFault.OUTPUT_FAILED, JSON.stringify(fault));
  assert.match(fault.detail, /^aplay ended with exit code 1: aplay: /);
  speaker.say(PROMPT);
  assert.equal(spawned.length, 3);
  await Promise.all(spawned.map((each) => each.ended));
  await settled();
  assert.equal(speaker.state().kind, 'fault', 'speech failed too: it would have reported ready');
  assert.equal(states.length, 1);
});

test('a tone is a WAV played by aplay alone, and it does not change what repeat says', { skip }, async (t) => {
  const { spawned, spawnProcess } = recordingSpawn();
  const { speaker, states } = speakerFor(t, { audioDevice: 'null', spawnProcess });
  speaker.tone();
  assert.deepEqual(
    spawned.map((each) => [each.command, ...each.args]),
    [['aplay', '-q', '-D', 'null']],
  );
  assert.equal(await spawned[0]?.ended, 0);
  await settled();
  speaker.repeat();
  assert.equal(spawned.length, 1, 'nothing said yet: a tone is not text to repeat');
  assert.deepEqual(states, []);
  assert.deepEqual(speaker.state(), { kind: 'ready' });
});
