// Where PostgreSQL's programs are, and as whom the server side must run: initdb, pg_ctl and
// postgres refuse to run as root, so as root they run as the `postgres` user (runuser).
import fs from 'node:fs';
import path from 'node:path';

export interface PostgresInstallation {
  binDir: string;
  initdb: string;
  pgCtl: string;
  postgres: string;
  pgbench: string;
  /** The user the server-side commands run as (through runuser), or null: as ourselves. */
  serverUser: { name: string; uid: number; gid: number } | null;
}

const DEBIAN_ROOT = '/usr/lib/postgresql';
const INSTALL_HINT = 'apt-get install postgresql';

function executable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

/** `name` in a directory of PATH, or null. */
function onPath(name: string): string | null {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (dir !== '' && executable(path.join(dir, name))) return path.join(dir, name);
  }
  return null;
}

/** The newest /usr/lib/postgresql/<major>/bin that has initdb (Debian's layout), or null. */
function newestDebianBinDir(): string | null {
  let majors: string[];
  try {
    majors = fs.readdirSync(DEBIAN_ROOT);
  } catch {
    return null;
  }
  const found = majors
    .filter((major) => /^\d+(\.\d+)?$/.test(major) && executable(path.join(DEBIAN_ROOT, major, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return found[0] === undefined ? null : path.join(DEBIAN_ROOT, found[0], 'bin');
}

/** uid and gid of a user from /etc/passwd, or null when there is no such user. */
function passwdEntry(name: string): { uid: number; gid: number } | null {
  let text: string;
  try {
    text = fs.readFileSync('/etc/passwd', 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (user === name && uid !== undefined && gid !== undefined) return { uid: Number(uid), gid: Number(gid) };
  }
  return null;
}

/**
 * The PostgreSQL programs to use: those in `binDir` when given (only there: tests point it at an
 * empty dir), else in the newest /usr/lib/postgresql/<major>/bin; pgbench beside them, else on
 * PATH. A string says why there is nothing usable, with what to install.
 */
export function findPostgres(binDir?: string): PostgresInstallation | string {
  const dir = binDir ?? newestDebianBinDir();
  if (dir === null) return `PostgreSQL is not installed (no ${DEBIAN_ROOT}/*/bin/initdb): ${INSTALL_HINT}`;
  const missing = ['initdb', 'pg_ctl', 'postgres'].filter((name) => !executable(path.join(dir, name)));
  if (missing.length > 0) {
    return `PostgreSQL is not installed: no ${missing.join(', ')} in ${dir} (${INSTALL_HINT})`;
  }
  const pgbench = executable(path.join(dir, 'pgbench')) ? path.join(dir, 'pgbench') : onPath('pgbench');
  if (pgbench === null) return `pgbench is not installed (not in ${dir} nor on PATH): ${INSTALL_HINT}-contrib`;
  let serverUser: PostgresInstallation['serverUser'] = null;
  if (process.getuid?.() === 0) {
    const entry = passwdEntry('postgres');
    if (entry === null) return 'running as root, and there is no postgres user to run initdb and the server as';
    if (onPath('runuser') === null) return 'running as root, and there is no runuser to run the server as postgres';
    serverUser = { name: 'postgres', ...entry };
  }
  return {
    binDir: dir,
    initdb: path.join(dir, 'initdb'),
    pgCtl: path.join(dir, 'pg_ctl'),
    postgres: path.join(dir, 'postgres'),
    pgbench,
    serverUser,
  };
}
