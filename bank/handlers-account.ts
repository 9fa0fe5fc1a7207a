// The logged-in customer's own account: the mini statement ([ATM-4.13]) and the password change
// ([ATM-4.14]). Both need a login, take the account's lock as balance does, and are audited;
// neither the audit record nor the outcome ever carries a password.
import bcrypt from 'bcrypt';
import { DeclineCode, STATEMENT_TXNS_MAX, assert, declineText } from '../protocol/index.js';
import type { Request, StatementTxn } from '../protocol/index.js';
import { checkPassword } from './handlers-session.js';
import { passwordInvalid } from './ledger.js';
import type { ActionBase, Handled, ServiceCore, SessionContext } from './service-core.js';
import { txnMovedAtMs, type TxnRecord } from './types.js';

function statementTxnOf(txn: TxnRecord, username: string): StatementTxn {
  assert(txn.username === username && txn.state === 'posted', `statement of ${username} lists ${txn.txnId}`);
  return { txnId: txn.txnId, kind: txn.kind, amountCents: txn.postedCents, state: 'posted', atMs: txnMovedAtMs(txn) };
}

/** [ATM-4.13] The last STATEMENT_TXNS_MAX posted transactions, newest first, from the store's index. */
export async function onStatement(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'statement' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'statement', username };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  // Under the account's lock, as balance: no commit of this account is half way when it reads.
  return core.locks.withKeys([`user:${username}`], async () => {
    const txns = await core.options.store.listRecentPostedTxns(username, STATEMENT_TXNS_MAX);
    await core.audit(core.entry(session, base, 'ok'));
    return {
      response: { id: request.id, ok: true, transactions: txns.map((txn) => statementTxnOf(txn, username)) },
      outcome: { ...base, outcome: 'ok' },
    };
  });
}

/**
 * [ATM-4.14] The old password is checked by login's own rules (checkPassword: rate limit, lock,
 * failed-attempt count); the new one must pass register's policy and differ from the old. Both
 * policy checks come first, costing no bcrypt and counting nothing: they say nothing about the
 * old password. The new hash is made under the lock, after the old password proved right, so
 * a guess costs one comparison and the account is written only at the version it was read.
 */
export async function onPasswordChange(
  core: ServiceCore,
  session: SessionContext,
  request: Extract<Request, { op: 'password.change' }>,
): Promise<Handled> {
  const username = session.username;
  const base: ActionBase = { action: 'password.change', username };
  if (username === null) return core.declined(session, request.id, base, DeclineCode.NOT_LOGGED_IN);
  if (!(await core.shared.takeLogin(session.kioskId, core.now())))
    return core.declined(session, request.id, base, DeclineCode.BUSY);
  if (passwordInvalid(request.newPassword) !== null)
    return core.declined(session, request.id, base, DeclineCode.WEAK_PASSWORD);
  if (request.newPassword === request.oldPassword) {
    const handled = await core.declined(
      session,
      request.id,
      base,
      DeclineCode.WEAK_PASSWORD,
      undefined,
      undefined,
      'new password is the old one',
    );
    // The code's own words name only the length rule; a person needs to know which rule it was.
    if (!handled.response.ok)
      handled.response.message = `${declineText.WEAK_PASSWORD}: the new password must differ from the old one`;
    return handled;
  }
  return core.locks.withKeys([`user:${username}`], async () => {
    const checked = await checkPassword(core, session, request.id, base, username, request.oldPassword);
    if (!checked.ok) return checked.handled;
    const passwordHash = await bcrypt.hash(request.newPassword, core.bcryptCost);
    await core.commit(
      { accounts: [{ ...checked.account, passwordHash, failedLogins: 0, lockedUntilMs: 0 }] },
      core.entry(session, base, 'ok'),
    );
    return { response: { id: request.id, ok: true }, outcome: { ...base, outcome: 'ok' } };
  });
}
