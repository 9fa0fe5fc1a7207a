// The live event log: the newest `eventsMax` lines, a pause that freezes what the operator is
// reading while new lines keep arriving underneath, and scrolling back through what is kept.
import type { DashboardState, LogEntry } from './state.js';

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export function appendLog(state: DashboardState, line: WithoutId<LogEntry>): DashboardState {
  const { log, limits } = state;
  const entry = { ...line, id: log.nextId };
  const kept =
    log.entries.length >= limits.eventsMax
      ? log.entries.slice(log.entries.length - limits.eventsMax + 1)
      : [...log.entries];
  kept.push(entry);
  // Scrolled back, the operator keeps looking at the same lines while the tail grows.
  const offset = log.frozen !== null || log.offset === 0 ? log.offset : Math.min(log.offset + 1, kept.length - 1);
  return { ...state, log: { ...log, entries: kept, nextId: log.nextId + 1, offset } };
}

export function pauseLog(state: DashboardState): DashboardState {
  const { log } = state;
  return { ...state, log: { ...log, frozen: log.frozen === null ? log.entries : null, offset: 0 } };
}

/** The lines the log panel shows now: the frozen snapshot while paused, else the live log. */
export function visibleLog(state: DashboardState): readonly LogEntry[] {
  return state.log.frozen ?? state.log.entries;
}

/** Lines that arrived since the log was paused. */
export function newSincePause(state: DashboardState): number {
  const last = state.log.frozen?.at(-1);
  if (state.log.frozen === null) return 0;
  return last === undefined ? state.log.nextId - 1 : state.log.nextId - 1 - last.id;
}

export function scrollLog(state: DashboardState, deltaLines: number): DashboardState {
  const { log } = state;
  const offsetMax = Math.max(0, visibleLog(state).length - 1);
  return { ...state, log: { ...log, offset: Math.min(offsetMax, Math.max(0, log.offset + deltaLines)) } };
}
