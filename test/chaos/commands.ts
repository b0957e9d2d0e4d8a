import type { Schedule } from './schedule';

// The command lines a user types for a schedule: one uninstall, or the steps in turn.

export interface Step {
  label: string;
  args: string[];
  /** The procedure's steps this command's exit 0 promises are done. */
  promises: number[];
}

/** Long enough for every step the world lets finish (backups take seconds), short enough that a stuck one costs little. */
const timeout = ['--timeout', '30s'];

/** The command lines of a pass; `ttl` is the final backups' (a fault may bring it near the margin). */
export function stepsOf(s: Schedule, helm: string, pass: number, ttl = '8760h'): Step[] {
  if (s.mode === 'uninstall')
    return [
      {
        label: 'uninstall',
        args: [
          'uninstall',
          '--yes',
          '--helm',
          helm,
          ...timeout,
          ...(s.skipBackup ? ['--skip-backup'] : ['--ttl', ttl]),
          ...(s.deleteApps ? ['--delete-apps'] : []),
          ...(s.wipe ? ['--delete-crds', '--delete-namespace'] : []),
          ...(s.suspendHelmReleases ? ['--suspend-helmreleases'] : []),
        ],
        promises: [1, ...(s.skipBackup && !s.deleteApps ? [] : [2]), 3, ...(s.deleteApps ? [4] : []), 5],
      },
    ];
  const skip = s.skipBackup ? ['--skip-backup-check'] : [];
  return [
    {
      label: 'pause',
      args: ['pause', '--all', ...timeout, ...(s.suspendHelmReleases ? ['--suspend-helmreleases'] : [])],
      promises: [1],
    },
    ...(s.skipBackup
      ? []
      : [
          {
            label: 'backup',
            args: ['backup', '--ttl', ttl, ...timeout, ...(pass > 0 ? ['--retry-failed'] : [])],
            promises: [2],
          },
        ]),
    { label: 'decommission', args: ['decommission', '--yes', ...timeout, ...skip], promises: [3] },
    {
      label: 'purge',
      args: [
        'purge',
        '--yes',
        '--helm',
        helm,
        ...timeout,
        ...skip,
        ...(s.deleteApps ? ['--delete-apps'] : []),
        ...(s.wipe ? ['--delete-crds', '--delete-namespace'] : []),
      ],
      promises: s.deleteApps ? [4, 5] : [5],
    },
  ];
}

/** A second run at the same time: the same command a colleague might start. */
export function concurrentArgs(
  command: 'uninstall' | 'pause' | 'backup' | 'purge',
  s: Schedule,
  helm: string,
): string[] {
  switch (command) {
    case 'uninstall':
      return stepsOf({ ...s, mode: 'uninstall' }, helm, 0)[0]?.args ?? [];
    case 'pause':
      return ['pause', '--all', ...timeout];
    case 'backup':
      return ['backup', '--ttl', '8760h', ...timeout];
    case 'purge':
      return ['purge', '--yes', '--helm', helm, ...timeout, ...(s.deleteApps ? ['--delete-apps'] : [])];
  }
}
