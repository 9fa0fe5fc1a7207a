// atm keys init | add-kiosk | revoke-kiosk | add-operator | export-audit-key
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { addKiosk, addOperator, auditKeyRaw, initKeystore, loadKeystore, revokeKiosk } from '../../bank/index.js';
import { fernetKeyFormat } from '../../protocol/index.js';
import { ExitCode, UsageError, parse, printJson, required } from '../cli.js';

const USAGE = `usage:
  atm keys init --data DIR [--json]
  atm keys add-kiosk ID --data DIR --out FILE [--force] [--json]
  atm keys revoke-kiosk ID --data DIR [--json]
  atm keys add-operator NAME --data DIR [--admin] [--json]
                                  (password from ATM_PASSWORD, else generated and printed once;
                                   --admin may also read the embedded broker's $SYS/#)
  atm keys export-audit-key --data DIR`;

export async function keysCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === '--help' || sub === '-h') {
    // [DESIGN §2] every command takes --help, including the bare command group.
    process.stdout.write(`${USAGE}\n`);
    return ExitCode.OK;
  }
  const { values, positionals } = parse(
    rest,
    {
      data: { type: 'string' },
      out: { type: 'string' },
      force: { type: 'boolean' },
      admin: { type: 'boolean' },
      json: { type: 'boolean' },
    },
    USAGE,
  );
  const json = values.json === true;
  const say = (text: string, object: Record<string, unknown>): void =>
    json ? printJson(object) : void process.stdout.write(`${text}\n`);
  const dataDir = (): string => required(values, 'data', USAGE);
  const id = (): string => {
    const value = positionals[0];
    if (value === undefined) throw new UsageError(`missing ID\n${USAGE}`);
    return value;
  };
  switch (sub) {
    case 'init': {
      const { created, keystore } = initKeystore(dataDir());
      say(
        created
          ? `keystore created in ${dataDir()} (host ${keystore.hostId})`
          : `keystore already present in ${dataDir()} (host ${keystore.hostId})`,
        { ok: true, created, hostId: keystore.hostId },
      );
      return ExitCode.OK;
    }
    case 'add-kiosk': {
      const out = required(values, 'out', USAGE);
      const keyFile = addKiosk(dataDir(), id(), out, { force: values.force === true });
      say(`kiosk ${keyFile.kioskId} provisioned; key written to ${out} (mode 0600)`, {
        ok: true,
        kioskId: keyFile.kioskId,
        keyFile: out,
      });
      return ExitCode.OK;
    }
    case 'revoke-kiosk': {
      revokeKiosk(dataDir(), id());
      say(`kiosk ${id()} revoked`, { ok: true, kioskId: id(), revoked: true });
      return ExitCode.OK;
    }
    case 'add-operator': {
      const name = id();
      if (!/^[a-z0-9._-]{1,32}$/.test(name)) throw new UsageError('operator name must be 1-32 chars of a-z 0-9 . _ -');
      loadKeystore(dataDir());
      const given = process.env.ATM_PASSWORD;
      const password = given ?? crypto.randomBytes(18).toString('base64url');
      const admin = values.admin === true;
      addOperator(dataDir(), name, await bcrypt.hash(password, 10), Date.now(), { admin });
      const what = admin ? `admin operator ${name}` : `operator ${name}`;
      if (json)
        printJson(
          given === undefined ? { ok: true, operator: name, admin, password } : { ok: true, operator: name, admin },
        );
      else
        process.stdout.write(
          given === undefined ? `${what} added; password (shown once):\n${password}\n` : `${what} added\n`,
        );
      return ExitCode.OK;
    }
    case 'export-audit-key': {
      const key = fernetKeyFormat(auditKeyRaw(loadKeystore(dataDir())));
      if (json) printJson({ ok: true, auditKey: key });
      else process.stdout.write(`${key}\n`);
      return ExitCode.OK;
    }
    default:
      throw new UsageError(sub === undefined ? USAGE : `unknown keys command ${sub}\n${USAGE}`);
  }
}
