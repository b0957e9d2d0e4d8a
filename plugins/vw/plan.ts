import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import type { PlanShowOptions } from '../../lib/cli/commands/plan-show';
import { type GlobalArgs, toCommon, withGlobalFlags } from '../../lib/cli/flags';

type PlanArgs = GlobalArgs & { action: 'show'; file: string; diff: boolean };

export const planCommand: VwCommand<PlanArgs, PlanShowOptions> = {
  command: 'plan <action> <file>',
  describe:
    'Review an uninstall plan (kubectl vw uninstall --plan-out FILE): what it does, and how the cluster differs now',
  builder: (y: Argv) =>
    withGlobalFlags(y)
      .positional('action', { choices: ['show'] as const, describe: 'show: print the plan' })
      .positional('file', { type: 'string', describe: 'The plan file --plan-out wrote' })
      .option('diff', {
        type: 'boolean',
        default: false,
        describe: 'Also compare the plan with the cluster now: another cluster, or what drifted (exit 1 if any)',
      })
      .example('kubectl vw plan show plan.yaml', 'What the plan does, step by step, object by object (uid), for review')
      .example(
        'kubectl vw plan show plan.yaml --diff',
        'Whether kubectl vw uninstall --plan would run it now, and if not, why',
      )
      .example(
        'kubectl vw plan show plan.yaml -o json | jq .digest',
        'The digest to record in the change',
      ) as unknown as Argv<PlanArgs>,
  toOptions: (args) => ({ ...toCommon(args), file: args.file, diff: args.diff }),
  run: async (o, deps) => (await import('../../lib/cli/commands/plan-show')).runPlanShow(o, deps),
};
