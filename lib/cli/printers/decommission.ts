import type { Cluster, Condition } from '../../operator/schemas';
import type { PreflightCheck } from '../../steps/decommission/plan';
import { type ObjectResult, summarize } from '../../steps/results';
import type { OutputFormat } from '../flags';
import type { IO } from '../io';
import { document, printDocument } from '../output';

export type DecommissionOutcome =
  | 'decommissioned'
  | 'unconfirmed'
  | 'already-gone'
  | 'planned'
  | 'validated'
  /** Deleted (or being deleted) for real, its finalizer not followed: --no-wait. */
  | 'deleting'
  | 'blocked'
  | 'timed-out'
  /** The operator let go, but a finalizer of someone else's still holds the Cluster. */
  | 'held'
  | 'forced';

export interface DecommissionReport {
  context: string;
  namespace: string;
  /** The Cluster named on the command line, when there is no object to take the name from. */
  requested?: string;
  checks: PreflightCheck[];
}

export { printChecks } from './purge';

export const conditionLine = (c: Condition) =>
  `${c.type}=${c.status}${c.reason ? ` (${c.reason})` : ''}${c.message ? `: ${c.message}` : ''}`;

/** What the run did to the Cluster, as every mutating command's rows say it. */
function itemOf(outcome: DecommissionOutcome, name: string, namespace: string): ObjectResult {
  const at = { kind: 'Cluster', namespace, name };
  switch (outcome) {
    case 'planned':
      return { ...at, action: 'delete', result: 'planned' };
    case 'validated':
      return { ...at, action: 'delete', result: 'validated' };
    case 'already-gone':
      return { ...at, action: 'none', result: 'unchanged', message: 'no Cluster left: step 3 is done' };
    case 'forced':
      return { ...at, action: 'remove-finalizer', result: 'changed' };
    default:
      return { ...at, action: 'delete', result: 'changed', message: outcome };
  }
}

/** One document (or one row) saying what became of the Cluster. */
export function printDecommission(
  io: IO,
  format: OutputFormat,
  report: DecommissionReport,
  outcome: DecommissionOutcome,
  cluster?: Cluster,
  extra: Record<string, unknown> = {},
) {
  const name = cluster?.metadata.name ?? report.requested ?? '';
  printDocument(
    io,
    format,
    document('DecommissionResult', {
      context: report.context,
      namespace: report.namespace,
      cluster: name || null,
      clusterID: cluster?.status?.clusterID ?? null,
      outcome,
      checks: report.checks,
      ...(name
        ? {
            summary: summarize([itemOf(outcome, name, report.namespace)]),
            items: [itemOf(outcome, name, report.namespace)],
          }
        : {}),
      ...extra,
    }),
    [{ outcome, cluster }],
    [
      { header: 'CLUSTER', value: () => name },
      { header: 'CLUSTER ID', value: (r) => r.cluster?.status?.clusterID ?? '' },
      { header: 'OUTCOME', value: (r) => r.outcome },
    ],
    () => `cluster.ops.vworkspace.io/${name}`,
  );
}
