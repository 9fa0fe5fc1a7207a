// The `atm` command as operators and scripts use it (DESIGN §2): every test runs the real,
// compiled binary as child processes against a real `atm bank` process on 127.0.0.1 (port 0),
// with a real LevelDB and audit.log in a temp dir. The bank runs at bcrypt cost 4, except in
// the one test that documents the production cost of 12. A child bank process keeps its own
// (real) clock: an injected FakeClock cannot reach into another process.
//
// Each CLI run is a fresh node process (~0.2 s), so the three independent groups below run
// concurrently; inside a group the tests are sequential (the story's steps build on each other).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import bcrypt from 'bcrypt';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import { LevelLedgerStore } from '../../bank/level-store.js';
import { fernetDecrypt, fernetKeyParse } from '../../protocol/fernet.js';
import {
  freePort,
  auditShowRecords,
  runAtm,
  runAtmAll,
  startBankProcess,
  tempDir,
  type BankProcess,
  type CliResult,
  type RunOptions,
} from '../helpers/cli.js';

const PASSWORD = 'correct horse battery';
const WRONG_PASSWORD = 'wrong horse battery';

interface AuditRecordJson {
  seq: number;
  ts: string;
  kioskId: string;
  username: string | null;
  action: string;
  outcome: string;
  amountCents?: number;
  txnId?: string;
  detail?: string;
}

interface KeystoreJson {
  hostId: string;
  auditKey: string;
  kiosks: Record<string, { psk: string; revokedAt: string | null }>;
  operators: Record<string, { passwordHash: string; admin?: boolean }>;
}

function readKeystore(dataDir: string): KeystoreJson {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'keystore.json'), 'utf8')) as KeystoreJson;
}

function auditLines(dataDir: string): string[] {
  return fs
    .readFileSync(path.join(dataDir, 'audit.log'), 'ascii')
    .split('\n')
    .filter((line) => line.length > 0);
}

/**
 * Decrypts audit.log in this process with the keystore's key (plain Fernet, no bank code), for
 * side checks that should not cost another process; `atm audit show/verify` are tested too.
 */
function logRecords(dataDir: string): AuditRecordJson[] {
  const key = fernetKeyParse(readKeystore(dataDir).auditKey);
  assert.ok(key !== null);
  return auditLines(dataDir).map((line, index) => {
    const decrypted = fernetDecrypt(key, line);
    assert.ok(decrypted.ok, `audit.log line ${index + 1} decrypts`);
    return JSON.parse(decrypted.plaintext.toString('utf8')) as AuditRecordJson;
  });
}

function fileMode(file: string): number {
  return fs.statSync(file).mode & 0o777;
}

function stderrLines(result: CliResult): string[] {
  return result.stderr.split('\n').filter((line) => line.length > 0);
}

/** DESIGN §2: a failure is a non-zero exit with a one-line error on stderr. */
function assertOneLineError(result: CliResult | undefined, code: number, pattern: RegExp, what: string): void {
  assert.ok(result !== undefined, what);
  assert.equal(result.code, code, `${what}: exit code (stderr: ${result.stderr})`);
  assert.equal(stderrLines(result).length, 1, `${what}: one stderr line, got ${JSON.stringify(result.stderr)}`);
  assert.match(result.stderr, pattern, what);
}

function assertOk(result: CliResult | undefined, what: string): asserts result is CliResult {
  assert.ok(result !== undefined, what);
  assert.equal(result.code, 0, `${what}: exit ${result.code}; stderr: ${result.stderr}`);
}

describe('atm CLI', { concurrency: true, timeout: 90_000 }, () => {
  describe('atm keys, and --help everywhere', { concurrency: 1 }, () => {
    let root: { dir: string; remove: () => void };
    let dataDir: string;
    before(() => {
      root = tempDir();
      dataDir = path.join(root.dir, 'data');
    });
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    after(() => root?.remove());

    test('keys init creates keystore.json with mode 0600 and is idempotent: a second run exits 0, says already present, keeps the hostId', async () => {
      const first = await runAtm(['keys', 'init', '--data', dataDir]);
      assertOk(first, 'first init');
      const created = /^keystore created in .* \(host (\S+)\)$/m.exec(first.stdout);
      assert.ok(created !== null, `first init output: ${first.stdout}`);
      const keystoreFile = path.join(dataDir, 'keystore.json');
      assert.equal(fileMode(keystoreFile), 0o600);
      const keystore = readKeystore(dataDir);
      assert.equal(keystore.hostId, created[1]);
      const original = fs.readFileSync(keystoreFile);

      const second = await runAtm(['keys', 'init', '--data', dataDir, '--json']);
      assertOk(second, 'second init');
      assert.equal(second.stdout.trim().split('\n').length, 1, '--json prints one object');
      assert.deepEqual(JSON.parse(second.stdout), { ok: true, created: false, hostId: keystore.hostId });
      const third = await runAtm(['keys', 'init', '--data', dataDir]);
      assertOk(third, 'third init');
      assert.equal(third.stdout, `keystore already present in ${dataDir} (host ${keystore.hostId})\n`);
      assert.deepEqual(fs.readFileSync(keystoreFile), original, 'an existing keystore is left byte for byte as it was');
    });

    test('keys add-kiosk writes a 0600 key file holding the keystore PSK; a second add to the same file without --force is refused with one stderr line and changes nothing', async () => {
      const keyFile = path.join(root.dir, 'kiosk-01.key');
      const added = await runAtm(['keys', 'add-kiosk', 'kiosk-01', '--data', dataDir, '--out', keyFile]);
      assertOk(added, 'add-kiosk');
      assert.equal(fileMode(keyFile), 0o600);
      const written = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { kioskId: string; psk: string };
      assert.equal(written.kioskId, 'kiosk-01');
      assert.match(written.psk, /^[0-9a-f]{64}$/, '32-byte PSK as hex');
      assert.equal(readKeystore(dataDir).kiosks['kiosk-01']?.psk, written.psk);
      assert.ok(!added.stdout.includes(written.psk), 'the PSK goes to the file only, never to stdout');

      const keyBefore = fs.readFileSync(keyFile);
      const keystoreBefore = fs.readFileSync(path.join(dataDir, 'keystore.json'));
      const [again, otherKiosk] = await runAtmAll([
        { args: ['keys', 'add-kiosk', 'kiosk-01', '--data', dataDir, '--out', keyFile] },
        { args: ['keys', 'add-kiosk', 'kiosk-02', '--data', dataDir, '--out', keyFile] },
      ]);
      assertOneLineError(again, 1, /--force/, 'same kiosk, same file');
      assertOneLineError(otherKiosk, 1, /exists; --force overwrites it/, 'another kiosk into an existing file');
      assert.deepEqual(fs.readFileSync(keyFile), keyBefore, 'key file untouched');
      assert.deepEqual(fs.readFileSync(path.join(dataDir, 'keystore.json')), keystoreBefore, 'keystore untouched');

      const forced = await runAtm([
        'keys',
        'add-kiosk',
        'kiosk-01',
        '--data',
        dataDir,
        '--out',
        keyFile,
        '--force',
        '--json',
      ]);
      assertOk(forced, 'add-kiosk --force --json');
      assert.equal(forced.stdout.trim().split('\n').length, 1, '--json prints one object');
      assert.deepEqual(JSON.parse(forced.stdout), { ok: true, kioskId: 'kiosk-01', keyFile });
      const rotated = JSON.parse(fs.readFileSync(keyFile, 'utf8')) as { psk: string };
      assert.notEqual(rotated.psk, written.psk, '--force rotates the key');
      assert.equal(readKeystore(dataDir).kiosks['kiosk-01']?.psk, rotated.psk);
      assert.equal(fileMode(keyFile), 0o600);
    });

    test('keys add-kiosk refuses an invalid kiosk id and writes nothing', async () => {
      const keystoreBefore = fs.readFileSync(path.join(dataDir, 'keystore.json'));
      const badIds = ['Kiosk-09', 'k'.repeat(17), '../kiosk'];
      const outFile = (index: number): string => path.join(root.dir, `bad-${index}.key`);
      const results = await runAtmAll(
        badIds.map((id, index) => ({ args: ['keys', 'add-kiosk', id, '--data', dataDir, '--out', outFile(index)] })),
      );
      results.forEach((result, index) => {
        assertOneLineError(result, 1, /INVALID_KIOSK_ID/, `kiosk id ${JSON.stringify(badIds[index])}`);
        assert.ok(!fs.existsSync(outFile(index)), 'no key file written');
      });
      assert.deepEqual(fs.readFileSync(path.join(dataDir, 'keystore.json')), keystoreBefore);
    });

    test('keys add-operator prints a generated password once, as the last stdout line; with ATM_PASSWORD set it prints no password', async () => {
      // One at a time: both rewrite keystore.json.
      const generated = await runAtm(['keys', 'add-operator', 'op1', '--data', dataDir]);
      const given = await runAtm(['keys', 'add-operator', 'op2', '--data', dataDir], {
        env: { ATM_PASSWORD: 'operator-secret-2' },
      });
      assertOk(generated, 'add-operator op1');
      const password = generated.stdout.trimEnd().split('\n').at(-1) as string;
      assert.ok(password.length >= 16, `a strong generated password, got ${JSON.stringify(password)}`);
      assert.equal(generated.stdout.split(password).length - 1, 1, 'printed exactly once');
      const keystore = readKeystore(dataDir);
      assert.ok(keystore.operators.op1 !== undefined);
      assert.ok(
        await bcrypt.compare(password, keystore.operators.op1.passwordHash),
        'the printed password is the one stored (hashed)',
      );
      assert.ok(
        !fs.readFileSync(path.join(dataDir, 'keystore.json'), 'utf8').includes(password),
        'only the hash is stored',
      );

      assertOk(given, 'add-operator op2');
      assert.equal(given.stdout, 'operator op2 added\n', 'a password from ATM_PASSWORD is never printed');
      assert.ok(keystore.operators.op2 !== undefined);
      assert.ok(await bcrypt.compare('operator-secret-2', keystore.operators.op2.passwordHash));
      assert.equal(keystore.operators.op1.admin, undefined, 'an operator is not an admin unless asked');

      const admin = await runAtm(['keys', 'add-operator', 'op3', '--admin', '--data', dataDir, '--json'], {
        env: { ATM_PASSWORD: 'operator-secret-3' },
      });
      assertOk(admin, 'add-operator op3 --admin');
      assert.deepEqual(JSON.parse(admin.stdout), { ok: true, operator: 'op3', admin: true });
      assert.equal(readKeystore(dataDir).operators.op3?.admin, true);
    });

    test('every command answers --help with usage text on stdout and exit 0', async () => {
      const commands = [[], ['keys'], ['keys', 'add-kiosk'], ['bank'], ['client'], ['audit'], ['demo']];
      const results = await runAtmAll(
        commands.map((command) => ({ args: [...command, '--help'] })),
        2,
      );
      results.forEach((result, index) => {
        const what = `atm ${(commands[index] ?? []).join(' ')} --help`;
        assert.equal(result.code, 0, `${what}: exit ${result.code}, stderr ${result.stderr}`);
        assert.match(result.stdout, /^usage/m, what);
        assert.equal(result.stderr, '', what);
      });
    });
  });

  describe('atm bank + atm client: the seed story and the CLI contract', { concurrency: 1 }, () => {
    let root: { dir: string; remove: () => void };
    let dataDir: string;
    let keyFile: string;
    let bank: BankProcess;
    const banks: BankProcess[] = [];
    /** Everything `atm client` printed, for the secrets test. */
    const clientOutputs: string[] = [];
    /** Everything `atm audit` printed (it may name users: it is the auditor's tool). */
    const auditOutputs: string[] = [];
    const passwordsUsed = new Set<string>([PASSWORD, WRONG_PASSWORD]);
    const usernames = ['austin', 'bellamy', 'carolyn', 'davidson', 'stdinuser'];
    /** Every kiosk PSK (hex) handed out here, for the secrets test. */
    const pskHex: string[] = [];

    const clientArgs = (args: string[], options: { port?: number; key?: string; kiosk?: string } = {}): string[] => [
      'client',
      '--bank',
      `127.0.0.1:${options.port ?? bank.port}`,
      '--kiosk',
      options.kiosk ?? 'kiosk-01',
      '--key',
      options.key ?? keyFile,
      ...args,
    ];
    const recordOutput = (result: CliResult): CliResult => {
      clientOutputs.push(result.stdout, result.stderr);
      return result;
    };
    const clientRun = (args: string[], options: RunOptions = {}): { args: string[]; options: RunOptions } => {
      const env: Record<string, string | undefined> = { ATM_PASSWORD: PASSWORD, ...options.env };
      if (env.ATM_PASSWORD !== undefined) passwordsUsed.add(env.ATM_PASSWORD);
      if (options.input !== undefined) passwordsUsed.add(options.input.split('\n')[0] ?? '');
      return { args, options: { ...options, env } };
    };
    const client = async (
      args: string[],
      options: RunOptions & { key?: string; kiosk?: string } = {},
    ): Promise<CliResult> => {
      const run = clientRun(clientArgs(args, options), options);
      return recordOutput(await runAtm(run.args, run.options));
    };
    const clients = async (runs: { args: string[]; options?: RunOptions }[]): Promise<CliResult[]> =>
      (
        await runAtmAll(
          runs.map((run) => clientRun(clientArgs(run.args), run.options)),
          2,
        )
      ).map(recordOutput);
    const audit = async (args: string[]): Promise<CliResult> => {
      const result = await runAtm(['audit', ...args, '--data', dataDir]);
      auditOutputs.push(result.stdout, result.stderr);
      return result;
    };
    const shown = async (...filters: string[]): Promise<AuditRecordJson[]> => {
      const result = await audit(['show', '--json', ...filters]);
      assertOk(result, 'audit show --json');
      return auditShowRecords<AuditRecordJson>(result.stdout);
    };
    const startBank = async (): Promise<void> => {
      bank = await startBankProcess(dataDir);
      banks.push(bank);
    };

    before(async () => {
      root = tempDir();
      dataDir = path.join(root.dir, 'data');
      keyFile = path.join(root.dir, 'kiosk-01.key');
      // Provisioned in-process (the keys commands have their own tests above).
      initKeystore(dataDir);
      pskHex.push(addKiosk(dataDir, 'kiosk-01', keyFile).psk);
      await startBank();
    });
    after(async () => {
      for (const running of banks) await running.kill();
      // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
      root?.remove();
    });

    test('the seed story: register, deposit 150.00, withdraw 50.00, withdraw 150.00 declined, balance 100.00; audit verify OK and audit show lists each step in order', async () => {
      const register = await client(['register', '--user', 'austin']);
      assertOk(register, 'register');
      assert.equal(register.stdout, 'register ok\n');
      const deposit = await client(['deposit', '--user', 'austin', '--amount', '150.00']);
      assertOk(deposit, 'deposit');
      assert.equal(deposit.stdout, 'deposit ok: balance 150.00\n');
      const withdraw = await client(['withdraw', '--user', 'austin', '--amount', '50.00']);
      assertOk(withdraw, 'withdraw');
      assert.equal(withdraw.stdout, 'withdraw ok: balance 100.00\n');
      const overdraw = await client(['withdraw', '--user', 'austin', '--amount', '150.00']);
      assertOneLineError(overdraw, 1, /^withdraw declined: INSUFFICIENT_FUNDS/, 'withdraw more than the balance');
      const balance = await client(['balance', '--user', 'austin']);
      assertOk(balance, 'balance');
      assert.equal(balance.stdout, 'balance ok: balance 100.00\n');

      const verify = await audit(['verify']);
      assertOk(verify, 'audit verify');
      assert.equal(verify.stdout, `OK ${auditLines(dataDir).length} records\n`);

      // [DESIGN §4] every action is audited, one record per step, in the order it happened.
      const story = (await shown()).filter((record) => record.username === 'austin');
      const steps = story.map((record) => [record.action, record.outcome, record.amountCents ?? null]);
      assert.deepEqual(steps, [
        ['register', 'ok', null],
        ['login', 'ok', null],
        ['deposit', 'ok', 15000],
        ['logout', 'ok', null],
        ['login', 'ok', null],
        ['withdraw.hold', 'ok', 5000],
        ['withdraw.post', 'ok', 5000],
        ['logout', 'ok', null],
        ['login', 'ok', null],
        ['withdraw.hold', 'INSUFFICIENT_FUNDS', 15000],
        ['logout', 'ok', null],
        ['login', 'ok', null],
        ['balance', 'ok', null],
        ['logout', 'ok', null],
      ]);
      assert.equal(story[5]?.txnId, story[6]?.txnId, 'hold and post name the same transaction');
      for (let index = 1; index < story.length; index++) {
        assert.ok((story[index]?.seq ?? 0) > (story[index - 1]?.seq ?? 0), 'sequence numbers increase');
      }
      assert.ok(story.every((record) => record.kioskId === 'kiosk-01'));
    });

    test('audit show filters by --user (case-folded) and --since; deposit --json prints one object with balance and balanceCents', async () => {
      const since = new Date().toISOString(); // every record so far is older than this
      assertOk(await client(['register', '--user', 'bellamy']), 'register bellamy');
      const deposit = await client(['--json', 'deposit', '--user', 'bellamy', '--amount', '20.00']);
      assertOk(deposit, 'deposit --json');
      assert.equal(deposit.stdout.trim().split('\n').length, 1, '--json prints one object');
      const object = JSON.parse(deposit.stdout) as Record<string, unknown>;
      assert.deepEqual(
        [object.ok, object.action, object.balance, object.balanceCents],
        [true, 'deposit', '20.00', 2000],
      );
      assert.equal(typeof object.txnId, 'string');

      const all = await shown();
      assert.deepEqual(all, logRecords(dataDir), 'audit show --json prints every record of the log');
      const bellamy = await shown('--user', 'bellamy');
      assert.deepEqual(
        bellamy.map((record) => record.action),
        ['register', 'login', 'deposit', 'logout'],
      );
      assert.deepEqual(
        bellamy,
        all.filter((record) => record.username === 'bellamy'),
      );
      const austin = await shown('--user', 'AUSTIN');
      assert.equal(austin.length, 14);
      assert.deepEqual(
        austin,
        all.filter((record) => record.username === 'austin'),
      );
      const recent = await shown('--since', since);
      assert.deepEqual(recent, bellamy, '--since keeps exactly the records made after it');

      const text = await audit(['show', '--user', 'bellamy']);
      assertOk(text, 'audit show (text)');
      const lines = text.stdout.trimEnd().split('\n');
      assert.equal(lines.length, 4);
      assert.ok(
        lines.every((line) => / user=bellamy( |$)/.test(line)),
        text.stdout,
      );
    });

    test('withdraw --dispense-fault voids the hold and debits nothing; --dispensed 60.00 of 100.00 debits exactly 60.00', async () => {
      assertOk(await client(['register', '--user', 'carolyn']), 'register');
      assertOk(await client(['deposit', '--user', 'carolyn', '--amount', '200.00']), 'deposit');
      const jam = await client([
        'withdraw',
        '--user',
        'carolyn',
        '--amount',
        '30.00',
        '--dispense-fault',
        '--txn',
        'jam-txn-0001',
      ]);
      assertOneLineError(jam, 1, /^withdraw declined: DISPENSE_FAULT/, 'jam');
      assert.equal(jam.stdout, 'balance 200.00\n', 'a jam debits nothing');

      const partial = await client([
        'withdraw',
        '--user',
        'carolyn',
        '--amount',
        '100.00',
        '--dispensed',
        '60.00',
        '--txn',
        'part-txn-0001',
      ]);
      assertOk(partial, 'partial dispense');
      assert.equal(
        partial.stdout,
        'withdraw ok: balance 140.00 (partial dispense: 60.00)\n',
        'exactly the dispensed 60.00 is debited',
      );

      const carolyn = await shown('--user', 'carolyn');
      const byTxn = (txnId: string): unknown[] =>
        carolyn
          .filter((record) => record.txnId === txnId)
          .map((record) => [record.action, record.outcome, record.amountCents]);
      assert.deepEqual(byTxn('jam-txn-0001'), [
        ['withdraw.hold', 'ok', 3000],
        ['withdraw.void', 'ok', 3000],
      ]);
      assert.deepEqual(byTxn('part-txn-0001'), [
        ['withdraw.hold', 'ok', 10000],
        ['withdraw.post', 'ok', 6000],
      ]);
    });

    test('bad amounts (-5, 0, 1.234, NaN, abc, 99999999999999999) exit 1 with INVALID_AMOUNT and nothing reaches the ledger', async () => {
      const recordsBefore = auditLines(dataDir).length;
      const amounts = ['-5', '0', '1.234', 'NaN', 'abc', '99999999999999999'];
      const runs = [
        ...amounts.map((amount) => ['deposit', '--user', 'austin', '--amount', amount]),
        ['withdraw', '--user', 'austin', '--amount', '-5'],
        ['withdraw', '--user', 'austin', '--amount', '99999999999999999'],
      ];
      const results = await clients(runs.map((args) => ({ args })));
      results.forEach((result, index) =>
        assertOneLineError(result, 1, /declined: INVALID_AMOUNT/, (runs[index] ?? []).join(' ')),
      );
      // Every money movement is committed with its audit record; no record, no movement.
      assert.equal(auditLines(dataDir).length, recordsBefore, 'no request reached the bank');
      const balance = await client(['--json', 'balance', '--user', 'austin']);
      assertOk(balance, 'balance');
      assert.equal((JSON.parse(balance.stdout) as { balanceCents: number }).balanceCents, 10000);
    });

    test('33-char username is INVALID_USERNAME and a 73-byte password WEAK_PASSWORD (32 chars, 72 bytes pass); a wrong password says the tries left, an unknown user only AUTH_FAILED; a limit decline names the limit', async () => {
      const attempts = [
        { user: 'u'.repeat(33), password: PASSWORD },
        { user: 'u'.repeat(32), password: PASSWORD },
        { user: 'weakutf8', password: `${'é'.repeat(36)}a` }, // 37 characters, 73 bytes
        { user: 'longpass', password: 'p'.repeat(72) },
      ];
      const [long, limit, weak, longest] = await clients(
        attempts.map(({ user, password }) => ({
          args: ['register', '--user', user],
          options: { env: { ATM_PASSWORD: password } },
        })),
      );
      assertOneLineError(long, 1, /^register declined: INVALID_USERNAME/, '33-char username');
      assertOk(limit, '32-char username');
      assertOneLineError(weak, 1, /^register declined: WEAK_PASSWORD/, '73 bytes in 37 characters');
      assertOk(longest, '72-byte password');

      const [wrongPassword, unknownUser] = await clients([
        { args: ['login', '--user', 'austin'], options: { env: { ATM_PASSWORD: WRONG_PASSWORD } } },
        { args: ['login', '--user', 'nosuchuser'], options: { env: { ATM_PASSWORD: WRONG_PASSWORD } } },
      ]);
      // [ATM-4.11] A wrong password says how many tries are left; an unknown name says nothing more.
      assertOneLineError(
        wrongPassword,
        1,
        /^login declined: AUTH_FAILED \(Wrong username or password; 4 tries left before a lock\)\n?$/,
        'wrong password',
      );
      assertOneLineError(
        unknownUser,
        1,
        /^login declined: AUTH_FAILED \(Wrong username or password\)\n?$/,
        'unknown user',
      );
      assert.equal(unknownUser?.stdout, wrongPassword?.stdout);
      // [ATM-4.10] A limit decline names the limit.
      const [overLimit] = await clients([
        {
          args: ['withdraw', '--user', 'longpass', '--amount', '1000.01'],
          options: { env: { ATM_PASSWORD: 'p'.repeat(72) } },
        },
      ]);
      assertOneLineError(
        overLimit,
        1,
        /^withdraw declined: LIMIT_EXCEEDED \(Amount exceeds the limit; limit 1000\.00 per withdrawal, 2000\.00 left today\)\n?$/,
        'over the per-withdrawal limit',
      );
    });

    test('--password-stdin takes the password from the first line of stdin', async () => {
      const secret = 'stdin secret 42';
      const registered = await client(['register', '--user', 'stdinuser', '--password-stdin'], {
        env: { ATM_PASSWORD: undefined },
        input: `${secret}\nsecond line\n`,
      });
      assertOk(registered, 'register via stdin');
      assertOk(
        await client(['login', '--user', 'stdinuser'], { env: { ATM_PASSWORD: secret } }),
        'the same password via ATM_PASSWORD logs in',
      );
    });

    test('usage errors exit 2 (missing --bank, unknown command or action), an unreachable bank exits 3, a key file readable by others is refused', async () => {
      const closedPort = await freePort();
      const looseKey = path.join(root.dir, 'loose.key');
      fs.copyFileSync(keyFile, looseKey);
      fs.chmodSync(looseKey, 0o644);
      const env = { env: { ATM_PASSWORD: PASSWORD } };
      const [noBank, unknownCommand, unknownAction, unreachable, loose] = (
        await runAtmAll(
          [
            { args: ['client', '--kiosk', 'kiosk-01', '--key', keyFile, 'balance', '--user', 'austin'], options: env },
            { args: ['frobnicate', '--data', dataDir], options: env },
            { args: clientArgs(['transfer', '--user', 'austin']), options: env },
            { args: clientArgs(['balance', '--user', 'austin'], { port: closedPort }), options: env },
            { args: clientArgs(['balance', '--user', 'austin'], { key: looseKey }), options: env },
          ],
          2,
        )
      ).map(recordOutput);
      // A usage error prints the error on the first stderr line, then the usage text.
      assert.equal(noBank?.code, 2);
      assert.match(stderrLines(noBank)[0] ?? '', /^atm: --bank is required/);
      assert.equal(unknownCommand?.code, 2);
      assert.match(stderrLines(unknownCommand)[0] ?? '', /^atm: unknown command frobnicate$/);
      assert.equal(unknownAction?.code, 2);
      assert.match(stderrLines(unknownAction)[0] ?? '', /^atm: ACTION must be one of/);
      assertOneLineError(unreachable, 3, /cannot reach bank 127\.0\.0\.1:\d+: ECONNREFUSED/, 'bank not running');
      assertOneLineError(loose, 1, /readable by others \(mode 644\); chmod 600 it/, 'key file mode 0644');
    });

    test('keys revoke-kiosk takes effect on the running bank: the kiosk’s next atm client exits 3 with one line', async () => {
      const key2 = path.join(root.dir, 'kiosk-02.key');
      assertOk(
        await runAtm(['keys', 'add-kiosk', 'kiosk-02', '--data', dataDir, '--out', key2]),
        'add kiosk-02 while the bank runs',
      );
      pskHex.push((JSON.parse(fs.readFileSync(key2, 'utf8')) as { psk: string }).psk);
      assertOk(
        await client(['balance', '--user', 'austin'], { kiosk: 'kiosk-02', key: key2 }),
        'kiosk-02 is served before revocation',
      );
      assertOk(await runAtm(['keys', 'revoke-kiosk', 'kiosk-02', '--data', dataDir]), 'revoke-kiosk');
      assert.notEqual(readKeystore(dataDir).kiosks['kiosk-02']?.revokedAt ?? null, null);
      const refused = await client(['balance', '--user', 'austin'], { kiosk: 'kiosk-02', key: key2 });
      assertOneLineError(refused, 3, /^atm: secure session refused/, 'revoked kiosk');
      // kiosk-01 keeps working: the next tests use it against the same bank.
    });

    test('keys export-audit-key prints the keystore’s audit key as a 44-char url-safe base64 Fernet key that decrypts audit.log', async () => {
      const exported = await runAtm(['keys', 'export-audit-key', '--data', dataDir]);
      assertOk(exported, 'export-audit-key');
      const key = exported.stdout.trim();
      assert.equal(exported.stdout, `${key}\n`);
      assert.match(key, /^[A-Za-z0-9_-]{43}=$/, '32 bytes as padded url-safe base64');
      assert.equal(key, readKeystore(dataDir).auditKey);
      const fernetKey = fernetKeyParse(key);
      assert.ok(fernetKey !== null);
      const lines = auditLines(dataDir);
      const first = fernetDecrypt(fernetKey, lines[0] as string);
      assert.ok(first.ok, 'the first line decrypts with the exported key');
      assert.deepEqual(
        (({ seq, action, username }) => ({ seq, action, username }))(
          JSON.parse(first.plaintext.toString('utf8')) as AuditRecordJson,
        ),
        { seq: 1, action: 'register', username: 'austin' },
      );
      const last = fernetDecrypt(fernetKey, lines.at(-1) as string);
      assert.ok(last.ok);
      assert.equal((JSON.parse(last.plaintext.toString('utf8')) as AuditRecordJson).seq, lines.length);
    });

    test('--txn makes a deposit idempotent: the same id twice credits once and prints the same output', async () => {
      assertOk(await client(['register', '--user', 'davidson']), 'register');
      const first = await client(['deposit', '--user', 'davidson', '--amount', '10.00', '--txn', 'dep-davidson-0001']);
      const second = await client(['deposit', '--user', 'davidson', '--amount', '10.00', '--txn', 'dep-davidson-0001']);
      assertOk(first, 'first deposit');
      assertOk(second, 'repeat');
      assert.equal(first.stdout, 'deposit ok: balance 10.00\n');
      assert.equal(second.stdout, first.stdout, 'the repeat gets the first answer: one credit');
    });

    test('atm bank exits 0 on SIGTERM and prints "bank stopped"', async () => {
      const exit = await bank.stop();
      assert.deepEqual(exit, { code: 0, signal: null });
      assert.match(bank.stdout(), /Z bank stopping \(SIGTERM\)\n\S+Z bank stopped\n$/);
    });

    test('--txn is still idempotent after the bank process restarts', async () => {
      await startBank();
      const again = await client(['deposit', '--user', 'davidson', '--amount', '10.00', '--txn', 'dep-davidson-0001']);
      assertOk(again, 'repeat after restart');
      assert.equal(again.stdout, 'deposit ok: balance 10.00\n', 'the first answer again: still one credit');
      const deposits = logRecords(dataDir).filter(
        (record) => record.action === 'deposit' && record.txnId === 'dep-davidson-0001',
      );
      assert.equal(deposits.length, 3);
      assert.equal(deposits[0]?.detail, undefined, 'the first deposit moved money');
      assert.ok(
        deposits.slice(1).every((record) => (record.detail ?? '').includes('nothing moved')),
        'the repeats are audited as repeats',
      );
    });

    test('secrets stay secret: bank stdout, CLI output, LevelDB files and audit.log hold no password or PSK; bank stdout and client output no full username', async () => {
      assert.deepEqual(await bank.stop(), { code: 0, signal: null });
      const passwords = [...passwordsUsed];
      assert.ok(
        passwords.length >= 5 && passwords.every((password) => password.length >= 8),
        JSON.stringify(passwords),
      );
      const bankStdout = banks.map((running) => running.stdout()).join('');
      assert.match(bankStdout, / user=au\*\*\* /, 'the bank log masks usernames');
      const clientText = clientOutputs.join('');
      const everything = `${bankStdout}${banks.map((running) => running.stderr()).join('')}${clientText}${auditOutputs.join('')}`;
      for (const password of passwords)
        assert.ok(!everything.includes(password), `a password appears in output: ${JSON.stringify(password)}`);
      for (const hex of pskHex) {
        assert.ok(!everything.includes(hex), 'a PSK appears in output');
        assert.ok(
          !everything.includes(Buffer.from(hex, 'hex').toString('base64').slice(0, 40)),
          'a PSK appears (base64) in output',
        );
      }
      const audited = new Set(logRecords(dataDir).map((record) => record.username));
      for (const username of usernames) {
        assert.ok(audited.has(username), `control: ${username} took part in the story`);
        assert.ok(!bankStdout.includes(username), `bank stdout names ${username}`);
        assert.ok(!clientText.includes(username), `client output names ${username}`);
      }

      const ledgerDir = path.join(dataDir, 'ledger');
      const files = [
        path.join(dataDir, 'audit.log'),
        path.join(dataDir, 'audit.head'),
        ...fs.readdirSync(ledgerDir).map((name) => path.join(ledgerDir, name)),
      ];
      const ledgerBytes = Buffer.concat(files.slice(2).map((file) => fs.readFileSync(file)));
      assert.ok(ledgerBytes.includes('davidson'), 'control: the raw LevelDB bytes are searchable');
      for (const file of files) {
        const bytes = fs.readFileSync(file);
        for (const password of passwords)
          assert.ok(!bytes.includes(Buffer.from(password, 'utf8')), `${path.basename(file)} holds a password`);
        for (const hex of pskHex) {
          assert.ok(!bytes.includes(hex), `${path.basename(file)} holds a PSK (hex)`);
          assert.ok(!bytes.includes(Buffer.from(hex, 'hex')), `${path.basename(file)} holds a PSK (raw)`);
        }
      }
      const auditLog = fs.readFileSync(path.join(dataDir, 'audit.log'), 'ascii');
      for (const username of usernames)
        assert.ok(!auditLog.includes(username), 'audit.log is encrypted: no username in clear');
    });

    test('audit verify names the first bad record after an edited byte, a deleted, swapped or truncated line', async () => {
      // The bank is stopped (previous test); each case tampers with its own copy of the data dir.
      const lines = auditLines(dataDir);
      const n = lines.length;
      assert.ok(n >= 20, `the story left ${n} records`);
      const line = (seq: number): string => lines[seq - 1] as string;
      const editByte = (text: string, at: number): string =>
        `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`;
      const body = (kept: string[]): string => `${kept.join('\n')}\n`;
      const cases: { name: string; content: string; badRecord: number; reason: RegExp }[] = [
        {
          name: 'one byte of line 3 edited',
          content: body([...lines.slice(0, 2), editByte(line(3), 60), ...lines.slice(3)]),
          badRecord: 3,
          reason: /does not decrypt/,
        },
        {
          name: 'line 7 deleted',
          content: body(lines.filter((_, index) => index !== 6)),
          badRecord: 7,
          reason: /sequence 8 where 7 was expected/,
        },
        {
          name: 'lines 4 and 5 swapped',
          content: body([...lines.slice(0, 3), line(5), line(4), ...lines.slice(5)]),
          badRecord: 4,
          reason: /sequence 5 where 4 was expected/,
        },
        {
          name: 'last line cut mid-token',
          content: `${body(lines.slice(0, -1))}${line(n).slice(0, 50)}`,
          badRecord: n,
          reason: /incomplete/,
        },
        {
          name: 'last line cut mid-token, newline kept',
          content: body([...lines.slice(0, -1), line(n).slice(0, 50)]),
          badRecord: n,
          reason: /does not decrypt/,
        },
        {
          name: 'last line removed',
          content: body(lines.slice(0, -1)),
          badRecord: n,
          reason: new RegExp(`truncated: head says ${n} records, the log has ${n - 1}`),
        },
      ];
      const copies = [null, ...cases].map((entry, index) => {
        const copy = path.join(root.dir, `tamper-${index}`);
        fs.cpSync(dataDir, copy, { recursive: true });
        if (entry !== null) fs.writeFileSync(path.join(copy, 'audit.log'), entry.content);
        return copy;
      });
      const results = await runAtmAll(
        copies.map((copy, index) => ({
          args: ['audit', 'verify', '--data', copy, ...(index === 2 ? ['--json'] : [])],
        })),
        2,
      );
      assert.equal(results[0]?.stdout, `OK ${n} records\n`, 'control: the untouched copy verifies');
      assert.equal(results[0].code, 0);
      cases.forEach((entry, index) => {
        const result = results[index + 1] as CliResult;
        assert.equal(result.code, 1, `${entry.name}: exit ${result.code}, ${result.stdout}`);
        if (index + 1 === 2) {
          const verdict = JSON.parse(result.stdout) as {
            ok: boolean;
            badRecord: number;
            records: number;
            reason: string;
          };
          assert.deepEqual(
            [verdict.ok, verdict.badRecord, verdict.records],
            [false, entry.badRecord, entry.badRecord - 1],
            entry.name,
          );
          assert.match(verdict.reason, entry.reason);
          return;
        }
        const match = /^FAILED at record (\d+): (.*)$/m.exec(result.stdout);
        assert.ok(match !== null, `${entry.name}: ${result.stdout}`);
        assert.equal(Number(match[1]), entry.badRecord, `${entry.name}: ${result.stdout}`);
        assert.match(match[2] as string, entry.reason, entry.name);
      });
    });
  });

  describe('atm bank at the production bcrypt cost', { concurrency: 1 }, () => {
    test('without --bcrypt-cost the bank hashes at cost 12, and register + login work through atm client', async (t) => {
      const root = tempDir();
      t.after(() => root.remove());
      const dataDir = path.join(root.dir, 'data');
      const keyFile = path.join(root.dir, 'kiosk-01.key');
      initKeystore(dataDir);
      addKiosk(dataDir, 'kiosk-01', keyFile);
      const bank = await startBankProcess(dataDir, []);
      t.after(() => bank.kill());
      const common = ['client', '--bank', `127.0.0.1:${bank.port}`, '--kiosk', 'kiosk-01', '--key', keyFile];
      const env = { env: { ATM_PASSWORD: PASSWORD } };
      assertOk(await runAtm([...common, 'register', '--user', 'austin'], env), 'register at cost 12');
      assertOk(await runAtm([...common, 'login', '--user', 'austin'], env), 'login at cost 12');
      assert.deepEqual(await bank.stop(), { code: 0, signal: null });
      const store = await LevelLedgerStore.open(path.join(dataDir, 'ledger'));
      try {
        const account = await store.getAccount('austin');
        assert.ok(account !== null);
        assert.equal(bcrypt.getRounds(account.passwordHash), 12);
      } finally {
        await store.close();
      }
    });
  });
});
