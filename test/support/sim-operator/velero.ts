import { createHash } from 'node:crypto';
import { apiVersionOf } from '../contract';
import { isAlreadyExists, isConflict, isNotFound, type KubeObject } from '../kube';
import { core, metaTime, parseGoDuration, upstream } from '../kinds';
import { type Controller, faultFor, type Presence, type SimContext } from './context';
import {
  instanceLabel,
  operationNamespaceLabel,
  shortHash,
  snapshotClassAnnotation,
  snapshotDriver,
  validLabelValue,
  veleroDefaultTtl,
} from './operations';
import { draw } from './timing';

// Velero, as far as the procedure meets it: its backup controller moves each Backup through its
// phases, one jittered step at a time, as the real one does:
//
//   New → FailedValidation                      (location missing or not Available)
//   New → InProgress → [WaitingForPluginOperations →] Finalizing → Completed
//                    → [WaitingForPluginOperationsPartiallyFailed →] FinalizingPartiallyFailed → PartiallyFailed
//                    → Failed
//
// startTimestamp and expiration (start + ttl) are written when the backup starts, as Velero does;
// its garbage collection turns an expired Backup to Deleting and then removes it (with the
// VolumeSnapshotContents it made). Velero's BackupStorageLocation validation reports the phase a
// fault asks for. Velero runs only while it is installed (presence).

export interface VeleroBackup extends KubeObject {
  spec?: {
    includedNamespaces?: string[];
    storageLocation?: string;
    ttl?: string;
    snapshotVolumes?: boolean;
  };
  status?: {
    phase?: string;
    startTimestamp?: string;
    completionTimestamp?: string;
    expiration?: string;
    failureReason?: string;
    validationErrors?: string[];
    errors?: number;
    warnings?: number;
    progress?: { totalItems?: number; itemsBackedUp?: number };
    csiVolumeSnapshotsAttempted?: number;
    csiVolumeSnapshotsCompleted?: number;
  };
}

interface Location extends KubeObject {
  spec?: { default?: boolean };
  status?: { phase?: string; lastValidationTime?: string; message?: string };
}

interface PvcObject extends KubeObject {
  spec?: { volumeName?: string; resources?: { requests?: { storage?: string } } };
}

/** What decides where a backup ends. */
type Fate = 'succeed' | 'fail' | 'partial' | 'hang';

/** How often Velero's garbage collection looks at a Backup at most (its real period is 1 h). */
const gcPeriodMs = 3_600_000;

function uuidFrom(seed: string) {
  const h = createHash('sha256').update(seed).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

const binarySuffix: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const decimalSuffix: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12 };
/** A resource.Quantity such as 5Gi or 500M in bytes; 0 when it is not one. */
export function quantityBytes(q: string | undefined): number {
  const m = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGT])?$/.exec(q ?? '');
  if (!m) return 0;
  const unit = m[2] ?? '';
  return Math.round(Number(m[1]) * (binarySuffix[unit] ?? decimalSuffix[unit] ?? 1));
}

const backupNamespace = (b: VeleroBackup) =>
  b.metadata.labels?.[operationNamespaceLabel] ?? b.spec?.includedNamespaces?.[0] ?? '';

/**
 * Whether a sim scoped to some namespaces owns a Backup: one the operator made for an Operation
 * in scope, or one made by hand whose included namespaces are all in scope. Unscoped: every one.
 */
export function backupInScope(b: VeleroBackup, inScope: (ns: string | undefined) => boolean): boolean {
  const own = b.metadata.labels?.[operationNamespaceLabel];
  if (own) return inScope(own);
  const included = b.spec?.includedNamespaces ?? [];
  return included.length > 0 ? included.every((ns) => inScope(ns)) : inScope(undefined);
}

function fateOf(ctx: SimContext, b: VeleroBackup): { fate: Fate; message?: string } {
  const ns = backupNamespace(b);
  const app = b.metadata.labels?.[instanceLabel] ?? '';
  if (app && faultFor(ctx.faults.hangBackups, ns, app)) return { fate: 'hang' };
  const failure = app ? faultFor(ctx.faults.failBackups, ns, app) : undefined;
  if (failure !== undefined && failure !== true) {
    const f = typeof failure === 'string' ? { reason: failure } : failure;
    const partial = f.veleroPhase ? f.veleroPhase === 'PartiallyFailed' : /partial/i.test(f.reason);
    return { fate: partial ? 'partial' : 'fail', message: f.message ?? f.reason };
  }
  return { fate: ctx.faults.backupOutcome === 'succeed' ? 'succeed' : ctx.faults.backupOutcome };
}

/** The PVCs a backup of the application covers: those labelled for it, else the namespace's. */
async function volumesOf(ctx: SimContext, namespace: string, app: string): Promise<PvcObject[]> {
  const { items } = await ctx.kube.list<PvcObject>(core.persistentVolumeClaims, { namespace });
  const labelled = items.filter((p) => p.metadata.labels?.[instanceLabel] !== undefined);
  const mine = labelled.length ? labelled.filter((p) => p.metadata.labels?.[instanceLabel] === app) : items;
  return mine.filter((p) => p.spec?.volumeName);
}

/**
 * What Velero's CSI support leaves behind for each bound PVC: a VolumeSnapshotContent with
 * deletionPolicy Retain (its VolumeSnapshot is deleted after the backup), ready to use.
 */
async function snapshotVolumes(ctx: SimContext, b: VeleroBackup): Promise<number> {
  const ns = backupNamespace(b);
  const app = b.metadata.labels?.[instanceLabel] ?? '';
  const backupName = b.metadata.name;
  const className = b.metadata.annotations?.[snapshotClassAnnotation];
  let made = 0;
  for (const pvc of await volumesOf(ctx, ns, app)) {
    const seed = `${ctx.veleroNamespace}/${backupName}/${ns}/${pvc.metadata.name}`;
    const name = `snapcontent-${uuidFrom(seed)}`;
    const snapshotHandle = `snap-${uuidFrom(`handle:${seed}`)}`;
    const body = {
      apiVersion: apiVersionOf(upstream.volumeSnapshotContents),
      kind: upstream.volumeSnapshotContents.kind,
      metadata: {
        name,
        labels: {
          'velero.io/backup-name': validLabelValue(backupName),
          [instanceLabel]: validLabelValue(app),
          [operationNamespaceLabel]: ns,
        },
        annotations: {
          'ops.vworkspace.io/source-pvc': `${ns}/${pvc.metadata.name}`,
          'ops.vworkspace.io/source-pv': pvc.spec?.volumeName ?? '',
        },
      },
      spec: {
        deletionPolicy: 'Retain',
        driver: snapshotDriver,
        source: { snapshotHandle },
        ...(className ? { volumeSnapshotClassName: className } : {}),
        volumeSnapshotRef: {
          apiVersion: apiVersionOf(upstream.volumeSnapshots),
          kind: upstream.volumeSnapshots.kind,
          name: `velero-${pvc.metadata.name.slice(0, 200)}-${shortHash(seed, 5)}`,
          namespace: ns,
        },
      },
    };
    ctx.guard();
    try {
      await ctx.kube.create(upstream.volumeSnapshotContents, body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    ctx.guard();
    await ctx.kube.patchStatus(upstream.volumeSnapshotContents, name, undefined, {
      readyToUse: true,
      snapshotHandle,
      // int64 nanoseconds since the epoch, as the CSI sidecar writes it.
      creationTime: Date.now() * 1_000_000,
      restoreSize: quantityBytes(pvc.spec?.resources?.requests?.storage),
    });
    made++;
  }
  return made;
}

/** Velero validates the BackupStorageLocation before anything else. */
async function validate(ctx: SimContext, b: VeleroBackup): Promise<string[]> {
  const errors: string[] = [];
  const ttl = b.spec?.ttl ?? veleroDefaultTtl;
  if (parseGoDuration(ttl) === undefined) errors.push(`invalid ttl ${JSON.stringify(ttl)}`);
  let location: Location | undefined;
  const name = b.spec?.storageLocation;
  if (name) {
    location = await ctx.kube.find<Location>(upstream.backupStorageLocations, name, ctx.veleroNamespace);
    if (!location) {
      errors.push(
        `an existing backup storage location was not specified at backup creation time and the server default ${name} does not exist. Please address this issue (see \`velero backup-location -h\` for options) and create a new backup. Error: backupstoragelocations.velero.io "${name}" not found`,
      );
    }
  } else {
    const { items } = await ctx.kube.list<Location>(upstream.backupStorageLocations, {
      namespace: ctx.veleroNamespace,
    });
    location = items.find((l) => l.spec?.default);
    if (!location) errors.push('no backup storage location was specified and there is no default one');
  }
  if (location && location.status?.phase !== 'Available') {
    errors.push(
      `backup can't be taken because backup storage location ${location.metadata.name} is currently in ${location.status?.phase ?? 'Unknown'} phase`,
    );
  }
  return errors;
}

export function veleroController(veleroNamespace: string, installed: Presence): Controller {
  // When each Backup may take its next step: `<key>|<phase>` → time. In memory, as Velero's queue is.
  const due = new Map<string, number>();
  const hungLogged = new Set<string>();

  /** ms until the step out of `phase` may be taken (0: now); the first ask draws the delay. */
  function wait(ctx: SimContext, key: string, phase: string): number {
    const k = `${key}|${phase}`;
    let at = due.get(k);
    if (at === undefined) {
      at = Date.now() + draw(ctx.timing.veleroPhaseDelayMs);
      due.set(k, at);
    }
    return Math.max(0, at - Date.now());
  }

  async function write(ctx: SimContext, b: VeleroBackup, status: VeleroBackup['status']) {
    ctx.guard();
    // Velero's CRD has no status subresource: the status goes with the object, conditional on
    // the version this step was decided from.
    await ctx.kube.mergePatch(upstream.veleroBackups, b.metadata.name, b.metadata.namespace, {
      metadata: { resourceVersion: b.metadata.resourceVersion },
      status,
    });
    ctx.log(`velero backup ${b.metadata.namespace}/${b.metadata.name}: ${status?.phase}`);
  }

  async function step(ctx: SimContext, b: VeleroBackup, key: string) {
    const phase = b.status?.phase || 'New';
    const now = new Date();
    switch (phase) {
      case 'New': {
        const errors = await validate(ctx, b);
        const start = Math.floor(now.getTime() / 1000) * 1000;
        const ttl = parseGoDuration(b.spec?.ttl ?? veleroDefaultTtl) ?? 0;
        const common = { version: 1, formatVersion: '1.1.0', expiration: metaTime(start + ttl) };
        if (errors.length) return write(ctx, b, { ...common, phase: 'FailedValidation', validationErrors: errors });
        return write(ctx, b, {
          ...common,
          phase: 'InProgress',
          startTimestamp: metaTime(start),
          progress: { totalItems: 0, itemsBackedUp: 0 },
        });
      }
      case 'InProgress': {
        const { fate, message } = fateOf(ctx, b);
        if (fate === 'hang') {
          // Stays InProgress; a change of faults (setFaults kicks every key) lets it go on.
          if (!hungLogged.has(key)) ctx.log(`velero backup ${key}: hanging (fault)`);
          hungLogged.add(key);
          return;
        }
        hungLogged.delete(key);
        const items = { totalItems: 24, itemsBackedUp: 24 };
        if (fate === 'fail') {
          return write(ctx, b, {
            phase: 'Failed',
            failureReason: message ?? 'rpc error: code = Unavailable desc = connection to the object store was lost',
            errors: 1,
            completionTimestamp: metaTime(now),
            progress: { totalItems: 24, itemsBackedUp: 7 },
          });
        }
        const snapshots = b.spec?.snapshotVolumes ? await snapshotVolumes(ctx, b) : 0;
        const csi = b.spec?.snapshotVolumes
          ? { csiVolumeSnapshotsAttempted: snapshots, csiVolumeSnapshotsCompleted: 0 }
          : {};
        if (fate === 'partial') {
          return write(ctx, b, {
            phase: b.spec?.snapshotVolumes ? 'WaitingForPluginOperationsPartiallyFailed' : 'FinalizingPartiallyFailed',
            errors: 1,
            ...(message ? { failureReason: message } : {}),
            progress: { totalItems: 24, itemsBackedUp: 23 },
            ...csi,
          });
        }
        return write(ctx, b, {
          phase: b.spec?.snapshotVolumes ? 'WaitingForPluginOperations' : 'Finalizing',
          progress: items,
          ...csi,
        });
      }
      case 'WaitingForPluginOperations':
      case 'WaitingForPluginOperationsPartiallyFailed': {
        const partial = phase.endsWith('PartiallyFailed');
        const attempted = b.status?.csiVolumeSnapshotsAttempted ?? 0;
        return write(ctx, b, {
          phase: partial ? 'FinalizingPartiallyFailed' : 'Finalizing',
          csiVolumeSnapshotsCompleted: partial ? Math.max(0, attempted - 1) : attempted,
        });
      }
      case 'Finalizing':
        return write(ctx, b, { phase: 'Completed', completionTimestamp: metaTime(now) });
      case 'FinalizingPartiallyFailed':
        return write(ctx, b, { phase: 'PartiallyFailed', completionTimestamp: metaTime(now) });
      case 'Deleting': {
        // The deletion request: its snapshots first, then the Backup itself.
        const { items } = await ctx.kube.list(upstream.volumeSnapshotContents, {
          labelSelector: `velero.io/backup-name=${validLabelValue(b.metadata.name)}`,
        });
        for (const vsc of items) {
          ctx.guard();
          await ctx.kube.deleteIfExists(upstream.volumeSnapshotContents, vsc.metadata.name);
        }
        ctx.guard();
        await ctx.kube.delete(upstream.veleroBackups, b.metadata.name, b.metadata.namespace, {
          preconditions: { uid: b.metadata.uid },
        });
        ctx.log(`velero backup ${key}: deleted (expired)`);
        return;
      }
      default:
        return;
    }
  }

  return {
    name: 'velero',
    userAgent: 'velero/v1.17.0',
    watches: [{ resource: upstream.veleroBackups, namespaces: [veleroNamespace] }],
    async reconcile(ctx, namespace, name) {
      const key = `${namespace}/${name}`;
      if (!installed()) return undefined;
      const b = await ctx.kube.find<VeleroBackup>(upstream.veleroBackups, name, namespace);
      if (!b || b.metadata.deletionTimestamp || !backupInScope(b, ctx.inScope)) {
        for (const k of due.keys()) if (k.startsWith(`${key}|`)) due.delete(k);
        return undefined;
      }
      const phase = b.status?.phase || 'New';
      if (['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation'].includes(phase)) {
        // Garbage collection: an expired Backup is deleted (first marked Deleting).
        const expiration = Date.parse(b.status?.expiration ?? '');
        if (Number.isNaN(expiration)) return undefined;
        const left = expiration - Date.now();
        if (left > 0) return { requeueAfterMs: Math.min(left + 50, gcPeriodMs) };
        try {
          await write(ctx, b, { phase: 'Deleting' });
        } catch (err) {
          if (isConflict(err)) return { requeueAfterMs: 0 };
          throw err;
        }
        return undefined;
      }
      const left = wait(ctx, key, phase);
      if (left > 0) return { requeueAfterMs: left };
      try {
        await step(ctx, b, key);
        due.delete(`${key}|${phase}`);
      } catch (err) {
        // Changed meanwhile (or gone): start over from the watch's news.
        if (isConflict(err)) return { requeueAfterMs: 0 };
        if (isNotFound(err)) return undefined;
        throw err;
      }
      return undefined;
    },
  };
}

/**
 * Velero's BackupStorageLocation validation: a location named in faults.storageLocationPhases
 * gets that phase (with Velero's message when Unavailable); the others are left as they are.
 */
export function storageLocationController(veleroNamespace: string, installed: Presence): Controller {
  return {
    name: 'backupstoragelocations',
    userAgent: 'velero/v1.17.0',
    watches: [{ resource: upstream.backupStorageLocations, namespaces: [veleroNamespace] }],
    async reconcile(ctx, namespace, name) {
      if (!installed()) return undefined;
      const want = ctx.faults.storageLocationPhases.get(name);
      if (!want) return undefined;
      const l = await ctx.kube.find<Location>(upstream.backupStorageLocations, name, namespace);
      if (!l || l.status?.phase === want) return undefined;
      ctx.guard();
      await ctx.kube.mergePatch(upstream.backupStorageLocations, name, namespace, {
        status: {
          phase: want,
          lastValidationTime: metaTime(),
          message:
            want === 'Available'
              ? null
              : `BackupStorageLocation "${name}" is unavailable: rpc error: code = Unknown desc = operation error S3: ListObjectsV2, https response error StatusCode: 403, AccessDenied`,
        },
      });
      ctx.log(`backupstoragelocation ${namespace}/${name}: ${want}`);
      return undefined;
    },
  };
}
