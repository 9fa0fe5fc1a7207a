// atm install (issue 18, part): the plan --dry-run prints is what a run carries out; the units
// written into a staging root pass `systemd-analyze verify`; bad input changes nothing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { systemdQuote } from '../../bin/install-plan.js';
import { runAtm, tempDir } from '../helpers/cli.js';

const KIOSK_ARGS = ['--', '--bank', '10.0.0.2:7400', '--key', '/var/lib/atm-kiosk/kiosk-01.key', '--kiosk', 'kiosk-01'];

function hasSystemdAnalyze(): boolean {
  try {
    execFileSync('systemd-analyze', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

test('--dry-run lists every step in order and changes nothing', async (t) => {
  const root = tempDir('atm-install-dry-');
  t.after(root.remove);
  const kiosk = await runAtm(['install', 'kiosk', '--dry-run', '--root', root.dir, ...KIOSK_ARGS]);
  assert.equal(kiosk.code, 0, kiosk.stderr);
  const steps = kiosk.stdout.split('\n').filter((line) => /^\d+\. /.test(line));
  assert.deepEqual(
    steps.map((line) => line.replace(/ \(.*$|:$/, '').replace(root.dir, 'ROOT')),
    [
      '1. create system user atm-kiosk',
      '2. make folder ROOT/var/lib/atm-kiosk owned by atm-kiosk, mode 0700',
      '3. write ROOT/etc/systemd/system/atm-kiosk.service',
      '4. write ROOT/etc/logrotate.d/atm-kiosk',
    ],
    'a staging root gets no systemctl calls',
  );
  for (const line of [
    'Restart=always',
    'After=network-online.target systemd-user-sessions.service getty@tty1.service',
    'Conflicts=getty@tty1.service',
    'TTYPath=/dev/tty1',
    'User=atm-kiosk',
    '--data /var/lib/atm-kiosk --bank 10.0.0.2:7400 --key /var/lib/atm-kiosk/kiosk-01.key --kiosk kiosk-01',
    'create 0600 atm-kiosk atm-kiosk',
  ])
    assert.ok(kiosk.stdout.includes(line), `the plan shows ${line}`);
  assert.deepEqual(fs.readdirSync(root.dir), [], 'nothing written');

  const bank = await runAtm(['install', 'bank', '--dry-run', '--', '--port', '7400']);
  assert.equal(bank.code, 0, bank.stderr);
  assert.match(bank.stdout, /1\. create system user atm \(home \/var\/lib\/atm, no login shell\)/);
  assert.match(bank.stdout, /write \/etc\/systemd\/system\/atm-bank\.service/);
  assert.match(bank.stdout, /ExecStart=\S+ \S+atm\.js bank --data \/var\/lib\/atm --port 7400/);
  assert.match(bank.stdout, /\d\. run systemctl daemon-reload\n\d\. run systemctl enable atm-bank\.service\n$/);
  assert.doesNotMatch(bank.stdout, /logrotate/, 'the bank logs to the journal');
});

test('into a staging root: the files with their modes, and units systemd-analyze verify accepts', async (t) => {
  const root = tempDir('atm-install-root-');
  t.after(root.remove);
  for (const role of ['kiosk', 'bank'] as const) {
    const result = await runAtm(['install', role, '--root', root.dir, ...(role === 'kiosk' ? KIOSK_ARGS : [])]);
    assert.equal(result.code, 0, result.stderr);
  }
  const unitDir = path.join(root.dir, 'etc', 'systemd', 'system');
  const mode = (file: string): number => fs.statSync(file).mode & 0o777;
  assert.deepEqual(fs.readdirSync(unitDir).sort(), ['atm-bank.service', 'atm-kiosk.service']);
  assert.equal(mode(path.join(unitDir, 'atm-kiosk.service')), 0o644);
  assert.equal(mode(path.join(root.dir, 'etc', 'logrotate.d', 'atm-kiosk')), 0o644);
  assert.equal(mode(path.join(root.dir, 'var', 'lib', 'atm-kiosk')), 0o700);
  assert.equal(mode(path.join(root.dir, 'var', 'lib', 'atm')), 0o700);
  if (!hasSystemdAnalyze()) {
    t.skip('systemd-analyze is not installed here');
    return;
  }
  for (const unit of ['atm-kiosk.service', 'atm-bank.service'])
    execFileSync('systemd-analyze', ['verify', path.join(unitDir, unit)], { stdio: 'pipe' });
  // The check can fail: a unit whose ExecStart is not an absolute path is refused.
  const broken = path.join(root.dir, 'broken.service');
  fs.writeFileSync(broken, '[Service]\nExecStart=atm bank\n');
  assert.throws(() => execFileSync('systemd-analyze', ['verify', broken], { stdio: 'pipe' }));
});

test('bad input is refused before anything is written', async (t) => {
  const root = tempDir('atm-install-bad-');
  t.after(root.remove);
  for (const args of [
    ['install'],
    ['install', 'toaster', '--root', root.dir],
    ['install', 'bank', '--root', root.dir, '--data', 'relative/dir'],
    ['install', 'bank', '--root', root.dir, '--user', 'Bad User'],
    ['install', 'bank', '--root', root.dir, '--', '--store', 'postgres://x\nExecStartPre=/bin/sh'],
  ]) {
    const result = await runAtm(args);
    assert.equal(result.code, 2, `${args.join(' ')}: ${result.stdout}${result.stderr}`);
  }
  assert.deepEqual(fs.readdirSync(root.dir), []);
});

test('service arguments are quoted as systemd reads them', () => {
  assert.equal(systemdQuote('--port'), '--port');
  assert.equal(systemdQuote('/var/lib/atm'), '/var/lib/atm');
  assert.equal(systemdQuote('two words'), '"two words"');
  assert.equal(systemdQuote('100%'), '100%%');
  assert.equal(systemdQuote('$HOME'), '"$$HOME"');
  assert.equal(systemdQuote('say "hi"\\'), '"say \\"hi\\"\\\\"');
  assert.throws(() => systemdQuote('a\nb'), /newline or NUL/);
});
