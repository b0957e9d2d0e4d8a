// The scale part of the bench, on a control plane of its own with no operator running:
//  - status and the two preflights (decommission's, purge's plan) on 10,000 applications whose
//    final backups count, with their HelmReleases (values and all) and Velero Backups;
//  - kubectl vw pause on 10,000, 2,000 and 500 instances, each over 100 namespaces, and the API
//    server's raw PATCH rate at the same concurrency on as many others; the procedure's shell loop
//    on 2,000; peak memory at each size.
import { join } from 'node:path';
import { execa } from 'execa';
import { mapLimit } from '../../lib/concurrency';
import type { KubeClient } from '../../lib/kube/client';
import { resources } from '../../lib/operator/names';
import { installOperatorChart } from '../support/chart';
import type { ControlPlane } from '../support/control-plane';
import { clientFor, ensureCluster, ensureVeleroLocation } from '../support/sandbox';
import {
  appName,
  ensureNamespaces,
  log,
  namespaceNames,
  namespaceOf,
  type PluginRun,
  round,
  type SeedOptions,
  seconds,
  seedHelmReleases,
  seedInstances,
  timed,
  vwTimed,
} from './measure';

export interface ScaleOptions {
  instances: number;
  large: number;
  concurrency: number;
  skipShell: boolean;
}

const pausedAt = '2026-01-01T00:00:00Z';

/** Each application's final backup, as kubectl vw backup leaves it: an Operation Succeeded, its Velero Backup Completed. */
async function seedFinalBackups(client: KubeClient, o: SeedOptions) {
  await ensureNamespaces(client, ['velero']);
  const expiration = new Date(Date.now() + 365 * 86_400_000).toISOString();
  await mapLimit(
    Array.from({ length: o.count }, (_, i) => i),
    32,
    async (i) => {
      const [app, ns] = [appName(o.set, i), namespaceOf(o, i)];
      const backup = `${ns}-${app}-final-backup`;
      await client.create(
        resources.veleroBackups,
        {
          apiVersion: 'velero.io/v1',
          kind: 'Backup',
          metadata: { name: backup, namespace: 'velero', labels: { 'bench-set': o.set } },
          spec: { includedNamespaces: [ns], storageLocation: 'aws-primary', ttl: '8760h0m0s' },
          status: { phase: 'Completed', expiration, completionTimestamp: '2026-01-01T00:10:00Z' },
        },
        'velero',
      );
      const op = {
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Operation',
        metadata: {
          name: `${app}-final-backup`,
          namespace: ns,
          labels: { 'bench-set': o.set, 'kubectl-vw.vworkspace.io/final-backup': 'true' },
        },
        spec: {
          targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: app },
          type: 'Backup',
          engine: 'velero',
          parameters: { storageLocation: 'aws-primary', snapshotVolumes: true, ttl: '8760h' },
        },
      };
      await client.create(resources.operations, op, ns);
      await client.mergePatch(
        resources.operations,
        op.metadata.name,
        ns,
        {
          status: {
            phase: 'Succeeded',
            reason: 'BackupCompleted',
            startTime: '2026-01-01T00:01:00Z',
            completionTime: '2026-01-01T00:10:00Z',
            backupRef: { namespace: 'velero', name: backup },
          },
        },
        { subresource: 'status' },
      );
    },
  );
}

/** An installation at the end of step 2 with `count` applications: the release, a Cluster, every final backup. */
export async function seedInstallation(cp: ControlPlane, client: KubeClient, set: SeedOptions) {
  const world = clientFor(cp.adminKubeconfig);
  try {
    await installOperatorChart(cp.adminKubeconfig, {
      helmBin: join(cp.binDir, 'helm'),
      helmHome: join(cp.dir, 'helm'),
      odooUrl: 'http://127.0.0.1:9',
    });
    await ensureVeleroLocation(world);
    await ensureCluster(world, { odooUrl: 'http://127.0.0.1:9' });
  } finally {
    world.close();
  }
  await seedInstances(client, {
    ...set,
    paused: true,
    annotations: { 'kubectl-vw.vworkspace.io/paused-at': pausedAt },
  });
  await seedHelmReleases(client, set);
  await seedFinalBackups(client, set);
}

/** Median seconds and the peak memory of three runs. */
function summary(runs: PluginRun[]) {
  const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
  return {
    seconds: round(sorted[1]?.seconds ?? Number.NaN),
    peakRssKiB: Math.max(...runs.map((r) => r.rssKiB)),
    exitCode: runs[0]?.exitCode,
  };
}

/**
 * status beside its peer, `kubectl get applicationinstances -A -o json` (one full read of one
 * kind: what a lean client gets), interleaved so that a busy moment hits both alike.
 */
async function statusAgainstKubectl(env: Record<string, string>) {
  const status: PluginRun[] = [];
  const kubectl: PluginRun[] = [];
  for (let i = 0; i < 3; i++) {
    status.push(await vwTimed(['status'], env));
    kubectl.push(await timed('kubectl', ['get', 'applicationinstances', '-A', '-o', 'json'], env));
  }
  return { status: summary(status), kubectl: summary(kubectl) };
}

/** status and the preflights at scale: seconds (median of three) and peak memory. */
async function readsAtScale(env: Record<string, string>) {
  const times = async (args: string[], ok: number[]) => {
    const runs: PluginRun[] = [];
    for (let i = 0; i < 3; i++) runs.push(await vwTimed(args, env, { ok }));
    return summary(runs);
  };
  const { status, kubectl } = await statusAgainstKubectl(env);
  log(
    `status at scale: ${status.seconds} s, ${status.peakRssKiB} KiB; kubectl get -A -o json ${kubectl.seconds} s, ${kubectl.peakRssKiB} KiB`,
  );
  // Both preflights refuse here (no operator runs: its Deployments never become available): each
  // reads all it judges by, then exits 3. Client dry runs: nothing is changed.
  const decommission = await times(['decommission', '--dry-run=client'], [0, 3]);
  const purgePlan = await times(['purge', '--dry-run=client', '--delete-apps'], [0, 3]);
  log(`decommission preflight ${decommission.seconds} s, purge plan ${purgePlan.seconds} s`);
  return { status, kubectl, decommission, purgePlan };
}

/** The API server's merge-PATCH rate from one process at this concurrency: the ceiling. */
async function rawPatchRate(client: KubeClient, set: SeedOptions, concurrency: number) {
  const secs = await seconds(() =>
    mapLimit(
      Array.from({ length: set.count }, (_, i) => i),
      concurrency,
      (i) =>
        client.mergePatch(resources.applicationInstances, appName(set.set, i), namespaceOf(set, i), {
          metadata: { annotations: { 'apps.vworkspace.io/reconcile': 'disabled' } },
        }),
    ),
  );
  return set.count / secs;
}

const pauseArgs = (concurrency: number) => ['--no-wait', '--concurrency', String(concurrency), '-o', 'name'];

/** kubectl vw pause against the raw rate, on `count` instances spread over `namespaces`. */
async function pauseAgainstRaw(
  client: KubeClient,
  env: Record<string, string>,
  tag: string,
  count: number,
  namespaces: string[],
  o: ScaleOptions,
) {
  const plugin: SeedOptions = { set: `${tag}-plugin`, count, namespaces: namespaces.map((n) => `${n}-p`) };
  const raw: SeedOptions = { set: `${tag}-raw`, count, namespaces: namespaces.map((n) => `${n}-r`) };
  await seedInstances(client, plugin);
  await seedInstances(client, raw);
  const scope =
    namespaces.length === 1 ? ['-n', plugin.namespaces[0] as string, '--all'] : ['-A', '-l', `bench-set=${plugin.set}`];
  const run = await vwTimed(['pause', ...scope, ...pauseArgs(o.concurrency)], env);
  const rawPerSecond = await rawPatchRate(client, raw, o.concurrency);
  const perSecond = count / run.seconds;
  log(
    `pause ${count}: ${run.seconds.toFixed(2)} s (${Math.round(perSecond)}/s), raw ${Math.round(rawPerSecond)}/s, ${run.rssKiB} KiB`,
  );
  return { run, perSecond, rawPerSecond, pluginVsRaw: round(perSecond / rawPerSecond) };
}

/** The procedure's step 1 loop, verbatim but for -n instead of -A: one kubectl annotate per instance. */
async function shellLoop(client: KubeClient, count: number, env: Record<string, string>) {
  const ns = 'bench-shell';
  await seedInstances(client, { set: 'shell', count, namespaces: [ns] });
  const loop = `kubectl get applicationinstances -n ${ns} -o json | jq -r '.items[] | "\\(.metadata.namespace) \\(.metadata.name)"' | while read ns name; do kubectl annotate applicationinstance -n "$ns" "$name" apps.vworkspace.io/reconcile=disabled --overwrite >/dev/null; done`;
  return seconds(() => execa('bash', ['-c', loop], { env }));
}

/** Every figure of the scale part. */
export async function scaleBench(cp: ControlPlane, client: KubeClient, o: ScaleOptions) {
  const env = { KUBECONFIG: cp.adminKubeconfig, NO_COLOR: '1' };
  const world: SeedOptions = { set: 'world', count: o.large, namespaces: namespaceNames('world', 100) };
  log(`seeding an installation with ${o.large} applications over 100 namespaces`);
  await seedInstallation(cp, client, world);
  const reads = await readsAtScale(env);
  const large = await pauseAgainstRaw(client, env, 'large', o.large, namespaceNames('large', 100), o);
  const shell = o.skipShell ? Number.NaN : await shellLoop(client, o.instances, env);
  const small = await pauseAgainstRaw(client, env, 'small', o.instances / 4, namespaceNames('small', 100), o);
  const usual = await pauseAgainstRaw(client, env, 'usual', o.instances, namespaceNames('usual', 100), o);
  log(`shell loop on ${o.instances}: ${shell.toFixed(1)} s`);
  return {
    status: {
      applications: o.large,
      tenThousandSeconds: reads.status.seconds,
      peakRssKiB: reads.status.peakRssKiB,
      kubectlGetJsonSeconds: reads.kubectl.seconds,
      kubectlGetJsonPeakRssKiB: reads.kubectl.peakRssKiB,
      statusVsKubectl: round(reads.status.seconds / reads.kubectl.seconds),
    },
    preflights: {
      applications: o.large,
      decommissionSeconds: reads.decommission.seconds,
      decommissionPeakRssKiB: reads.decommission.peakRssKiB,
      purgePlanSeconds: reads.purgePlan.seconds,
      purgePlanPeakRssKiB: reads.purgePlan.peakRssKiB,
    },
    pause: {
      shellLoopSeconds: round(shell),
      pluginSeconds: round(usual.run.seconds),
      speedup: round(shell / usual.run.seconds, 1),
      pluginPerSecond: Math.round(usual.perSecond),
      rawPatchPerSecond: Math.round(usual.rawPerSecond),
      pluginVsRaw: usual.pluginVsRaw,
      tenThousand: {
        instances: o.large,
        namespaces: 100,
        seconds: round(large.run.seconds),
        pluginPerSecond: Math.round(large.perSecond),
        rawPatchPerSecond: Math.round(large.rawPerSecond),
        pluginVsRaw: large.pluginVsRaw,
      },
      peakRssKiB: { [o.instances / 4]: small.run.rssKiB, [o.instances]: usual.run.rssKiB, [o.large]: large.run.rssKiB },
      peakRssRatioLargeToQuarter: round(large.run.rssKiB / small.run.rssKiB),
    },
  };
}
