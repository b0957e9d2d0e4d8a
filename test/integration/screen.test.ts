import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { mapLimit } from '../../lib/concurrency';
import { resources } from '../../lib/operator/names';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { adminClient, ensureStorageLocation, vw } from '../helpers/plugins';

// Every table and report fits the screen (COLUMNS), and finishes at 1,000 applications: the
// what-persists table once hung there, at 100% CPU, on its multi-line volumes cell.

const apps = 1000;
const namespaces = ['scale-a', 'scale-b', 'scale-c', 'scale-d'];

describe('reports that fit the screen, at 1,000 applications', () => {
  let cp: ControlPlane;
  let kubeconfig: string;
  let client: KubeClient;

  beforeAll(async () => {
    cp = await startControlPlane({});
    kubeconfig = cp.adminKubeconfig;
    client = adminClient(kubeconfig);
    await ensureStorageLocation(client);
    for (const name of [...namespaces, 'vworkspace-system'])
      await client.create(core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
    await mapLimit(
      Array.from({ length: apps }, (_, i) => i),
      32,
      async (i) => {
        const namespace = namespaces[i % namespaces.length] as string;
        const name = `application-with-a-long-name-${i}`;
        const paused = { 'apps.vworkspace.io/reconcile': 'disabled' };
        await client.create(
          resources.applicationInstances,
          {
            apiVersion: 'apps.vworkspace.io/v1alpha1',
            kind: 'ApplicationInstance',
            metadata: { name, namespace, annotations: paused },
            spec: { catalogRef: { name: 'odoo', version: '17.0.3' } },
          },
          namespace,
        );
        await client.create(
          resources.helmReleases,
          {
            apiVersion: 'helm.toolkit.fluxcd.io/v2',
            kind: 'HelmRelease',
            metadata: { name, namespace },
            spec: {
              interval: '10m',
              chart: { spec: { chart: 'odoo', sourceRef: { kind: 'HelmRepository', name: 'c' } } },
            },
          },
          namespace,
        );
        await client.create(core.persistentVolumes, {
          apiVersion: 'v1',
          kind: 'PersistentVolume',
          metadata: { name: `pv-${namespace}-${name}-data` },
          spec: {
            capacity: { storage: '5Gi' },
            accessModes: ['ReadWriteOnce'],
            persistentVolumeReclaimPolicy: 'Retain',
            hostPath: { path: `/srv/${name}` },
            claimRef: { namespace, name: `${name}-data` },
          },
        });
        await client.create(
          core.persistentVolumeClaims,
          {
            apiVersion: 'v1',
            kind: 'PersistentVolumeClaim',
            metadata: { name: `${name}-data`, namespace },
            spec: { accessModes: ['ReadWriteOnce'], resources: { requests: { storage: '5Gi' } } },
          },
          namespace,
        );
      },
    );
  }, 600_000);

  afterAll(async () => {
    await cp?.stop();
  });

  it.each([
    ['status'],
    ['status', '-o', 'wide'],
    ['purge', '--report'],
    ['purge', '--report', '-o', 'wide'],
    ['pause', '--all', '--dry-run=client'],
    ['pause', '--all', '--all-helmreleases', '--dry-run=client', '-o', 'wide'],
    ['resume', '--all', '--force-all', '--dry-run=client'],
    ['backup', '--ttl', '8760h', '--dry-run=client'],
    ['backup', '--ttl', '8760h', '--dry-run=client', '-o', 'wide'],
    ['purge', '--delete-apps', '--skip-backup-check', '--dry-run=client'],
    ['decommission', '--dry-run=client'],
  ])('kubectl vw %s: every line within COLUMNS=100, and done', async (...args) => {
    const r = await vw(args, { kubeconfig, env: { COLUMNS: '100' }, timeoutMs: 120_000 });
    expect(r.exitCode).not.toBe(-1); // finished, whatever it said
    const long = [...r.stdout.split('\n'), ...r.stderr.split('\n')].filter((l) => l.length > 100);
    expect(long).toEqual([]);
    expect(r.stdout.length + r.stderr.length).toBeGreaterThan(0);
  });
});
