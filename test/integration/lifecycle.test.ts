import { dirname, join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../../lib/operator/names';
import { restrictedKubeconfig, toolsBinDir } from '../support/kube-env';
import { adminClient, distBin, eventually, unwrapped, vw } from '../helpers/plugins';
import { installOperatorChart } from '../support/chart';
import { type SandboxSummary, seedSandbox, startWorld, type World } from '../support/sandbox';

// Steps 1 to 5 on one sandbox installation, in order, with `kubectl vw status` checked in every
// state the sandbox passes through. It deletes CRDs and the operator namespace, so it runs on a
// control plane of its own rather than the shared one.
describe('the procedure on a sandbox: purge and status', () => {
  let world: World;
  let kubeconfig: string;
  let client: KubeClient;
  let seeded: SandboxSummary;
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    world = await startWorld();
    kubeconfig = world.kubeconfig;
    client = adminClient(kubeconfig);
    seeded = await seedSandbox(kubeconfig, { apps: 10, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  const status = async () => {
    const r = await vw(['status', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout) as { steps: { step: number; state: string; evidence: string[] }[]; next?: string };
    return { states: doc.steps.map((s) => s.state), doc };
  };
  const releaseSecrets = async () =>
    (
      await client.list(core.secrets, {
        namespace: operatorNamespace,
        labelSelector: `owner=helm,name=${helmReleaseName}`,
      })
    ).items.length;

  it('status on a fresh installation: nothing started, next is pause', async () => {
    const { states, doc } = await status();
    expect(states).toEqual(['not started', 'not started', 'not started', 'not started', 'not started']);
    expect(doc.next).toBe('kubectl vw pause --all');
    const table = await vw(['status'], { kubeconfig });
    expect(table.stdout).toMatch(/1\. pause reconciliation\s+NOT STARTED/);
  });

  it('purge refuses while the Cluster CR exists, naming the command to run', async () => {
    const r = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/Cluster cluster-sandbox-1 still exists/);
    expect(r.stderr).toMatch(/kubectl vw decommission/);
    expect(await releaseSecrets()).toBeGreaterThan(0);
    // Past the Cluster check, --delete-apps still needs a final backup of every application.
    const apps = await vw(['purge', '--yes', '--delete-apps', '--force-preflight', '--helm', helm()], { kubeconfig });
    expect(apps.exitCode).toBe(3);
    expect(apps.stderr).toMatch(/refusing --delete-apps: 10 of 10 applications have no final backup that counts/);
    expect((await client.list(resources.applicationInstances)).items).toHaveLength(10);
  });

  it('--report works at any time and matches what the sandbox seeded', async () => {
    const r = await vw(['purge', '--report', '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const p = JSON.parse(r.stdout).persists;
    const retain = seeded.apps.flatMap((a) => a.volumes).filter((v) => v.reclaimPolicy === 'Retain');
    expect(p.retainedVolumes.map((v: { name: string }) => v.name).sort()).toEqual(retain.map((v) => v.pv).sort());
    expect(p.bootstrapSecret).toBe(true);
    expect(p.odoo.credential).toBe('valid');
  });

  it('step 1 and 2 move status on; then decommission (step 3)', async () => {
    expect((await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    expect((await status()).states.slice(0, 2)).toEqual(['done', 'not started']);
    const b = await vw(['backup', '--all', '--ttl', '720h', '--timeout', '120s'], { kubeconfig });
    expect(b.exitCode).toBe(0);
    expect((await status()).states.slice(0, 3)).toEqual(['done', 'done', 'not started']);
    const d = await vw(['decommission', '--yes', '--timeout', '60s'], { kubeconfig });
    expect(d.stderr).toMatch(/Odoo acknowledged/);
    expect(d.exitCode).toBe(0);
    expect((await status()).states).toEqual(['done', 'done', 'done', 'not started', 'not started']);
  });

  it('purge --dry-run lists every object by kind, what helm keeps, and changes nothing', async () => {
    const r = await vw(['purge', '--delete-apps', '--dry-run=client', '-o', 'json', '--helm', helm()], { kubeconfig });
    expect(r.exitCode).toBe(0);
    const plan = JSON.parse(r.stdout).plan;
    const step4 = plan.phases.find((p: { id: string }) => p.id === 'step4-delete-crs');
    expect(step4.counts.ApplicationInstance).toBe(10);
    const step5 = plan.phases.find((p: { id: string }) => p.id === 'step5-helm-uninstall');
    // The operator and the bundled Flux, cert-manager, external-secrets and Velero go; the
    // bootstrap Secret and the CRDs (keepCrds=true) stay.
    expect(step5.counts).toEqual({ Deployment: 6, ServiceAccount: 1 });
    for (const controller of ['helm-controller', 'source-controller', 'cert-manager', 'external-secrets', 'velero'])
      expect(step5.note).toMatch(new RegExp(`removes the operator and the bundled controllers: .*\\b${controller}\\b`));
    expect(plan.kept.sort()).toEqual([
      'CustomResourceDefinition/applicationinstances.apps.vworkspace.io',
      'CustomResourceDefinition/clusters.ops.vworkspace.io',
      'CustomResourceDefinition/operations.ops.vworkspace.io',
      'Secret/vworkspace-bootstrap-credential',
    ]);
    expect(await releaseSecrets()).toBeGreaterThan(0);
    expect((await client.list(resources.applicationInstances)).items).toHaveLength(10);
  });

  it('refuses: no helm binary, a restricted user, CRD deletion while CRs remain, a release that would take the CRDs', async () => {
    const noHelm = await vw(['purge', '--yes', '--helm', '/nonexistent/helm'], { kubeconfig });
    expect(noHelm.exitCode).toBe(3);
    expect(noHelm.stderr).toMatch(/helm binary not found at \/nonexistent\/helm/);
    const onPath = await vw(['purge', '--yes'], {
      kubeconfig,
      env: { PATH: `${dirname(process.execPath)}:/usr/bin:/bin` },
    }); // node, and no helm
    expect(onPath.exitCode).toBe(3);
    expect(onPath.stderr).toMatch(/helm binary not found on PATH/);
    const restricted = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig: restrictedKubeconfig() });
    expect(restricted.exitCode).toBe(3);
    expect(restricted.stderr).toMatch(/may not .*delete secrets/);
    const crds = await vw(['purge', '--yes', '--delete-crds', '--helm', helm()], { kubeconfig });
    expect(crds.exitCode).toBe(3);
    expect(crds.stderr).toMatch(/refusing --delete-crds: 10 ApplicationInstance/);
    // With keepCrds=false, helm uninstall itself would take the CRDs, and every object of their kinds.
    await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url, keepCrds: false });
    try {
      const takesCrds = await vw(['purge', '--yes', '--helm', helm()], { kubeconfig });
      expect(takesCrds.exitCode).toBe(3);
      expect(takesCrds.stderr).toMatch(
        /helm uninstall would delete the operator's CRDs .*keepCrds=false.*10 ApplicationInstance/,
      );
    } finally {
      await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url, keepCrds: true });
    }
    expect(await releaseSecrets()).toBeGreaterThan(0);
    for (const crd of operatorCrds) expect(await client.find(core.crds, crd)).toBeDefined();
  });

  it('keep-apps (the default): the bundle goes, what helm keeps is reported kept, CRDs and apps stay, orphans named', async () => {
    const r = await vw(['purge', '--yes', '--helm', helm(), '-o', 'json'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect(r.stderr).toMatch(/HelmReleases stay and will be orphaned/);
    expect(r.stderr).toMatch(/release "vworkspace-app-operator" uninstalled/); // helm's own output
    const doc = JSON.parse(r.stdout);
    const row = (kind: string, name: string) =>
      (doc.items as { kind: string; name: string; action: string; result: string }[]).find(
        (i) => i.kind === kind && i.name === name,
      );
    expect(row('Secret', 'vworkspace-bootstrap-credential')).toMatchObject({ action: 'keep', result: 'unchanged' });
    expect(row('CustomResourceDefinition', 'operations.ops.vworkspace.io')).toMatchObject({ action: 'keep' });
    expect(row('Deployment', 'helm-controller')).toMatchObject({ action: 'delete', result: 'changed' });
    expect(doc.persists.kept).toContain('Secret/vworkspace-bootstrap-credential');
    expect(doc.persists.helmReleases.length).toBeGreaterThan(0);
    expect(doc.persists.runningVolumes.claims).toBeGreaterThan(0);
    const list = await execa(helm(), ['list', '-n', operatorNamespace, '-q', '--kubeconfig', kubeconfig]);
    expect(list.stdout.trim()).toBe('');
    for (const crd of operatorCrds) expect(await client.find(core.crds, crd)).toBeDefined();
    expect(await client.find(core.secrets, 'vworkspace-bootstrap-credential', operatorNamespace)).toBeDefined();
    expect((await client.list(resources.applicationInstances)).items).toHaveLength(10);
    expect((await status()).states).toEqual(['done', 'done', 'done', 'skipped', 'done']);
  });

  it('step 4 after step 5 is refused with its consequence', async () => {
    const r = await vw(['purge', '--delete-apps', '--yes', '--helm', helm()], { kubeconfig });
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/step 5 ran before step 4.*HelmReleases stay as orphans/);
    expect((await client.list(resources.applicationInstances)).items).toHaveLength(10);
  });

  it('delete-apps killed while a finalizer holds an application; re-run, it goes on from there', async () => {
    const held = (await client.list(resources.applicationInstances)).items[0];
    const hold = (finalizers: string[] | null) =>
      client.mergePatch(resources.applicationInstances, held?.metadata.name ?? '', held?.metadata.namespace, {
        metadata: { finalizers },
      });
    await hold(['example.com/hold']);
    const proc = execa(
      join(distBin, 'kubectl-vw'),
      [
        'purge',
        '--delete-apps',
        '--force-preflight',
        '--delete-crds',
        '--delete-namespace',
        '--yes',
        '--timeout',
        '5m',
      ],
      { reject: false, env: { KUBECONFIG: kubeconfig } },
    );
    // Step 4 has deleted the applications and waits on the one held: crash it there.
    await eventually(
      async () => (await client.list(resources.applicationInstances)).items.length === 1,
      60_000,
      'all but the held application deleted',
    );
    proc.kill('SIGKILL');
    expect((await proc).signal).toBe('SIGKILL');
    const { states, doc } = await status();
    expect(states).toEqual(['done', 'done', 'done', 'in progress', 'done']);
    expect(doc.steps[3]?.evidence.join(' ')).toContain('held by finalizers example.com/hold');
    for (const crd of operatorCrds) expect(await client.find(core.crds, crd)).toBeDefined(); // not with CRs left
    await hold(null);
  });

  it("the re-run: CRs gone first, then the CRDs, namespace waited for; the paused apps' HelmReleases named", async () => {
    // The killed run's lock is taken over at once: its holder process is gone.
    const r = await vw(
      ['purge', '--delete-apps', '--force-preflight', '--delete-crds', '--delete-namespace', '--yes', '-o', 'json'],
      { kubeconfig },
    );
    expect(r.exitCode).toBe(0);
    const doc = JSON.parse(r.stdout);
    const deletedKinds: Record<string, number> = {};
    for (const i of doc.items as { kind: string; action: string; result: string }[])
      if (i.action === 'delete' && i.result === 'changed') deletedKinds[i.kind] = (deletedKinds[i.kind] ?? 0) + 1;
    expect(deletedKinds).toMatchObject({ CustomResourceDefinition: 3, Namespace: 1 });
    expect(deletedKinds.Operation).toBeGreaterThanOrEqual(8); // the killed run never reached them
    expect((doc.items as { result: string }[]).filter((i) => i.result === 'failed')).toEqual([]);
    // Every application was paused: the operator let go of their HelmReleases, which stay.
    expect(doc.persists.helmReleases).toHaveLength(10);
    // The step 3 record lives in kube-system: the namespace going does not take it.
    expect(doc.persists.odoo).toMatchObject({ credential: 'revoked', cluster: 'cluster-sandbox-1' });
    expect(doc.persists.odoo.clusterID).toMatch(/^[0-9a-f-]{36}$/);
    expect(await client.find(core.namespaces, operatorNamespace)).toBeUndefined();
    for (const crd of operatorCrds) expect(await client.find(core.crds, crd)).toBeUndefined();
    const again = await vw(['purge', '--delete-apps', '--delete-crds', '--delete-namespace', '--yes'], { kubeconfig });
    expect(again.exitCode).toBe(0);
    expect(again.stderr).toMatch(/nothing left to purge/);
    expect((await status()).states).toEqual(['done', 'done', 'done', 'done', 'done']);
    // With the CRDs gone, every step plugin says the operator is not installed here.
    const pause = await vw(['pause', '--all'], { kubeconfig });
    expect(pause.exitCode).toBe(3);
    expect(pause.stderr).toMatch(
      /vworkspace-operator CRDs not found in context vw-test-admin: is the operator installed\?/,
    );
  });

  it('what persists at the end: backups, snapshots, Retain PVs, orphaned HelmReleases; the Secret is gone; Odoo revoked', async () => {
    const r = await vw(['purge', '--report', '-o', 'json'], { kubeconfig });
    const p = JSON.parse(r.stdout).persists;
    const capable = seeded.apps.filter((a) => a.backupCapable).length;
    expect(p.backups).toEqual([expect.objectContaining({ storageLocation: 'aws-primary', count: capable })]);
    // Velero kept the CSI snapshots in the driver and removed their VolumeSnapshotContents: the
    // report counts them from its backups (a volume each, the seeded ones all CSI).
    const volumes = seeded.apps.filter((a) => a.backupCapable).flatMap((a) => a.volumes).length;
    expect(p.backups[0].snapshots).toBe(volumes);
    expect(p.snapshotContents).toEqual([]);
    expect(p.retainedVolumes.length).toBeGreaterThan(0);
    expect(p.helmReleases.length).toBeGreaterThan(0);
    expect(p.bootstrapSecret).toBe(false);
    expect(p.odoo.credential).toBe('revoked');
    const table = await vw(['purge', '--report'], { kubeconfig });
    expect(table.stdout).toMatch(/Velero backups in BackupStorageLocation/);
    expect(unwrapped(table.stdout)).toMatch(
      new RegExp(`${volumes} volume snapshots taken by the Velero backups above: Velero keeps CSI ones`),
    );
    expect(table.stdout).toMatch(/Delete the cluster row in Odoo's Cluster Registry/);
  });
});
