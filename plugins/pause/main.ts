import '../../lib/cli/early-signals';
import { main } from '../../lib/cli/run';
import { pauseCommand } from './command';

void main([pauseCommand], ['pause', ...process.argv.slice(2)], { single: true });
