import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { execa } from 'execa';
import { mapLimit } from '../concurrency';
import { ExitCode, PreflightError, TimeoutError, VwError } from '../errors';
import { ApiError, isNotFound } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import { core, type KubeObject, type ResourceType } from '../kube/resources';
import { waitForObjects, objectKey } from '../kube/watch';
import { helmReleaseName, operatorCrds, operatorNamespace, resources } from '../operator/names';
import { type HelmReleaseInfo, readHelmRelease } from '../operator/helm-release';
import { checkFinalBackups, listClusters, type PreflightCheck } from './decommission';

export interface PurgeOptions {
  deleteApps: boolean;
  skipBackupCheck: boolean;
  deleteCrds: boolean;
  deleteNamespace: boolean;
  forcePreflight: boolean;
  nameSuffix?: string;
}

export interface PurgePhase {
  /** step4-delete-crs | step5-helm-uninstall | step5-delete-crds | step5-delete-namespace */
  id: string;
  title: string;
  /** Objects it will delete, counted by kind. */
  counts: Record<string, number>;
  done: boolean;
  note?: string;
}

export interface PurgePlan {
  checks: PreflightCheck[];
  phases: PurgePhase[];
  release?: HelmReleaseInfo;
  orphanedHelmReleases: number;
  /** Custom resources of the operator's kinds still present (before step 4 runs). */
  remainingCrs: Record<string, number>;
  crdsPresent: string[];
  namespacePresent: boolean;
}

const crKinds = [resources.applicationInstances, resources.operations, resources.clusters];

async function countAll(client: KubeClient, r: ResourceType): Promise<number> {
  try {
    let n = 0;
    for await (const page of client.listPages(r, { limit: 500 })) n += page.items.length;
    return n;
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return 0;
    throw err;
  }
}

function countByKind(objects: { kind: string }[]) {
  const counts: Record<string, number> = {};
  for (const o of objects) counts[o.kind] = (counts[o.kind] ?? 0) + 1;
  return counts;
}

/** Steps 4 and 5, read-only: what will be deleted, phase by phase, and whether it may be. */
export async function planPurge(client: KubeClient, opts: PurgeOptions): Promise<PurgePlan> {
  const checks: PreflightCheck[] = [];
  const crdsPresent = (
    await Promise.all(operatorCrds.map(async (name) => ((await client.find(core.crds, name)) ? name : undefined)))
  ).filter((x) => x !== undefined) as string[];
  const crdsInstalled = crdsPresent.length === operatorCrds.length;
  const namespacePresent = Boolean(await client.find(core.namespaces, operatorNamespace));

  const clusters = crdsInstalled && namespacePresent ? await listClusters(client, operatorNamespace) : [];
  checks.push(
    clusters.length
      ? {
          name: 'Cluster CR deleted (step 3)',
          ok: false,
          detail: `Cluster ${clusters.map((c) => c.metadata.name).join(', ')} still exists: its credential has not been revoked`,
          fix: 'kubectl vw decommission',
        }
      : { name: 'Cluster CR deleted (step 3)', ok: true, detail: 'no Cluster CR left' },
  );

  const remainingCrs: Record<string, number> = {};
  if (crdsInstalled) for (const r of crKinds) remainingCrs[r.kind] = await countAll(client, r);
  if (opts.deleteApps && !opts.skipBackupCheck && crdsInstalled && (remainingCrs.ApplicationInstance ?? 0) > 0) {
    checks.push(await checkFinalBackups(client, opts.nameSuffix));
  }

  const release = namespacePresent ? await readHelmRelease(client, operatorNamespace, helmReleaseName) : undefined;
  const orphanedHelmReleases = opts.deleteApps ? 0 : await countAll(client, resources.helmReleases);

  const phases: PurgePhase[] = [];
  if (opts.deleteApps) {
    const counts = {
      ApplicationInstance: remainingCrs.ApplicationInstance ?? 0,
      Operation: remainingCrs.Operation ?? 0,
    };
    phases.push({
      id: 'step4-delete-crs',
      title: 'Step 4: delete remaining ApplicationInstances and Operations, and wait until they are gone',
      counts,
      done: counts.ApplicationInstance + counts.Operation === 0,
    });
  }
  phases.push({
    id: 'step5-helm-uninstall',
    title: `Step 5: helm uninstall ${helmReleaseName} -n ${operatorNamespace}`,
    counts: release ? countByKind(release.objects) : {},
    done: !release,
    note: release ? `release v${release.version} (${release.chart}), ${release.status}` : 'release not installed',
  });
  if (opts.deleteCrds) {
    phases.push({
      id: 'step5-delete-crds',
      title: "Step 5: delete the operator's CRDs (only once no custom resource of theirs is left)",
      counts: crdsPresent.length ? { CustomResourceDefinition: crdsPresent.length } : {},
      done: crdsPresent.length === 0,
    });
  }
  if (opts.deleteNamespace) {
    phases.push({
      id: 'step5-delete-namespace',
      title: `Step 5: delete namespace ${operatorNamespace} and wait for it to go (removes the bootstrap credential Secret)`,
      counts: namespacePresent ? { Namespace: 1 } : {},
      done: !namespacePresent,
    });
  }
  return { checks, phases, release, orphanedHelmReleases, remainingCrs, crdsPresent, namespacePresent };
}

/** Finds helm: --helm, else PATH; a clear error when there is none. */
export function findHelm(explicit?: string): string {
  if (explicit) {
    if (!existsSync(explicit))
      throw new PreflightError(`helm binary not found at ${explicit}`, 'pass the path of a helm 3 binary to --helm');
    return explicit;
  }
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, process.platform === 'win32' ? 'helm.exe' : 'helm');
    if (dir && existsSync(candidate)) return candidate;
  }
  throw new PreflightError(
    'helm binary not found on PATH: step 5 runs helm uninstall',
    'install helm 3, or pass --helm /path/to/helm',
  );
}

export interface PhaseEvents {
  log: (line: string) => void;
  /** One call per object deleted (or that failed to be), for the per-object report. */
  deleted: (row: {
    kind: string;
    name: string;
    namespace?: string;
    result: 'deleted' | 'failed';
    message?: string;
  }) => void;
  /** helm's own output, passed through. */
  helmOutput: (chunk: string) => void;
}

/** Deletes every ApplicationInstance and Operation and waits until they are gone (step 4). */
export async function deleteRemainingCrs(
  client: KubeClient,
  opts: { dryRun: boolean; timeoutMs: number; concurrency: number },
  ev: PhaseEvents,
) {
  for (const r of [resources.applicationInstances, resources.operations]) {
    const { items } = await client.list(r);
    if (!items.length) continue;
    ev.log(`deleting ${items.length} ${r.kind}s`);
    let failed = 0;
    await mapLimit(items, opts.concurrency, async (o: KubeObject) => {
      const row = { kind: r.kind, name: o.metadata.name, namespace: o.metadata.namespace };
      try {
        await client.delete(r, o.metadata.name, o.metadata.namespace, { dryRun: opts.dryRun });
        ev.deleted({ ...row, result: 'deleted' });
      } catch (err) {
        if (isNotFound(err)) return ev.deleted({ ...row, result: 'deleted', message: 'already gone' });
        failed++;
        ev.deleted({ ...row, result: 'failed', message: (err as Error).message });
      }
    });
    // Nothing further (helm uninstall, CRDs) may run while custom resources are left behind.
    if (failed)
      throw new VwError(
        `${failed} ${r.kind}s could not be deleted (listed above); nothing further was done`,
        ExitCode.someFailed,
        'fix the reported errors, then re-run kubectl vw purge',
      );
    if (opts.dryRun) continue;
    const w = await waitForObjects(client, r, items.map(objectKey), (o) => !o, { timeoutMs: opts.timeoutMs });
    if (w.timedOut) {
      throw new TimeoutError(
        `${w.pending.length} ${r.kind}s are still there after the timeout (${w.pending.slice(0, 5).join(', ')}): a finalizer is holding them`,
        'check their finalizers: kubectl get applicationinstances,operations -A -o custom-columns=NAME:.metadata.name,FINALIZERS:.metadata.finalizers',
      );
    }
  }
}

export async function helmUninstall(
  helm: string,
  target: { kubeconfigPath?: string; context: string },
  opts: { dryRun: boolean; timeoutMs: number },
  ev: PhaseEvents,
  release?: HelmReleaseInfo,
) {
  const args = [
    'uninstall',
    helmReleaseName,
    '-n',
    operatorNamespace,
    '--kube-context',
    target.context,
    '--wait',
    '--timeout',
    `${Math.ceil(opts.timeoutMs / 1000)}s`,
  ];
  if (target.kubeconfigPath) args.push('--kubeconfig', target.kubeconfigPath);
  if (opts.dryRun) args.push('--dry-run');
  ev.log(`running: helm ${args.join(' ')}`);
  const proc = execa(helm, args, { reject: false, all: true });
  proc.all?.on('data', (c: Buffer) => ev.helmOutput(c.toString()));
  const r = await proc;
  if (r.exitCode !== 0) {
    const text = String(r.all ?? '');
    if (/release: not found/i.test(text)) return; // already uninstalled: re-runs are fine
    throw new VwError(
      `helm uninstall failed (exit ${r.exitCode}): ${text.trim().split('\n').pop()}`,
      ExitCode.someFailed,
      'fix what helm reports, then re-run kubectl vw purge',
    );
  }
  for (const o of release?.objects ?? [])
    ev.deleted({ ...o, result: 'deleted', message: opts.dryRun ? 'helm --dry-run' : 'by helm uninstall' });
}

/** Deletes the operator's CRDs, refusing while any object of their kinds remains. */
export async function deleteCrds(client: KubeClient, opts: { dryRun: boolean; timeoutMs: number }, ev: PhaseEvents) {
  const remaining: string[] = [];
  for (const r of crKinds) {
    const n = await countAll(client, r);
    if (n) remaining.push(`${n} ${r.kind}${n > 1 ? 's' : ''}`);
  }
  if (remaining.length) {
    throw new PreflightError(
      `refusing to delete the CRDs: ${remaining.join(', ')} still exist, and deleting a CRD deletes every object of its kind`,
      'remove them first with --delete-apps (step 4), or keep the CRDs',
    );
  }
  for (const name of operatorCrds) {
    await client.delete(core.crds, name, undefined, { dryRun: opts.dryRun }).catch((err) => {
      if (!isNotFound(err)) throw err;
    });
    ev.deleted({ kind: 'CustomResourceDefinition', name, result: 'deleted' });
  }
  if (!opts.dryRun) await waitForObjects(client, core.crds, operatorCrds, (o) => !o, { timeoutMs: opts.timeoutMs });
}

export async function deleteOperatorNamespace(
  client: KubeClient,
  opts: { dryRun: boolean; timeoutMs: number },
  ev: PhaseEvents,
) {
  try {
    await client.delete(core.namespaces, operatorNamespace, undefined, { dryRun: opts.dryRun });
  } catch (err) {
    if (isNotFound(err)) return;
    throw err;
  }
  ev.deleted({ kind: 'Namespace', name: operatorNamespace, result: 'deleted' });
  if (opts.dryRun) return;
  const w = await waitForObjects(client, core.namespaces, [operatorNamespace], (o) => !o, {
    timeoutMs: opts.timeoutMs,
  });
  if (w.timedOut) {
    throw new TimeoutError(
      `namespace ${operatorNamespace} is still Terminating after the timeout`,
      `see what holds it: kubectl get namespace ${operatorNamespace} -o jsonpath='{.status.conditions}'`,
    );
  }
}
