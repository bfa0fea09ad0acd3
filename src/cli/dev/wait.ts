/**
 * Polls `probe` until it returns a value (not undefined) and returns it; a probe that throws counts as
 * not yet. After `timeoutMs` it throws, naming `what` and the probe's last error.
 */
export async function eventually<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined>,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  throw new Error(
    `${what}: not true after ${timeoutMs / 1000} s${last ? ` (last error: ${(last as Error).message})` : ''}`,
  );
}
