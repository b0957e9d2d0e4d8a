import { helmReleaseName, kinds, operatorCrds, operatorNamespace, veleroNamespace } from '../support/contract';
import type { KubeObject } from '../support/kube';
import { upstream } from '../support/kinds';
import type { ClusterFacts } from './facts';
import { touchedAnnotation, type Injector, isPaused } from './faults';
import type { Observer } from './observer';
import { type Run, realWrites } from './runs';
import type { Schedule } from './schedule';
import type { ChaosWorld } from './world';

// The promises kubectl vw makes, checked after every run against the cluster, the proxies' record
// of writes and the checker's own watches. Each returns the violations it found, as sentences.

export interface CheckContext {
  cw: ChaosWorld;
  schedule: Schedule;
  observer: Observer;
  injector: Injector;
  /** Every run of the schedule so far. */
  runs: Run[];
}

const documented = new Set([0, 1, 3, 4, 130]);
const stackTrace = /^\s+at .+:\d+:\d+\)?$|^node:internal|Unhandled(Promise)?Rejection|^\s*\w*Error: .*\n\s+at /m;

/** Exit codes are the README's, never 2 for valid input, and no stack trace. */
export function checkExit(run: Run): string[] {
  const out: string[] = [];
  const code = run.exitCode;
  // Killed by the very signal chaos sent (SIGKILL, or SIGINT/SIGTERM before Node ran a line of
  // ours): a shell reports 128+n.
  if ((code === null || code === undefined) && run.signal && run.signal === run.killedWith) return checkTrace(run);
  if (code === null || code === undefined) out.push(`${run.label} ended by ${run.signal} that chaos did not send`);
  else if (!documented.has(code)) out.push(`${run.label} exited ${code}, not a documented code for this run`);
  else if (code === 130 && !run.killedWith) out.push(`${run.label} exited 130 without being interrupted`);
  return [...out, ...checkTrace(run)];
}

function checkTrace(run: Run): string[] {
  return stackTrace.test(run.stderr) ? [`${run.label} printed a stack trace`] : [];
}

const crdPath = /^\/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions\/([^/]+)$/;
const namespacedPath = /^\/apis?\/(?:[^/]+\/)?[^/]+\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;

/** Every write is to something kubectl vw selected, created, or owns; nothing else is touched. */
export function checkWrites(run: Run, ctx: CheckContext): string[] {
  const out: string[] = [];
  for (const w of realWrites(run)) {
    const why = forbidden(w.method, w.path, ctx);
    if (why) out.push(`${run.label}: ${w.method} ${w.path}: ${why}`);
  }
  return out;
}

function forbidden(method: string, path: string, ctx: CheckContext): string | undefined {
  const { schedule, cw } = ctx;
  const crd = crdPath.exec(path);
  if (crd)
    return method === 'DELETE' && schedule.wipe && (operatorCrds as readonly string[]).includes(crd[1] as string)
      ? undefined
      : 'a CRD';
  if (path === `/api/v1/namespaces/${operatorNamespace}`)
    return method === 'DELETE' && schedule.wipe ? undefined : 'the operator namespace';
  const m = namespacedPath.exec(path);
  if (!m) return 'nothing kubectl vw may write';
  const [, namespace, plural, name] = m;
  if (namespace === operatorNamespace) return undefined; // the release's own objects, by helm, and the Cluster
  if (namespace === 'kube-system' && plural === 'configmaps' && (!name || name === 'kubectl-vw-decommission'))
    return undefined;
  switch (plural) {
    case 'applicationinstances':
      return method === 'POST' ? 'created an ApplicationInstance' : undefined;
    case 'operations':
      return method === 'POST' || method === 'DELETE' ? undefined : 'changed an Operation';
    case 'helmreleases':
      if (!schedule.suspendHelmReleases) return 'a HelmRelease without --suspend-helmreleases';
      if (cw.handSuspended.includes(`${namespace}/${name}`)) return 'a HelmRelease suspended by hand';
      return method === 'PATCH' ? undefined : `${method} of a HelmRelease`;
    default:
      return `${plural} in ${namespace}`;
  }
}

const appDelete = /^\/apis\/apps\.vworkspace\.io\/v1alpha1\/namespaces\/([^/]+)\/applicationinstances\/([^/]+)$/;

/** No ApplicationInstance is deleted by kubectl vw without a final backup that counts. */
export function checkDeletions(run: Run, ctx: CheckContext): string[] {
  if (ctx.schedule.skipBackup) return [];
  const out: string[] = [];
  for (const w of realWrites(run)) {
    const m = w.method === 'DELETE' && appDelete.exec(w.path);
    if (!m || (w.status !== 200 && w.status !== 202 && w.outcome !== 'dropped')) continue;
    const app = `${m[1]}/${m[2]}`;
    const verdict = ctx.observer.verdicts.get(app);
    if (!verdict) out.push(`${run.label} deleted ${app}, and the checker never saw it go`);
    else if (!verdict.counted)
      out.push(`${run.label} deleted ${app} without a final backup that counts: ${verdict.why}`);
  }
  return out;
}

/** What was paused, suspended or annotated by hand stays so; objects of others are untouched. */
export async function checkHandObjects(ctx: CheckContext): Promise<string[]> {
  const { kube, handPaused, handSuspended, sentinels } = ctx.cw;
  const out: string[] = [];
  const find = async (r: Parameters<typeof kube.find>[0], key: string) => {
    const [ns, name] = key.split('/') as [string, string];
    return kube.find(r, name, ns).catch(() => undefined);
  };
  for (const key of handPaused) {
    const app = await find(kinds.applicationInstances, key);
    if (app && !isPaused(app)) out.push(`${key}, paused by hand, is no longer paused`);
  }
  for (const key of handSuspended) {
    const hr = await find(upstream.helmReleases, key);
    if (hr && (hr.spec as { suspend?: boolean })?.suspend !== true)
      out.push(`HelmRelease ${key}, suspended by hand, is not`);
  }
  for (const e of ctx.injector.handEdits.filter((x) => x.edit === 'annotate' && x.target)) {
    const app = await find(kinds.applicationInstances, e.target as string);
    if (app && !app.metadata.annotations?.[touchedAnnotation]) out.push(`${e.target} lost an annotation set by hand`);
  }
  for (const s of sentinels) {
    const now = await kube.find(s.resource, s.name, s.namespace).catch(() => undefined);
    if (!now) out.push(`${s.resource.kind} ${s.namespace}/${s.name}, not kubectl vw's, is gone`);
    else if (now.metadata.resourceVersion !== s.resourceVersion)
      out.push(`${s.resource.kind} ${s.namespace}/${s.name}, not kubectl vw's, was changed`);
  }
  return out;
}

/** No run holds the lock once every run has ended (a SIGKILLed one is taken over by the next). */
export async function checkLease(ctx: CheckContext, lastRuns: Run[], allRuns: Run[] = lastRuns): Promise<string[]> {
  if (lastRuns.some((r) => r.killedWith === 'SIGKILL')) return [];
  const lease = await ctx.cw.kube.find(
    { group: 'coordination.k8s.io', version: 'v1', plural: 'leases', kind: 'Lease', namespaced: true },
    'kubectl-vw',
    'kube-system',
  );
  const holder = (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
  // A SIGKILLed run cannot let go; its lease stays until a run with work to do takes it over.
  const pid = Number(holder?.split('/')[1]);
  if (allRuns.some((r) => r.killedWith === 'SIGKILL' && r.child.pid === pid)) return [];
  return holder ? [`the lock is still held by ${holder} after every run ended`] : [];
}

/** No two runs changed things at the same time: their spans of writes never overlap. */
export function checkOverlap(runs: Run[]): string[] {
  const spans = runs
    .map((r) => ({ r, t: realWrites(r).map((w) => w.time.getTime()) }))
    .filter((s) => s.t.length)
    .map((s) => ({ r: s.r, from: Math.min(...s.t), to: Math.max(...s.t) }));
  const out: string[] = [];
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++) {
      const a = spans[i] as (typeof spans)[number];
      const b = spans[j] as (typeof spans)[number];
      if (a.from < b.to && b.from < a.to)
        out.push(
          `${a.r.label} and ${b.r.label} both wrote between ${new Date(Math.max(a.from, b.from)).toISOString()} and ${new Date(Math.min(a.to, b.to)).toISOString()}`,
        );
    }
  return out;
}

/** At the end: what persists, as kubectl vw reports it, is what the cluster holds. */
export function checkPersists(
  report: PersistsJson,
  facts: ClusterFacts,
  odooRevoked: string[],
  record?: KubeObject,
): string[] {
  const out: string[] = [];
  const reported = report.retainedVolumes.map((v) => v.name).sort();
  if (reported.join(',') !== facts.retainPVs.join(','))
    out.push(
      `what persists lists Retain PVs [${reported.join(', ')}], the cluster has [${facts.retainPVs.join(', ')}]`,
    );
  const count = report.backups.reduce((n, b) => n + b.count, 0);
  const actual = facts.veleroBackups.filter((b) => b.metadata.namespace === veleroNamespace).length;
  if (count !== actual) out.push(`what persists counts ${count} Velero backups, the cluster has ${actual}`);
  const hrs = facts.helmReleases.map((h) => `${h.metadata.namespace}/${h.metadata.name}`).sort();
  if ([...report.helmReleases].sort().join(',') !== hrs.join(','))
    out.push(
      `what persists lists HelmReleases [${report.helmReleases.join(', ')}], the cluster has [${hrs.join(', ')}]`,
    );
  const outcome = (record?.data as { outcome?: string } | undefined)?.outcome;
  const id = report.odoo.clusterID;
  if (report.odoo.credential === 'revoked' && (!id || !odooRevoked.includes(id)))
    out.push(`what persists says Odoo revoked cluster ${id}, and Odoo never acknowledged it`);
  if (outcome === 'revoked' && (!id || !odooRevoked.includes(id)))
    out.push(`the step 3 record says revoked, and Odoo never acknowledged cluster ${id}`);
  if (outcome === 'forced') out.push('the step 3 record says forced, and no schedule forces');
  return out;
}

export interface PersistsJson {
  retainedVolumes: { name: string }[];
  backups: { storageLocation: string; count: number }[];
  helmReleases: string[];
  odoo: { clusterID?: string; credential: string };
}

export const releaseName = helmReleaseName;
