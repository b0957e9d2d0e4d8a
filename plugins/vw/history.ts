import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { HistoryOptions } from '../../lib/cli/commands/history';
import { type GlobalArgs, toCommon, withGlobalFlags } from '../../lib/cli/flags';

export const historyCommand: VwCommand<GlobalArgs, HistoryOptions> = {
  command: 'history',
  describe: 'Every mutating run on this cluster, newest first: who, when, from where, what, and how it ended',
  builder: (y: Argv) =>
    withGlobalFlags(y)
      .example('kubectl vw history', 'The runs recorded in kube-system/kubectl-vw-journal')
      .example('kubectl vw history -o wide', 'With the cluster identity, exit codes and messages')
      .example(
        'kubectl vw history -o json | jq -r \'.items[] | select(.planDigest) | "\\(.startedAt) \\(.state) \\(.planDigest)"\'',
        'Which plan each run executed, for the change record',
      ) as unknown as Argv<GlobalArgs>,
  toOptions: (args) => toCommon(args),
  run: async (o, deps) => (await import('../../lib/cli/commands/history')).runHistory(o, deps),
};
