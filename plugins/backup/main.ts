import { runSinglePlugin } from '../../lib/cli/plugin';
import { backupCommand } from './command';

void runSinglePlugin(backupCommand);
