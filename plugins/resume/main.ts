import { runSinglePlugin } from '../../lib/cli/plugin';
import { resumeCommand } from './command';

void runSinglePlugin(resumeCommand);
