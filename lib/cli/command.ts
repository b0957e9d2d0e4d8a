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
}

export const commandName = (c: Pick<VwCommand, 'command'>) => c.command.split(' ')[0] as string;
