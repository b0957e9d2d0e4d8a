import {
  type ApplicationInstance,
  apiVersionOf,
  kinds,
  type OwnerReference,
  pauseAnnotation,
  pauseValue,
  reconcilePaused,
  reconcileResumed,
  suspendedCondition,
} from '../contract';
import { isConflict, isNotFound, type KubeObject, sleep } from '../kube';
import { fluxFinalizer, upstream } from '../kinds';
import { findCondition, setCondition } from './conditions';
import type { Controller, SimContext } from './context';
import { sameJson } from './json';
import { draw } from './timing';

// The operator's ApplicationInstance reconciler (operator-api.md, "ApplicationInstance"): one Flux
// HelmRelease per instance kept in step with its spec, and the pause annotation honoured. Its
// condition writes come late (timing.conditionDelayMs), as a busy operator's do.

interface HelmReleaseObject extends KubeObject {
  spec: {
    interval?: string;
    chart?: { spec?: Record<string, unknown> };
    values?: unknown;
    suspend?: boolean;
    [k: string]: unknown;
  };
}

type AI = ApplicationInstance & KubeObject;

/** Where the sim's HelmReleases say their charts come from (no source-controller runs here). */
export const catalogSource = { kind: 'HelmRepository', name: 'vworkspace-catalog', namespace: 'flux-system' };
export const helmReleaseInterval = '10m';

const ownerOf = (ai: AI): OwnerReference => ({
  apiVersion: apiVersionOf(kinds.applicationInstances),
  kind: kinds.applicationInstances.kind,
  name: ai.metadata.name,
  uid: ai.metadata.uid ?? '',
  controller: true,
  blockOwnerDeletion: true,
});

const isOwnRef = (ai: AI) => (ref: unknown) => {
  const r = ref as OwnerReference;
  return r.kind === kinds.applicationInstances.kind && r.name === ai.metadata.name;
};

/** The chart, version and values the operator renders from an instance's spec. */
function chartSpec(ai: AI) {
  const catalog = ai.spec?.catalogRef;
  return {
    chart: catalog?.name ?? ai.metadata.name,
    ...(catalog?.version ? { version: catalog.version } : {}),
    sourceRef: catalogSource,
  };
}

function desiredHelmRelease(ai: AI): HelmReleaseObject {
  return {
    apiVersion: apiVersionOf(upstream.helmReleases),
    kind: upstream.helmReleases.kind,
    metadata: {
      name: ai.metadata.name,
      namespace: ai.metadata.namespace,
      labels: {
        'app.kubernetes.io/managed-by': 'vworkspace-operator',
        'apps.vworkspace.io/instance': ai.metadata.name,
      },
      ownerReferences: [ownerOf(ai)],
      // Flux's own: helm-controller lets the object go only after uninstalling the release.
      finalizers: [fluxFinalizer],
    },
    spec: {
      interval: helmReleaseInterval,
      chart: { spec: chartSpec(ai) },
      values: (ai.spec?.values as object | undefined) ?? {},
    },
  };
}

/**
 * Brings an existing HelmRelease in step with the instance: chart, version, values and the
 * controller ownerReference. spec.suspend is Flux's and the user's, so it is never touched.
 */
function syncHelmRelease(hr: HelmReleaseObject, ai: AI): HelmReleaseObject | undefined {
  if (hr.metadata.deletionTimestamp) return undefined;
  const want = desiredHelmRelease(ai);
  const currentChart = hr.spec.chart?.spec ?? {};
  const wantChart = { ...currentChart, ...chartSpec(ai) };
  if (!ai.spec?.catalogRef?.version) delete wantChart.version;
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

/** A status write conditional on the version the decision was made from. */
async function writeStatus(ctx: SimContext, ai: AI, status: Record<string, unknown>) {
  ctx.guard();
  await ctx.kube.patchStatus(
    kinds.applicationInstances,
    ai.metadata.name,
    ai.metadata.namespace,
    status,
    ai.metadata.resourceVersion,
  );
}

async function setSuspended(
  ctx: SimContext,
  ai: AI,
  update: { status: 'True' | 'False'; reason: string; message: string },
) {
  const { conditions, changed } = setCondition(
    ai.status?.conditions,
    { type: suspendedCondition, ...update },
    ai.metadata.generation,
  );
  if (!changed) return;
  // The operator is busy: its condition writes come late. The write is conditional on the
  // version read before the wait, so a change meanwhile makes it start over (409).
  await sleep(draw(ctx.timing.conditionDelayMs) + ctx.faults.conditionDelayMs, ctx.signal);
  await writeStatus(ctx, ai, { conditions });
  ctx.log(
    `applicationinstance ${ai.metadata.namespace}/${ai.metadata.name}: ${suspendedCondition}=${update.status} (${update.reason})`,
  );
}

/**
 * Paused: the HelmRelease loses its ownerReference *before* Suspended=True is reported, so that
 * once a client sees the condition, deleting the instance cannot take the HelmRelease with it.
 */
async function reconcilePausedInstance(ctx: SimContext, ai: AI) {
  const ns = ai.metadata.namespace as string;
  ctx.guard();
  try {
    await ctx.kube.update<HelmReleaseObject>(upstream.helmReleases, ai.metadata.name, ns, (hr) => {
      const owners = hr.metadata.ownerReferences ?? [];
      if (!owners.some(isOwnRef(ai))) return undefined;
      ctx.guard();
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
    reason: reconcilePaused,
    message: `annotation ${pauseAnnotation}=${pauseValue}: the operator pushes no changes to the HelmRelease and will not delete it`,
  });
}

async function reconcileActive(ctx: SimContext, ai: AI) {
  const ns = ai.metadata.namespace as string;
  const name = ai.metadata.name;
  ctx.guard();
  const existing = await ctx.kube.find<HelmReleaseObject>(upstream.helmReleases, name, ns);
  if (!existing) {
    ctx.guard();
    await ctx.kube.create(upstream.helmReleases, desiredHelmRelease(ai), ns);
    ctx.log(`helmrelease ${ns}/${name}: created`);
  } else {
    const { changed } = await ctx.kube.update<HelmReleaseObject>(upstream.helmReleases, name, ns, (hr) => {
      ctx.guard();
      return syncHelmRelease(hr, ai);
    });
    if (changed) ctx.log(`helmrelease ${ns}/${name}: updated from the instance's spec`);
  }
  if (ai.status?.helmReleaseRef?.name !== name) {
    await writeStatus(ctx, ai, { helmReleaseRef: { name } });
    // The write moved the version on; the watch brings the next one for the condition below.
    return;
  }
  // Only an instance that was paused reports the resume; one never paused has no Suspended condition.
  if (findCondition(ai.status?.conditions, suspendedCondition)?.status === 'True') {
    await setSuspended(ctx, ai, {
      status: 'False',
      reason: reconcileResumed,
      message: `annotation ${pauseAnnotation} removed: reconciling again`,
    });
  }
}

export function applicationInstanceController(namespaces: (string | undefined)[]): Controller {
  return {
    name: 'applicationinstances',
    watches: [
      { resource: kinds.applicationInstances, namespaces },
      // The HelmRelease of the same name: its deletion or drift re-runs the instance's reconcile.
      { resource: upstream.helmReleases, namespaces },
    ],
    async reconcile(ctx, namespace, name) {
      const ai = await ctx.kube.find<AI>(kinds.applicationInstances, name, namespace);
      if (!ai || ai.metadata.deletionTimestamp) return undefined;
      try {
        if (ai.metadata.annotations?.[pauseAnnotation] === pauseValue) await reconcilePausedInstance(ctx, ai);
        else await reconcileActive(ctx, ai);
      } catch (err) {
        // Changed while we worked: the watch has the new version, start over from it.
        if (isConflict(err)) return { requeueAfterMs: 0 };
        throw err;
      }
      return undefined;
    },
  };
}
