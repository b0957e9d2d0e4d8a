import { buildProgram } from '../../lib/cli/plugin';
import { backupCommand } from '../backup/command';
import { decommissionCommand } from '../decommission/command';
import { pauseCommand } from '../pause/command';
import { purgeCommand } from '../purge/command';
import { resumeCommand } from '../resume/command';

// The multi-call entry point: `kubectl vw <step>` from a single install (krew's `vw` plugin).
// kubectl prefers kubectl-vw-<step> when one is on PATH; both run the same command modules.
void buildProgram(process.argv.slice(2), [pauseCommand, resumeCommand, backupCommand, decommissionCommand, purgeCommand])
  .usage('kubectl vw <step> [flags]\n\nTake a cluster through the vworkspace-operator uninstall procedure, in order.')
  .demandCommand(1, 'name a step; see the list above')
  .parseAsync();
