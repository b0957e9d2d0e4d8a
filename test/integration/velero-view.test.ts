import { join } from 'node:path';
import { kubectl, kubectlOk, toolsBinDir } from '../support/kube-env';
import { seedSandbox, startWorld, type World } from '../support/sandbox';
import { unwrapped, vw } from '../helpers/plugins';

// One view of Velero: backup, status, the gates and uninstall survey Velero's Backups in the
// namespace Velero runs in (--velero-namespace) and wherever the Operations' backupRefs point.
// Here Velero runs in a namespace of its own choosing, and `velero` does not exist. A Completed
// backup whose BackupStorageLocation is gone does not count and is named; one whose location is
// Unavailable counts, and the gate says so. A world of its own (uninstall runs to the end).

const veleroNs = 'backup-system';
const location = 'aws-primary';

describe('one view of Velero', () => {
  let world: World;
  let kubeconfig: string;
  let apps: string[];
  let ns: string;
  const helm = () => join(toolsBinDir(), 'helm');

  const setLocation = async (phase?: 'Available' | 'Unavailable') => {
    if (!phase) {
      await kubectlOk(['delete', 'backupstoragelocations.velero.io', '-n', veleroNs, location], { kubeconfig });
      return;
    }
    await kubectlOk(['apply', '-f', '-'], {
      kubeconfig,
      input: {
        apiVersion: 'velero.io/v1',
        kind: 'BackupStorageLocation',
        metadata: { name: location, namespace: veleroNs },
        spec: { provider: 'aws', default: true, objectStorage: { bucket: 'vw-backups', prefix: 'elsewhere' } },
      },
    });
    // Velero's CRD has no status subresource: status is written with the object.
    await kubectlOk(
      [
        'patch',
        'backupstoragelocations.velero.io',
        '-n',
        veleroNs,
        location,
        '--type=merge',
        '-p',
        JSON.stringify({ status: { phase } }),
      ],
      { kubeconfig },
    );
  };

  beforeAll(async () => {
    // The simulated Velero: this test writes BackupStorageLocations' status by hand, and Velero's
    // namespace is one the real server was not started in.
    world = await startWorld({
      velero: 'simulated',
      sim: { latency: 'fast', veleroNamespace: veleroNs },
      faultsConfigMap: false,
    });
    kubeconfig = world.kubeconfig;
    const seeded = await seedSandbox(kubeconfig, {
      apps: 3,
      namespaces: 1,
      notBackupCapableEvery: 0,
      helmBin: helm(),
      odooUrl: world.odoo.url,
      faultsConfigMap: false,
    });
    ns = seeded.namespaces[0] as string;
    apps = seeded.apps.map((a) => a.name);
    await kubectlOk(['delete', 'namespace', 'velero', '--wait=true'], { kubeconfig });
    await kubectlOk(['create', 'namespace', veleroNs], { kubeconfig });
    await setLocation('Available');
    expect((await vw(['pause', '--all', '--timeout', '60s'], { kubeconfig })).exitCode).toBe(0);
    const r = await vw(['backup', '--all', '--ttl', '8760h', '--velero-namespace', veleroNs, '--timeout', '120s'], {
      kubeconfig,
    });
    expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
  }, 240_000);

  afterAll(async () => {
    await world?.stop();
  });

  const step2 = async (...flags: string[]) => {
    const s = JSON.parse((await vw(['status', '-o', 'json', ...flags], { kubeconfig })).stdout);
    return { state: s.steps[1].state as string, evidence: (s.steps[1].evidence as string[]).join(' ') };
  };
  const gate = async (...flags: string[]) =>
    unwrapped((await vw(['decommission', '--dry-run=client', '--force-preflight', ...flags], { kubeconfig })).stderr);

  it('status and the gate agree wherever Velero runs: step 2 is done', async () => {
    expect((await step2()).state).toBe('done');
    expect((await step2('--velero-namespace', veleroNs)).state).toBe('done');
    expect(await gate()).toMatch(/ok +final backups: 3 applications: 3 count/);
  });

  it('a location Unavailable: the backups count, and the gate and status warn, naming them', async () => {
    await setLocation('Unavailable');
    try {
      const g = await gate('--velero-namespace', veleroNs);
      expect(g).toMatch(/ok +final backups: 3 applications: 3 count/);
      expect(g).toMatch(
        new RegExp(
          `warning: 3 final backups on a BackupStorageLocation that is Unavailable .*${ns}/${apps[0]} \\(its BackupStorageLocation ${veleroNs}/${location} is Unavailable\\)`,
        ),
      );
      const s = await step2('--velero-namespace', veleroNs);
      expect(s.state).toBe('done');
      expect(s.evidence).toMatch(/warning: 3 final backups on an Unavailable BackupStorageLocation/);
    } finally {
      await setLocation('Available');
    }
  });

  it('a location gone: the backups do not count, each named, in the gate, status and the report', async () => {
    await setLocation();
    try {
      const g = await gate('--velero-namespace', veleroNs);
      expect(g).toMatch(/NO +final backups: 3 of 3 applications have no final backup that counts/);
      expect(g).toMatch(
        new RegExp(
          `${ns}/${apps[1]} \\(Velero backup Completed, but its BackupStorageLocation ${veleroNs}/${location} is gone`,
        ),
      );
      const s = await step2('--velero-namespace', veleroNs);
      expect(s.state).not.toBe('done');
      expect(s.evidence).toMatch(/3 storage location gone/);
      const report = JSON.parse(
        (await vw(['purge', '--report', '--velero-namespace', veleroNs, '-o', 'json'], { kubeconfig })).stdout,
      );
      expect(report.persists.backupsWithoutLocation).toHaveLength(3);
      const row = report.persists.rows.find((x: { id: string }) => x.id === 'velero-backups');
      expect(row.facts.join(' ')).toMatch(/3 backups whose BackupStorageLocation is gone/);
    } finally {
      await setLocation('Available');
    }
  });

  it('uninstall takes --velero-namespace: it sees step 2 done, and runs to the end', async () => {
    const r = await vw(
      ['uninstall', '--ttl', '8760h', '--velero-namespace', veleroNs, '--yes', '--helm', helm(), '--timeout', '120s'],
      { kubeconfig },
    );
    expect({ code: r.exitCode, stderr: r.exitCode ? r.stderr : '' }).toEqual({ code: 0, stderr: '' });
    expect(r.stderr).not.toMatch(/== Step 2/);
    const ops = await kubectl(['get', 'operations.ops.vworkspace.io', '-A', '-o', 'name'], { kubeconfig });
    expect(ops.stdout.trim().split('\n')).toHaveLength(3); // no backup taken again
  });
});
