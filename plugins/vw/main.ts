import '../../lib/cli/early-signals';
import { invocationArgs } from '../../lib/cli/invocation';
import { main } from '../../lib/cli/run';
import { commands, usage } from './commands';

// The multi-call entry point: `kubectl vw <step>` from a single install (krew's `vw` plugin).
// kubectl prefers kubectl-vw-<step> when one is on PATH; both run the same command modules.
void main(commands, invocationArgs([process.argv0, process.argv[1] ?? ''], process.argv.slice(2)), { usage });
