import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { planText, writePlanFile } from '../../steps/plan-file/file';
import { makePlan } from '../../steps/plan-file/make';
import type { UninstallPlan } from '../../steps/plan-file/document';
import { info, plural, warn } from '../io';
import { planOptionsOf, requireIdentity } from '../plan-options';
import { pluginVersion } from '../program';
import type { UninstallOptions } from './uninstall';
import { uninstallNeedsOf, validateUninstall } from './uninstall';
import { requireAccess, requireOperatorCrdsReadable } from '../../steps/preflight';

/** One paragraph on stderr: what the plan does, so the maker sees it before handing it on. */
function summary(p: UninstallPlan): string {
  const a = p.actions;
  const count = (f: (x: (typeof a.applications)[number]) => boolean) => a.applications.filter(f).length;
  const takes = count((x) => ['create', 'retake', 'retry', 'unpaused'].includes(x.finalBackup.action));
  const parts = [
    `${plural(a.applications.length, 'application')} (${count((x) => x.pause === 'pause')} to pause)`,
    p.options.skipBackup
      ? 'no final backups (--skip-backup)'
      : `final backups: ${takes} to take, ${count((x) => x.finalBackup.action === 'keep')} that count to keep`,
    a.cluster ? `Cluster ${a.cluster.name} to ${a.cluster.action === 'delete' ? 'delete' : 'follow'}` : 'no Cluster',
    a.release
      ? `helm release revision ${a.release.revision} to uninstall (${a.release.deletes.length} objects)`
      : 'no release',
    ...(p.options.deleteApps ? [`${plural(a.operations.length, 'Operation')} to delete`] : []),
    ...(a.crds.length ? [`${plural(a.crds.length, 'CRD')} to delete`] : []),
    ...(a.namespace ? [`namespace ${a.namespace.name} to delete`] : []),
  ];
  return parts.join('; ');
}

/**
 * `kubectl vw uninstall --plan-out FILE`: the plan of this uninstall, as the cluster is now, each
 * step planned by its own plan function. It only reads: no lock, no write.
 */
export async function writeUninstallPlan(o: UninstallOptions, deps: Deps): Promise<number> {
  validateUninstall(o);
  const path = o.planOut ?? '-';
  const { client } = await deps.connect(o.connection);
  // What a client dry run of this uninstall reads, checked first (kubectl vw rbac uninstall --plan-out).
  await requireOperatorCrdsReadable(client);
  await requireAccess(client, uninstallNeedsOf(o));
  await requireIdentity(client);
  const plan = await makePlan(client, planOptionsOf(o), { now: deps.clock.now(), tool: pluginVersion });
  if (path === '-') deps.io.out(planText(plan, 'plan.yaml'));
  else await writePlanFile(plan, path);
  info(deps.io, `plan ${plan.digest}${path === '-' ? '' : ` written to ${path}`}: ${summary(plan)}`);
  for (const w of plan.warnings) warn(deps.io, w);
  const file = path === '-' ? 'FILE' : path;
  info(deps.io, `review it: kubectl vw plan show ${file}; run exactly it: kubectl vw uninstall --plan ${file}`);
  return ExitCode.ok;
}
