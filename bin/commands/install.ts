// atm install kiosk|bank — a service that comes back by itself after a crash or a power cut:
// the system user, the data folder (0700, its owner), the systemd unit (restart always, after the
// network; the kiosk on tty1 in place of the login prompt), log rotation, and the unit enabled.
// --dry-run prints the plan and changes nothing. The plan is bin/install-plan.ts.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDataDir } from '../../protocol/index.js';
import { ExitCode, UsageError, parse } from '../cli.js';
import { describeStep, installPlan, type InstallRole, type InstallStep } from '../install-plan.js';

const USAGE = `usage: atm install kiosk|bank [--dry-run] [--user NAME] [--data DIR] [--root DIR] [-- ARGS…]
Installs the kiosk or the bank host as a systemd service that restarts by itself: a system user
(default atm-kiosk / atm), its data folder (default /var/lib/atm-kiosk / /var/lib/atm, mode 0700),
/etc/systemd/system/atm-kiosk.service (on tty1, replacing its login prompt) or atm-bank.service,
/etc/logrotate.d/atm-kiosk, then systemctl daemon-reload and enable. ARGS after -- go to the
service's command line, e.g. -- --bank 10.0.0.2:7400 --key /var/lib/atm-kiosk/kiosk-01.key.
--dry-run prints every step and changes nothing; --root DIR writes the files under DIR (an image
being built: no user, no chown, no systemctl). Needs root otherwise.`;

export function installCommand(argv: string[]): number {
  const separator = argv.indexOf('--');
  const own = separator < 0 ? argv : argv.slice(0, separator);
  const serviceArgs = separator < 0 ? [] : argv.slice(separator + 1);
  const { values, positionals } = parse(
    own,
    {
      'dry-run': { type: 'boolean' },
      user: { type: 'string' },
      data: { type: 'string' },
      root: { type: 'string' },
    },
    USAGE,
  );
  const [role, ...extra] = positionals;
  if ((role !== 'kiosk' && role !== 'bank') || extra.length > 0)
    throw new UsageError(role === undefined ? USAGE : `atm install takes kiosk or bank\n${USAGE}`);
  const root = path.resolve(typeof values.root === 'string' ? values.root : '/');
  const steps = installPlan({
    role,
    user: typeof values.user === 'string' ? values.user : role === 'kiosk' ? 'atm-kiosk' : 'atm',
    dataDir: typeof values.data === 'string' ? values.data : role === 'kiosk' ? '/var/lib/atm-kiosk' : '/var/lib/atm',
    nodePath: process.execPath,
    atmPath: path.resolve(fileURLToPath(new URL('../atm.js', import.meta.url))),
    serviceArgs,
    root,
  });
  if (values['dry-run'] === true) {
    process.stdout.write(`atm install ${role}: would do, in order (nothing changed):\n`);
    steps.forEach((step, index) => process.stdout.write(`${index + 1}. ${describeStep(step)}\n`));
    return ExitCode.OK;
  }
  if (root === '/' && process.getuid?.() !== 0)
    throw new UsageError('atm install needs root (sudo), or --dry-run to see what it would do');
  for (const step of steps) {
    runStep(step, root === '/');
    process.stdout.write(`done: ${describeStep(step).split('\n')[0] ?? ''}\n`);
  }
  process.stdout.write(`atm install ${role}: installed; start it with: systemctl start ${unitOf(role)}\n`);
  return ExitCode.OK;
}

const unitOf = (role: InstallRole): string => (role === 'kiosk' ? 'atm-kiosk.service' : 'atm-bank.service');

function runStep(step: InstallStep, onThisMachine: boolean): void {
  switch (step.kind) {
    case 'user':
      if (!onThisMachine) return; // the image's own first boot creates users
      if (!userExists(step.name))
        execFileSync('useradd', [
          '--system',
          '--home-dir',
          step.home,
          '--no-create-home',
          '--shell',
          '/usr/sbin/nologin',
          '--user-group',
          ...(step.groups.length > 0 ? ['--groups', step.groups.join(',')] : []),
          step.name,
        ]);
      else if (step.groups.length > 0)
        execFileSync('usermod', ['--append', '--groups', step.groups.join(','), step.name]);
      return;
    case 'dir':
      makeDataDir(step.path, step.mode);
      fs.chmodSync(step.path, step.mode);
      if (onThisMachine) execFileSync('chown', [`${step.owner}:${step.owner}`, step.path]);
      return;
    case 'file':
      makeDataDir(path.dirname(step.path), 0o755);
      fs.writeFileSync(step.path, step.content, { mode: step.mode });
      fs.chmodSync(step.path, step.mode);
      return;
    case 'command': {
      const [command, ...args] = step.argv;
      if (command !== undefined) execFileSync(command, args, { stdio: 'inherit' });
      return;
    }
  }
}

function userExists(name: string): boolean {
  try {
    execFileSync('id', ['-u', name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
