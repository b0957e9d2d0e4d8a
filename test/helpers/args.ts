import yargs from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import { commands } from '../../plugins/vw/commands';

/** The arguments a command's own parser makes of argv (defaults applied), for calling toOptions in-process. */
export async function parsedDefaults(argv: string[]): Promise<any> {
  const cmd = commands.find((c) => c.command.split(' ')[0] === argv[0]) as VwCommand;
  return cmd.builder(yargs()).parserConfiguration({ 'camel-case-expansion': false }).parseAsync(argv.slice(1));
}
