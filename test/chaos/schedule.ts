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
  /** kube-apiserver frozen with SIGSTOP. */
  | { kind: 'freeze'; atMs: number; forMs: number }
  /** Through the sandbox-faults switches. */
  | { kind: 'odoo'; atMs: number; mode: 'down' | 'failing' | 'slow' | 'unauthorized' }
  | { kind: 'backups'; atMs: number; outcome: 'fail' | 'hang' | 'partial' }
  | { kind: 'storage-location'; atMs: number }
  /** A finalizer nobody removes until the fault is cleared. */
  | { kind: 'stuck-finalizer'; atMs: number; on: 'cluster' | 'application' }
  /** A second kubectl vw run started then. */
  | { kind: 'concurrent'; atMs: number; command: 'uninstall' | 'pause' | 'backup' | 'purge' }
  /** Someone edits the cluster by hand while the tool works. */
  | {
      kind: 'hand-edit';
      atMs: number;
      edit: 'annotate' | 'delete-velero-backup' | 'new-application' | 'delete-application';
    };

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

/** One fault at a moment of the first pass (which lasts 10-20 s when nothing goes wrong). */
function drawFault(rng: Rng): Fault {
  const atMs = rng.int(0, 12_000);
  switch (
    rng.pick([
      'kill',
      'kill',
      'api',
      'api',
      'api',
      'freeze',
      'odoo',
      'backups',
      'storage-location',
      'stuck-finalizer',
      'concurrent',
      'hand-edit',
      'hand-edit',
    ] as const)
  ) {
    case 'kill':
      return { kind: 'kill', atMs, signal: rng.pick(['SIGKILL', 'SIGINT', 'SIGTERM'] as const) };
    case 'api':
      return {
        kind: 'api',
        atMs,
        forMs: rng.int(2_000, 15_000),
        action: apiActions(rng),
        writesOnly: rng.chance(0.5),
        probability: rng.pick([0.1, 0.25, 0.5]),
      };
    case 'freeze':
      return { kind: 'freeze', atMs, forMs: rng.int(1_000, 6_000) };
    case 'odoo':
      return { kind: 'odoo', atMs, mode: rng.pick(['down', 'failing', 'slow', 'unauthorized'] as const) };
    case 'backups':
      return { kind: 'backups', atMs, outcome: rng.pick(['fail', 'hang', 'partial'] as const) };
    case 'storage-location':
      return { kind: 'storage-location', atMs };
    case 'stuck-finalizer':
      return { kind: 'stuck-finalizer', atMs, on: rng.pick(['cluster', 'application'] as const) };
    case 'concurrent':
      return { kind: 'concurrent', atMs, command: rng.pick(['uninstall', 'pause', 'backup', 'purge'] as const) };
    case 'hand-edit':
      return {
        kind: 'hand-edit',
        atMs,
        edit: rng.pick(['annotate', 'delete-velero-backup', 'new-application', 'delete-application'] as const),
      };
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
    case 'freeze':
      return `${at} SIGSTOP kube-apiserver for ${f.forMs}ms`;
    case 'odoo':
      return `${at} Odoo ${f.mode}`;
    case 'backups':
      return `${at} backups ${f.outcome}`;
    case 'storage-location':
      return `${at} storage location Unavailable`;
    case 'stuck-finalizer':
      return `${at} a finalizer that does not drain on the ${f.on}`;
    case 'concurrent':
      return `${at} a second run: kubectl vw ${f.command}`;
    case 'hand-edit':
      return `${at} by hand: ${f.edit}`;
  }
}
