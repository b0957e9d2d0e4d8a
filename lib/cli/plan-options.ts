import { goDurationText, parseGoDuration } from '../duration';
import { PreflightError } from '../errors';
import type { KubeClient } from '../kube/client';
import { type ClusterIdentity, readClusterIdentity } from '../kube/identity';
import type { PlanOptions } from '../steps/plan-file/document';
import type { UninstallOptions } from './commands/uninstall';

/** The options a plan records, from uninstall's. */
export const planOptionsOf = (o: UninstallOptions): PlanOptions => ({
  ttl: o.skipBackup ? null : (o.ttl ?? null),
  skipBackup: o.skipBackup,
  storageLocation: o.storageLocation,
  suspendHelmReleases: o.suspendHelmReleases,
  deleteApps: o.deleteApps,
  deleteCrds: o.deleteCrds,
  deleteNamespace: o.deleteNamespace,
  deleteReleaseCrds: [...o.deleteReleaseCrds].sort(),
  expiryMargin: goDurationText(o.marginMs),
  veleroNamespace: o.veleroNamespace,
  allowShortTtl: o.allowShortTtl,
});

/** uninstall's options for a run of a plan: the plan's, with the run's own (target, --yes, --timeout, --helm). */
export const optionsFromPlan = (o: UninstallOptions, p: PlanOptions): UninstallOptions => ({
  ...o,
  ttl: p.ttl ?? undefined,
  skipBackup: p.skipBackup,
  storageLocation: p.storageLocation,
  suspendHelmReleases: p.suspendHelmReleases,
  deleteApps: p.deleteApps,
  deleteCrds: p.deleteCrds,
  deleteNamespace: p.deleteNamespace,
  deleteReleaseCrds: p.deleteReleaseCrds,
  marginMs: parseGoDuration(p.expiryMargin) ?? o.marginMs,
  veleroNamespace: p.veleroNamespace,
  allowShortTtl: p.allowShortTtl,
});

/** Durations compare as durations (8760h is 8760h0m0s); everything else as given. */
export function sameOption(k: keyof PlanOptions, a: unknown, b: unknown): boolean {
  if ((k === 'ttl' || k === 'expiryMargin') && typeof a === 'string' && typeof b === 'string')
    return parseGoDuration(a) === parseGoDuration(b);
  if (Array.isArray(a) && Array.isArray(b)) return [...a].sort().join(',') === [...b].sort().join(',');
  return a === b;
}

/** The cluster's identity, which a plan is bound to: without kube-system's uid there is none to bind. */
export async function requireIdentity(client: KubeClient): Promise<ClusterIdentity> {
  const identity = await readClusterIdentity(client);
  if (identity.kubeSystemUID === 'unknown')
    throw new PreflightError(
      `cannot read namespace kube-system in context ${identity.context}: its uid is the cluster identity a plan is bound to`,
      'a plan needs get on namespaces (kube-system); see README "RBAC"',
    );
  return identity;
}
