import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { StatusOptions } from '../../lib/cli/commands/status';
import {
  expiryMarginMs,
  type GlobalArgs,
  toCommon,
  veleroNamespaceOf,
  withExpiryMarginFlag,
  withGlobalFlags,
  withVeleroNamespaceFlag,
} from '../../lib/cli/flags';

type StatusArgs = GlobalArgs & { 'expiry-margin': string; 'velero-namespace'?: string };

export const statusCommand: VwCommand<StatusArgs, StatusOptions> = {
  command: 'status',
  describe: 'Where this cluster stands in the five steps, with the evidence, and the next command to run',
  builder: (y: Argv) =>
    withVeleroNamespaceFlag(withExpiryMarginFlag(withGlobalFlags(y)))
      .example('kubectl vw status', 'The state of each step on the current context')
      .example(
        'kubectl vw status -o json | jq -r \'.steps[] | select(.state != "done") | .name\'',
        'Steps not done yet',
      ) as unknown as Argv<StatusArgs>,
  toOptions: (args) => ({
    ...toCommon(args),
    marginMs: expiryMarginMs(args['expiry-margin']),
    veleroNamespace: veleroNamespaceOf(args['velero-namespace']),
  }),
  run: async (o, deps) => (await import('../../lib/cli/commands/status')).runStatus(o, deps),
};
