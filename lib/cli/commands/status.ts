import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { readHistory } from '../../steps/journal/history';
import { statusNeeds } from '../../steps/needs';
import { requireAccess } from '../../steps/preflight';
import { type LastRun, procedureStatus } from '../../steps/status/judge';
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

/** The newest run in the journal; "unknown" (never "none") when the journal cannot be read. */
async function lastRun(deps: Deps, client: Parameters<typeof readHistory>[0]): Promise<LastRun | null> {
  try {
    const last = (await readHistory(client, { now: deps.clock.now(), env: deps.env })).items[0];
    if (!last) return null;
    return {
      command: last.command,
      state: last.state,
      startedAt: last.startedAt,
      finishedAt: last.finishedAt,
      user: last.user.username,
      host: last.host,
      planDigest: last.planDigest,
      message: last.message ?? last.stateReason,
    };
  } catch (err) {
    return { state: 'unknown', message: `the run journal cannot be read: ${(err as Error).message}` };
  }
}

/** Where the cluster stands in the five steps, and the last run recorded: read-only. */
export async function runStatus(o: StatusOptions, deps: Deps): Promise<number> {
  const { client } = await deps.connect(o.connection);
  await requireAccess(client, statusNeedsOf(o));
  const judge = {
    now: deps.clock.now(),
    marginMs: o.marginMs,
    veleroNamespace: o.veleroNamespace,
    hint: hintFlags(o, o.marginMs),
  };
  const [status, last] = await Promise.all([procedureStatus(client, judge), lastRun(deps, client)]);
  printStatus(deps.io, { ...status, lastRun: last }, o.output);
  return ExitCode.ok;
}
