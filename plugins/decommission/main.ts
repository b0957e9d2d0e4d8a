import { runSinglePlugin } from '../../lib/cli/plugin';
import { decommissionCommand } from './command';

void runSinglePlugin(decommissionCommand);
