import { startFaultProxy } from './fault-proxy';

/**
 * A plain-HTTP front for the real API server that answers every Nth mutating request (not GET,
 * not POST) with 429 Too Many Requests (Retry-After: 0), as API Priority and Fairness does under
 * load, but never the same request twice. A fault-proxy rule; everything else is forwarded with
 * the admin's credentials.
 */
export async function startThrottlingProxy(adminKubeconfig: string, opts: { throttleEvery: number }) {
  const proxy = await startFaultProxy(adminKubeconfig);
  let mutating = 0;
  // Each request is throttled at most once, so whether a run can exhaust its retries does not
  // depend on how the concurrent requests happen to interleave.
  const throttledOnce = new Set<string>();
  const rule = proxy.addRule({
    match: ({ method, path, query }) => {
      if (method === 'GET' || method === 'POST') return false;
      const key = `${method} ${path}?${query.toString()}`;
      if (++mutating % opts.throttleEvery !== 0 || throttledOnce.has(key)) return false;
      throttledOnce.add(key);
      return true;
    },
    action: { status: 429, retryAfterSeconds: 0, message: 'throttled by the test proxy' },
  });
  return {
    kubeconfig: proxy.kubeconfig,
    requests: proxy.requests,
    throttled: () => rule.applied,
    /** Another fault on top of the throttling, tried after it. */
    addRule: proxy.addRule,
    stop: () => proxy.stop(),
  };
}
