import '../../lib/cli/early-signals';
import { main } from '../../lib/cli/run';
import { resumeCommand } from './command';

void main([resumeCommand], ['resume', ...process.argv.slice(2)], { single: true });
