import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { type FakeOdoo, startFakeOdoo } from '../support/fake-odoo';
import { adminKubeconfig } from '../support/kube-env';
import { adminClient, createOperatorWorld, eventually, vw } from '../helpers/plugins';
import { SimOperator } from '../support/sim-operator';

// "Odoo revoked the credential" only on evidence that the operator removed its own finalizer
// after Odoo's acknowledgement; a Cluster that vanished any other way is "revocation not
// confirmed", with the manual revocation owed. The step 3 record lives in kube-system.

const system = 'vworkspace-system';
const recordOf = async (client: KubeClient) =>
  (await client.find(core.configMaps, 'kubectl-vw-decommission', 'kube-system'))?.data as
    | Record<string, string>
    | undefined;

describe('revocation, only on evidence', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let odoo: FakeOdoo;
  let sim: SimOperator;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    odoo = await startFakeOdoo();
    sim = new SimOperator({ kubeconfig, namespaces: [system], odooUrl: odoo.url });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    for (const c of (await client.list(resources.clusters, { namespace: system })).items) {
      await client
        .mergePatch(resources.clusters, c.metadata.name, system, { metadata: { finalizers: null } })
        .catch(() => undefined);
      await client.delete(resources.clusters, c.metadata.name, system).catch(() => undefined);
    }
    await client.delete(core.configMaps, 'kubectl-vw-decommission', 'kube-system').catch(() => undefined);
    await client.delete(core.configMaps, 'kubectl-vw-decommission', system).catch(() => undefined);
    await odoo?.stop();
  });

  const clusterID = (name: string) =>
    eventually(
      async () =>
        ((await client.find(resources.clusters, name, system))?.status as { clusterID?: string } | undefined)
          ?.clusterID,
      30_000,
      'clusterID',
    );

  it('a drained finalizer is recorded as revoked, in kube-system, with the evidence', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'rev-a' });
    const id = await clusterID('rev-a');
    const r = await vw(['decommission', 'rev-a', '--yes', '--force-preflight', '--timeout', '60s', '-o', 'json'], {
      kubeconfig,
    });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/Odoo acknowledged/);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'decommissioned', clusterID: id });
    expect(await recordOf(client)).toMatchObject({ cluster: 'rev-a', clusterID: id, outcome: 'revoked' });
    expect(odoo.decommissioned()).toContain(id);
  });

  it('the finalizer removed by hand while the tool waits: "revocation not confirmed", the manual revocation owed', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'rev-b' });
    const id = await clusterID('rev-b');
    await odoo.setMode('down');
    try {
      const { execa } = await import('execa');
      const { distBin } = await import('../helpers/plugins');
      const waiting = execa(
        `${distBin}/kubectl-vw`,
        ['decommission', 'rev-b', '--yes', '--force-preflight', '--timeout', '60s', '-o', 'json'],
        { reject: false, env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' } },
      );
      // The operator reports it cannot reach Odoo; then someone runs the procedure's way out by hand.
      await eventually(
        async () => {
          const c = await client.find(resources.clusters, 'rev-b', system);
          const conditions = (c?.status as { conditions?: { type: string; reason?: string }[] })?.conditions ?? [];
          return c?.metadata.deletionTimestamp && conditions.some((x) => x.reason === 'OdooUnreachable');
        },
        30_000,
        'OdooUnreachable',
      );
      await client.mergePatch(resources.clusters, 'rev-b', system, { metadata: { finalizers: null } });
      const r = await waiting;
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toMatch(/revocation not confirmed/);
      expect(r.stderr).toContain(`cluster ID ${id}`);
      expect(r.stderr).not.toMatch(/Odoo acknowledged/);
      expect(await recordOf(client)).toMatchObject({ cluster: 'rev-b', outcome: 'unconfirmed' });
      expect(odoo.decommissioned()).not.toContain(id);
      const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
      expect(status.steps[2].evidence.join('\n')).toMatch(/not confirmed/);
      const report = await vw(['purge', '--report'], { kubeconfig });
      expect(report.stdout).toMatch(/NOT confirmed/);
      expect(report.stdout).not.toMatch(/credential is invalidated/);
    } finally {
      await odoo.setMode('up');
    }
  });

  it('a Cluster deleted before the operator added its finalizer: not confirmed', async () => {
    await sim.stop();
    try {
      await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'rev-c' });
      const r = await vw(['decommission', 'rev-c', '--yes', '--force-preflight', '--timeout', '30s'], { kubeconfig });
      expect(r.exitCode).toBe(0);
      expect(r.stderr).toMatch(/revocation not confirmed/);
      expect(await client.find(resources.clusters, 'rev-c', system)).toBeUndefined();
      expect(await recordOf(client)).toMatchObject({ cluster: 'rev-c', outcome: 'unconfirmed' });
    } finally {
      await sim.start();
    }
  });

  it('a Cluster that never registered: Odoo has nothing to acknowledge, the finalizer stays, never "revoked"', async () => {
    sim.setFaults({ registration: 'finalizerOnly' }); // the operator's finalizer, but no cluster ID
    try {
      await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'rev-d' });
      await eventually(
        async () => (await client.find(resources.clusters, 'rev-d', system))?.metadata.finalizers?.length,
        30_000,
        'the finalizer',
      );
      const r = await vw(['decommission', 'rev-d', '--yes', '--force-preflight', '--timeout', '5s'], { kubeconfig });
      expect(r.exitCode).toBe(4);
      expect(r.stderr).not.toMatch(/Odoo acknowledged/);
      const forced = await vw(['decommission', 'rev-d', '--force', '--yes', '--timeout', '30s'], { kubeconfig });
      expect(forced.exitCode).toBe(0);
      expect(await recordOf(client)).toMatchObject({ cluster: 'rev-d', outcome: 'forced' });
    } finally {
      sim.setFaults({ registration: 'normal' });
    }
  });

  it('with no record at all, the report says unknown, never invalidated', async () => {
    await client.delete(core.configMaps, 'kubectl-vw-decommission', 'kube-system').catch(() => undefined);
    await client.delete(core.configMaps, 'kubectl-vw-decommission', system).catch(() => undefined);
    const r = await vw(['purge', '--report', '-o', 'json'], { kubeconfig });
    expect(JSON.parse(r.stdout).persists.odoo.credential).toBe('unknown');
    const table = await vw(['purge', '--report'], { kubeconfig });
    expect(table.stdout).not.toMatch(/invalidated/);
    expect(table.stdout).toMatch(/unknown/);
  });
});
