// The operator dashboard as an operator meets it: the real, compiled `atm operator` in a real
// pseudo-terminal (node-pty, xterm-256color, 80×24, read back through a headless xterm.js),
// subscribed to a real bank's embedded broker (aedes) while the bank serves real sessions over
// loopback TCP. Every wait polls the screen with a deadline; nothing sleeps to assert.
import assert from 'node:assert/strict';
import net from 'node:net';
import { after, before, describe, test, type TestContext } from 'node:test';
import bcrypt from 'bcrypt';
import { addOperator } from '../../bank/index.js';
import { withdrawAsKiosk } from '../helpers/kiosk-requests.js';
import { startTestBank, type TestBank } from '../helpers/bank.js';
import { cleanEnv } from '../helpers/cli.js';
import { atmBin } from '../helpers/paths.js';
import { startProxy } from '../helpers/proxy.js';
import { spawnPty, type PtyProcess } from '../helpers/pty.js';
import { pause } from '../helpers/wait.js';

const OPERATOR = 'ops';
const OPERATOR_PASSWORD = 'operator secret 42';
const STACK_TRACE = /at .*\(.*:\d+:\d+\)|Error:/;
const ALTERNATE_SCREEN_OFF = '\x1b[?1049l';
const FIRST_SCREEN_TIMEOUT_MS = 10_000;
const SCREEN_TIMEOUT_MS = 8_000;
/** Records from the kiosk to the bank: m1, m3, then the first request. */
const FIRST_REQUEST_FRAME = 2;

function within<T>(promise: Promise<T>, timeoutMs: number, what: () => string): Promise<T> {
  return Promise.race([
    promise,
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(what())), timeoutMs).unref()),
  ]);
}

/** A steady trickle of logins and deposits on one session until stopped; resolves with the count. */
function startLoad(bank: TestBank, username: string): { stop: () => Promise<number> } {
  let running = true;
  const done = (async () => {
    const connection = await bank.loginAs(username);
    let deposits = 0;
    try {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- stop() clears it; set by a callback while awaiting; TypeScript keeps the narrowing (microsoft/TypeScript#9998)
      while (running) {
        const reply = await connection.request({
          op: 'deposit',
          txnId: `${username}-${deposits}`,
          amountCents: 100 + deposits,
        });
        assert.ok(reply.ok, JSON.stringify(reply));
        deposits += 1;
        await pause(20);
      }
      await connection.request({ op: 'logout' });
    } finally {
      connection.close();
    }
    return deposits;
  })();
  return {
    stop: async () => {
      running = false;
      return done;
    },
  };
}

describe(
  'atm operator in a pseudo-terminal against a bank with the embedded broker',
  { concurrency: 1, timeout: 120_000 },
  () => {
    let bank: TestBank;
    let mqttPort: number;
    const dashboards: PtyProcess[] = [];

    const startDashboard = async (t: TestContext, password = OPERATOR_PASSWORD): Promise<PtyProcess> => {
      const pty = spawnPty(
        process.execPath,
        [atmBin, 'operator', '--mqtt', `mqtt://127.0.0.1:${mqttPort}`, '--user', OPERATOR],
        { env: cleanEnv({ ATM_PASSWORD: password }) },
      );
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor(/q quit\s*$/, FIRST_SCREEN_TIMEOUT_MS);
      return pty;
    };

    before(async () => {
      bank = await startTestBank({ mqtt: { mode: 'embedded', port: 0 } });
      addOperator(bank.dataDir, OPERATOR, await bcrypt.hash(OPERATOR_PASSWORD, 4));
      assert.ok(bank.host.telemetry.mqttPort !== null);
      mqttPort = bank.host.telemetry.mqttPort;
    });
    after(async () => {
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      await bank?.cleanup();
      for (const pty of dashboards) {
        const traces = pty.screens().filter((screen) => STACK_TRACE.test(screen));
        assert.deepEqual(traces, [], 'no stack trace on any screen');
        assert.ok(!pty.output().includes(OPERATOR_PASSWORD), 'the password is never shown');
      }
    });

    test('under load: the bank online, kiosk-01 online, live deposits, a non-zero tps chart and totals', async (t) => {
      const pty = await startDashboard(t);
      await pty.waitFor(`127.0.0.1:${mqttPort} online`, SCREEN_TIMEOUT_MS);
      const load = startLoad(bank, 'depositor');
      try {
        await pty.waitFor(/kiosk-01 +online/, SCREEN_TIMEOUT_MS);
        await pty.waitFor(/kiosk-01 de\*\*\* deposit \d+\.\d\d ok/, SCREEN_TIMEOUT_MS);
        await pty.waitFor(/now [1-9][\d.]*\/s/, SCREEN_TIMEOUT_MS);
        await pty.waitFor(/deposits [1-9]\d* = [1-9]/, SCREEN_TIMEOUT_MS);
        await pty.waitFor(/bank-[0-9a-f]{8} online/, SCREEN_TIMEOUT_MS);
        t.diagnostic(`the dashboard under load:\n${pty.screenText()}`);
      } finally {
        await load.stop();
      }
    });

    test('one withdrawal (with the two device reports the kiosk sends around it) and one real decline: declines 1, device reports counted apart', async (t) => {
      const pty = await startDashboard(t);
      await pty.waitFor(`127.0.0.1:${mqttPort} online`, SCREEN_TIMEOUT_MS);
      const cassettes = [{ denominationCents: 2_000, count: 50 }];
      const connection = await bank.loginAs('walker');
      try {
        assert.ok((await connection.request({ op: 'deposit', txnId: 'ui-dep-0001', amountCents: 10_000 })).ok);
        await withdrawAsKiosk(connection, 'ui-wd-0001', 4_000, cassettes);
        assert.equal(
          (await connection.request({ op: 'withdraw.hold', txnId: 'ui-wd-0002', amountCents: 9_000 })).ok,
          false,
        );
      } finally {
        connection.close();
      }
      // register, login, deposit, hold, post and the declined hold; the two reports apart.
      await pty.waitFor(/requests 6 +declines 1 /, SCREEN_TIMEOUT_MS);
      await pty.waitFor(/device reports 2 /, SCREEN_TIMEOUT_MS);
      assert.match(pty.screenText(), /device report: dispenser busy/);
      assert.match(pty.screenText(), /withdrawal hold 90\.00 declined: insufficient funds/);
    });

    test('a tampered record (bad MAC) raises a security alert that stays until acknowledged', async (t) => {
      const pty = await startDashboard(t);
      await pty.waitFor(`127.0.0.1:${mqttPort} online`, SCREEN_TIMEOUT_MS);
      const proxy = await startProxy(bank.host.port, (frame) => {
        if (frame.direction !== 'toBank' || frame.index !== FIRST_REQUEST_FRAME) return [frame.bytes];
        const flipped = Buffer.from(frame.bytes);
        flipped[flipped.length - 1] = (flipped[flipped.length - 1] ?? 0) ^ 0x01; // a MAC byte
        return [flipped];
      });
      t.after(() => proxy.close());
      const connection = await bank.connect({ port: proxy.port });
      await connection.request({ op: 'login', username: 'nobody', password: 'irrelevant-pass' }).catch(() => undefined);
      connection.close();
      await pty.waitFor(/▶ \d\d:\d\d CRIT kiosk-01 tampered record/, SCREEN_TIMEOUT_MS);
      assert.match(pty.screenText(), /ALERT raised CRIT security kiosk-01 tampered record/);
      t.diagnostic(`the alert:\n${pty.screenText()}`);
      pty.type('a');
      await pty.waitFor(/│no alerts/, SCREEN_TIMEOUT_MS);
    });

    test('the bank going away shows the broker lost and the bank unknown; the dashboard reconnects when it is back', async (t) => {
      const pty = await startDashboard(t);
      await pty.waitFor(/bank-[0-9a-f]{8} online/, SCREEN_TIMEOUT_MS);
      await bank.stop();
      // Whatever happens below, the bank (and its broker) must be back for the next tests.
      let restarted = false;
      t.after(() => (restarted ? undefined : bank.restart({ mqtt: { mode: 'embedded', port: mqttPort } })));
      await pty.waitFor(/lost, reconnecting…/, SCREEN_TIMEOUT_MS);
      assert.match(
        pty.screenText().split('\n')[0] ?? '',
        /bank-[0-9a-f]{8} (unknown|offline) │/,
        'the header says the bank is not known to be up',
      );
      assert.match(pty.screenText(), /broker connection lost/);
      t.diagnostic(`the bank gone:\n${pty.screenText()}`);
      await bank.restart({ mqtt: { mode: 'embedded', port: mqttPort } });
      restarted = true;
      await pty.waitFor(new RegExp(`127\\.0\\.0\\.1:${mqttPort} online`), 15_000);
      await pty.waitFor(/bank-[0-9a-f]{8} online/, SCREEN_TIMEOUT_MS);
      assert.match(pty.screenText(), /reconnected to the broker/);
    });

    test('wrong credentials: the terminal is restored and one clear line says the broker refused them, exit 1', async (t) => {
      const pty = spawnPty(
        process.execPath,
        [atmBin, 'operator', '--mqtt', `mqtt://127.0.0.1:${mqttPort}`, '--user', OPERATOR],
        { env: cleanEnv({ ATM_PASSWORD: 'not the password' }) },
      );
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      const exit = await within(pty.exited, SCREEN_TIMEOUT_MS, () => `no exit; the screen:\n${pty.screenText()}`);
      assert.equal(exit.exitCode, 1);
      assert.match(pty.output(), /\x1b\[\?1049l/);
      assert.match(
        pty.screenText(),
        new RegExp(`^atm operator: refused: bad username or password \\(mqtt://127\\.0\\.0\\.1:${mqttPort}\\)$`, 'm'),
      );
      assert.ok(!pty.output().includes('not the password'));
    });

    for (const [given, env, args] of [
      ['no operator name and no password', {}, []],
      ['a password but no operator name', { ATM_PASSWORD: OPERATOR_PASSWORD }, []],
      ['an operator name but no password', {}, ['--user', OPERATOR]],
    ] as const) {
      test(`${given}: one line says what is missing and how to give it, not "bad username or password"; exit 1`, async (t) => {
        const pty = spawnPty(
          process.execPath,
          [atmBin, 'operator', '--mqtt', `mqtt://127.0.0.1:${mqttPort}`, ...args],
          { env: cleanEnv(env) },
        );
        dashboards.push(pty);
        t.after(() => pty.kill().then(() => undefined));
        const exit = await within(pty.exited, SCREEN_TIMEOUT_MS, () => `no exit; the screen:\n${pty.screenText()}`);
        assert.notEqual(exit.exitCode, 0);
        // The terminal wraps the message at 80 columns: read it as one line.
        const screen = pty.screenText().replace(/\n/g, '');
        assert.doesNotMatch(screen, /bad username or password/);
        assert.match(screen, given.includes('no password') ? /password/ : /--user/);
        assert.match(screen, /ATM_PASSWORD/);
        assert.match(screen, /--password-stdin/);
      });
    }

    test('an unreachable broker: the screen says the broker at its URL cannot be reached and why, keeps retrying, and q says so on stderr', async (t) => {
      const pty = spawnPty(process.execPath, [atmBin, 'operator', '--mqtt', 'mqtt://127.0.0.1:1', '--user', OPERATOR], {
        env: cleanEnv({ ATM_PASSWORD: OPERATOR_PASSWORD }),
      });
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor(
        /cannot reach the broker at mqtt:\/\/127\.0\.0\.1:1: connection refused[\s\S]*?retrying/,
        FIRST_SCREEN_TIMEOUT_MS,
      );
      assert.match(pty.screenText(), /Kiosks[\s\S]*waiting for the broker…/);
      pty.type('q');
      assert.equal(
        (await within(pty.exited, 5_000, () => `no exit after q; the screen:\n${pty.screenText()}`)).exitCode,
        0,
      );
      await pty.waitFor(/was never reached/, 2_000);
      // The terminal wraps the line at 80 columns: read it as one.
      assert.match(
        pty.screenText().replace(/\n/g, ''),
        /^atm operator: the broker at mqtt:\/\/127\.0\.0\.1:1 was never reached: connection refused/,
      );
    });

    test('a broker host that never answers (a firewall dropping packets): the screen says it cannot be reached, not a silent blank dashboard', async (t) => {
      // Accepts TCP and then says nothing, as a filtered or hung external broker looks to a client.
      const sockets = new Set<net.Socket>();
      const silent = net.createServer((socket) => sockets.add(socket));
      await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
      t.after(() => {
        for (const socket of sockets) socket.destroy();
        silent.close();
      });
      const url = `mqtt://127.0.0.1:${(silent.address() as net.AddressInfo).port}`;
      const pty = spawnPty(process.execPath, [atmBin, 'operator', '--mqtt', url, '--user', OPERATOR], {
        env: cleanEnv({ ATM_PASSWORD: OPERATOR_PASSWORD }),
      });
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor(`connecting to the broker at ${url}`, FIRST_SCREEN_TIMEOUT_MS);
      await pty.waitFor(
        new RegExp(`cannot reach the broker at ${url.replace(/\./g, '\\.')}: no answer[\\s\\S]*?retrying`),
        15_000,
      );
    });

    test('--password-stdin: the first line of piped stdin is the password, and the keyboard still works', async (t) => {
      const command = `printf '%s\\n' "$OPS_SECRET" | exec "$NODE" "$ATM" operator --mqtt mqtt://127.0.0.1:${mqttPort} --user ${OPERATOR} --password-stdin`;
      const pty = spawnPty('/bin/sh', ['-c', command], {
        env: cleanEnv({ OPS_SECRET: OPERATOR_PASSWORD, NODE: process.execPath, ATM: atmBin }),
      });
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor(`127.0.0.1:${mqttPort} online`, FIRST_SCREEN_TIMEOUT_MS);
      pty.type('q');
      assert.equal(
        (await within(pty.exited, 5_000, () => `no exit after q; the screen:\n${pty.screenText()}`)).exitCode,
        0,
      );
    });

    test('--password-stdin at a terminal prompts without echo', async (t) => {
      const pty = spawnPty(
        process.execPath,
        [atmBin, 'operator', '--mqtt', `mqtt://127.0.0.1:${mqttPort}`, '--user', OPERATOR, '--password-stdin'],
        { env: cleanEnv() },
      );
      dashboards.push(pty);
      t.after(() => pty.kill().then(() => undefined));
      await pty.waitFor(`password for operator ${OPERATOR}: `, FIRST_SCREEN_TIMEOUT_MS);
      pty.type(`${OPERATOR_PASSWORD}\r`);
      await pty.waitFor(`127.0.0.1:${mqttPort} online`, FIRST_SCREEN_TIMEOUT_MS);
      pty.press('ctrl-c');
      assert.equal(
        (await within(pty.exited, 5_000, () => `no exit after Ctrl-C; the screen:\n${pty.screenText()}`)).exitCode,
        0,
      );
    });

    test('q quits with exit code 0 and gives the terminal its normal screen back; the layout follows a resize', async (t) => {
      const pty = await startDashboard(t);
      pty.resize(120, 40);
      await pty.waitFor(/q quit\s*$/, SCREEN_TIMEOUT_MS);
      assert.equal(pty.screenText().split('\n').length, 40);
      pty.resize(80, 24);
      await pty.waitFor(/^┌─ Kiosks[^\n]{30,}┐┌─ TPS, last 5 min[^\n]*┐$/m, SCREEN_TIMEOUT_MS);
      pty.type('q');
      const exit = await within(pty.exited, 5_000, () => `no exit within 5 s of q; the screen:\n${pty.screenText()}`);
      assert.equal(exit.exitCode, 0);
      await pty.waitForOutput(ALTERNATE_SCREEN_OFF, 2_000);
      assert.match(pty.output(), /\x1b\[\?25h/, 'the cursor is visible again');
    });
  },
);
