import type { KubeObject } from '../../lib/kube/resources';
import {
  backupOutcome,
  finalBackupDone,
  finalBackupOperation,
  finalBackupStanding,
} from '../../lib/operator/final-backup';
import { pauseAnnotation, pausedByAnnotation, suspendedByAnnotation } from '../../lib/operator/names';
import type { Operation, VeleroBackup } from '../../lib/operator/schemas';
import { pauseInstanceChange, suspendHelmReleaseChange } from '../../lib/steps/pause';
import { resumeInstanceChange, unsuspendHelmReleaseChange } from '../../lib/steps/resume';

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
  const op = (phase: string, reason?: string) => ({ status: { phase, reason } }) as unknown as Operation;
  const backup = (phase: string) => ({ status: { phase } }) as unknown as VeleroBackup;
  it('counts as safe only when the Velero Backup Completed', () => {
    expect(backupOutcome(op('Succeeded'), backup('Completed'))).toBe('safe');
    expect(backupOutcome(op('Succeeded'), backup('PartiallyFailed'))).toBe('failed');
    expect(backupOutcome(op('Succeeded'), undefined)).toBe('failed');
    expect(backupOutcome(op('Failed', 'BackupNotSupported'), undefined)).toBe('no-backup-capability');
    expect(backupOutcome(op('Failed', 'VeleroError'), undefined)).toBe('failed');
    expect(backupOutcome(op('Running'), undefined)).toBe('in-progress');
    expect(backupOutcome(undefined, undefined)).toBe('missing');
  });
  it('step 2 is over for an application on Succeeded, or Failed for want of backup capability, and nothing else', () => {
    const done = (o: Operation | undefined) => finalBackupDone(finalBackupStanding(o));
    expect(done(op('Succeeded'))).toBe(true);
    expect(done(op('Failed', 'BackupNotSupported'))).toBe(true);
    expect(done(op('Failed', 'VeleroError'))).toBe(false);
    expect(done(op('Running'))).toBe(false);
    expect(done(op('Pending'))).toBe(false);
    expect(done({} as Operation)).toBe(false);
    expect(done(undefined)).toBe(false);
  });
});
