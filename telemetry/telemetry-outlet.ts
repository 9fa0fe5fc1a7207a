// [Seam] Where telemetry leaves the bank: the MQTT client to an external broker
// (MqttTelemetry) or the embedded broker itself (BrokerTelemetry). An outlet runs on the
// telemetry's own thread; the bank's transaction thread only hands it JSON strings in batches
// (telemetry-port.ts), so what an MQTT publish costs is never paid between two transactions.

export interface TelemetryStats {
  published: number;
  dropped: number;
  queued: number;
  /** Whether the sink is connected to its broker now (false for NoopTelemetry). */
  connected: boolean;
}

/**
 * Contract: send() never blocks and never throws; it wraps payloadJson (a JSON object, as
 * JSON.stringify made it) in the envelope `{ v: 1, ts, seq }` with ts = tsMs (when the bank
 * produced it, not when it left) and seq per outlet; messages leave in send() order. What it
 * cannot deliver it drops and counts in stats().dropped. close() publishes the bank's offline
 * status if it can, resolves once nothing more will leave, and never rejects.
 */
export interface TelemetryOutlet {
  send(topic: string, payloadJson: string, tsMs: number, retain: boolean): void;
  stats(): TelemetryStats;
  close(): Promise<void>;
}

/**
 * The envelope by string splicing: the payload is stringified once, on the bank's thread,
 * and never parsed again. The same string as JSON.stringify({ v: 1, ts, seq, ...payload }) for
 * every payload the bank publishes (none has a key v, ts or seq; one that did would parse to
 * the same object, its own value winning as with the spread).
 */
export class Envelope {
  private seq = 0;

  wrap(payloadJson: string, tsMs: number): string {
    if (!payloadJson.startsWith('{') || !payloadJson.endsWith('}'))
      throw new TypeError('a telemetry payload is a JSON object');
    this.seq += 1;
    const head = `{"v":1,"ts":"${new Date(tsMs).toISOString()}","seq":${this.seq}`;
    return payloadJson.length === 2 ? `${head}}` : `${head},${payloadJson.slice(1)}`;
  }

  /** Convenience for an outlet's own messages (its online and offline statuses). */
  wrapObject(payload: object, tsMs: number): string {
    return this.wrap(JSON.stringify(payload), tsMs);
  }
}
