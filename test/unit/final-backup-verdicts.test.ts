import {
  backupCapable,
  bestVerdict,
  type FinalBackupVerdict,
  isFinished,
  isVeleroFinal,
  pausedAt,
} from '../../lib/operator/final-backup';
import { pauseAnnotation, pausedByAnnotation } from '../../lib/operator/names';
import type { Operation, VeleroBackup } from '../../lib/operator/schemas';

// Of an application's final-backup candidates, which one the gate judges by, and the small
// judgements around it: what is finished, when the pause took effect, whether it can be backed up.

const op = (name: string, created?: string, startTime?: string) =>
  ({ metadata: { name, creationTimestamp: created }, status: { startTime } }) as unknown as Operation;
const verdict = (
  state: FinalBackupVerdict['state'],
  operation?: Operation,
  detail: string = state,
): FinalBackupVerdict => ({
  state,
  detail,
  operation,
});

describe('bestVerdict', () => {
  it('has nothing to say of no candidates but that there is no final backup', () => {
    expect(bestVerdict([])).toEqual({ state: 'missing', detail: 'no final backup' });
  });

  it('prefers one that counts, then one without backup capability, whatever their age', () => {
    const counts = verdict('counts', op('a-1', '2026-11-27T10:00:00Z'));
    const exempt = verdict('no-backup-capability', op('a-2', '2026-11-27T11:00:00Z'));
    const failed = verdict('failed', op('a-3', '2026-11-27T12:00:00Z'));
    expect(bestVerdict([failed, exempt, counts])).toBe(counts);
    expect(bestVerdict([exempt, failed])).toBe(exempt);
  });

  it('else judges by the newest attempt, the one before it named as context only', () => {
    const older = verdict('stale', op('a-1', '2026-11-27T10:00:00Z'), 'stale: started before the pause');
    const newer = verdict('failed', op('a-2', '2026-11-27T11:00:00Z'), 'Operation Failed');
    for (const order of [
      [older, newer],
      [newer, older],
    ])
      expect(bestVerdict(order)).toEqual({
        ...newer,
        detail: 'Operation Failed (before it: a-1 stale: started before the pause)',
      });
    expect(bestVerdict([newer])).toBe(newer);
  });

  it('dates an attempt by its creation, else its start; one of no known time is the oldest', () => {
    const started = verdict('failed', op('a-1', undefined, '2026-11-27T11:00:00Z'));
    const created = verdict('running', op('a-2', '2026-11-27T10:00:00Z', '2026-11-27T12:00:00Z'));
    expect(bestVerdict([created, started]).operation?.metadata.name).toBe('a-1');
    const unknown = verdict('failed', op('a-9', 'not a time'));
    expect(bestVerdict([unknown, created]).operation?.metadata.name).toBe('a-2');
  });

  it('between attempts of the same time, the later name (retries count up: -10 after -9)', () => {
    const at = '2026-11-27T10:00:00Z';
    const nine = verdict('failed', op('web-final-backup-9', at));
    const ten = verdict('failed', op('web-final-backup-10', at));
    expect(bestVerdict([nine, ten]).operation?.metadata.name).toBe('web-final-backup-10');
    expect(bestVerdict([ten, nine]).operation?.metadata.name).toBe('web-final-backup-10');
  });
});

describe('what is finished', () => {
  const withPhase = (phase?: string) => ({ metadata: { name: 'o' }, status: { phase } }) as unknown as Operation;
  it('an Operation: Succeeded or Failed only', () => {
    expect(isFinished(withPhase('Succeeded'))).toBe(true);
    expect(isFinished(withPhase('Failed'))).toBe(true);
    expect(isFinished(withPhase('Running'))).toBe(false);
    expect(isFinished(withPhase())).toBe(false);
    expect(isFinished(undefined)).toBe(false);
  });
  it("a Velero Backup: Velero's final phases, and Deleting", () => {
    const b = (phase?: string) => ({ metadata: { name: 'b' }, status: { phase } }) as unknown as VeleroBackup;
    for (const p of ['Completed', 'PartiallyFailed', 'Failed', 'FailedValidation', 'Deleting'])
      expect(isVeleroFinal(b(p))).toBe(true);
    for (const p of ['New', 'InProgress', 'WaitingForPluginOperations', undefined])
      expect(isVeleroFinal(b(p))).toBe(false);
    expect(isVeleroFinal(undefined)).toBe(false);
  });
});

describe('pausedAt and backupCapable', () => {
  const app = (annotations: Record<string, string>, conditions: unknown[] = [], spec: unknown = {}) =>
    ({ metadata: { name: 'web', namespace: 'shop', annotations }, spec, status: { conditions } }) as never;
  const suspended = (reason: string, status = 'True', lastTransitionTime = '2026-11-27T10:00:00Z') => ({
    type: 'Suspended',
    status,
    reason,
    lastTransitionTime,
  });

  it('is undefined while reconciliation is not disabled', () => {
    expect(pausedAt(app({}, [suspended('ReconcilePaused')]))).toBeUndefined();
    expect(pausedAt(app({ [pauseAnnotation]: 'enabled' }, [suspended('ReconcilePaused')]))).toBeUndefined();
  });

  it("is the operator's Suspended=True (ReconcilePaused) time, else kubectl vw's marker", () => {
    const paused = { [pauseAnnotation]: 'disabled', [pausedByAnnotation]: '2026-11-27T09:00:00Z' };
    expect(pausedAt(app(paused, [suspended('ReconcilePaused')]))).toBe(Date.parse('2026-11-27T10:00:00Z'));
    expect(pausedAt(app(paused, [suspended('Other')]))).toBe(Date.parse('2026-11-27T09:00:00Z'));
    expect(pausedAt(app(paused, [suspended('ReconcilePaused', 'False')]))).toBe(Date.parse('2026-11-27T09:00:00Z'));
    expect(pausedAt(app({ [pauseAnnotation]: 'disabled' }))).toBeUndefined();
    expect(pausedAt(app({ [pauseAnnotation]: 'disabled', [pausedByAnnotation]: 'soon' }))).toBeUndefined();
  });

  it("is NaN (unknown) when the operator's time cannot be read", () => {
    const v = pausedAt(app({ [pauseAnnotation]: 'disabled' }, [suspended('ReconcilePaused', 'True', 'x')]));
    expect(Number.isNaN(v)).toBe(true);
  });

  it('can be backed up unless the spec says capable: false', () => {
    expect(backupCapable(app({}, [], {}))).toBe(true);
    expect(backupCapable(app({}, [], undefined))).toBe(true);
    expect(backupCapable(app({}, [], { backup: { capable: true } }))).toBe(true);
    expect(backupCapable(app({}, [], { backup: { capable: false } }))).toBe(false);
  });
});
