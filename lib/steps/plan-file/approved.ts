import type { KubeObject } from '../../kube/resources';
import { planAnnotation } from '../../operator/names';
import type { Refusal } from '../act';
import type { ApprovedPlan } from '../approved';
import type { UninstallPlan } from './document';

const shortDigest = (d: string) => d.slice(0, 19);
const named = (o: KubeObject) =>
  `${o.metadata.namespace ? `${o.metadata.namespace}/` : ''}${o.metadata.name} (uid ${o.metadata.uid})`;

/** The gates' added judgements for a run of this plan. */
export function approvedPlan(plan: UninstallPlan): ApprovedPlan {
  const short = shortDigest(plan.digest);
  const hint = 'make a new plan (kubectl vw uninstall --plan-out FILE ...) and have it reviewed';
  const apps = new Set(plan.actions.applications.map((a) => a.uid));
  const ops = new Set(plan.actions.operations.map((o) => o.uid));
  const backups = new Set(plan.actions.applications.map((a) => a.finalBackup.operationUID).filter(Boolean));
  const ours = (o: KubeObject) => o.metadata.annotations?.[planAnnotation] === plan.digest;
  const outside = (kind: string, items: KubeObject[]): Refusal | undefined => {
    if (!items.length) return undefined;
    const shown = items.slice(0, 5).map(named).join(', ');
    return {
      reason: `${kind} ${shown}${items.length > 5 ? ', ...' : ''} ${items.length === 1 ? 'is' : 'are'} not in plan ${short}: a plan never touches what it does not name`,
      hint,
    };
  };
  const byUid = (kind: string, want: { uid: string } | null | undefined, o: KubeObject | undefined) => {
    if (!o) return undefined;
    if (!want) return { reason: `plan ${short} does not delete ${kind} ${named(o)}`, hint };
    if (want.uid !== o.metadata.uid)
      return { reason: `${kind} ${named(o)} is not the one plan ${short} names (uid ${want.uid})`, hint };
    return undefined;
  };
  return {
    digest: plan.digest,
    annotation: { [planAnnotation]: plan.digest },
    instances: (items) =>
      outside(
        'ApplicationInstance',
        items.filter((i) => !apps.has(i.metadata.uid ?? '')),
      ),
    operations: (items) =>
      outside(
        'Operation',
        items.filter((o) => !ops.has(o.metadata.uid ?? '') && !ours(o)),
      ),
    finalBackup: (op) => (op && !backups.has(op.metadata.uid) && !ours(op) ? outside('Operation', [op]) : undefined),
    cluster: (c) => byUid('Cluster', plan.actions.cluster, c),
    release: (r) => {
      const p = plan.actions.release;
      if (!r) return undefined;
      if (!p) return { reason: `plan ${short} uninstalls no helm release (revision ${r.version} is there now)`, hint };
      if (p.revision !== r.version || (p.storageUID ?? undefined) !== r.storageUid)
        return {
          reason: `the release is at revision ${r.version} now; plan ${short} uninstalls revision ${p.revision}`,
          hint,
        };
      return undefined;
    },
    crds: (items) => {
      const wrong = items.filter(
        (c) => !plan.actions.crds.some((p) => p.name === c.metadata.name && p.uid === c.metadata.uid),
      );
      return outside('CustomResourceDefinition', wrong);
    },
    namespace: (ns) => byUid('Namespace', plan.actions.namespace, ns),
  };
}
