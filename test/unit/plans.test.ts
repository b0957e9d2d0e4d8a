import type { KubeObject } from '../../lib/kube/resources';
import {
  finalBackupCounts,
  finalBackupOperation,
  isFinalBackupOf,
  type JudgeContext,
  judgeFinalBackup,
  pausedAt,
} from '../../lib/operator/final-backup';
import { pauseAnnotation, pausedByAnnotation, suspendedByAnnotation } from '../../lib/operator/names';
import type { Claim, DeleteBackupRequest, Operation, VeleroBackup } from '../../lib/operator/schemas';
import { veleroEvidence } from '../../lib/operator/velero-backup';
import { pauseInstanceChange, suspendHelmReleaseChange } from '../../lib/steps/pause';
import { resumeInstanceChange, unsuspendHelmReleaseChange } from '../../lib/steps/resume';
import { planItem } from '../../lib/steps/backup/plan';
import { fixFor } from '../../lib/steps/final-backups';

const obj = (annotations: Record<string, string> = {}, spec: Record<string, unknown> = {}): KubeObject => ({
  metadata: { name: 'web', namespace: 'shop', resourceVersion: '7', annotations },
  spec,
});

describe('pause plan', () => {
  it('pauses an unpaused instance and records that kubectl vw did it', () => {
    const c = pauseInstanceChange(obj(), '2026-11-27T00:00:00Z');
    expect(c.action).toBe('pause');
    expect(c.patchFor?.(obj())).toEqual({
      metadata: { annotations: { [pauseAnnotation]: 'disabled', [pausedByAnnotation]: '2026-11-27T00:00:00Z' } },
    });
  });
  it('leaves an instance someone else paused alone, unmarked', () => {
    const c = pauseInstanceChange(obj({ [pauseAnnotation]: 'disabled' }), 'now');
    expect(c.action).toBe('none');
    expect(c.note).toMatch(/not by kubectl-vw/);
  });
  it('drops the patch if the instance got paused meanwhile', () => {
    const c = pauseInstanceChange(obj(), 'now');
    expect(c.patchFor?.(obj({ [pauseAnnotation]: 'disabled' }))).toBeUndefined();
  });
  it('suspends a HelmRelease and marks it', () => {
    const c = suspendHelmReleaseChange(obj({}, { suspend: false }), 'now');
    expect(c.patchFor?.(obj())).toEqual({
      metadata: { annotations: { [suspendedByAnnotation]: 'now' } },
      spec: { suspend: true },
    });
  });
});

describe('resume plan', () => {
  it('resumes only what kubectl vw paused', () => {
    expect(resumeInstanceChange(obj({ [pauseAnnotation]: 'disabled', [pausedByAnnotation]: 't' }), false).action).toBe(
      'resume',
    );
    expect(resumeInstanceChange(obj({ [pauseAnnotation]: 'disabled' }), false).action).toBe('none');
    expect(resumeInstanceChange(obj({ [pauseAnnotation]: 'disabled' }), true).action).toBe('resume');
  });
  it('un-suspends only what kubectl vw suspended', () => {
    expect(unsuspendHelmReleaseChange(obj({ [suspendedByAnnotation]: 't' }, { suspend: true }), false).action).toBe(
      'unsuspend',
    );
    expect(unsuspendHelmReleaseChange(obj({}, { suspend: true }), false).action).toBe('none');
  });
});

describe('final backups', () => {
  it('builds the procedure manifest field for field', () => {
    const op = finalBackupOperation('shop', 'web', {
      storageLocation: 'aws-primary',
      snapshotVolumes: true,
      csiSnapshotClassName: 'csi-rbd',
      ttl: '8760h',
      nameSuffix: 'final-backup',
    });
    expect(op.metadata.name).toBe('web-final-backup');
    expect(op.spec).toEqual({
      targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'web' },
      type: 'Backup',
      engine: 'velero',
      parameters: {
        storageLocation: 'aws-primary',
        snapshotVolumes: true,
        csiSnapshotClassName: 'csi-rbd',
        ttl: '8760h',
      },
    });
  });
  const now = Date.parse('2026-11-27T12:00:00Z');
  const ctx: JudgeContext = { now, marginMs: 24 * 3_600_000, pausedAt: Date.parse('2026-11-27T10:00:00Z') };
  const op = (phase: string, reason?: string, startTime = '2026-11-27T10:30:00Z') =>
    ({
      metadata: { name: 'web-final-backup' },
      spec: {
        type: 'Backup',
        targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'web' },
      },
      status: { phase, reason, startTime, backupRef: { namespace: 'velero', name: 'b' } },
    }) as unknown as Operation;
  const backup = (phase: string, expiration = '2027-11-27T10:30:00Z') =>
    ({ metadata: { name: 'b' }, status: { phase, expiration } }) as unknown as VeleroBackup;
  const state = (o: Operation | undefined, b: VeleroBackup | undefined, c: Partial<typeof ctx> = {}) =>
    judgeFinalBackup(o, b, { ...ctx, ...c }).state;

  it('counts only when Succeeded, its Velero Backup Completed and fresh, and taken after the pause', () => {
    expect(state(op('Succeeded'), backup('Completed'))).toBe('counts');
    expect(state(op('Succeeded'), backup('PartiallyFailed'))).toBe('velero-failed');
    expect(state(op('Succeeded'), backup('FailedValidation'))).toBe('velero-failed');
    expect(state(op('Succeeded'), backup('Finalizing'))).toBe('running');
    expect(state(op('Succeeded'), backup('Deleting'))).toBe('deleting');
    expect(state(op('Succeeded'), backup('Deleting', '2026-11-27T11:00:00Z'))).toBe('expired');
    expect(state(op('Succeeded'), undefined)).toBe('velero-missing');
    expect(state(op('Succeeded'), backup('Completed', '2026-11-27T11:00:00Z'))).toBe('expired');
    expect(state(op('Succeeded'), backup('Completed', '2026-11-28T06:00:00Z'))).toBe('expiring');
    expect(state(op('Succeeded', undefined, '2026-11-27T09:59:00Z'), backup('Completed'))).toBe('stale');
    expect(state(op('Succeeded'), backup('Completed'), { pausedAt: undefined })).toBe('unpaused');
    expect(state(op('Failed', 'BackupNotSupported'), undefined, { capable: false })).toBe('no-backup-capability');
    expect(state(op('Failed', 'VeleroError'), undefined)).toBe('failed');
    expect(state(op('Running'), undefined)).toBe('running');
    expect(state(undefined, undefined)).toBe('missing');
    expect(finalBackupCounts('counts') && finalBackupCounts('no-backup-capability')).toBe(true);
    expect(finalBackupCounts('stale')).toBe(false);
  });

  it('BackupNotSupported exempts an application only while its spec says it cannot be backed up', () => {
    const failed = op('Failed', 'BackupNotSupported');
    expect(state(failed, undefined, { capable: false })).toBe('no-backup-capability');
    expect(state(failed, undefined, { capable: true })).toBe('failed');
    expect(judgeFinalBackup(failed, undefined, { ...ctx, capable: true }).detail).toMatch(/can be backed up now/);
  });

  it('fails closed: a time in the evidence that cannot be read never lets a backup count', () => {
    const unknown = (o: Operation, b: VeleroBackup, c: Partial<JudgeContext> = {}) =>
      judgeFinalBackup(o, b, { ...ctx, ...c });
    // A pause whose time is unreadable (the operator's condition says suspended, but not when).
    expect(
      unknown(op('Succeeded', undefined, '2025-01-01T00:00:00Z'), backup('Completed'), { pausedAt: Number.NaN }).state,
    ).toBe('unknown');
    expect(unknown(op('Succeeded'), backup('Completed'), { pausedAt: Number.NaN }).detail).toMatch(
      /pause time unknown/,
    );
    expect(unknown(op('Succeeded', undefined, 'yesterday'), backup('Completed')).detail).toMatch(/start time unknown/);
    expect(unknown(op('Succeeded'), backup('Completed', 'never')).detail).toMatch(/expiry unknown/);
    expect(
      unknown(op('Succeeded'), { metadata: { name: 'b' }, status: { phase: 'Completed' } } as unknown as VeleroBackup)
        .state,
    ).toBe('unknown');
    expect(finalBackupCounts('unknown')).toBe(false);
  });

  it('pausedAt: unreadable when the operator says suspended without a readable time', () => {
    const ai = (lastTransitionTime?: string, marker?: string) => ({
      metadata: {
        name: 'web',
        annotations: {
          'apps.vworkspace.io/reconcile': 'disabled',
          ...(marker ? { 'kubectl-vw.vworkspace.io/paused-at': marker } : {}),
        },
      },
      status: { conditions: [{ type: 'Suspended', status: 'True', reason: 'ReconcilePaused', lastTransitionTime }] },
    });
    expect(pausedAt(ai('2026-11-27T10:00:00Z'))).toBe(Date.parse('2026-11-27T10:00:00Z'));
    expect(pausedAt(ai('not a time', '2026-11-27T09:00:00Z'))).toBeNaN();
    expect(pausedAt(ai(undefined))).toBeNaN();
  });

  it('a Failed Operation keeps its Velero Backup in the verdict, so its phase can be shown', () => {
    const v = judgeFinalBackup(op('Failed', 'VolumeSnapshotFailed'), backup('PartiallyFailed'), ctx);
    expect(v.state).toBe('failed');
    expect(v.backup?.status?.phase).toBe('PartiallyFailed');
  });

  describe('what Velero says beside the phase', () => {
    const b = (status: object, spec: object = {}) =>
      ({
        metadata: { name: 'b', namespace: 'velero', uid: 'u-1' },
        spec: { includedNamespaces: ['shop'], snapshotVolumes: true, ...spec },
        status: {
          phase: 'Completed',
          expiration: '2027-11-27T10:30:00Z',
          startTimestamp: '2026-11-27T10:31:00Z',
          ...status,
        },
      }) as unknown as VeleroBackup;
    const dbr = (phase: string | undefined, uid = 'u-1') => ({
      metadata: { name: 'b-x2k', namespace: 'velero', labels: { 'velero.io/backup-uid': uid } },
      spec: { backupName: 'b' },
      status: phase ? { phase } : undefined,
    });
    const claim = (name: string, labels: Record<string, string> = {}, created = '2026-11-27T10:00:00Z') => ({
      metadata: { name, namespace: 'shop', labels, creationTimestamp: created },
      spec: { volumeName: `pv-${name}` },
      status: { phase: 'Bound' },
    });
    const judged = (backup: VeleroBackup, requests: object[] = [], claims: object[] = []) =>
      judgeFinalBackup(op('Succeeded'), backup, {
        ...ctx,
        velero: veleroEvidence(requests as DeleteBackupRequest[], claims as Claim[]),
      });

    it('a DeleteBackupRequest not yet processed stops a Completed backup counting at once', () => {
      expect(judged(b({}), [dbr(undefined)]).state).toBe('deleting');
      expect(judged(b({}), [dbr('InProgress', 'another-uid')]).state).toBe('deleting');
      expect(judged(b({}), [dbr('Processed', 'u-1')]).detail).toMatch(/DeleteBackupRequest b-x2k \(Processed\)/);
      // processed for an earlier Backup of that name: not about this one
      expect(judged(b({}), [dbr('Processed', 'u-0')]).state).toBe('counts');
    });

    it('a Completed backup that captured none of the bound claims it covered: volumes not captured (0 of N)', () => {
      const claims = [claim('data', { app: 'web' }), claim('logs', { app: 'web' }), claim('other', { app: 'db' })];
      const v = judged(b({}, { labelSelector: { matchLabels: { app: 'web' } } }), [], claims);
      expect(v.state).toBe('volumes-not-captured');
      expect(v.detail).toMatch(/^volumes not captured \(0 of 2\)/);
      expect(judged(b({ csiVolumeSnapshotsAttempted: 2, csiVolumeSnapshotsCompleted: 2 }), [], claims).state).toBe(
        'counts',
      );
      expect(judged(b({ volumeSnapshotsCompleted: 1 }), [], claims).state).toBe('counts');
      expect(judged(b({ backupItemOperationsCompleted: 3 }), [], claims).state).toBe('counts');
      // not asked to snapshot, or file-system backup asked instead, or nothing to capture
      expect(judged(b({}, { snapshotVolumes: false }), [], claims).state).toBe('counts');
      expect(judged(b({}, { defaultVolumesToFsBackup: true }), [], claims).state).toBe('counts');
      expect(judged(b({}, { includedNamespaces: ['crm'] }), [], claims).state).toBe('counts');
      // a claim made after the backup started was not the backup's to capture
      expect(judged(b({}), [], [claim('late', {}, '2026-11-27T11:00:00Z')]).state).toBe('counts');
      expect(judged(b({}), [], [{ ...claim('unbound'), status: { phase: 'Pending' } }]).state).toBe('counts');
    });

    it('names the queue position, the validation errors and the failure', () => {
      expect(judged(b({ phase: 'Queued', queuePosition: 3 })).detail).toBe('Velero backup Queued (position 3)');
      expect(judged(b({ phase: 'ReadyToStart' })).state).toBe('running');
      expect(
        judged(b({ phase: 'FailedValidation', validationErrors: ['location aws-primary is Unavailable'] })).detail,
      ).toBe('Velero backup FailedValidation: location aws-primary is Unavailable');
    });
  });

  it('a Restore, another engine or another application is not a final backup of this one', () => {
    const of = (spec: object, name = 'web-final-backup') =>
      ({ metadata: { name }, spec: { engine: 'velero', ...spec } }) as unknown as Operation;
    const target = { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'web' };
    expect(isFinalBackupOf(of({ type: 'Backup', targetRef: target }), 'web')).toBe(true);
    expect(isFinalBackupOf(of({ type: 'Restore', targetRef: target }), 'web')).toBe(false);
    expect(isFinalBackupOf(of({ type: 'Backup', engine: 'restic', targetRef: target }), 'web')).toBe(false);
    expect(isFinalBackupOf(of({ type: 'Backup', targetRef: { ...target, name: 'db' } }), 'web')).toBe(false);
    expect(isFinalBackupOf(of({ type: 'Backup', targetRef: target }, 'web-nightly'), 'web')).toBe(false);
  });
});

describe('a final-backup name longer than an object name may be', () => {
  const parameters = { storageLocation: 'aws-primary', snapshotVolumes: true, ttl: '720h', nameSuffix: 'final-backup' };
  const missing = (application: string) => ({
    namespace: 'shop',
    application,
    verdict: { state: 'missing' as const, detail: 'no final backup' },
    candidates: [],
  });

  it('is planned as failed, naming the limit and the suffix that fits, never as a create', () => {
    const long = 'a'.repeat(245);
    const item = planItem(missing(long), { parameters, retryFailed: false }, new Set());
    expect(item.action).toBe('name-too-long');
    expect(item.manifest).toBeUndefined();
    expect(item.note).toMatch(/258 characters, over the 253/);
    expect(item.note).toMatch(/--name-suffix of at most 7 characters/);
  });

  it('fits up to exactly 253 characters', () => {
    const item = planItem(
      missing('a'.repeat(253 - '-final-backup'.length)),
      { parameters, retryFailed: false },
      new Set(),
    );
    expect(item.action).toBe('create');
    expect(item.operation).toHaveLength(253);
  });
});

describe("fix hints repeat the run's own flags", () => {
  const app = (state: 'failed' | 'missing' | 'unpaused', ttl?: string) => ({
    namespace: 'shop',
    application: 'web',
    verdict: { state, detail: state },
    candidates: ttl
      ? [
          {
            metadata: { name: 'web-final-backup', creationTimestamp: '2026-11-27T10:00:00Z' },
            spec: {
              type: 'Backup',
              targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'web' },
              parameters: { ttl, storageLocation: 'aws-dr' },
            },
          } as unknown as Operation,
        ]
      : [],
  });

  it("a backup run's --ttl and parameters, never the procedure's 8760h", () => {
    const hint = { backup: ['--ttl', '720h', '--storage-location', 'aws-dr'], common: ['--context', 'prod'] };
    expect(fixFor([app('failed')], hint)).toBe(
      'kubectl vw backup -n shop web --ttl 720h --storage-location aws-dr --retry-failed --context prod',
    );
  });

  it('without a backup run, the TTL and location of the final backup the user took before', () => {
    expect(fixFor([app('failed', '720h')])).toBe(
      'kubectl vw backup -n shop web --ttl 720h --storage-location aws-dr --retry-failed',
    );
    expect(fixFor([app('missing')])).toBe('kubectl vw backup -n shop web --ttl 8760h');
  });

  it("a taken name asks for the next suffix after the run's own", () => {
    const conflicted = { ...app('missing'), conflict: app('missing', '1h').candidates[0] };
    expect(fixFor([conflicted], { backup: ['--ttl', '720h', '--name-suffix', 'last'] })).toBe(
      'kubectl vw backup -n shop web --ttl 720h --name-suffix last-2',
    );
  });

  it('words a shell would split are quoted', () => {
    expect(fixFor([app('missing')], { backup: ['--ttl', '720h'], common: ['--kubeconfig', '/tmp/my config'] })).toBe(
      "kubectl vw backup -n shop web --ttl 720h --kubeconfig '/tmp/my config'",
    );
  });
});
