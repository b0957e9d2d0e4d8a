import type { Deps } from '../deps';
import { UsageError } from '../errors';
import type { KubeTarget } from '../kube/config';

/**
 * Asks before destructive work, naming the context and cluster it will touch. Scripts pass --yes;
 * without a terminal to ask on, the answer is no, never an implicit yes.
 */
export async function confirm(
  deps: Pick<Deps, 'io' | 'prompt' | 'signal'>,
  target: KubeTarget,
  what: string,
  opts: { yes: boolean; typeToConfirm?: string },
): Promise<void> {
  if (opts.yes) return;
  if (!deps.io.stdinInteractive) {
    throw new UsageError(
      `refusing to ${what} without confirmation: stdin is not a terminal`,
      'pass --yes to confirm in scripts, or --dry-run=client to see the plan',
    );
  }
  const where = `context "${target.context}" (cluster "${target.cluster}", ${target.server})`;
  const question = opts.typeToConfirm
    ? `About to ${what} in ${where}.\nType "${opts.typeToConfirm}" to continue: `
    : `About to ${what} in ${where}. Continue? [y/N] `;
  const answer = (await deps.prompt.question(question, deps.signal)).trim();
  const yes = opts.typeToConfirm ? answer === opts.typeToConfirm : /^y(es)?$/i.test(answer);
  if (!yes) throw new UsageError('not confirmed: nothing was changed');
}
