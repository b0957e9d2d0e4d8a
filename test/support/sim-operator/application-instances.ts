import { sleep } from '../../../lib/concurrency';
import { isNotFound } from '../../../lib/kube/api-error';
import { apiVersionOf, type KubeObject } from '../../../lib/kube/resources';
import { pauseAnnotation, pauseValue, resources } from '../../../lib/operator/names';
import { type ApplicationInstance, type Condition, findCondition } from '../../../lib/operator/schemas';
import { setCondition } from './conditions';
import type { Controller, SimContext } from './context';
import { sameJson } from './json';

// The operator's ApplicationInstance reconciler (operator-api.md, "ApplicationInstance"): one Flux
// HelmRelease per instance kept in step with its spec, and the pause annotation honoured.

interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

interface HelmReleaseObject extends KubeObject {
  spec: {
    interval?: string;
    chart?: { spec?: Record<string, unknown> };
    values?: unknown;
    suspend?: boolean;
    [k: string]: unknown;
  };
}

/** Where the sim's HelmReleases say their charts come from (no source-controller runs here). */
export const catalogSource = { kind: 'HelmRepository', name: 'vworkspace-catalog', namespace: 'flux-system' };
export const helmReleaseInterval = '10m';

const ownerOf = (ai: ApplicationInstance): OwnerReference => ({
  apiVersion: apiVersionOf(resources.applicationInstances),
  kind: resources.applicationInstances.kind,
  name: ai.metadata.name,
  uid: ai.metadata.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

const isOwnRef = (ai: ApplicationInstance) => (ref: unknown) => {
  const r = ref as OwnerReference;
  return r.kind === resources.applicationInstances.kind && r.name === ai.metadata.name;
};

/** The chart, version and values the operator renders from an instance's spec. */
function chartSpec(ai: ApplicationInstance) {
  const catalog = ai.spec.catalogRef;
  return {
    chart: catalog?.name ?? ai.metadata.name,
    ...(catalog?.version ? { version: catalog.version } : {}),
    sourceRef: catalogSource,
  };
}

function desiredHelmRelease(ai: ApplicationInstance): HelmReleaseObject {
  return {
    apiVersion: apiVersionOf(resources.helmReleases),
    kind: resources.helmReleases.kind,
    metadata: {
      name: ai.metadata.name,
      namespace: ai.metadata.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'vworkspace-operator',
        'apps.vworkspace.io/instance': ai.metadata.name,
      },
      ownerReferences: [ownerOf(ai)],
    },
    spec: {
      interval: helmReleaseInterval,
      chart: { spec: chartSpec(ai) },
      values: (ai.spec.values as object | undefined) ?? {},
    },
  };
}

/**
 * Brings an existing HelmRelease in step with the instance: chart, version, values and the
 * controller ownerReference. spec.suspend is Flux's and the user's, so it is never touched.
 */
function syncHelmRelease(hr: HelmReleaseObject, ai: ApplicationInstance): HelmReleaseObject | undefined {
  const want = desiredHelmRelease(ai);
  const currentChart = hr.spec.chart?.spec ?? {};
  const wantChart = { ...currentChart, ...chartSpec(ai) };
  if (!ai.spec.catalogRef?.version) delete wantChart.version;
  const owners = hr.metadata.ownerReferences ?? [];
  const hasOwner = owners.some(isOwnRef(ai));
  if (sameJson(currentChart, wantChart) && sameJson(hr.spec.values ?? {}, want.spec.values) && hasOwner)
    return undefined;
  hr.spec.chart = { ...hr.spec.chart, spec: wantChart };
  hr.spec.values = want.spec.values;
  hr.spec.interval ??= helmReleaseInterval;
  if (!hasOwner) hr.metadata.ownerReferences = [...owners, ownerOf(ai)];
  return hr;
}

async function writeStatus(ctx: SimContext, ai: ApplicationInstance, status: Record<string, unknown>) {
  ctx.guard();
  await ctx.client.mergePatch(
    resources.applicationInstances,
    ai.metadata.name,
    ai.metadata.namespace,
    { status },
    { subresource: 'status' },
  );
}

async function setSuspended(
  ctx: SimContext,
  ai: ApplicationInstance,
  update: Omit<Parameters<typeof setCondition>[1], 'type'>,
) {
  const { conditions, changed } = setCondition(
    ai.status?.conditions,
    { type: 'Suspended', ...update },
    ai.metadata.generation,
  );
  if (!changed) return;
  if (ctx.faults.conditionDelayMs > 0) await sleep(ctx.faults.conditionDelayMs, ctx.signal);
  await writeStatus(ctx, ai, { conditions });
  ctx.log(
    `applicationinstance ${ai.metadata.namespace}/${ai.metadata.name}: Suspended=${update.status} (${update.reason})`,
  );
}

/**
 * Paused: the HelmRelease loses its ownerReference *before* Suspended=True is reported, so that
 * once a client sees the condition, deleting the instance cannot take the HelmRelease with it.
 */
async function reconcilePaused(ctx: SimContext, ai: ApplicationInstance) {
  const ns = ai.metadata.namespace as string;
  ctx.guard();
  try {
    await ctx.client.update<HelmReleaseObject>(resources.helmReleases, ai.metadata.name, ns, (hr) => {
      const owners = hr.metadata.ownerReferences ?? [];
      if (!owners.some(isOwnRef(ai))) return undefined;
      const rest = owners.filter((r) => !isOwnRef(ai)(r));
      hr.metadata.ownerReferences = rest.length ? rest : undefined;
      ctx.log(`helmrelease ${ns}/${ai.metadata.name}: ownerReference removed (instance paused)`);
      return hr;
    });
  } catch (err) {
    if (!isNotFound(err)) throw err;
  }
  await setSuspended(ctx, ai, {
    status: 'True',
    reason: 'ReconcilePaused',
    message: `annotation ${pauseAnnotation}=${pauseValue}: the operator pushes no changes to the HelmRelease and will not delete it`,
  });
}

async function reconcileActive(ctx: SimContext, ai: ApplicationInstance) {
  const ns = ai.metadata.namespace as string;
  const name = ai.metadata.name;
  ctx.guard();
  const existing = await ctx.client.find<HelmReleaseObject>(resources.helmReleases, name, ns);
  if (!existing) {
    ctx.guard();
    await ctx.client.create(resources.helmReleases, desiredHelmRelease(ai), ns);
    ctx.log(`helmrelease ${ns}/${name}: created`);
  } else {
    const { changed } = await ctx.client.update<HelmReleaseObject>(resources.helmReleases, name, ns, (hr) => {
      ctx.guard();
      return syncHelmRelease(hr, ai);
    });
    if (changed) ctx.log(`helmrelease ${ns}/${name}: updated from the instance's spec`);
  }
  if (ai.status?.helmReleaseRef?.name !== name) await writeStatus(ctx, ai, { helmReleaseRef: { name } });
  // Only an instance that was paused reports the resume; one never paused has no Suspended condition.
  const suspended: Condition | undefined = findCondition(ai.status?.conditions, 'Suspended');
  if (suspended?.status === 'True') {
    await setSuspended(ctx, ai, {
      status: 'False',
      reason: 'ReconcileResumed',
      message: `annotation ${pauseAnnotation} removed: reconciling again`,
    });
  }
}

export function applicationInstanceController(namespaces: (string | undefined)[]): Controller {
  return {
    name: 'applicationinstances',
    watches: [
      { resource: resources.applicationInstances, namespaces },
      // The HelmRelease of the same name: its deletion or drift re-runs the instance's reconcile.
      { resource: resources.helmReleases, namespaces },
    ],
    async reconcile(ctx, namespace, name): Promise<undefined> {
      const ai = await ctx.client.find<ApplicationInstance & KubeObject>(
        resources.applicationInstances,
        name,
        namespace,
      );
      if (!ai || ai.metadata.deletionTimestamp) return;
      ai.spec ??= {};
      if (ai.metadata.annotations?.[pauseAnnotation] === pauseValue) await reconcilePaused(ctx, ai);
      else await reconcileActive(ctx, ai);
      return undefined;
    },
  };
}
