import { join } from 'node:path';
import { execa } from 'execa';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { toolsBinDir } from '../support/kube-env';
import { seedSandbox, startWorld, type World } from '../support/sandbox';
import { type Observer, observe } from '../helpers/observe';
import { distBin } from '../helpers/plugins';

// Two uninstalls at once (schedule 93 of the fault campaign's seed long-1127): each step took the
// lock for itself, so a second uninstall got in between two steps of the first, and both wrote
// within the same 5 ms. uninstall now holds one lock for the whole procedure: from its first
// acquisition to its release the Lease names that one run, and no other run writes meanwhile.

const writes = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
/**
 * What changes the cluster: not the lock itself, nor access and self-subject reviews (POSTs that
 * change nothing), nor the run journal, which a run writes before it asks for the lock.
 */
const realWrites = (p: FaultProxy) =>
  p.requests.filter(
    (r) =>
      writes.has(r.method) &&
      r.forwarded &&
      !/\/leases|accessreviews|selfsubjectreviews|\/configmaps\/kubectl-vw-journal/.test(r.path),
  );

describe('two uninstalls at once', () => {
  let world: World;
  let seen: Observer;
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    // What is under test is the lock, not Velero: the simulated one is quicker.
    world = await startWorld({ velero: 'simulated', sim: { latency: 'fast' } });
    seen = observe(world.kubeconfig);
    await seedSandbox(world.kubeconfig, { apps: 4, namespaces: 1, helmBin: helm(), odooUrl: world.odoo.url });
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('the second never gets in between two steps of the first: one lease, one holder, for the whole procedure', async () => {
    const leases: { holder: string | undefined; at: number }[] = [];
    const stopWatching = await seen.watchLease('kube-system', 'kubectl-vw', (holder, at) =>
      leases.push({ holder, at }),
    );
    const [first, second] = await Promise.all([startFaultProxy(world.kubeconfig), startFaultProxy(world.kubeconfig)]);
    const uninstall = (proxy: FaultProxy) =>
      execa(join(distBin, 'kubectl-vw'), ['uninstall', '--ttl', '720h', '--yes', '--delete-apps', '--helm', helm()], {
        env: { KUBECONFIG: proxy.kubeconfig, NO_COLOR: '1' },
        reject: false,
        stdin: 'ignore',
      });
    try {
      const a = uninstall(first);
      // Between steps is where the second run of schedule 93 got in: start it once step 1 is done.
      const b = await new Promise<ReturnType<typeof uninstall>>((resolve, reject) => {
        let text = '';
        a.stderr?.on('data', (c: Buffer) => {
          text += c.toString();
          if (text.includes('== Step 2')) resolve(uninstall(second));
        });
        a.then(() => reject(new Error(`the first uninstall ended before its step 2:\n${text}`)));
      });
      const [ra, rb] = await Promise.all([a, b]);
      const aEnded = Date.now();
      expect(ra.stderr).toMatch(/== Done/);
      expect(ra.exitCode).toBe(0);
      // The second was refused by the lock, or found nothing left to do once the first was done.
      expect([0, 3]).toContain(rb.exitCode);
      // One holder identity for the whole run (each lock taken has its own), never released
      // between its first acquisition and its last renewal, and no one else's meanwhile.
      const pidOf = (h: string | undefined) => h?.split('/')[1];
      const mine = leases.filter((l) => pidOf(l.holder) === String(a.pid));
      expect(new Set(mine.map((l) => l.holder))).toEqual(new Set([mine[0]?.holder]));
      expect(mine[0]?.holder).toMatch(/\/UninstallResult\//);
      const span = leases.slice(
        leases.indexOf(mine[0] as (typeof leases)[number]),
        leases.lastIndexOf(mine.at(-1) as (typeof leases)[number]) + 1,
      );
      expect(span.filter((l) => l.holder !== mine[0]?.holder)).toEqual([]);
      // Nothing the second run changed happened while the first was at work.
      expect(realWrites(first).length).toBeGreaterThan(0);
      const aLast = Math.max(...realWrites(first).map((r) => r.time.getTime()));
      for (const w of realWrites(second))
        expect({ write: `${w.method} ${w.path}`, after: w.time.getTime() > aLast }).toEqual({
          write: `${w.method} ${w.path}`,
          after: true,
        });
      expect(aLast).toBeLessThanOrEqual(aEnded);
    } finally {
      stopWatching();
      await Promise.all([first.stop(), second.stop()]);
    }
  }, 600_000);
});
