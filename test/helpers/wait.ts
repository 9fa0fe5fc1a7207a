// Polling with a deadline instead of sleeps: tests wait for a condition, never for a time.

export const WAIT_MS_DEFAULT = 5_000;
export const POLL_MS_DEFAULT = 5;

/** Resolves once condition() holds; rejects naming `what` after timeoutMs. */
export async function waitUntil(
  condition: () => boolean,
  what: string | (() => string),
  timeoutMs = WAIT_MS_DEFAULT,
  pollMs = POLL_MS_DEFAULT,
): Promise<void> {
  await eventually(() => (condition() ? true : null), what, timeoutMs, pollMs);
}

/** Resolves with check()'s first non-null value (it may be async); rejects naming `what` after timeoutMs. */
export async function eventually<T>(
  check: () => T | null | Promise<T | null>,
  what: string | (() => string),
  timeoutMs = WAIT_MS_DEFAULT,
  pollMs = POLL_MS_DEFAULT,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== null) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    }
    await pause(pollMs);
  }
}

/**
 * A deliberate pause, for the few places where time itself is the subject (pacing a load
 * generator, letting a window pass); a test that waits for something uses waitUntil.
 */
export function pause(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
