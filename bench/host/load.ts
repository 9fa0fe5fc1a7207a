// The load generator's main-thread side: a pool of worker threads (load-worker.ts) that hold
// the bench's sessions between them. One step at a time: give each worker its share of the
// sessions, register the accounts, open and log in every session, then run the script for the
// step's duration; the caller samples the bank around `go` through the hooks.
import { Worker } from 'node:worker_threads';
import type {
  AssignedSlot,
  BankEndpoint,
  FromWorker,
  KioskCredential,
  ScriptName,
  SessionSlot,
  ToWorker,
  WorkerResult,
} from './load-protocol.js';

/** A worker's answer must come within this long (logins at cost 12 included). */
const WORKER_REPLY_MS_MAX = 120_000;

export interface StepPlan {
  script: ScriptName;
  slots: SessionSlot[];
  durationMs: number;
  requestsMax: number;
}

export interface BankAddress {
  /** Every host of the bank under test: slot i talks to host i mod their number. */
  endpoints: readonly BankEndpoint[];
  kiosks: KioskCredential[];
}

export interface StepLoad {
  sessionsOpened: number;
  latenciesMs: Map<string, Float64Array>;
  errors: number;
  firstErrors: string[];
  elapsedMs: number;
}

class LoadWorker {
  private readonly worker: Worker;
  private waiting: { resolve: (message: FromWorker) => void; reject: (error: Error) => void } | null = null;

  constructor() {
    this.worker = new Worker(new URL('./load-worker.js', import.meta.url));
    this.worker.on('message', (message: FromWorker) => {
      const waiting = this.waiting;
      this.waiting = null;
      if (message.type === 'failed') waiting?.reject(new Error(`load worker: ${message.error}`));
      else waiting?.resolve(message);
    });
    this.worker.on('error', (error) => {
      this.waiting?.reject(error);
      this.waiting = null;
    });
  }

  ask(message: ToWorker): Promise<FromWorker> {
    return new Promise<FromWorker>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`load worker did not answer '${message.type}' within ${WORKER_REPLY_MS_MAX} ms`)),
        WORKER_REPLY_MS_MAX,
      );
      this.waiting = {
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      };
      this.worker.postMessage(message);
    });
  }

  terminate(): Promise<number> {
    return this.worker.terminate();
  }
}

export class LoadGenerator {
  private constructor(private readonly workers: LoadWorker[]) {}

  static start(workers: number): LoadGenerator {
    return new LoadGenerator(Array.from({ length: workers }, () => new LoadWorker()));
  }

  /**
   * Runs one step: slot i talks to bank host i mod hosts, and slots are dealt round-robin to
   * the workers. beforeGo runs once every session is open (sample the bank), afterGo once every
   * worker is done and before the sessions close.
   */
  async run(
    bank: BankAddress,
    plan: StepPlan,
    password: string,
    hooks: { beforeGo: () => Promise<void>; afterGo: () => Promise<void> },
  ): Promise<StepLoad> {
    const slots = plan.slots.map((slot, slotIndex): AssignedSlot => ({
      ...slot,
      bank: slotIndex % bank.endpoints.length,
    }));
    const shares = this.workers.map((_, workerIndex) =>
      slots.filter((_slot, slotIndex) => slotIndex % this.workers.length === workerIndex),
    );
    const busy = this.workers.filter((_, index) => (shares[index]?.length ?? 0) > 0);
    const all = (message: ToWorker): Promise<FromWorker[]> => Promise.all(busy.map((worker) => worker.ask(message)));
    await Promise.all(
      busy.map((worker) =>
        worker.ask({
          type: 'prepare',
          job: {
            script: plan.script,
            banks: [...bank.endpoints],
            kiosks: bank.kiosks,
            slots: shares[this.workers.indexOf(worker)] ?? [],
            slotsTotal: plan.slots.length,
            password,
            requestsMax: Math.ceil(plan.requestsMax / busy.length),
          },
        }),
      ),
    );
    try {
      await all({ type: 'register' });
      const ready = await all({ type: 'login' });
      const sessionsOpened = ready.reduce((sum, reply) => sum + (reply.type === 'ready' ? reply.sessions : 0), 0);
      await hooks.beforeGo();
      const done = await all({ type: 'go', durationMs: plan.durationMs });
      await hooks.afterGo();
      const results = done.flatMap((reply): WorkerResult[] => (reply.type === 'done' ? [reply.result] : []));
      return { sessionsOpened, ...merge(results) };
    } finally {
      await all({ type: 'close' });
    }
  }

  async close(): Promise<void> {
    await Promise.all(this.workers.map((worker) => worker.terminate()));
  }
}

function merge(results: WorkerResult[]): Omit<StepLoad, 'sessionsOpened'> {
  const latenciesMs = new Map<string, Float64Array>();
  for (const { ops } of results) {
    for (const { op, latenciesMs: values } of ops) {
      const before = latenciesMs.get(op);
      if (before === undefined) {
        latenciesMs.set(op, values);
        continue;
      }
      const joined = new Float64Array(before.length + values.length);
      joined.set(before);
      joined.set(values, before.length);
      latenciesMs.set(op, joined);
    }
  }
  return {
    latenciesMs,
    errors: results.reduce((sum, result) => sum + result.errors, 0),
    firstErrors: results.flatMap((result) => result.firstErrors).slice(0, 5),
    elapsedMs: Math.max(0, ...results.map((result) => result.elapsedMs)),
  };
}
