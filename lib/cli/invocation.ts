const steps = ['pause', 'resume', 'backup', 'decommission', 'purge', 'status', 'uninstall'];

/**
 * One standalone executable serves every plugin: invoked as kubectl-vw-pause (or kubectl-vw_pause,
 * the name krew links for a plugin called vw-pause), it runs `pause`.
 */
export function stepFromInvocationName(invokedAs: string): string | undefined {
  const base =
    invokedAs
      .split(/[\\/]/)
      .pop()
      ?.replace(/\.(exe|js)$/i, '') ?? '';
  const m = /^kubectl-vw[-_]([a-z]+)$/.exec(base);
  return m && steps.includes(m[1] as string) ? m[1] : undefined;
}
