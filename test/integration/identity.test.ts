import { join } from 'node:path';
import { helmReleaseName } from '../../lib/operator/names';
import { installOperatorChart } from '../support/chart';
import { kubectlOk, toolsBinDir } from '../support/kube-env';
import { allControllers, SimOperator } from '../support/sim-operator';
import { clientFor, ensureCluster, sandboxClusterName, seedSandbox, startWorld, type World } from '../support/sandbox';
import { eventually, unwrapped, vw } from '../helpers/plugins';
import { type Observer, observe } from '../helpers/observe';

// Identity, not names; evidence, not its absence. The step 3 record speaks for one Cluster (by
// uid), never for another of the same name; revocation is claimed only on the operator's own word.

const system = 'vworkspace-system';
const cluster = sandboxClusterName;
const observerFinalizer = 'kubectl-vw.vworkspace.io/decommission-observer';

describe('identity and evidence', () => {
  let world: World;
  let kubeconfig: string;
  let seen: Observer;
  /** The operator's Cluster reconciler on its own, so it can be frozen while the rest runs on. */
  let clusters: SimOperator;
  const helm = () => join(toolsBinDir(), 'helm');
  const clusterID = () =>
    eventually(
      async () =>
        ((await seen.get('clusters', system, cluster))?.status as { clusterID?: string } | undefined)?.clusterID,
      60_000,
      'the Cluster registered',
    );
  const status = async () => JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
  const report = async () => JSON.parse((await vw(['purge', '--report', '-o', 'json'], { kubeconfig })).stdout);

  beforeAll(async () => {
    world = await startWorld({
      sim: { latency: 'fast', controllers: allControllers.filter((c) => c !== 'clusters') },
    });
    kubeconfig = world.kubeconfig;
    seen = observe(kubeconfig);
    clusters = new SimOperator({
      kubeconfig,
      odooUrl: world.odoo.url,
      controllers: ['clusters'],
      manageDeployment: false,
      followDeployment: false,
      latency: 'fast',
      healthIntervalMs: 1_000,
    });
    await clusters.start();
    await seedSandbox(kubeconfig, { apps: 4, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
    expect((await vw(['pause', '--all'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['backup', '--ttl', '720h'], { kubeconfig })).exitCode).toBe(0);
  }, 300_000);

  afterAll(async () => {
    await clusters?.stop();
    await world?.stop();
  });

  it('--as-group takes one value per occurrence, as kubectl: the next word stays a name', async () => {
    const apps = await seen.list('applicationInstances', 'tenant-01');
    const name = apps[0]?.metadata.name ?? '';
    const r = await vw(
      [
        ...['backup', '-n', 'tenant-01', '--as', 'vw-test-admin', '--as-group=system:masters', name],
        ...['--ttl', '720h', '--dry-run=client', '-o', 'json'],
      ],
      { kubeconfig },
    );
    expect(r.exitCode).toBe(0);
    const items = JSON.parse(r.stdout).items as { name: string; namespace: string }[];
    expect(items.map((i) => `${i.namespace}/${i.name}`)).toEqual([
      expect.stringMatching(new RegExp(`^tenant-01/${name}-final-backup`)),
    ]);
    // And a bare --dry-run never takes the next word as its value: it is a client dry run of that name.
    const bare = await vw(['backup', '-n', 'tenant-01', '--dry-run', name, '--ttl', '720h', '-o', 'json'], {
      kubeconfig,
    });
    expect(bare.exitCode).toBe(0);
    expect(JSON.parse(bare.stdout)).toMatchObject({ dryRun: 'client' });
  });

  it("a reinstall under the same Cluster name: the record of the earlier Cluster is not this one's outcome", async () => {
    const oldID = await clusterID();
    const first = await vw(['decommission', '--yes'], { kubeconfig });
    expect(first.exitCode).toBe(0);
    expect((await seen.configMap('kube-system', 'kubectl-vw-decommission'))?.data?.outcome).toBe('revoked');
    expect((await vw(['purge', '--yes', '--helm', helm()], { kubeconfig })).exitCode).toBe(0);
    // Reinstalled: a new release (revision 1), and a new Cluster under the same name.
    await new Promise((r) => setTimeout(r, 1100));
    await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url });
    const client = clientFor(kubeconfig);
    await ensureCluster(client, { odooUrl: world.odoo.url });
    client.close();
    const newID = await eventually(
      async () => {
        const id = await clusterID();
        return id !== oldID ? id : undefined;
      },
      60_000,
      'a new cluster ID',
    );
    // While it stands, the record of the earlier Cluster says nothing about it.
    const standing = JSON.stringify((await status()).steps[2]);
    expect(standing).not.toMatch(/revoked the credential/);
    // Odoo down, and the new Cluster removed by hand: nobody saw what became of its credential.
    await world.odoo.setMode('down');
    try {
      // The procedure's manual way out: delete it (Odoo is down, so it hangs), then drop its finalizers.
      await kubectlOk(['delete', 'clusters.ops.vworkspace.io', cluster, '-n', system, '--wait=false'], { kubeconfig });
      await kubectlOk(
        [
          'patch',
          'clusters.ops.vworkspace.io',
          cluster,
          '-n',
          system,
          '--type=merge',
          '-p',
          '{"metadata":{"finalizers":null}}',
        ],
        { kubeconfig },
      );
      await eventually(async () => !(await seen.get('clusters', system, cluster)), 30_000, 'the Cluster gone');
      const step3 = JSON.stringify((await status()).steps[2]);
      expect(step3).not.toMatch(/revoked the credential/);
      expect(step3).toMatch(/unknown/);
      const odoo = (await report()).persists.odoo as { credential: string; clusterID?: string; note: string };
      expect(odoo.credential).toBe('unknown');
      expect(odoo.clusterID).not.toBe(oldID);
      expect(odoo.note).toMatch(/installed again/);
      expect(newID).not.toBe(oldID);
      // purge then uninstalls the release, and with it helm's record of that installation: what
      // persists still speaks of the Cluster removed by hand, never of the earlier one's revocation.
      const purged = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig });
      expect({ code: purged.exitCode, stderr: purged.stderr }).toEqual({ code: 0, stderr: expect.any(String) });
      expect(await seen.helmReleaseSecrets(system, 'vworkspace-app-operator')).toEqual([]);
      const after = (await report()).persists.odoo as { credential: string; note: string };
      expect(after.credential).toBe('unknown');
      expect(after.note).toMatch(/installed again/);
      expect(JSON.stringify((await status()).steps[2])).not.toMatch(/revoked the credential/);
      // Installed again for the next test, which decommissions a Cluster of its own.
      await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url });
    } finally {
      await world.odoo.setMode('up');
    }
  }, 600_000);

  it("the operator's finalizer removed by hand while the operator is frozen: revocation not confirmed", async () => {
    const client = clientFor(kubeconfig);
    await ensureCluster(client, { odooUrl: world.odoo.url });
    client.close();
    await clusterID();
    const calls = world.odoo.decommissionCalls().length;
    await clusters.stop(); // frozen: its Deployment still says available, nothing reconciles
    const stuck = await vw(['decommission', '--yes', '--timeout', '5s'], { kubeconfig });
    expect({ code: stuck.exitCode, stderr: stuck.stderr }).toMatchObject({ code: 4 });
    const held = await seen.get('clusters', system, cluster);
    expect(held?.metadata.finalizers).toEqual(['ops.vworkspace.io/decommission', observerFinalizer]);
    // By hand, the operator's finalizer only: kubectl vw's observer stays.
    await kubectlOk(
      [
        ...['patch', 'clusters.ops.vworkspace.io', cluster, '-n', system, '--type=json'],
        ...['-p', JSON.stringify([{ op: 'replace', path: '/metadata/finalizers', value: [observerFinalizer] }])],
      ],
      { kubeconfig },
    );
    const r = await vw(['decommission', '--yes'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect(unwrapped(r.stderr)).toMatch(/revocation not confirmed: .*the operator never reported on the deletion/);
    expect(r.stderr).not.toMatch(/revoked the credential/);
    expect((await seen.configMap('kube-system', 'kubectl-vw-decommission'))?.data?.outcome).toBe('unconfirmed');
    expect(world.odoo.decommissionCalls().length).toBe(calls);
    expect(await seen.helmReleaseSecrets(system, helmReleaseName)).not.toEqual([]);
  }, 600_000);
});
