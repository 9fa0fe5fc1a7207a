// Test-only fault points and planted bugs for the torture suite (issue 15, RELIABILITY.md).
// Everything here is inert unless the process was started with ATM_TEST_FAULTS set, which no
// deployment sets (`atm bank` prints a warning line when it is). Two kinds of switch:
//   crash=POINT:P[;POINT:P…]  at a named point in the commit path, SIGKILL this process with
//                             probability P each time the point is passed (the crash loop
//                             reaches moments a kill from outside rarely hits: inside the
//                             LevelDB batch, between the batch and the audit append, during
//                             the audit sync);
//   plant=BUG[;BUG…]          a known bug, switched on so the suite can show that it catches it.
// e.g. ATM_TEST_FAULTS='crash=commit.afterBatch:0.02;audit.duringSync:0.1,plant=skip-account-lock'.
// Read once at start: the hot path pays one boolean test per point.
import { writeSync } from 'node:fs';

export const TEST_FAULTS_ENV = 'ATM_TEST_FAULTS';

export const FAULT_POINTS = [
  /** The group's batch is built, the LevelDB write not yet issued. */
  'commit.beforeBatch',
  /** The LevelDB write is issued and in flight (killed while the native batch runs). */
  'commit.insideBatch',
  /** The batch is durable; its audit lines are not yet in audit.log and no answer has gone out. */
  'commit.afterBatch',
  /** The audit lines are in audit.log (page cache); the answers not yet sent. */
  'commit.afterAudit',
  /** audit.log's fdatasync is in flight; audit.head not yet rewritten. */
  'audit.duringSync',
] as const;
export type FaultPoint = (typeof FAULT_POINTS)[number];

export const PLANTED_BUGS = [
  /** The bank answers before the group's LevelDB write is synced (sync: false). */
  'skip-fsync',
  /** Requests of one account run without the per-account lock. */
  'skip-account-lock',
  /** The record layer accepts a record whose sequence number is not the next one. */
  'stale-record-seq',
  /** withdraw.post debits an account even when the transaction holds nothing. */
  'post-without-hold',
  /** A deposit whose answer was lost is retried under a new transaction id. */
  'deposit-new-id',
] as const;
export type PlantedBug = (typeof PLANTED_BUGS)[number];

export interface TestFaults {
  crash: ReadonlyMap<FaultPoint, number>;
  plant: ReadonlySet<PlantedBug>;
}

const isFaultPoint = (name: string): name is FaultPoint => (FAULT_POINTS as readonly string[]).includes(name);
const isPlantedBug = (name: string): name is PlantedBug => (PLANTED_BUGS as readonly string[]).includes(name);

/** Parses the env value; an unknown name is an error (a typo must not silently test nothing). */
export function parseTestFaults(text: string): TestFaults {
  const crash = new Map<FaultPoint, number>();
  const plant = new Set<PlantedBug>();
  for (const part of text.split(',').filter((item) => item.trim() !== '')) {
    const [kind, list = ''] = part.split('=', 2).map((item) => item.trim());
    for (const item of list.split(';').filter((entry) => entry !== '')) {
      if (kind === 'crash') {
        const [point = '', probabilityText = '1'] = item.split(':');
        const probability = Number(probabilityText);
        if (!isFaultPoint(point)) throw new Error(`${TEST_FAULTS_ENV}: unknown fault point ${point}`);
        if (!(probability > 0 && probability <= 1))
          throw new Error(`${TEST_FAULTS_ENV}: probability of ${point} must be in (0, 1]`);
        crash.set(point, probability);
      } else if (kind === 'plant') {
        if (!isPlantedBug(item)) throw new Error(`${TEST_FAULTS_ENV}: unknown planted bug ${item}`);
        plant.add(item);
      } else {
        throw new Error(`${TEST_FAULTS_ENV}: unknown switch ${String(kind)} (crash=… or plant=…)`);
      }
    }
  }
  return { crash, plant };
}

const configured: TestFaults | null = (() => {
  const text = process.env[TEST_FAULTS_ENV];
  return text === undefined || text === '' ? null : parseTestFaults(text);
})();

/** True when this process runs with test faults (the bank says so on start). */
export const testFaultsActive = configured !== null;

/** Describes the active switches, for the warning line. */
export function describeTestFaults(): string {
  if (configured === null) return 'none';
  const crash = [...configured.crash].map(([point, probability]) => `${point}:${probability}`);
  return [`crash=${crash.join(';')}`, `plant=${[...configured.plant].join(';')}`].join(' ');
}

/** Is this planted bug switched on? Always false outside a torture run. */
export function planted(bug: PlantedBug): boolean {
  return configured?.plant.has(bug) === true;
}

/** At a fault point: SIGKILL this process with the configured probability. */
export function faultPoint(point: FaultPoint): void {
  if (configured === null) return;
  const probability = configured.crash.get(point);
  if (probability === undefined || Math.random() >= probability) return;
  // Said first, synchronously, so the crash loop can count where its kills landed.
  writeSync(2, `atm: test fault point ${point}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
