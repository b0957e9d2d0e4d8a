import type { KubeClient } from '../../lib/kube/client';
import { pauseAnnotation } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';
import { startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, createApps, vw } from '../helpers/plugins';

// Every wait is bounded: watches reconnect with backoff, Retry-After is capped, and --timeout is a
// hard bound on every request made while waiting.

describe('bounded waits', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    ns = await createTestNamespace('bounded');
    await createApps(client, ns, [{ name: 'w1' }, { name: 'w2', annotations: { [pauseAnnotation]: 'disabled' } }]);
  });

  afterAll(async () => {
    await deleteNamespace(ns, { wait: true });
  });

  it('a watch that keeps ending with an in-band ERROR reconnects with backoff, not in a hot loop', async () => {
    const proxy = await startForwardProxy(kubeconfig, (r) => (r.watch ? { watchError: 500 } : { forward: true }));
    try {
      // No operator confirms the pause: the run waits through the watch until its timeout.
      const r = await vw(['pause', '-n', ns, 'w1', '--timeout', '5s'], { kubeconfig: proxy.kubeconfig });
      expect(r.exitCode).toBe(4);
      const watches = proxy.log.filter((x) => x.watch).length;
      expect(watches).toBeGreaterThan(0);
      expect(watches).toBeLessThan(30);
    } finally {
      await proxy.stop();
    }
  });

  it('a Retry-After of an hour is waited for at most a few seconds', async () => {
    let throttled = false;
    const proxy = await startForwardProxy(kubeconfig, (r) => {
      if (r.method === 'PATCH' && !throttled) {
        throttled = true;
        return { status: 429, headers: { 'Retry-After': '3600' } };
      }
      return { forward: true };
    });
    try {
      const r = await vw(['resume', '-n', ns, 'w2', '--force-all', '--no-wait'], {
        kubeconfig: proxy.kubeconfig,
        timeoutMs: 60_000,
      });
      expect(r.exitCode).toBe(0);
      const patches = proxy.log.filter((x) => x.method === 'PATCH' && x.path.includes('/applicationinstances/'));
      expect(patches.length).toBe(2);
      const spacing = (patches[1]?.at ?? 0) - (patches[0]?.at ?? 0);
      expect(spacing).toBeGreaterThanOrEqual(9_000); // the server asked for a while: never sooner than the cap
      expect(spacing).toBeLessThan(20_000); // ... and never an hour
    } finally {
      await proxy.stop();
    }
  });

  it('--timeout bounds every request of a wait, even one the server never answers', async () => {
    // The plan's list is answered; every request of the wait after it (list, watch) hangs.
    let lists = 0;
    const proxy = await startForwardProxy(kubeconfig, (r) => {
      const ofInstances = r.method === 'GET' && r.path.endsWith('/applicationinstances');
      if (ofInstances && !r.watch) lists++;
      return ofInstances && (r.watch || lists > 1) ? { forward: true, delayMs: 120_000 } : { forward: true };
    });
    try {
      const started = Date.now();
      const r = await vw(['pause', '-n', ns, 'w1', '--timeout', '3s'], {
        kubeconfig: proxy.kubeconfig,
        timeoutMs: 100_000,
      });
      expect(r.exitCode).toBe(4);
      expect(Date.now() - started).toBeLessThan(30_000);
    } finally {
      await proxy.stop();
    }
  });
});
