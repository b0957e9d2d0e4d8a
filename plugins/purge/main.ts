import { runSinglePlugin } from '../../lib/cli/plugin';
import { purgeCommand } from './command';

void runSinglePlugin(purgeCommand);
