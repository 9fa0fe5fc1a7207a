// Telemetry against a real external broker (TOPICS.md, DESIGN §6): a real `mosquitto` with
// password authentication and an ACL (test/helpers/mosquitto.ts), the real `atm bank --mqtt`
// process and `atm client`, the real `mosquitto_sub` and an mqtt.js subscriber. Then a broker
// outage under a stream of transactions (in-process bank), and a `#` subscriber that watches
// the whole file for secrets. Nothing is skipped: without mosquitto the file fails and says
// what to install (.ci/run installs it). No timing is asserted here; speed is bench/telemetry.ts.
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { loadKeystore, loadKioskKeyFile } from '../../bank/index.js';
import { connectMqttAsync, type MqttClientLike } from '../../protocol/index.js';
import { TELEMETRY_QUEUE_MESSAGES_MAX } from '../../telemetry/telemetry.js';
import { TELEMETRY_PORT_IN_FLIGHT_MAX, TELEMETRY_STATS_REPORT_MS } from '../../telemetry/telemetry-port.js';
import type { BankConnection } from '../../protocol/index.js';
import { topics } from '../../protocol/telemetry.js';
import { startTestBank, TEST_PASSWORD } from '../helpers/bank.js';
import { runAtm, startBankProcess, tempDir, type BankProcess } from '../helpers/cli.js';
import { fieldNames, parseJson, recordMqtt, type Recorder } from '../helpers/mqtt-recorder.js';
import {
  mosquittoExecutable,
  mosquittoMissingReason,
  spawnMosquittoSub,
  startMosquitto,
  type Mosquitto,
  type MqttUser,
} from '../helpers/mosquitto.js';
import { waitUntil } from '../helpers/wait.js';

const WAIT_MS = 10_000;
const RECONNECT_WAIT_MS = 40_000;
const CLI_PASSWORD = 'mosquitto test password 7';
const CLI_USER = 'mosquitto-depositor';
const OUTAGE_SESSIONS = 4;
/** Hang guard for the outage stream (not a speed assertion): deposits issued while the broker is down. */
const OUTAGE_DEPOSITS_MAX = 20_000;

const clients: MqttClientLike[] = [];

/** An mqtt.js subscriber that records every message; reconnectPeriod > 0 rides out broker restarts. */
/** Waits (bounded) for the telemetry thread's next stats report; the caller asserts after. */
function statsSettle(settled: () => boolean): Promise<void> {
  return waitUntil(settled, "the telemetry thread's stats report", 10 * TELEMETRY_STATS_REPORT_MS).catch(
    () => undefined,
  );
}

async function record(url: string, user: MqttUser, filter: string, reconnectPeriod = 0): Promise<Recorder> {
  const recorder = await recordMqtt(url, filter, user, { reconnectPeriod, connectTimeout: 2_000, waitMs: WAIT_MS });
  clients.push(recorder.client);
  return recorder;
}

// Without the broker every test below is cancelled by its failed `before`; this one fails, and says why.
test('mosquitto and mosquitto-clients are installed (.ci/run installs them; nothing here is skipped without them)', () => {
  const reason = mosquittoMissingReason();
  assert.ok(reason === null, reason ?? undefined);
});

describe('telemetry through a real mosquitto broker', { concurrency: 1, timeout: 120_000 }, () => {
  let broker: Mosquitto;
  let everything: Recorder;
  /** What must never appear in any payload; filled as the tests create them. */
  const secrets: string[] = [TEST_PASSWORD, CLI_PASSWORD];
  const fullUsernames: string[] = [];

  before(async () => {
    broker = await startMosquitto();
    secrets.push(broker.bank.password, broker.operator.password, broker.auditor.password);
    // [TOPICS] nothing published may carry a secret: one subscriber to `#` for the whole file.
    everything = await record(broker.url, broker.auditor, '#', 100);
  });
  after(async () => {
    await Promise.all(clients.map((client) => client.endAsync(true).catch(() => undefined)));
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await broker?.cleanup();
  });

  test('two bank hosts sharing one keystore report to one broker each under its --host-id, each with its own last will', async () => {
    const root = tempDir('atm-mosq-hosts-');
    const banks: BankProcess[] = [];
    try {
      const east = path.join(root.dir, 'east');
      const init = await runAtm(['keys', 'init', '--data', east]);
      assert.equal(init.code, 0, init.stderr);
      const west = path.join(root.dir, 'west');
      fs.mkdirSync(west, { mode: 0o700 });
      fs.copyFileSync(path.join(east, 'keystore.json'), path.join(west, 'keystore.json'));
      const watcher = await record(broker.url, broker.operator, topics.bankStatus('+'));
      const env = { ATM_MQTT_USERNAME: broker.bank.username, ATM_MQTT_PASSWORD: broker.bank.password };
      for (const [dir, hostId] of [
        [east, 'bank-east'],
        [west, 'bank-west'],
      ] as const)
        banks.push(
          await startBankProcess(dir, ['--bcrypt-cost', '4', '--mqtt', broker.url, '--host-id', hostId], { env }),
        );
      for (const hostId of ['bank-east', 'bank-west'])
        await watcher.waitFor((m) => m.topic === topics.bankStatus(hostId) && m.payload.status === 'online');
      const from = watcher.received.length;
      await banks[0]?.kill();
      const will = await watcher.waitFor((m) => m.payload.status === 'offline', from);
      assert.equal(will.topic, topics.bankStatus('bank-east'), 'the dead host alone goes offline');
      assert.ok(!watcher.received.slice(from).some((m) => m.topic === topics.bankStatus('bank-west')));
    } finally {
      for (const bank of banks) await bank.kill();
      root.remove();
    }
  });

  describe('atm bank --mqtt mqtt://127.0.0.1:PORT (the real CLI process)', { concurrency: 1 }, () => {
    let root: { dir: string; remove: () => void };
    let bank: BankProcess;
    let hostId: string;
    let keyFile: string;
    const kioskId = 'kiosk-mq-01';
    const client = (args: string[]) =>
      runAtm(['client', '--bank', `127.0.0.1:${bank.port}`, '--kiosk', kioskId, '--key', keyFile, ...args], {
        env: { ATM_PASSWORD: CLI_PASSWORD },
      });

    before(async () => {
      root = tempDir('atm-mosq-cli-');
      const dataDir = path.join(root.dir, 'data');
      keyFile = path.join(root.dir, `${kioskId}.key`);
      const init = await runAtm(['keys', 'init', '--data', dataDir, '--json']);
      assert.equal(init.code, 0, init.stderr);
      hostId = (JSON.parse(init.stdout) as { hostId: string }).hostId;
      const added = await runAtm(['keys', 'add-kiosk', kioskId, '--data', dataDir, '--out', keyFile]);
      assert.equal(added.code, 0, added.stderr);
      secrets.push(loadKioskKeyFile(keyFile).psk.toString('hex'));
      fullUsernames.push(CLI_USER);
      bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--mqtt', broker.url], {
        env: { ATM_MQTT_USERNAME: broker.bank.username, ATM_MQTT_PASSWORD: broker.bank.password },
      });
      assert.equal(bank.hostId, hostId, 'the bank runs as the keystore host id');
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      await bank?.kill();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      root?.remove();
    });

    test('a deposit through atm client arrives on a real mosquitto_sub and on an mqtt.js subscriber: masked user, amount, kiosk, outcome ok, no balance', async () => {
      const sub = await spawnMosquittoSub(broker.port, broker.operator, ['atm/v1/events/#']);
      try {
        const mqttjs = await record(broker.url, broker.operator, 'atm/v1/events/#');
        assert.equal((await client(['register', '--user', CLI_USER])).code, 0);
        const deposit = await client(['deposit', '--user', CLI_USER, '--amount', '1234.56']);
        assert.equal(deposit.code, 0, deposit.stderr);
        assert.equal(deposit.stdout, 'deposit ok: balance 1234.56\n');
        const second = await client(['deposit', '--user', CLI_USER, '--amount', '654.32']);
        assert.equal(second.code, 0, second.stderr);

        const isFirst = (topic: string, payload: Record<string, unknown>): boolean =>
          topic === 'atm/v1/events/deposit' && payload.amountCents === 123_456;
        const viaSub = await sub.waitFor((m) => isFirst(m.topic, parseJson(m.text)), WAIT_MS);
        const viaMqttjs = await mqttjs.waitFor((m) => isFirst(m.topic, m.payload));
        for (const payload of [parseJson(viaSub.text), viaMqttjs.payload]) {
          assert.equal(payload.kioskId, kioskId);
          assert.equal(payload.user, 'mo***');
          assert.equal(payload.action, 'deposit');
          assert.equal(payload.outcome, 'ok');
          assert.equal(payload.amountCents, 123_456);
          assert.equal(typeof payload.latencyMs, 'number');
          assert.equal(payload.v, 1);
          assert.equal(typeof payload.seq, 'number');
          assert.deepEqual(
            fieldNames(payload).filter((key) => /balance/i.test(key)),
            [],
          );
        }
        assert.equal(viaMqttjs.retain, false);
        await sub.waitFor(
          (m) => m.topic === 'atm/v1/events/deposit' && parseJson(m.text).amountCents === 65_432,
          WAIT_MS,
        );
        // The same messages reached both subscribers.
        assert.ok(sub.messages().some((m) => m.text === viaMqttjs.text));
      } finally {
        await sub.stop();
      }
    });

    test('kiosk status goes online then offline (retained) around an atm client session', async () => {
      const statusTopic = topics.kioskStatus(kioskId);
      const watcher = await record(broker.url, broker.operator, statusTopic);
      // The previous test's sessions left a retained status behind; start after it.
      await watcher.waitFor((m) => m.retain);
      const from = watcher.received.length;
      const balance = await client(['balance', '--user', CLI_USER]);
      assert.equal(balance.code, 0, balance.stderr);
      const online = await watcher.waitFor((m) => !m.retain && m.payload.status === 'online', from);
      const offline = await watcher.waitFor(
        (m) => !m.retain && m.payload.status === 'offline',
        watcher.received.indexOf(online) + 1,
      );
      for (const message of [online, offline]) {
        assert.equal(message.topic, statusTopic);
        assert.equal(message.payload.kioskId, kioskId);
      }
      assert.ok((offline.payload.seq as number) > (online.payload.seq as number));
      const late = await record(broker.url, broker.operator, statusTopic);
      const lateStatus = await late.waitFor(() => true);
      assert.equal(lateStatus.retain, true);
      assert.equal(lateStatus.payload.status, 'offline');
      assert.equal(lateStatus.payload.seq, offline.payload.seq);
    });

    test('SIGKILL of the bank: mosquitto publishes its last will, offline (lost), retained for later subscribers', async () => {
      const statusTopic = topics.bankStatus(hostId);
      const watcher = await record(broker.url, broker.operator, statusTopic);
      const online = await watcher.waitFor(() => true);
      assert.equal(online.retain, true);
      assert.equal(online.payload.status, 'online');
      const killed = await bank.kill();
      assert.equal(killed.signal, 'SIGKILL');
      const will = await watcher.waitFor((m) => m.payload.status === 'offline');
      assert.equal(will.payload.reason, 'lost');
      assert.equal(will.payload.v, 1);

      // A subscriber that arrives after the crash: the real mosquitto_sub, one message, then exit.
      const late = await spawnMosquittoSub(broker.port, broker.operator, [statusTopic], {
        extraArgs: ['-C', '1', '-W', '10'],
      });
      assert.equal(await late.exited, 0, late.stderr());
      const [message] = late.messages();
      assert.ok(message !== undefined, 'the retained status reached the late subscriber');
      assert.equal(message.topic, statusTopic);
      assert.equal(parseJson(message.text).status, 'offline');
      assert.equal(parseJson(message.text).reason, 'lost');
    });
  });

  test('the operator cannot publish into atm/v1/# (the ACL drops it: not delivered, not retained), and wrong credentials are refused', async () => {
    const forgedTopic = 'atm/v1/events/deposit';
    const watcher = await record(broker.url, broker.operator, 'atm/v1/#');
    const sub = await spawnMosquittoSub(broker.port, broker.operator, ['atm/v1/#']);
    try {
      const forgery = JSON.stringify({ forged: true, kioskId: 'kiosk-evil', amountCents: 1 });
      // With the real mosquitto_pub (QoS 1: the broker acknowledges, MQTT 3.1.1 has no negative PUBACK)…
      const pub = spawnSync(
        mosquittoExecutable('mosquitto_pub'),
        [
          '-h',
          '127.0.0.1',
          '-p',
          String(broker.port),
          '-V',
          'mqttv311',
          '-u',
          broker.operator.username,
          '-P',
          broker.operator.password,
          '-q',
          '1',
          '-r',
          '-t',
          forgedTopic,
          '-m',
          forgery,
        ],
        { encoding: 'utf8', timeout: WAIT_MS },
      );
      assert.equal(pub.status, 0, pub.stderr);
      // …and with mqtt.js, retained, on the bank's own status topic.
      const forger = await connectMqttAsync(broker.url, { protocolVersion: 4, ...broker.operator, reconnectPeriod: 0 });
      clients.push(forger);
      await forger.publishAsync(topics.bankStatus('bank-forged'), JSON.stringify({ forged: true, status: 'online' }), {
        qos: 1,
        retain: true,
      });
      // A message the bank user may publish, sent after both forgeries were acknowledged:
      // once it has arrived, a delivered forgery would have arrived before it.
      const marker = await connectMqttAsync(broker.url, { protocolVersion: 4, ...broker.bank, reconnectPeriod: 0 });
      clients.push(marker);
      await marker.publishAsync('atm/v1/test/marker', JSON.stringify({ marker: 1 }), { qos: 1, retain: false });
      await watcher.waitFor((m) => m.topic === 'atm/v1/test/marker');
      await sub.waitFor((m) => m.topic === 'atm/v1/test/marker', WAIT_MS);
      assert.deepEqual(
        watcher.received.filter((m) => m.text.includes('forged')),
        [],
      );
      assert.deepEqual(
        sub.messages().filter((m) => m.text.includes('forged')),
        [],
      );
      assert.equal(forger.connected, true);

      // Nothing forged was retained either: a late subscriber gets retained messages before a
      // marker published after it subscribed.
      const late = await record(broker.url, broker.operator, 'atm/v1/#');
      await marker.publishAsync('atm/v1/test/marker', JSON.stringify({ marker: 2 }), { qos: 1, retain: false });
      await late.waitFor((m) => m.topic === 'atm/v1/test/marker');
      assert.deepEqual(
        late.received.filter((m) => m.text.includes('forged')),
        [],
      );
    } finally {
      await sub.stop();
    }

    const refused = /not authori[sz]ed/i;
    await assert.rejects(
      connectMqttAsync(broker.url, {
        protocolVersion: 4,
        username: broker.operator.username,
        password: 'wrong password',
        reconnectPeriod: 0,
      }),
      refused,
    );
    await assert.rejects(
      connectMqttAsync(broker.url, {
        protocolVersion: 4,
        username: 'nobody',
        password: broker.operator.password,
        reconnectPeriod: 0,
      }),
      refused,
    );
    await assert.rejects(connectMqttAsync(broker.url, { protocolVersion: 4, reconnectPeriod: 0 }), refused);
    await assert.rejects(
      spawnMosquittoSub(broker.port, { username: broker.operator.username, password: 'wrong password' }, ['atm/v1/#']),
      /not authori[sz]ed/i,
    );
  });

  test('broker outage during a stream of deposits: every transaction succeeds, the queue stays bounded, drops are counted and reported on reconnect, events resume', async (t) => {
    const bank = await startTestBank({
      mqtt: { mode: 'external', url: broker.url, username: broker.bank.username, password: broker.bank.password },
    });
    const sessions: BankConnection[] = [];
    try {
      const hostId = loadKeystore(bank.dataDir).hostId;
      secrets.push(bank.kiosk.psk.toString('hex'));
      const statusTopic = topics.bankStatus(hostId);
      const watcher = await record(broker.url, broker.operator, 'atm/v1/#', 100);
      await watcher.waitFor((m) => m.topic === statusTopic && m.payload.status === 'online');

      const usernames = Array.from({ length: OUTAGE_SESSIONS }, (_, index) => `outage-streamer-${index}`);
      fullUsernames.push(...usernames, 'resume-checker');
      for (const username of usernames) sessions.push(await bank.loginAs(username));
      const depositsBy = new Array<number>(OUTAGE_SESSIONS).fill(0);
      const declines: string[] = [];
      let issued = 0;
      let queuedMax = 0;
      /** Deposits of 1.00 on every session until `done()`; counts each one. */
      const stream = (done: () => boolean): Promise<unknown> =>
        Promise.all(
          sessions.map(async (connection, index) => {
            while (!done()) {
              issued += 1;
              const response = await connection.request({
                op: 'deposit',
                txnId: crypto.randomUUID(),
                amountCents: 100,
              });
              if (response.ok) depositsBy[index] = (depositsBy[index] ?? 0) + 1;
              else declines.push(response.code);
              queuedMax = Math.max(queuedMax, bank.host.telemetry.stats().queued);
            }
          }),
        );

      // 1. Broker up.
      await stream(() => issued >= 200);
      await watcher.waitFor((m) => m.topic === 'atm/v1/events/deposit' && m.payload.user === 'ou***');
      assert.equal(bank.host.telemetry.stats().dropped, 0);

      // 2. Broker down: keep going until the bounded queue is full and has overflowed (or the
      // hang guard). Drops alone are not enough: the writes in flight when the broker died fail
      // and count as dropped too (a CI run saw 55 of them with 20 messages queued).
      await broker.stop();
      const issuedBeforeOutage = issued;
      await stream(() => {
        const now = bank.host.telemetry.stats();
        const overflowed = now.queued >= TELEMETRY_QUEUE_MESSAGES_MAX && now.dropped >= 50;
        return overflowed || issued - issuedBeforeOutage >= OUTAGE_DEPOSITS_MAX;
      });
      const down = bank.host.telemetry.stats();
      assert.ok(down.dropped > 0, `the queue overflowed and dropped (stats ${JSON.stringify(down)})`);
      // Two bounded stages: messages in transit to the telemetry thread, and the client's queue
      // there, which the outage has filled.
      const queueBound = TELEMETRY_QUEUE_MESSAGES_MAX + TELEMETRY_PORT_IN_FLIGHT_MAX;
      assert.ok(queuedMax <= queueBound, `queue bounded: at most ${queuedMax} queued`);
      assert.ok(
        down.queued >= TELEMETRY_QUEUE_MESSAGES_MAX && down.queued <= queueBound,
        `the client's queue is full (stats ${JSON.stringify(down)})`,
      );

      // 3. Broker back on the same port; the stream never stops until the bank reports back.
      const from = watcher.received.length;
      let reported = false;
      // The bank's reconnect backoff doubles up to 30 s: wait past that (a hang guard, not a speed check).
      const onlineAgain = watcher
        .waitFor((m) => m.topic === statusTopic && m.payload.status === 'online', from, RECONNECT_WAIT_MS)
        .finally(() => (reported = true));
      onlineAgain.catch(() => undefined); // handled below, after the stream has stopped
      await Promise.all([stream(() => reported), broker.restart()]);
      const online = await onlineAgain;

      // 4. Every transaction succeeded, and the ledger has each one.
      assert.deepEqual(declines, []);
      assert.equal(
        depositsBy.reduce((a, b) => a + b, 0),
        issued,
      );
      for (const [index, connection] of sessions.entries()) {
        const balance = await connection.request({ op: 'balance' });
        assert.ok(balance.ok);
        assert.equal(balance.balanceCents, (depositsBy[index] ?? 0) * 100);
      }

      // 5. The online status carries what was dropped (all of it: this bank's first outage).
      // stats() reaches this thread from the telemetry thread every TELEMETRY_STATS_REPORT_MS.
      await statsSettle(() => bank.host.telemetry.stats().dropped === online.payload.dropped);
      const after = bank.host.telemetry.stats();
      assert.ok(after.dropped >= down.dropped);
      assert.equal(online.payload.dropped, after.dropped);
      assert.equal(online.payload.droppedTotal, after.dropped);
      // If the watcher was back before the bank (it saw the status live, not retained), it also
      // saw the separate `dropped` report, which the bank publishes right after the status.
      if (!online.retain) {
        const report = await watcher.waitFor((m) => m.topic === topics.bankDropped(hostId), from);
        assert.equal(report.payload.dropped, after.dropped);
        assert.equal(report.payload.droppedTotal, after.dropped);
      }

      // 6. Events resume: a deposit made now is published.
      const resumer = await bank.loginAs('resume-checker');
      sessions.push(resumer);
      assert.ok((await resumer.request({ op: 'deposit', txnId: crypto.randomUUID(), amountCents: 4_242 })).ok);
      const resumed = await watcher.waitFor(
        (m) => m.topic === 'atm/v1/events/deposit' && m.payload.user === 're***',
        from,
      );
      assert.equal(resumed.payload.amountCents, 4_242);
      await statsSettle(() => bank.host.telemetry.stats().queued === 0);
      assert.equal(bank.host.telemetry.stats().queued, 0);
      t.diagnostic(
        `${issued} deposits (${issued - issuedBeforeOutage} from the broker stop on), all ok; ${after.dropped} telemetry messages dropped; online status seen ${online.retain ? 'retained' : 'live'}`,
      );
    } finally {
      for (const connection of sessions) connection.close();
      await bank.cleanup();
    }
  });

  test('nothing published during this whole file carries a password, a PSK, a full username or a balance', async (t) => {
    const seen = everything.received;
    t.diagnostic(`${seen.length} messages on #, ${new Set(seen.map((m) => m.topic)).size} topics`);
    assert.ok(
      seen.filter((m) => m.topic.startsWith('atm/v1/events/')).length > 100,
      `the # subscriber saw the events (${seen.length} messages)`,
    );
    assert.ok(seen.some((m) => m.topic.startsWith('atm/v1/kiosk/')));
    assert.ok(seen.some((m) => m.topic.startsWith('atm/v1/bank/')));
    for (const message of seen) {
      for (const secret of [...secrets, ...fullUsernames])
        assert.ok(!message.text.includes(secret), `${message.topic} leaks ${secret}: ${message.text}`);
      assert.deepEqual(
        fieldNames(message.payload).filter((key) => /balance/i.test(key)),
        [],
        `${message.topic} has a balance field: ${message.text}`,
      );
      // 1234.56 + 654.32: the CLI user's balance after the second deposit.
      assert.ok(!message.text.includes('188888'), `${message.topic} carries a balance: ${message.text}`);
    }
  });
});
