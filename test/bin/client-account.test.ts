// `atm client … statement` and `atm client … change-password` end to end: the real, compiled CLI
// as child processes against a real `atm bank` process on 127.0.0.1 (port 0, bcrypt cost 4,
// no telemetry broker), with a real LevelDB and audit.log in a temp dir.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { addKiosk, initKeystore } from '../../bank/key-store.js';
import {
  runAtm,
  startBankProcess,
  tempDir,
  type BankProcess,
  type CliResult,
  type RunOptions,
} from '../helpers/cli.js';

const PASSWORD = 'correct horse battery';
const NEW_PASSWORD = 'battery staple 2';
const STDIN_PASSWORD = 'third password 3';

describe('atm client statement and change-password', { concurrency: 1, timeout: 90_000 }, () => {
  let root: { dir: string; remove: () => void };
  let keyFile: string;
  let bank: BankProcess;
  const outputs: string[] = [];

  const client = async (args: string[], options: RunOptions = {}): Promise<CliResult> => {
    const result = await runAtm(
      ['client', '--bank', `127.0.0.1:${bank.port}`, '--kiosk', 'kiosk-01', '--key', keyFile, ...args],
      { ...options, env: { ATM_PASSWORD: PASSWORD, ...options.env } },
    );
    outputs.push(result.stdout, result.stderr);
    return result;
  };
  const assertExit = (result: CliResult, code: number, what: string): void =>
    assert.equal(result.code, code, `${what}: stdout=${result.stdout} stderr=${result.stderr}`);

  before(async () => {
    root = tempDir();
    const dataDir = path.join(root.dir, 'data');
    keyFile = path.join(root.dir, 'kiosk-01.key');
    initKeystore(dataDir);
    addKiosk(dataDir, 'kiosk-01', keyFile);
    bank = await startBankProcess(dataDir, ['--bcrypt-cost', '4', '--no-mqtt']);
  });
  after(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    await bank?.kill();
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset if before() failed
    root?.remove();
  });

  test('statement prints one line per posted transaction, newest first; --json one object with the list', async () => {
    assertExit(await client(['register', '--user', 'stanley']), 0, 'register');
    const empty = await client(['statement', '--user', 'stanley']);
    assertExit(empty, 0, 'empty statement');
    assert.equal(empty.stdout, 'statement ok: no transactions\n');
    assertExit(await client(['deposit', '--user', 'stanley', '--amount', '150.00', '--txn', 'cli-dep-0001']), 0, 'dep');
    assertExit(await client(['deposit', '--user', 'stanley', '--amount', '25.50', '--txn', 'cli-dep-0002']), 0, 'dep');
    const partial = [
      'withdraw',
      '--user',
      'stanley',
      '--amount',
      '100.00',
      '--dispensed',
      '60.00',
      '--txn',
      'cli-wd-00001',
    ];
    assertExit(await client(partial), 0, 'partial withdrawal');
    const jammed = ['withdraw', '--user', 'stanley', '--amount', '10.00', '--dispense-fault', '--txn', 'cli-wd-00002'];
    assertExit(await client(jammed), 1, 'jammed withdrawal (voided: not listed)');

    const text = await client(['statement', '--user', 'stanley']);
    assertExit(text, 0, 'statement');
    const lines = text.stdout.trimEnd().split('\n');
    assert.equal(lines.length, 3, text.stdout);
    const pattern = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) +(deposit|withdraw) +(\d+\.\d\d) +posted +(\S+)$/;
    assert.deepEqual(
      lines.map((line) => {
        const match = pattern.exec(line);
        assert.ok(match !== null, line);
        return [match[2], match[3], match[4]];
      }),
      [
        ['withdraw', '60.00', 'cli-wd-00001'],
        ['deposit', '25.50', 'cli-dep-0002'],
        ['deposit', '150.00', 'cli-dep-0001'],
      ],
    );

    const json = await client(['--json', 'statement', '--user', 'stanley']);
    assertExit(json, 0, 'statement --json');
    const parsed = JSON.parse(json.stdout) as { ok: boolean; transactions: Record<string, unknown>[] };
    assert.equal(parsed.ok, true);
    assert.deepEqual(
      parsed.transactions.map((txn) => Object.keys(txn).sort()),
      Array.from({ length: 3 }, () => ['amountCents', 'atMs', 'kind', 'state', 'txnId']),
    );
    assert.deepEqual(
      parsed.transactions.map((txn) => [txn.txnId, txn.kind, txn.amountCents, txn.state]),
      [
        ['cli-wd-00001', 'withdraw', 6000, 'posted'],
        ['cli-dep-0002', 'deposit', 2550, 'posted'],
        ['cli-dep-0001', 'deposit', 15000, 'posted'],
      ],
    );
    const times = parsed.transactions.map((txn) => txn.atMs as number);
    assert.deepEqual(
      times.map((ms) => new Date(ms).toISOString()),
      lines.map((line) => line.slice(0, 24)),
      'the text shows the same times',
    );
    const wrong = await client(['statement', '--user', 'stanley'], { env: { ATM_PASSWORD: 'not the password' } });
    assertExit(wrong, 1, 'statement with a wrong password');
    assert.match(wrong.stderr, /^statement declined: AUTH_FAILED/m);
  });

  test('change-password takes the new password from ATM_NEW_PASSWORD or the second stdin line; without one it is a usage error', async () => {
    assertExit(await client(['register', '--user', 'penelope']), 0, 'register');
    const missing = await client(['change-password', '--user', 'penelope']);
    assertExit(missing, 2, 'no new password');
    assert.match(missing.stderr, /^atm: no new password: set ATM_NEW_PASSWORD or give it as the second line/);
    const oneLine = await client(['change-password', '--user', 'penelope', '--password-stdin'], {
      env: { ATM_PASSWORD: undefined },
      input: `${PASSWORD}\n`,
    });
    assertExit(oneLine, 2, 'stdin with only the old password');

    const weak = await client(['--json', 'change-password', '--user', 'penelope'], {
      env: { ATM_NEW_PASSWORD: 'short' },
    });
    assertExit(weak, 1, 'a weak new password');
    assert.equal((JSON.parse(weak.stdout) as { code: string }).code, 'WEAK_PASSWORD');

    const changed = await client(['change-password', '--user', 'penelope'], {
      env: { ATM_NEW_PASSWORD: NEW_PASSWORD },
    });
    assertExit(changed, 0, 'change via ATM_NEW_PASSWORD');
    assert.equal(changed.stdout, 'change-password ok\n');
    const old = await client(['login', '--user', 'penelope']);
    assertExit(old, 1, 'the old password no longer logs in');
    assert.match(old.stderr, /AUTH_FAILED/);
    assertExit(await client(['login', '--user', 'penelope'], { env: { ATM_PASSWORD: NEW_PASSWORD } }), 0, 'new');

    const viaStdin = await client(['--json', 'change-password', '--user', 'penelope', '--password-stdin'], {
      env: { ATM_PASSWORD: undefined },
      input: `${NEW_PASSWORD}\n${STDIN_PASSWORD}\n`,
    });
    assertExit(viaStdin, 0, 'change via stdin');
    assert.deepEqual(JSON.parse(viaStdin.stdout), { ok: true, action: 'change-password' });
    assertExit(
      await client(['login', '--user', 'penelope'], { env: { ATM_PASSWORD: STDIN_PASSWORD } }),
      0,
      'the second stdin line is the password now',
    );
  });

  test('no password reaches the client output or the bank log', () => {
    const everything = [...outputs, bank.stdout(), bank.stderr()].join('\n');
    for (const secret of [PASSWORD, NEW_PASSWORD, STDIN_PASSWORD, 'not the password'])
      assert.ok(!everything.includes(secret), `"${secret}" printed`);
    assert.match(bank.stdout(), / password\.change ok user=pe\*+ /);
    assert.match(bank.stdout(), / statement ok user=st\*+ /);
  });
});
