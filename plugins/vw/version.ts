import type { Argv } from 'yargs';
import type { VwCommand } from '../../lib/cli/command';
import { pluginVersion } from '../../lib/cli/program';

export const versionCommand: VwCommand<object, object> = {
  command: 'version',
  describe: 'Print the version of kubectl vw',
  builder: (y: Argv) => y,
  toOptions: () => ({}),
  run: async (_o, deps) => {
    deps.io.out(`kubectl-vw ${pluginVersion} (node ${deps.env.nodeVersion})`);
    return 0;
  },
};
