/**
 * Programmer errors crash; business outcomes are values (see errors.ts). An assertion failing
 * means the code is wrong, so it throws an AssertionError that no handler turns into a 4xx.
 */
export class AssertionError extends Error {
  override name = "AssertionError";
}

export function assert(condition: unknown, message = "assertion failed"): asserts condition {
  if (!condition) throw new AssertionError(message);
}

export function assertNever(value: never): never {
  throw new AssertionError(`unexpected value: ${JSON.stringify(value)}`);
}
