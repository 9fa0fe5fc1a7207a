// What `atm install kiosk|bank` does to a machine, as a plan: the service user, the data folder
// with its owner and mode, the systemd unit, the log rotation, and the systemctl calls. Pure (no
// file is touched here), so `--dry-run` prints exactly what a real run carries out, and a test
// checks both. The runner (commands/install.ts) executes the steps in order.
import path from 'node:path';
import { UsageError } from './cli.js';

export type InstallRole = 'kiosk' | 'bank';

export interface InstallOptions {
  role: InstallRole;
  /** The system user the service runs as (created if missing, no login shell). */
  user: string;
  /** The service's data folder (0700, owned by the user). */
  dataDir: string;
  /** Absolute paths of node and of dist/bin/atm.js, as the unit's ExecStart names them. */
  nodePath: string;
  atmPath: string;
  /** Arguments for `atm kiosk` / `atm bank` after --data (e.g. --bank, --key, --port). */
  serviceArgs: string[];
  /** Where /etc lives: '/' for real, a staging folder for a test or an image build. */
  root: string;
}

export type InstallStep =
  | { kind: 'user'; name: string; home: string; groups: string[] }
  | { kind: 'dir'; path: string; owner: string; mode: number }
  | { kind: 'file'; path: string; mode: number; content: string }
  | { kind: 'command'; argv: string[] };

const USER_PATTERN = /^[a-z_][a-z0-9_-]{0,31}$/;
/** The kiosk owns the console it draws on (tty1) and opens serial devices (dialout). */
const KIOSK_GROUPS = ['tty', 'dialout'];

export function unitName(role: InstallRole): string {
  return role === 'kiosk' ? 'atm-kiosk.service' : 'atm-bank.service';
}

/**
 * One argument as systemd's ExecStart reads it: double-quoted with \" and \\ escaped, and % and $
 * doubled (systemd expands both). A newline or NUL cannot be carried and is refused.
 */
export function systemdQuote(arg: string): string {
  if (/[\n\r\0]/.test(arg))
    throw new UsageError(`a service argument cannot hold a newline or NUL: ${JSON.stringify(arg)}`);
  const escaped = arg.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('%', '%%').replaceAll('$', '$$$$');
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(arg) ? escaped : `"${escaped}"`;
}

function execStart(options: InstallOptions): string {
  const argv = [options.nodePath, options.atmPath, options.role, '--data', options.dataDir, ...options.serviceArgs];
  return argv.map(systemdQuote).join(' ');
}

/** The unit: restarted always (a crash or a power blip is not the end), after the network is up. */
export function unitText(options: InstallOptions): string {
  const common = [
    `User=${options.user}`,
    `Group=${options.user}`,
    `WorkingDirectory=${options.dataDir}`,
    `ExecStart=${execStart(options)}`,
    'Restart=always',
    'RestartSec=2',
    // Keys, journals and ledgers are created private to the user.
    'UMask=0077',
    'NoNewPrivileges=yes',
    'PrivateTmp=yes',
    'ProtectSystem=strict',
    'ProtectHome=yes',
    `ReadWritePaths=${options.dataDir}`,
  ];
  if (options.role === 'bank') {
    return [
      '[Unit]',
      'Description=Secure ATM bank host',
      'Wants=network-online.target',
      'After=network-online.target',
      // Never give up restarting: a bank that stays down strands every kiosk.
      'StartLimitIntervalSec=0',
      '',
      '[Service]',
      'Type=simple',
      ...common,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n');
  }
  return [
    '[Unit]',
    'Description=Secure ATM kiosk on tty1',
    'Wants=network-online.target',
    'After=network-online.target systemd-user-sessions.service getty@tty1.service',
    // The kiosk is the console: no login prompt competes for tty1.
    'Conflicts=getty@tty1.service',
    'StartLimitIntervalSec=0',
    '',
    '[Service]',
    'Type=simple',
    ...common,
    `SupplementaryGroups=${KIOSK_GROUPS.join(' ')}`,
    'StandardInput=tty',
    'StandardOutput=tty',
    'StandardError=journal',
    'TTYPath=/dev/tty1',
    'TTYReset=yes',
    'TTYVHangup=yes',
    'TTYVTDisallocate=yes',
    'Environment=TERM=linux LANG=C.UTF-8',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

/** The kiosk writes kiosk.log in its data folder; the bank logs to the journal (journald rotates it). */
function logrotateText(options: InstallOptions): string {
  return [
    `${path.join(options.dataDir, 'kiosk.log')} {`,
    '  weekly',
    '  rotate 8',
    '  compress',
    '  delaycompress',
    '  missingok',
    '  notifempty',
    // The kiosk appends by path on every line, so moving the file away is safe without a signal.
    '  create 0600 ' + `${options.user} ${options.user}`,
    `  su ${options.user} ${options.user}`,
    '}',
    '',
  ].join('\n');
}

export function installPlan(options: InstallOptions): InstallStep[] {
  if (!USER_PATTERN.test(options.user))
    throw new UsageError(`--user must be a system user name, got ${JSON.stringify(options.user)}`);
  for (const [name, value] of [
    ['--data', options.dataDir],
    ['node', options.nodePath],
    ['atm', options.atmPath],
  ] as const)
    if (!path.isAbsolute(value)) throw new UsageError(`${name} must be an absolute path, got ${JSON.stringify(value)}`);
  const etc = (...parts: string[]): string => path.join(options.root, 'etc', ...parts);
  const steps: InstallStep[] = [
    {
      kind: 'user',
      name: options.user,
      home: options.dataDir,
      groups: options.role === 'kiosk' ? KIOSK_GROUPS : [],
    },
    { kind: 'dir', path: path.join(options.root, options.dataDir), owner: options.user, mode: 0o700 },
    { kind: 'file', path: etc('systemd', 'system', unitName(options.role)), mode: 0o644, content: unitText(options) },
  ];
  if (options.role === 'kiosk')
    steps.push({ kind: 'file', path: etc('logrotate.d', 'atm-kiosk'), mode: 0o644, content: logrotateText(options) });
  // Only on the machine itself: a staging root is for an image, enabled when it boots.
  if (options.root === '/') {
    steps.push({ kind: 'command', argv: ['systemctl', 'daemon-reload'] });
    steps.push({ kind: 'command', argv: ['systemctl', 'enable', unitName(options.role)] });
  }
  return steps;
}

/** One line per step, for --dry-run and the log of a real run. */
export function describeStep(step: InstallStep): string {
  switch (step.kind) {
    case 'user':
      return `create system user ${step.name} (home ${step.home}, no login shell${step.groups.length > 0 ? `, groups ${step.groups.join(',')}` : ''}) unless it exists`;
    case 'dir':
      return `make folder ${step.path} owned by ${step.owner}, mode ${step.mode.toString(8).padStart(4, '0')}`;
    case 'file':
      return `write ${step.path} (mode ${step.mode.toString(8).padStart(4, '0')}):\n${step.content
        .trimEnd()
        .split('\n')
        .map((line) => `    ${line}`)
        .join('\n')}`;
    case 'command':
      return `run ${step.argv.join(' ')}`;
  }
}
