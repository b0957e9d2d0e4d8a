import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import { runStatus, type StatusOptions } from '../../lib/cli/commands/status';
import { type GlobalArgs, toCommon, withGlobalFlags } from '../../lib/cli/flags';

export const statusCommand: VwCommand<GlobalArgs, StatusOptions> = {
  command: 'status',
  describe: 'Where this cluster stands in the five steps, with the evidence, and the next command to run',
  builder: (y: Argv) =>
    withGlobalFlags(y)
      .example('kubectl vw status', 'The state of each step on the current context')
      .example(
        'kubectl vw status -o json | jq -r \'.steps[] | select(.state != "done") | .name\'',
        'Steps not done yet',
      ) as unknown as Argv<GlobalArgs>,
  toOptions: toCommon,
  run: runStatus,
};
