import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { pauseAnnotation, resources } from '../../lib/operator/names';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectl, kubectlOk } from '../support/kube-env';
import { SimOperator } from '../support/sim-operator';
import { type Seen, startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, createApps, ensureStorageLocation, eventually, vw } from '../helpers/plugins';

// A request the server applied whose answer was lost: the retry gets 404, 409 or 422, and the
// cluster shows the work was done. Each must be recognised as done, never as a failure (or as
// someone else's doing).

const leases = { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true };

/** Drops the answer to the first request that matches, once. */
const dropFirst = (match: (r: Seen) => boolean) => {
  let dropped = 0;
  return {
    decide: (r: Seen) => {
      if (dropped || !match(r)) return { forward: true as const };
      dropped++;
      return { forward: true as const, dropResponse: true };
    },
    dropped: () => dropped,
  };
};

describe('lost responses', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let ns: string;
  let sim: SimOperator;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    await ensureStorageLocation(client);
    await client
      .create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vworkspace-system' } })
      .catch(() => undefined);
    ns = await createTestNamespace('lost');
    await createApps(client, ns, [
      { name: 'l1', annotations: { [pauseAnnotation]: 'disabled' } },
      { name: 'l2', annotations: { [pauseAnnotation]: 'disabled' } },
    ]);
    sim = new SimOperator({ kubeconfig, namespaces: [ns, 'vworkspace-system'] });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    await deleteNamespace(ns, { wait: true });
  });

  it('the lock: an acquisition whose answer was lost is recognised as our own', async () => {
    for (const n of ['kube-system', 'vworkspace-system'])
      await client.delete(leases, 'kubectl-vw', n).catch(() => undefined);
    const d = dropFirst((r) => r.method === 'POST' && r.path.endsWith('/leases'));
    const proxy = await startForwardProxy(kubeconfig, d.decide);
    try {
      const r = await vw(['resume', '-n', ns, 'l1', '--force-all', '--dry-run=none', '--no-wait'], {
        kubeconfig: proxy.kubeconfig,
      });
      expect(d.dropped()).toBe(1);
      expect(r.stderr).not.toMatch(/holds the lock/);
      expect(r.exitCode).toBe(0);
    } finally {
      await proxy.stop();
    }
  });

  it('a create whose answer was lost: the Operation is adopted, not duplicated nor failed', async () => {
    const d = dropFirst((r) => r.method === 'POST' && r.path.endsWith('/operations'));
    const proxy = await startForwardProxy(kubeconfig, d.decide);
    try {
      const r = await vw(['backup', '-n', ns, 'l2', '--ttl', '8760h', '--timeout', '60s', '-o', 'json'], {
        kubeconfig: proxy.kubeconfig,
      });
      expect(d.dropped()).toBe(1);
      expect(r.exitCode).toBe(0);
      expect((await client.list(resources.operations, { namespace: ns })).items).toHaveLength(1);
    } finally {
      await proxy.stop();
    }
  });

  it("--force's finalizer removal whose answer was lost: the retry's failed test is recognised as done", async () => {
    await client
      .create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name: 'vworkspace-system' } })
      .catch(() => undefined);
    await client.create(
      resources.clusters,
      {
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'lost-f', namespace: 'vworkspace-system', finalizers: ['ops.vworkspace.io/decommission'] },
        spec: { odoo: { url: 'http://127.0.0.1:9' } },
      },
      'vworkspace-system',
    );
    await client.delete(resources.clusters, 'lost-f', 'vworkspace-system');
    await eventually(
      async () => (await client.find(resources.clusters, 'lost-f', 'vworkspace-system'))?.metadata.deletionTimestamp,
      10_000,
      'deleting',
    );
    const d = dropFirst((r) => r.method === 'PATCH' && r.path.endsWith('/clusters/lost-f'));
    const proxy = await startForwardProxy(kubeconfig, d.decide);
    try {
      const r = await vw(['decommission', 'lost-f', '--force', '--yes', '--timeout', '30s'], {
        kubeconfig: proxy.kubeconfig,
      });
      expect(d.dropped()).toBe(1);
      expect(r.stderr).not.toMatch(/error:/);
      expect(r.exitCode).toBe(0);
      expect(await client.find(resources.clusters, 'lost-f', 'vworkspace-system')).toBeUndefined();
    } finally {
      await proxy.stop();
      await client.delete(core.configMaps, 'kubectl-vw-decommission', 'kube-system').catch(() => undefined);
    }
  });

  /** A registered Cluster in vworkspace-system, as the operator leaves one (its finalizer, an ID). */
  async function registered(name: string) {
    await client.create(
      resources.clusters,
      {
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name, namespace: 'vworkspace-system' },
        spec: { odoo: { url: 'http://127.0.0.1:9' } },
      },
      'vworkspace-system',
    );
    await eventually(
      async () => (await client.find(resources.clusters, name, 'vworkspace-system'))?.status,
      30_000,
      'registered',
    );
  }
  const finalizersOf = async (name: string) =>
    JSON.parse(await kubectlOk(['get', 'clusters.ops.vworkspace.io', name, '-n', 'vworkspace-system', '-o', 'json']))
      .metadata.finalizers as string[];
  const cleanup = async (name: string) => {
    const args = ['clusters.ops.vworkspace.io', name, '-n', 'vworkspace-system'];
    // Deleted first: the operator would add its finalizer back to a live Cluster, never to one being deleted.
    await kubectl(['delete', ...args, '--ignore-not-found', '--wait=false']);
    await kubectl(['patch', ...args, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    await kubectl(['delete', 'configmap', 'kubectl-vw-decommission', '-n', 'kube-system', '--ignore-not-found']);
  };

  it("the observer finalizer's patch whose answer was lost: its retry's failed test is recognised as done", async () => {
    await registered('lost-o');
    const d = dropFirst((r) => r.method === 'PATCH' && r.path.endsWith('/clusters/lost-o'));
    const proxy = await startForwardProxy(kubeconfig, d.decide);
    try {
      const r = await vw(
        ['decommission', 'lost-o', '--yes', '--force-preflight', '--skip-backup-check', '--timeout', '3s'],
        {
          kubeconfig: proxy.kubeconfig,
        },
      );
      expect(d.dropped()).toBe(1);
      expect(r.stderr).not.toMatch(/error:|422/);
      expect(r.exitCode).toBe(4); // deleted, and followed: Odoo is not there, so the finalizer does not drain
      expect(await finalizersOf('lost-o')).toContain('kubectl-vw.vworkspace.io/decommission-observer');
    } finally {
      await proxy.stop();
      await cleanup('lost-o');
    }
  });

  it('a delete that fails leaves no observer finalizer behind on the live Cluster', async () => {
    await registered('lost-d');
    const proxy = await startForwardProxy(kubeconfig, (r) =>
      r.method === 'DELETE' && r.path.endsWith('/clusters/lost-d')
        ? { status: 403, body: { kind: 'Status', reason: 'Forbidden', message: 'denied by a policy' } }
        : { forward: true },
    );
    try {
      const r = await vw(['decommission', 'lost-d', '--yes', '--force-preflight', '--skip-backup-check'], {
        kubeconfig: proxy.kubeconfig,
      });
      expect(r.exitCode).toBe(3);
      const finalizers = await finalizersOf('lost-d');
      expect(finalizers).toEqual(['ops.vworkspace.io/decommission']);
    } finally {
      await proxy.stop();
      await cleanup('lost-d');
    }
  });
});
