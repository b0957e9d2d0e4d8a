import { defaultStorageLocation, finalBackupSuffix, veleroNamespace } from '../operator/names';

/**
 * Every default of every flag, in one place: the flags show them, toOptions applies them, and
 * `kubectl vw uninstall` passes the same values to each step it runs.
 */
export const defaults = {
  concurrency: 16,
  requestTimeout: '0',
  /** decommission: how long a stale OdooReachable=False is given for the operator's next report. */
  recheckTimeout: '30s',
  output: 'table',
  dryRun: 'none',
  /** uninstall --plan refuses a plan made longer ago than this. */
  maxPlanAge: '24h',
  timeout: {
    pause: '5m',
    resume: '5m',
    backup: '30m',
    decommission: '5m',
    purge: '10m',
    uninstall: '30m',
  },
  backup: {
    storageLocation: defaultStorageLocation,
    snapshotVolumes: true,
    csiSnapshotClass: 'csi-rbd',
    nameSuffix: finalBackupSuffix,
    veleroNamespace,
    /** A final backup must outlive this margin to count (and a shorter TTL is refused). */
    expiryMargin: '24h',
  },
} as const;
