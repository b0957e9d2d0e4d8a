import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
import { installOperatorChart } from '../support/chart';
import { kubectlOk, toolsBinDir } from '../support/kube-env';
import { sandboxClusterName, seedSandbox, startWorld, type World } from '../support/sandbox';
import { type Observer, observe } from '../helpers/observe';
import { distBin, eventually, unwrapped, vw } from '../helpers/plugins';

// Plan, approve, apply: `uninstall --plan-out` reads only and writes a plan; `plan show` prints it;
// `uninstall --plan` runs exactly it, or refuses: a bad file (exit 2), another cluster (exit 3,
// before any write), drift (exit 3, with the diff), a plan too old. What a half-done run of the
// plan did is no drift: the next run finishes it.

const system = 'vworkspace-system';
const tenant = 'tenant-01';
const planAnnotation = 'kubectl-vw.vworkspace.io/plan';

interface PlanDoc {
  digest: string;
  options: Record<string, unknown>;
  actions: {
    applications: {
      name: string;
      uid: string;
      pause: string;
      finalBackup: { action: string; operationUID?: string };
    }[];
    cluster: { uid: string } | null;
    release: { revision: number } | null;
  };
}

describe('plan, approve, apply', () => {
  let world: World;
  let other: ControlPlane;
  let kubeconfig: string;
  let restricted: string;
  let seen: Observer;
  let dir: string;
  const helm = () => join(toolsBinDir(), 'helm');
  const file = (name: string) => join(dir, name);
  const read = (path: string) => yaml.load(readFileSync(path, 'utf8')) as PlanDoc;
  const makePlan = async (name: string, args: string[] = [], as = kubeconfig) => {
    const r = await vw(['uninstall', '--ttl', '720h', '--plan-out', file(name), ...args], { kubeconfig: as });
    expect(r.stderr).toMatch(/plan sha256:[0-9a-f]{64} written to/);
    expect(r.exitCode).toBe(0);
    return read(file(name));
  };
  const apply = (name: string, args: string[] = [], as = kubeconfig) =>
    vw(['uninstall', '--plan', file(name), '--yes', '--helm', helm(), ...args], { kubeconfig: as, timeoutMs: 300_000 });
  const app = (name: string) => seen.get('applicationInstances', tenant, name);
  const paused = async (name: string) =>
    (await app(name))?.metadata.annotations?.['apps.vworkspace.io/reconcile'] === 'disabled';
  const createApp = (name: string, o: { paused?: boolean; capable?: boolean } = {}) =>
    kubectlOk(['create', '-f', '-'], {
      kubeconfig,
      input: {
        apiVersion: 'apps.vworkspace.io/v1alpha1',
        kind: 'ApplicationInstance',
        metadata: {
          name,
          namespace: tenant,
          ...(o.paused ? { annotations: { 'apps.vworkspace.io/reconcile': 'disabled' } } : {}),
        },
        spec: { catalogRef: { name: 'odoo', version: '17.0.3' }, values: {}, backup: { capable: o.capable ?? true } },
      },
    });
  const deleteApp = (name: string) =>
    kubectlOk(['delete', 'applicationinstance', name, '-n', tenant, '--wait=true'], { kubeconfig });
  /** Refused for drift: exit 3, the diff names it, and nothing the plan does was done. */
  const refusedFor = async (name: string, difference: RegExp) => {
    const r = await apply(name);
    expect(unwrapped(r.stderr)).toMatch(/the cluster differs from plan sha256:[0-9a-f]{64}:/);
    expect(unwrapped(r.stderr)).toMatch(difference);
    expect(r.stderr).toMatch(
      /error: refusing to run plan sha256:[0-9a-f]{12}: .* from it \(listed above\); nothing was changed/,
    );
    expect(r.exitCode).toBe(3);
    expect(await paused('odoo-1')).toBe(false);
    expect(await seen.get('clusters', system, sandboxClusterName)).toBeDefined();
    // plan show --diff says the same, and exits 1 as kubectl diff does.
    const d = await vw(['plan', 'show', file(name), '--diff'], { kubeconfig, env: { COLUMNS: '300' } });
    expect(d.stdout).toMatch(difference);
    expect(d.exitCode).toBe(1);
    return r;
  };

  beforeAll(async () => {
    // The simulated Velero: a test below deletes Velero's Backups by hand under an approved plan.
    [world, other] = await Promise.all([
      startWorld({ velero: 'simulated', sim: { latency: 'fast' } }),
      startControlPlane({}),
    ]);
    kubeconfig = world.kubeconfig;
    restricted = (world.controlPlane as ControlPlane).restrictedKubeconfig as string;
    seen = observe(kubeconfig);
    dir = mkdtempSync(join(tmpdir(), 'vw-plan-'));
    await seedSandbox(kubeconfig, { apps: 4, namespaces: 1, helmBin: helm(), odooUrl: world.odoo.url });
  }, 300_000);

  afterAll(async () => {
    await Promise.all([world?.stop(), other?.stop()]);
  });

  describe('a plan file that cannot be the one approved: one line, exit 2', () => {
    let good: string;
    beforeAll(async () => {
      await makePlan('good.yaml');
      good = readFileSync(file('good.yaml'), 'utf8');
    });
    const refused = async (name: string, text: string, message: RegExp) => {
      writeFileSync(file(name), text);
      const r = await apply(name);
      expect(r.stderr).toMatch(message);
      expect(
        r.stderr
          .trim()
          .split('\n')
          .filter((l) => l.startsWith('error:')),
      ).toHaveLength(1);
      expect(r.stderr).not.toMatch(/\n\s+at /);
      expect(r.exitCode).toBe(2);
    };

    it('does not parse', () =>
      refused(
        'garbage.yaml',
        'apiVersion: kubectl-vw/v1\nkind: [UninstallPlan\n',
        /error: plan file \S+ does not parse: /,
      ));
    it('is not a plan', () =>
      refused(
        'kind.yaml',
        good.replace('kind: UninstallPlan', 'kind: PurgeResult'),
        /is of kind "PurgeResult", not UninstallPlan/,
      ));
    it('has another apiVersion', () =>
      refused(
        'version.yaml',
        good.replace('apiVersion: kubectl-vw/v1', 'apiVersion: kubectl-vw/v2'),
        /has apiVersion "kubectl-vw\/v2"; this kubectl vw reads kubectl-vw\/v1/,
      ));
    it('was edited by hand after it was made (its digest no longer matches)', () =>
      refused(
        'edited.yaml',
        good.replace('deleteApps: false', 'deleteApps: true'),
        /does not match its digest \(it says "sha256:[0-9a-f]{64}", its content hashes to sha256:[0-9a-f]{64}\): it was changed after it was made/,
      ));
    it('is not there', async () => {
      const r = await vw(['uninstall', '--plan', file('missing.yaml')], { kubeconfig });
      expect(r.stderr).toMatch(/cannot read plan file \S+missing.yaml: ENOENT/);
      expect(r.exitCode).toBe(2);
      expect(await paused('odoo-1')).toBe(false);
    });
  });

  it('is made by reading only (a read-only user can make it), names every object by uid, and plan show prints it', async () => {
    const p = await makePlan('p1.yaml', [], restricted);
    expect(p.actions.applications.map((a) => a.name).sort()).toEqual([
      'gitea-3',
      'mattermost-4',
      'nextcloud-2',
      'odoo-1',
    ]);
    for (const a of p.actions.applications)
      expect(a).toMatchObject({ uid: (await app(a.name))?.metadata.uid, pause: 'pause' });
    expect(p.actions.cluster?.uid).toBe((await seen.get('clusters', system, sandboxClusterName))?.metadata.uid);
    expect(p.actions.release?.revision).toBe(1);
    expect(await paused('odoo-1')).toBe(false);
    const shown = await vw(['plan', 'show', file('p1.yaml'), '-o', 'wide'], { kubeconfig, env: { COLUMNS: '250' } });
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toMatch(new RegExp(`Plan ${p.digest}`));
    expect(shown.stdout).toMatch(/1\s+tenant-01\s+ApplicationInstance\s+odoo-1\s+pause\s+planned \(dry run\)/);
    expect(shown.stdout).toMatch(/3\s+vworkspace-system\s+Cluster\s+cluster-sandbox-1\s+delete/);
    expect(shown.stdout).toMatch(/What persists after uninstall/);
    const json = JSON.parse((await vw(['plan', 'show', file('p1.yaml'), '-o', 'json'], { kubeconfig })).stdout);
    expect(json).toMatchObject({ apiVersion: 'kubectl-vw/v1', kind: 'UninstallPlan', digest: p.digest });
    const diff = await vw(['plan', 'show', file('p1.yaml'), '--diff'], { kubeconfig });
    expect(diff.stdout).toMatch(/No differences/);
    expect(diff.exitCode).toBe(0);
  }, 120_000);

  it('a different option on the command line is a difference, refused before anything is read', async () => {
    const r = await apply('p1.yaml', ['--ttl', '1000h', '--delete-apps']);
    expect(r.stderr).toMatch(/~ option --ttl: "1000h" on the command line, "720h" in the plan/);
    expect(r.stderr).toMatch(/~ option --delete-apps: true on the command line, false in the plan/);
    expect(r.stderr).toMatch(/refusing to run plan sha256:[0-9a-f]{12}: 2 differences/);
    expect(r.exitCode).toBe(3);
    // The same options, spelt otherwise, are no difference.
    expect((await vw(['plan', 'show', file('p1.yaml')], { kubeconfig })).exitCode).toBe(0);
    expect(await paused('odoo-1')).toBe(false);
  });

  it('a plan older than --max-plan-age is refused', async () => {
    await new Promise((r) => setTimeout(r, 2_100));
    const r = await apply('p1.yaml', ['--max-plan-age', '2s']);
    expect(r.stderr).toMatch(
      /plan sha256:[0-9a-f]{12} was made \S+ ago \(\S+\), more than --max-plan-age 2s; nothing was changed/,
    );
    expect(r.exitCode).toBe(3);
    expect(await paused('odoo-1')).toBe(false);
  });

  it('against another cluster: refused (exit 3) before any request that writes', async () => {
    let proxy: FaultProxy | undefined;
    try {
      proxy = await startFaultProxy(other.adminKubeconfig);
      const r = await apply('p1.yaml', [], proxy.kubeconfig);
      expect(unwrapped(r.stderr)).toMatch(
        /error: plan sha256:[0-9a-f]{12} is for another cluster than context "\S+": kube-system uid \S+ here, \S+ in the plan; server http:\/\/127\.0\.0\.1:\d+ here, https:\/\/127\.0\.0\.1:\d+ in the plan/,
      );
      expect(r.exitCode).toBe(3);
      expect(proxy.requests.length).toBeGreaterThan(0);
      expect(proxy.requests.filter((q) => q.method !== 'GET').map((q) => `${q.method} ${q.path}`)).toEqual([]);
    } finally {
      await proxy?.stop();
    }
    expect(await observe(other.adminKubeconfig).lease('kube-system', 'kubectl-vw')).toBeUndefined();
    expect(await observe(other.adminKubeconfig).configMap('kube-system', 'kubectl-vw-journal')).toBeUndefined();
  }, 120_000);

  it('an application added since the plan: refused, never silently included', async () => {
    await createApp('intruder');
    await refusedFor(
      'p1.yaml',
      /\+ ApplicationInstance tenant-01\/intruder: added since the plan \(uid \S+\): the plan never touches it/,
    );
    expect(await paused('intruder')).toBe(false);
    await deleteApp('intruder');
  }, 120_000);

  it('an application replaced under its name (another uid): refused', async () => {
    const before = (await app('gitea-3'))?.metadata.uid;
    await deleteApp('gitea-3');
    await createApp('gitea-3');
    await refusedFor(
      'p1.yaml',
      new RegExp(
        `~ ApplicationInstance tenant-01/gitea-3: uid changed: ${before} in the plan, \\S+ now \\(another object\\)`,
      ),
    );
  }, 120_000);

  it('an application removed since the plan: refused', async () => {
    await makePlan('p2.yaml');
    await deleteApp('gitea-3');
    await refusedFor('p2.yaml', /- ApplicationInstance tenant-01\/gitea-3: removed since the plan \(uid \S+\)/);
  }, 120_000);

  it('a newer release revision: refused', async () => {
    await makePlan('p3.yaml');
    await installOperatorChart(kubeconfig, { helmBin: helm(), odooUrl: world.odoo.url }); // helm upgrade: revision 2
    await refusedFor(
      'p3.yaml',
      /~ helm release vworkspace-system\/vworkspace-app-operator: revision 2 now \(deployed\); the plan uninstalls revision 1/,
    );
  }, 120_000);

  it('a final backup the plan keeps that no longer counts: refused', async () => {
    // One application is paused and backed up outside the plan: the plan keeps that backup.
    expect((await vw(['pause', '-n', tenant, 'odoo-1'], { kubeconfig })).exitCode).toBe(0);
    expect((await vw(['backup', '-n', tenant, 'odoo-1', '--ttl', '720h'], { kubeconfig })).exitCode).toBe(0);
    const p = await makePlan('p4.yaml');
    expect(p.actions.applications.find((a) => a.name === 'odoo-1')?.finalBackup.action).toBe('keep');
    const backups = await seen.list('veleroBackups', 'velero');
    expect(backups.length).toBe(1);
    await kubectlOk(['delete', 'backups.velero.io', '--all', '-n', 'velero', '--wait=false'], { kubeconfig });
    const r = await apply('p4.yaml');
    expect(unwrapped(r.stderr)).toMatch(
      /~ final backup of tenant-01\/odoo-1: no longer counts \((Velero backup missing|expired: Velero is deleting it|being deleted.*)\); the plan keeps it as the backup that counts/,
    );
    expect(r.exitCode).toBe(3);
    expect(await paused('nextcloud-2')).toBe(false);
    // Back up again (a new Operation) outside the plan: the cluster is as a new plan will see it.
    expect((await vw(['backup', '-n', tenant, 'odoo-1', '--ttl', '720h'], { kubeconfig })).exitCode).toBe(0);
  }, 180_000);

  describe('made, then applied: a half-done run is finished by the next', () => {
    let plan: PlanDoc;
    beforeAll(async () => {
      plan = await makePlan('final.yaml', ['--delete-apps', '--delete-crds', '--delete-namespace']);
    }, 60_000);

    it("each act's gate judges the plan too: an application added during the step 3 prompt stops the delete", async () => {
      const run = execa(
        'script',
        ['-qec', `${join(distBin, 'kubectl-vw')} uninstall --plan ${file('final.yaml')} --helm ${helm()}`, '/dev/null'],
        {
          env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', TERM: 'xterm', COLUMNS: '300' },
          reject: false,
          // A build that lets the delete through waits at step 5's prompt: killed, so the test fails, never hangs.
          timeout: 200_000,
          killSignal: 'SIGKILL',
        },
      );
      let out = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no prompt; saw: ${out}`)), 180_000);
        run.stdout?.on('data', (c: Buffer) => {
          out += c.toString();
          if (/delete the Cluster CR \(step 3\)[\s\S]*Continue\? \[y\/N\]/.test(out)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      // An application the plan does not name, which passes every check of step 3 (paused, and
      // without backup capability its failed backup counts): only the plan's judgement stops it.
      await createApp('late', { paused: true, capable: false });
      await kubectlOk(['create', '-f', '-'], {
        kubeconfig,
        input: {
          apiVersion: 'ops.vworkspace.io/v1alpha1',
          kind: 'Operation',
          metadata: { name: 'late-final-backup', namespace: tenant },
          spec: {
            targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: 'late' },
            type: 'Backup',
            engine: 'velero',
            parameters: { storageLocation: 'aws-primary', ttl: '720h' },
          },
        },
      });
      await eventually(
        async () => (await seen.get('operations', tenant, 'late-final-backup'))?.status?.phase === 'Failed',
        60_000,
        'the backup of late to fail (BackupNotSupported)',
      );
      run.stdin?.write('y\r');
      const r = await run;
      const text = unwrapped(String(r.stdout).replace(/\r/g, ''));
      expect(text).toMatch(new RegExp(`executing plan ${plan.digest}`));
      expect(text).toMatch(
        /refusing to delete Cluster cluster-sandbox-1: ApplicationInstance tenant-01\/late \(uid \S+\) is not in plan sha256:/,
      );
      expect(r.exitCode).toBe(3);
      expect((await seen.get('clusters', system, sandboxClusterName))?.metadata.deletionTimestamp).toBeUndefined();
      // Steps 1 and 2 ran under the plan: its applications paused, their final backups marked as its own.
      for (const a of ['odoo-1', 'nextcloud-2', 'mattermost-4']) expect(await paused(a)).toBe(true);
      const ops = await seen.list('operations', tenant);
      const made = ops.filter((o) => o.metadata.annotations?.[planAnnotation] === plan.digest);
      expect(made.map((o) => o.metadata.name).sort()).toEqual([
        'mattermost-4-final-backup',
        'nextcloud-2-final-backup',
      ]);
      await kubectlOk(['delete', 'operation', 'late-final-backup', '-n', tenant], { kubeconfig });
      await deleteApp('late');
    }, 300_000);

    it('a run killed half-way (SIGKILL while step 3 waits for Odoo) is shown as interrupted', async () => {
      // Odoo refuses the decommission (reachable, so step 3's checks pass): the finalizer does not drain.
      await world.odoo.setMode('rejecting');
      const run = execa(
        join(distBin, 'kubectl-vw'),
        ['uninstall', '--plan', file('final.yaml'), '--yes', '--helm', helm()],
        {
          env: { KUBECONFIG: kubeconfig, NO_COLOR: '1' },
          reject: false,
        },
      );
      let err = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          run.kill('SIGKILL');
          reject(new Error(`no delete; saw: ${err}`));
        }, 180_000);
        run.stderr?.on('data', (c: Buffer) => {
          err += c.toString();
          if (/deleted Cluster cluster-sandbox-1/.test(err)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      run.kill('SIGKILL');
      await run;
      expect((await seen.get('clusters', system, sandboxClusterName))?.metadata.deletionTimestamp).toBeDefined();
      const h = JSON.parse((await vw(['history', '-o', 'json'], { kubeconfig })).stdout);
      expect(h.items[0]).toMatchObject({
        command: 'uninstall',
        planDigest: plan.digest,
        state: 'interrupted',
        pid: run.pid,
      });
      expect(h.items[0].outcome).toBeUndefined();
      // The refused run before it, with the same digest.
      expect(h.items[1]).toMatchObject({
        command: 'uninstall',
        planDigest: plan.digest,
        state: 'refused',
        exitCode: 3,
      });
    }, 300_000);

    it('the next run of the plan takes what it foresaw as progress, not drift, and finishes it', async () => {
      await world.odoo.setMode('up');
      const diff = await vw(['plan', 'show', file('final.yaml'), '--diff'], { kubeconfig });
      expect(diff.stdout).toMatch(/No differences/);
      const r = await apply('final.yaml');
      expect(r.stderr).toMatch(new RegExp(`executing plan ${plan.digest}`));
      expect(r.exitCode).toBe(0);
      expect(await seen.helmReleaseSecrets(system, 'vworkspace-app-operator').catch(() => [])).toEqual([]);
      await eventually(
        async () =>
          (await kubectlOk(['get', 'namespaces', '-o', 'name'], { kubeconfig })).includes(`namespace/${system}`) ===
          false,
        120_000,
        'the namespace to go',
      );
      const crds = await kubectlOk(['get', 'crd', '-o', 'name'], { kubeconfig });
      expect(crds).not.toMatch(/vworkspace/);
      const h = JSON.parse((await vw(['history', '-o', 'json'], { kubeconfig })).stdout);
      expect(h.items[0]).toMatchObject({
        command: 'uninstall',
        planDigest: plan.digest,
        state: 'succeeded',
        exitCode: 0,
      });
      const status = await vw(['status'], { kubeconfig, env: { COLUMNS: '300' } });
      expect(status.stdout).toMatch(
        /Last run: uninstall \(plan sha256:[0-9a-f]{12}\) by vw-test-admin from \S+, started \S+, finished \S+: succeeded/,
      );
    }, 300_000);
  });
});
