import { finalBackupCounts, type FinalBackupState } from '../../operator/final-backup';
import type { PlannedApplication, PlanOptions, UninstallPlan } from './document';

/** One way the cluster (or the command line) differs from the plan: + added, - removed, ~ changed. */
export interface Difference {
  sign: '+' | '-' | '~';
  what: string;
  detail: string;
}

export const differenceLine = (d: Difference) => `${d.sign} ${d.what}: ${d.detail}`;

/** The cluster as it is now, planned with the same options. */
export interface Live {
  plan: UninstallPlan;
  crdsInstalled: boolean;
}

const app = (a: PlannedApplication) => `ApplicationInstance ${a.namespace}/${a.name}`;

/**
 * Applications by uid: one the plan does not name is added (never silently included); one gone
 * is removed, unless the plan itself deletes it and step 3 is behind it (progress it foresaw).
 */
function applicationDrift(plan: UninstallPlan, live: Live): Difference[] {
  if (!live.crdsInstalled)
    return plan.options.deleteCrds
      ? []
      : [{ sign: '-', what: "the operator's CRDs", detail: 'gone since the plan, which keeps them' }];
  const planned = new Map(plan.actions.applications.map((a) => [a.uid, a]));
  const byName = new Map(plan.actions.applications.map((a) => [`${a.namespace}/${a.name}`, a]));
  const now = new Set(live.plan.actions.applications.map((a) => a.uid));
  const out: Difference[] = [];
  for (const a of live.plan.actions.applications) {
    if (planned.has(a.uid)) continue;
    const same = byName.get(`${a.namespace}/${a.name}`);
    out.push(
      same
        ? { sign: '~', what: app(a), detail: `uid changed: ${same.uid} in the plan, ${a.uid} now (another object)` }
        : { sign: '+', what: app(a), detail: `added since the plan (uid ${a.uid}): the plan never touches it` },
    );
  }
  const step3Behind = !live.plan.actions.cluster;
  for (const a of plan.actions.applications) {
    if (now.has(a.uid) || (a.delete && step3Behind)) continue;
    if (live.plan.actions.applications.some((x) => x.namespace === a.namespace && x.name === a.name)) continue;
    out.push({ sign: '-', what: app(a), detail: `removed since the plan (uid ${a.uid})` });
  }
  return out;
}

/**
 * Final backups: a backup the plan keeps must still count, and stand on the Operation the plan
 * names; any other Operation now standing must be one the plan names or one its own run made.
 */
function backupDrift(plan: UninstallPlan, live: Live): Difference[] {
  if (plan.options.skipBackup) return [];
  const now = new Map(live.plan.actions.applications.map((a) => [a.uid, a]));
  const out: Difference[] = [];
  for (const a of plan.actions.applications) {
    const l = now.get(a.uid);
    const p = a.finalBackup;
    if (!l || p.action === 'none' || p.action === 'skip') continue;
    const lb = l.finalBackup;
    const what = `final backup of ${a.namespace}/${a.name}`;
    const ours = lb.plan === plan.digest;
    if (lb.operationUID && lb.operationUID !== p.operationUID && !ours)
      out.push({
        sign: '~',
        what,
        detail: `now Operation ${lb.operation} (uid ${lb.operationUID}, ${lb.state}), not ${p.operationUID ? `${p.operation} (uid ${p.operationUID}) as planned` : 'one the plan takes'}`,
      });
    else if (p.action === 'keep' && !finalBackupCounts(lb.state as FinalBackupState))
      out.push({
        sign: '~',
        what,
        detail: `no longer counts (${lb.detail ?? lb.state}); the plan keeps it as the backup that counts`,
      });
  }
  return out;
}

function clusterDrift(plan: UninstallPlan, live: Live): Difference[] {
  const p = plan.actions.cluster;
  const l = live.plan.actions.cluster;
  if (!l) return []; // gone: step 3, as the plan foresaw (or done before it)
  const what = `Cluster ${l.namespace}/${l.name}`;
  if (!p) return [{ sign: '+', what, detail: `appeared since the plan (uid ${l.uid})` }];
  if (p.uid !== l.uid)
    return [{ sign: '~', what, detail: `replaced: uid ${p.uid} in the plan, ${l.uid} now (another Cluster)` }];
  return [];
}

function releaseDrift(plan: UninstallPlan, live: Live): Difference[] {
  const p = plan.actions.release;
  const l = live.plan.actions.release;
  if (!l) return []; // uninstalled: step 5, as the plan foresaw (or done before it)
  const what = `helm release ${l.namespace}/${l.name}`;
  if (!p) return [{ sign: '+', what, detail: `installed since the plan (revision ${l.revision})` }];
  if (p.revision !== l.revision || p.storageUID !== l.storageUID)
    return [
      {
        sign: '~',
        what,
        detail: `revision ${l.revision} now (${l.status}); the plan uninstalls revision ${p.revision}`,
      },
    ];
  return [];
}

/** Objects the plan deletes by uid (Operations, CRDs, the namespace, HelmReleases it suspends). */
function objectDrift(plan: UninstallPlan, live: Live): Difference[] {
  const out: Difference[] = [];
  const planned = new Set(plan.actions.operations.map((o) => o.uid));
  for (const o of live.plan.actions.operations)
    if (!planned.has(o.uid) && o.plan !== plan.digest)
      out.push({
        sign: '+',
        what: `Operation ${o.namespace}/${o.name}`,
        detail: `added since the plan (uid ${o.uid}): step 4 would delete it, and the plan does not name it`,
      });
  const pairs: [string, { name: string; namespace?: string; uid: string }[], { name: string; uid: string }[]][] = [
    ['CustomResourceDefinition', plan.actions.crds, live.plan.actions.crds],
    [
      'Namespace',
      plan.actions.namespace ? [plan.actions.namespace] : [],
      live.plan.actions.namespace ? [live.plan.actions.namespace] : [],
    ],
    ['HelmRelease', plan.actions.helmReleases, live.plan.actions.helmReleases],
  ];
  for (const [kind, was, now] of pairs)
    for (const l of now) {
      const p = was.find(
        (x) => x.name === l.name && (x.namespace ?? '') === ((l as { namespace?: string }).namespace ?? ''),
      );
      if (p && p.uid !== l.uid)
        out.push({
          sign: '~',
          what: `${kind} ${p.namespace ? `${p.namespace}/` : ''}${l.name}`,
          detail: `replaced: uid ${p.uid} in the plan, ${l.uid} now`,
        });
    }
  return out;
}

/** Every difference between the plan and the cluster now that the plan did not itself foresee. */
export function driftOf(plan: UninstallPlan, live: Live): Difference[] {
  return [
    ...applicationDrift(plan, live),
    ...backupDrift(plan, live),
    ...clusterDrift(plan, live),
    ...releaseDrift(plan, live),
    ...objectDrift(plan, live),
  ];
}

/** The command-line flag each plan option comes from. */
export const optionFlags: Record<keyof PlanOptions, string> = {
  ttl: '--ttl',
  skipBackup: '--skip-backup',
  storageLocation: '--storage-location',
  suspendHelmReleases: '--suspend-helmreleases',
  deleteApps: '--delete-apps',
  deleteCrds: '--delete-crds',
  deleteNamespace: '--delete-namespace',
  deleteReleaseCrds: '--delete-release-crds',
  expiryMargin: '--expiry-margin',
  veleroNamespace: '--velero-namespace',
  allowShortTtl: '--allow-short-ttl',
};

/**
 * Flags given on the command line that say otherwise than the plan: a run of a plan takes its
 * options from the plan, and a different one is a difference, never an override.
 */
export function optionDrift(
  plan: PlanOptions,
  given: Partial<PlanOptions>,
  same: (k: keyof PlanOptions, a: unknown, b: unknown) => boolean = (_k, a, b) => a === b,
): Difference[] {
  const out: Difference[] = [];
  for (const k of Object.keys(optionFlags) as (keyof PlanOptions)[]) {
    if (!(k in given) || given[k] === undefined) continue;
    if (!same(k, plan[k], given[k]))
      out.push({
        sign: '~',
        what: `option ${optionFlags[k]}`,
        detail: `${JSON.stringify(given[k])} on the command line, ${JSON.stringify(plan[k])} in the plan`,
      });
  }
  return out;
}
