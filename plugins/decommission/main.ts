import '../../lib/cli/early-signals';
import { main } from '../../lib/cli/run';
import { decommissionCommand } from './command';

void main([decommissionCommand], ['decommission', ...process.argv.slice(2)], { single: true });
