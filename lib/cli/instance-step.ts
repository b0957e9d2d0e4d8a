import type { AccessCheck } from '../kube/access';
import type { ResourceType } from '../kube/resources';
import type { ApplicationInstance } from '../operator/schemas';
import { requireAccess, requireOperatorCrds } from '../preflight';
import type { InstancePlan } from '../steps/changes';
import { type Selection, type SelectionArgs, selectionFromArgs } from '../steps/selection';
import type { KubeClient } from '../kube/client';
import { concurrencyOf, type GlobalArgs, type MutationArgs, type WaitArgs, waitTimeoutMs } from './flags';
import { openSession } from './session';
import { runStep } from './step-runner';

export type InstanceStepArgs = GlobalArgs & MutationArgs & WaitArgs & SelectionArgs & { concurrency: number };

/** What distinguishes pause from resume; everything else about running them is shared. */
export interface InstanceStep {
  kind: string;
  verb: string;
  /** Kinds the step lists, and patches unless it is a client-side dry run. */
  patches: ResourceType[];
  plan(client: KubeClient, selection: Selection): Promise<InstancePlan>;
  wait: { describe: string; done: (ai: ApplicationInstance) => boolean };
}

export const listAndPatch = (kinds: ResourceType[], namespace: string | undefined, writes: boolean): AccessCheck[] =>
  kinds.flatMap((k) => [
    { verb: 'list', group: k.group, resource: k.plural, namespace },
    ...(writes ? [{ verb: 'patch', group: k.group, resource: k.plural, namespace }] : []),
  ]);

/**
 * Selection, preflight (CRDs, then RBAC before any change), plan, then the shared apply-and-wait:
 * the one path for every step that patches ApplicationInstances and their HelmReleases.
 */
export async function runInstanceStep(args: InstanceStepArgs, step: InstanceStep): Promise<number> {
  const concurrency = concurrencyOf(args.concurrency);
  const timeoutMs = waitTimeoutMs(args);
  const session = openSession(args, { concurrency });
  const selection = selectionFromArgs(args, session.target.namespace, session.target.namespaceExplicit);
  const { client } = session;
  await requireOperatorCrds(client);
  const scope = selection.allNamespaces ? undefined : selection.namespace;
  await requireAccess(client, listAndPatch(step.patches, scope, args['dry-run'] !== 'client'));
  const plan = await step.plan(client, selection);
  return runStep(session, {
    kind: step.kind,
    verb: step.verb,
    changes: plan.changes,
    invalid: plan.invalid,
    dryRun: args['dry-run'],
    output: args.output,
    concurrency,
    wait: args.wait ? { keys: plan.waitFor, namespace: scope, timeoutMs, ...step.wait } : undefined,
  });
}
