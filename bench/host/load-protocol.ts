// What the bench's main thread and its load workers say to each other (bench/host/load.ts and
// load-worker.ts). A step is: register (the accounts this worker owns), login (open and log in
// every session), go (run the script until the deadline or the request budget), close.

/** What one session does while the step runs. */
export type ScriptName = 'handshake' | 'idle' | 'balance' | 'mixed' | 'login';

export interface KioskCredential {
  kioskId: string;
  pskHex: string;
}

export interface SessionSlot {
  /** The account this session logs in as; null: no login (handshake, idle). */
  username: string | null;
  /** This slot registers the account (one slot per username does). */
  registers: boolean;
  /** Index into the job's kiosks: the kiosk this session speaks for (handshake loops rotate from here). */
  kioskIndex: number;
}

/** One bank host's address; a step's sessions may be spread over several sharing one ledger. */
export interface BankEndpoint {
  host: string;
  port: number;
}

/** A slot as a worker gets it: with the bank host (an index into the job's banks) it talks to. */
export interface AssignedSlot extends SessionSlot {
  bank: number;
}

export interface WorkerJob {
  script: ScriptName;
  /** The bank hosts (one, or several on one shared ledger); each slot names its own. */
  banks: BankEndpoint[];
  kiosks: KioskCredential[];
  slots: AssignedSlot[];
  /** Slots in the whole step, over every worker: the stride of a handshake loop's kiosks. */
  slotsTotal: number;
  password: string;
  /** This worker's share of the step's request budget. */
  requestsMax: number;
}

export type ToWorker =
  | { type: 'prepare'; job: WorkerJob }
  | { type: 'register' }
  | { type: 'login' }
  | { type: 'go'; durationMs: number }
  | { type: 'close' };

export interface OpLatencies {
  op: string;
  latenciesMs: Float64Array;
}

export interface WorkerResult {
  ops: OpLatencies[];
  /** Requests that failed (declined when they should not be, or a broken session), and the first reasons. */
  errors: number;
  firstErrors: string[];
  elapsedMs: number;
}

export type FromWorker =
  | { type: 'prepared' }
  | { type: 'registered' }
  | { type: 'ready'; sessions: number }
  | { type: 'done'; result: WorkerResult }
  | { type: 'closed' }
  | { type: 'failed'; error: string };
