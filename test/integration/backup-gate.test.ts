import { join } from 'node:path';
import type { KubeClient } from '../../lib/kube/client';
import type { KubeObject } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';
import { runPurge } from '../../lib/cli/commands/purge';
import { resolveKubeTarget } from '../../lib/kube/config';
import { purgeCommand } from '../../plugins/purge/command';
import { parsedDefaults } from '../helpers/args';
import { adminClient, eventually, vw } from '../helpers/plugins';
import { testDeps, text } from '../helpers/test-deps';
import { toolsBinDir } from '../support/kube-env';
import { type SandboxSummary, seedSandbox, startWorld, type World } from '../support/sandbox';

// Which Operation is an application's final backup, and when it counts: on a control plane of its
// own, since the gates of decommission, purge and status look at every application there is.

const backupRefOf = (op: KubeObject) => (op.status as { backupRef?: { namespace: string; name: string } }).backupRef;

describe('the final-backup gate', () => {
  let world: World;
  let kubeconfig: string;
  let client: KubeClient;
  let seeded: SandboxSummary;
  let ns: string;
  let capable: string[];
  const helm = () => join(toolsBinDir(), 'helm');

  beforeAll(async () => {
    // The simulated Velero: these tests edit Velero's records by hand to judge what they say
    // (test/integration/velero.test.ts has the real one make them).
    world = await startWorld({ velero: 'simulated' });
    kubeconfig = world.kubeconfig;
    client = adminClient(kubeconfig);
    seeded = await seedSandbox(kubeconfig, {
      apps: 6,
      namespaces: 1,
      notBackupCapableEvery: 5,
      helmBin: helm(),
      odooUrl: world.odoo.url,
    });
    ns = seeded.namespaces[0] as string;
    capable = seeded.apps.filter((a) => a.backupCapable).map((a) => a.name);
  }, 180_000);

  afterAll(async () => {
    await world?.stop();
  });

  const operation = (name: string) => client.find(resources.operations, name, ns);
  /** The gate as decommission's preflight reports it (a client dry run changes nothing). */
  const gate = async () => {
    const r = await vw(['decommission', '--dry-run=client', '--force-preflight'], { kubeconfig });
    // The check is word-wrapped to the screen: read it back as the one sentence it is.
    const unwrapped = r.stderr.replace(/\n {6,}(?!fix:)/g, ' ');
    return /final backups: (.*)/.exec(unwrapped)?.[0] ?? r.stderr;
  };
  const gateOk = async () =>
    /\bok +final backups/.test(
      (await vw(['decommission', '--dry-run=client', '--force-preflight'], { kubeconfig })).stderr,
    );

  it('an Operation under the final backup name that is not a backup of the application is never adopted or deleted', async () => {
    const [web, other] = capable as [string, string];
    await client.create(
      resources.operations,
      {
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Operation',
        metadata: { name: `${web}-final-backup`, namespace: ns },
        spec: {
          targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: other },
          type: 'Restore',
          engine: 'velero',
          parameters: { storageLocation: 'aws-primary' },
        },
      },
      ns,
    );
    const before = await operation(`${web}-final-backup`);
    // Let the operator finish with it, however it does.
    await eventually(async () => (await operation(`${web}-final-backup`))?.status, 30_000, 'the Restore to run');
    expect((await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    const r = await vw(
      ['backup', '-n', ns, web, '--ttl', '8760h', '--retry-failed', '-o', 'json', '--timeout', '60s'],
      {
        kubeconfig,
      },
    );
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(
      new RegExp(`operation.ops.vworkspace.io/${web}-final-backup .*is a Restore of ${other}, not a backup of ${web}`),
    );
    expect(r.stderr).toMatch(/--name-suffix/);
    const after = await operation(`${web}-final-backup`);
    expect(after?.metadata.uid).toBe(before?.metadata.uid);
    expect(after?.spec).toEqual(before?.spec);
  });

  it('a final backup taken under another name (--name-suffix) is found by decommission and status', async () => {
    const [web, named, ...rest] = capable as [string, string, ...string[]];
    for (const [app, suffix] of [
      [web, 'second'], // the way out of the conflict above
      [named, 'last'],
    ] as const) {
      const r = await vw(['backup', '-n', ns, app, '--ttl', '8760h', '--name-suffix', suffix, '--timeout', '60s'], {
        kubeconfig,
      });
      expect(r.exitCode).toBe(0);
    }
    const incapable = seeded.apps.filter((a) => !a.backupCapable).map((a) => a.name);
    const others = await vw(['backup', '-n', ns, ...rest, ...incapable, '--ttl', '8760h', '--timeout', '60s'], {
      kubeconfig,
    });
    expect(others.exitCode).toBe(0);
    expect(await gateOk()).toBe(true);
    const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
    expect(status.steps[1].state).toBe('done');
  });

  it('Velero Backup gone, expiring or PartiallyFailed: the Operation Succeeded, yet the backup does not count', async () => {
    const [, , a, b, c] = capable as [string, string, string, string, string];
    const veleroOf = async (app: string) => {
      const ops = (await client.list(resources.operations, { namespace: ns })).items.filter(
        (o) =>
          (o.spec as { targetRef: { name: string } }).targetRef.name === app &&
          (o.spec as { type: string }).type === 'Backup',
      );
      const ref = backupRefOf(ops.at(-1) as KubeObject);
      if (!ref) throw new Error(`no backupRef for ${app}`);
      return ref;
    };
    const ra = await veleroOf(a);
    await client.delete(resources.veleroBackups, ra.name, ra.namespace);
    const rb = await veleroOf(b);
    // Expiring within the margin (24h): once expired, Velero's garbage collection would delete it.
    await client.mergePatch(resources.veleroBackups, rb.name, rb.namespace, {
      status: { expiration: new Date(Date.now() + 2 * 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z') },
    });
    const rc = await veleroOf(c);
    await client.mergePatch(resources.veleroBackups, rc.name, rc.namespace, { status: { phase: 'PartiallyFailed' } });
    const refused = await gate();
    expect(refused).toMatch(new RegExp(`${ns}/${a} \\(Velero backup missing\\)`));
    expect(refused).toMatch(new RegExp(`${ns}/${b} \\(expires \\S+, within the margin`));
    expect(refused).toMatch(new RegExp(`${ns}/${c} \\(Velero backup PartiallyFailed\\)`));
    const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
    expect(status.steps[1].state).not.toBe('done');
    expect(status.steps[1].evidence.join('\n')).toMatch(/1 Velero backup missing/);
    expect(status.steps[1].next).toMatch(/^kubectl vw backup /);
    // Re-taking keeps the old Operations until the new ones count.
    const before = (await client.list(resources.operations, { namespace: ns })).items.map((o) => o.metadata.uid);
    const retake = await vw(['backup', '--ttl', '8760h', '-o', 'json', '--timeout', '90s'], { kubeconfig });
    expect(retake.exitCode).toBe(0);
    const after = (await client.list(resources.operations, { namespace: ns })).items;
    for (const uid of before) expect(after.map((o) => o.metadata.uid)).toContain(uid);
    expect(after.map((o) => o.metadata.name)).toEqual(
      expect.arrayContaining([`${a}-final-backup-2`, `${b}-final-backup-2`, `${c}-final-backup-2`]),
    );
    expect(await gateOk()).toBe(true);
  });

  it('a backup started before the application was paused is stale', async () => {
    const late = 'latecomer-1';
    await client.create(
      resources.applicationInstances,
      {
        apiVersion: 'apps.vworkspace.io/v1alpha1',
        kind: 'ApplicationInstance',
        metadata: { name: late, namespace: ns },
        spec: { catalogRef: { name: 'odoo', version: '17.0.3' }, backup: { capable: true } },
      },
      ns,
    );
    const early = await vw(['backup', '-n', ns, late, '--ttl', '8760h', '--timeout', '60s'], { kubeconfig });
    expect(early.stderr).toMatch(/not paused/);
    // Times are in whole seconds: the pause comes in a later one.
    await new Promise((r) => setTimeout(r, 1100));
    expect((await vw(['pause', '-n', ns, late, '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    expect(await gate()).toMatch(new RegExp(`${ns}/${late} \\(stale: started before the application was paused`));
    const retake = await vw(['backup', '-n', ns, late, '--ttl', '8760h', '--timeout', '60s'], { kubeconfig });
    expect(retake.exitCode).toBe(0);
    expect(await gateOk()).toBe(true);
  });

  it('uninstall does not skip step 2 while an application has no final backup that counts, even with the Cluster gone', async () => {
    const d = await vw(['decommission', '--yes', '--timeout', '60s'], { kubeconfig });
    expect(d.exitCode).toBe(0);
    await client.create(
      resources.applicationInstances,
      {
        apiVersion: 'apps.vworkspace.io/v1alpha1',
        kind: 'ApplicationInstance',
        metadata: { name: 'newcomer-1', namespace: ns, annotations: { 'apps.vworkspace.io/reconcile': 'disabled' } },
        spec: { catalogRef: { name: 'odoo', version: '17.0.3' } },
      },
      ns,
    );
    const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
    expect(status.steps[1].state).not.toBe('skipped');
    const r = await vw(['uninstall', '--ttl', '8760h', '--yes', '--dry-run=client', '--helm', helm()], { kubeconfig });
    expect(r.stderr).toMatch(/== Step 2: final backups/);
  });

  it('purge --delete-apps checks the gate again after the confirmation, right before it deletes', async () => {
    const b = await vw(['backup', '--ttl', '8760h', '--timeout', '60s'], { kubeconfig });
    expect(b.exitCode).toBe(0);
    const target = resolveKubeTarget({ kubeconfig }, process.env);
    const t = testDeps({
      kubeconfig,
      stdinTTY: true,
      answers: [
        async () => {
          // Between the plan and the answer, the final backups' Velero Backups go away.
          for (const b of (await client.list(resources.veleroBackups, { namespace: 'velero' })).items)
            await client.delete(resources.veleroBackups, b.metadata.name, 'velero');
          return target.cluster;
        },
      ],
    });
    const options = purgeCommand.toOptions({
      ...(await parsedDefaults(['purge', '--delete-apps', '--helm', helm()])),
    });
    await expect(runPurge(options, t.deps)).rejects.toMatchObject({ exitCode: 3 });
    expect(text(t.out.stderr)).toMatch(/Type "/);
    expect((await client.list(resources.applicationInstances, { namespace: ns })).items.length).toBeGreaterThan(0);
  });
});
