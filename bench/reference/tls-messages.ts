// What the TLS reference's processes and threads tell each other (tls.ts, tls-echo-server.ts,
// tls-load-worker.ts): the server's port, and the load workers' commands and results.

/** The echo server's one message to its parent, by IPC, once it listens. */
export interface ServerListening {
  kind: 'listening';
  port: number;
}

/** A load worker's workerData: where the server is and how to verify its certificate. */
export interface WorkerSetup {
  port: number;
  /** The server's self-signed certificate (PEM), the only CA trusted. */
  ca: string;
  servername: string;
}

/** Commands to a load worker; it answers each with one WorkerReply (or `failed`). */
export type WorkerCommand =
  /** Full handshakes on `connections` parallel loops for `seconds`. */
  | { kind: 'handshakes'; connections: number; seconds: number }
  /** Open `connections` long-lived connections and answer `echo-ready`. */
  | { kind: 'echo-open'; connections: number; payloadBytes: number }
  /** Round trips on the open connections for `seconds`, then close them. */
  | { kind: 'echo-go'; seconds: number };

export type WorkerReply =
  | {
      kind: 'handshakes';
      /** Connections completed (connect → secureConnect → 1-byte echo → close). */
      count: number;
      /** Sum of their durations. */
      msTotal: number;
      /** Handshakes that resumed a session (must stay 0: full handshakes only). */
      resumed: number;
      elapsedMs: number;
    }
  | { kind: 'echo-ready' }
  | { kind: 'echo'; count: number; elapsedMs: number; latenciesMs: Float64Array<ArrayBuffer> }
  | { kind: 'failed'; message: string };

export const HANDSHAKE_BYTE = Buffer.from([0x2a]);
/** A connection (or one round trip) that takes longer than this fails the run. */
export const SOCKET_TIMEOUT_MS = 10_000;
/** TLS 1.3 and nothing else, on both sides. */
export const TLS13 = { minVersion: 'TLSv1.3', maxVersion: 'TLSv1.3' } as const;
