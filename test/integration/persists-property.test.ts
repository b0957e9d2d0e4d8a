import { join } from 'node:path';
import { installOperatorChart } from '../support/chart';
import { kubectl, kubectlOk, toolsBinDir } from '../support/kube-env';
import { clientFor, ensureCluster, seedSandbox, startWorld, type World } from '../support/sandbox';
import { vw } from '../helpers/plugins';

// What persists, counted from the cluster: every row of `purge --report -o json` against what this
// test computes itself from the raw objects (kubectl get -o json, helm get manifest), in each
// state the procedure passes through: before step 3, before step 4 with step 3 forced, after
// `purge --keep-apps`, and, the operator installed again and step 3 done, after
// `purge --delete-apps` (the paused applications' HelmReleases, their workloads and claims stay).
// Retain and Delete PVs, VolumeSnapshotContents of both policies. A world of its own.

const system = 'vworkspace-system';
const release = 'vworkspace-app-operator';

interface Raw {
  kind?: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
}

interface Row {
  id: string;
  persists: string;
  objects: string[];
  purge: string;
}

describe('what persists equals the cluster', () => {
  let world: World;
  let kubeconfig: string;
  const helm = () => join(toolsBinDir(), 'helm');
  let checked = 0;

  beforeAll(async () => {
    // The simulated Velero: its VolumeSnapshotContents stay (the real one removes them), and the
    // property is about what the report counts, not about Velero.
    world = await startWorld({ velero: 'simulated', sim: { latency: 'fast' } });
    kubeconfig = world.kubeconfig;
    await seedSandbox(kubeconfig, { apps: 6, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
    // A VolumeSnapshotContent of each policy (the sim's Velero makes Retain ones).
    await kubectlOk(['apply', '-f', '-'], {
      kubeconfig,
      input: {
        apiVersion: 'snapshot.storage.k8s.io/v1',
        kind: 'VolumeSnapshotContent',
        metadata: { name: 'snapcontent-delete-policy' },
        spec: {
          deletionPolicy: 'Delete',
          driver: 'rbd.csi.ceph.com',
          source: { snapshotHandle: 'snap-1' },
          volumeSnapshotRef: { name: 'gone', namespace: 'default' },
        },
      },
    });
  }, 240_000);

  afterAll(async () => {
    process.stderr.write(`what persists: ${checked} rows compared with the cluster\n`);
    await world?.stop();
  });

  const list = async (resource: string, namespace?: string): Promise<Raw[]> => {
    const r = await kubectl(['get', resource, ...(namespace ? ['-n', namespace] : ['-A']), '-o', 'json'], {
      kubeconfig,
    });
    return r.exitCode ? [] : JSON.parse(r.stdout).items; // a kind no longer served: none
  };
  const id = (kind: string, o: Raw) =>
    `${kind}/${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name}`;

  /** What helm uninstall leaves (any helm.sh/resource-policy), from the release's manifest as helm has it. */
  async function keptByRelease(): Promise<string[] | undefined> {
    const r = await kubectl(['get', 'secrets', '-n', system, '-l', `owner=helm,name=${release}`, '-o', 'name'], {
      kubeconfig,
    });
    if (!r.stdout.trim()) return undefined;
    const { execa } = await import('execa');
    const manifest = await execa(helm(), ['get', 'manifest', release, '-n', system, '--kubeconfig', kubeconfig]);
    const yaml = (await import('js-yaml')).default;
    return (yaml.loadAll(manifest.stdout) as Raw[])
      .filter((d) => d?.metadata?.annotations?.['helm.sh/resource-policy'] !== undefined)
      .map((d) => `${d.kind}/${d.metadata.name}`);
  }

  /** The rows, as this test computes them from the raw objects. */
  async function expected() {
    const [instances, operations, hrs, claims, pvs, contents, clusters, secrets, crds] = await Promise.all([
      list('applicationinstances.apps.vworkspace.io'),
      list('operations.ops.vworkspace.io'),
      list('helmreleases.helm.toolkit.fluxcd.io'),
      list('persistentvolumeclaims'),
      list('persistentvolumes'),
      list('volumesnapshotcontents'),
      list('clusters.ops.vworkspace.io', system),
      list('secrets', system),
      list('customresourcedefinitions'),
    ]);
    const refs = operations.map((o) => (o.status?.backupRef as { namespace?: string } | undefined)?.namespace);
    const veleroNamespaces = [...new Set(['velero', ...refs.filter((x): x is string => Boolean(x))])];
    const backups = (await Promise.all(veleroNamespaces.map((ns) => list('backups.velero.io', ns)))).flat();
    const record = (await list('configmaps', 'kube-system')).find((c) => c.metadata.name === 'kubectl-vw-decommission');
    const stay = new Set([...instances, ...hrs].map((o) => o.metadata.namespace));
    const policy = (pv: Raw) => pv.spec?.persistentVolumeReclaimPolicy;
    const installed = (await keptByRelease()) !== undefined;
    const owned = (o: Raw) => o.metadata.annotations?.['meta.helm.sh/release-name'] === release;
    const kept = (await keptByRelease()) ?? [
      ...crds.filter(owned).map((o) => `CustomResourceDefinition/${o.metadata.name}`),
      ...secrets.filter(owned).map((o) => `Secret/${o.metadata.name}`),
    ];
    const secret = secrets.find((s) => s.metadata.name === 'vworkspace-bootstrap-credential');
    const objects: Record<string, string[]> = {
      'velero-backups': backups.map((b) => id('Backup', b)),
      'csi-snapshots': contents.map((c) => id('VolumeSnapshotContent', c)),
      'persistent-volumes': pvs
        .filter((pv) => policy(pv) === 'Retain' || (policy(pv) === 'Delete' && pv.status?.phase === 'Bound'))
        .map((pv) => id('PersistentVolume', pv)),
      claims: claims.filter((c) => stay.has(c.metadata.namespace)).map((c) => id('PersistentVolumeClaim', c)),
      'helm-releases': hrs.map((h) => id('HelmRelease', h)),
      'helm-kept': kept,
      'bootstrap-secret': secret ? [id('Secret', secret)] : [],
      'odoo-identity': [],
      'odoo-audit': [],
    };
    const steps = {
      decommissioned: clusters.length === 0,
      appsDeleted: instances.length + operations.length === 0,
      uninstalled: !installed,
      outcome: record?.data?.outcome,
    };
    return { objects, steps, secret: Boolean(secret) };
  }

  /** Every row against the test's own computation; the advice by the steps that have run. */
  async function reportEqualsCluster(state: string) {
    const r = await vw(['purge', '--report', '-o', 'json'], { kubeconfig });
    expect({ state, code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ state, code: 0, stderr: '' });
    const rows = JSON.parse(r.stdout).persists.rows as Row[];
    const want = await expected();
    const sorted = (xs: string[]) => [...xs].sort();
    expect({ state, ids: rows.map((x) => x.id).sort() }).toEqual({ state, ids: Object.keys(want.objects).sort() });
    for (const row of rows) {
      expect({ state, row: row.id, objects: sorted(row.objects) }).toEqual({
        state,
        row: row.id,
        objects: sorted(want.objects[row.id] ?? []),
      });
      checked++;
    }
    const row = (x: string) => rows.find((y) => y.id === x) as Row;
    const s = want.steps;
    // Advice worded by what has run: never a step that ran, always the one that removes it.
    const claims = row('claims');
    expect({ state, claimsPersist: claims.persists }).toEqual({
      state,
      claimsPersist: want.objects.claims?.length
        ? expect.stringMatching(new RegExp(`^Yes: ${want.objects.claims.length} claim`))
        : 'None',
    });
    if (want.objects.claims?.length) {
      expect({ state, advice: /purge --delete-apps/.test(claims.purge) }).toEqual({ state, advice: !s.appsDeleted });
      if (!s.appsDeleted && !s.uninstalled) expect(claims.purge).toMatch(/delete the applications first/);
    }
    expect({ state, step3: /kubectl vw decommission/.test(row('odoo-identity').purge) }).toEqual({
      state,
      step3: !s.decommissioned,
    });
    expect({ state, byHand: /revoke its credential by hand/.test(row('odoo-identity').purge) }).toEqual({
      state,
      byHand: s.decommissioned && s.outcome !== 'revoked',
    });
    expect({ state, flux: /With Flux gone/.test(row('helm-releases').purge) }).toEqual({ state, flux: s.uninstalled });
    expect({ state, ns: /--delete-namespace/.test(row('bootstrap-secret').purge) }).toEqual({ state, ns: want.secret });
    expect({ state, velero: /Velero is uninstalled/.test(row('velero-backups').purge) }).toEqual({
      state,
      velero: s.uninstalled,
    });
    return rows;
  }

  it('before step 3: the credential is still valid, step 3 is the advice', async () => {
    expect((await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['backup', '--all', '--ttl', '8760h', '--timeout', '120s'], { kubeconfig })).exitCode).toBe(0);
    await reportEqualsCluster('before step 3');
  });

  it('before step 4, step 3 forced', async () => {
    await world.odoo.setMode('down');
    expect((await vw(['decommission', '--yes', '--timeout', '5s'], { kubeconfig })).exitCode).toBe(4);
    expect((await vw(['decommission', '--force', '--yes'], { kubeconfig })).exitCode).toBe(0);
    const rows = await reportEqualsCluster('before step 4, step 3 forced');
    expect(rows.find((r) => r.id === 'odoo-identity')?.persists).toMatch(/NOT invalidated/);
  });

  it('after purge --keep-apps: the applications, their HelmReleases and claims stay', async () => {
    const r = await vw(['purge', '--keep-apps', '--yes', '--helm', helm()], { kubeconfig });
    expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
    await reportEqualsCluster('after --keep-apps');
  });

  it('after purge --delete-apps: the paused applications leave HelmReleases, workloads and claims behind', async () => {
    await world.odoo.setMode('up');
    await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url });
    const kube = clientFor(kubeconfig);
    try {
      await ensureCluster(kube, { name: 'cluster-again', odooUrl: world.odoo.url });
    } finally {
      kube.close();
    }
    const { eventually } = await import('../helpers/plugins');
    await eventually(
      async () => (await vw(['decommission', '--yes', '--timeout', '60s'], { kubeconfig })).exitCode === 0,
      120_000,
      'step 3 to be done again',
    );
    const r = await vw(['purge', '--delete-apps', '--yes', '--helm', helm(), '--timeout', '120s'], { kubeconfig });
    expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
    const rows = await reportEqualsCluster('after --delete-apps');
    expect(rows.find((x) => x.id === 'claims')?.objects.length).toBeGreaterThan(0);
  });
});
