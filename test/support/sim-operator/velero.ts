import { createHash } from 'node:crypto';
import { apiVersionOf } from '../contract';
import { type Informer, isAlreadyExists, isConflict, isNotFound, type KubeObject, sleep } from '../kube';
import { core, metaTime, parseGoDuration, upstream } from '../kinds';
import { type Controller, faultFor, type Presence, type SimContext } from './context';
import type { ReconcileResult } from './queue';
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
    backupItemOperationsAttempted?: number;
    backupItemOperationsCompleted?: number;
    backupItemOperationsFailed?: number;
    queuePosition?: number;
    version?: number;
    formatVersion?: string;
  };
}

interface Location extends KubeObject {
  spec?: { default?: boolean; accessMode?: string };
  status?: { phase?: string; lastValidationTime?: string; message?: string };
}

interface PvcObject extends KubeObject {
  spec?: { volumeName?: string; resources?: { requests?: { storage?: string } } };
}

/** What decides where a backup ends. */
type Fate = 'succeed' | 'fail' | 'partial' | 'hang';

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

/** The location a Backup names, else the default one; undefined when there is none. */
async function locationOf(ctx: SimContext, b: VeleroBackup): Promise<Location | undefined> {
  const name = b.spec?.storageLocation;
  if (name) return ctx.kube.find<Location>(upstream.backupStorageLocations, name, ctx.veleroNamespace);
  const { items } = await ctx.kube.list<Location>(upstream.backupStorageLocations, { namespace: ctx.veleroNamespace });
  return items.find((l) => l.spec?.default);
}

/** Velero validates the BackupStorageLocation before anything else (backup_controller.go). */
async function validate(ctx: SimContext, b: VeleroBackup): Promise<{ errors: string[]; location?: Location }> {
  const errors: string[] = [];
  const ttl = b.spec?.ttl ?? veleroDefaultTtl;
  if (parseGoDuration(ttl) === undefined) errors.push(`invalid ttl ${JSON.stringify(ttl)}`);
  const name = b.spec?.storageLocation;
  const location = await locationOf(ctx, b);
  if (!location) {
    errors.push(
      name
        ? `an existing backup storage location was not specified at backup creation time and the server default ${name} does not exist. Please address this issue (see \`velero backup-location -h\` for options) and create a new backup. Error: backupstoragelocations.velero.io "${name}" not found`
        : 'no backup storage location was specified and there is no default one',
    );
  } else if (location.spec?.accessMode === 'ReadOnly') {
    errors.push(
      `backup can't be created because backup storage location ${location.metadata.name} is currently in read-only mode`,
    );
  } else if (location.status?.phase !== 'Available') {
    errors.push(
      `backup can't be created because BackupStorageLocation ${location.metadata.name} is in Unavailable status.`,
    );
  }
  return { errors, location };
}

/** What the simulated Velero has written to object storage: the Backups it finished, by "namespace/name". */
export type SimObjectStore = Map<string, VeleroBackup>;

const storageLocationLabel = 'velero.io/storage-location';
const waiting = new Set(['New', 'Queued', 'ReadyToStart']);
const running = new Set(['ReadyToStart', 'InProgress']);
export const veleroTerminal = new Set(['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation']);

/**
 * Velero's backup, queue and garbage-collection controllers, as v1.18 has them:
 *
 *   New → Queued (queuePosition) → ReadyToStart (one at a time: timing.veleroConcurrentBackups)
 *       → FailedValidation                      (location missing, ReadOnly or not Available)
 *       → InProgress → [WaitingForPluginOperations →] Finalizing → Completed
 *                    → [WaitingForPluginOperationsPartiallyFailed →] FinalizingPartiallyFailed → PartiallyFailed
 *                    → Failed                   (a fault, or the location lost mid-run: the upload fails)
 *
 * Garbage collection looks at a finished Backup when it sees it and then every
 * timing.veleroGcFrequencyMs (Velero's 1 h); an expired one gets a DeleteBackupRequest unless its
 * location is missing, ReadOnly or not Available (then it waits). The deletion itself is
 * deletionController's, as in Velero.
 */
export function veleroController(veleroNamespace: string, installed: Presence, store: SimObjectStore): Controller {
  // When each Backup may take its next step: `<key>|<phase>` → time. In memory, as Velero's queue is.
  const due = new Map<string, number>();
  const hungLogged = new Set<string>();
  let cache: Informer | undefined;

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

  async function write(ctx: SimContext, b: VeleroBackup, status: VeleroBackup['status'], labels?: object) {
    ctx.guard();
    // Velero's CRD has no status subresource: the status goes with the object, conditional on
    // the version this step was decided from.
    const written = await ctx.kube.mergePatch<VeleroBackup>(
      upstream.veleroBackups,
      b.metadata.name,
      b.metadata.namespace,
      {
        metadata: { resourceVersion: b.metadata.resourceVersion, ...(labels ? { labels } : {}) },
        status,
      },
    );
    ctx.log(`velero backup ${b.metadata.namespace}/${b.metadata.name}: ${status?.phase ?? b.status?.phase}`);
    // What Velero uploads at the end of a backup: the object store then holds it.
    if (veleroTerminal.has(written.status?.phase ?? '') && written.status?.phase !== 'FailedValidation')
      store.set(`${written.metadata.namespace}/${written.metadata.name}`, written);
    return written;
  }

  /** The in-scope Backups of the queue, from the watch's cache. */
  function queueOf(ctx: SimContext): VeleroBackup[] {
    return ((cache?.list() ?? []) as VeleroBackup[]).filter(
      (x) => !x.metadata.deletionTimestamp && backupInScope(x, ctx.inScope),
    );
  }

  async function enqueue(ctx: SimContext, b: VeleroBackup) {
    const last = Math.max(
      0,
      ...queueOf(ctx).map((x) => (x.status?.phase === 'Queued' ? (x.status.queuePosition ?? 0) : 0)),
    );
    return write(ctx, b, { phase: 'Queued', queuePosition: last + 1 });
  }

  /** The first Queued one moves to ReadyToStart when fewer than the allowed number run. */
  async function dequeue(ctx: SimContext, b: VeleroBackup): Promise<ReconcileResult | undefined> {
    const all = queueOf(ctx);
    const busy = all.filter((x) => running.has(x.status?.phase ?? '')).length;
    const position = b.status?.queuePosition ?? 0;
    const earlier = all.some(
      (x) =>
        x.status?.phase === 'Queued' && (x.status.queuePosition ?? 0) < position && x.metadata.name !== b.metadata.name,
    );
    if (busy >= ctx.timing.veleroConcurrentBackups || earlier) return { requeueAfterMs: 250 };
    await write(ctx, b, { phase: 'ReadyToStart', queuePosition: 0 });
    return undefined;
  }

  async function start(ctx: SimContext, b: VeleroBackup) {
    const now = Date.now();
    const { errors, location } = await validate(ctx, b);
    const startAt = Math.floor(now / 1000) * 1000;
    const ttl = parseGoDuration(b.spec?.ttl ?? veleroDefaultTtl) ?? 0;
    const common = { version: 1, formatVersion: '1.1.0', expiration: metaTime(startAt + ttl) };
    const labels = location ? { [storageLocationLabel]: validLabelValue(location.metadata.name) } : undefined;
    if (errors.length)
      return write(
        ctx,
        b,
        { ...common, phase: 'FailedValidation', validationErrors: errors, completionTimestamp: metaTime(now) },
        labels,
      );
    return write(
      ctx,
      b,
      {
        ...common,
        phase: 'InProgress',
        startTimestamp: metaTime(startAt),
        progress: { totalItems: 0, itemsBackedUp: 0 },
      },
      labels,
    );
  }

  async function run(ctx: SimContext, b: VeleroBackup, key: string) {
    const { fate, message } = fateOf(ctx, b);
    if (fate === 'hang') {
      // Stays InProgress; a change of faults (setFaults kicks every key) lets it go on.
      if (!hungLogged.has(key)) ctx.log(`velero backup ${key}: hanging (fault)`);
      hungLogged.add(key);
      return;
    }
    hungLogged.delete(key);
    // Writing to the store needs the location still there and Available: lost mid-run, it fails.
    const location = await locationOf(ctx, b);
    const lost =
      location?.status?.phase !== 'Available'
        ? `rpc error: code = Unknown desc = error uploading backup: backup storage location ${b.spec?.storageLocation ?? 'default'} is ${location ? (location.status?.phase ?? 'Unknown') : 'gone'}`
        : undefined;
    if (fate === 'fail' || lost) {
      return write(ctx, b, {
        phase: 'Failed',
        failureReason:
          lost ?? message ?? 'rpc error: code = Unavailable desc = connection to the object store was lost',
        errors: 1,
        completionTimestamp: metaTime(),
        progress: { totalItems: 24, itemsBackedUp: 7 },
      });
    }
    const snapshots = b.spec?.snapshotVolumes ? await snapshotVolumes(ctx, b) : 0;
    const csi = b.spec?.snapshotVolumes
      ? { csiVolumeSnapshotsAttempted: snapshots, csiVolumeSnapshotsCompleted: 0 }
      : {};
    const ops = snapshots ? { backupItemOperationsAttempted: snapshots } : {};
    if (fate === 'partial') {
      return write(ctx, b, {
        phase: snapshots ? 'WaitingForPluginOperationsPartiallyFailed' : 'FinalizingPartiallyFailed',
        errors: 1,
        ...(message ? { failureReason: message } : {}),
        progress: { totalItems: 24, itemsBackedUp: 23 },
        ...csi,
        ...ops,
      });
    }
    return write(ctx, b, {
      phase: snapshots ? 'WaitingForPluginOperations' : 'Finalizing',
      progress: { totalItems: 24, itemsBackedUp: 24 },
      ...csi,
      ...ops,
    });
  }

  async function step(ctx: SimContext, b: VeleroBackup, key: string): Promise<ReconcileResult | undefined> {
    const phase = b.status?.phase || 'New';
    switch (phase) {
      case 'New':
        await enqueue(ctx, b);
        return undefined;
      case 'Queued':
        return dequeue(ctx, b);
      case 'ReadyToStart':
        await start(ctx, b);
        return undefined;
      case 'InProgress':
        await run(ctx, b, key);
        return undefined;
      case 'WaitingForPluginOperations':
      case 'WaitingForPluginOperationsPartiallyFailed': {
        const partial = phase.endsWith('PartiallyFailed');
        const attempted = b.status?.csiVolumeSnapshotsAttempted ?? 0;
        const completed = partial ? Math.max(0, attempted - 1) : attempted;
        await write(ctx, b, {
          phase: partial ? 'FinalizingPartiallyFailed' : 'Finalizing',
          csiVolumeSnapshotsCompleted: completed,
          backupItemOperationsCompleted: completed,
          ...(partial ? { backupItemOperationsFailed: attempted - completed } : {}),
        });
        return undefined;
      }
      case 'Finalizing':
        await write(ctx, b, { phase: 'Completed', completionTimestamp: metaTime() });
        return undefined;
      case 'FinalizingPartiallyFailed':
        await write(ctx, b, { phase: 'PartiallyFailed', completionTimestamp: metaTime() });
        return undefined;
      default:
        return undefined;
    }
  }

  // Velero's garbage collection looks at a Backup when its informer first lists it (a server
  // start) and at every tick of its period from then on, never on a Backup's own changes.
  const startedAt = Date.now();
  const gcDue = new Map<string, { at: number; every: number }>();
  const nextTick = (every: number) => startedAt + (Math.floor((Date.now() - startedAt) / every) + 1) * every;

  /** ms until garbage collection looks at this Backup, or undefined: now. */
  function gcWait(ctx: SimContext, b: VeleroBackup, key: string): number | undefined {
    const every = ctx.timing.veleroGcFrequencyMs;
    let due = gcDue.get(key);
    if (!due || due.every !== every) {
      const listedAtStart = Date.parse(b.metadata.creationTimestamp ?? '') < startedAt;
      due = { at: listedAtStart && !gcDue.has(key) ? Date.now() : nextTick(every), every };
      gcDue.set(key, due);
    }
    return due.at > Date.now() ? due.at - Date.now() : undefined;
  }

  /** Garbage collection of one finished Backup: a DeleteBackupRequest once expired, if the location allows. */
  async function collect(ctx: SimContext, b: VeleroBackup, key: string): Promise<ReconcileResult> {
    const wait = gcWait(ctx, b, key);
    if (wait !== undefined) return { requeueAfterMs: wait };
    const at = nextTick(ctx.timing.veleroGcFrequencyMs);
    gcDue.set(key, { at, every: ctx.timing.veleroGcFrequencyMs });
    const next = { requeueAfterMs: at - Date.now() };
    const expiration = Date.parse(b.status?.expiration ?? '');
    if (Number.isNaN(expiration) || expiration > Date.now()) return next;
    const location = await locationOf(ctx, b);
    const failure = !location ? 'BSLNotFound' : location.spec?.accessMode === 'ReadOnly' ? 'BSLReadOnly' : undefined;
    if (failure || location?.status?.phase !== 'Available') {
      if (failure && b.metadata.labels?.[gcFailureLabel] !== failure) {
        ctx.guard();
        await ctx.kube.mergePatch(upstream.veleroBackups, b.metadata.name, b.metadata.namespace, {
          metadata: { labels: { [gcFailureLabel]: failure } },
        });
      }
      return next;
    }
    const { items } = await ctx.kube.list<DeleteRequest>(upstream.deleteBackupRequests, {
      namespace: b.metadata.namespace,
      labelSelector: `${backupNameLabel}=${validLabelValue(b.metadata.name)},${backupUidLabel}=${b.metadata.uid}`,
    });
    if (items.some((r) => r.status?.phase !== 'Processed')) return next;
    ctx.guard();
    await ctx.kube.create(upstream.deleteBackupRequests, deleteRequestFor(b), b.metadata.namespace);
    ctx.log(`velero backup ${b.metadata.namespace}/${b.metadata.name}: expired, DeleteBackupRequest created`);
    return next;
  }

  return {
    name: 'velero',
    userAgent: 'velero/v1.18.3',
    watches: [{ resource: upstream.veleroBackups, namespaces: [veleroNamespace] }],
    started(informers) {
      cache = informers[0];
    },
    async reconcile(ctx, namespace, name) {
      const key = `${namespace}/${name}`;
      if (!installed()) return undefined;
      const b = await ctx.kube.find<VeleroBackup>(upstream.veleroBackups, name, namespace);
      if (!b || b.metadata.deletionTimestamp || !backupInScope(b, ctx.inScope)) {
        for (const k of due.keys()) if (k.startsWith(`${key}|`)) due.delete(k);
        gcDue.delete(key);
        return undefined;
      }
      const phase = b.status?.phase || 'New';
      if (veleroTerminal.has(phase)) return collect(ctx, b, key);
      if (phase === 'Deleting') return undefined; // the deletion controller's
      // The queue's own moves take no time of their own; the work does.
      const left = waiting.has(phase) && phase !== 'ReadyToStart' ? 0 : wait(ctx, key, phase);
      if (left > 0) return { requeueAfterMs: left };
      try {
        const result = await step(ctx, b, key);
        if (!result) due.delete(`${key}|${phase}`);
        return result;
      } catch (err) {
        // Changed meanwhile (or gone): start over from the watch's news.
        if (isConflict(err)) return { requeueAfterMs: 0 };
        if (isNotFound(err)) return undefined;
        throw err;
      }
    },
  };
}

interface DeleteRequest extends KubeObject {
  spec?: { backupName?: string };
  status?: { phase?: string; errors?: string[] };
}

const backupNameLabel = 'velero.io/backup-name';
const backupUidLabel = 'velero.io/backup-uid';
const gcFailureLabel = 'velero.io/gc-failure';

/** What `velero backup delete` and garbage collection create (pkg/backup.NewDeleteBackupRequest). */
export function deleteRequestFor(b: KubeObject) {
  return {
    apiVersion: apiVersionOf(upstream.deleteBackupRequests),
    kind: upstream.deleteBackupRequests.kind,
    metadata: {
      generateName: `${b.metadata.name.slice(0, 57)}-`,
      labels: { [backupNameLabel]: validLabelValue(b.metadata.name), [backupUidLabel]: b.metadata.uid ?? '' },
    },
    spec: { backupName: b.metadata.name },
  };
}

/**
 * Velero's backup deletion controller: a DeleteBackupRequest deletes its Backup (by name) unless
 * the location is missing, ReadOnly or not Available, or the Backup is still running; the Backup
 * goes Deleting, then its snapshots, its data in the store and the Backup itself go. The request
 * ends Processed (with errors, when refused).
 */
export function deletionController(veleroNamespace: string, installed: Presence, store: SimObjectStore): Controller {
  async function finish(ctx: SimContext, r: DeleteRequest, errors: string[] = []) {
    ctx.guard();
    await ctx.kube.mergePatch(upstream.deleteBackupRequests, r.metadata.name, r.metadata.namespace, {
      status: { phase: 'Processed', ...(errors.length ? { errors } : {}) },
    });
    ctx.log(
      `deletebackuprequest ${r.metadata.namespace}/${r.metadata.name}: Processed${errors.length ? ` (${errors.join('; ')})` : ''}`,
    );
  }

  async function refusal(ctx: SimContext, b: VeleroBackup | undefined): Promise<string | undefined> {
    if (!b) return 'backup not found';
    if (!veleroTerminal.has(b.status?.phase ?? '') && b.status?.phase !== 'Deleting')
      return 'backup is still in progress';
    const location = await locationOf(ctx, b);
    const name = b.spec?.storageLocation ?? 'default';
    if (!location) return `backup storage location ${name} not found`;
    if (location.spec?.accessMode === 'ReadOnly')
      return `cannot delete backup because backup storage location ${name} is currently in read-only mode`;
    if (location.status?.phase !== 'Available')
      return `cannot delete backup because backup storage location ${name} is currently in Unavailable state`;
    return undefined;
  }

  return {
    name: 'velero-backup-deletion',
    userAgent: 'velero/v1.18.3',
    watches: [{ resource: upstream.deleteBackupRequests, namespaces: [veleroNamespace] }],
    async reconcile(ctx, namespace, name) {
      if (!installed()) return undefined;
      const r = await ctx.kube.find<DeleteRequest>(upstream.deleteBackupRequests, name, namespace);
      if (!r || r.status?.phase === 'Processed' || !r.spec?.backupName) return undefined;
      const b = await ctx.kube.find<VeleroBackup>(upstream.veleroBackups, r.spec.backupName, namespace);
      if (b && !backupInScope(b, ctx.inScope)) return undefined; // another world's
      if (!b && !ctx.inScope(undefined)) return undefined;
      const refused = await refusal(ctx, b);
      if (refused || !b) return finish(ctx, r, [refused ?? 'backup not found']).then(() => undefined);
      ctx.guard();
      await ctx.kube.mergePatch(upstream.deleteBackupRequests, name, namespace, {
        metadata: { labels: { [backupNameLabel]: validLabelValue(b.metadata.name), [backupUidLabel]: b.metadata.uid } },
        status: { phase: 'InProgress' },
      });
      await ctx.kube.mergePatch(upstream.veleroBackups, b.metadata.name, namespace, { status: { phase: 'Deleting' } });
      await sleep(draw(ctx.timing.veleroPhaseDelayMs), ctx.signal);
      const { items } = await ctx.kube.list(upstream.volumeSnapshotContents, {
        labelSelector: `${backupNameLabel}=${validLabelValue(b.metadata.name)}`,
      });
      for (const vsc of items) {
        ctx.guard();
        await ctx.kube.deleteIfExists(upstream.volumeSnapshotContents, vsc.metadata.name);
      }
      store.delete(`${namespace}/${b.metadata.name}`);
      ctx.guard();
      await ctx.kube.deleteIfExists(upstream.veleroBackups, b.metadata.name, namespace, {
        preconditions: { uid: b.metadata.uid },
      });
      ctx.log(`velero backup ${namespace}/${b.metadata.name}: deleted`);
      await finish(ctx, r);
      return undefined;
    },
  };
}

/**
 * Velero's backup sync, every timing.veleroSyncPeriodMs while a location is Available: a Backup in
 * the (simulated) object store but not in the cluster comes back, as it was stored; a Completed
 * or PartiallyFailed one of that location whose data is gone from the store is removed.
 */
export function syncController(veleroNamespace: string, installed: Presence, store: SimObjectStore): Controller {
  return {
    name: 'velero-backup-sync',
    userAgent: 'velero/v1.18.3',
    watches: [{ resource: upstream.backupStorageLocations, namespaces: [veleroNamespace] }],
    async reconcile(ctx, namespace, name) {
      const next = { requeueAfterMs: ctx.timing.veleroSyncPeriodMs };
      if (!installed()) return next;
      const location = await ctx.kube.find<Location>(upstream.backupStorageLocations, name, namespace);
      if (!location) return undefined;
      if (location.status?.phase !== 'Available') return next;
      const label = validLabelValue(name);
      const { items } = await ctx.kube.list<VeleroBackup>(upstream.veleroBackups, { namespace });
      const inCluster = new Set(items.map((b) => b.metadata.name));
      for (const [key, stored] of store) {
        if (!key.startsWith(`${namespace}/`) || inCluster.has(stored.metadata.name)) continue;
        if (stored.metadata.labels?.[storageLocationLabel] !== label || !backupInScope(stored, ctx.inScope)) continue;
        const { name: n, labels, annotations } = stored.metadata;
        ctx.guard();
        await ctx.kube
          .create(
            upstream.veleroBackups,
            {
              apiVersion: apiVersionOf(upstream.veleroBackups),
              kind: upstream.veleroBackups.kind,
              metadata: { name: n, namespace, labels, annotations },
              spec: stored.spec,
              status: stored.status,
            },
            namespace,
          )
          .catch((err) => {
            if (!isAlreadyExists(err)) throw err;
          });
        ctx.log(`velero backup ${key}: synced back from the object store`);
      }
      for (const b of items) {
        const orphan =
          ['Completed', 'PartiallyFailed'].includes(b.status?.phase ?? '') &&
          b.metadata.labels?.[storageLocationLabel] === label &&
          backupInScope(b, ctx.inScope) &&
          !store.has(`${namespace}/${b.metadata.name}`);
        if (!orphan) continue;
        ctx.guard();
        await ctx.kube.deleteIfExists(upstream.veleroBackups, b.metadata.name, namespace, {
          preconditions: { uid: b.metadata.uid },
        });
        ctx.log(`velero backup ${namespace}/${b.metadata.name}: its data is gone from the store, removed`);
      }
      return next;
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
