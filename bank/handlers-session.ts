// The bank's handlers for who is at the kiosk: sign-up, login, the name check, logout, and the
// session hand-over that renews a session under a logged-in customer ([ATM-4.9]). Each takes
// the account's lock, decides, and commits one batch with its audit record before answering.
import crypto from 'node:crypto';
import bcrypt from 'bcrypt';
import { DeclineCode } from '../protocol/index.js';
import type { Request } from '../protocol/index.js';
import { newAccount, normalizeUsername, passwordInvalid } from './ledger.js';
import type { Account } from './types.js';
import {
  HANDOVER_TTL_MS,
  decline,
  tokenKey,
  type ActionBase,
  type Handled,
  type ServiceCore,
  type SessionContext,
} from './service-core.js';

export async function onRegister(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'register' }>,
): Promise<Handled> {
  const username = normalizeUsername(request.username);
  const base: ActionBase = { action: 'register', username };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.INVALID_USERNAME);
  if (passwordInvalid(request.password) !== null)
    return core.declined(session, request.id, base, DeclineCode.WEAK_PASSWORD);
  const passwordHash = await bcrypt.hash(request.password, core.bcryptCost);
  return core.locks.withKeys([`user:${username}`], async () => {
    if ((await core.readAccount(username)) !== null)
      return core.declined(session, request.id, base, DeclineCode.USERNAME_TAKEN);
    await core.commit({ accounts: [newAccount(username, passwordHash, core.now())] }, core.entry(session, base, 'ok'));
    return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
  });
}

export async function onLogin(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'login' }>,
): Promise<Handled> {
  const username = normalizeUsername(request.username);
  const base: ActionBase = { action: 'login', username };
  if (!(await core.shared.takeLogin(session.kioskId, core.now())))
    return core.declined(session, request.id, base, DeclineCode.BUSY);
  if (username === null) {
    // Same answer as a wrong password; bcrypt still runs so timing does not tell either.
    await bcrypt.compare(request.password.slice(0, 72), await core.dummyHash);
    return core.declined(session, request.id, base, DeclineCode.AUTH_FAILED);
  }
  return core.locks.withKeys([`user:${username}`], async () => {
    const checked = await checkPassword(core, session, request.id, base, username, request.password);
    if (!checked.ok) return checked.handled;
    await core.commit(
      { accounts: [{ ...checked.account, failedLogins: 0, lockedUntilMs: 0 }] },
      core.entry(session, base, 'ok'),
    );
    session.username = username;
    return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
  });
}

export type PasswordCheck = { ok: true; account: Account } | { ok: false; handled: Handled };

/**
 * [ATM-4.11] The login rules for one password of one account, shared by login and
 * password.change ([ATM-4.14]) so the two can never drift apart: a password that breaks the
 * rules or an unknown account is a bare AUTH_FAILED after the same bcrypt work; a locked
 * account is ACCOUNT_LOCKED with lockedUntil; a wrong password counts (and audits) a failed
 * login and may lock. Caller holds `user:<username>`; on ok the failures are not yet reset.
 */
export async function checkPassword(
  core: ServiceCore,
  session: SessionContext,
  requestId: number,
  base: ActionBase,
  username: string,
  password: string,
): Promise<PasswordCheck> {
  const refuse = async (handled: Promise<Handled>): Promise<PasswordCheck> => ({ ok: false, handled: await handled });
  if (passwordInvalid(password) !== null) {
    await bcrypt.compare(password.slice(0, 72), await core.dummyHash);
    return refuse(core.declined(session, requestId, base, DeclineCode.AUTH_FAILED));
  }
  const account = await core.readAccount(username);
  if (account === null) {
    await bcrypt.compare(password, await core.dummyHash);
    return refuse(core.declined(session, requestId, base, DeclineCode.AUTH_FAILED));
  }
  const nowMs = core.now();
  if (account.lockedUntilMs > nowMs) {
    const lockedUntil = new Date(account.lockedUntilMs).toISOString();
    return refuse(core.declined(session, requestId, base, DeclineCode.ACCOUNT_LOCKED, lockedUntil));
  }
  if (await bcrypt.compare(password, account.passwordHash)) return { ok: true, account };
  const failedLogins = account.failedLogins + 1;
  const locks = failedLogins >= core.loginFailuresMax;
  const updated = {
    ...account,
    failedLogins: locks ? 0 : failedLogins,
    lockedUntilMs: locks ? nowMs + core.lockMs : 0,
  };
  const code = locks ? DeclineCode.ACCOUNT_LOCKED : DeclineCode.AUTH_FAILED;
  await core.commit(
    { accounts: [updated] },
    core.entry(session, base, code, { detail: `failed login ${failedLogins}` }),
  );
  // [ATM-4.11] The customer is told how many tries are left, and the failure that locks says
  // so at once. This tells that the account exists, which sign-up tells anyone anyway
  // (USERNAME_TAKEN, username.check); PROTOCOL.md's limitations weigh it.
  const response = decline(requestId, code);
  if (locks) response.lockedUntil = new Date(updated.lockedUntilMs).toISOString();
  else response.attemptsLeft = core.loginFailuresMax - failedLogins;
  return { ok: false, handled: { response, outcome: { ...base, outcome: code } } };
}

/** [ATM-4.9] Sign-up asks early whether a name is free, so nobody types a password twice for nothing. */
export async function onUsernameCheck(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'username.check' }>,
): Promise<Handled> {
  const username = normalizeUsername(request.username);
  const base: ActionBase = { action: 'username.check', username };
  // The same budget as logins: a name check is as good a probe as a failed login.
  if (!(await core.shared.takeLogin(session.kioskId, core.now())))
    return core.declined(session, request.id, base, DeclineCode.BUSY);
  if (username === null) return core.declined(session, request.id, base, DeclineCode.INVALID_USERNAME);
  if ((await core.readAccount(username)) !== null)
    return core.declined(session, request.id, base, DeclineCode.USERNAME_TAKEN);
  // Audited like its declines: a run of checks is how someone would list who has an account.
  await core.audit(core.entry(session, base, 'ok'));
  return { response: { id: request.id, ok: true, username }, outcome: { ...base, outcome: 'ok' } };
}

/**
 * [ATM-4.9] Renewal: the logged-in session hands its login to a one-time token that a new
 * session of the same kiosk redeems, so a customer never notices the session lifetime. The
 * old session stays logged in until the kiosk closes it (a failed renewal loses nothing).
 */
export async function onHandover(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'session.handover' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'session.handover', username };
  // Nobody logged in: nothing to carry over, and no decline (a renewal between customers).
  if (username === null) return { response: { id: request.id, ok: true }, outcome: { ...base, outcome: 'ok' } };
  const nowMs = core.now();
  const token = (core.options.randomBytes ?? crypto.randomBytes)(32).toString('base64url');
  const handover = { kioskId: session.kioskId, username, expiresAtMs: nowMs + HANDOVER_TTL_MS };
  if (!(await core.shared.putHandover(tokenKey(token), handover, nowMs)))
    return core.declined(session, request.id, base, DeclineCode.BUSY);
  await core.audit(core.entry(session, base, 'ok'));
  return {
    response: { id: request.id, ok: true, username, resumeToken: token },
    outcome: { ...base, outcome: 'ok' },
  };
}

export async function onResume(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'session.resume' }>,
): Promise<Handled> {
  // Unknown, expired, or issued to another kiosk: all the same decline, and a token is spent
  // by any attempt to redeem it, so a guess cannot be retried against a live one.
  const handover = await core.shared.takeHandover(tokenKey(request.token), session.kioskId);
  const valid = handover !== null && handover.expiresAtMs > core.now() && session.username === null;
  if (!valid)
    return core.declined(
      session,
      request.id,
      { action: 'session.resume', username: null },
      DeclineCode.NOT_LOGGED_IN,
      undefined,
      undefined,
      "hand-over token unknown, expired or not this kiosk's",
    );
  const base: ActionBase = { action: 'session.resume', username: handover.username };
  if ((await core.readAccount(handover.username)) === null)
    return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  await core.audit(core.entry(session, base, 'ok'));
  session.username = handover.username;
  return { response: { id: request.id, ok: true, username: handover.username }, outcome: { ...base, outcome: 'ok' } };
}

export async function onLogout(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'logout' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'logout', username };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  await core.audit(core.entry(session, base, 'ok'));
  session.username = null;
  return { response: { id: request.id, ok: true }, outcome: { ...base, outcome: 'ok' } };
}
