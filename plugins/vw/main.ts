import { invocationArgs } from '../../lib/cli/invocation';
import { buildProgram, pluginVersion } from '../../lib/cli/plugin';
import { backupCommand } from '../backup/command';
import { decommissionCommand } from '../decommission/command';
import { pauseCommand } from '../pause/command';
import { purgeCommand } from '../purge/command';
import { resumeCommand } from '../resume/command';
import { printCompletions } from './completion';
import { statusCommand } from './status';
import { uninstallCommand } from './uninstall';

// The multi-call entry point: `kubectl vw <step>` from a single install (krew's `vw` plugin).
// kubectl prefers kubectl-vw-<step> when one is on PATH; both run the same command modules.
const argv = invocationArgs([process.argv0, process.argv[1] ?? ''], process.argv.slice(2));
const commands = [
  pauseCommand,
  backupCommand,
  decommissionCommand,
  purgeCommand,
  resumeCommand,
  statusCommand,
  uninstallCommand,
  {
    command: 'version',
    describe: 'Print the version of kubectl vw',
    handler: () => {
      process.stdout.write(`kubectl-vw ${pluginVersion} (node ${process.versions.node})\n`);
    },
  },
];
if (argv[0] === '__complete') {
  // Completion must not go through strict parsing: partial words are not errors.
  void printCompletions(argv.slice(1), commands);
} else {
  void buildProgram(argv, commands)
    .usage(
      'kubectl vw <step> [flags]\n\nTake a cluster through the vworkspace-operator uninstall procedure, in order:\n' +
        '  1. kubectl vw pause         stop the operator (and Flux) reconciling\n' +
        '  2. kubectl vw backup        final Velero backups, proven\n' +
        '  3. kubectl vw decommission  delete the Cluster CR; Odoo revokes the credential\n' +
        '  4-5. kubectl vw purge       delete CRs (optional), helm uninstall, report what persists\n' +
        'kubectl vw status shows where the cluster stands; kubectl vw uninstall runs it all.',
    )
    .demandCommand(1, 'name a step; see the list above')
    .parseAsync();
}
