// Polling with a deadline instead of sleeps: tests wait for a condition, never for a time.

export const WAIT_MS_DEFAULT = 5_000;

/** Resolves once condition() holds; rejects naming `what` after timeoutMs. */
export async function waitUntil(
  condition: () => boolean,
  what: string,
  timeoutMs = WAIT_MS_DEFAULT,
  pollMs = 5,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
