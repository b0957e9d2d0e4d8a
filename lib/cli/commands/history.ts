import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { readHistory } from '../../steps/journal/history';
import type { CommonOptions } from '../flags';
import { printHistory } from '../printers/history';

export type HistoryOptions = CommonOptions;

/** The run journal, newest first: who ran what, where, on which cluster, and how it ended. Read-only. */
export async function runHistory(o: HistoryOptions, deps: Deps): Promise<number> {
  const { client, target } = await deps.connect(o.connection);
  const history = await readHistory(client, { now: deps.clock.now(), env: deps.env });
  printHistory(deps.io, o.output, target.context, history);
  return ExitCode.ok;
}
