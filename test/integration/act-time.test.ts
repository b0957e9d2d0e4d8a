import { join } from 'node:path';
import { execa } from 'execa';
import { kubectlOk, toolsBinDir } from '../support/kube-env';
import { clientFor, ensureCluster, sandboxClusterName, seedSandbox, startWorld, type World } from '../support/sandbox';
import { type Observer, observe } from '../helpers/observe';
import { distBin, eventually, unwrapped, vw } from '../helpers/plugins';

// Every destructive act is judged again at the moment it happens, inside the lock, from a fresh
// read: what changed while a prompt waited stops it there, and a lock lost meanwhile stops it too.

const system = 'vworkspace-system';
const observer = 'kubectl-vw.vworkspace.io/decommission-observer';

/** A run at a terminal (util-linux `script`): answers its prompt once `before` has changed the cluster. */
async function atPrompt(kubeconfig: string, args: string, prompt: RegExp, before: () => Promise<void>, answer = 'y') {
  const run = execa('script', ['-qec', `${join(distBin, 'kubectl-vw')} ${args}`, '/dev/null'], {
    env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', TERM: 'xterm', COLUMNS: '200' },
    reject: false,
  });
  let seen = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      run.kill('SIGKILL');
      reject(new Error(`no prompt; saw: ${seen}`));
    }, 300_000);
    run.stdout?.on('data', (c: Buffer) => {
      seen += c.toString();
      if (prompt.test(seen)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
  await before();
  run.stdin?.write(`${answer}\r`);
  const r = await run;
  return { exitCode: r.exitCode, output: unwrapped(String(r.stdout).replace(/\r/g, '')) };
}

describe('checked at the moment of the act', () => {
  let world: World;
  let kubeconfig: string;
  let seen: Observer;
  const cluster = sandboxClusterName;
  const helm = () => join(toolsBinDir(), 'helm');
  const liveCluster = async () => {
    const c = await seen.get('clusters', system, cluster);
    expect(c).toBeDefined();
    expect(c?.metadata.deletionTimestamp).toBeUndefined();
    expect(c?.metadata.finalizers ?? []).not.toContain(observer);
  };
  /** A registered Cluster to decommission (a test before may have let it go): each test stands alone. */
  const registeredCluster = async () => {
    const client = clientFor(kubeconfig);
    await ensureCluster(client, { odooUrl: world.odoo.url });
    client.close();
    await eventually(
      async () => (await seen.get('clusters', system, cluster))?.status?.clusterID,
      60_000,
      'the Cluster registered',
    );
  };
  const stepsOneAndTwo = async () => {
    expect((await vw(['pause', '--all'], { kubeconfig })).exitCode).toBe(0);
    const b = await vw(['backup', '--ttl', '720h'], { kubeconfig });
    expect(b.stderr).toMatch(/final backup/);
    expect(b.exitCode).toBe(0);
  };

  beforeAll(async () => {
    // The simulated Velero: a test below deletes Velero's records by hand at a prompt.
    world = await startWorld({ velero: 'simulated', sim: { latency: 'fast' } });
    kubeconfig = world.kubeconfig;
    seen = observe(kubeconfig);
    await seedSandbox(kubeconfig, { apps: 5, namespaces: 1, helmBin: helm(), odooUrl: world.odoo.url });
  }, 300_000);

  afterAll(async () => {
    await world?.stop();
  });

  it('a resume --all while decommission asks: refused at the delete (exit 3), the Cluster untouched', async () => {
    await registeredCluster();
    await stepsOneAndTwo();
    const r = await atPrompt(kubeconfig, 'decommission', /Continue\? \[y\/N\]/, async () => {
      expect((await vw(['resume', '--all'], { kubeconfig })).exitCode).toBe(0);
    });
    expect(r.output).toMatch(/refusing to delete Cluster \S+: since it was checked, instances paused: .*not paused/);
    expect(r.exitCode).toBe(3);
    await liveCluster();
  }, 600_000);

  it('a final Velero Backup deleted while decommission asks: refused at the delete (exit 3)', async () => {
    await registeredCluster();
    await stepsOneAndTwo();
    expect((await seen.list('veleroBackups', 'velero')).length).toBeGreaterThan(0);
    const r = await atPrompt(kubeconfig, 'decommission', /Continue\? \[y\/N\]/, async () => {
      await kubectlOk(['delete', 'backups.velero.io', '--all', '-n', 'velero', '--wait=false'], { kubeconfig });
    });
    expect(r.output).toMatch(
      /refusing to delete Cluster \S+: since it was checked, final backups: .*Velero backup missing/,
    );
    expect(r.exitCode).toBe(3);
    await liveCluster();
  }, 600_000);

  it("the lock lost during uninstall's step 3 prompt: nothing is deleted, exit 3", async () => {
    await registeredCluster();
    await stepsOneAndTwo();
    const r = await atPrompt(
      kubeconfig,
      `uninstall --ttl 720h --helm ${helm()}`,
      /delete the Cluster CR \(step 3\)[\s\S]*Continue\? \[y\/N\]/,
      async () => {
        // Another run took the lease over (as one would after this run's laptop slept).
        await kubectlOk(
          [
            'patch',
            'lease',
            'kubectl-vw',
            '-n',
            'kube-system',
            '--type=merge',
            '-p',
            '{"spec":{"holderIdentity":"elsewhere/1/deadbeef/PurgeResult"}}',
          ],
          { kubeconfig },
        );
      },
    );
    expect(r.output).toMatch(/lost the lock Lease kube-system\/kubectl-vw/);
    expect(r.exitCode).toBe(3);
    await liveCluster();
    await kubectlOk(['delete', 'lease', 'kubectl-vw', '-n', 'kube-system'], { kubeconfig });
  }, 600_000);

  it('an application made backup-capable since its BackupNotSupported needs a final backup like any other', async () => {
    await registeredCluster();
    await stepsOneAndTwo();
    const apps = await seen.list('applicationInstances');
    const incapable = apps.find((a) => (a.spec?.backup as { capable?: boolean } | undefined)?.capable === false);
    expect(incapable).toBeDefined();
    const { name, namespace } = incapable?.metadata ?? { name: '', namespace: '' };
    const before = await vw(['decommission', '--dry-run=client'], { kubeconfig });
    expect(before.exitCode).toBe(0);
    await kubectlOk(
      [
        ...['patch', 'applicationinstance', name, '-n', namespace ?? ''],
        ...['--type=merge', '-p', '{"spec":{"backup":{"capable":true}}}'],
      ],
      { kubeconfig },
    );
    const after = await vw(['decommission', '--dry-run=client'], { kubeconfig });
    expect(unwrapped(after.stderr)).toMatch(
      new RegExp(
        `${namespace}/${name} \\(Operation Failed \\(BackupNotSupported\\), but the application can be backed up now`,
      ),
    );
    expect(after.exitCode).toBe(3);
    const status = JSON.parse((await vw(['status', '-o', 'json'], { kubeconfig })).stdout);
    expect(status.steps[1].state).not.toBe('done');
    const plan = JSON.parse(
      (await vw(['backup', '--ttl', '720h', '--dry-run=client', '-o', 'json'], { kubeconfig })).stdout,
    );
    expect(plan.items.find((i: { name: string }) => i.name.startsWith(`${name}-final-backup`))).toMatchObject({
      action: 'failed',
    });
    expect((await vw(['backup', '--ttl', '720h', '--retry-failed'], { kubeconfig })).exitCode).toBe(0);
  }, 600_000);

  it('with nothing changed, the re-check lets the delete through, by uid, and the record names that uid', async () => {
    await registeredCluster();
    await stepsOneAndTwo();
    const uid = (await seen.get('clusters', system, cluster))?.metadata.uid;
    const r = await vw(['decommission', '--yes'], { kubeconfig });
    expect(r.exitCode).toBe(0);
    expect(await seen.get('clusters', system, cluster)).toBeUndefined();
    const record = await seen.configMap('kube-system', 'kubectl-vw-decommission');
    expect(record?.data).toMatchObject({ cluster, clusterUID: uid, outcome: 'revoked' });
  }, 600_000);
});
