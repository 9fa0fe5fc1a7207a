// atm bench — the bank host's benchmark (what `npm run bench` runs first). The bank runs as its
// own `atm bank` process on a fresh data dir (or is a running one: --bank, --key), its ledger
// LevelDB or (--store postgres) a throw-away PostgreSQL cluster, shared by --bank-hosts 2
// processes if asked; the load comes from worker threads; each scenario reports the client's
// view and the bank process's own (bench/host/). Bounded: every step stops at --seconds or
// --requests.
import fs from 'node:fs';
import {
  FULL_SESSIONS,
  QUICK_SESSIONS,
  SCENARIOS,
  STORES,
  runBench,
  type BenchPlan,
  type ScenarioName,
  type StoreName,
} from '../../bench/host/run.js';
import { formatReport } from '../../bench/host/report.js';
import { scalingChartSvg } from '../../bench/host/chart.js';
import { formatCompare, runCompare } from '../../bench/host/compare.js';
import { ExitCode, UsageError, integerOption, parse, parseBank, printJson } from '../cli.js';

const USAGE = `usage: atm bench [--scenario LIST] [--sessions LIST] [--seconds 5] [--requests N] [--workers 2]
                 [--bcrypt-cost 12] [--no-telemetry] [--quick] [--compare] [--json] [--out FILE] [--svg FILE]
                 [--store level | --store postgres [--bank-hosts 1|2]]
                 [--bank HOST:PORT --key FILE[,FILE…] [--bank-pid PID]]
Measures the bank host: an \`atm bank\` process on a fresh data dir (LevelDB, synced commits,
the embedded telemetry broker unless --no-telemetry) driven over loopback by load workers.
--store postgres puts its ledger on PostgreSQL instead: the bench starts a throw-away cluster
(fsync and synchronous_commit on, Unix socket only; PostgreSQL must be installed), migrates a
fresh database and runs \`atm bank --store URL --host-id bench-0\` on it. --bank-hosts 2 adds
a second \`atm bank\` (its own data dir, a copy of the keystore, --host-id bench-1) on the same
database; session i then talks to host i mod 2, and the bank's figures (CPU, syncs, RSS) are the
two processes' sums. Everything the bench started is stopped and removed at the end, on an
error and on Ctrl-C.
Scenarios (--scenario, comma-separated; all by default): ${SCENARIOS.join(', ')}.
  handshake  full secure-session handshakes per second at 1 and 16 concurrent
  balance    balance round trips at 64 sessions
  mixed      deposits, two-phase withdrawals and balances (durable) at 1, 8, 32, 64, 256 sessions
  contended  the mixed load from 64 sessions on 4 accounts
  login      16 sessions logging in and out at bcrypt cost --bcrypt-cost (its own bank), with
             the bank's event-loop delay measured meanwhile
  sessions   1,000 idle sessions: the bank's memory
--sessions LIST sets the mixed scenario's session counts (and alone runs only that scenario).
The other scenarios register their accounts at bcrypt cost 4: they measure the ledger, not bcrypt.
--compare then measures the references in the same run, at the same counts: PostgreSQL's pgbench
TPC-B (a throw-away cluster, fsync on; skipped with a reason when PostgreSQL is not installed)
and a Node TLS 1.3 server in its own process (full handshakes; 100-byte echo), and prints each
target of BENCHMARKS.md as a ratio.
--quick: a few seconds in all (small counts, short steps); it checks the bench runs, not speed.
--json prints the report as one JSON object on the last line; --out FILE also writes it there.
--svg FILE draws the mixed scenario's scaling chart (requests/s and latency over its session
counts, with pgbench beside it after --compare) as an SVG.
--bank HOST:PORT --key FILES measures a running bank (its kiosks' key files); with --bank-pid
its CPU and memory are read from /proc too. ATM_BENCH_BANK_NODE_ARGS='--cpu-prof --cpu-prof-dir=DIR'
profiles the spawned bank.`;

/** --quick's steps: long enough for every scenario to do some work, short enough for `npm test`. */
const QUICK_STEP_MS = 300;

function list(text: string, name: string, check: (item: string) => boolean): string[] {
  const items = text.split(',').map((item) => item.trim());
  if (items.length === 0 || !items.every(check))
    throw new UsageError(`--${name}: ${JSON.stringify(text)} is not a valid list\n${USAGE}`);
  return items;
}

function isStore(name: string): name is StoreName {
  return (STORES as readonly string[]).includes(name);
}

function isScenario(name: string): name is ScenarioName {
  return (SCENARIOS as readonly string[]).includes(name);
}

export async function benchCommand(argv: string[]): Promise<number> {
  const { values } = parse(
    argv,
    {
      scenario: { type: 'string' },
      sessions: { type: 'string' },
      seconds: { type: 'string' },
      requests: { type: 'string' },
      workers: { type: 'string' },
      'bcrypt-cost': { type: 'string' },
      'no-telemetry': { type: 'boolean' },
      quick: { type: 'boolean' },
      compare: { type: 'boolean' },
      json: { type: 'boolean' },
      out: { type: 'string' },
      svg: { type: 'string' },
      bank: { type: 'string' },
      key: { type: 'string' },
      'bank-pid': { type: 'string' },
      store: { type: 'string' },
      'bank-hosts': { type: 'string' },
    },
    USAGE,
  );
  const quick = values.quick === true;
  const sessions = { ...(quick ? QUICK_SESSIONS : FULL_SESSIONS) };
  if (typeof values.sessions === 'string') {
    sessions.mixed = list(
      values.sessions,
      'sessions',
      (item) => /^\d+$/.test(item) && Number(item) >= 1 && Number(item) <= 4_000,
    ).map(Number);
  }
  const scenarios: ScenarioName[] =
    typeof values.scenario === 'string'
      ? list(values.scenario, 'scenario', isScenario).filter(isScenario)
      : typeof values.sessions === 'string'
        ? ['mixed']
        : [...SCENARIOS];
  let attach: BenchPlan['attach'] = null;
  if (typeof values.bank === 'string') {
    if (typeof values.key !== 'string')
      throw new UsageError(`--bank needs --key FILE[,FILE…]: the kiosk keys to connect with\n${USAGE}`);
    const address = parseBank(values.bank);
    attach = {
      host: address.host,
      port: address.port,
      keyFiles: list(values.key, 'key', (item) => item.length > 0),
      pid: values['bank-pid'] === undefined ? null : integerOption(values, 'bank-pid', 0, 1, 4_194_304),
    };
  }
  const store = values.store ?? 'level';
  if (typeof store !== 'string' || !isStore(store))
    throw new UsageError(`--store (or ATM_STORE) takes level or postgres, not ${JSON.stringify(store)}\n${USAGE}`);
  const bankHosts = integerOption(values, 'bank-hosts', 1, 1, 2);
  if (bankHosts > 1 && store !== 'postgres')
    throw new UsageError(`--bank-hosts ${bankHosts} needs --store postgres: only that ledger is shared\n${USAGE}`);
  if (attach !== null && (values.store !== undefined || values['bank-hosts'] !== undefined))
    throw new UsageError(`--bank measures a running bank as it is: no --store or --bank-hosts\n${USAGE}`);
  const plan: BenchPlan = {
    scenarios,
    sessions,
    contendedAccounts: quick ? 2 : 4,
    durationMs: quick ? QUICK_STEP_MS : integerOption(values, 'seconds', 5, 1, 600) * 1_000,
    requestsMax: integerOption(values, 'requests', 10_000_000, 1, 1_000_000_000),
    workers: integerOption(values, 'workers', 2, 1, 64),
    bcryptCost: 4,
    loginBcryptCost: integerOption(values, 'bcrypt-cost', quick ? 4 : 12, 4, 15),
    telemetry: values['no-telemetry'] !== true,
    store,
    bankHosts,
    attach,
  };
  const json = values.json === true;
  const log = (line: string): void => void process.stderr.write(`bench: ${line}\n`);
  const report = await runBench(plan, log);
  if (values.compare === true) report.compare = await runCompare(report, { seconds: plan.durationMs / 1000, log });
  if (typeof values.out === 'string') fs.writeFileSync(values.out, `${JSON.stringify(report, null, 2)}\n`);
  if (typeof values.svg === 'string') {
    const svg = scalingChartSvg(report);
    if (svg === null) log(`--svg: no mixed step ran, so there is no scaling chart; ${values.svg} not written`);
    else fs.writeFileSync(values.svg, svg);
  }
  if (json) printJson(report);
  else {
    process.stdout.write(formatReport(report));
    if (report.compare !== undefined) process.stdout.write(formatCompare(report.compare));
  }
  return report.scenarios.some((step) => step.errors > 0) ? ExitCode.INTERNAL : ExitCode.OK;
}
