import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { adminKubeconfig, createTestNamespace, deleteNamespace } from '../support/kube-env';
import { resources } from '../../lib/operator/names';
import { startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, appNames, createApps, distBin, eventually, vw } from '../helpers/plugins';

// The lock is client-go's leader election, as a CLI uses it: a lease counts as expired only when
// this process has watched its record stay unchanged for the lease's duration. Nothing here
// compares a remote timestamp with the local clock.

const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };
const lockNamespace = 'kube-system';
const micro = (ms: number) => new Date(ms).toISOString().replace(/Z$/, '000Z');

describe('the lock', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    ns = await createTestNamespace('lock');
    await client
      .create(
        { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace', namespaced: false },
        { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vworkspace-system' } },
      )
      .catch(() => undefined);
    await createApps(client, ns, [{ name: 'one' }]);
  });

  afterAll(async () => {
    // Both places holdLease writes, so no later test file meets a holder of ours.
    for (const namespace of [lockNamespace, 'vworkspace-system'])
      await client.delete(leases, 'kubectl-vw', namespace).catch(() => undefined);
    await deleteNamespace(ns, { wait: true });
  });

  /** A Lease held by someone else, in the lock's namespace (and, for older builds, the operator's). */
  async function holdLease(spec: Record<string, unknown>, namespaces = [lockNamespace, 'vworkspace-system']) {
    for (const namespace of namespaces) {
      await client.delete(leases, 'kubectl-vw', namespace).catch(() => undefined);
      await client.create(
        leases,
        { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'kubectl-vw', namespace }, spec },
        namespace,
      );
    }
  }

  /** A live holder on another machine: renews every second, its clock running 65 s slow. */
  function renewing(skewMs: number) {
    let on = true;
    const loop = (async () => {
      while (on) {
        await new Promise((r) => setTimeout(r, 1000));
        for (const namespace of [lockNamespace, 'vworkspace-system'])
          await client
            .mergePatch(leases, 'kubectl-vw', namespace, { spec: { renewTime: micro(Date.now() - skewMs) } })
            .catch(() => undefined);
      }
    })();
    return async () => {
      on = false;
      await loop;
    };
  }

  it('a live holder whose clock runs slow keeps its lock: the second run is refused (exit 3)', async () => {
    await holdLease({
      holderIdentity: 'other-host/4242/abcd/PurgeResult',
      leaseDurationSeconds: 30,
      renewTime: micro(Date.now() - 65_000),
      acquireTime: micro(Date.now() - 65_000),
    });
    const stop = renewing(65_000);
    try {
      const r = await vw(['pause', '-n', ns, 'one', '--no-wait'], { kubeconfig });
      expect(r.stderr).toMatch(/another kubectl vw run holds the lock .*holder other-host\/4242\/abcd\/PurgeResult/);
      expect(r.exitCode).toBe(3);
      // A dry run takes no lock and still works.
      expect((await vw(['pause', '-n', ns, 'one', '--dry-run=client'], { kubeconfig })).exitCode).toBe(0);
    } finally {
      await stop();
    }
  });

  it("a holder that stopped renewing is taken over once its record stood still for the lease's duration", async () => {
    // The record's renewTime is recent by the local clock: only watching it stand still proves it dead.
    await holdLease({
      holderIdentity: 'other-host/4243/abcd/PurgeResult',
      leaseDurationSeconds: 3,
      renewTime: micro(Date.now() + 3_600_000),
      acquireTime: micro(Date.now()),
    });
    const r = await vw(['pause', '-n', ns, 'one', '--no-wait'], { kubeconfig });
    expect(r.stderr).toMatch(/holds the lock Lease kube-system\/kubectl-vw; watching it for up to 3s/);
    expect(r.exitCode).toBe(0);
    const lease = await client.get(leases, 'kubectl-vw', lockNamespace);
    const spec = lease.spec as { holderIdentity?: string; leaseTransitions?: number };
    expect(spec.holderIdentity).toBeUndefined(); // released at the end
    expect(spec.leaseTransitions).toBe(1);
  });

  it('a live holder on this machine, in another PID namespace under the same hostname, keeps its lock', async () => {
    // A pid that no process of this namespace has: in the holder's own namespace it is a live run.
    let pid = 100_000 + Math.floor(Math.random() * 1_000_000);
    while (existsSync(`/proc/${pid}`)) pid++;
    const holder = execa(
      'unshare',
      [
        ...['--pid', '--fork', '--mount-proc', 'sh', '-c'],
        // The next process in the new namespace gets exactly that pid; exit $? keeps sh from exec'ing it.
        `echo ${pid - 1} > /proc/sys/kernel/ns_last_pid && "$0" "$@"; exit $?`,
        ...[join(distBin, 'kubectl-vw'), 'pause', '-n', ns, 'one', '--timeout', '90s', '-v'],
      ],
      { env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' }, reject: false, stdin: 'ignore' },
    );
    try {
      // Nothing confirms the pause (no operator runs here): the holder waits, holding the lock.
      const identity = await eventually(
        async () => {
          const lease = await client.find(leases, 'kubectl-vw', lockNamespace);
          return (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
        },
        60_000,
        'the holder to take the lock',
      );
      expect(identity.split('/')[1]).toBe(String(pid));
      const r = await vw(['pause', '-n', ns, 'one', '--no-wait'], { kubeconfig });
      expect(r.stderr).toMatch(/another kubectl vw run holds the lock/);
      expect(r.exitCode).toBe(3);
    } finally {
      // Straight to the run (its pid here is another than in its own namespace), as Ctrl-C would.
      await execa('pkill', ['-TERM', '-f', `pause -n ${ns} one --timeout 90s`], { reject: false });
      const h = await holder;
      expect(h.exitCode).toBe(130);
      // The holder was never overtaken: it stopped because it was told to.
      expect(String(h.stderr)).not.toMatch(/lost the lock/);
    }
  }, 180_000);

  it('a released lease is taken at once, and holder identities are unique per run', async () => {
    await holdLease({ leaseDurationSeconds: 30, renewTime: micro(Date.now()) }, [lockNamespace]);
    const holders: string[] = [];
    for (let i = 0; i < 2; i++) {
      const r = await vw(['pause', '-n', ns, 'one', '--no-wait', '-v'], { kubeconfig });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).not.toMatch(/watching it/);
      holders.push(/holding Lease kube-system\/kubectl-vw as (\S+)/.exec(r.stderr)?.[1] ?? '');
    }
    for (const h of holders) expect(h).toMatch(/^[^/]+\/\d+\/[0-9a-f]{8}\/PauseResult\/[0-9a-f-]{36}\/\d+$/);
    expect(new Set(holders).size).toBe(2);
  });

  it('a run that cannot renew stops changing things between objects, says so in one line, exit 3', async () => {
    const many = await createTestNamespace('lock-renew');
    try {
      await createApps(
        client,
        many,
        appNames('r', 80).map((name) => ({ name })),
      );
      // The lease is taken (created, or a released one replaced); every renewal after that fails.
      // Each change is slow, so the run outlives its renew deadline.
      let writes = 0;
      const proxy = await startForwardProxy(adminKubeconfig(), (r) => {
        const leaseWrite = (r.method === 'PUT' || r.method === 'POST') && r.path.includes('/leases');
        if (leaseWrite && ++writes > 1) return { status: 500 };
        if (r.method === 'PATCH' && r.path.includes('/applicationinstances/')) return { forward: true, delayMs: 400 };
        return { forward: true };
      });
      try {
        const r = await vw(['pause', '-n', many, '--all', '--no-wait', '--concurrency', '1', '-o', 'json'], {
          kubeconfig: proxy.kubeconfig,
          timeoutMs: 120_000,
        });
        expect(r.stderr).toMatch(
          /error: lost the lock Lease kube-system\/kubectl-vw \(could not renew it for 20s\): stopped between objects/,
        );
        expect(r.exitCode).toBe(3);
        const doc = JSON.parse(r.stdout);
        expect(doc.summary.skipped).toBeGreaterThan(0); // the rest was never started
        expect(doc.summary.changed).toBeLessThan(80);
        const paused = (await client.list(resources.applicationInstances, { namespace: many })).items.filter(
          (i) => i.metadata.annotations?.['apps.vworkspace.io/reconcile'],
        ).length;
        expect(paused).toBe(doc.summary.changed);
      } finally {
        await proxy.stop();
      }
    } finally {
      await deleteNamespace(many, { wait: true });
    }
  });
});
