import { join } from 'node:path';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { helmReleaseName, operatorNamespace, resources } from '../../lib/operator/names';
import { toolsBinDir } from '../support/kube-env';
import { adminClient, eventually, vw } from '../helpers/plugins';
import { seedSandbox, startWorld, type World } from '../support/sandbox';

// kubectl vw uninstall on a sandbox of its own: from scratch, refusing at a failing backup,
// interrupted at a stuck Cluster finalizer and at an application a finalizer holds in step 4, and
// resumed from where the cluster stands.
describe('kubectl vw uninstall', () => {
  let world: World;
  let kubeconfig: string;
  let client: KubeClient;
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    // The simulated Velero: a test below makes one application's backup fail on demand.
    world = await startWorld({ velero: 'simulated' });
    kubeconfig = world.kubeconfig;
    client = adminClient(kubeconfig);
    await seedSandbox(kubeconfig, { apps: 6, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  const states = async () => {
    const r = await vw(['status', '-o', 'json'], { kubeconfig });
    return (JSON.parse(r.stdout).steps as { state: string }[]).map((s) => s.state);
  };
  const uninstall = (...extra: string[]) =>
    vw(['uninstall', '--ttl', '720h', '--yes', '--helm', helm(), ...extra], { kubeconfig });

  it('requires a TTL, and --dry-run=client changes nothing', async () => {
    const noTtl = await vw(['uninstall', '--yes'], { kubeconfig });
    expect(noTtl.exitCode).toBe(2);
    expect(noTtl.stderr).toMatch(/--ttl is required/);
    const dry = await uninstall('--dry-run=client');
    expect(dry.exitCode).toBe(0);
    expect(dry.stdout).toMatch(/1\. pause reconciliation\s+NOT STARTED/);
    expect(await states()).toEqual(['not started', 'not started', 'not started', 'not started', 'not started']);
  });

  it('interrupted at step 1 (the operator never confirms the pause): exit 4, then resumed past it', async () => {
    await world.sim.stop();
    try {
      const r = await uninstall('--timeout', '3s');
      expect(r.exitCode).toBe(4);
      expect(r.stderr).toMatch(/stopped at step 1/);
      expect(r.stdout).toMatch(/1\. pause reconciliation\s+DONE/); // annotated; the operator just never said so
    } finally {
      await world.sim.start();
    }
  });

  it('stops at a failing backup with the status view, before touching the Cluster', async () => {
    const failing = (await client.list(resources.applicationInstances)).items.find(
      (a) => (a.spec as { backup?: { capable?: boolean } }).backup?.capable !== false,
    );
    world.sim.setFaults({ failBackups: new Map([[failing?.metadata.name ?? '', 'VeleroBackupFailed']]) });
    const r = await uninstall('--timeout', '60s');
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/stopped at step 2/);
    expect(r.stdout).toMatch(/2\. final backups\s+BLOCKED/);
    expect(await states()).toEqual(['done', 'blocked', 'not started', 'not started', 'not started']);
    expect((await client.list(resources.clusters, { namespace: operatorNamespace })).items).toHaveLength(1);
  });

  it('refused at step 3 while Odoo is down; stuck finalizers at steps 3 and 4 exit 4; resumed, it uninstalls', async () => {
    world.sim.setFaults({ failBackups: new Map() });
    await world.odoo.setMode('down');
    const refused = await uninstall('--timeout', '60s');
    expect(refused.exitCode).toBe(3);
    expect(refused.stderr).toMatch(/Odoo reachable: OdooReachable=False/);
    expect(refused.stderr).toMatch(/stopped at step 3/);
    expect(await states()).toEqual(['done', 'done', 'not started', 'not started', 'not started']);
    // Someone deletes the Cluster by hand while Odoo is down: its finalizer blocks.
    await client.delete(resources.clusters, 'cluster-sandbox-1', operatorNamespace);
    await eventually(async () => (await states())[2] === 'blocked', 30_000, 'step 3 blocked').catch(async (e) => {
      console.log(
        JSON.stringify(await client.list(resources.clusters, { namespace: operatorNamespace })),
        (await vw(['status'], { kubeconfig })).stdout,
      );
      throw e;
    });
    const stuck = await uninstall('--timeout', '3s');
    expect(stuck.exitCode).toBe(4);
    expect(stuck.stderr).toMatch(/Decommissioning=False \(OdooUnreachable\)/);
    expect(stuck.stderr).toMatch(/stopped at step 3/);
    await world.odoo.setMode('up');
    // Step 3 drains now; step 4 then waits on an application a foreign finalizer holds.
    const held = (await client.list(resources.applicationInstances)).items[0];
    const hold = (finalizers: string[] | null) =>
      client.mergePatch(resources.applicationInstances, held?.metadata.name ?? '', held?.metadata.namespace, {
        metadata: { finalizers },
      });
    await hold(['example.com/hold']);
    const stuck4 = await uninstall('--delete-apps', '--timeout', '5s');
    expect(stuck4.exitCode).toBe(4);
    expect(stuck4.stderr).toMatch(/a finalizer is holding them/);
    expect(stuck4.stderr).toMatch(/stopped at step 4/);
    // Every application was paused: the operator let go of their HelmReleases, which stay. The
    // run names them though it stopped; the re-run, with the applications gone, could not.
    const stays = stuck4.stdout.match(
      /^\S+\s+HelmRelease\s+\S+\s+none\s+unchanged\s+stays: its application was paused/gm,
    );
    expect(stays).toHaveLength(6);
    expect(await states()).toEqual(['done', 'done', 'done', 'in progress', 'not started']);
    const view = await vw(['status'], { kubeconfig });
    expect(view.stdout).toContain('held by finalizers example.com/hold');
    expect(view.stdout).toMatch(/Next: kubectl vw purge --delete-apps/);
    await hold(null);
    // Step 4 stopped before the Operations, so they remain; a run without helm is refused before
    // step 4 deletes anything more.
    const noHelm = await vw(
      ['uninstall', '--ttl', '720h', '--yes', '--delete-apps', '--helm', '/nonexistent/helm', '--timeout', '60s'],
      { kubeconfig },
    );
    expect(noHelm.exitCode).toBe(3);
    expect(noHelm.stderr).toMatch(/stopped at steps 4 and 5/);
    expect(await states()).toEqual(['done', 'done', 'done', 'not started', 'not started']);
    expect((await client.list(resources.applicationInstances)).items).toHaveLength(0);
    expect((await client.list(resources.operations)).items.length).toBeGreaterThan(0);
    const resumed = await uninstall('--delete-apps', '--timeout', '60s');
    expect(resumed.exitCode).toBe(0);
    expect(resumed.stderr).not.toMatch(/== Step [123]/);
    expect(await states()).toEqual(['done', 'done', 'done', 'done', 'done']);
    expect(
      (
        await client.list(core.secrets, {
          namespace: operatorNamespace,
          labelSelector: `owner=helm,name=${helmReleaseName}`,
        })
      ).items,
    ).toHaveLength(0);
    expect(world.odoo.decommissioned()).toHaveLength(1);
  });

  it('run again: nothing to do', async () => {
    const again = await uninstall();
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/nothing to do/);
  });
});
