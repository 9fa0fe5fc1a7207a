// The one assert of the code base. An assertion is a programmer error (STYLE.md, "Errors and
// validation"): it says a precondition or invariant the code relies on does not hold, so the
// process cannot trust its own state. It throws an AssertionError, which is deliberately not
// an AtmError: nothing may turn it into a decline or a retry; a host lets it end the process.

/** A broken precondition or invariant: a bug (or corrupted own state), never an operating error. */
export class AssertionError extends Error {
  constructor(message: string) {
    super(`assertion failed: ${message}`);
    this.name = 'AssertionError';
  }
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new AssertionError(message);
}

/** The exhaustiveness check of a switch over a union: unreachable unless the types lie. */
export function assertNever(value: never, what = 'value'): never {
  throw new AssertionError(`unexpected ${what} ${JSON.stringify(value)}`);
}

/** For catch blocks that turn failures into operating errors: an assertion passes through. */
export function rethrowAssertion(error: unknown): void {
  if (error instanceof AssertionError) throw error;
}
