import { backupCommand } from '../backup/command';
import { decommissionCommand } from '../decommission/command';
import { pauseCommand } from '../pause/command';
import { purgeCommand } from '../purge/command';
import { resumeCommand } from '../resume/command';
import { rbacCommand } from './rbac';
import { historyCommand } from './history';
import { planCommand } from './plan';
import { statusCommand } from './status';
import { uninstallCommand } from './uninstall';
import { versionCommand } from './version';

export const usage =
  'kubectl vw <step> [flags]\n\nTake a cluster through the vworkspace-operator uninstall procedure, in order:\n' +
  '  1. kubectl vw pause         stop the operator (and Flux) reconciling\n' +
  '  2. kubectl vw backup        final Velero backups, proven\n' +
  '  3. kubectl vw decommission  delete the Cluster CR; Odoo revokes the credential\n' +
  '  4-5. kubectl vw purge       delete CRs (optional), helm uninstall, report what persists\n' +
  'kubectl vw status shows where the cluster stands; kubectl vw uninstall runs it all;\n' +
  'change approval: kubectl vw uninstall --plan-out FILE, kubectl vw plan show FILE, kubectl vw uninstall --plan FILE;\n' +
  'kubectl vw rbac COMMAND prints the RBAC a command needs; kubectl vw history shows every run.';

/** Every command `kubectl vw` dispatches, in the order --help lists them. */
export const commands = [
  pauseCommand,
  backupCommand,
  decommissionCommand,
  purgeCommand,
  resumeCommand,
  statusCommand,
  uninstallCommand,
  planCommand,
  rbacCommand,
  historyCommand,
  versionCommand,
];
