const steps = ['pause', 'resume', 'backup', 'decommission', 'purge', 'status', 'uninstall', 'history', 'plan'];

const baseName = (invokedAs: string) =>
  invokedAs
    .split(/[\\/]/)
    .pop()
    ?.replace(/\.(exe|js)$/i, '') ?? '';

/**
 * One standalone executable serves every plugin: invoked as kubectl-vw-pause (or kubectl-vw_pause,
 * the name krew links for a plugin called vw-pause), it runs `pause`.
 */
export function stepFromInvocationName(invokedAs: string): string | undefined {
  const m = /^kubectl-vw[-_]([a-z]+)$/.exec(baseName(invokedAs));
  return m && steps.includes(m[1] as string) ? m[1] : undefined;
}

/**
 * The arguments the multi-call entry point acts on. kubectl completes `kubectl vw pause ...` by
 * running kubectl_complete-vw-pause when kubectl-vw-pause is on PATH (kubectl_complete-vw_pause for
 * krew's vw-pause), else kubectl_complete-vw; each of those, and a step binary given `__complete`,
 * becomes `__complete [step] ...`.
 */
export function invocationArgs(invokedAs: string[], args: string[]): string[] {
  for (const name of invokedAs) {
    const complete = /^kubectl_complete-vw(?:[-_]([a-z]+))?$/.exec(baseName(name));
    if (complete) {
      const step = complete[1];
      if (step === undefined) return ['__complete', ...args];
      if (steps.includes(step)) return ['__complete', step, ...args];
    }
    const step = stepFromInvocationName(name);
    if (step) return args[0] === '__complete' ? ['__complete', step, ...args.slice(1)] : [step, ...args];
  }
  return args;
}
