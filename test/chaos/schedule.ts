import type { Rng } from './random';

// A fault schedule: how the procedure is run (one uninstall, or the steps one by one, with which
// flags) and a few faults at random moments of the first pass. Later passes run with the faults
// cleared, as a user re-runs after fixing what went wrong.

export type Fault =
  /** The plugin killed. */
  | { kind: 'kill'; atMs: number; signal: 'SIGKILL' | 'SIGINT' | 'SIGTERM' }
  /** The API answers some requests with a status, a reset, a delay, or drops the answer after applying. */
  | {
      kind: 'api';
      atMs: number;
      forMs: number;
      action:
        | { status: 429 | 500 | 503; retryAfterSeconds?: number }
        | { reset: true }
        | { drop: true }
        | { delayMs: number };
      /** Only writes (POST, PUT, PATCH, DELETE), or every request. */
      writesOnly: boolean;
      probability: number;
    }
  /** The API endpoint accepts some requests and never answers them: the run must still end. */
  | { kind: 'hang'; atMs: number; forMs: number; writesOnly: boolean; probability: number }
  /** kube-apiserver frozen with SIGSTOP. */
  | { kind: 'freeze'; atMs: number; forMs: number }
  /** Through the sandbox-faults switches. */
  | { kind: 'odoo'; atMs: number; mode: 'down' | 'failing' | 'slow' | 'unauthorized' }
  | { kind: 'backups'; atMs: number; outcome: 'fail' | 'hang' | 'partial' }
  /** The operator's bug: a PartiallyFailed Velero Backup marks its Operation Succeeded. */
  | { kind: 'partial-succeeded'; atMs: number }
  /** The storage location Unavailable: at its moment, or once a backup is in flight. */
  | { kind: 'storage-location'; atMs: number; midBackup: boolean }
  /** A finalizer nobody removes until the fault is cleared. */
  | { kind: 'stuck-finalizer'; atMs: number; on: 'cluster' | 'application' }
  /** A second kubectl vw run, started once the first holds the lock. */
  | { kind: 'concurrent'; atMs: number; command: 'uninstall' | 'pause' | 'backup' | 'purge' }
  /** Someone edits the cluster by hand while the tool works. */
  | {
      kind: 'hand-edit';
      atMs: number;
      edit: 'annotate' | 'delete-velero-backup' | 'new-application' | 'delete-application';
      /** Not before step 3 is done (the Cluster gone): between step 3 and step 4's deletes. */
      afterStep3?: boolean;
      /** Not before step 1 is done (every application paused): a latecomer the backup meets unpaused. */
      afterPause?: boolean;
    }
  /** HELM_* variables (and HELM_DRIVER) in the user's shell naming another cluster, for the first pass. */
  | { kind: 'helm-env'; atMs: 0 }
  /** The kubeconfig's current context switched to another cluster while the run works. */
  | { kind: 'context-switch'; atMs: number }
  /**
   * The operator installed again, with a Cluster of the same name, once the first is gone; and
   * perhaps that new Cluster then removed by hand (its finalizer dropped: Odoo never told).
   */
  | { kind: 'reinstall'; atMs: number; removedByHand: boolean }
  /** An application's spec.backup.capable flipped (to true: the one that could not be backed up). */
  | { kind: 'capability-flip'; atMs: number; to: boolean }
  /** What `resume --all` undoes, done between step 3's check and its act (before its nth read of the Clusters). */
  | { kind: 'resume-window'; atMs: number; read: 1 | 2 }
  /** The Lease edited by hand while a run holds it (another holder), and released a few seconds later. */
  | { kind: 'lock-lost'; atMs: number; afterMs: number }
  /** The first pass's final backups with a TTL just over the expiry margin: they stop counting mid-run. */
  | { kind: 'ttl-near-margin'; atMs: 0; overMarginSeconds: number };

export type FaultKind = Fault['kind'];

/** Every kind, in the order the kind × hit table lists them. */
export const faultKinds: FaultKind[] = [
  'kill',
  'api',
  'hang',
  'freeze',
  'odoo',
  'backups',
  'partial-succeeded',
  'storage-location',
  'stuck-finalizer',
  'concurrent',
  'hand-edit',
  'helm-env',
  'context-switch',
  'reinstall',
  'capability-flip',
  'resume-window',
  'lock-lost',
  'ttl-near-margin',
];

export interface Schedule {
  seed: string;
  index: number;
  /** One `kubectl vw uninstall`, or pause, backup, decommission and purge in turn. */
  mode: 'uninstall' | 'steps';
  deleteApps: boolean;
  /** --delete-crds --delete-namespace on step 5. */
  wipe: boolean;
  suspendHelmReleases: boolean;
  /** No final backups (uninstall --skip-backup, purge --skip-backup-check). */
  skipBackup: boolean;
  faults: Fault[];
}

const apiActions = (rng: Rng): Extract<Fault, { kind: 'api' }>['action'] =>
  rng.pick([
    () => ({ status: 429 as const, retryAfterSeconds: rng.int(0, 2) }),
    () => ({ status: 500 as const }),
    () => ({ status: 503 as const }),
    () => ({ reset: true as const }),
    () => ({ drop: true as const }),
    () => ({ delayMs: rng.int(300, 3000) }),
  ])();

/** The kinds drawn, weighted by repetition. */
const drawn: FaultKind[] = [
  'kill',
  'kill',
  'api',
  'api',
  'api',
  'hang',
  'freeze',
  'odoo',
  'backups',
  'partial-succeeded',
  'storage-location',
  'stuck-finalizer',
  'concurrent',
  'concurrent',
  'hand-edit',
  'hand-edit',
  'helm-env',
  'context-switch',
  'reinstall',
  'capability-flip',
  'resume-window',
  'lock-lost',
  'ttl-near-margin',
];

/** One fault at a moment of the first pass (which lasts 10-20 s when nothing goes wrong). */
export function drawFault(rng: Rng, kind: FaultKind = rng.pick(drawn)): Fault {
  const atMs = rng.int(0, 12_000);
  switch (kind) {
    case 'kill':
      return { kind, atMs, signal: rng.pick(['SIGKILL', 'SIGINT', 'SIGTERM'] as const) };
    case 'api':
      return {
        kind,
        atMs,
        forMs: rng.int(2_000, 15_000),
        action: apiActions(rng),
        writesOnly: rng.chance(0.5),
        probability: rng.pick([0.1, 0.25, 0.5]),
      };
    case 'hang':
      return {
        kind,
        atMs,
        forMs: rng.int(2_000, 10_000),
        writesOnly: rng.chance(0.5),
        probability: rng.pick([0.1, 0.25]),
      };
    case 'freeze':
      return { kind, atMs, forMs: rng.int(1_000, 6_000) };
    case 'odoo':
      return { kind, atMs, mode: rng.pick(['down', 'failing', 'slow', 'unauthorized'] as const) };
    case 'backups':
      return { kind, atMs, outcome: rng.pick(['fail', 'hang', 'partial'] as const) };
    case 'storage-location':
      return { kind, atMs: rng.int(0, 4_000), midBackup: rng.chance(0.7) };
    case 'stuck-finalizer':
      return { kind, atMs, on: rng.pick(['cluster', 'application'] as const) };
    case 'concurrent':
      return { kind, atMs, command: rng.pick(['uninstall', 'pause', 'backup', 'purge'] as const) };
    case 'hand-edit':
      return {
        kind,
        atMs,
        edit: rng.pick(['annotate', 'delete-velero-backup', 'new-application', 'delete-application'] as const),
        afterStep3: rng.chance(0.2),
      };
    case 'helm-env':
      return { kind, atMs: 0 };
    case 'ttl-near-margin':
      return { kind, atMs: 0, overMarginSeconds: rng.int(3, 15) };
    case 'capability-flip':
      return { kind, atMs, to: rng.chance(0.7) };
    case 'resume-window':
      return { kind, atMs: 0, read: rng.pick([1, 2] as const) };
    case 'lock-lost':
      return { kind, atMs, afterMs: rng.int(0, 3_000) };
    case 'reinstall':
      return { kind, atMs, removedByHand: rng.chance(0.3) };
    case 'partial-succeeded':
    case 'context-switch':
      return { kind, atMs };
  }
}

export function drawSchedule(rng: Rng, seed: string, index: number): Schedule {
  const faults = Array.from({ length: rng.int(1, 3) }, () => drawFault(rng)).sort((a, b) => a.atMs - b.atMs);
  const deleteApps = rng.chance(0.7);
  return {
    seed,
    index,
    mode: rng.chance(0.7) ? 'uninstall' : 'steps',
    deleteApps,
    // The CRDs can go only with the objects of their kinds: kubectl vw refuses it otherwise.
    wipe: deleteApps && rng.chance(0.5),
    suspendHelmReleases: rng.chance(0.5),
    skipBackup: rng.chance(0.1),
    faults,
  };
}

/** One line per fault, for the campaign's log and a violation's report. */
export function describeFault(f: Fault): string {
  const at = `@${(f.atMs / 1000).toFixed(1)}s`;
  switch (f.kind) {
    case 'kill':
      return `${at} ${f.signal} the plugin`;
    case 'api':
      return `${at} API ${JSON.stringify(f.action)} p=${f.probability}${f.writesOnly ? ' on writes' : ''} for ${f.forMs}ms`;
    case 'hang':
      return `${at} API never answers p=${f.probability}${f.writesOnly ? ' on writes' : ''} for ${f.forMs}ms`;
    case 'freeze':
      return `${at} SIGSTOP kube-apiserver for ${f.forMs}ms`;
    case 'odoo':
      return `${at} Odoo ${f.mode}`;
    case 'backups':
      return `${at} backups ${f.outcome}`;
    case 'partial-succeeded':
      return `${at} backups end PartiallyFailed in Velero, Succeeded in their Operation`;
    case 'storage-location':
      return `${at} storage location Unavailable${f.midBackup ? ' once a backup is in flight' : ''}`;
    case 'stuck-finalizer':
      return `${at} a finalizer that does not drain on the ${f.on}`;
    case 'concurrent':
      return `${at} a second run once the first holds the lock: kubectl vw ${f.command}`;
    case 'hand-edit':
      return `${at}${f.afterStep3 ? ' once the Cluster is gone' : ''}${f.afterPause ? ' once every application is paused' : ''} by hand: ${f.edit}`;
    case 'helm-env':
      return 'HELM_KUBEAPISERVER, HELM_KUBETOKEN, HELM_NAMESPACE, HELM_DRIVER=configmap in the shell (first pass)';
    case 'context-switch':
      return `${at} the kubeconfig's current context switched to another cluster`;
    case 'reinstall':
      return `${at} once the Cluster is gone: the operator installed again, a Cluster of the same name${f.removedByHand ? ', then removed by hand (finalizers dropped)' : ''}`;
    case 'capability-flip':
      return `${at} an application's backup.capable set to ${f.to}`;
    case 'resume-window':
      return `resume --all (by hand) before step 3's read ${f.read} of the Clusters`;
    case 'lock-lost':
      return `${at} once a run holds the lock, ${f.afterMs}ms later: the Lease given to another holder by hand`;
    case 'ttl-near-margin':
      return `final backups with a TTL ${f.overMarginSeconds}s over the 24h expiry margin (first pass)`;
  }
}
