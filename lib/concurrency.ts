/**
 * Runs fn over items with at most `limit` in flight; results keep the input order. Once `stop`
 * says so, no further item is started (those in flight finish): work stops between objects.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
  opts: { stop?: () => boolean; skipped?: (item: T, index: number) => R } = {},
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      if (opts.stop?.() && opts.skipped) results[i] = opts.skipped(items[i] as T, i);
      else results[i] = await fn(items[i] as T, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

export const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(t);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const t = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });

export type Settled<T> = { value: T } | { error: unknown };
/** Started at once, read later: a rejection waits to be read (or dropped) without going unhandled. */
export const settle = <T>(p: Promise<T>): Promise<Settled<T>> =>
  p.then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
/** The value of a settled read, or its error thrown now. */
export const settled = async <T>(p: Promise<Settled<T>>): Promise<T> => {
  const r = await p;
  if ('error' in r) throw r.error;
  return r.value;
};
