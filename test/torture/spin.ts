// The SPIN model of the settlement protocol (protocol/settlement.pml, issue 15 item 5), run from
// TypeScript: spin -a writes the verifier pan.c, gcc compiles it, pan searches every reachable
// state, and a trail pan wrote is replayed (spin -t -p) into the story the model's printfs tell.
// runSpinModel is one such run in a directory the caller owns; test/protocol/settlement-model.test.ts
// and the torture runner (spinPart) call it. Needs the Debian packages spin and gcc (.ci/run).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { repoRoot } from '../helpers/paths.js';
import type { Part, PartResult } from './runner.js';

export const SETTLEMENT_MODEL = path.join(repoRoot, 'protocol', 'settlement.pml');

/** 'safety': assertions and end states (-DSAFETY); 'liveness': the LTL claim no_stuck_hold with -a -f. */
export type SpinMode = 'safety' | 'liveness';

export interface SpinRunOptions {
  /** A compile-time variant of the model (BUG_DEPOSIT_NEW_ID, …); none is the intended protocol. */
  variant?: string;
  /** Bounds to override, e.g. { FAULTS: 3 } for -DFAULTS=3. */
  defines?: Readonly<Record<string, number>>;
  mode?: SpinMode;
  /** An empty directory to work in; the caller creates and removes it. */
  dir: string;
  model?: string;
  /** pan -i: keep searching for the shortest trail (slower; the first trail is short already). */
  shortest?: boolean;
  /** pan -A: ignore assertions, e.g. to see the LTL claim catch what an end-state assertion would. */
  ignoreAssertions?: boolean;
  /** pan -m: a search that reaches it is not exhaustive, and says so. */
  depthMax?: number;
  /** pan -w: log2 of the hash table's slots (8 bytes each). */
  hashBits?: number;
  /** pan stops, and says so, when its memory would pass this (-DMEMLIM). */
  memoryMbMax?: number;
  /** Each child is killed after this long. */
  timeoutMs?: number;
}

export interface SpinResult {
  variant: string | null;
  mode: SpinMode;
  errors: number;
  statesStored: number;
  transitions: number;
  depthReached: number;
  depthMax: number;
  /** Every reachable state was searched: no 'Search not completed', depth and memory limits not hit. */
  complete: boolean;
  /** Wall time of spin -a, gcc and pan together. */
  seconds: number;
  /** What pan says its search took. */
  searchSeconds: number;
  /** pan's report. */
  report: string;
  /** The trail file pan wrote (in dir), when it wrote one. */
  trailFile?: string;
  /** Its replay (spin -t -p). */
  trail?: string;
  /** The trail's story: the lines the model's printfs wrote on the way, the violation last. */
  story?: string[];
}

export const SPIN_DEPTH_MAX = 100_000;
export const SPIN_HASH_BITS = 20;
export const SPIN_MEMORY_MB_MAX = 1_024;
const SPIN_TIMEOUT_MS = 120_000;
/**
 * -O0: compiling pan.c is most of a run here (about 1.5 s at -O0, 6 s or more at -O1/-O2)
 * while the search itself takes under a second either way.
 */
const GCC_FLAGS = ['-O0', '-w'];

/** A planted bug, or today's code where the model says it differs, that SPIN must find. */
export interface SpinVariant {
  variant: string;
  kind: 'planted bug' | "today's code" | 'fixed bug (kept as a planted one)' | 'vacuity check';
  /** What the variant changes. */
  what: string;
  /** The property SPIN should report broken: the start of the model's VIOLATED line. */
  violates: string;
  /** The torture suite's planted bug (protocol/faults.ts) this one models, if any. */
  plant?: string;
}

export const SETTLEMENT_VARIANTS: readonly SpinVariant[] = [
  {
    variant: 'BUG_DEPOSIT_NEW_ID',
    kind: 'planted bug',
    what: 'a deposit whose answer was lost is asked again under a new txn id',
    violates: 'VIOLATED P3',
    plant: 'deposit-new-id',
  },
  {
    variant: 'BUG_POST_WITHOUT_HOLD',
    kind: 'planted bug',
    what: 'withdraw.post of a voided hold debits the account anyway (clamped at 0)',
    violates: 'VIOLATED',
    plant: 'post-without-hold',
  },
  {
    variant: 'BUG_DISPENSE_BEFORE_HOLD',
    kind: 'planted bug',
    what: 'the kiosk pays out with the hold request, before its answer',
    violates: 'VIOLATED P1',
  },
  {
    variant: 'BUG_ANSWER_BEFORE_COMMIT',
    kind: 'planted bug',
    what: 'the bank answers before its batch is durable',
    violates: 'VIOLATED',
    plant: 'skip-fsync',
  },
  {
    variant: 'BUG_DISPENSE_UNJOURNALED',
    kind: 'planted bug',
    what: 'the kiosk does not journal dispense.started',
    violates: 'VIOLATED P1',
  },
  {
    variant: 'BUG_NO_SWEEPER',
    kind: 'planted bug',
    what: 'the bank has no hold-expiry sweeper',
    violates: 'VIOLATED P4',
  },
  {
    variant: 'TODAY_DEPOSIT_UNKNOWN',
    kind: 'fixed bug (kept as a planted one)',
    what: 'recovery planned nothing for a deposit without a result (fixed in issue 17: deposit.resolve under the same id)',
    violates: 'VIOLATED P3',
  },
  {
    variant: 'TODAY_RECONNECT_SETTLE',
    kind: 'fixed bug (kept as a planted one)',
    what: "settleUnfinished ran on every link 'online', also while the teller was dispensing (fixed: the teller's active set)",
    violates: 'VIOLATED P1',
  },
  {
    variant: 'NO_EXPIRY_EXCEPTION',
    kind: 'vacuity check',
    what: 'P1 without its exception for a hold the sweeper voided before the post came',
    violates: 'VIOLATED P1',
  },
  {
    variant: 'NO_INTERRUPTED_EXCEPTION',
    kind: 'vacuity check',
    what: 'P1 without its exception for a dispense a kiosk crash interrupted',
    violates: 'VIOLATED P1',
  },
];

/** Why the model cannot be checked here (a sentence naming what to install), or null. */
export function spinMissingReason(): string | null {
  const missing = ['spin', 'gcc'].filter((name) => !onPath(name));
  return missing.length === 0
    ? null
    : `${missing.join(' and ')} not found: install the Debian packages spin and gcc (.ci/run installs them)`;
}

function onPath(name: string): boolean {
  return (process.env.PATH ?? '')
    .split(path.delimiter)
    .filter((dir) => dir.length > 0)
    .some((dir) => {
      try {
        fs.accessSync(path.join(dir, name), fs.constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
}

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
}

function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Ran> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
  });
}

async function runChecked(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Ran> {
  const ran = await run(command, args, cwd, timeoutMs);
  if (ran.code !== 0)
    throw new Error(`${command} ${args.join(' ')} exited with ${String(ran.code)}:\n${ran.stderr}${ran.stdout}`);
  return ran;
}

function figure(report: string, pattern: RegExp): number {
  const match = pattern.exec(report);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]);
}

/** The printf lines of a `spin -t -p` replay, up to where the trail ends. */
export function storyOf(replay: string): string[] {
  const story: string[] = [];
  for (const line of replay.split('\n')) {
    if (line.startsWith('spin: trail ends')) break;
    if (/^\s*\d+:\s+proc\s/.test(line) || line.startsWith('ltl ') || line.trim() === '') continue;
    if (/^spin: .*(assertion violated|text of failed assertion)/.test(line) || !line.startsWith('spin:'))
      story.push(line.replaceAll('\t', ' ').trim());
  }
  return story;
}

/** One SPIN run of the model (or a variant) in options.dir: spin -a, gcc, pan, and a replay if pan wrote a trail. */
export async function runSpinModel(options: SpinRunOptions): Promise<SpinResult> {
  const started = process.hrtime.bigint();
  const mode = options.mode ?? 'safety';
  const depthMax = options.depthMax ?? SPIN_DEPTH_MAX;
  const timeoutMs = options.timeoutMs ?? SPIN_TIMEOUT_MS;
  const model = 'settlement.pml';
  fs.copyFileSync(options.model ?? SETTLEMENT_MODEL, path.join(options.dir, model));
  const defines = [
    ...(options.variant === undefined ? [] : [`-D${options.variant}`]),
    ...Object.entries(options.defines ?? {}).map(([name, value]) => `-D${name}=${value}`),
  ];
  await runChecked('spin', [...defines, '-a', model], options.dir, timeoutMs);
  const compile = [
    ...GCC_FLAGS,
    `-DMEMLIM=${options.memoryMbMax ?? SPIN_MEMORY_MB_MAX}`,
    ...(mode === 'safety' ? ['-DSAFETY', '-DNOCLAIM'] : []),
    ...(options.shortest === true ? ['-DREACH'] : []),
    '-o',
    'pan',
    'pan.c',
  ];
  await runChecked('gcc', compile, options.dir, timeoutMs);
  const search = [
    `-m${depthMax}`,
    `-w${options.hashBits ?? SPIN_HASH_BITS}`,
    ...(mode === 'liveness' ? ['-a', '-f'] : []),
    ...(options.shortest === true ? ['-i'] : []),
    ...(options.ignoreAssertions === true ? ['-A'] : []),
  ];
  const pan = await run('./pan', search, options.dir, timeoutMs);
  const report = pan.stdout + pan.stderr;
  if (!/State-vector \d+ byte/.test(report))
    throw new Error(`pan gave no report (exit ${String(pan.code)}):\n${report}`);
  const errors = figure(report, /errors: (\d+)/);
  const depthReached = figure(report, /depth reached (\d+)/);
  const result: SpinResult = {
    variant: options.variant ?? null,
    mode,
    errors,
    statesStored: figure(report, /(\d+) states, stored/),
    transitions: figure(report, /(\d+) transitions \(/),
    depthReached,
    depthMax,
    complete:
      !/search not completed/i.test(report) &&
      !report.includes('max search depth too small') &&
      !report.includes('reached -DMEMLIM bound') &&
      depthReached < depthMax,
    seconds: 0,
    searchSeconds: figure(report, /pan: elapsed time ([\d.]+) seconds/),
    report,
  };
  const trailFile = path.join(options.dir, `${model}.trail`);
  if (fs.existsSync(trailFile)) {
    result.trailFile = trailFile;
    const replay = await run('spin', [...defines, '-t', '-p', model], options.dir, timeoutMs);
    result.trail = replay.stdout + replay.stderr;
    result.story = storyOf(result.trail);
  }
  result.seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return result;
}

/** runSpinModel in a fresh temp dir, removed afterwards. */
export async function runSpinModelInTemp(options: Omit<SpinRunOptions, 'dir'>): Promise<SpinResult> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'settlement-spin-'));
  try {
    return await runSpinModel({ ...options, dir });
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

function searched(result: SpinResult): string {
  if (result.complete) return 'exhaustive';
  return result.errors > 0 ? 'stopped at the first violation' : 'NOT exhaustive';
}

/** One line for a person: the figures of a run. */
export function spinSummary(result: SpinResult): string {
  const name = `${result.variant ?? 'intended protocol'} (${result.mode})`;
  return (
    `${name}: ${result.errors} errors, ${result.statesStored} states, ${result.transitions} transitions, ` +
    `depth ${result.depthReached}, ${searched(result)}, ${result.seconds.toFixed(1)} s`
  );
}

/** --long: three faults a run instead of two (about 2 million states, 6 s safety and 9 s liveness, 600 MB). */
export const SPIN_LONG_DEFINES: Readonly<Record<string, number>> = { FAULTS: 3 };

/**
 * The torture suite's part: the intended protocol must pass (safety and liveness, exhaustively)
 * and every variant must be caught. With --plant naming a bug a variant models, that variant is
 * the protocol under test instead, so its violation is reported as a failure (the bug was found).
 */
export const spinPart: Part = {
  name: 'spin',
  run: async ({ long, plant }): Promise<PartResult> => {
    const scale = long ? { defines: SPIN_LONG_DEFINES, hashBits: 24 } : {};
    const missing = spinMissingReason();
    if (missing !== null) return { summary: `spin: skipped (${missing})`, failures: [], figures: {} };
    const planted = SETTLEMENT_VARIANTS.filter(
      (variant) => variant.plant !== undefined && plant.includes(variant.plant),
    );
    const failures: string[] = [];
    const figures: Record<string, unknown> = {};
    const underTest = planted.length === 0 ? [undefined] : planted.map((variant) => variant.variant);
    for (const variant of underTest) {
      for (const mode of ['safety', 'liveness'] as const) {
        const result = await runSpinModelInTemp({ ...scale, variant, mode, shortest: variant !== undefined });
        figures[`${variant ?? 'intended'}.${mode}`] = { ...result, report: undefined, trail: undefined };
        if (result.errors !== 0) failures.push(`${spinSummary(result)}: ${(result.story ?? []).join(' / ')}`);
        else if (!result.complete) failures.push(`${spinSummary(result)}: the search was cut short`);
        if (variant !== undefined && result.errors !== 0) break;
      }
    }
    if (planted.length === 0) {
      for (const { variant, violates } of SETTLEMENT_VARIANTS) {
        const result = await runSpinModelInTemp({ variant, shortest: true });
        figures[variant] = { ...result, report: undefined, trail: undefined, story: result.story };
        const found = result.errors > 0 && (result.story ?? []).some((line) => line.startsWith(violates));
        if (!found) failures.push(`${spinSummary(result)}: SPIN did not find ${variant} (${violates})`);
      }
    }
    return {
      summary: `spin: protocol/settlement.pml${planted.length > 0 ? ` with ${planted.map((v) => v.variant).join(', ')}` : ''}, ${Object.keys(figures).length} runs`,
      failures,
      figures,
    };
  },
};
