// How the real `atm` ends when a new user's first tries go wrong (issue 12): a reader that
// closes the pipe early, a port or data folder already taken, a --data typo, a bad --device or
// key file. Each is one stderr line (or none) and a documented exit code, and nothing is left
// behind. Every test spawns the compiled CLI on 127.0.0.1 with temp dirs and free ports.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { AuditChain, addKiosk, auditKeyOf, initKeystore, loadKeystore } from '../../bank/index.js';
import { LEDGER_DIR } from '../../bank/host.js';
import { LevelLedgerStore } from '../../bank/level-store.js';
import { EMPTY_AUDIT_HEAD } from '../../bank/types.js';
import { DEMO_KIOSK_ID } from '../../bin/commands/demo.js';
import { explainStartFailure, isDataDirLocked } from '../../bin/startup.js';
import { AtmError, BankConnection } from '../../protocol/index.js';
import {
  BANK_LISTENING_PATTERN,
  LOG_TIME_PATTERN,
  cleanEnv,
  runAtmAll,
  startBankProcess,
  tempDir,
  type CliResult,
} from '../helpers/cli.js';
import { atmBin, repoRoot } from '../helpers/paths.js';
import { spawnPty } from '../helpers/pty.js';
import { waitUntil } from '../helpers/wait.js';

const WAIT_MS = 15_000;

/** A regular expression matching `text` literally. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** DESIGN §2: a failure is a non-zero exit with one line on stderr and nothing on stdout. */
function assertOneLine(result: CliResult | undefined, code: number, pattern: RegExp, what: string): void {
  assert.ok(result !== undefined, what);
  assert.equal(result.code, code, `${what}: exit code (stderr: ${result.stderr})`);
  assert.equal(
    result.stderr.trimEnd().split('\n').length,
    1,
    `${what}: one stderr line, got ${JSON.stringify(result.stderr)}`,
  );
  assert.match(result.stderr.trimEnd(), pattern, what);
  assert.equal(result.stdout, '', `${what}: nothing on stdout`);
}

interface ReaderGoneRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** What the reader got before it went away. */
  stdout: string;
}

/**
 * Spawns `atm ...args` with stdout on a real pipe and closes the pipe's reading end as soon as
 * `enough(stdout)` holds, as `| head -2` does; then `afterClose` may make the command print
 * again. Resolves when the process has exited (SIGKILL after WAIT_MS: a hang is a failure).
 */
function runUntilReaderGoes(
  t: TestContext,
  args: string[],
  enough: (stdout: string) => boolean,
  afterClose: (stdout: string) => Promise<void> = async () => undefined,
): Promise<ReaderGoneRun> {
  const child = spawn(process.execPath, [atmBin, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const timer = setTimeout(() => child.kill('SIGKILL'), WAIT_MS);
  let stdout = '';
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('close', (code, signal) => resolve({ code, signal })),
  );
  let closed = false;
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    if (closed) return;
    stdout += chunk;
    if (!enough(stdout)) return;
    closed = true;
    child.stdout.destroy();
    void afterClose(stdout);
  });
  return exited.then(({ code, signal }) => {
    clearTimeout(timer);
    return { code, signal, stderr, stdout };
  });
}

/** An audit log of `count` valid records (sealed with the keystore's audit key, no bank needed). */
function writeAuditLog(dataDir: string, count: number): void {
  const chain = new AuditChain(auditKeyOf(loadKeystore(dataDir)), { ...EMPTY_AUDIT_HEAD });
  const tokens: string[] = [];
  for (let index = 0; index < count; index++) {
    tokens.push(
      chain.seal(
        { kioskId: 'kiosk-01', username: 'austin', action: 'deposit', outcome: 'ok', amountCents: 100 + index },
        Date.now(),
      ).token.token,
    );
  }
  fs.writeFileSync(path.join(dataDir, 'audit.log'), `${tokens.join('\n')}\n`);
}

test('atm audit show | head -2: the reader closing the pipe early ends it quietly with exit 0', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  initKeystore(dataDir);
  // About 200 kB of text: far more than a pipe holds, so writes go on after the reader left.
  writeAuditLog(dataDir, 3_000);
  const run = await runUntilReaderGoes(
    t,
    ['audit', 'show', '--data', dataDir],
    (stdout) => stdout.split('\n').length > 2,
  );
  assert.match(
    run.stdout,
    /^#1 \S+ kiosk-01 deposit ok user=austin amount=1\.00\n/,
    'control: it was printing records',
  );
  assert.equal(run.stderr, '', 'no EPIPE stack trace, no error line');
  assert.deepEqual([run.code, run.signal], [0, null]);
});

test('atm bank | head -1: the reader closing the pipe stops the bank as SIGTERM does (exit 0, data folder released)', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  initKeystore(dataDir);
  const psk = Buffer.from(addKiosk(dataDir, 'kiosk-01', path.join(root.dir, 'kiosk-01.key')).psk, 'hex');
  const args = ['bank', '--data', dataDir, '--host', '127.0.0.1', '--port', '0', '--no-mqtt', '--bcrypt-cost', '4'];
  // Once the reader is gone, a session makes the bank write its next log line into the closed pipe.
  const run = await runUntilReaderGoes(
    t,
    args,
    (stdout) => BANK_LISTENING_PATTERN.test(stdout),
    async (stdout) => {
      const port = Number(BANK_LISTENING_PATTERN.exec(stdout)?.[2]);
      const connection = await BankConnection.connect({ host: '127.0.0.1', port, kioskId: 'kiosk-01', psk });
      connection.close();
    },
  );
  assert.equal(run.stderr, '', 'no EPIPE stack trace, no error line');
  assert.deepEqual([run.code, run.signal], [0, null]);
  // Stopped, not crashed: LevelDB's lock is released, so the next bank opens the folder at once.
  const again = spawn(process.execPath, [atmBin, ...args], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'pipe'] });
  t.after(() => {
    if (again.exitCode === null) again.kill('SIGKILL');
  });
  let output = '';
  again.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  again.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
  await waitUntil(
    () => BANK_LISTENING_PATTERN.test(output) || again.exitCode !== null,
    'the second bank to start',
    WAIT_MS,
    20,
  );
  const stopped = new Promise((resolve) => again.once('close', resolve));
  again.kill('SIGTERM');
  await stopped;
  assert.match(output, BANK_LISTENING_PATTERN);
});

test('atm bank never creates a keystore: a mistyped --data exits 2 naming `atm keys init --data DIR` and creates nothing', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const typo = path.join(root.dir, 'dtaa');
  const empty = path.join(root.dir, 'empty folder');
  fs.mkdirSync(empty);
  const [missing, noKeystore] = await runAtmAll(
    [
      { args: ['bank', '--data', typo, '--port', '0', '--no-mqtt'] },
      { args: ['bank', '--data', empty, '--port', '0', '--no-mqtt'] },
    ],
    2,
  );
  assertOneLine(
    missing,
    2,
    new RegExp(
      `^atm: ${escape(typo)} does not exist; atm bank never creates a keystore: .*'atm keys init --data ${escape(typo)}' \\[KEYSTORE_MISSING\\]$`,
    ),
    'missing folder',
  );
  assertOneLine(
    noKeystore,
    2,
    new RegExp(
      `^atm: ${escape(empty)} has no keystore\\.json; .*'atm keys init --data '${escape(empty)}'' \\[KEYSTORE_MISSING\\]$`,
    ),
    'folder without a keystore',
  );
  assert.equal(fs.existsSync(typo), false, 'no folder made for the typo');
  assert.deepEqual(fs.readdirSync(empty), [], 'nothing made in the folder');
});

/** A plain TCP listener on a free 127.0.0.1 port: "another program" holding the port. */
async function occupyPort(t: TestContext): Promise<number> {
  const server = net.createServer((socket) => socket.destroy());
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return (server.address() as net.AddressInfo).port;
}

/** Every path under dir, relative, sorted: what a failed start must not change. */
function listing(dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort();
}

test('a taken bank port: atm bank and atm demo exit 1 with one line naming the port and --port, and leave no half-made data folder', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const port = await occupyPort(t);
  const bankDir = path.join(root.dir, 'bank');
  initKeystore(bankDir);
  const demoDir = path.join(root.dir, 'demo-data');
  const [bank, demo] = await runAtmAll(
    [
      {
        args: [
          'bank',
          '--data',
          bankDir,
          '--host',
          '127.0.0.1',
          '--port',
          String(port),
          '--no-mqtt',
          '--bcrypt-cost',
          '4',
        ],
      },
      { args: ['demo', '--data', demoDir, '--port', String(port), '--mqtt-port', '0'] },
    ],
    2,
  );
  const taken = new RegExp(
    `^atm: bank port 127\\.0\\.0\\.1:${port} is in use \\(another bank, or another program listens there\\): stop it, or choose another port with --port N \\[PORT_IN_USE\\]$`,
  );
  assertOneLine(bank, 1, taken, 'atm bank');
  assert.deepEqual(fs.readdirSync(bankDir), ['keystore.json'], 'the bank made no ledger or audit files');
  assertOneLine(demo, 1, taken, 'atm demo');
  assert.equal(fs.existsSync(demoDir), false, 'the demo took back the data folder it had begun to make');
});

test('a data folder another bank has open: atm bank and atm demo exit 1 naming the bank process that holds it, and change nothing in it', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  initKeystore(dataDir);
  const running = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt']);
  t.after(() => running.kill());
  const before = listing(dataDir);
  const [bank, demo] = await runAtmAll(
    [
      { args: ['bank', '--data', dataDir, '--port', '0', '--no-mqtt', '--bcrypt-cost', '4'] },
      { args: ['demo', '--data', dataDir, '--port', '0', '--mqtt-port', '0'] },
    ],
    2,
  );
  const held = new RegExp(
    `^atm: data folder ${escape(dataDir)} is in use by another bank process \\(pid ${running.pid}: [^)]*atm\\.js bank --data ${escape(dataDir)} [^)]*\\): stop that bank first, or give this one its own --data folder \\[DATA_DIR_IN_USE\\]$`,
  );
  assertOneLine(bank, 1, held, 'atm bank');
  assertOneLine(demo, 1, held, 'atm demo');
  assert.deepEqual(listing(dataDir), before, 'nothing added to or removed from the running bank’s folder');
  assert.equal(running.stderr(), '');
});

test('where /proc/locks cannot name the holder, LevelDB’s own LEVEL_LOCKED still becomes DATA_DIR_IN_USE, “another bank process”', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const dataDir = path.join(root.dir, 'data');
  const ledger = path.join(dataDir, LEDGER_DIR);
  const first = await LevelLedgerStore.open(ledger);
  t.after(() => first.close());
  // This process holds the lock, and lockHolder() never names the asking process itself.
  const refused = await LevelLedgerStore.open(ledger).then(
    async (second) => (await second.close(), null),
    (error: unknown) => error,
  );
  assert.ok(isDataDirLocked(refused), `a second open is refused with LEVEL_LOCKED: ${String(refused)}`);
  const explained = explainStartFailure(refused, { dataDir, host: '127.0.0.1', port: 7400, mqttPort: null });
  assert.ok(explained instanceof AtmError);
  assert.equal(explained.code, 'DATA_DIR_IN_USE');
  assert.equal(
    explained.message,
    `data folder ${dataDir} is in use by another bank process: stop that bank first, or give this one its own --data folder`,
  );
});

test('atm kiosk: a bad --device and a missing key file are usage errors (exit 2, one line naming the file and `atm keys add-kiosk`); nothing is made', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const bankDir = path.join(root.dir, 'bank');
  const keyFile = path.join(root.dir, 'kiosk-01.key');
  initKeystore(bankDir);
  addKiosk(bankDir, 'kiosk-01', keyFile);
  const missing = path.join(root.dir, 'kiosk-02.key');
  const kiosk = (...args: string[]): { args: string[]; options: { cwd: string } } => ({
    args: ['kiosk', '--bank', '127.0.0.1:7400', ...args],
    options: { cwd: root.dir },
  });
  const runs = [
    kiosk('--key', keyFile, '--device', 'bogus'),
    kiosk('--key', keyFile, '--device', 'serial:'),
    kiosk('--key', keyFile, '--device', 'firmata: '),
    kiosk('--kiosk', 'kiosk-02', '--key', missing),
    {
      args: ['client', '--bank', '127.0.0.1:7400', '--key', missing, 'balance', '--user', 'austin'],
      options: { cwd: root.dir },
    },
  ];
  const results = await runAtmAll(runs, 2);
  for (const [index, spec] of ['bogus', 'serial:', 'firmata: '].entries()) {
    assertOneLine(
      results[index],
      2,
      new RegExp(`^atm: --device must be sim, serial:PATH or firmata:PATH, got ${escape(JSON.stringify(spec))}$`),
      `--device ${spec}`,
    );
  }
  const noKey = `^atm: cannot read kiosk key file ${escape(missing)} \\(ENOENT\\): the bank's operator makes it with 'atm keys add-kiosk `;
  assertOneLine(
    results[3],
    2,
    new RegExp(`${noKey}kiosk-02 --data DIR --out ${escape(missing)}' \\(copy it here, mode 0600\\)$`),
    'atm kiosk, missing key file',
  );
  assertOneLine(
    results[4],
    2,
    new RegExp(`${noKey}ID --data DIR --out ${escape(missing)}'`),
    'atm client, missing key file',
  );
  assert.deepEqual(fs.readdirSync(root.dir).sort(), ['bank', 'kiosk-01.key'], 'no kiosk folder was made');
});

test('in a terminal too (where the kiosk runs), a bad --device exits 2 with one line before the kiosk makes its folder', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const bankDir = path.join(root.dir, 'bank');
  const keyFile = path.join(root.dir, 'kiosk-01.key');
  initKeystore(bankDir);
  addKiosk(bankDir, 'kiosk-01', keyFile);
  const pty = spawnPty(
    process.execPath,
    [atmBin, 'kiosk', '--bank', '127.0.0.1:7400', '--key', keyFile, '--device', 'bogus'],
    { env: cleanEnv(), cwd: root.dir },
  );
  t.after(() => pty.kill().then(() => undefined));
  const exit = await pty.exited;
  assert.equal(exit.exitCode, 2, pty.output());
  assert.deepEqual(
    pty
      .screenText()
      .split('\n')
      .filter((line) => line.trim().length > 0),
    ['atm: --device must be sim, serial:PATH or firmata:PATH, got "bogus"'],
  );
  assert.deepEqual(fs.readdirSync(root.dir).sort(), ['bank', 'kiosk-01.key'], 'no .atm-kiosk-kiosk-01 folder');
});

/** `atm demo` with stdout on a pipe (no terminal), once it has printed what to do. */
async function startPipedDemo(
  t: TestContext,
  dataDir: string,
  cwd?: string,
): Promise<{ stdout: string; stop: () => Promise<number | null> }> {
  const demo = spawn(process.execPath, [atmBin, 'demo', '--data', dataDir, '--port', '0', '--mqtt-port', '0'], {
    env: cleanEnv(),
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  t.after(() => {
    if (demo.exitCode === null) demo.kill('SIGKILL');
  });
  let stdout = '';
  demo.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
  const exited = new Promise<number | null>((resolve) => demo.once('close', resolve));
  await waitUntil(
    () => stdout.includes('Ctrl-C stops the bank') || demo.exitCode !== null,
    'the demo to start',
    WAIT_MS,
    20,
  );
  return {
    stdout,
    stop: () => {
      demo.kill('SIGTERM');
      return exited;
    },
  };
}

/** Every non-empty line starts with an ISO-8601 UTC time within the run's window. */
function assertStamped(text: string, startedMs: number, what: string): void {
  const lines = text.split('\n').filter((line) => line.length > 0);
  assert.ok(lines.length >= 2, `${what}: ${JSON.stringify(text)}`);
  for (const line of lines) {
    assert.match(line, LOG_TIME_PATTERN, `${what}: ${line}`);
    const atMs = Date.parse(line.slice(0, line.indexOf(' ')));
    assert.ok(
      atMs >= Math.floor(startedMs / 1000) * 1000 && atMs <= Date.now(),
      `${what}: the time is when it was written: ${line}`,
    );
  }
}

test('every line the bank writes to its log starts with an ISO-8601 UTC time: atm bank’s stdout and the demo’s bank.log', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const startedMs = Date.now();
  const bankDir = path.join(root.dir, 'bank');
  initKeystore(bankDir);
  const psk = Buffer.from(addKiosk(bankDir, 'kiosk-01', path.join(root.dir, 'kiosk-01.key')).psk, 'hex');
  const bank = await startBankProcess(bankDir);
  t.after(() => bank.kill());
  const connection = await BankConnection.connect({ host: '127.0.0.1', port: bank.port, kioskId: 'kiosk-01', psk });
  assert.ok((await connection.request({ op: 'register', username: 'stamped', password: 'correct horse battery' })).ok);
  connection.close();
  assert.deepEqual(await bank.stop(), { code: 0, signal: null });
  assert.match(
    bank.stdout(),
    /Z \[kiosk-01 127\.0\.0\.1:\d+\] register ok user=st\*\*\* /,
    'control: the action line is there',
  );
  assertStamped(bank.stdout(), startedMs, 'atm bank stdout');

  const demoDir = path.join(root.dir, 'demo');
  const demo = await startPipedDemo(t, demoDir);
  assert.equal(await demo.stop(), 0);
  const log = fs.readFileSync(path.join(demoDir, 'bank.log'), 'utf8');
  assert.match(log, /Z bank \S+ listening on 127\.0\.0\.1:\d+ /, 'control: the listening line is there');
  assertStamped(log, startedMs, 'the demo’s bank.log');
});

test('without a terminal the demo speaks of the product and says how to get the kiosk screen: npm start in a terminal, or the exact atm kiosk line', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const demo = await startPipedDemo(t, path.join(root.dir, 'data'), root.dir);
  assert.equal(await demo.stop(), 0);
  const port = Number(/Demo bank running on 127\.0\.0\.1:(\d+)\./.exec(demo.stdout)?.[1]);
  assert.ok(port > 0, demo.stdout);
  assert.doesNotMatch(demo.stdout, /seed/i, 'no word of where the project came from');
  assert.match(demo.stdout, /The kiosk screen needs a terminal: run `npm start` in one/);
  assert.ok(
    demo.stdout.includes(`\n  npx atm kiosk --bank 127.0.0.1:${port} --kiosk demo-kiosk --key data/demo-kiosk.key\n`),
    demo.stdout,
  );
  assert.ok(
    demo.stdout.includes(
      `npx atm client --bank 127.0.0.1:${port} --kiosk demo-kiosk --key data/demo-kiosk.key register --user austin`,
    ),
    demo.stdout,
  );
});

test('the README’s screen captures of `npm start` show the kiosk id the demo really uses', () => {
  const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8');
  const seeSection = readme.slice(
    readme.indexOf('## What you will see'),
    readme.indexOf('\n## ', readme.indexOf('## What you will see') + 1),
  );
  const statusKiosks = [...seeSection.matchAll(/^ (\S+) │ bank (?:online|offline) │/gm)].map((match) => match[1]);
  const receiptKiosks = [...seeSection.matchAll(/^│ {3}Kiosk (\S+) /gm)].map((match) => match[1]);
  assert.ok(statusKiosks.length >= 5 && receiptKiosks.length >= 1, 'control: the captures are found');
  assert.deepEqual(new Set([...statusKiosks, ...receiptKiosks]), new Set([DEMO_KIOSK_ID]));
});

test('other command lines that name what is not there exit 2 with one line: a --host not of this machine (nothing left in the folder), a --board or --hex of firmware flash', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const bankDir = path.join(root.dir, 'bank');
  initKeystore(bankDir);
  const [foreignHost, board, hex] = await runAtmAll(
    [
      // 203.0.113.7 is TEST-NET-3 (RFC 5737): never an address of this machine.
      { args: ['bank', '--data', bankDir, '--host', '203.0.113.7', '--port', '0', '--no-mqtt', '--bcrypt-cost', '4'] },
      { args: ['firmware', 'flash', '--port', '/dev/null', '--board', 'mega'] },
      { args: ['firmware', 'flash', '--port', '/dev/null', '--hex', path.join(root.dir, 'none.hex')] },
    ],
    2,
  );
  assertOneLine(
    foreignHost,
    2,
    /^atm: --host 203\.0\.113\.7 is not an address of this machine \(EADDRNOTAVAIL\): use 127\.0\.0\.1, 0\.0\.0\.0/,
    '--host',
  );
  assert.deepEqual(fs.readdirSync(bankDir), ['keystore.json'], 'no ledger left behind');
  assertOneLine(board, 2, /^atm: unknown board "mega"; known: uno, nano, nano-old \[BAD_BOARD\]$/, '--board mega');
  assertOneLine(
    hex,
    2,
    new RegExp(`^atm: hex file ${escape(path.join(root.dir, 'none.hex'))} not found .*\\[HEX_MISSING\\]$`),
    '--hex missing',
  );
});

test('atm kiosk in a terminal: a --bank port outside 1–65535 exits 2 with one line, as atm client does', async (t) => {
  const root = tempDir();
  t.after(root.remove);
  const bankDir = path.join(root.dir, 'bank');
  const keyFile = path.join(root.dir, 'kiosk-01.key');
  initKeystore(bankDir);
  addKiosk(bankDir, 'kiosk-01', keyFile);
  const pty = spawnPty(process.execPath, [atmBin, 'kiosk', '--bank', '127.0.0.1:99999', '--key', keyFile], {
    env: cleanEnv(),
    cwd: root.dir,
  });
  t.after(() => pty.kill().then(() => undefined));
  const exit = await Promise.race([pty.exited, new Promise<null>((resolve) => setTimeout(() => resolve(null), 5_000))]);
  assert.equal(exit?.exitCode, 2, pty.screenText());
  assert.deepEqual(
    pty
      .screenText()
      .split('\n')
      .filter((line) => line.trim().length > 0),
    ['atm: --bank must be HOST:PORT, got "127.0.0.1:99999"'],
  );
  assert.deepEqual(fs.readdirSync(root.dir).sort(), ['bank', 'kiosk-01.key'], 'no kiosk folder');
});

test('atm firmware-sim --lcd takes COLUMNSxROWS; anything else is a usage error (exit 2, one line)', async () => {
  const results = await runAtmAll([
    { args: ['firmware-sim', '--lcd', '99x9'] },
    { args: ['firmware-sim', '--lcd', 'big'] },
    { args: ['firmware-sim', '--help'] },
  ]);
  for (const result of results.slice(0, 2)) {
    assert.equal(result.code, 2, result.stderr);
    assert.match(result.stderr, /^atm: --lcd must be COLUMNSxROWS such as 20x4 or 16x2/);
    assert.equal(result.stderr.trim().split('\n').length, 1);
  }
  assert.match(results[2]?.stdout ?? '', /--lcd 20x4/);
});
