import type { Argv } from 'yargs';
import type { Deps } from '../deps';

/**
 * A command as its plugin declares it: flags, help and examples (builder), the typed options they
 * become (toOptions, defaults applied), and the function that runs on those options.
 */
export interface VwCommand<A = any, O = any> {
  /** yargs' command string, e.g. "pause [names..]". */
  command: string;
  describe: string;
  builder: (y: Argv) => Argv<A>;
  toOptions: (args: A) => O;
  run: (options: O, deps: Deps) => Promise<number>;
  /** A command that parses its own words (kubectl vw rbac COMMAND FLAGS...): given argv after its name. */
  raw?: (argv: string[], deps: Deps) => Promise<number>;
  /** Commands it takes as its first word, each with its own flags plus these (for completion). */
  nested?: { targets: Record<string, VwCommand>; flags: (y: Argv) => Argv };
}

export const commandName = (c: Pick<VwCommand, 'command'>) => c.command.split(' ')[0] as string;
