import type { Deps } from '../../deps';
import { ExitCode } from '../../errors';
import { procedureStatus } from '../../steps/status/judge';
import type { CommonOptions } from '../flags';
import { printStatus } from '../printers/status';

export type StatusOptions = CommonOptions;

/** Where the cluster stands in the five steps: read-only. */
export async function runStatus(o: StatusOptions, deps: Deps): Promise<number> {
  const { client } = deps.connect(o.connection);
  printStatus(deps.io, await procedureStatus(client), o.output);
  return ExitCode.ok;
}
