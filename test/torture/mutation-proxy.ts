// Live sessions through a mutating proxy (issue 15, item 3): a real bank (LevelDB in a temp dir,
// loopback TCP), an honest kiosk client (BankConnection) that logs in, deposits under a fresh
// transaction id and asks its balance, and between them a byte proxy that applies one mutation
// per session to one frame at a random point: flip a bit, drop, duplicate, delay, reorder two
// frames, splice two frames, or truncate (the rest of that direction is cut). Checks:
//   - the bank never crashes and serves on; every close it logs has a catalogued reason;
//   - a mutated session completes with correct answers, or fails with a typed AtmError; a delay
//     always completes; a flip, drop, splice or truncate of any frame the session needs never does;
//   - money moves only by acknowledged deposits or by a repeat of the same transaction id: after
//     each session a clean session reads the balance (it may include a deposit whose answer was
//     lost, never anything else) and repeats the deposit under the same id; at the end every
//     account holds exactly the sum of its distinct transaction ids;
//   - the bank's connections and pending handshakes stay bounded and drain to zero.
import assert from 'node:assert/strict';
import v8 from 'node:v8';
import vm from 'node:vm';
import type { BankObserver, SecurityEvent, SessionEvent } from '../../bank/index.js';
import { AtmError, isCodeOf, type BankConnection } from '../../protocol/index.js';
import { startTestBank, TEST_PASSWORD, type TestBank } from '../helpers/bank.js';
import { waitUntil } from '../helpers/wait.js';
import { fuzzSeed, seededRandom } from './fuzz-core.js';
import {
  LINK_MUTATIONS,
  startLaneProxy,
  type LaneProxy,
  type LinkDirection,
  type LinkMutation,
  type LinkPlan,
} from './mutation-link.js';

export { LINK_MUTATIONS, type LinkMutation } from './mutation-link.js';

export interface MutationProxyOptions {
  sessions: number;
  /** Sessions side by side, each lane with its own account and proxy port; default 8. */
  lanes?: number;
  seed?: number;
  /** The kiosk's request deadline: what a dropped frame costs. */
  requestTimeoutMs?: number;
}

export interface MutationProxyCounts {
  seed: number;
  sessions: number;
  byMutation: Record<LinkMutation, number>;
  /** Sessions that did login, deposit and balance with correct answers. */
  completed: number;
  /** Sessions that ended in a typed AtmError, by its code. */
  closed: number;
  closedBy: Record<string, number>;
  /** Mutations whose frame never came (the session had ended before it). */
  notReached: number;
  /** Reorders that found a second frame to swap with. */
  swapped: number;
  acknowledged: number;
  /** Deposits applied whose answer the kiosk never got; the repeat under the same id moved nothing. */
  appliedUnacknowledged: number;
  /** Deposits not in the balance read before their repeat (never sent, lost, or still in flight). */
  appliedByRepeat: number;
  balanceCentsTotal: number;
  bankCloseReasons: Record<string, number>;
  bankConnectionsMax: number;
  heapGrowthBytes: number;
  elapsedMs: number;
}

const LANES_DEFAULT = 8;
/** Well above a loaded machine's fsync, so a delayed frame never times out; a drop costs this. */
const REQUEST_TIMEOUT_MS_DEFAULT = 2_000;
const DELAY_MS_MAX = 150;
/** Frames of an honest session: m1, m3, login, deposit, balance, close / m2 and three answers. */
const FRAMES: Record<LinkDirection, number> = { toBank: 6, toKiosk: 4 };
const CLOSE_RECORD = { direction: 'toBank', frameIndex: 5 } as const;
const BACK_TO_BACK = { direction: 'toBank', frameIndex: 1 } as const;
const LINK_CLOSE_WAIT_MS = 5_000;
/** What the bank (and this harness) may keep after any number of sessions: caches, not sessions. */
const HEAP_GROWTH_BYTES_MAX = 64 * 1024 * 1024;

interface SessionPlan {
  index: number;
  link: LinkPlan;
  txnId: string;
  amountCents: number;
}

/** Every session's plan up front from the seed, so lanes racing each other cannot change them. */
function plans(seed: number, sessions: number): SessionPlan[] {
  const random = seededRandom(seed);
  const targets = (Object.entries(FRAMES) as [LinkDirection, number][]).flatMap(([direction, count]) =>
    Array.from({ length: count }, (_, frameIndex) => ({ direction, frameIndex })),
  );
  return Array.from({ length: sessions }, (_, index) => {
    const mutation = LINK_MUTATIONS[Math.floor(random() * LINK_MUTATIONS.length)] ?? 'flip';
    // An honest kiosk has one request in flight, so only m3 and the login go out back to back:
    // half the reorders swap those two, the rest land anywhere (and, alone, act as a delay).
    const swappable = mutation === 'reorder' && random() < 0.5;
    const target = swappable ? BACK_TO_BACK : targets[Math.floor(random() * targets.length)];
    assert.ok(target !== undefined);
    return {
      index,
      link: { mutation, ...target, point: random(), delayMs: 1 + Math.floor(random() * DELAY_MS_MAX) },
      txnId: `mp-${(seed >>> 0).toString(36)}-${String(index).padStart(6, '0')}`,
      amountCents: 1 + Math.floor(random() * 10_000),
    };
  });
}

/** Must the session fail? Any frame it needs, flipped, dropped, spliced or cut. */
function mustFail(link: LinkPlan): boolean {
  const needed = !(link.direction === CLOSE_RECORD.direction && link.frameIndex === CLOSE_RECORD.frameIndex);
  return needed && ['flip', 'drop', 'splice', 'truncate'].includes(link.mutation);
}

class CloseReasons implements BankObserver {
  readonly counts: Record<string, number> = {};
  action(): void {
    // not under test
  }
  info(): void {
    // not under test
  }
  session(event: SessionEvent): void {
    if (event.state === 'closed') this.count(event.reason ?? 'none');
  }
  security(event: SecurityEvent): void {
    this.count(event.reason);
  }
  /** Counted, never thrown: an observer that throws would fail the bank, not the test. */
  private count(reason: string): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
  }
}

interface Lane {
  username: string;
  proxy: LaneProxy;
  clean: BankConnection;
  /** What the account holds: every earlier session's deposit, each exactly once. */
  balanceCents: number;
}

type Outcome = { completed: true; acknowledged: true } | { completed: false; acknowledged: boolean; code: string };

/** The honest kiosk: login, deposit, balance through the lane's proxy. */
async function kioskSession(bank: TestBank, lane: Lane, plan: SessionPlan, requestTimeoutMs: number): Promise<Outcome> {
  let connection: BankConnection | null = null;
  let acknowledged = false;
  const context = `session ${plan.index} (${plan.link.mutation} ${plan.link.direction}[${plan.link.frameIndex}])`;
  try {
    connection = await bank.connect({
      port: lane.proxy.port,
      requestTimeoutMs,
      connectTimeoutMs: requestTimeoutMs,
      timeouts: { handshakeTimeoutMs: requestTimeoutMs, recordReadTimeoutMs: requestTimeoutMs },
    });
    const login = await connection.request({ op: 'login', username: lane.username, password: TEST_PASSWORD });
    assert.ok(login.ok, `${context}: login declined ${login.ok ? '' : login.code}`);
    const deposit = await connection.request({ op: 'deposit', txnId: plan.txnId, amountCents: plan.amountCents });
    assert.ok(deposit.ok, `${context}: deposit declined ${deposit.ok ? '' : deposit.code}`);
    acknowledged = true;
    const expectedCents = lane.balanceCents + plan.amountCents;
    assert.equal(deposit.balanceCents, expectedCents, `${context}: deposit answer`);
    const balance = await connection.request({ op: 'balance' });
    assert.ok(balance.ok, `${context}: balance declined`);
    assert.equal(balance.balanceCents, expectedCents, `${context}: balance answer`);
    connection.close();
    return { completed: true, acknowledged: true };
  } catch (error) {
    connection?.close();
    if (!(error instanceof AtmError)) throw error; // an untyped failure (or a wrong answer) fails the run
    assert.ok(isCodeOf('client', error.code), `${context}: ${error.code} is not a client error`);
    return { completed: false, acknowledged, code: error.code };
  }
}

/** After a session: the balance holds the deposit only if it may have applied; the repeat settles it. */
async function reconcile(lane: Lane, plan: SessionPlan, outcome: Outcome, counts: MutationProxyCounts): Promise<void> {
  const context = `session ${plan.index} (${plan.link.mutation})`;
  const before = await lane.clean.request({ op: 'balance' });
  assert.ok(before.ok, `${context}: balance declined: ${JSON.stringify(before)}`);
  const withDeposit = lane.balanceCents + plan.amountCents;
  if (outcome.acknowledged) assert.equal(before.balanceCents, withDeposit, `${context}: acknowledged, not applied`);
  else
    assert.ok(
      before.balanceCents === lane.balanceCents || before.balanceCents === withDeposit,
      `${context}: balance ${before.balanceCents}, expected ${lane.balanceCents} or ${withDeposit}`,
    );
  const repeat = await lane.clean.request({ op: 'deposit', txnId: plan.txnId, amountCents: plan.amountCents });
  assert.ok(repeat.ok, `${context}: the repeat was declined: ${JSON.stringify(repeat)}`);
  assert.equal(repeat.balanceCents, withDeposit, `${context}: the repeat's answer`);
  if (!outcome.acknowledged && before.balanceCents === withDeposit) counts.appliedUnacknowledged += 1;
  if (before.balanceCents === lane.balanceCents) counts.appliedByRepeat += 1;
  lane.balanceCents = withDeposit;
}

async function runSession(
  bank: TestBank,
  lane: Lane,
  plan: SessionPlan,
  counts: MutationProxyCounts,
  timeoutMs: number,
) {
  const linked = lane.proxy.expect(plan.link);
  const outcome = await kioskSession(bank, lane, plan, timeoutMs);
  // The kiosk got as far as a TCP connection (its handshake started), so the lane has its link.
  const link = await within(linked, LINK_CLOSE_WAIT_MS);
  assert.ok(link !== null, `session ${plan.index}: the kiosk never reached the proxy`);
  {
    // The link must end by itself once the kiosk has closed; the safety net only bounds the wait.
    const ended = (await within(link.closed, LINK_CLOSE_WAIT_MS)) !== null;
    if (!ended) link.destroy();
    assert.ok(ended, `session ${plan.index}: the link stayed open ${LINK_CLOSE_WAIT_MS} ms after the kiosk closed`);
    if (!link.applied) counts.notReached += 1;
    if (link.swapped) counts.swapped += 1;
  }
  counts.byMutation[plan.link.mutation] += 1;
  if (outcome.completed) counts.completed += 1;
  else {
    counts.closed += 1;
    counts.closedBy[outcome.code] = (counts.closedBy[outcome.code] ?? 0) + 1;
  }
  if (outcome.acknowledged) counts.acknowledged += 1;
  const reached = link.applied;
  if (plan.link.mutation === 'delay') assert.ok(outcome.completed, `session ${plan.index}: a delay must complete`);
  if (reached && mustFail(plan.link))
    assert.ok(!outcome.completed, `session ${plan.index}: completed through ${plan.link.mutation}`);
  counts.bankConnectionsMax = Math.max(counts.bankConnectionsMax, bank.host.server.stats.connections);
  await reconcile(lane, plan, outcome, counts);
}

/**
 * The heap after a full collection, so growth means something is kept, not garbage not yet
 * collected. node:test runs without --expose-gc; the flag can still be set at run time and gc()
 * taken from a fresh context, the documented V8 way.
 */
function heapUsedAfterGc(): number {
  v8.setFlagsFromString('--expose-gc');
  const gc = vm.runInNewContext('gc') as () => void;
  gc();
  return process.memoryUsage().heapUsed;
}

/** The promise's value, or null if it takes longer than timeoutMs. */
async function within<T>(promise: Promise<T>, timeoutMs: number): Promise<T | null> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)));
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Runs `sessions` mutated live sessions against a bank of its own, and says what happened. */
export async function runMutationProxy(options: MutationProxyOptions): Promise<MutationProxyCounts> {
  const seed = fuzzSeed(options.seed);
  const lanesCount = Math.max(1, Math.min(options.lanes ?? LANES_DEFAULT, options.sessions));
  const timeoutMs = options.requestTimeoutMs ?? REQUEST_TIMEOUT_MS_DEFAULT;
  const startedMs = performance.now();
  const heapBefore = heapUsedAfterGc();
  const observer = new CloseReasons();
  const bank = await startTestBank({
    observer,
    timeouts: { handshakeTimeoutMs: timeoutMs, recordReadTimeoutMs: timeoutMs },
  });
  const counts: MutationProxyCounts = {
    seed,
    sessions: 0,
    byMutation: Object.fromEntries(LINK_MUTATIONS.map((name) => [name, 0])) as Record<LinkMutation, number>,
    completed: 0,
    closed: 0,
    closedBy: {},
    notReached: 0,
    swapped: 0,
    acknowledged: 0,
    appliedUnacknowledged: 0,
    appliedByRepeat: 0,
    balanceCentsTotal: 0,
    bankCloseReasons: observer.counts,
    bankConnectionsMax: 0,
    heapGrowthBytes: 0,
    elapsedMs: 0,
  };
  const lanes: Lane[] = [];
  try {
    for (let index = 0; index < lanesCount; index++) {
      const username = `mp${index}-${(seed >>> 0).toString(36)}`;
      lanes.push({
        username,
        proxy: await startLaneProxy(bank.host.port),
        clean: await bank.loginAs(username),
        balanceCents: 0,
      });
    }
    const all = plans(seed, options.sessions);
    await Promise.all(
      lanes.map(async (lane, laneIndex) => {
        for (let index = laneIndex; index < all.length; index += lanesCount) {
          const plan = all[index];
          assert.ok(plan !== undefined);
          try {
            await runSession(bank, lane, plan, counts, timeoutMs);
          } catch (error) {
            const why = error instanceof Error ? error.message : String(error);
            throw new Error(`mutation proxy (seed ${seed}, replay with ATM_FUZZ_SEED=${seed}): ${why}`, {
              cause: error,
            });
          }
          counts.sessions += 1;
        }
      }),
    );
    await finalCheck(bank, lanes, counts);
  } finally {
    for (const lane of lanes) {
      lane.clean.close();
      await lane.proxy.close();
    }
    await bank.cleanup();
  }
  counts.heapGrowthBytes = heapUsedAfterGc() - heapBefore;
  assert.ok(counts.heapGrowthBytes < HEAP_GROWTH_BYTES_MAX, `heap grew by ${counts.heapGrowthBytes} bytes`);
  counts.elapsedMs = Math.round(performance.now() - startedMs);
  return counts;
}

/** Every account holds exactly its distinct deposits, read through a fresh session; the bank drains. */
async function finalCheck(bank: TestBank, lanes: readonly Lane[], counts: MutationProxyCounts): Promise<void> {
  for (const lane of lanes) {
    const fresh = await bank.loginAs(lane.username);
    const balance = await fresh.request({ op: 'balance' });
    fresh.close();
    assert.ok(balance.ok);
    assert.equal(balance.balanceCents, lane.balanceCents, `${lane.username}: the sum of its transaction ids`);
    counts.balanceCentsTotal += balance.balanceCents;
  }
  for (const reason of Object.keys(counts.bankCloseReasons))
    assert.ok(isCodeOf('sessionClose', reason), `the bank closed a session for an uncatalogued reason ${reason}`);
  // Only the lanes' clean sessions (and the fresh ones closing) may be left; nothing half-open.
  await waitUntil(
    () => bank.host.server.stats.connections <= lanes.length && bank.host.server.stats.pending === 0,
    () => `the bank to drain (stats ${JSON.stringify(bank.host.server.stats)})`,
  );
  assert.ok(counts.bankConnectionsMax <= 3 * lanes.length, `connections peaked at ${counts.bankConnectionsMax}`);
}
