// Wiring of the dashboard: feed → reducer → view, keys → reducer, a clock tick. runDashboard
// takes its feed and view as seams (tests pass a ManualFeed and a recording view);
// runOperatorApp is the real process: MQTT, blessed, signals and the last-resort crash handler.
import { BlessedDashboardView, type BlessedViewOptions } from './blessed-view.js';
import { MqttFeed, type MqttFeedOptions, type TelemetryFeed } from './feed.js';
import { reduce, type DashboardInput } from './model.js';
import { initialState, type DashboardLimits, type DashboardState } from './state.js';
import type { DashboardView } from './view.js';
import { connectionReasonWords } from './words.js';

export const TICK_MS = 1_000;

/** A message on code 0 is for stderr after the terminal is back (e.g. the broker was never reached). */
export type DashboardExit = { code: 0; message?: string } | { code: 1; message: string };

export interface DashboardOptions {
  feed: TelemetryFeed;
  view: DashboardView;
  /** Shown in the header; never with credentials in it. */
  brokerUrl: string;
  nowMs?: () => number;
  tickMs?: number;
  limits?: Partial<DashboardLimits>;
  /** Resolving it quits, as `q` does (SIGINT/SIGTERM in the real process). */
  quit?: Promise<void>;
  onState?: (state: DashboardState) => void;
}

/** Runs until the operator quits (code 0) or the broker refuses us for good (code 1). */
export async function runDashboard(options: DashboardOptions): Promise<DashboardExit> {
  const nowMs = options.nowMs ?? (() => Date.now());
  let state = initialState(options.brokerUrl, nowMs(), options.limits);
  let finish!: (exit: DashboardExit) => void;
  const finished = new Promise<DashboardExit>((resolve) => (finish = resolve));
  const dispatch = (input: DashboardInput): void => {
    state = reduce(state, input);
    options.onState?.(state);
    options.view.render(state);
    if (state.connection.state === 'refused') {
      finish({ code: 1, message: `refused: ${state.connection.reason ?? 'by the broker'} (${options.brokerUrl})` });
    }
  };
  // Quitting before the broker ever answered: the dashboard's own screen is about to go, so
  // the reason it showed nothing is said once more where it stays (stderr).
  const quit = (): void => {
    const { everOnline, reason } = state.connection;
    finish(
      everOnline
        ? { code: 0 }
        : {
            code: 0,
            message: `the broker at ${options.brokerUrl} was never reached${reason === null ? '' : `: ${connectionReasonWords(reason)}`}`,
          },
    );
  };
  options.view.onKey((key) => (key === 'quit' ? quit() : dispatch({ type: 'key', key })));
  void options.quit?.then(quit);
  const tick = setInterval(() => dispatch({ type: 'tick', nowMs: nowMs() }), options.tickMs ?? TICK_MS);
  options.view.render(state);
  options.feed.start(dispatch);
  try {
    return await finished;
  } finally {
    clearInterval(tick);
    await options.feed.stop();
  }
}

export interface OperatorAppOptions {
  feed: MqttFeedOptions;
  brokerUrl: string;
  view?: BlessedViewOptions;
}

/** The `atm operator` process. Returns the exit code; the terminal is restored before it does. */
export async function runOperatorApp(options: OperatorAppOptions): Promise<number> {
  const view = new BlessedDashboardView(options.view);
  let quit!: () => void;
  const quitting = new Promise<void>((resolve) => (quit = resolve));
  process.once('SIGTERM', () => quit());
  process.once('SIGINT', () => quit());
  process.once('SIGHUP', () => quit());
  // Last line of defence: a bug must never paint a stack trace over the dashboard. Give the
  // terminal back and say one line.
  const crash = (error: unknown): void => {
    view.destroy();
    process.stderr.write(`atm operator: internal error: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(4);
  };
  process.on('uncaughtException', crash);
  process.on('unhandledRejection', crash);
  let exit: DashboardExit;
  try {
    exit = await runDashboard({ feed: new MqttFeed(options.feed), view, brokerUrl: options.brokerUrl, quit: quitting });
  } finally {
    view.destroy();
  }
  if (exit.message !== undefined) process.stderr.write(`atm operator: ${exit.message}\n`);
  return exit.code;
}
