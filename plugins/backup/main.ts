import '../../lib/cli/early-signals';
import { main } from '../../lib/cli/run';
import { backupCommand } from './command';

void main([backupCommand], ['backup', ...process.argv.slice(2)], { single: true });
