import { createInterface } from 'node:readline/promises';
import { UsageError } from '../errors';
import type { KubeTarget } from '../kube/config';
import type { IO } from './io';

/**
 * Asks before destructive work, naming the context and cluster it will touch. Scripts pass --yes;
 * without a terminal to ask on, the answer is no, never an implicit yes.
 */
export async function confirm(
  io: IO,
  target: KubeTarget,
  what: string,
  opts: { yes: boolean; typeToConfirm?: string },
): Promise<void> {
  if (opts.yes) return;
  if (!io.stdinInteractive) {
    throw new UsageError(
      `refusing to ${what} without confirmation: stdin is not a terminal`,
      'pass --yes to confirm in scripts, or --dry-run=client to see the plan',
    );
  }
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const where = `context "${target.context}" (cluster "${target.cluster}", ${target.server})`;
    if (opts.typeToConfirm) {
      const answer = await rl.question(`About to ${what} in ${where}.\nType "${opts.typeToConfirm}" to continue: `);
      if (answer.trim() !== opts.typeToConfirm) throw new UsageError('not confirmed: nothing was changed');
    } else {
      const answer = await rl.question(`About to ${what} in ${where}. Continue? [y/N] `);
      if (!/^y(es)?$/i.test(answer.trim())) throw new UsageError('not confirmed: nothing was changed');
    }
  } finally {
    rl.close();
  }
}
