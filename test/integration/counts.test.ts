import { join } from 'node:path';
import { denyByPolicy, refusedWith422 } from '../helpers/admission';
import { type Seen, startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, unwrapped, vw } from '../helpers/plugins';
import { kubectlOk, toolsBinDir } from '../support/kube-env';
import { type SandboxSummary, seedSandbox, startWorld, type World } from '../support/sandbox';

// Counts that equal what happened. Every mutating command runs through a proxy that records the
// writes the API server accepted: its summary's counts are its items' results, and the items it
// says it changed are exactly the objects written (the tool's own bookkeeping aside: the lock,
// the step 3 record, Events, helm's release records). Along the way: backup's summary line counts
// each action by what it did; --retry-failed --dry-run=server sends the preconditioned DELETE with
// dryRun and says so; and a newer failure is reported with its own reason, an older backup taken
// before the pause only as context, in the backup table, status and the gate.

const kinds: Record<string, string> = {
  applicationinstances: 'ApplicationInstance',
  operations: 'Operation',
  clusters: 'Cluster',
  helmreleases: 'HelmRelease',
  deployments: 'Deployment',
  serviceaccounts: 'ServiceAccount',
  secrets: 'Secret',
  configmaps: 'ConfigMap',
  customresourcedefinitions: 'CustomResourceDefinition',
  namespaces: 'Namespace',
};

/** The object a write was to, as Kind/namespace/name; undefined for the tool's own bookkeeping. */
function writtenObject(s: Seen): string | undefined {
  const m = /^\/(?:api\/v1|apis\/[^/]+\/[^/]+)(?:\/namespaces\/([^/]+))?\/([^/]+)(?:\/([^/]+))?/.exec(s.path);
  if (!m) return undefined;
  const [, namespace, plural, pathName] = m as unknown as [string, string | undefined, string, string | undefined];
  const name = pathName ?? (JSON.parse(s.body || '{}') as { metadata?: { name?: string } }).metadata?.name;
  if (plural === 'leases' || plural === 'events' || !name) return undefined;
  if (plural === 'configmaps' && (name === 'kubectl-vw-decommission' || name === 'kubectl-vw-journal'))
    return undefined;
  if (plural === 'secrets' && name.startsWith('sh.helm.release.v1.')) return undefined;
  if (plural === 'namespaces' && !pathName) return undefined; // a namespace's own path is /namespaces/NAME
  return `${kinds[plural] ?? plural}/${namespace ? `${namespace}/` : ''}${name}`;
}

const accepted = (s: Seen) =>
  s.method !== 'GET' &&
  !s.path.startsWith('/apis/authorization.k8s.io/') &&
  s.query.get('dryRun') !== 'All' &&
  (s.status ?? 0) >= 200 &&
  (s.status ?? 0) < 300;

interface Item {
  kind?: string;
  namespace?: string;
  name?: string;
  operation?: string;
  result: string;
  message?: string;
  action?: string;
  application?: string;
}

const keyOf = (i: Item) => `${i.kind ?? 'Operation'}/${i.namespace ? `${i.namespace}/` : ''}${i.name ?? i.operation}`;

describe('counts that equal what happened', () => {
  let world: World;
  let kubeconfig: string;
  let seeded: SandboxSummary;
  let proxy: Awaited<ReturnType<typeof startForwardProxy>>;
  let ns: string;
  let x: string; // backed up before its pause, then again (and that one fails)
  let z: string; // its backup Failed
  let commands = 0;
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    // The simulated Velero: the tests below fail one application's backup on demand and delete
    // Velero's records by hand.
    world = await startWorld({ velero: 'simulated', sim: { latency: 'fast' } });
    kubeconfig = world.kubeconfig;
    seeded = await seedSandbox(kubeconfig, {
      apps: 5,
      namespaces: 1,
      notBackupCapableEvery: 0,
      helmBin: helm(),
      odooUrl: world.odoo.url,
    });
    ns = seeded.namespaces[0] as string;
    [x, z] = seeded.apps.map((a) => a.name) as [string, string];
    proxy = await startForwardProxy(kubeconfig);
  }, 240_000);

  afterAll(async () => {
    process.stderr.write(`counts: ${commands} mutating runs checked against the proxy's record\n`);
    await proxy?.stop();
    await world?.stop();
  });

  /** Runs a mutating command through the proxy; its summary, its items and the writes agree. */
  async function agrees(args: string[], code = 0) {
    const from = proxy.log.length;
    const r = await vw([...args, '-o', 'json'], { kubeconfig: proxy.kubeconfig });
    expect({ args, code: r.exitCode, stderr: r.exitCode === code ? '' : r.stderr }).toEqual({ args, code, stderr: '' });
    const doc = JSON.parse(r.stdout) as { summary: Record<string, number>; items: Item[] };
    const tally: Record<string, number> = { changed: 0, unchanged: 0, failed: 0, planned: 0, validated: 0, skipped: 0 };
    for (const i of doc.items) tally[i.result] = (tally[i.result] ?? 0) + 1;
    expect({ args, summary: doc.summary }).toEqual({ args, summary: tally });
    const written = [...new Set(proxy.log.slice(from).filter(accepted).map(writtenObject).filter(Boolean))].sort();
    const changed = [...new Set(doc.items.filter((i) => i.result === 'changed').map(keyOf))].sort();
    expect({ args, changed }).toEqual({ args, changed: written });
    commands++;
    return { r, doc };
  }

  /** An Operation's uid@resourceVersion, read by kubectl: unchanged means untouched. */
  const identityOf = (op: string) =>
    kubectlOk(
      [
        'get',
        'operations.ops.vworkspace.io',
        '-n',
        ns,
        op,
        '-o',
        'jsonpath={.metadata.uid}@{.metadata.resourceVersion}',
      ],
      { kubeconfig },
    );
  const status = async () => JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
  const gate = async () =>
    unwrapped((await vw(['decommission', '--dry-run=client', '--force-preflight'], { kubeconfig })).stderr);
  const evidence = async () => (await status()).steps[1].evidence.join(' ');

  it('pause, resume, pause: the summary is the items, the items are the writes', async () => {
    // x is backed up before it is paused: that backup will be stale.
    expect((await vw(['backup', '-n', ns, x, '--ttl', '8760h', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(1);
    await new Promise((r) => setTimeout(r, 1100)); // the pause must come a second later, as Velero's times go
    await agrees(['pause', '--all', '--suspend-helmreleases', '--timeout', '60s']);
    await agrees(['resume', '--all', '--timeout', '60s']);
    await agrees(['pause', '--all', '--timeout', '60s']);
  });

  it('a newer failure is reported with its own reason, the older backup as context: table, status, gate', async () => {
    world.sim.setFaults({
      partialAsSucceeded: true,
      failBackups: new Map<string, string | { reason: string; veleroPhase: 'PartiallyFailed' }>([
        [`${ns}/${x}`, { reason: 'PartialFailure', veleroPhase: 'PartiallyFailed' }],
        [`${ns}/${z}`, 'VeleroBackupFailed'],
      ]),
    });
    const { doc } = await agrees(['backup', '--all', '--ttl', '8760h', '--timeout', '120s'], 1);
    const row = doc.items.find((i) => i.application === x) as Item;
    expect(row).toMatchObject({ action: 'retake', operation: `${x}-final-backup-2` });
    // Velero's own count of errors beside its phase.
    const own = new RegExp(
      `${ns}/${x} \\(Velero backup PartiallyFailed \\(1 error\\) \\(before it: ${x}-final-backup stale`,
    );
    expect(row.message).toMatch(/^Velero backup PartiallyFailed \(1 error\) \(before it: .*stale/);
    expect(await evidence()).toMatch(own);
    expect(await gate()).toMatch(own);
    // Its Velero Backup deleted: said so, not the older reason.
    const ref = JSON.parse(
      await kubectlOk(['get', 'operations.ops.vworkspace.io', '-n', ns, `${x}-final-backup-2`, '-o', 'json'], {
        kubeconfig,
      }),
    ).status.backupRef;
    await kubectlOk(['delete', 'backups.velero.io', '-n', ref.namespace, ref.name], { kubeconfig });
    const missing = new RegExp(`${ns}/${x} \\(Velero backup missing \\(before it: ${x}-final-backup stale`);
    expect(await evidence()).toMatch(missing);
    expect(await gate()).toMatch(missing);
  });

  it("backup's summary line counts each action by what it did", async () => {
    world.sim.setFaults({ partialAsSucceeded: false, failBackups: new Map() });
    const { r } = await agrees(['backup', '--all', '--ttl', '8760h', '--timeout', '120s'], 1);
    const line = /backup: (.*); storage location/.exec(r.stderr)?.[1];
    expect(line).toBe('3 kept, 1 retaken, 1 Failed (not retried)');
  });

  it('--retry-failed --dry-run=server sends the preconditioned DELETE with dryRun: validated, or the refusal', async () => {
    const op = `${z}-final-backup`;
    const before = await identityOf(op);
    const args = ['backup', '-n', ns, z, '--ttl', '8760h', '--retry-failed', '--dry-run=server', '-o', 'json'];
    const from = proxy.log.length;
    const ok = await vw(args, { kubeconfig: proxy.kubeconfig });
    expect(ok.exitCode).toBe(0);
    expect(JSON.parse(ok.stdout).items).toEqual([
      expect.objectContaining({
        name: op,
        action: 'retry',
        result: 'validated',
        message: expect.stringMatching(/^retry validated/),
      }),
    ]);
    const deletes = proxy.log.slice(from).filter((s) => s.method === 'DELETE');
    expect(deletes.map((s) => [s.path, s.query.get('dryRun'), JSON.parse(s.body ?? '{}').preconditions?.uid])).toEqual([
      [expect.stringMatching(new RegExp(`/operations/${op}$`)), 'All', before.split('@')[0]],
    ]);
    const lift = await denyByPolicy(adminClient(kubeconfig), {
      name: 'vw-test-keep-failed-operation',
      operations: ['DELETE'],
      rule: { apiGroups: ['ops.vworkspace.io'], resources: ['operations'] },
      expression: `oldObject.metadata.name != '${op}'`,
      message: `${op} is kept by the cluster's admission policy`,
      namespace: ns,
      refused: () =>
        refusedWith422(() =>
          adminClient(kubeconfig).delete(
            {
              group: 'ops.vworkspace.io',
              version: 'v1alpha1',
              plural: 'operations',
              kind: 'Operation',
              namespaced: true,
            },
            op,
            ns,
            { dryRun: true },
          ),
        ),
    });
    try {
      const refused = await vw(args, { kubeconfig });
      expect(refused.exitCode).toBe(1);
      expect(JSON.parse(refused.stdout).items).toEqual([
        expect.objectContaining({
          name: op,
          action: 'retry',
          result: 'failed',
          message: expect.stringMatching(/kept by the cluster's admission policy/),
        }),
      ]);
    } finally {
      await lift();
    }
    const after = await identityOf(op);
    expect(after).toBe(before);
    await agrees(['backup', '-n', ns, z, '--ttl', '8760h', '--retry-failed', '--timeout', '120s']);
  });

  it('decommission and purge: the summary is the items, the items are the writes', async () => {
    await agrees(['decommission', '--yes', '--timeout', '120s']);
    await agrees(['purge', '--delete-apps', '--yes', '--helm', helm(), '--timeout', '120s']);
    expect(commands).toBeGreaterThanOrEqual(8);
  });
});
