// One utterance or tone as a chain of child processes (espeak-ng | aplay, or aplay alone), started
// without a shell and connected by pipes here. The only file of the speaker that spawns: it
// knows how to interrupt a chain and what its ending says about the device.
import type { ChildProcess, SpawnOptions } from 'node:child_process';
import { assert } from '../protocol/index.js';
import type { SpeechFault } from './speech.js';

/** node:child_process's spawn, or a test's wrapper around it. */
export type SpawnProcess = (command: string, args: readonly string[], options: SpawnOptions) => ChildProcess;

export interface PipelineStage {
  command: string;
  args: string[];
  /** The fault when the command cannot be found, and when it runs and fails. */
  missing: SpeechFault;
  failed: SpeechFault;
}

export type PipelineOutcome =
  { kind: 'done' } | { kind: 'interrupted' } | { kind: 'fault'; fault: SpeechFault; detail: string };

/** The tail of a child's diagnostics that is kept for the fault's detail. */
const STDERR_CHARS_MAX = 2_000;

interface Run {
  stage: PipelineStage;
  child: ChildProcess;
  error: NodeJS.ErrnoException | null;
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  closed: boolean;
  killed: boolean;
  stderr: string;
}

export interface Pipeline {
  /** Resolves once every process of the chain has ended; never rejects. */
  readonly finished: Promise<PipelineOutcome>;
  /** Kills every live process of the chain at once (SIGKILL: the next key must cut speech now). */
  interrupt(): void;
}

/** Starts the chain, writing `input` to the first process; a stage that fails ends the others. */
export function startPipeline(spawnProcess: SpawnProcess, stages: PipelineStage[], input: string | Buffer): Pipeline {
  assert(stages.length > 0, 'a pipeline needs at least one stage');
  const runs: Run[] = [];
  let interrupted = false;
  const killLive = (): void => {
    for (const run of runs) {
      if (run.closed || run.killed) continue;
      // A process that never started (ENOENT) has no pid, and Node's kill() on it signalled a
      // garbage pid: once that was -1, and SIGKILL as root took every process down. Never that.
      const pid = run.child.pid;
      if (run.error !== null || pid === undefined || !Number.isSafeInteger(pid) || pid <= 0) continue;
      run.killed = true;
      run.child.kill('SIGKILL');
    }
  };
  let resolveFinished: (outcome: PipelineOutcome) => void = () => undefined;
  const finished = new Promise<PipelineOutcome>((resolve) => (resolveFinished = resolve));
  const ended = (run: Run): void => {
    if (failedOnItsOwn(run)) killLive();
    if (runs.length === stages.length && runs.every((each) => each.closed))
      resolveFinished(interrupted ? { kind: 'interrupted' } : outcomeOf(runs));
  };
  try {
    for (const [index, stage] of stages.entries()) {
      const last = index === stages.length - 1;
      const child = spawnProcess(stage.command, stage.args, { stdio: ['pipe', last ? 'ignore' : 'pipe', 'pipe'] });
      runs.push(watch(stage, child, ended));
    }
  } catch (error) {
    killLive(); // a spawn that throws must not leave the earlier stages of the chain running
    throw error;
  }
  for (const [index, run] of runs.entries()) {
    const next = runs[index + 1];
    if (next?.child.stdin) run.child.stdout?.pipe(next.child.stdin);
  }
  runs[0]?.child.stdin?.end(input);
  return {
    finished,
    interrupt: () => {
      interrupted = true;
      killLive();
    },
  };
}

function watch(stage: PipelineStage, child: ChildProcess, ended: (run: Run) => void): Run {
  const run: Run = {
    stage,
    child,
    error: null,
    exitCode: null,
    signal: null,
    closed: false,
    killed: false,
    stderr: '',
  };
  // Writing to a process that has died fails with EPIPE; its exit is what gets reported.
  child.stdin?.on('error', () => undefined);
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => (run.stderr = (run.stderr + chunk).slice(-STDERR_CHARS_MAX)));
  child.on('error', (error: NodeJS.ErrnoException) => {
    run.error ??= error;
  });
  // 'close' follows 'error' too (a command not found closes with code -2), after stdio drained.
  child.on('close', (code: number | null, signal: NodeJS.Signals | null) => {
    run.closed = true;
    run.exitCode = code;
    run.signal = signal;
    ended(run);
  });
  return run;
}

function failedOnItsOwn(run: Run): boolean {
  return run.error !== null || (!run.killed && run.exitCode !== 0);
}

// The first stage in chain order that failed by itself is the cause: a player fed nothing by a
// failed engine fails too, and a stage killed because another failed is not a cause.
function outcomeOf(runs: Run[]): PipelineOutcome {
  const run = runs.find(failedOnItsOwn);
  if (run === undefined) return { kind: 'done' };
  const { stage, error } = run;
  if (error?.code === 'ENOENT')
    return { kind: 'fault', fault: stage.missing, detail: `${stage.command} not found (${error.message})` };
  if (error !== null)
    return { kind: 'fault', fault: stage.failed, detail: `cannot run ${stage.command}: ${error.message}` };
  const lastLine = run.stderr.trim().split('\n').pop() ?? '';
  const ending = run.signal !== null ? `signal ${run.signal}` : `exit code ${String(run.exitCode)}`;
  return {
    kind: 'fault',
    fault: stage.failed,
    detail: `${stage.command} ended with ${ending}${lastLine ? `: ${lastLine}` : ''}`,
  };
}
