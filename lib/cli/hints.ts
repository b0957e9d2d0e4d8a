import { parseGoDuration } from '../duration';
import type { FinalBackupParameters } from '../operator/final-backup';
import type { HintFlags } from '../steps/hints';
import { defaults } from './defaults';
import type { CommonOptions } from './flags';

// The flags a run's hints repeat, from its own options: following a hint then acts on the same
// cluster, as the same user, and keeps the retention and location the user chose.

/** The connection flags given on the command line (never a token), and a margin that is not the default. */
export function commonHintFlags(o: CommonOptions, marginMs?: number): string[] {
  const c = o.connection;
  const flags: [string, string | undefined][] = [
    ['--kubeconfig', c.kubeconfig],
    ['--context', c.context],
    ['--cluster', c.cluster],
    ['--user', c.user],
    ['--server', c.server],
    ['--as', c.as],
    ...(c.asGroups ?? []).map((g): [string, string] => ['--as-group', g]),
    ['--as-uid', c.asUid],
  ];
  const margin = marginMs !== undefined && marginMs !== parseGoDuration(defaults.backup.expiryMargin);
  return [
    ...flags.filter(([, v]) => v).flatMap(([f, v]) => [f, v as string]),
    ...(margin ? ['--expiry-margin', `${(marginMs ?? 0) / 1000}s`] : []),
  ];
}

/** A backup run's own parameters, as flags: the TTL always, the rest when not the default. */
export function backupHintFlags(p: FinalBackupParameters, veleroNamespace: string = defaults.backup.veleroNamespace) {
  const b = defaults.backup;
  return [
    '--ttl',
    p.ttl,
    ...(p.storageLocation !== b.storageLocation ? ['--storage-location', p.storageLocation] : []),
    ...(p.snapshotVolumes ? [] : ['--no-snapshot-volumes']),
    ...((p.csiSnapshotClassName ?? '') !== b.csiSnapshotClass
      ? ['--csi-snapshot-class', p.csiSnapshotClassName ?? '']
      : []),
    ...(p.nameSuffix !== b.nameSuffix ? ['--name-suffix', p.nameSuffix] : []),
    ...(veleroNamespace !== b.veleroNamespace ? ['--velero-namespace', veleroNamespace] : []),
  ];
}

export const hintFlags = (o: CommonOptions, marginMs: number, backup?: string[]): HintFlags => ({
  common: commonHintFlags(o, marginMs),
  backup,
});
