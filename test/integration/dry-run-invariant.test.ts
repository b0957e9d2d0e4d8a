import { join } from 'node:path';
import type { KubeClient } from '../../lib/kube/client';
import { core, type ResourceType } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { toolsBinDir } from '../support/kube-env';
import { seedSandbox, startWorld, type World } from '../support/sandbox';
import { startForwardProxy } from '../helpers/forward-proxy';
import { adminClient, eventually, vw } from '../helpers/plugins';

// A dry run is an invariant: in every state the procedure passes through, snapshot every object
// the tool can touch, run every command with --dry-run=client and --dry-run=server, and compare.
// The API server's own log (a proxy in front of it) shows what each dry run asked of it.

const kinds: ResourceType[] = [
  resources.applicationInstances,
  resources.operations,
  resources.clusters,
  resources.helmReleases,
  resources.veleroBackups,
  // Not BackupStorageLocations: the real Velero rewrites their status at every validation and
  // sync (the proxy's log below still shows that no dry run writes one).
  core.configMaps,
  core.leases,
  core.events,
  core.secrets,
  core.deployments,
  core.namespaces,
  core.crds,
];

const mutating = (method: string) => method !== 'GET';
// An access review is a question, not a change; everything else that is not a GET must be a dry run.
const question = (path: string) => path.startsWith('/apis/authorization.k8s.io/');
/**
 * A DELETE with a body is judged by the body alone (the API server reads DeleteOptions from the
 * body when there is one, not from the query): a dry one must say dryRun All there, as the proxy
 * saw it, whatever its query says.
 */
function dryDeleteBody(x: { method: string; body?: string }): boolean {
  if (x.method !== 'DELETE' || !x.body?.trim()) return true;
  try {
    const options = JSON.parse(x.body) as { dryRun?: string[] };
    return options.dryRun?.includes('All') === true;
  } catch {
    return false;
  }
}

describe('dry runs write nothing, in every state', () => {
  let world: World;
  let kubeconfig: string;
  let client: KubeClient;
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    world = await startWorld();
    kubeconfig = world.kubeconfig;
    client = adminClient(kubeconfig);
    await seedSandbox(kubeconfig, { apps: 6, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
  }, 240_000);

  afterAll(async () => {
    await world?.stop();
  });

  async function snapshot() {
    const seen = new Map<string, string>();
    for (const r of kinds) {
      for (const o of await client.listIfServed(r)) {
        // The API servers' own identity leases renew themselves; kubectl vw's is the one that matters.
        if (r === core.leases && o.metadata.name.startsWith('apiserver-')) continue;
        seen.set(
          `${r.plural}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
          `${o.metadata.uid}@${o.metadata.resourceVersion}`,
        );
      }
    }
    return seen;
  }

  const commands = [
    ['pause', '--all'],
    ['pause', '--all', '--all-helmreleases'],
    ['resume', '--all', '--force-all'],
    ['backup', '--ttl', '8760h'],
    ['backup', '--ttl', '8760h', '--retry-failed'],
    ['decommission', '--force-preflight'],
    ['decommission', '--force'],
    ['purge', '--force-preflight'],
    ['purge', '--delete-apps', '--delete-crds', '--delete-namespace', '--force-preflight', '--skip-backup-check'],
    ['uninstall', '--ttl', '8760h', '--delete-apps', '--delete-crds', '--delete-namespace'],
  ];

  /** In the state the world is in: freeze it, run every dry run through the proxy, compare. */
  async function assertDryRunsWriteNothing(state: string, opts = { restart: true }) {
    await world.sim.stop(); // nothing else changes the cluster meanwhile
    try {
      const before = await snapshot();
      const proxy = await startForwardProxy(kubeconfig);
      try {
        for (const mode of ['client', 'server']) {
          for (const args of commands) {
            const from = proxy.log.length;
            const r = await vw([...args, `--dry-run=${mode}`, '--helm', helm(), '--timeout', '5s'], {
              kubeconfig: proxy.kubeconfig,
            });
            expect({ state, args, mode, stack: /\n\s+at /.test(r.stderr) }).toEqual({
              state,
              args,
              mode,
              stack: false,
            });
            const writes = proxy.log.slice(from).filter((x) => mutating(x.method) && !question(x.path));
            const notDry = writes.filter(
              (x) => mode === 'client' || x.query.get('dryRun') !== 'All' || !dryDeleteBody(x),
            );
            expect({ state, args, mode, writes: notDry.map((x) => `${x.method} ${x.path}`) }).toEqual({
              state,
              args,
              mode,
              writes: [],
            });
          }
        }
      } finally {
        await proxy.stop();
      }
      const after = await snapshot();
      const changed = [...new Set([...before.keys(), ...after.keys()])].filter((k) => before.get(k) !== after.get(k));
      expect({ state, changed }).toEqual({ state, changed: [] });
    } finally {
      if (opts.restart) await world.sim.start();
    }
  }

  it('fresh', () => assertDryRunsWriteNothing('fresh'));

  it('paused', async () => {
    expect((await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    await assertDryRunsWriteNothing('paused');
  });

  it('backed up', async () => {
    expect((await vw(['backup', '--all', '--ttl', '8760h', '--timeout', '120s'], { kubeconfig })).exitCode).toBe(0);
    await assertDryRunsWriteNothing('backed up');
  });

  it('Cluster being deleted, Odoo down', async () => {
    await world.odoo.setMode('down');
    const r = await vw(['decommission', '--yes', '--force-preflight', '--timeout', '5s'], { kubeconfig });
    expect(r.exitCode).toBe(4);
    await assertDryRunsWriteNothing('Cluster deleting, Odoo down');
  });

  it('a dry run on a Cluster being deleted neither follows nor records, even while the finalizer drains', async () => {
    const records = async () =>
      Promise.all(
        ['kube-system', 'vworkspace-system'].map(
          async (ns) => (await client.find(core.configMaps, 'kubectl-vw-decommission', ns))?.metadata.resourceVersion,
        ),
      );
    const before = await records();
    const { execa } = await import('execa');
    const { distBin } = await import('../helpers/plugins');
    const dry = execa(`${distBin}/kubectl-vw`, ['decommission', '--dry-run=client', '--timeout', '30s'], {
      reject: false,
      env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' },
    });
    await new Promise((r) => setTimeout(r, 1000));
    await world.odoo.setMode('up'); // the operator can now drain its finalizer, while the dry run is there
    expect((await dry).exitCode).toBe(0);
    // Whatever the operator does meanwhile, nothing the dry run saw is written down.
    await eventually(
      async () => {
        const c = await client.find(resources.clusters, 'cluster-sandbox-1', 'vworkspace-system');
        return !c?.metadata.finalizers?.includes('ops.vworkspace.io/decommission');
      },
      60_000,
      "the operator's finalizer to drain",
    );
    expect(await records()).toEqual(before);
  });

  it('Cluster gone', async () => {
    await world.odoo.setMode('up');
    expect((await vw(['decommission', '--yes', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    await assertDryRunsWriteNothing('Cluster gone');
  });

  it('purged', async () => {
    const r = await vw(['purge', '--delete-apps', '--delete-crds', '--delete-namespace', '--yes', '--helm', helm()], {
      kubeconfig,
    });
    expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
    // The operator is uninstalled with its CRDs: nothing is left for the simulated one to run on.
    await assertDryRunsWriteNothing('purged', { restart: false });
  });
});
