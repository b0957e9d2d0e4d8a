import '../../lib/cli/early-signals';
import { main } from '../../lib/cli/run';
import { purgeCommand } from './command';

void main([purgeCommand], ['purge', ...process.argv.slice(2)], { single: true });
