import { runSinglePlugin } from '../../lib/cli/plugin';
import { pauseCommand } from './command';

void runSinglePlugin(pauseCommand);
