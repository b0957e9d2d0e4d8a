import { interruptBackstopMs } from '../../lib/kube/interruption';
import { kinds, operatorCrds, operatorNamespace, veleroNamespace } from '../support/contract';
import type { KubeObject } from '../support/kube';
import { upstream } from '../support/kinds';
import type { Decoy } from './decoy';
import type { ClusterFacts } from './facts';
import { type Injector, isPaused, touchedAnnotation } from './faults';
import type { LeaseTimeline } from './lease-watch';
import type { Observer } from './observer';
import { type Run, realWrites } from './runs';
import type { Schedule } from './schedule';
import type { Tally } from './tally';
import type { ChaosWorld } from './world';

// The promises kubectl vw makes, checked after every run against the cluster, the proxies' record
// of writes and the checker's own watches. Each returns the violations it found, as sentences,
// and counts on the tally the cases it examined.

export interface CheckContext {
  cw: ChaosWorld;
  schedule: Schedule;
  observer: Observer;
  injector: Injector;
  lease: LeaseTimeline;
  decoy: Decoy;
  tally: Tally;
  /** Every run of the schedule so far. */
  runs: Run[];
  /** Cases already judged (verdicts, deletions, writes), so each is judged and counted once. */
  checked: Set<unknown>;
}

const documented = new Set([0, 1, 3, 4, 130]);
const stackTrace = /^\s+at .+:\d+:\d+\)?$|^node:internal|Unhandled(Promise)?Rejection|^\s*\w*Error: .*\n\s+at /m;
/** A signal that came as the run was already ending may find its work done: it exits as it would have (see releasedBefore too). */
const endingMs = 50;
/**
 * An interrupted run ends within 2.5 s whatever it waits on (lib/kube/interruption.ts); the slack
 * is for a process start and exit on a machine shared by two worlds, not for the product.
 */
const interruptedEndsWithinMs = interruptBackstopMs + 2_500;

/** Exit codes are the README's, 130 after SIGINT or SIGTERM, never 2 for valid input, and no stack trace. */
export function checkExit(run: Run, tally: Tally): string[] {
  tally.count('exit');
  const out: string[] = [];
  const code = run.exitCode;
  // Killed by the very signal chaos sent (SIGKILL, or SIGINT/SIGTERM before Node ran a line of
  // ours): a shell reports 128+n.
  if ((code === null || code === undefined) && run.signal && run.signal === run.killedWith) return checkTrace(run);
  if (code === null || code === undefined) out.push(`${run.label} ended by ${run.signal} that chaos did not send`);
  else if (!documented.has(code)) out.push(`${run.label} exited ${code}, not a documented code for this run`);
  else if (code === 130 && !run.killedWith) out.push(`${run.label} exited 130 without being interrupted`);
  else if ((run.killedWith === 'SIGINT' || run.killedWith === 'SIGTERM') && code !== 130) {
    const ending = code === 0 && ((run.exitedAt ?? Infinity) - (run.killedAt ?? 0) < endingMs || releasedBefore(run));
    if (!ending) out.push(`${run.label} was sent ${run.killedWith} and exited ${code}, not 130`);
  }
  if ((run.killedWith === 'SIGINT' || run.killedWith === 'SIGTERM') && run.exitedAt && run.killedAt) {
    const took = run.exitedAt - run.killedAt;
    if (took > interruptedEndsWithinMs)
      out.push(`${run.label} was sent ${run.killedWith} and took ${(took / 1000).toFixed(1)}s to end (2.5 s at most)`);
  }
  return [...out, ...checkTrace(run)];
}

/**
 * The run had let go of the lock (a release answered) before the signal came: its work was done,
 * and only its printing was left, however long a loaded machine took to get there.
 */
function releasedBefore(run: Run): boolean {
  return run.proxy.requests.some((q) => {
    if (q.method !== 'PUT' || !q.path.includes('/leases/') || !q.status || q.status >= 300) return false;
    if (q.time.getTime() >= (run.killedAt ?? 0)) return false;
    try {
      const lease = JSON.parse(q.body ?? '') as { spec?: { holderIdentity?: string } };
      return !lease.spec?.holderIdentity;
    } catch {
      return false;
    }
  });
}

function checkTrace(run: Run): string[] {
  return stackTrace.test(run.stderr) ? [`${run.label} printed a stack trace`] : [];
}

const crdPath = /^\/apis\/apiextensions\.k8s\.io\/v1\/customresourcedefinitions\/([^/]+)$/;
const namespacedPath = /^\/apis?\/(?:[^/]+\/)?[^/]+\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(?:\/([^/]+))?$/;
const releaseRecord = /^sh\.helm\.release\.v1\.vworkspace-app-operator\.v\d+$/;

/** Every write is to something kubectl vw selected, created, or owns; nothing else is touched. */
export function checkWrites(run: Run, ctx: CheckContext): string[] {
  const out: string[] = [];
  for (const w of realWrites(run)) {
    ctx.tally.count('writes');
    const why = forbidden(w.method, w.path, ctx);
    if (why) out.push(`${run.label}: ${w.method} ${w.path}: ${why}`);
  }
  return out;
}

/** In the operator's namespace, only what the plan names: the release's objects and records, the Cluster. */
function operatorNamespaceWrite(method: string, plural: string, name: string | undefined, ctx: CheckContext) {
  ctx.tally.count('operator-namespace');
  if (plural === 'clusters' && name) return undefined; // step 3: the delete and its observer finalizer
  if (plural === 'events' && method === 'POST') return undefined;
  // helm's release records: marked uninstalling (PUT), then deleted.
  if (plural === 'secrets' && name && releaseRecord.test(name) && (method === 'PUT' || method === 'DELETE'))
    return undefined;
  if (method !== 'DELETE' || !name) return `${method} of ${plural} in the operator namespace`;
  if (ctx.cw.releaseObjects.has(`${plural}/${name}`)) return undefined;
  return `${plural}/${name} in the operator namespace, which the release does not hold`;
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
  if (namespace === operatorNamespace) return operatorNamespaceWrite(method, plural as string, name, ctx);
  if (namespace === 'kube-system' && plural === 'configmaps' && (!name || name === 'kubectl-vw-decommission'))
    return undefined;
  switch (plural) {
    case 'applicationinstances':
      if (method === 'POST') return 'created an ApplicationInstance';
      if (method === 'DELETE' && !schedule.deleteApps) return 'deleted an ApplicationInstance without --delete-apps';
      return undefined;
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

/**
 * No ApplicationInstance goes without a final backup that counts, however it goes: deleted alone
 * or by collection, with its namespace, or with its CRD (the checker's watches see each way),
 * unless the schedule skipped backups or a hand deleted it. A delete of one that the proxies saw
 * succeed must also have been seen by the watches.
 */
export function checkDeletions(runs: Run[], ctx: CheckContext): string[] {
  const out: string[] = [];
  const byHand = new Set(ctx.injector.handEdits.filter((e) => e.edit === 'delete-application').map((e) => e.target));
  for (const v of ctx.observer.verdicts.values()) {
    if (ctx.checked.has(v)) continue;
    ctx.checked.add(v);
    ctx.tally.count('deletions');
    if (ctx.schedule.skipBackup || byHand.has(v.app) || v.counted) continue;
    out.push(`${v.app} went (${v.how}) without a final backup that counts: ${v.why}`);
  }
  for (const run of runs)
    for (const w of realWrites(run)) {
      const m = w.method === 'DELETE' && appDelete.exec(w.path);
      if (!m || (w.status !== 200 && w.status !== 202 && w.outcome !== 'dropped')) continue;
      const app = `${m[1]}/${m[2]}`;
      if (!ctx.observer.verdicts.has(app)) out.push(`${run.label} deleted ${app}, and the checker never saw it go`);
    }
  return out;
}

type Find = (r: Parameters<ChaosWorld['kube']['find']>[0], key: string) => Promise<KubeObject | undefined>;

/** An object of someone else's that is gone: only with an application that went as the procedure lets it. */
function goneWithItsApp(ctx: CheckContext, app: string, what: string): string[] {
  return ctx.observer.verdicts.has(app) ? [] : [`${what} is gone, and its application never went`];
}

/** What was paused, suspended or annotated by hand stays so (or went with its application); others' objects are untouched. */
export async function checkHandObjects(ctx: CheckContext): Promise<string[]> {
  const { kube, handPaused, handSuspended, sentinels } = ctx.cw;
  const out: string[] = [];
  const find: Find = async (r, key) => {
    const [ns, name] = key.split('/') as [string, string];
    return kube.find(r, name, ns).catch(() => undefined);
  };
  for (const key of handPaused) {
    ctx.tally.count('hand-objects');
    const app = await find(kinds.applicationInstances, key);
    if (!app) out.push(...goneWithItsApp(ctx, key, `${key}, paused by hand,`));
    else if (!isPaused(app)) out.push(`${key}, paused by hand, is no longer paused`);
  }
  for (const key of handSuspended) {
    ctx.tally.count('hand-objects');
    const hr = await find(upstream.helmReleases, key);
    if (!hr) out.push(...goneWithItsApp(ctx, key, `HelmRelease ${key}, suspended by hand,`));
    else if ((hr.spec as { suspend?: boolean })?.suspend !== true)
      out.push(`HelmRelease ${key}, suspended by hand, is not`);
  }
  for (const e of ctx.injector.handEdits.filter((x) => x.edit === 'annotate' && x.target)) {
    ctx.tally.count('hand-objects');
    const app = await find(kinds.applicationInstances, e.target as string);
    if (!app) out.push(...goneWithItsApp(ctx, e.target as string, `${e.target}, annotated by hand,`));
    else if (!app.metadata.annotations?.[touchedAnnotation]) out.push(`${e.target} lost an annotation set by hand`);
  }
  for (const s of sentinels) {
    ctx.tally.count('hand-objects');
    const now = await kube.find(s.resource, s.name, s.namespace).catch(() => undefined);
    if (!now) out.push(`${s.resource.kind} ${s.namespace}/${s.name}, not kubectl vw's, is gone`);
    else if (now.metadata.resourceVersion !== s.resourceVersion)
      out.push(`${s.resource.kind} ${s.namespace}/${s.name}, not kubectl vw's, was changed`);
  }
  return out;
}

/** Another cluster (the decoy the shell's HELM_* variables or the switched context name) is never reached. */
export function checkDecoy(runs: Run[], ctx: CheckContext): string[] {
  ctx.tally.count('decoy', runs.length);
  const seen = ctx.decoy.connections.filter((t) => !ctx.checked.has(`decoy ${t}`));
  for (const t of seen) ctx.checked.add(`decoy ${t}`);
  return seen.length
    ? [`${seen.length} connection(s) reached another cluster (the one the shell or the switched context named)`]
    : [];
}

/** No two runs changed things at the same time: their spans of writes never overlap. */
export function checkOverlap(runs: Run[], tally: Tally): string[] {
  const spans = runs
    .map((r) => ({ r, t: realWrites(r).map((w) => w.time.getTime()) }))
    .filter((s) => s.t.length)
    .map((s) => ({ r: s.r, from: Math.min(...s.t), to: Math.max(...s.t) }));
  const out: string[] = [];
  for (let i = 0; i < spans.length; i++)
    for (let j = i + 1; j < spans.length; j++) {
      tally.count('overlap');
      const a = spans[i] as (typeof spans)[number];
      const b = spans[j] as (typeof spans)[number];
      if (a.from < b.to && b.from < a.to)
        out.push(
          `${a.r.label} and ${b.r.label} both wrote between ${new Date(Math.max(a.from, b.from)).toISOString()} and ${new Date(Math.min(a.to, b.to)).toISOString()}`,
        );
    }
  return out;
}

/** At the end (or after a reinstall): what persists, as kubectl vw reports it, is what the cluster holds. */
export function checkPersists(
  report: PersistsJson,
  facts: ClusterFacts,
  odooRevoked: string[],
  tally: Tally,
  record?: KubeObject,
  lastClusterId?: string,
): string[] {
  tally.count('persists', 5);
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
  const { outcome, clusterID: recorded } = (record?.data ?? {}) as { outcome?: string; clusterID?: string };
  const id = report.odoo.clusterID;
  if (report.odoo.credential === 'revoked' && (!id || !odooRevoked.includes(id)))
    out.push(`what persists says Odoo revoked cluster ${id}, and Odoo never acknowledged it`);
  // Decidable only while the release stands and its first revision is newer than the record: an
  // installation after it. A reinstall over a release still standing is an upgrade (a revision 2,
  // as the product's own advice to helm upgrade keepCrds=true makes after step 3): no trace says
  // that a Cluster came and went since, so the report may speak of the recorded one.
  const recordedAt = Date.parse((record?.data as { startedAt?: string } | undefined)?.startedAt ?? '');
  const installedAfter = Date.parse(facts.installedAt ?? '') > recordedAt;
  if (report.odoo.credential === 'revoked' && facts.release && installedAfter && lastClusterId && id !== lastClusterId)
    out.push(`what persists says cluster ${id} was revoked, while the last Cluster registered was ${lastClusterId}`);
  // A record speaks for its own Cluster only: not for one installed again under the same name.
  const standing = facts.clusters.filter((c) => !c.metadata.deletionTimestamp);
  if (report.odoo.credential === 'revoked' && standing.length)
    out.push(`what persists says cluster ${id} was revoked, while Cluster ${standing[0]?.metadata.uid} stands`);
  if (outcome === 'revoked' && (!recorded || !odooRevoked.includes(recorded)))
    out.push(`the step 3 record says revoked, and Odoo never acknowledged cluster ${recorded}`);
  if (outcome === 'forced') out.push('the step 3 record says forced, and no schedule forces');
  return out;
}

export interface PersistsJson {
  retainedVolumes: { name: string }[];
  backups: { storageLocation: string; count: number }[];
  helmReleases: string[];
  odoo: { clusterID?: string; credential: string };
}

export type { LeaseTimeline };
