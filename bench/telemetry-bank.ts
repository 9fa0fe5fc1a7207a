// The telemetry benchmark's bank under load (bench/telemetry.ts): a bank host with logged-in
// sessions and a subscriber, the deposits it is driven with, and one measured slice.
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { addKiosk, addOperator, initKeystore, silentObserver, startBankHost, type BankHost } from '../bank/index.js';
import { bankTelemetry, type BankMqttOptions, type TelemetryRuntime } from '../telemetry/index.js';
import { BankConnection } from '../protocol/index.js';
import { waitUntil } from '../test/helpers/wait.js';
import type { Mosquitto } from '../test/helpers/mosquitto.js';
import { BCRYPT_COST, OPERATOR, POLL_MS, roots, type Mode } from './telemetry-config.js';
import { processCpuUs, telemetryThreadsCpuUs } from './telemetry-proc.js';
import { summarize, type Load, type LoadResult } from './telemetry-stats.js';
import { inProcessSubscriber, mosquittoSubscriber, subscriberDir, type Subscriber } from './telemetry-subscribers.js';

/** A bank in a fresh temp dir, `sessions` logged-in connections, and a subscriber to atm/v1/#. */
export class BenchBank {
  /** Deposits made on this bank so far (every one publishes one deposit event when telemetry is on). */
  depositsMade = 0;
  private publishedMark = 0;

  private constructor(
    readonly root: string,
    readonly host: BankHost<TelemetryRuntime>,
    readonly connections: BankConnection[],
    readonly subscriber: Subscriber | null,
    /** The external mosquitto's pid (its CPU is measured per slice), or null. */
    readonly brokerPid: number | null,
  ) {}

  static async start(
    mode: Mode,
    sessions: number,
    broker: Mosquitto | null,
    withSubscriber = true,
  ): Promise<BenchBank> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'atm-telemetry-bench-'));
    roots.push(root);
    const dataDir = path.join(root, 'data');
    initKeystore(dataDir);
    addOperator(dataDir, OPERATOR.username, await bcrypt.hash(OPERATOR.password, BCRYPT_COST));
    const kiosks = Array.from({ length: Math.ceil(sessions / 4) }, (_, index) => {
      const kioskId = `bench-${index}`;
      return { kioskId, psk: Buffer.from(addKiosk(dataDir, kioskId, path.join(root, `${kioskId}.key`)).psk, 'hex') };
    });
    let mqtt: BankMqttOptions = { mode: 'off' };
    if (mode === 'embedded') mqtt = { mode: 'embedded', port: 0 };
    if (mode === 'mosquitto' && broker !== null) mqtt = { mode: 'external', url: broker.url, ...broker.bank };
    const host = await startBankHost({
      dataDir,
      port: 0,
      bcryptCost: BCRYPT_COST,
      observer: silentObserver,
      sweepIntervalMs: 0,
      serverLimits: { sessionsPerKioskMax: 64, handshakesPerSecondPerKiosk: 100_000, handshakeBurstPerKiosk: 100_000 },
      loginsPerSecondPerKiosk: 100_000,
      loginBurstPerKiosk: 100_000,
      telemetry: bankTelemetry({ mqtt }),
    });
    let subscriber: Subscriber | null = null;
    if (mode !== 'off' && withSubscriber) {
      const port = mode === 'embedded' ? host.telemetry.mqttPort : broker?.port;
      const user = mode === 'embedded' ? OPERATOR : broker?.operator;
      if (port == null || user === undefined) throw new Error(`no broker for ${mode}`);
      subscriber =
        broker === null
          ? await inProcessSubscriber(port, user)
          : await mosquittoSubscriber(port, user, path.join(subscriberDir(root), 'received.txt'));
    }
    const connections = await Promise.all(
      Array.from({ length: sessions }, async (_, index) => {
        const kiosk = kiosks[index % kiosks.length] as { kioskId: string; psk: Buffer };
        const connection = await BankConnection.connect({
          host: '127.0.0.1',
          port: host.port,
          kioskId: kiosk.kioskId,
          psk: kiosk.psk,
        });
        const username = `bench${index}`;
        await connection.request({ op: 'register', username, password: 'bench-password-1' });
        const login = await connection.request({ op: 'login', username, password: 'bench-password-1' });
        if (!login.ok) throw new Error(`login failed: ${login.code}`);
        return connection;
      }),
    );
    return new BenchBank(root, host, connections, subscriber, mode === 'mosquitto' ? (broker?.pid() ?? null) : null);
  }

  /** Deposits on every session until each has made `perSession` and `more()` is false; latencies in ms. */
  async deposits(
    perSession: number,
    more: () => boolean = () => false,
    brokerPid: number | null = null,
  ): Promise<Load> {
    const latenciesMs: number[] = [];
    const brokerCpuBefore = processCpuUs(brokerPid);
    const cpuBefore = process.cpuUsage();
    // The main thread's task id is the process id.
    const mainThreadStat = `/proc/${process.pid}/task/${process.pid}/stat`;
    const mainBefore = processCpuUs(process.pid, mainThreadStat);
    const telemetryBefore = telemetryThreadsCpuUs();
    const started = performance.now();
    await Promise.all(
      this.connections.map(async (connection) => {
        for (let done = 0; done < perSession || more(); done++) {
          const sent = performance.now();
          const response = await connection.request({ op: 'deposit', txnId: crypto.randomUUID(), amountCents: 500 });
          latenciesMs.push(performance.now() - sent);
          if (!response.ok) throw new Error(`deposit declined: ${response.code}`);
        }
      }),
    );
    const elapsedMs = performance.now() - started;
    const cpu = process.cpuUsage(cpuBefore);
    const mainAfter = processCpuUs(process.pid, mainThreadStat);
    const mainThreadCpuUs = mainBefore === null || mainAfter === null ? null : mainAfter - mainBefore;
    const telemetryAfter = telemetryThreadsCpuUs();
    let telemetryThreadCpuUs: number | null = null;
    for (const [taskId, us] of telemetryAfter)
      telemetryThreadCpuUs = (telemetryThreadCpuUs ?? 0) + us - (telemetryBefore.get(taskId) ?? 0);
    const brokerCpuAfter = processCpuUs(brokerPid);
    const brokerCpuUs = brokerCpuBefore === null || brokerCpuAfter === null ? null : brokerCpuAfter - brokerCpuBefore;
    return { latenciesMs, elapsedMs, cpuUs: cpu.user + cpu.system, brokerCpuUs, mainThreadCpuUs, telemetryThreadCpuUs };
  }

  depositEventsReceived(): number {
    return this.subscriber?.depositEvents() ?? 0;
  }

  /**
   * Waits until the bank's telemetry has published this slice's events (its stats report every
   * TELEMETRY_STATS_REPORT_MS), so none of its work spills into the next slice, which may be another bank's.
   */
  async settle(mode: Mode, requests: number): Promise<void> {
    this.depositsMade += requests;
    if (mode === 'off') return;
    const target = this.publishedMark + requests;
    await waitUntil(
      () => this.host.telemetry.stats().published >= target && this.host.telemetry.stats().queued === 0,
      "the slice's telemetry",
      10_000,
      POLL_MS,
    );
    this.publishedMark = this.host.telemetry.stats().published;
  }

  async close(): Promise<void> {
    for (const connection of this.connections) connection.close();
    await this.host.close();
    await this.subscriber?.stop();
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** One slice on one bank: perSession deposits on each session, then its telemetry settles. */
export async function slice(mode: Mode, bank: BenchBank, perSession: number): Promise<LoadResult> {
  const load = await bank.deposits(perSession, undefined, mode === 'mosquitto' ? bank.brokerPid : null);
  await bank.settle(mode, load.latenciesMs.length);
  return summarize(load);
}

/** Deposit events the subscriber got of those the bank made; stops the subscriber (which flushes its file). */
export async function deliveredEvents(bank: BenchBank): Promise<{ delivered: number; made: number } | null> {
  if (bank.subscriber === null) return null;
  await waitUntil(() => bank.depositEventsReceived() >= bank.depositsMade, 'the deposit events', 2_000, POLL_MS).catch(
    () => undefined,
  );
  await bank.subscriber.stop();
  return { delivered: bank.depositEventsReceived(), made: bank.depositsMade };
}
