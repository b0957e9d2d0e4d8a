import { randomUUID } from 'node:crypto';
import { isConflict, isNotFound } from '../../../lib/kube/api-error';
import type { KubeObject } from '../../../lib/kube/resources';
import { clusterFinalizer, resources } from '../../../lib/operator/names';
import type { Cluster, Condition } from '../../../lib/operator/schemas';
import { type ConditionUpdate, setCondition } from './conditions';
import type { Controller, SimContext } from './context';

// The operator's Cluster reconciler (operator-api.md, "Cluster"; procedure step 3): register,
// report whether Odoo answers, and on deletion have Odoo revoke the credential before letting
// the finalizer go. Odoo unreachable keeps the finalizer and retries with backoff.

export const decommissionPath = '/api/agent/cluster/decommission';
export const healthPath = '/api/agent/health';

type ClusterObject = Cluster & KubeObject;

/** One HTTP call to Odoo; a non-2xx answer is an error like a refused connection. */
async function callOdoo(ctx: SimContext, url: string, init: RequestInit = {}): Promise<void> {
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.odooTimeoutMs)]);
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal });
  } catch (err) {
    const e = err as Error & { cause?: { code?: string; message?: string } };
    const detail =
      e.name === 'TimeoutError'
        ? `no answer within ${ctx.odooTimeoutMs} ms`
        : (e.cause?.code ?? e.cause?.message ?? e.message);
    throw new Error(`${init.method ?? 'GET'} ${url}: ${detail}`);
  }
  const text = await res.text().catch(() => '');
  if (!res.ok)
    throw new Error(`${init.method ?? 'GET'} ${url}: HTTP ${res.status}${text ? ` ${text.slice(0, 200)}` : ''}`);
}

export function clusterController(namespace: string): Controller {
  // Per-Cluster retry state for the decommission call: the next attempt is not before `at`,
  // whatever watch events arrive meanwhile (our own status writes among them).
  const retries = new Map<string, { attempt: number; at: number }>();

  async function writeStatus(
    ctx: SimContext,
    c: ClusterObject,
    updates: ConditionUpdate[],
    extra: Record<string, unknown> = {},
  ) {
    let conditions: Condition[] | undefined = c.status?.conditions;
    let changed = Object.keys(extra).length > 0;
    for (const u of updates) {
      const r = setCondition(conditions, u, c.metadata.generation);
      conditions = r.conditions;
      changed ||= r.changed;
    }
    if (!changed) return;
    ctx.guard();
    await ctx.client.mergePatch(
      resources.clusters,
      c.metadata.name,
      c.metadata.namespace,
      { status: { ...extra, conditions } },
      { subresource: 'status' },
    );
    c.status = { ...c.status, ...extra, conditions };
  }

  /** Finalizers change with a JSON patch that tests the list first, so no one else's is lost. */
  async function patchFinalizers(ctx: SimContext, c: ClusterObject, next: string[]) {
    const current = c.metadata.finalizers;
    const ops: unknown[] = current ? [{ op: 'test', path: '/metadata/finalizers', value: current }] : [];
    ops.push(
      current
        ? { op: 'replace', path: '/metadata/finalizers', value: next }
        : { op: 'add', path: '/metadata/finalizers', value: next },
    );
    ctx.guard();
    await ctx.client.jsonPatch(resources.clusters, c.metadata.name, c.metadata.namespace, ops);
  }

  async function register(ctx: SimContext, c: ClusterObject) {
    if (!c.metadata.finalizers?.includes(clusterFinalizer)) {
      await patchFinalizers(ctx, c, [...(c.metadata.finalizers ?? []), clusterFinalizer]);
      ctx.log(`cluster ${c.metadata.name}: finalizer ${clusterFinalizer} added`);
      return { requeueAfterMs: 0 };
    }
    const clusterID = c.status?.clusterID || randomUUID();
    const odoo = c.spec.odoo?.url ?? ctx.odooUrl;
    let reachable: ConditionUpdate;
    if (!odoo) {
      reachable = {
        type: 'OdooReachable',
        status: 'Unknown',
        reason: 'NoOdooURL',
        message: 'spec.odoo.url is not set',
      };
    } else {
      try {
        await callOdoo(ctx, `${odoo}${healthPath}`);
        reachable = {
          type: 'OdooReachable',
          status: 'True',
          reason: 'HealthCheckSucceeded',
          message: `${odoo} answers`,
        };
      } catch (err) {
        reachable = {
          type: 'OdooReachable',
          status: 'False',
          reason: 'HealthCheckFailed',
          message: (err as Error).message,
        };
      }
    }
    await writeStatus(
      ctx,
      c,
      [
        { type: 'Registered', status: 'True', reason: 'Registered', message: `registered with Odoo as ${clusterID}` },
        reachable,
      ],
      c.status?.clusterID === clusterID ? {} : { clusterID },
    );
    // Odoo's reachability is re-checked now and then, like any controller's resync.
    return { requeueAfterMs: ctx.healthIntervalMs };
  }

  async function decommission(ctx: SimContext, c: ClusterObject) {
    const key = `${c.metadata.namespace}/${c.metadata.name}`;
    if (!c.metadata.finalizers?.includes(clusterFinalizer)) {
      retries.delete(key);
      return;
    }
    const acknowledged = c.status?.conditions?.find((x) => x.type === 'Decommissioning')?.status === 'True';
    if (!acknowledged && !c.status?.clusterID) {
      // Never registered (deleted before the operator got to it): Odoo holds nothing to revoke.
      await writeStatus(ctx, c, [
        {
          type: 'Decommissioning',
          status: 'True',
          reason: 'NeverRegistered',
          message: 'the cluster never registered with Odoo; nothing to revoke',
        },
      ]);
    } else if (!acknowledged) {
      const retry = retries.get(key);
      const wait = (retry?.at ?? 0) - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      const odoo = c.spec.odoo?.url ?? ctx.odooUrl;
      const clusterID = c.status?.clusterID;
      try {
        if (!odoo) throw new Error('spec.odoo.url is not set');
        await callOdoo(ctx, `${odoo}${decommissionPath}`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json' },
          body: JSON.stringify({ clusterID }),
        });
      } catch (err) {
        if (ctx.signal.aborted) return;
        const attempt = (retry?.attempt ?? 0) + 1;
        const delay = Math.min(ctx.decommissionBackoff.initialMs * 2 ** (attempt - 1), ctx.decommissionBackoff.maxMs);
        retries.set(key, { attempt, at: Date.now() + delay });
        const message = (err as Error).message;
        await writeStatus(ctx, c, [
          { type: 'Decommissioning', status: 'False', reason: 'OdooUnreachable', message },
          { type: 'OdooReachable', status: 'False', reason: 'DecommissionFailed', message },
        ]);
        ctx.log(
          `cluster ${c.metadata.name}: decommission failed (attempt ${attempt}, next in ${delay} ms): ${message}`,
        );
        return { requeueAfterMs: delay };
      }
      retries.delete(key);
      await writeStatus(ctx, c, [
        {
          type: 'Decommissioning',
          status: 'True',
          reason: 'Acknowledged',
          message: `Odoo acknowledged the decommission of ${clusterID}; credential revoked`,
        },
        { type: 'OdooReachable', status: 'True', reason: 'DecommissionAcknowledged', message: `${odoo} answers` },
      ]);
      ctx.log(`cluster ${c.metadata.name}: Odoo acknowledged the decommission of ${clusterID}`);
    }
    await patchFinalizers(
      ctx,
      c,
      (c.metadata.finalizers ?? []).filter((f) => f !== clusterFinalizer),
    );
    ctx.log(`cluster ${c.metadata.name}: finalizer removed`);
  }

  return {
    name: 'clusters',
    watches: [{ resource: resources.clusters, namespaces: [namespace] }],
    async reconcile(ctx, ns, name) {
      const c = await ctx.client.find<ClusterObject>(resources.clusters, name, ns);
      if (!c) {
        retries.delete(`${ns}/${name}`);
        return;
      }
      c.spec ??= {};
      try {
        return c.metadata.deletionTimestamp ? await decommission(ctx, c) : await register(ctx, c);
      } catch (err) {
        // A finalizer patch whose test failed, or an object gone meanwhile: the watch has news.
        if (isConflict(err) || isNotFound(err) || (err as { status?: number }).status === 422)
          return { requeueAfterMs: 50 };
        throw err;
      }
    },
  };
}
