import { plural } from '../../plural';
import { UsageError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import { core, type KubeObject } from '../../kube/resources';
import { bundleDeployments } from '../../operator/bundle';
import { helmReleaseName, operatorNamespace, resources } from '../../operator/names';
import { type Cluster, clusterSchema, findCondition, parseObject } from '../../operator/schemas';
import { finalBackupCheck, type JudgeOptions, judgedInstance, surveyFinalBackups } from '../final-backups';
import { isPaused } from '../pause';
import type { PreflightCheck } from '../preflight';

export type { PreflightCheck };

export interface DecommissionPlan {
  namespace: string;
  cluster?: Cluster;
  /** Set when no Cluster exists: step 3 already happened. */
  alreadyGone: boolean;
  checks: PreflightCheck[];
}

export async function listClusters(client: KubeClient, namespace: string): Promise<Cluster[]> {
  if (!(await client.find(core.namespaces, namespace).catch(() => ({})))) return [];
  const { items } = await client.list(resources.clusters, { namespace });
  return items.map((raw) => {
    const p = parseObject(clusterSchema, raw);
    if (!p.ok) throw new UsageError(`Cluster ${p.name} does not match the operator's schema: ${p.error}`);
    return p.value;
  });
}

/** Picks the Cluster to decommission: the named one, or the only one. */
export async function findCluster(client: KubeClient, namespace: string, name?: string): Promise<Cluster | undefined> {
  const clusters = await listClusters(client, namespace);
  if (name) {
    const found = clusters.find((c) => c.metadata.name === name);
    if (found) return found;
    // Nothing left at all: a re-run after success. Others left: a misspelt name.
    if (!clusters.length) return undefined;
    throw new UsageError(
      `Cluster "${name}" not found in namespace ${namespace}`,
      `Clusters there: ${clusters.map((c) => c.metadata.name).join(', ')}`,
    );
  }
  if (clusters.length > 1) {
    throw new UsageError(
      `${clusters.length} Clusters in namespace ${namespace}: ${clusters.map((c) => c.metadata.name).join(', ')}`,
      'name the one to decommission: kubectl vw decommission NAME',
    );
  }
  return clusters[0];
}

/** Steps 1 and 2 look done: every ApplicationInstance paused. */
function checkPaused(instances: KubeObject[]): PreflightCheck {
  const total = instances.length;
  const unpaused = instances.filter((ai) => !isPaused(ai)).map((ai) => `${ai.metadata.namespace}/${ai.metadata.name}`);
  return unpaused.length
    ? {
        name: 'instances paused',
        ok: false,
        detail: `${unpaused.length} of ${plural(total, 'ApplicationInstance')} ${unpaused.length === 1 ? 'is' : 'are'} not paused (${unpaused.slice(0, 5).join(', ')}${unpaused.length > 5 ? ', ...' : ''})`,
        fix: 'kubectl vw pause --all',
      }
    : { name: 'instances paused', ok: true, detail: `${total} of ${plural(total, 'ApplicationInstance')} paused` };
}

/** Every application has a final backup that counts, or none is possible (BackupNotSupported). */
export async function checkFinalBackups(
  client: KubeClient,
  judge: JudgeOptions,
  listed?: KubeObject[] | Promise<KubeObject[]>,
): Promise<PreflightCheck> {
  // Three paginated lists rather than requests per application: thousands of instances stay cheap.
  return finalBackupCheck(await surveyFinalBackups(client, { ...judge, instances: listed }), judge.hint);
}

/** The operator's bundle runs: without the operator, the Cluster finalizer can never drain. */
async function checkOperatorRunning(client: KubeClient, namespace: string): Promise<PreflightCheck> {
  const deployments = await bundleDeployments(client);
  const down = deployments.filter((d) => !d.found || d.available < 1);
  const release = `helm release ${helmReleaseName} in ${operatorNamespace}`;
  if (!deployments.length)
    return {
      name: 'operator running',
      ok: false,
      detail: `no Deployment of the ${release} found: without the operator the Cluster finalizer can never drain`,
      fix: `helm status ${helmReleaseName} -n ${operatorNamespace}`,
    };
  if (!down.length)
    return {
      name: 'operator running',
      ok: true,
      detail: `${deployments.length} of ${plural(deployments.length, 'Deployment')} of the ${release} available`,
    };
  const which = down
    .map((d) => `deployment/${d.name}${d.found ? ' (no available replicas)' : ' (not found)'}`)
    .join(', ');
  return {
    name: 'operator running',
    ok: false,
    detail: `${down.length} of ${plural(deployments.length, 'Deployment')} of the ${release} not available: ${which}; the Cluster finalizer can never drain without the operator`,
    fix: `kubectl -n ${down[0]?.namespace ?? namespace} rollout status deployment/${down[0]?.name}`,
  };
}

export function checkOdooReachable(cluster: Cluster): PreflightCheck {
  const c = findCondition(cluster.status?.conditions, 'OdooReachable');
  if (c?.status === 'True') return { name: 'Odoo reachable', ok: true, detail: 'OdooReachable=True' };
  return {
    name: 'Odoo reachable',
    ok: false,
    detail: `OdooReachable=${c?.status ?? 'Unknown'}${c?.reason ? ` (${c.reason})` : ''}${c?.message ? `: ${c.message}` : ''}; the finalizer will block until Odoo answers`,
    fix: `curl -sS ${cluster.spec.odoo?.url ?? 'ODOO_URL'}   # from inside the cluster: restore connectivity to Odoo, then run decommission again`,
  };
}

/** Step 3, read-only: which Cluster, and whether steps 1 and 2 and the operator are ready for it. */
export async function planDecommission(
  client: KubeClient,
  opts: { namespace: string; name?: string; skipBackupCheck: boolean; judge: JudgeOptions },
): Promise<DecommissionPlan> {
  const cluster = await findCluster(client, opts.namespace, opts.name);
  if (!cluster) return { namespace: opts.namespace, alreadyGone: true, checks: [] };
  // Both step checks read every ApplicationInstance: list them once, slim, beside the
  // Operations, Velero and the operator's Deployments rather than before them.
  const instances = client.list(resources.applicationInstances, { slim: judgedInstance }).then((l) => l.items);
  const checks = await Promise.all([
    instances.then(checkPaused),
    opts.skipBackupCheck
      ? Promise.resolve<PreflightCheck>({ name: 'final backups', ok: true, detail: 'skipped (--skip-backup-check)' })
      : checkFinalBackups(client, opts.judge, instances),
    checkOperatorRunning(client, opts.namespace),
  ]);
  checks.push(checkOdooReachable(cluster));
  return { namespace: opts.namespace, cluster, alreadyGone: false, checks };
}
