import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { identityDifferences, readClusterIdentity } from '../../kube/identity';
import { type Difference, driftOf } from '../../steps/plan-file/drift';
import { readPlanFile } from '../../steps/plan-file/file';
import { planAndFacts } from '../../steps/plan-file/make';
import type { UninstallPlan } from '../../steps/plan-file/document';
import type { CommonOptions } from '../flags';
import { info } from '../io';
import { document, printDocument } from '../output';
import { printDifferences, printPlan } from '../printers/plan';
import { pluginVersion } from '../program';

export interface PlanShowOptions extends CommonOptions {
  file: string;
  /** Also compare it with the cluster as it is now (exit 1 when it differs, as kubectl diff). */
  diff: boolean;
}

/** The plan against the cluster now: another cluster, else what drifted (progress it foresaw aside). */
async function differences(o: PlanShowOptions, deps: Deps, p: UninstallPlan) {
  const { client } = await deps.connect(o.connection);
  const here = await readClusterIdentity(client);
  const other = identityDifferences(p.target, here);
  if (other.length)
    return {
      here,
      differences: other.map(
        (detail): Difference => ({ sign: '~', what: 'cluster', detail: `another cluster: ${detail}` }),
      ),
    };
  const live = await planAndFacts(client, p.options, { now: deps.clock.now(), tool: pluginVersion, forDrift: true });
  return { here, differences: driftOf(p, live) };
}

/** `kubectl vw plan show FILE`: the plan for review, in the commands' own tables; --diff against the cluster. */
export async function runPlanShow(o: PlanShowOptions, deps: Deps): Promise<number> {
  const p = await readPlanFile(o.file);
  if (!o.diff) {
    printPlan(deps.io, o.output, p);
    return ExitCode.ok;
  }
  const d = await differences(o, deps, p);
  if (o.output === 'json' || o.output === 'yaml') {
    const doc = document('UninstallPlanDiff', { plan: p.digest, cluster: d.here, differences: d.differences });
    printDocument(deps.io, o.output, doc, [], [], () => '');
  } else {
    if (o.output !== 'name') printPlan(deps.io, o.output, p);
    deps.io.out(
      d.differences.length
        ? `\nDifferences from context "${d.here.context}" now (${d.differences.length}):`
        : `\nNo differences: context "${d.here.context}" is as the plan expects (what a run of it already did aside).`,
    );
    printDifferences(deps.io, d.differences, (l) => deps.io.out(l));
  }
  if (d.differences.length) info(deps.io, 'kubectl vw uninstall --plan would refuse this plan now');
  return d.differences.length ? ExitCode.someFailed : ExitCode.ok;
}
