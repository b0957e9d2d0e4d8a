import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { statusNeeds } from '../../steps/needs';
import { requireAccess } from '../../steps/preflight';
import { procedureStatus } from '../../steps/status/judge';
import type { CommonOptions } from '../flags';
import { hintFlags } from '../hints';
import { printStatus } from '../printers/status';

export interface StatusOptions extends CommonOptions {
  /** A final backup that expires sooner than this does not count. */
  marginMs: number;
  /** Where Velero runs (its Backups are also followed wherever backupRefs point). */
  veleroNamespace: string;
}

/** What status reads (kubectl vw rbac status prints it). */
export const statusNeedsOf = (o: Pick<StatusOptions, 'veleroNamespace'>) =>
  statusNeeds({ veleroNamespace: o.veleroNamespace });

/** Where the cluster stands in the five steps: read-only. */
export async function runStatus(o: StatusOptions, deps: Deps): Promise<number> {
  const { client } = await deps.connect(o.connection);
  await requireAccess(client, statusNeedsOf(o));
  const judge = {
    now: deps.clock.now(),
    marginMs: o.marginMs,
    veleroNamespace: o.veleroNamespace,
    hint: hintFlags(o, o.marginMs),
  };
  printStatus(deps.io, await procedureStatus(client, judge), o.output);
  return ExitCode.ok;
}
