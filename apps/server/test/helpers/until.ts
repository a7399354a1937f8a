/**
 * Polls `read` every 10 ms until `done` holds for its value, and returns it; after `ms`
 * fails, naming `what` was awaited and the last value read.
 */
export async function until<T>(read: () => T | Promise<T>, done: (v: T) => boolean, what: string, ms = 10_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (done(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${JSON.stringify(v)}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
