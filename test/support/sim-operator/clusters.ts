import { randomUUID } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  type Cluster,
  type Condition,
  clusterConditions,
  clusterFinalizer,
  kinds,
  odooDecommissionPath,
  odooUnreachable,
} from '../contract';
import { isConflict, isInvalid, isNotFound, type KubeObject, sleep } from '../kube';
import { type ConditionUpdate, setCondition } from './conditions';
import { type Controller, metadataOrSpecChanged, type SimContext } from './context';

// The operator's Cluster reconciler (operator-api.md, "Cluster"; procedure step 3), doing only
// what the contract says: register (its finalizer, status.clusterID, Registered=True), report
// OdooReachable (from a periodic health call: how it is fed is the operator's business), and on
// deletion POST the decommission to Odoo and remove its finalizer only on a 2xx answer. Any other
// outcome keeps the finalizer, sets Decommissioning=False/OdooUnreachable with the error in the
// message, and fails the reconcile, so the work queue retries it with exponential backoff.

/** The fake Odoo's health endpoint: not in the contract, the operator's own business. */
export const healthPath = '/api/agent/health';

type ClusterObject = Cluster & KubeObject;

class OdooError extends Error {
  constructor(
    message: string,
    /** The HTTP status Odoo answered; undefined when it did not answer at all. */
    readonly status?: number,
  ) {
    super(message);
  }
}

/** One HTTP call to Odoo on a connection of its own; a non-2xx answer is an OdooError with its status. */
function callOdoo(ctx: SimContext, url: string, method = 'GET', body?: unknown): Promise<void> {
  const text = body === undefined ? undefined : JSON.stringify(body);
  const target = new URL(url);
  const transport = target.protocol === 'https:' ? https : http;
  const signal = AbortSignal.any([ctx.signal, AbortSignal.timeout(ctx.odooTimeoutMs)]);
  return new Promise<void>((resolve, reject) => {
    const req = transport.request(
      target,
      {
        method,
        agent: false,
        signal,
        headers: {
          'User-Agent': ctx.userAgent,
          Accept: 'application/json',
          ...(text !== undefined
            ? { 'Content-Type': 'application/json', 'Content-Length': String(Buffer.byteLength(text)) }
            : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (e) => reject(new OdooError(`${method} ${url}: ${e.message}`)));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const answer = Buffer.concat(chunks).toString('utf8').trim();
          if (status >= 200 && status < 300) return resolve();
          reject(new OdooError(`${method} ${url}: HTTP ${status}${answer ? ` ${answer.slice(0, 200)}` : ''}`, status));
        });
      },
    );
    req.on('error', (e: Error & { code?: string }) => {
      const detail =
        e.name === 'AbortError' && !ctx.signal.aborted
          ? `no answer within ${ctx.odooTimeoutMs} ms`
          : (e.code ?? e.message);
      reject(new OdooError(`${method} ${url}: ${detail}`));
    });
    if (text !== undefined) req.write(text);
    req.end();
  });
}

/** A failure to Odoo that says Odoo is not there (as opposed to an answer refusing us). */
const unreachable = (err: OdooError) => err.status === undefined || err.status >= 500;

export function clusterController(namespace: string): Controller {
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
    const written = await ctx.kube.patchStatus<ClusterObject>(kinds.clusters, c.metadata.name, c.metadata.namespace, {
      ...extra,
      conditions,
    });
    c.status = written.status;
    c.metadata.resourceVersion = written.metadata.resourceVersion;
  }

  /** Finalizers change with a JSON patch that tests the list first, so no one else's is lost. */
  async function patchFinalizers(ctx: SimContext, c: ClusterObject, next: string[]) {
    const current = c.metadata.finalizers;
    const ops: unknown[] = current
      ? [
          { op: 'test', path: '/metadata/finalizers', value: current },
          { op: 'replace', path: '/metadata/finalizers', value: next },
        ]
      : [{ op: 'add', path: '/metadata/finalizers', value: next }];
    ctx.guard();
    const written = await ctx.kube.jsonPatch<ClusterObject>(kinds.clusters, c.metadata.name, c.metadata.namespace, ops);
    c.metadata = written.metadata;
  }

  async function health(ctx: SimContext, odoo: string | undefined): Promise<ConditionUpdate> {
    const type = clusterConditions.odooReachable;
    if (!odoo) return { type, status: 'Unknown', reason: 'NoOdooURL', message: 'spec.odoo.url is not set' };
    try {
      await callOdoo(ctx, `${odoo}${healthPath}`);
      return { type, status: 'True', reason: 'HealthCheckSucceeded', message: `${odoo} answers` };
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      return { type, status: 'False', reason: 'HealthCheckFailed', message: (err as Error).message };
    }
  }

  async function register(ctx: SimContext, c: ClusterObject) {
    const registration = ctx.faults.registration;
    if (registration === 'withheld') {
      ctx.log(`cluster ${c.metadata.name}: registration withheld (fault)`);
      return undefined;
    }
    if (!c.metadata.finalizers?.includes(clusterFinalizer)) {
      if (ctx.faults.registrationDelayMs > 0) await sleep(ctx.faults.registrationDelayMs, ctx.signal);
      await patchFinalizers(ctx, c, [...(c.metadata.finalizers ?? []), clusterFinalizer]);
      ctx.log(`cluster ${c.metadata.name}: finalizer ${clusterFinalizer} added`);
    }
    const odoo = c.spec?.odoo?.url || ctx.odooUrl;
    const reachable = await health(ctx, odoo);
    if (registration === 'finalizerOnly') {
      // The exchange with Odoo never completes: no clusterID, not Registered.
      await writeStatus(ctx, c, [reachable]);
      return { requeueAfterMs: ctx.healthIntervalMs };
    }
    const clusterID = c.status?.clusterID || randomUUID();
    await writeStatus(
      ctx,
      c,
      [
        {
          type: clusterConditions.registered,
          status: 'True',
          reason: 'Registered',
          message: `registered with Odoo as ${clusterID}`,
        },
        reachable,
      ],
      c.status?.clusterID === clusterID ? {} : { clusterID },
    );
    // Odoo's reachability is checked again now and then, as a resync would.
    return { requeueAfterMs: ctx.healthIntervalMs };
  }

  async function decommission(ctx: SimContext, c: ClusterObject) {
    if (!c.metadata.finalizers?.includes(clusterFinalizer)) return undefined;
    const odoo = c.spec?.odoo?.url || ctx.odooUrl;
    const clusterID = c.status?.clusterID ?? '';
    try {
      if (!odoo) throw new OdooError('spec.odoo.url is not set');
      await callOdoo(ctx, `${odoo}${odooDecommissionPath}`, 'POST', { clusterID });
    } catch (err) {
      if (ctx.signal.aborted) throw err;
      const e = err as OdooError;
      const updates: ConditionUpdate[] = [
        { type: clusterConditions.decommissioning, status: 'False', reason: odooUnreachable, message: e.message },
      ];
      if (unreachable(e)) {
        updates.push({
          type: clusterConditions.odooReachable,
          status: 'False',
          reason: 'DecommissionFailed',
          message: e.message,
        });
      }
      await writeStatus(ctx, c, updates);
      // Failing the reconcile is what makes it retry, with backoff.
      throw new Error(`cluster ${c.metadata.name}: decommission of ${JSON.stringify(clusterID)} failed: ${e.message}`);
    }
    ctx.log(`cluster ${c.metadata.name}: Odoo acknowledged the decommission of ${JSON.stringify(clusterID)}`);
    // It reached Odoo: as a failure said OdooReachable=False, this says True again.
    await writeStatus(ctx, c, [
      { type: clusterConditions.odooReachable, status: 'True', reason: 'Reachable', message: `${odoo} answered` },
    ]);
    await patchFinalizers(
      ctx,
      c,
      (c.metadata.finalizers ?? []).filter((f) => f !== clusterFinalizer),
    );
    ctx.log(`cluster ${c.metadata.name}: finalizer ${clusterFinalizer} removed`);
    return undefined;
  }

  return {
    name: 'clusters',
    userAgent: undefined,
    // Its own status writes are no reason to run again (a retry waits for its backoff).
    watches: [{ resource: kinds.clusters, namespaces: [namespace], predicate: metadataOrSpecChanged }],
    async reconcile(ctx, ns, name) {
      const c = await ctx.kube.find<ClusterObject>(kinds.clusters, name, ns);
      if (!c) return undefined;
      try {
        return c.metadata.deletionTimestamp ? await decommission(ctx, c) : await register(ctx, c);
      } catch (err) {
        // A finalizer patch whose test failed (422), or the object changed or gone meanwhile:
        // the watch brings the news.
        if (isConflict(err) || isInvalid(err)) return { requeueAfterMs: 50 };
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}
