import { unlocked } from '../../lib/steps/act';
import { runUninstall, type StepRunners, type UninstallOptions } from '../../lib/cli/commands/uninstall';
import type { Session } from '../../lib/deps';
import type { KubeClient } from '../../lib/kube/client';
import type { KubeTarget } from '../../lib/kube/config';
import type { ProcedureStatus, StepState } from '../../lib/steps/status/judge';
import { testDeps, text } from '../helpers/test-deps';

// uninstall's order and where it stops, in-process: the steps are fakes that record their calls.

const target = { context: 'prod', cluster: 'prod', server: 'https://prod:6443' } as KubeTarget;
const session: Session = { target, client: {} as KubeClient };

const statusOf = (states: StepState[]): ProcedureStatus => ({
  context: 'prod',
  steps: states.map((state, i) => ({ step: i + 1, name: `step ${i + 1}`, state, evidence: [] })),
  reinstall: [],
  facts: {} as ProcedureStatus['facts'],
});

const options = (o: Partial<UninstallOptions> = {}): UninstallOptions => ({
  connection: {},
  output: 'table',
  verbose: false,
  dryRun: 'none',
  yes: true,
  ttl: '8760h',
  skipBackup: false,
  storageLocation: 'aws-primary',
  suspendHelmReleases: false,
  deleteApps: false,
  deleteReleaseCrds: [],
  veleroNamespace: 'velero',
  deleteCrds: false,
  deleteNamespace: false,
  timeoutMs: 60_000,
  marginMs: 24 * 3_600_000,
  allowShortTtl: false,
  ...o,
});

function fakes(codes: Partial<Record<'pause' | 'backup' | 'decommission' | 'purge', number>>, states: StepState[]) {
  const calls: string[] = [];
  const step = (name: keyof typeof codes) => async (o: unknown) => {
    calls.push(name);
    lastOptions[name] = o;
    return codes[name] ?? 0;
  };
  const lastOptions: Record<string, unknown> = {};
  const runners: StepRunners = {
    pause: step('pause'),
    backup: step('backup'),
    decommission: step('decommission'),
    purge: step('purge'),
    status: async () => statusOf(states),
    preflight: async () => undefined,
    lock: (_deps, _session, _purpose, body) => body(unlocked(new AbortController().signal)),
  };
  return { calls, runners, lastOptions };
}

const run = async (o: UninstallOptions, f: ReturnType<typeof fakes>) => {
  const t = testDeps({ connect: () => session });
  const code = await runUninstall(o, t.deps, f.runners);
  return { code, stderr: text(t.out.stderr) };
};

describe('kubectl vw uninstall: order and stops', () => {
  it('runs every step not done, in order', async () => {
    const f = fakes({}, ['not started', 'not started', 'not started', 'not started', 'not started']);
    expect((await run(options(), f)).code).toBe(0);
    expect(f.calls).toEqual(['pause', 'backup', 'decommission', 'purge']);
  });

  it('resumes where the cluster stands: done steps are not run again', async () => {
    const f = fakes({}, ['done', 'done', 'not started', 'not started', 'not started']);
    await run(options(), f);
    expect(f.calls).toEqual(['decommission', 'purge']);
  });

  it('stops at the first failing step with its exit code, before touching the Cluster', async () => {
    const f = fakes({ backup: 1 }, ['not started', 'not started', 'not started', 'not started', 'not started']);
    const r = await run(options(), f);
    expect(r.code).toBe(1);
    expect(f.calls).toEqual(['pause', 'backup']);
    expect(r.stderr).toMatch(/stopped at step 2 \(exit 1\)/);
  });

  it('a stuck finalizer at step 3 stops it with exit 4', async () => {
    const f = fakes({ decommission: 4 }, ['done', 'done', 'not started', 'not started', 'not started']);
    expect((await run(options(), f)).code).toBe(4);
    expect(f.calls).toEqual(['decommission']);
  });

  it('--skip-backup skips step 2 and tells step 3 not to check backups', async () => {
    const f = fakes({}, ['not started', 'not started', 'not started', 'not started', 'not started']);
    await run(options({ skipBackup: true, ttl: undefined }), f);
    expect(f.calls).toEqual(['pause', 'decommission', 'purge']);
    expect(f.lastOptions.decommission).toMatchObject({ skipBackupCheck: true, forcePreflight: false });
  });

  it('passes the same defaults the step commands have', async () => {
    const f = fakes({}, ['not started', 'not started', 'done', 'done', 'done']);
    await run(options({ suspendHelmReleases: true }), f);
    expect(f.lastOptions.pause).toMatchObject({ suspendHelmReleases: true, concurrency: 16, wait: true });
    expect(f.lastOptions.backup).toMatchObject({
      parameters: {
        storageLocation: 'aws-primary',
        csiSnapshotClassName: 'csi-rbd',
        nameSuffix: 'final-backup',
        ttl: '8760h',
      },
      veleroNamespace: 'velero',
    });
  });

  it('asks before step 3 on a terminal; no means nothing is deleted (exit 2)', async () => {
    const f = fakes({}, ['done', 'done', 'not started', 'not started', 'not started']);
    const t = testDeps({ connect: () => session, stdinTTY: true, answers: ['n'] });
    await expect(runUninstall(options({ yes: false }), t.deps, f.runners)).rejects.toMatchObject({
      exitCode: 2,
      message: 'not confirmed: nothing was changed',
    });
    expect(text(t.out.stderr)).toMatch(/About to delete the Cluster CR \(step 3\) in context "prod"/);
    expect(f.calls).toEqual([]);
  });

  it('Ctrl-C at the prompt is an interruption (exit 130), with nothing changed', async () => {
    const f = fakes({}, ['done', 'done', 'not started', 'not started', 'not started']);
    const t = testDeps({ connect: () => session, stdinTTY: true, answers: ['interrupt'] });
    await expect(runUninstall(options({ yes: false }), t.deps, f.runners)).rejects.toMatchObject({ exitCode: 130 });
    expect(f.calls).toEqual([]);
  });

  it('nothing to do when every step is done', async () => {
    const f = fakes({}, ['done', 'done', 'done', 'done', 'done']);
    const r = await run(options(), f);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/nothing to do/);
    expect(f.calls).toEqual([]);
  });
});
