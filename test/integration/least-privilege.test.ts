import { join } from 'node:path';
import { isWrite, LeastPrivilege, type Removal } from '../helpers/least-privilege';
import { unwrapped, vw } from '../helpers/plugins';
import { toolsBinDir } from '../support/kube-env';
import { mapLimit, type SandboxSummary, seedSandbox, startWorld, type World } from '../support/sandbox';

// Least privilege, tested with exactly what the tool prints. For each command and its main flag
// combinations, a ServiceAccount bound to exactly `kubectl vw rbac COMMAND FLAGS` runs the command
// and it completes; and for every verb of every rule printed, a ServiceAccount bound to all of it
// but that one verb runs the same command line and is refused with exit 3 before any change (no
// write in the proxy's record of its requests), naming that verb and resource. Two worlds of their
// own: one walked through the steps one command at a time, one for uninstall.

const literal = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const names = (r: Removal) =>
  new RegExp(`may not .*\\b${r.verb} ${literal(r.resource)}${r.group ? `(\\.${literal(r.group)})?` : ''}\\b`);

describe('least privilege: every command with exactly what kubectl vw rbac prints', () => {
  let steps: World;
  let whole: World;
  let seeded: SandboxSummary;
  let lpSteps: LeastPrivilege;
  let lpWhole: LeastPrivilege;
  const helm = () => join(toolsBinDir(), 'helm');
  const started = Date.now();
  let cases = 0;

  beforeAll(async () => {
    [steps, whole] = await Promise.all([
      // The simulated Velero: --retry-failed below needs one application's backup to fail on demand.
      startWorld({ velero: 'simulated', sim: { latency: 'fast' } }),
      startWorld({ velero: 'simulated', sim: { latency: 'fast' } }),
    ]);
    const sandboxes = await Promise.all(
      [steps, whole].map((w) =>
        seedSandbox(w.kubeconfig, { apps: 4, namespaces: 2, helmBin: helm(), odooUrl: w.odoo.url }),
      ),
    );
    seeded = sandboxes[0] as SandboxSummary;
    [lpSteps, lpWhole] = await Promise.all([
      LeastPrivilege.start(steps.kubeconfig, join(steps.controlPlane?.dir ?? '', 'pki')),
      LeastPrivilege.start(whole.kubeconfig, join(whole.controlPlane?.dir ?? '', 'pki')),
    ]);
  }, 240_000);

  afterAll(async () => {
    process.stderr.write(
      `least privilege: ${cases} removal cases and their full grants in ${((Date.now() - started) / 1000).toFixed(0)}s\n`,
    );
    await lpSteps?.stop();
    await lpWhole?.stop();
    await Promise.all([steps?.stop(), whole?.stop()]);
  });

  /**
   * The property for one command line: each verb taken away stops it before any change, naming
   * the verb; everything printed lets it complete.
   */
  async function holds(lp: LeastPrivilege, name: string, args: string[]) {
    const printed = await lp.printed(args, name);
    const removals = LeastPrivilege.removals(printed);
    expect(removals.length).toBeGreaterThan(0);
    const variants = removals.map((r, i) => ({
      name: `${name}-${i}`,
      objects: LeastPrivilege.variant(printed, name, `${name}-${i}`, r),
    }));
    const accounts = await lp.grant([{ name, objects: printed }, ...variants]);
    const failures = (
      await mapLimit(removals, 4, async (removal, i) => {
        const account = accounts.get(`${name}-${i}`) as { kubeconfig: string; token: string };
        const from = lp.logLength;
        const r = await vw(args, { kubeconfig: account.kubeconfig });
        const writes = lp.requestsOf(account.token, from).filter(isWrite);
        // One line and its hint: no status view printed first (uninstall), nothing else.
        const oneLine = r.stderr.split('\n').filter((l) => /^error: /.test(l)).length === 1 && !r.stdout.trim();
        const ok = r.exitCode === 3 && names(removal).test(unwrapped(r.stderr)) && !writes.length && oneLine;
        return ok
          ? undefined
          : {
              removed: `${removal.verb} ${removal.resource}.${removal.group} ${removal.namespace ?? '(cluster)'}`,
              code: r.exitCode,
              stderr: r.stderr.split('\n').filter((l) => /error|may not|forbidden/.test(l)),
              stdout: r.stdout.slice(0, 200),
              writes: writes.map((w) => `${w.method} ${w.path}`),
            };
      })
    ).filter(Boolean);
    cases += removals.length;
    expect({ args, failures }).toEqual({ args, failures: [] });
    const full = accounts.get(name) as { kubeconfig: string };
    const r = await vw(args, { kubeconfig: full.kubeconfig, timeoutMs: 300_000 });
    expect({ args, code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ args, code: 0, stderr: '' });
    return r;
  }

  describe('one step at a time', () => {
    const ns = () => seeded.namespaces as [string, string];

    it('status', () => holds(lpSteps, 'lp-status', ['status']), 300_000);

    it(
      'pause with HelmReleases',
      () => holds(lpSteps, 'lp-pause', ['pause', '--all', '--suspend-helmreleases', '--timeout', '60s']),
      300_000,
    );

    it('resume with HelmReleases', async () => {
      await holds(lpSteps, 'lp-resume', ['resume', '--all', '--timeout', '60s']);
      const again = await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig: steps.kubeconfig });
      expect(again.exitCode).toBe(0);
    }, 300_000);

    it('backup in one namespace (-n): namespace-scoped rights only', async () => {
      const printed = await lpSteps.printed(['backup', '-n', ns()[0], '--all', '--ttl', '8760h'], 'lp-probe');
      // Only the CRDs' get is cluster-wide: everything else is a Role in the namespaces it names.
      expect(printed.filter((o) => o.kind === 'ClusterRole').flatMap((o) => o.rules ?? [])).toEqual([
        { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: ['get'] },
      ]);
      await holds(lpSteps, 'lp-backup-ns', ['backup', '-n', ns()[0], '--all', '--ttl', '8760h', '--timeout', '120s']);
    }, 300_000);

    it('backup --retry-failed', async () => {
      const failing = seeded.apps.find((a) => a.namespace === ns()[1] && a.backupCapable);
      steps.sim.setFaults({ failBackups: new Map([[`${failing?.namespace}/${failing?.name}`, 'VeleroBackupFailed']]) });
      const first = await vw(['backup', '--all', '--ttl', '8760h', '--timeout', '120s'], {
        kubeconfig: steps.kubeconfig,
      });
      expect(first.exitCode).toBe(1);
      steps.sim.setFaults({ failBackups: new Map() });
      await holds(lpSteps, 'lp-backup-retry', [
        'backup',
        '--all',
        '--ttl',
        '8760h',
        '--retry-failed',
        '--timeout',
        '120s',
      ]);
    }, 300_000);

    it(
      'decommission',
      () => holds(lpSteps, 'lp-decommission', ['decommission', '--yes', '--timeout', '120s']),
      300_000,
    );

    it(
      'purge --delete-apps',
      () => holds(lpSteps, 'lp-purge-apps', ['purge', '--delete-apps', '--yes', '--helm', helm(), '--timeout', '120s']),
      300_000,
    );

    it(
      'purge --delete-crds',
      () => holds(lpSteps, 'lp-purge-crds', ['purge', '--delete-crds', '--yes', '--helm', helm(), '--timeout', '120s']),
      300_000,
    );

    it(
      'purge --delete-namespace',
      () =>
        holds(lpSteps, 'lp-purge-ns', ['purge', '--delete-namespace', '--yes', '--helm', helm(), '--timeout', '120s']),
      300_000,
    );
  });

  it(
    'uninstall: every step checked before step 1',
    () =>
      holds(lpWhole, 'lp-uninstall', [
        'uninstall',
        '--ttl',
        '8760h',
        '--delete-apps',
        '--yes',
        '--helm',
        helm(),
        '--timeout',
        '120s',
      ]),
    600_000,
  );
});
