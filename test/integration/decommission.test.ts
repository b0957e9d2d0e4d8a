import type { KubeClient } from '../../lib/kube/client';
import { core, type KubeObject } from '../../lib/kube/resources';
import { decommissionRecord, pauseAnnotation, resources } from '../../lib/operator/names';
import { type FakeOdoo, startFakeOdoo } from '../support/fake-odoo';
import { adminKubeconfig, createTestNamespace, deleteNamespace, restrictedKubeconfig } from '../support/kube-env';
import { adminClient, createApps, createOperatorWorld, eventually, unwrapped, vw } from '../helpers/plugins';
import { SimOperator } from '../support/sim-operator';

const system = 'vworkspace-system';

describe('kubectl vw decommission', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let odoo: FakeOdoo;
  let sim: SimOperator;
  let appsNs: string;

  const cluster = (name: string) => client.find(resources.clusters, name, system);
  const idOfRecord = async () =>
    ((await client.get(core.configMaps, decommissionRecord, 'kube-system')).data as { clusterID: string }).clusterID;
  const clusterID = async (name: string) =>
    eventually(
      async () => ((await cluster(name))?.status as { clusterID?: string } | undefined)?.clusterID,
      30_000,
      'clusterID',
    );

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = adminClient(kubeconfig);
    odoo = await startFakeOdoo();
    appsNs = await createTestNamespace('decom');
    // Steps 1 and 2 look done: one paused instance without backup capability.
    await createApps(client, appsNs, [{ name: 'svc', capable: false, annotations: { [pauseAnnotation]: 'disabled' } }]);
    sim = new SimOperator({ kubeconfig, namespaces: [appsNs, system], odooUrl: odoo.url });
    await sim.start();
  });

  afterAll(async () => {
    await sim?.stop();
    // Leave no Cluster (and no finalizer) behind for other test files.
    for (const c of (await client.list(resources.clusters, { namespace: system })).items) {
      await client
        .mergePatch(resources.clusters, c.metadata.name, system, { metadata: { finalizers: null } })
        .catch(() => undefined);
      await client.delete(resources.clusters, c.metadata.name, system).catch(() => undefined);
    }
    await client.delete(core.configMaps, decommissionRecord, 'kube-system').catch(() => undefined);
    await deleteNamespace(appsNs, { wait: true });
    await odoo?.stop();
  });

  it('says so and exits 0 when there is no Cluster', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url });
    const r = await vw(['decommission'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/no Cluster in namespace vworkspace-system: step 3 is done/);
  });

  it('refuses when steps 1 and 2 are not done, with the commands that fix them', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-a' });
    await clusterID('cluster-a');
    const ns = await createTestNamespace('decom-unpaused');
    await createApps(client, ns, [{ name: 'loose' }]);
    try {
      const r = await vw(['decommission', '--yes'], { kubeconfig });
      expect(r.exitCode).toBe(3);
      expect(r.stderr).toMatch(/instances paused: .*not paused/);
      expect(r.stderr).toMatch(/fix: kubectl vw pause --all/);
      expect(r.stderr).toMatch(/fix: kubectl vw backup .*--ttl 8760h/);
      expect(await cluster('cluster-a')).toBeDefined();
      expect((await cluster('cluster-a'))?.metadata.deletionTimestamp).toBeUndefined();
    } finally {
      await deleteNamespace(ns, { wait: true });
    }
  });

  it('a restricted user is refused before anything is deleted', async () => {
    const r = await vw(['decommission', 'cluster-a', '--yes', '--skip-backup-check'], {
      kubeconfig: restrictedKubeconfig(),
    });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/may not delete clusters/);
  });

  it('refuses without --yes when stdin is not a terminal', async () => {
    const r = await vw(['decommission', 'cluster-a', '--skip-backup-check'], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/refusing to delete Cluster cluster-a .*without confirmation/);
    expect((await cluster('cluster-a'))?.metadata.deletionTimestamp).toBeUndefined();
  });

  it('--dry-run changes nothing', async () => {
    const r = await vw(['decommission', 'cluster-a', '--dry-run=server', '--skip-backup-check', '-o', 'json'], {
      kubeconfig,
    });
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout).outcome).toBe('validated');
    expect((await cluster('cluster-a'))?.metadata.deletionTimestamp).toBeUndefined();
  });

  it('drains normally: the Cluster is gone, Odoo revoked that cluster ID, the record says so', async () => {
    const id = await clusterID('cluster-a');
    const r = await vw(['decommission', '--yes', '--skip-backup-check', '-o', 'json', '--timeout', '60s'], {
      kubeconfig,
    });
    expect(r.stderr).toMatch(/is gone: Odoo acknowledged/);
    expect(r.exitCode).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'decommissioned', clusterID: id });
    expect(odoo.decommissioned()).toContain(id);
    expect((await client.get(core.configMaps, decommissionRecord, 'kube-system')).data).toMatchObject({
      clusterID: id,
      outcome: 'revoked',
    });
    expect(await cluster('cluster-a')).toBeUndefined();
    const again = await vw(['decommission', 'cluster-a'], { kubeconfig });
    expect(again.exitCode).toBe(0);
  });

  it('Odoo down: blocked, exit 4, the operator message and both ways out; Odoo back: drains', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-b' });
    await clusterID('cluster-b');
    await odoo.setMode('down');
    const r = await vw(['decommission', 'cluster-b', '--yes', '--force-preflight', '--timeout', '4s'], { kubeconfig });
    expect(r.exitCode).toBe(4);
    expect(r.stderr).toMatch(/Decommissioning=False \(OdooUnreachable\)/);
    expect(r.stderr).toMatch(/restore connectivity/);
    expect(r.stderr).toMatch(/--force/);
    expect((await cluster('cluster-b'))?.metadata.finalizers).toContain('ops.vworkspace.io/decommission');
    // While a second run waits (the operator keeps reporting OdooUnreachable), Odoo comes back.
    const { execa } = await import('execa');
    const { distBin } = await import('../helpers/plugins');
    const waiting = execa(`${distBin}/kubectl-vw`, ['decommission', 'cluster-b', '--timeout', '60s', '-o', 'json'], {
      reject: false,
      env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' },
    });
    await eventually(
      async () => (await vw(['status', '-o', 'json'], { kubeconfig })).stdout.includes('OdooUnreachable'),
      30_000,
      'blocked',
    );
    expect(waiting.exitCode).toBeNull(); // still waiting
    await odoo.setMode('up');
    const drained = await waiting;
    expect(drained.exitCode).toBe(0);
    expect(JSON.parse(drained.stdout).outcome).toBe('decommissioned');
    expect(await cluster('cluster-b')).toBeUndefined();
    expect(odoo.decommissioned()).toContain(await idOfRecord());
  });

  it("a finalizer of someone else's holds the Cluster after Odoo revoked: exit 4 naming it, never 'gone'; once it goes, step 3 is done", async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-h' });
    const id = await clusterID('cluster-h');
    await eventually(async () => (await cluster('cluster-h'))?.metadata.finalizers?.length, 30_000, 'finalizer');
    await client.jsonPatch(resources.clusters, 'cluster-h', system, [
      { op: 'add', path: '/metadata/finalizers/-', value: 'example.com/hold' },
    ]);
    try {
      const args = ['decommission', 'cluster-h', '--yes', '--force-preflight', '--timeout', '5s', '-o', 'json'];
      const r = await vw(args, { kubeconfig });
      expect(r.exitCode).toBe(4);
      expect(unwrapped(r.stderr)).toMatch(
        /Cluster cluster-h is still there: Odoo acknowledged the decommission and revoked the credential, but example\.com\/hold still holds it/,
      );
      expect(r.stderr).not.toMatch(/Cluster cluster-h is gone/);
      expect(JSON.parse(r.stdout)).toMatchObject({ outcome: 'held', finalizers: ['example.com/hold'] });
      expect(odoo.decommissioned()).toContain(id);
      expect((await client.get(core.configMaps, decommissionRecord, 'kube-system')).data).toMatchObject({
        clusterID: id,
        outcome: 'revoked',
      });
      expect((await cluster('cluster-h'))?.metadata.finalizers).toEqual(['example.com/hold']);
      // A re-run, status and purge say the same: not the ways out of a stuck operator finalizer.
      const again = await vw(['decommission', 'cluster-h', '--timeout', '2s'], { kubeconfig });
      expect(again.exitCode).toBe(4);
      expect(unwrapped(again.stderr)).toMatch(/revoked the credential, but example\.com\/hold still holds it/);
      expect(again.stderr).not.toMatch(/restore connectivity/);
      const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
      expect(status.steps[2].state).toBe('blocked');
      expect(JSON.stringify(status.steps[2].evidence)).toMatch(/example\.com\/hold holds it/);
      const purge = await vw(['purge', '--dry-run=client'], { kubeconfig });
      expect(unwrapped(purge.stderr)).toMatch(/operator's finalizer is gone, but example\.com\/hold still holds it/);
      expect(unwrapped(purge.stderr)).not.toMatch(/credential has not been revoked/);
    } finally {
      await client.mergePatch(resources.clusters, 'cluster-h', system, { metadata: { finalizers: null } });
    }
    await eventually(async () => !(await cluster('cluster-h')), 30_000, 'cluster-h gone');
    const done = await vw(['decommission', 'cluster-h'], { kubeconfig });
    expect(done.exitCode).toBe(0);
  });

  it('--force needs a Cluster being deleted and a confirmation, and records the skipped revocation', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-c' });
    const id = await clusterID('cluster-c');
    const early = await vw(['decommission', 'cluster-c', '--force', '--yes'], { kubeconfig });
    expect(early.exitCode).toBe(2);
    expect(early.stderr).toMatch(/is not being deleted/);
    await odoo.setMode('down');
    try {
      const blocked = await vw(['decommission', 'cluster-c', '--yes', '--force-preflight', '--timeout', '2s'], {
        kubeconfig,
      });
      expect(blocked.exitCode).toBe(4);
      const unconfirmed = await vw(['decommission', 'cluster-c', '--force'], { kubeconfig });
      expect(unconfirmed.exitCode).toBe(2);
      expect(await cluster('cluster-c')).toBeDefined();
      const forced = await vw(['decommission', 'cluster-c', '--force', '--yes', '-o', 'json'], { kubeconfig });
      expect({ exitCode: forced.exitCode, stderr: forced.exitCode ? forced.stderr : '' }).toEqual({
        exitCode: 0,
        stderr: '',
      });
      expect(forced.stderr).toContain(`cluster ID ${id}`);
      expect(forced.stderr).toMatch(/Cluster Registry/);
      expect(JSON.parse(forced.stdout).outcome).toBe('forced');
      expect(await cluster('cluster-c')).toBeUndefined();
      const cm = await client.get(core.configMaps, decommissionRecord, 'kube-system');
      expect(cm.data).toMatchObject({ clusterID: id, outcome: 'forced' });
      const { items } = await client.list(core.events, { namespace: system });
      expect(items.some((e) => (e as { reason?: string }).reason === 'ForcedFinalizerRemoval')).toBe(true);
      const status = await vw(['status', '-o', 'json'], { kubeconfig });
      expect(JSON.stringify(JSON.parse(status.stdout).steps[2])).toMatch(/NOT revoked/);
    } finally {
      await odoo.setMode('up');
    }
  });

  it('refuses when the operator is not running (its finalizer could never drain)', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-d' });
    await clusterID('cluster-d');
    await sim.stop();
    try {
      const r = await vw(['decommission', 'cluster-d', '--yes'], { kubeconfig });
      expect(r.exitCode).toBe(3);
      expect(unwrapped(r.stderr)).toMatch(
        /operator running: 1 of \d+ Deployments of the helm release .* deployment\/\S+ \(no available replicas\)/,
      );
    } finally {
      await sim.start();
    }
  });

  it('asks for a name when there are two Clusters', async () => {
    await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-e' });
    const r = await vw(['decommission', '--yes'], { kubeconfig });
    expect(r.exitCode).toBe(2);
    expect(r.stderr).toMatch(/2 Clusters in namespace vworkspace-system: cluster-d, cluster-e/);
  });

  it("a stale OdooReachable=False is not a refusal: it waits, bounded, for the operator's next report", async () => {
    // An operator that re-checks Odoo only when kicked: its next report comes when the test says.
    await sim.stop();
    const slow = new SimOperator({
      kubeconfig,
      namespaces: [appsNs, system],
      odooUrl: odoo.url,
      healthIntervalMs: 600_000,
    });
    await slow.start();
    try {
      await createOperatorWorld(client, { odooUrl: odoo.url, cluster: 'cluster-s' });
      await clusterID('cluster-s');
      const args = ['decommission', 'cluster-s', '--yes', '--skip-backup-check', '--timeout', '60s'];
      // Everything ready (the operator's Deployments available, Odoo reachable)...
      await eventually(
        async () => (await vw([...args, '--dry-run=client', '--recheck-timeout', '0'], { kubeconfig })).exitCode === 0,
        90_000,
        'a clean preflight',
      );
      // ... but the operator's last word on Odoo is from an outage that has just ended.
      const current = (await cluster('cluster-s')) as KubeObject & {
        status: { conditions: Record<string, unknown>[] };
      };
      const conditions = current.status.conditions.map((x) =>
        x.type === 'OdooReachable'
          ? {
              ...x,
              status: 'False',
              reason: 'HealthCheckFailed',
              message: `GET ${odoo.url}/api/agent/health: ECONNREFUSED`,
            }
          : x,
      );
      await client.mergePatch(
        resources.clusters,
        'cluster-s',
        system,
        { status: { conditions } },
        { subresource: 'status' },
      );
      // No new report within the bound: refused on what the operator says, saying it waited and for what.
      const refused = await vw([...args, '--recheck-timeout', '2s'], { kubeconfig });
      expect({ code: refused.exitCode, stderr: refused.exitCode === 3 ? '' : refused.stderr }).toEqual({
        code: 3,
        stderr: '',
      });
      expect(unwrapped(refused.stderr)).toMatch(/waiting up to 2s for the operator's next report on OdooReachable/);
      expect(unwrapped(refused.stderr)).toMatch(/Odoo reachable: OdooReachable=False .*no new report within 2s/);
      expect((await cluster('cluster-s'))?.metadata.deletionTimestamp).toBeUndefined();
      // The operator reports while the run waits: it goes on, on that fresh evidence.
      const { execa } = await import('execa');
      const { distBin } = await import('../helpers/plugins');
      const run = execa(`${distBin}/kubectl-vw`, args, {
        reject: false,
        env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' },
      });
      let said = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`it never said it waits; said: ${said}`)), 30_000);
        run.stderr?.on('data', (c: Buffer) => {
          said += c.toString();
          if (/waiting up to 30s for the operator's next report on OdooReachable/.test(unwrapped(said))) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      slow.kick();
      const r = await run;
      expect(r.exitCode).toBe(0);
      expect(unwrapped(String(r.stderr))).toMatch(/OdooReachable=True/);
      expect(await cluster('cluster-s')).toBeUndefined();
    } finally {
      await odoo.setMode('up');
      await slow.stop();
      await sim.start();
    }
  }, 180_000);
});
