// atm client — one scripted session against a bank: handshake, login, one action, logout.
import crypto from 'node:crypto';
import {
  BankConnection,
  declineText,
  formatCents,
  parseDollars,
  type Response,
  type StatementTxn,
} from '../../protocol/index.js';
import {
  KIOSK_IDENTITY_OPTIONS,
  kioskIdentity,
  ExitCode,
  UsageError,
  fail,
  parse,
  parseBanks,
  printJson,
  required,
} from '../cli.js';

const USAGE = `usage: atm client --bank HOST:PORT[,HOST:PORT…] --kiosk ID --key FILE [--json] ACTION --user U [--amount D.CC] [--txn ID]
  ACTION: register | login | balance | statement | deposit | withdraw | change-password
  password: ATM_PASSWORD, or --password-stdin (first line of stdin)
  change-password: the new password from ATM_NEW_PASSWORD, or the second line of --password-stdin
  statement: the last 10 transactions that moved money, newest first (one line each; --json: an object)
  withdraw plays the dispenser: --dispense-fault (jam, nothing dispensed) or --dispensed D.CC (partial)
exit: 0 ok, 1 declined, 2 usage, 3 bank unreachable or session refused, 4 internal`;

const ACTIONS = ['register', 'login', 'balance', 'statement', 'deposit', 'withdraw', 'change-password'];

interface Passwords {
  password: string;
  /** change-password only. */
  newPassword?: string;
}

/** The password (and for change-password the new one), read before any connection is made. */
async function readPasswords(fromStdin: boolean, wantsNew: boolean): Promise<Passwords> {
  let lines: string[] = [];
  if (fromStdin) {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    lines = Buffer.concat(chunks).toString('utf8').split(/\r?\n/);
  }
  const password = fromStdin ? (lines[0] ?? '') : process.env.ATM_PASSWORD;
  if (password === undefined) throw new UsageError('no password: set ATM_PASSWORD or use --password-stdin');
  if (!wantsNew) return { password };
  const secondLine = lines[1];
  const newPassword = secondLine !== undefined && secondLine !== '' ? secondLine : process.env.ATM_NEW_PASSWORD;
  if (newPassword === undefined)
    throw new UsageError(
      'no new password: set ATM_NEW_PASSWORD or give it as the second line of stdin with --password-stdin',
    );
  return { password, newPassword };
}

export async function clientCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parse(
    argv,
    {
      ...KIOSK_IDENTITY_OPTIONS,
      json: { type: 'boolean' },
      user: { type: 'string' },
      amount: { type: 'string' },
      txn: { type: 'string' },
      'password-stdin': { type: 'boolean' },
      'dispense-fault': { type: 'boolean' },
      dispensed: { type: 'string' },
    },
    USAGE,
  );
  const action = positionals[0];
  if (action === undefined || !ACTIONS.includes(action))
    throw new UsageError(`ACTION must be one of ${ACTIONS.join(', ')}\n${USAGE}`);
  const json = values.json === true;
  const banks = parseBanks(required(values, 'bank', USAGE));
  const { kioskId, psk } = kioskIdentity(values, USAGE);
  const username = required(values, 'user', USAGE);
  const needsAmount = action === 'deposit' || action === 'withdraw';
  let amountCents = 0;
  if (needsAmount) {
    const parsed = parseDollars(required(values, 'amount', USAGE));
    if (!parsed.ok) return finish(json, { ok: false, code: 'INVALID_AMOUNT', message: parsed.reason }, action);
    amountCents = parsed.amountCents;
  }
  let dispensedCents = amountCents;
  if (typeof values.dispensed === 'string') {
    const parsed = parseDollars(values.dispensed);
    if (!parsed.ok || parsed.amountCents > amountCents)
      throw new UsageError('--dispensed must be an amount no larger than --amount');
    dispensedCents = parsed.amountCents;
  }
  const txnId = typeof values.txn === 'string' ? values.txn : crypto.randomUUID();
  const { password, newPassword } = await readPasswords(
    values['password-stdin'] === true,
    action === 'change-password',
  );

  // A network's hosts in the order given: the first that answers serves the whole session.
  let connection: BankConnection | null = null;
  const failures: string[] = [];
  for (const bank of banks) {
    try {
      connection = await BankConnection.connect({ host: bank.host, port: bank.port, kioskId, psk });
      break;
    } catch (error) {
      const detail = error instanceof Error ? error.message : String(error);
      failures.push(banks.length > 1 ? `${bank.host}:${bank.port}: ${detail}` : detail);
    }
  }
  if (connection === null) fail(failures.join('; '), ExitCode.UNREACHABLE);
  try {
    if (action === 'register') {
      const response = await connection.request({ op: 'register', username, password });
      return finish(json, summary(response, action, { user: response.ok ? response.username : username }), action);
    }
    const login = await connection.request({ op: 'login', username, password });
    if (!login.ok || action === 'login') return finish(json, summary(login, action, { user: username }), action);
    let result: Record<string, unknown>;
    if (action === 'balance') {
      result = summary(await connection.request({ op: 'balance' }), action);
    } else if (action === 'statement') {
      const statement = await connection.request({ op: 'statement' });
      result = statement.ok
        ? { ...summary(statement, action), transactions: statement.transactions }
        : summary(statement, action);
    } else if (action === 'change-password' && newPassword !== undefined) {
      result = summary(await connection.request({ op: 'password.change', oldPassword: password, newPassword }), action);
    } else if (action === 'deposit') {
      result = summary(await connection.request({ op: 'deposit', txnId, amountCents }), action, { txnId });
    } else {
      result = await withdraw(connection, txnId, amountCents, values['dispense-fault'] === true ? 0 : dispensedCents);
    }
    await connection.request({ op: 'logout' }).catch(() => undefined);
    return finish(json, result, action);
  } catch (error) {
    fail(error instanceof Error ? error.message : String(error), ExitCode.UNREACHABLE);
  } finally {
    connection.close();
  }
}

/** Hold → dispense (simulated: dispensedCents, 0 = jam) → post what came out, or void. */
async function withdraw(
  connection: BankConnection,
  txnId: string,
  amountCents: number,
  dispensedCents: number,
): Promise<Record<string, unknown>> {
  const hold = await connection.request({ op: 'withdraw.hold', txnId, amountCents });
  if (!hold.ok) return summary(hold, 'withdraw', { txnId });
  if (dispensedCents === 0) {
    const voided = await connection.request({ op: 'withdraw.void', txnId, reason: 'dispenser jam: nothing dispensed' });
    return {
      ...summary(voided, 'withdraw', { txnId }),
      ok: false,
      code: 'DISPENSE_FAULT',
      message: 'Dispenser jammed: nothing dispensed, hold voided, nothing debited',
      dispensed: '0.00',
    };
  }
  const post = await connection.request({ op: 'withdraw.post', txnId, dispensedCents });
  return summary(post, 'withdraw', {
    txnId,
    dispensed: formatCents(dispensedCents),
    partial: dispensedCents < amountCents,
  });
}

function summary(response: Response, action: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  if (!response.ok) {
    const out: Record<string, unknown> = {
      ok: false,
      action,
      code: response.code,
      message: response.message,
      ...extra,
    };
    if (response.lockedUntil !== undefined) out.lockedUntil = response.lockedUntil;
    if (response.attemptsLeft !== undefined) out.attemptsLeft = response.attemptsLeft;
    if (response.limit !== undefined)
      out.limit = {
        ...response.limit,
        limit: formatCents(response.limit.limitCents),
        ...(response.limit.leftCents === undefined ? {} : { left: formatCents(response.limit.leftCents) }),
      };
    return out;
  }
  const out: Record<string, unknown> = { ok: true, action, ...extra };
  // Only the ops whose approval carries a balance have the field, and there it is required.
  if ('balanceCents' in response) {
    out.balance = formatCents(response.balanceCents);
    out.balanceCents = response.balanceCents;
  }
  return out;
}

/** One line per transaction: when (UTC), what, how much, its state and id. */
function statementLines(transactions: StatementTxn[]): string {
  if (transactions.length === 0) return 'statement ok: no transactions\n';
  return transactions
    .map(
      (txn) =>
        `${new Date(txn.atMs).toISOString()}  ${txn.kind.padEnd(8)}  ${formatCents(txn.amountCents).padStart(12)}  ${txn.state}  ${txn.txnId}\n`,
    )
    .join('');
}

function finish(json: boolean, result: Record<string, unknown>, action: string): number {
  if (json) printJson(result);
  else if (result.ok === true && Array.isArray(result.transactions))
    process.stdout.write(statementLines(result.transactions as StatementTxn[]));
  else if (result.ok === true) {
    const balance = typeof result.balance === 'string' ? `: balance ${result.balance}` : '';
    const partial = result.partial === true ? ` (partial dispense: ${String(result.dispensed)})` : '';
    process.stdout.write(`${action} ok${balance}${partial}\n`);
  } else {
    const code = String(result.code);
    const words =
      typeof result.message === 'string' ? result.message : ((declineText as Record<string, string>)[code] ?? code);
    const locked = typeof result.lockedUntil === 'string' ? ` until ${result.lockedUntil}` : '';
    // What a person can do next: tries left before a lock, which limit and what is left of it.
    const tries =
      typeof result.attemptsLeft === 'number'
        ? `; ${result.attemptsLeft} ${result.attemptsLeft === 1 ? 'try' : 'tries'} left before a lock`
        : '';
    const limit = limitWords(result.limit);
    process.stderr.write(`${action} declined: ${code} (${words}${locked}${tries}${limit})\n`);
    if (typeof result.balance === 'string') process.stdout.write(`balance ${result.balance}\n`);
  }
  return result.ok === true ? ExitCode.OK : result.code === 'INTERNAL' ? ExitCode.INTERNAL : ExitCode.FAILED;
}

function limitWords(limit: unknown): string {
  if (typeof limit !== 'object' || limit === null) return '';
  const { kind, limit: value, left } = limit as { kind?: string; limit?: string; left?: string };
  const name =
    kind === 'withdrawal'
      ? 'per withdrawal'
      : kind === 'withdrawalDaily'
        ? 'per day'
        : kind === 'deposit'
          ? 'per deposit'
          : 'balance maximum';
  const today = kind === 'withdrawal' || kind === 'withdrawalDaily' ? ' today' : '';
  return `; limit ${String(value)} ${name}${left === undefined ? '' : `, ${left} left${today}`}`;
}
