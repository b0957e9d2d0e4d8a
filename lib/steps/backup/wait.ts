import type { StepDeps } from '../../deps';
import type { KubeObject } from '../../kube/resources';
import { objectKey, observe, type WaitOutcome, waitForObjects, waitForObjectsIn } from '../../kube/watch';
import { isFinished, isVeleroFinal } from '../../operator/final-backup';
import { resources } from '../../operator/names';
import { operationSchema, veleroBackupSchema } from '../../operator/schemas';
import type { BackupApplyResult } from './apply';

const waitsFor = (a: BackupApplyResult) =>
  !a.error && !a.skipped && ['create', 'retry', 'retake', 'adopt'].includes(a.item.action);

export interface BackupWaitOptions {
  namespace?: string;
  /** Where Velero keeps its Backups: watched meanwhile, so their phases (Queued...) can be shown. */
  veleroNamespace?: string;
  /** A hard bound for both phases together. */
  timeoutMs: number;
  onPhase?: (key: string, phase: string, reason?: string) => void;
  /** The phase of the Velero Backup behind an Operation ("namespace/name"), as Velero moves it. */
  onVeleroPhase?: (key: string, phase: string) => void;
}

/** Velero phases of a Backup that has not started: its turn has not come (Velero v1.18's queue). */
export const veleroWaitingPhases = new Set(['New', 'Queued', 'ReadyToStart']);

export interface BackupWaitOutcome extends WaitOutcome {
  /** Of the pending Operations, their Velero Backup's last phase seen (New when none was seen). */
  veleroPhases: Map<string, string>;
}

/**
 * Meanwhile: Velero's Backups, through a watch of their namespace, each phase reported for the
 * Operation that points at it. Velero runs one backup at a time by default, so most wait Queued.
 */
class VeleroPhases {
  private readonly refs = new Map<string, string>();
  private readonly phases = new Map<string, string>();
  private readonly stop = new AbortController();
  private readonly done: Promise<void>;

  constructor(
    deps: StepDeps,
    namespace: string | undefined,
    private readonly report?: (key: string, phase: string) => void,
  ) {
    const signal = AbortSignal.any([this.stop.signal, deps.signal]);
    const seen = (b: KubeObject, phase: string | undefined) => {
      const key = objectKey(b);
      this.phases.set(key, phase || 'New');
      for (const [op, ref] of this.refs) if (ref === key) this.report?.(op, phase || 'New');
    };
    this.done = namespace
      ? observe(deps.client, resources.veleroBackups, {
          namespace,
          signal,
          onList: (items) => {
            for (const b of items) seen(b, (b.status as { phase?: string } | undefined)?.phase);
          },
          onEvent: (type, b) => seen(b, type === 'DELETED' ? 'gone' : (b.status as { phase?: string })?.phase),
        }).catch(() => undefined) // only narration: a failing watch changes nothing the wait decides
      : Promise.resolve();
  }

  /** An Operation now points at this Velero Backup. */
  link(op: string, backup: string) {
    if (this.refs.get(op) === backup) return;
    this.refs.set(op, backup);
    const phase = this.phases.get(backup);
    if (phase) this.report?.(op, phase);
  }

  phaseOf(op: string): string {
    const ref = this.refs.get(op);
    return (ref && this.phases.get(ref)) || 'New';
  }

  async close() {
    this.stop.abort();
    await this.done;
  }
}

/** Phase 1: through a watch, until every Operation is Succeeded or Failed. */
async function waitForOperations(
  deps: StepDeps,
  keys: string[],
  opts: BackupWaitOptions,
  refs: Map<string, string>,
  velero: VeleroPhases,
) {
  const lastPhase = new Map<string, string>();
  return waitForObjects(
    deps.client,
    resources.operations,
    keys,
    (obj) => {
      const op = obj ? operationSchema.safeParse(obj) : undefined;
      if (!obj || !op?.success) return false;
      const phase = op.data.status?.phase ?? 'Pending';
      const key = objectKey(obj);
      const ref = op.data.status?.backupRef;
      if (ref) velero.link(key, `${ref.namespace}/${ref.name}`);
      if (phase === 'Succeeded' && ref) refs.set(key, `${ref.namespace}/${ref.name}`);
      if (lastPhase.get(key) !== phase) {
        lastPhase.set(key, phase);
        opts.onPhase?.(key, phase, op.data.status?.reason);
      }
      return isFinished(op.data);
    },
    { namespace: opts.namespace, timeoutMs: opts.timeoutMs, signal: deps.signal },
  );
}

/**
 * Phase 2: an Operation's Succeeded is not the data's safety: until its Velero Backup reaches a
 * final phase too (Completed, or PartiallyFailed, Failed...), it is still in progress.
 */
function waitForVelero(deps: StepDeps, backups: string[], timeoutMs: number) {
  // In the namespaces the Operations' backupRefs name (Velero's), never cluster-wide.
  return waitForObjectsIn(
    deps.client,
    resources.veleroBackups,
    backups,
    (obj) => {
      const b = obj ? veleroBackupSchema.safeParse(obj) : undefined;
      return Boolean(b?.success && isVeleroFinal(b.data));
    },
    { timeoutMs, signal: deps.signal },
  );
}

/** Both phases; what is pending at the end. */
async function waitBoth(
  deps: StepDeps,
  keys: string[],
  opts: BackupWaitOptions,
  phases: VeleroPhases,
): Promise<WaitOutcome> {
  const started = deps.clock.monotonic();
  const refs = new Map<string, string>();
  const ops = await waitForOperations(deps, keys, opts, refs, phases);
  const left = opts.timeoutMs - (deps.clock.monotonic() - started);
  if (ops.timedOut || deps.signal.aborted || !refs.size) return ops;
  if (left <= 0) return { ...ops, pending: [...refs.keys()], timedOut: true };
  const velero = await waitForVelero(deps, [...refs.values()], left);
  const pendingOps = [...refs].filter(([, b]) => velero.pending.includes(b)).map(([op]) => op);
  return {
    satisfied: ops.satisfied.filter((k) => !pendingOps.includes(k)),
    pending: pendingOps,
    timedOut: velero.timedOut,
  };
}

/** Waits for every Operation this run made or adopted, and then for their Velero Backups. */
export async function waitForBackups(
  deps: StepDeps,
  items: BackupApplyResult[],
  opts: BackupWaitOptions,
): Promise<BackupWaitOutcome> {
  const keys = items.filter(waitsFor).map((i) => `${i.item.namespace}/${i.item.operation}`);
  const phases = new VeleroPhases(deps, keys.length ? opts.veleroNamespace : undefined, opts.onVeleroPhase);
  try {
    const outcome = await waitBoth(deps, keys, opts, phases);
    return { ...outcome, veleroPhases: new Map(outcome.pending.map((k) => [k, phases.phaseOf(k)])) };
  } finally {
    await phases.close();
  }
}
