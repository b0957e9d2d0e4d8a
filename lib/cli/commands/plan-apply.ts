import type { Deps } from '../../deps';
import { formatDuration } from '../../duration';
import { PreflightError, UsageError } from '../../errors';
import type { KubeClient } from '../../kube/client';
import { identityDifferences } from '../../kube/identity';
import { approvedPlan } from '../../steps/plan-file/approved';
import type { UninstallPlan } from '../../steps/plan-file/document';
import { type Difference, driftOf, optionDrift } from '../../steps/plan-file/drift';
import { readPlanFile } from '../../steps/plan-file/file';
import { planAndFacts } from '../../steps/plan-file/make';
import { info } from '../io';
import { optionsFromPlan, requireIdentity, sameOption } from '../plan-options';
import { printDifferences } from '../printers/plan';
import { pluginVersion } from '../program';
import { type StepRunners, type UninstallOptions, uninstallOn, validateUninstall } from './uninstall';

const remake = 'make a new plan (kubectl vw uninstall --plan-out FILE ...) and have it reviewed';
const short = (p: UninstallPlan) => p.digest.slice(0, 19);

/** Skew allowed between the clock that made a plan and the one running it. */
const skewMs = 5 * 60_000;

/** A plan older than --max-plan-age (default 24h) is refused: the cluster it was judged on is long gone. */
function refuseOld(p: UninstallPlan, maxAgeMs: number, now: number) {
  const made = Date.parse(p.metadata.createdAt);
  if (Number.isNaN(made))
    throw new UsageError(`plan ${short(p)}: its createdAt "${p.metadata.createdAt}" is not a time`, remake);
  if (made > now + skewMs)
    throw new PreflightError(
      `plan ${short(p)} was made at ${p.metadata.createdAt}, later than now by this machine's clock; nothing was changed`,
      `check the clocks, or ${remake}`,
    );
  if (now - made > maxAgeMs)
    throw new PreflightError(
      `plan ${short(p)} was made ${formatDuration(now - made)} ago (${p.metadata.createdAt}), more than --max-plan-age ${formatDuration(maxAgeMs)}; nothing was changed`,
      `${remake}, or pass a longer --max-plan-age`,
    );
}

/** The differences on stderr, then the refusal (exit 3). */
function refuseDrift(deps: Deps, p: UninstallPlan, diffs: Difference[], what: string): never {
  info(deps.io, `${what} differs from plan ${p.digest}:`);
  printDifferences(deps.io, diffs, (l) => deps.io.err(l));
  throw new PreflightError(
    `refusing to run plan ${short(p)}: ${diffs.length === 1 ? 'one difference' : `${diffs.length} differences`} from it (listed above); nothing was changed`,
    remake,
  );
}

/**
 * The plan's own gate, inside the lock, right before the first step: the cluster judged against
 * the plan on a fresh read. What the plan foresaw (a half-done run of it) is no difference.
 */
async function judgeAgainstPlan(deps: Deps, client: KubeClient, p: UninstallPlan) {
  const live = await planAndFacts(client, p.options, { now: deps.clock.now(), tool: pluginVersion, forDrift: true });
  const diffs = driftOf(p, live);
  if (diffs.length) refuseDrift(deps, p, diffs, 'the cluster');
}

/**
 * `kubectl vw uninstall --plan FILE`: exactly the plan, or a refusal. Another cluster is refused
 * before any request that writes; the options are the plan's; the cluster is judged against the
 * plan inside the lock, and every act's gate judges it again at the moment of the act.
 */
export async function applyUninstallPlan(o: UninstallOptions, deps: Deps, runners: StepRunners): Promise<number> {
  if (o.dryRun !== 'none')
    throw new UsageError('--plan runs a plan: to see what it would do now, run kubectl vw plan show FILE --diff');
  const p = await readPlanFile(o.plan ?? '');
  info(
    deps.io,
    `plan ${o.plan}: ${p.digest}, made ${p.metadata.createdAt} by ${p.metadata.createdBy || 'unknown'} for context "${p.target.context}"`,
  );
  refuseOld(p, o.maxPlanAgeMs ?? 24 * 3_600_000, deps.clock.now());
  const flags = optionDrift(p.options, o.given ?? {}, sameOption);
  if (flags.length) refuseDrift(deps, p, flags, 'the command line');
  const run = { ...optionsFromPlan(o, p.options), approved: approvedPlan(p) };
  validateUninstall(run);
  const session = await deps.connect(o.connection);
  // Reads only, before anything that writes (the lock, the journal): another cluster is refused here.
  const here = await requireIdentity(session.client);
  const other = identityDifferences(p.target, here);
  if (other.length)
    throw new PreflightError(
      `plan ${short(p)} is for another cluster than context "${here.context}": ${other.join('; ')}; nothing was changed`,
      `run it against the cluster it was made for (context "${p.target.context}" when it was made), or ${remake}`,
    );
  const { approved: _a, given: _g, ...recorded } = run;
  deps.journal?.setPlan(p.digest, recorded as unknown as Record<string, unknown>);
  info(deps.io, `executing plan ${p.digest}`);
  return uninstallOn(run, deps, runners, session, { beforeSteps: (client) => judgeAgainstPlan(deps, client, p) });
}
