import { join } from 'node:path';
import { execa } from 'execa';
import type { KubeClient } from '../../lib/kube/client';
import { core } from '../../lib/kube/resources';
import { helmReleaseName, operatorNamespace, resources, suspendedByAnnotation } from '../../lib/operator/names';
import { toolsBinDir } from '../support/kube-env';
import { seedSandbox, startWorld, type World } from '../support/sandbox';
import { denyByPolicy, refusedWith422 } from '../helpers/admission';
import { adminClient, distBin, itemsOf, type ResultItem, vw } from '../helpers/plugins';

// The README's promises about purge and uninstall that need an installation of their own (they
// uninstall the operator): uninstall --skip-backup and --suspend-helmreleases, purge's dry-run
// modes listing one item per object, --keep-apps, a per-object failure in step 4 (a row with its
// reason, exit 1, nothing further), and the confirmation by typing the cluster's name.

describe('purge and uninstall, as the README promises', () => {
  let world: World;
  let kubeconfig: string;
  let client: KubeClient;
  let apps: { namespace: string; name: string }[];
  const helm = () => join(toolsBinDir(), 'helm');
  // The kubeconfig's cluster name: what a destructive purge asks to have typed.
  const clusterName = 'vw-test';

  beforeAll(async () => {
    world = await startWorld();
    kubeconfig = world.kubeconfig;
    client = adminClient(kubeconfig);
    const seeded = await seedSandbox(kubeconfig, { apps: 4, namespaces: 2, helmBin: helm(), odooUrl: world.odoo.url });
    apps = seeded.apps.map((a) => ({ namespace: a.namespace, name: a.name }));
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  const release = async () =>
    (
      await client.list(core.secrets, {
        namespace: operatorNamespace,
        labelSelector: `owner=helm,name=${helmReleaseName}`,
      })
    ).items.length > 0;
  const instances = async () => (await client.list(resources.applicationInstances)).items.length;

  it('the kubeconfig names the cluster the prompt asks for', async () => {
    const { stdout } = await execa('kubectl', ['--kubeconfig', kubeconfig, 'config', 'view', '--minify', '-o', 'json']);
    expect(JSON.parse(stdout).clusters[0].name).toBe(clusterName);
  });

  it('uninstall --skip-backup --suspend-helmreleases: step 1 suspends every HelmRelease, no final backup is taken or asked for', async () => {
    // No helm here: the run goes through steps 1 to 3 and is refused before step 4 deletes anything.
    const r = await vw(
      [
        'uninstall',
        '--skip-backup',
        '--suspend-helmreleases',
        '--delete-apps',
        '--yes',
        '--helm',
        '/nonexistent/helm',
        '--timeout',
        '60s',
      ],
      { kubeconfig, timeoutMs: 170_000 },
    );
    expect(r.exitCode).toBe(3);
    expect(r.stderr).toMatch(/== Step 1: pause reconciliation/);
    expect(r.stderr).not.toMatch(/== Step 2/);
    expect(r.stderr).toMatch(/== Step 3/);
    expect(r.stderr).toMatch(/final backups: skipped \(--skip-backup-check\)/);
    expect(r.stderr).toMatch(/helm binary not found at \/nonexistent\/helm/);
    expect(r.stderr).toMatch(/stopped at steps 4 and 5/);
    expect((await client.list(resources.operations)).items).toEqual([]);
    expect((await client.list(resources.veleroBackups)).items).toEqual([]);
    const hrs = (await client.list(resources.helmReleases)).items;
    expect(hrs).toHaveLength(apps.length);
    for (const hr of hrs) {
      expect((hr.spec as { suspend?: boolean }).suspend).toBe(true);
      expect(hr.metadata.annotations?.[suspendedByAnnotation]).toBeTruthy();
    }
    expect((await client.list(resources.clusters, { namespace: operatorNamespace })).items).toEqual([]);
    expect(world.odoo.decommissioned()).toHaveLength(1);
    expect(await instances()).toBe(apps.length);
    expect(await release()).toBe(true);
  }, 180_000);

  it('--keep-apps is the default said out loud; with --delete-apps, or negated, it is refused (exit 2)', async () => {
    const kept = await vw(['purge', '--keep-apps', '--dry-run=client', '-o', 'json', '--helm', helm()], { kubeconfig });
    expect(kept.exitCode).toBe(0);
    const doc = JSON.parse(kept.stdout);
    expect(doc.plan.phases.map((p: { id: string }) => p.id)).toEqual(['step5-helm-uninstall']);
    expect(kept.stderr).toMatch(/--keep-apps: 4 HelmReleases stay and will be orphaned/);
    const both = await vw(['purge', '--keep-apps', '--delete-apps', '--yes', '--helm', helm()], { kubeconfig });
    expect(both.exitCode).toBe(2);
    expect(both.stderr).toMatch(/--keep-apps and --delete-apps contradict each other/);
    const negated = await vw(['purge', '--no-keep-apps', '--yes', '--helm', helm()], { kubeconfig });
    expect(negated.exitCode).toBe(2);
    expect(negated.stderr).toMatch(/--no-keep-apps: .*pass --delete-apps/);
    expect(await release()).toBe(true);
    expect(await instances()).toBe(apps.length);
  });

  it('purge --dry-run=client plans and --dry-run=server validates one item per object; nothing changes', async () => {
    const args = [
      'purge',
      '--delete-apps',
      '--skip-backup-check',
      '--delete-crds',
      '--delete-namespace',
      '--helm',
      helm(),
    ];
    for (const [mode, result] of [
      ['client', 'planned'],
      ['server', 'validated'],
    ] as const) {
      const r = await vw([...args, `--dry-run=${mode}`, '-o', 'json'], { kubeconfig });
      expect({ mode, exitCode: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({
        mode,
        exitCode: 0,
        stderr: '',
      });
      const doc = JSON.parse(r.stdout);
      expect(doc).toMatchObject({ kind: 'PurgeResult', dryRun: mode });
      const deletes = (doc.items as ResultItem[]).filter((i) => i.action === 'delete');
      const byKind: Record<string, number> = {};
      for (const i of deletes) byKind[i.kind] = (byKind[i.kind] ?? 0) + 1;
      expect({ mode, byKind }).toEqual({
        mode,
        byKind: { ApplicationInstance: 4, Deployment: 6, ServiceAccount: 1, CustomResourceDefinition: 3, Namespace: 1 },
      });
      expect(deletes.every((i) => i.result === result)).toBe(true);
      expect(doc.summary[result]).toBe(deletes.length);
      // What helm keeps is a row too, and the paused applications' HelmReleases that stay.
      expect(itemsOf(r.stdout)).toContainEqual(
        expect.objectContaining({ kind: 'Secret', name: 'vworkspace-bootstrap-credential', action: 'keep' }),
      );
      expect(itemsOf(r.stdout).filter((i) => i.kind === 'HelmRelease' && /^stays/.test(i.message ?? ''))).toHaveLength(
        4,
      );
      const table = await vw([...args, `--dry-run=${mode}`], { kubeconfig, env: { COLUMNS: '200' } });
      expect(table.exitCode).toBe(0);
      expect(table.stdout).toMatch(
        new RegExp(
          `Namespace\\s+${operatorNamespace}\\s+delete\\s+${result} \\(${mode === 'server' ? 'server ' : ''}dry run\\)`,
        ),
      );
    }
    expect(await release()).toBe(true);
    expect(await instances()).toBe(apps.length);
    expect(await client.find(core.namespaces, operatorNamespace)).toBeDefined();
  });

  describe('with an application the cluster refuses to delete', () => {
    let locked: { namespace: string; name: string };
    let unlock: () => Promise<void>;

    beforeAll(async () => {
      locked = apps[0] as { namespace: string; name: string };
      unlock = await denyByPolicy(client, {
        name: 'vw-test-keep-one',
        operations: ['DELETE'],
        expression: `oldObject.metadata.name != '${locked.name}'`,
        message: `${locked.name} is protected by the cluster's admission policy`,
        refused: () =>
          refusedWith422(() =>
            client.delete(resources.applicationInstances, locked.name, locked.namespace, { dryRun: true }),
          ),
      });
    });

    const terminal = async (args: string[], answer: string) => {
      const line = [join(distBin, 'kubectl-vw'), ...args].map((a) => `'${a}'`).join(' ');
      const run = execa('script', ['-qec', line, '/dev/null'], {
        env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', TERM: 'xterm', COLUMNS: '200' },
        reject: false,
        timeout: 170_000,
      });
      let seen = '';
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no prompt; saw: ${seen}`)), 90_000);
        run.stdout?.on('data', (c: Buffer) => {
          seen += c.toString();
          if (new RegExp(`Type "${clusterName}" to continue: `).test(seen)) {
            clearTimeout(timer);
            resolve();
          }
        });
      });
      run.stdin?.write(`${answer}\r`);
      const r = await run;
      return { exitCode: r.exitCode, output: String(r.stdout) };
    };

    it('a destructive purge asks for the cluster name typed out: a wrong name is exit 2, nothing changed', async () => {
      const args = ['purge', '--delete-apps', '--skip-backup-check', '--helm', helm()];
      for (const answer of ['y', 'cluster-sandbox-1', '']) {
        const r = await terminal(args, answer);
        expect({ answer, exitCode: r.exitCode }).toEqual({ answer, exitCode: 2 });
        expect(r.output).toMatch(/not confirmed: nothing was changed/);
      }
      expect(await instances()).toBe(apps.length);
      expect(await release()).toBe(true);
    }, 170_000);

    it('purge: the object refused is a failed row with its reason, exit 1, and nothing further is done', async () => {
      const r = await vw(['purge', '--delete-apps', '--skip-backup-check', '--yes', '--helm', helm(), '-o', 'json'], {
        kubeconfig,
        timeoutMs: 170_000,
      });
      expect(r.exitCode).toBe(1);
      const items = itemsOf(r.stdout);
      expect(items.find((i) => i.kind === 'ApplicationInstance' && i.name === locked.name)).toMatchObject({
        action: 'delete',
        result: 'failed',
        message: expect.stringMatching(/^422 Invalid: .*protected by the cluster's admission policy/),
      });
      expect(items.filter((i) => i.kind === 'ApplicationInstance' && i.result === 'changed')).toHaveLength(
        apps.length - 1,
      );
      expect(JSON.parse(r.stdout).summary.failed).toBe(1);
      expect(r.stderr).toMatch(
        /1 ApplicationInstances could not be deleted \(listed above\); nothing further was done/,
      );
      // The HelmReleases of the paused applications stay, and the run says so though it stopped.
      expect(items.filter((i) => i.kind === 'HelmRelease' && /^stays/.test(i.message ?? ''))).toHaveLength(apps.length);
      expect(await release()).toBe(true);
      expect(await instances()).toBe(1);
    }, 180_000);

    it('confirmed by the cluster name typed out, the re-run finishes the job', async () => {
      await unlock();
      const r = await terminal(['purge', '--delete-apps', '--skip-backup-check', '--helm', helm()], clusterName);
      expect({ exitCode: r.exitCode, output: r.exitCode ? r.output : '' }).toEqual({ exitCode: 0, output: '' });
      expect(r.output).toMatch(new RegExp(`ApplicationInstance\\s+${locked.name}\\s+delete\\s+deleted`));
      expect(r.output).toMatch(new RegExp(`HelmRelease\\s+${locked.name}\\s+none\\s+unchanged\\s+stays`));
      expect(await instances()).toBe(0);
      expect(await release()).toBe(false);
    }, 180_000);
  });
});
