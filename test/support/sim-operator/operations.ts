import { createHash } from 'node:crypto';
import { isAlreadyExists, isConflict, isNotFound } from '../../../lib/kube/api-error';
import { core, apiVersionOf, type KubeObject } from '../../../lib/kube/resources';
import { parseGoDuration } from '../../../lib/duration';
import { resources } from '../../../lib/operator/names';
import type { ApplicationInstance, Operation } from '../../../lib/operator/schemas';
import { metaTime } from './conditions';
import type { BackupFailure, Controller, SimContext } from './context';

// The operator's Operation reconciler for type Backup with the velero engine (operator-api.md,
// "Operation"): Pending → Running → Succeeded | Failed, with the Velero Backup it made named in
// status.backupRef. Velero itself does not run here: the sim writes the Backup as Velero would
// leave it, and the CSI VolumeSnapshotContents its CSI plugin would leave behind.

/** The CSI driver of the VolumeSnapshotContents the sim makes (no such driver runs anywhere). */
export const snapshotDriver = 'csi.vworkspace.test';
/** On the Velero Backups and VolumeSnapshotContents the sim makes: the Operation's namespace. */
export const operationNamespaceLabel = 'ops.vworkspace.io/operation-namespace';
/** The label the sim (and the sandbox) use to tie PVCs to their ApplicationInstance. */
export const instanceLabel = 'app.kubernetes.io/instance';

const shortHash = (s: string, n = 10) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A label value is at most 63 characters; longer ones are cut and suffixed with a hash, as Velero does. */
export const validLabelValue = (s: string) => (s.length <= 63 ? s : `${s.slice(0, 57)}${shortHash(s, 6)}`);

/** The Velero Backup the sim makes for an Operation: `<namespace>-<operation>`, in the Velero namespace. */
export const veleroBackupName = (namespace: string, operation: string) => {
  const name = `${namespace}-${operation}`;
  return name.length <= 253 ? name : `${name.slice(0, 242)}-${shortHash(name)}`;
};

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

type OperationObject = Operation & KubeObject;
type Params = NonNullable<Operation['spec']['parameters']>;

interface PvcObject extends KubeObject {
  spec?: { volumeName?: string; resources?: { requests?: { storage?: string } } };
}

interface Outcome {
  veleroPhase: 'Completed' | 'Failed' | 'PartiallyFailed' | 'FailedValidation' | 'InProgress';
  operationPhase: 'Succeeded' | 'Failed' | 'Running';
  reason: string;
  message: string;
  failureReason?: string;
  validationErrors?: string[];
}

function faultFor<T>(faults: Map<string, T> | Set<string>, namespace: string, app: string): T | boolean | undefined {
  for (const key of [`${namespace}/${app}`, app]) {
    if (faults instanceof Set) {
      if (faults.has(key)) return true;
    } else if (faults.has(key)) return faults.get(key);
  }
  return undefined;
}

/** The PVCs a backup of the application covers: those labelled for it, else the namespace's. */
async function volumesOf(ctx: SimContext, namespace: string, app: string): Promise<PvcObject[]> {
  const { items } = await ctx.client.list<PvcObject>(core.persistentVolumeClaims, { namespace });
  const labelled = items.filter((p) => p.metadata.labels?.[instanceLabel] !== undefined);
  const mine = labelled.length ? labelled.filter((p) => p.metadata.labels?.[instanceLabel] === app) : items;
  return mine.filter((p) => p.spec?.volumeName);
}

/**
 * What Velero's CSI plugin leaves behind for each bound PVC: a VolumeSnapshotContent with
 * deletionPolicy Retain (its VolumeSnapshot is deleted after the backup), ready to use.
 */
async function snapshotVolumes(ctx: SimContext, op: OperationObject, app: string, backupName: string, params: Params) {
  const ns = op.metadata.namespace as string;
  const made: string[] = [];
  for (const pvc of await volumesOf(ctx, ns, app)) {
    const seed = `${ns}/${op.metadata.name}/${pvc.metadata.name}`;
    const name = `snapcontent-${uuidFrom(seed)}`;
    const snapshotHandle = `snap-${uuidFrom(`handle:${seed}`)}`;
    const body = {
      apiVersion: apiVersionOf(resources.volumeSnapshotContents),
      kind: resources.volumeSnapshotContents.kind,
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
        ...(params.csiSnapshotClassName ? { volumeSnapshotClassName: params.csiSnapshotClassName } : {}),
        volumeSnapshotRef: {
          apiVersion: apiVersionOf(resources.volumeSnapshots),
          kind: resources.volumeSnapshots.kind,
          name: `velero-${pvc.metadata.name.slice(0, 200)}-${shortHash(seed, 5)}`,
          namespace: ns,
        },
      },
    };
    ctx.guard();
    try {
      await ctx.client.create(resources.volumeSnapshotContents, body);
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    ctx.guard();
    await ctx.client.mergePatch(
      resources.volumeSnapshotContents,
      name,
      undefined,
      {
        status: {
          readyToUse: true,
          snapshotHandle,
          // int64 nanoseconds since the epoch, as the CSI sidecar writes it.
          creationTime: Date.now() * 1_000_000,
          restoreSize: quantityBytes(pvc.spec?.resources?.requests?.storage),
        },
      },
      { subresource: 'status' },
    );
    made.push(name);
  }
  return made;
}

/** Velero validates the BackupStorageLocation before anything else. */
async function checkLocation(ctx: SimContext, params: Params): Promise<Outcome | undefined> {
  const name = params.storageLocation;
  if (!name) return undefined;
  const bsl = await ctx.client.find(resources.backupStorageLocations, name, ctx.veleroNamespace);
  if (!bsl) {
    const error = `a BackupStorageLocation CRD with the name specified in the backup spec needs to be created before this backup can be executed. Error: backupstoragelocations.velero.io "${name}" not found`;
    return {
      veleroPhase: 'FailedValidation',
      operationPhase: 'Failed',
      reason: 'BackupFailedValidation',
      message: error,
      validationErrors: [error],
    };
  }
  const phase = (bsl.status as { phase?: string } | undefined)?.phase;
  if (phase !== 'Available') {
    const error = `BackupStorageLocation "${name}" is unavailable (phase ${phase ?? 'unknown'})`;
    return {
      veleroPhase: 'Failed',
      operationPhase: 'Failed',
      reason: 'VeleroBackupFailed',
      message: error,
      failureReason: error,
    };
  }
  return undefined;
}

function injectedFailure(f: string | BackupFailure): Outcome {
  const failure = typeof f === 'string' ? { reason: f } : f;
  const veleroPhase = failure.veleroPhase ?? (/partial/i.test(failure.reason) ? 'PartiallyFailed' : 'Failed');
  const message = failure.message ?? `velero backup ended ${veleroPhase}`;
  return { veleroPhase, operationPhase: 'Failed', reason: failure.reason, message, failureReason: message };
}

/** Creates the Velero Backup as Velero leaves it, or moves an existing one (a hung backup) on. */
async function writeVeleroBackup(
  ctx: SimContext,
  op: OperationObject,
  app: string,
  params: Params,
  outcome: Outcome,
  snapshots: number,
) {
  const ns = op.metadata.namespace as string;
  const name = veleroBackupName(ns, op.metadata.name);
  const now = new Date();
  const ttl = params.ttl ?? '720h0m0s';
  const finished = outcome.veleroPhase !== 'InProgress';
  const status = {
    phase: outcome.veleroPhase,
    version: 1,
    formatVersion: '1.1.0',
    startTimestamp: metaTime(new Date((op.status?.startTime && Date.parse(op.status.startTime)) || now.getTime())),
    ...(finished ? { completionTimestamp: metaTime(now) } : {}),
    ...(outcome.veleroPhase !== 'FailedValidation'
      ? { expiration: metaTime(new Date(now.getTime() + (parseGoDuration(ttl) ?? 0))) }
      : {}),
    ...(outcome.failureReason ? { failureReason: outcome.failureReason } : {}),
    ...(outcome.validationErrors ? { validationErrors: outcome.validationErrors } : {}),
    ...(outcome.veleroPhase === 'PartiallyFailed' || outcome.veleroPhase === 'Failed' ? { errors: 1 } : {}),
    progress: { totalItems: 10 + snapshots, itemsBackedUp: finished ? 10 + snapshots : 0 },
    ...(params.snapshotVolumes
      ? { csiVolumeSnapshotsAttempted: snapshots, csiVolumeSnapshotsCompleted: finished ? snapshots : 0 }
      : {}),
  };
  const body = {
    apiVersion: apiVersionOf(resources.veleroBackups),
    kind: resources.veleroBackups.kind,
    metadata: {
      name,
      namespace: ctx.veleroNamespace,
      labels: {
        ...(params.storageLocation ? { 'velero.io/storage-location': validLabelValue(params.storageLocation) } : {}),
        [instanceLabel]: validLabelValue(app),
        'ops.vworkspace.io/operation': validLabelValue(op.metadata.name),
        [operationNamespaceLabel]: ns,
      },
      annotations: { 'ops.vworkspace.io/operation': `${ns}/${op.metadata.name}` },
    },
    spec: {
      includedNamespaces: [ns],
      ...(params.storageLocation ? { storageLocation: params.storageLocation } : {}),
      ttl,
      snapshotVolumes: params.snapshotVolumes ?? false,
      csiSnapshotTimeout: '10m0s',
      itemOperationTimeout: '4h0m0s',
      defaultVolumesToFsBackup: false,
      metadata: {},
      hooks: {},
    },
    status,
  };
  ctx.guard();
  let created: KubeObject;
  try {
    created = await ctx.client.create(resources.veleroBackups, body, ctx.veleroNamespace);
  } catch (err) {
    if (!isAlreadyExists(err)) throw err;
    ctx.guard();
    created = await ctx.client.mergePatch(resources.veleroBackups, name, ctx.veleroNamespace, { status });
  }
  // Velero's CRDs have no status subresource; should a later version add one, write it there.
  if ((created.status as { phase?: string } | undefined)?.phase !== status.phase) {
    ctx.guard();
    await ctx.client.mergePatch(
      resources.veleroBackups,
      name,
      ctx.veleroNamespace,
      { status },
      { subresource: 'status' },
    );
  }
  return name;
}

export function operationController(namespaces: (string | undefined)[]): Controller {
  // When each Operation may take its next step (faults.phaseDelayMs); lost on a crash, as an
  // in-memory rate limit would be.
  const notBefore = new Map<string, number>();

  async function writeStatus(ctx: SimContext, op: OperationObject, status: Record<string, unknown>) {
    ctx.guard();
    // resourceVersion makes the patch conditional: a transition is taken once, from the state seen.
    await ctx.client.mergePatch(
      resources.operations,
      op.metadata.name,
      op.metadata.namespace,
      { metadata: { resourceVersion: op.metadata.resourceVersion }, status },
      { subresource: 'status' },
    );
    const key = `${op.metadata.namespace}/${op.metadata.name}`;
    if (ctx.faults.phaseDelayMs > 0) notBefore.set(key, Date.now() + ctx.faults.phaseDelayMs);
    const phase = (status.phase as string) ?? op.status?.phase;
    ctx.log(`operation ${key}: ${phase}${status.reason ? ` (${status.reason})` : ''}`);
  }

  const finish = (
    ctx: SimContext,
    op: OperationObject,
    phase: 'Succeeded' | 'Failed',
    reason: string,
    message: string,
    extra: Record<string, unknown> = {},
  ) => writeStatus(ctx, op, { phase, reason, message, completionTime: metaTime(), ...extra });

  async function step(ctx: SimContext, op: OperationObject) {
    const ns = op.metadata.namespace as string;
    const phase = op.status?.phase;
    const target = op.spec.targetRef;
    if (op.spec.type !== 'Backup') {
      return finish(
        ctx,
        op,
        'Failed',
        'UnsupportedOperation',
        `the simulated operator runs Backup operations only, not ${op.spec.type}`,
      );
    }
    if (!phase) return writeStatus(ctx, op, { phase: 'Pending', reason: 'Accepted', message: 'waiting to start' });

    if (phase === 'Pending') {
      if (target.kind !== resources.applicationInstances.kind) {
        return finish(
          ctx,
          op,
          'Failed',
          'InvalidTarget',
          `a Backup targets an ApplicationInstance, not a ${target.kind}`,
        );
      }
      const ai = await ctx.client.find<ApplicationInstance & KubeObject>(
        resources.applicationInstances,
        target.name,
        ns,
      );
      if (!ai) return finish(ctx, op, 'Failed', 'TargetNotFound', `applicationinstance ${ns}/${target.name} not found`);
      if (ai.spec?.backup?.capable === false) {
        return finish(
          ctx,
          op,
          'Failed',
          'BackupNotSupported',
          `applicationinstance ${ns}/${target.name} has no backup capability (spec.backup.capable: false)`,
        );
      }
      return writeStatus(ctx, op, {
        phase: 'Running',
        reason: 'BackupStarted',
        message: 'velero backup in progress',
        startTime: metaTime(),
      });
    }

    // Running: Velero's part.
    const app = target.name;
    const params: Params = op.spec.parameters ?? {};
    const backupName = veleroBackupName(ns, op.metadata.name);
    const backupRef = { namespace: ctx.veleroNamespace, name: backupName };
    const invalid = await checkLocation(ctx, params);
    if (invalid) {
      await writeVeleroBackup(ctx, op, app, params, invalid, 0);
      return finish(ctx, op, 'Failed', invalid.reason, invalid.message, { backupRef });
    }
    if (faultFor(ctx.faults.hangBackups, ns, app)) {
      // Stays Running; a change of faults requeues it.
      const existing = await ctx.client.find(resources.veleroBackups, backupName, ctx.veleroNamespace);
      if (!existing) {
        await writeVeleroBackup(
          ctx,
          op,
          app,
          params,
          { veleroPhase: 'InProgress', operationPhase: 'Running', reason: '', message: '' },
          0,
        );
        ctx.log(`operation ${ns}/${op.metadata.name}: hanging (fault)`);
      }
      return;
    }
    const failure = faultFor(ctx.faults.failBackups, ns, app);
    if (failure) {
      const outcome = injectedFailure(failure as string | BackupFailure);
      await writeVeleroBackup(ctx, op, app, params, outcome, 0);
      return finish(
        ctx,
        op,
        'Failed',
        outcome.reason,
        `velero backup ${ctx.veleroNamespace}/${backupName} ended ${outcome.veleroPhase}: ${outcome.message}`,
        { backupRef },
      );
    }
    const snapshots = params.snapshotVolumes ? await snapshotVolumes(ctx, op, app, backupName, params) : [];
    await writeVeleroBackup(
      ctx,
      op,
      app,
      params,
      { veleroPhase: 'Completed', operationPhase: 'Succeeded', reason: '', message: '' },
      snapshots.length,
    );
    return finish(
      ctx,
      op,
      'Succeeded',
      'BackupCompleted',
      `velero backup ${ctx.veleroNamespace}/${backupName} completed (${snapshots.length} volume snapshots)`,
      { backupRef },
    );
  }

  return {
    name: 'operations',
    watches: [{ resource: resources.operations, namespaces }],
    async reconcile(ctx, namespace, name) {
      const key = `${namespace}/${name}`;
      const op = await ctx.client.find<OperationObject>(resources.operations, name, namespace);
      const phase = op?.status?.phase;
      // A finished Operation is never run again.
      if (!op || op.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') {
        notBefore.delete(key);
        return;
      }
      const wait = (notBefore.get(key) ?? 0) - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      try {
        await step(ctx, op);
      } catch (err) {
        // Someone (or our own last write) moved it on: the watch brings the new state.
        if (isConflict(err)) return { requeueAfterMs: 50 };
        if (isNotFound(err)) return;
        throw err;
      }
    },
  };
}
