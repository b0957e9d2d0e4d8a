import { createHash } from 'node:crypto';
import {
  type ApplicationInstance,
  apiVersionOf,
  backupNotSupported,
  kinds,
  type Operation,
  operationEngine,
} from '../contract';
import { isAlreadyExists, isConflict, isNotFound, type KubeObject } from '../kube';
import { upstream, veleroFinalPhases } from '../kinds';
import { metaTime } from './conditions';
import { type BackupFailure, type Controller, faultFor, type SimContext } from './context';
import { draw } from './timing';

// The operator's Operation reconciler (operator-api.md, "Operation"). A Backup goes Pending →
// (target checks) → Running with startTime and backupRef → the operator creates the Velero Backup
// (no status: Velero's New) and waits for Velero (velero.ts) to bring it to a final phase; only
// then does the Operation finish. Restore and Upgrade run to Succeeded after a while without
// touching Velero.

/** The CSI driver of the VolumeSnapshotContents the sim makes (no such driver runs anywhere). */
export const snapshotDriver = 'csi.vworkspace.test';
/** On the Velero Backups and VolumeSnapshotContents the sim makes: the Operation's namespace. */
export const operationNamespaceLabel = 'ops.vworkspace.io/operation-namespace';
/** On the Velero Backups the sim makes: `<namespace>/<operation>`, how Velero's news finds its Operation. */
export const operationAnnotation = 'ops.vworkspace.io/operation';
/** On the Velero Backups the sim makes: the VolumeSnapshotClass the Operation asked for. */
export const snapshotClassAnnotation = 'ops.vworkspace.io/csi-snapshot-class';
/** The label the sim (and the sandbox) use to tie PVCs (and backups) to their ApplicationInstance. */
export const instanceLabel = 'app.kubernetes.io/instance';

export const shortHash = (s: string, n = 10) => createHash('sha256').update(s).digest('hex').slice(0, n);

/** A label value is at most 63 characters; longer ones are cut and suffixed with a hash, as Velero does. */
export const validLabelValue = (s: string) => (s.length <= 63 ? s : `${s.slice(0, 57)}${shortHash(s, 6)}`);

/**
 * The Velero Backup the operator makes for an Operation: `<namespace>-<operation>`, plus a piece
 * of the Operation's uid when given (so an Operation deleted and made again gets a new Backup, not
 * the old one's outcome), in the Velero namespace.
 */
export const veleroBackupName = (namespace: string, operation: string, uid?: string) => {
  const name = `${namespace}-${operation}${uid ? `-${uid.slice(0, 8)}` : ''}`;
  return name.length <= 253 ? name : `${name.slice(0, 242)}-${shortHash(name)}`;
};

/** Velero's default TTL when a Backup names none. */
export const veleroDefaultTtl = '720h0m0s';

type OperationObject = Operation & KubeObject;
type Params = NonNullable<Operation['spec']['parameters']>;

interface VeleroBackup extends KubeObject {
  spec?: { storageLocation?: string; ttl?: string; snapshotVolumes?: boolean };
  status?: { phase?: string; failureReason?: string; validationErrors?: string[]; errors?: number };
}

/**
 * The Velero Backup of one application: its namespace, narrowed to the application's own objects
 * by their instance label; its VolumeSnapshotClass named for the class's driver, as Velero reads
 * it (`velero.io/csi-volumesnapshot-class_<driver>`).
 */
function desiredVeleroBackup(ctx: SimContext, op: OperationObject, name: string, classDriver?: string) {
  const ns = op.metadata.namespace as string;
  const app = op.spec.targetRef.name;
  const params: Params = op.spec.parameters ?? {};
  const csiClass =
    params.csiSnapshotClassName && classDriver
      ? { [`velero.io/csi-volumesnapshot-class_${classDriver}`]: params.csiSnapshotClassName }
      : {};
  return {
    apiVersion: apiVersionOf(upstream.veleroBackups),
    kind: upstream.veleroBackups.kind,
    metadata: {
      name,
      namespace: ctx.veleroNamespace,
      labels: {
        [instanceLabel]: validLabelValue(app),
        'ops.vworkspace.io/operation': validLabelValue(op.metadata.name),
        [operationNamespaceLabel]: ns,
      },
      annotations: {
        [operationAnnotation]: `${ns}/${op.metadata.name}`,
        ...(params.csiSnapshotClassName ? { [snapshotClassAnnotation]: params.csiSnapshotClassName } : {}),
        ...csiClass,
      },
    },
    spec: {
      includedNamespaces: [ns],
      labelSelector: { matchLabels: { [instanceLabel]: validLabelValue(app) } },
      ...(params.storageLocation ? { storageLocation: params.storageLocation } : {}),
      ttl: params.ttl ?? veleroDefaultTtl,
      snapshotVolumes: params.snapshotVolumes ?? false,
      csiSnapshotTimeout:
        ctx.faults.csiSnapshotTimeout ?? (ctx.faults.backupOutcome === 'partial' ? '15s' : ctx.csiSnapshotTimeout),
      itemOperationTimeout: '4h0m0s',
      defaultVolumesToFsBackup: false,
      hooks: {},
    },
  };
}

/** The Operation's end, given the final phase of its Velero Backup. */
function outcomeOf(
  ctx: SimContext,
  op: OperationObject,
  backup: VeleroBackup,
): { phase: 'Succeeded' | 'Failed'; reason: string; message: string } {
  const ns = op.metadata.namespace as string;
  const ref = `${ctx.veleroNamespace}/${backup.metadata.name}`;
  const phase = backup.status?.phase ?? '';
  const injected = faultFor(ctx.faults.failBackups, ns, op.spec.targetRef.name);
  const injectedReason =
    injected === undefined || injected === true
      ? undefined
      : typeof injected === 'string'
        ? injected
        : (injected as BackupFailure).reason;
  const detail = backup.status?.failureReason ?? backup.status?.validationErrors?.join('; ') ?? '';
  switch (phase) {
    case 'Completed':
      return { phase: 'Succeeded', reason: 'BackupCompleted', message: `velero backup ${ref} completed` };
    case 'PartiallyFailed':
      if (ctx.faults.partialAsSucceeded) {
        // The bug this fault plays: the operator reads "finished" as "done".
        return { phase: 'Succeeded', reason: 'BackupCompleted', message: `velero backup ${ref} completed` };
      }
      return {
        phase: 'Failed',
        reason: injectedReason ?? 'VeleroBackupPartiallyFailed',
        message: `velero backup ${ref} ended PartiallyFailed (${backup.status?.errors ?? 0} errors)${detail ? `: ${detail}` : ''}`,
      };
    case 'FailedValidation':
      return {
        phase: 'Failed',
        reason: 'BackupFailedValidation',
        message: `velero backup ${ref} failed validation: ${detail}`,
      };
    case 'Deleting':
      return { phase: 'Failed', reason: 'VeleroBackupDeleted', message: `velero backup ${ref} is being deleted` };
    default:
      return {
        phase: 'Failed',
        reason: injectedReason ?? 'VeleroBackupFailed',
        message: `velero backup ${ref} ended ${phase}${detail ? `: ${detail}` : ''}`,
      };
  }
}

export function operationController(namespaces: (string | undefined)[], veleroNamespace: string): Controller {
  // When each Operation may take its next step (faults.phaseDelayMs, and a Restore's or an
  // Upgrade's run time); lost on a crash, as an in-memory rate limit would be.
  const notBefore = new Map<string, number>();

  async function writeStatus(ctx: SimContext, op: OperationObject, status: Record<string, unknown>, holdMs = 0) {
    ctx.guard();
    // resourceVersion makes the patch conditional: a transition is taken once, from the state seen.
    const written = await ctx.kube.patchStatus<OperationObject>(
      kinds.operations,
      op.metadata.name,
      op.metadata.namespace,
      status,
      op.metadata.resourceVersion,
    );
    const key = `${op.metadata.namespace}/${op.metadata.name}`;
    const hold = ctx.faults.phaseDelayMs + holdMs;
    if (hold > 0) notBefore.set(key, Date.now() + hold);
    const phase = (status.phase as string) ?? op.status?.phase;
    ctx.log(`operation ${key}: ${phase}${status.reason ? ` (${status.reason})` : ''}`);
    return written;
  }

  const finish = (
    ctx: SimContext,
    op: OperationObject,
    phase: 'Succeeded' | 'Failed',
    reason: string,
    message: string,
    extra: Record<string, unknown> = {},
  ) => writeStatus(ctx, op, { phase, reason, message, completionTime: metaTime(), ...extra });

  async function ensureVeleroBackup(ctx: SimContext, op: OperationObject, name: string) {
    const className = op.spec.parameters?.csiSnapshotClassName;
    const snapshotClass = className ? await ctx.kube.find(upstream.volumeSnapshotClasses, className) : undefined;
    const driver = (snapshotClass as { driver?: string } | undefined)?.driver;
    ctx.guard();
    try {
      await ctx.kube.create(upstream.veleroBackups, desiredVeleroBackup(ctx, op, name, driver), ctx.veleroNamespace);
      ctx.log(
        `velero backup ${ctx.veleroNamespace}/${name}: created for operation ${op.metadata.namespace}/${op.metadata.name}`,
      );
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
  }

  async function stepBackup(ctx: SimContext, op: OperationObject) {
    const ns = op.metadata.namespace as string;
    const target = op.spec.targetRef;
    if (op.status?.phase === 'Pending') {
      if (target.kind !== kinds.applicationInstances.kind) {
        return finish(
          ctx,
          op,
          'Failed',
          'InvalidTarget',
          `a Backup targets an ApplicationInstance, not a ${target.kind}`,
        );
      }
      if (op.spec.engine && op.spec.engine !== operationEngine) {
        return finish(ctx, op, 'Failed', 'UnsupportedEngine', `engine ${op.spec.engine} is not supported`);
      }
      const ai = await ctx.kube.find<ApplicationInstance & KubeObject>(kinds.applicationInstances, target.name, ns);
      if (!ai) return finish(ctx, op, 'Failed', 'TargetNotFound', `applicationinstance ${ns}/${target.name} not found`);
      if (ai.spec?.backup?.capable === false) {
        return finish(
          ctx,
          op,
          'Failed',
          backupNotSupported,
          `applicationinstance ${ns}/${target.name} has no backup capability (spec.backup.capable: false)`,
        );
      }
      const name = veleroBackupName(ns, op.metadata.name, op.metadata.uid);
      const running = await writeStatus(ctx, op, {
        phase: 'Running',
        reason: 'BackupStarted',
        message: `velero backup ${ctx.veleroNamespace}/${name} requested`,
        startTime: metaTime(),
        backupRef: { namespace: ctx.veleroNamespace, name },
      });
      await ensureVeleroBackup(ctx, running, name);
      return;
    }
    // Running: Velero's part. Its Backup's events bring this reconcile back.
    const ref = op.status?.backupRef ?? {
      namespace: ctx.veleroNamespace,
      name: veleroBackupName(ns, op.metadata.name, op.metadata.uid),
    };
    const backup = await ctx.kube.find<VeleroBackup>(upstream.veleroBackups, ref.name, ref.namespace);
    if (!backup) {
      // Lost between our Running and the create (a crash): make it now.
      await ensureVeleroBackup(ctx, op, ref.name);
      return;
    }
    const phase = backup.status?.phase ?? '';
    if (!veleroFinalPhases.has(phase) && phase !== 'Deleting') return;
    const end = outcomeOf(ctx, op, backup);
    return finish(ctx, op, end.phase, end.reason, end.message, { backupRef: ref });
  }

  async function stepOther(ctx: SimContext, op: OperationObject) {
    const type = op.spec.type;
    const hold = draw(ctx.timing.otherOperationDelayMs);
    if (op.status?.phase === 'Pending') {
      return writeStatus(
        ctx,
        op,
        {
          phase: 'Running',
          reason: `${type}Started`,
          message: `${type.toLowerCase()} in progress`,
          startTime: metaTime(),
        },
        hold,
      );
    }
    return finish(
      ctx,
      op,
      'Succeeded',
      `${type}Completed`,
      `${type.toLowerCase()} of ${op.spec.targetRef.name} completed`,
    );
  }

  async function step(ctx: SimContext, op: OperationObject) {
    if (!op.status?.phase) {
      const hold = op.spec.type === 'Backup' ? 0 : draw(ctx.timing.otherOperationDelayMs);
      return writeStatus(ctx, op, { phase: 'Pending', reason: 'Accepted', message: 'waiting to start' }, hold);
    }
    if (op.spec.type === 'Backup') return stepBackup(ctx, op);
    if (op.spec.type === 'Restore' || op.spec.type === 'Upgrade') return stepOther(ctx, op);
    return finish(ctx, op, 'Failed', 'UnsupportedOperation', `operation type ${op.spec.type} is not supported`);
  }

  return {
    name: 'operations',
    watches: [
      { resource: kinds.operations, namespaces },
      // Velero's progress on a Backup re-runs the reconcile of the Operation that asked for it.
      {
        resource: upstream.veleroBackups,
        namespaces: [veleroNamespace],
        keyOf: (b) => {
          const ref = b.metadata.annotations?.[operationAnnotation];
          const ns = ref?.split('/')[0];
          return ref && ns && namespaces.some((n) => n === undefined || n === ns) ? ref : undefined;
        },
      },
    ],
    async reconcile(ctx, namespace, name) {
      const key = `${namespace}/${name}`;
      const op = await ctx.kube.find<OperationObject>(kinds.operations, name, namespace);
      const phase = op?.status?.phase;
      // A finished Operation is never run again.
      if (!op || op.metadata.deletionTimestamp || phase === 'Succeeded' || phase === 'Failed') {
        notBefore.delete(key);
        return undefined;
      }
      const wait = (notBefore.get(key) ?? 0) - Date.now();
      if (wait > 0) return { requeueAfterMs: wait };
      try {
        await step(ctx, op);
      } catch (err) {
        // Someone (or our own last write) moved it on: the watch brings the new state.
        if (isConflict(err)) return { requeueAfterMs: 50 };
        if (isNotFound(err)) return undefined;
        throw err;
      }
      return undefined;
    },
  };
}
