import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { distBin, eventually, unwrapped, vw } from '../helpers/plugins';
import { apiVersionOf, kinds } from '../support/contract';
import type { Kube, KubeObject } from '../support/kube';
import { upstream } from '../support/kinds';
import {
  clientFor,
  ensureCluster,
  ensureNamespace,
  ensureStorageClasses,
  seedApps,
  startWorld,
  type World,
} from '../support/sandbox';
import type { RealVelero } from '../support/velero';

// The product's reading of Velero, against the real one: velero server (v1.18) out of cluster on a
// control plane of this file's own, writing to an S3-compatible store, with the real CSI
// snapshot-controller beside it. The simulator plays only the operator (it makes the Velero Backup
// of each Operation) and the storage driver (it takes the CSI snapshots, or, as a fault, never
// does). Each test has a namespace of its own; Velero runs its backups one at a time.

/** The file names in a tar archive (ustar: a 512-byte header per entry, the name in its first 100 bytes). */
function tarNames(tar: Buffer): string[] {
  const names: string[] = [];
  for (let at = 0; at + 512 <= tar.length; ) {
    const name = tar
      .subarray(at, at + 100)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    if (!name) break;
    const size = Number.parseInt(
      tar
        .subarray(at + 124, at + 136)
        .toString('utf8')
        .replace(/\0.*$/s, '')
        .trim() || '0',
      8,
    );
    const prefix = tar
      .subarray(at + 345, at + 500)
      .toString('utf8')
      .replace(/\0.*$/s, '');
    names.push(prefix ? `${prefix}/${name}` : name);
    at += 512 + Math.ceil(size / 512) * 512;
  }
  return names;
}

interface VeleroStatus {
  phase?: string;
  expiration?: string;
  formatVersion?: string;
  version?: number;
  progress?: { totalItems?: number; itemsBackedUp?: number };
  csiVolumeSnapshotsAttempted?: number;
  csiVolumeSnapshotsCompleted?: number;
  validationErrors?: string[];
}

describe('the product against the real Velero', () => {
  let world: World;
  let velero: RealVelero;
  let kube: Kube;
  let kubeconfig: string;

  beforeAll(async () => {
    world = await startWorld({
      // Garbage collection (hourly) and backup sync (checked every minute) at Velero's own pace:
      // both run when the server starts, so a test that needs one now restarts the server. Sync
      // runs then only if its period has passed since the location's lastSyncedTime: 1s here.
      velero: { backupSyncPeriod: '1s' },
      sim: { latency: 'fast' },
      faultsConfigMap: false,
    });
    velero = world.velero as RealVelero;
    kubeconfig = world.kubeconfig;
    kube = clientFor(kubeconfig);
    // The StorageClass, the VolumeSnapshotClass Velero picks for its driver, and a Cluster CR (the
    // gate is decommission's preflight).
    await ensureStorageClasses(kube);
    await ensureCluster(kube, { odooUrl: world.odoo.url });
  }, 240_000);

  afterAll(async () => {
    kube?.close();
    await world?.stop();
  });

  /** An application (paused: step 1 done) with one volume, in a namespace of its own. */
  const app = async (namespace: string, opts: { count?: number; volumeSource?: 'csi' | 'hostPath' } = {}) => {
    await ensureNamespace(kube, namespace);
    const apps = await seedApps(kube, namespace, opts.count ?? 1, {
      prefix: namespace,
      paused: true,
      volumes: 1,
      notBackupCapableEvery: 0,
      volumeSource: opts.volumeSource,
    });
    for (const a of apps)
      await eventually(
        async () =>
          (
            (await kube.find(kinds.applicationInstances, a.name, namespace))?.status as {
              conditions?: { type: string; status: string }[];
            }
          )?.conditions?.some((c) => c.type === 'Suspended' && c.status === 'True'),
        30_000,
        `${a.name} paused`,
      );
    return apps.map((a) => a.name);
  };
  const restart = async () => {
    await velero.stopServer();
    await velero.startServer();
  };
  const backup = (args: string[]) => vw(['backup', '--ttl', '8760h', '-o', 'json', ...args], { kubeconfig });
  const itemOf = (r: { stdout: string }) => JSON.parse(r.stdout).items[0];
  const veleroBackup = async (name: string) =>
    kube.find<KubeObject & { status?: VeleroStatus }>(upstream.veleroBackups, name, velero.namespace);
  /** What the gate of decommission (and purge, and uninstall) says of one application. */
  const gate = async (ns: string, name: string, margin = '24h') => {
    const r = await vw(['decommission', '--dry-run=client', '--force-preflight', '--expiry-margin', margin], {
      kubeconfig,
    });
    const text = unwrapped(r.stderr);
    const at = text.indexOf(`${ns}/${name} (`);
    if (at < 0) return 'counts';
    // The reason in the parentheses after the name, which may hold parentheses of its own.
    let depth = 0;
    const from = at + ns.length + name.length + 3;
    for (let i = from - 1; i < text.length; i++) {
      depth += text[i] === '(' ? 1 : text[i] === ')' ? -1 : 0;
      if (depth === 0) return text.slice(from, i);
    }
    return text.slice(from);
  };
  /** The plan's view of one application (a client dry run: nothing is made). */
  const planned = async (ns: string, name: string, margin = '24h') => {
    const r = await vw(
      ['backup', '-n', ns, name, '--ttl', '8760h', '--expiry-margin', margin, '--dry-run=client', '-o', 'json'],
      { kubeconfig },
    );
    return itemOf(r) as { action: string; message?: string };
  };

  it('a Completed backup counts, and the bucket holds it', async () => {
    const [name] = (await app('vt-done')) as [string];
    const r = await backup(['-n', 'vt-done', name, '--timeout', '120s']);
    expect(r.exitCode).toBe(0);
    const item = itemOf(r);
    expect(item).toMatchObject({ outcome: 'counts', safe: true, backup: { phase: 'Completed' } });
    const b = await veleroBackup(item.backup.name);
    // What only a real Velero writes.
    expect(b?.status).toMatchObject({ formatVersion: expect.any(String), version: 1, phase: 'Completed' });
    expect(b?.status?.progress?.itemsBackedUp).toBeGreaterThan(0);
    // The volume went through Velero's CSI path: snapshot-controller, then the driver.
    expect(b?.status?.csiVolumeSnapshotsCompleted).toBe(1);
    const keys = await velero.store.keys(`velero/backups/${item.backup.name}/`);
    expect(keys).toEqual(
      expect.arrayContaining([
        `velero/backups/${item.backup.name}/${item.backup.name}.tar.gz`,
        `velero/backups/${item.backup.name}/velero-backup.json`,
      ]),
    );
    // The backup holds the application's objects: read back from the bucket, as a restore would.
    const tarball = gunzipSync(await velero.store.get(`velero/backups/${item.backup.name}/${item.backup.name}.tar.gz`));
    const entries = tarNames(tarball);
    expect(entries).toEqual(
      expect.arrayContaining([
        `resources/applicationinstances.apps.vworkspace.io/namespaces/vt-done/${name}.json`,
        `resources/persistentvolumeclaims/namespaces/vt-done/${name}-data.json`,
      ]),
    );
    expect(await gate('vt-done', name)).toBe('counts');
  });

  it('a PartiallyFailed backup never counts, even when the Operation says Succeeded', async () => {
    const [name] = (await app('vt-partial')) as [string];
    // The driver never takes this volume's snapshot; Velero gives up after the Backup's
    // csiSnapshotTimeout and ends PartiallyFailed. The operator reads that as done.
    world.sim.setFaults({
      stalledSnapshots: new Set([`vt-partial/${name}`]),
      csiSnapshotTimeout: '5s',
      partialAsSucceeded: true,
    });
    try {
      const r = await backup(['-n', 'vt-partial', name, '--timeout', '120s']);
      expect(r.exitCode).toBe(1);
      const item = itemOf(r);
      expect(item).toMatchObject({ phase: 'Succeeded', outcome: 'velero-failed', safe: false });
      expect(item.backup.phase).toBe('PartiallyFailed');
      expect(item.message).toMatch(/^Velero backup PartiallyFailed \(\d+ errors\)$/);
      expect(await gate('vt-partial', name)).toMatch(/^Velero backup PartiallyFailed/);
    } finally {
      world.sim.setFaults({ stalledSnapshots: new Set(), csiSnapshotTimeout: undefined, partialAsSucceeded: false });
    }
  });

  it('an Unavailable or missing location: FailedValidation, shown and not counted', async () => {
    const [name] = (await app('vt-invalid')) as [string];
    const location = async () =>
      (
        (await kube.find(upstream.backupStorageLocations, velero.location, velero.namespace))?.status as {
          phase?: string;
        }
      )?.phase;
    await velero.store.setMode('deny-all');
    try {
      await eventually(
        async () => (await location()) === 'Unavailable',
        30_000,
        'Velero to find the location Unavailable',
      );
      const r = await backup(['-n', 'vt-invalid', name, '--timeout', '120s']);
      expect(r.exitCode).toBe(1);
      expect(unwrapped(r.stderr)).toMatch(/BackupStorageLocation velero\/aws-primary is Unavailable, not Available/);
      const item = itemOf(r);
      expect(item).toMatchObject({ outcome: 'failed', safe: false, backup: { phase: 'FailedValidation' } });
      expect(item.message).toMatch(/Velero backup FailedValidation: .*aws-primary is in Unavailable status/);
      expect(await gate('vt-invalid', name)).toMatch(/^Operation Failed .*Velero backup FailedValidation/);
    } finally {
      await velero.store.setMode('ok');
      await eventually(async () => (await location()) === 'Available', 30_000, 'the location Available again');
    }
    // A location that does not exist: the procedure's manifest applied by hand names one.
    const op = `${name}-final-backup-2`;
    await kube.create(kinds.operations, {
      apiVersion: apiVersionOf(kinds.operations),
      kind: kinds.operations.kind,
      metadata: { name: op, namespace: 'vt-invalid', labels: { 'ops.vworkspace.io/purpose': 'final-backup' } },
      spec: {
        targetRef: { apiVersion: apiVersionOf(kinds.applicationInstances), kind: 'ApplicationInstance', name },
        type: 'Backup',
        engine: 'velero',
        parameters: { storageLocation: 'aws-secondary', snapshotVolumes: true, ttl: '8760h' },
      },
    });
    const ref = await eventually(
      async () =>
        (
          (await kube.find(kinds.operations, op, 'vt-invalid'))?.status as {
            phase?: string;
            backupRef?: { name: string };
          }
        )?.phase === 'Failed' && (await kube.find(kinds.operations, op, 'vt-invalid')),
      60_000,
      'the Operation to fail',
    );
    const b = await veleroBackup((ref.status as { backupRef: { name: string } }).backupRef.name);
    expect(b?.status?.phase).toBe('FailedValidation');
    expect(b?.status?.validationErrors?.join(' ')).toMatch(/aws-secondary/);
    expect(await gate('vt-invalid', name)).toMatch(/^Operation Failed .*Velero backup FailedValidation: /);
  });

  it('expiry through Velero garbage collection: expired before it runs, missing after', async () => {
    const [name] = (await app('vt-expiry')) as [string];
    const r = await vw(
      [
        'backup',
        '-n',
        'vt-expiry',
        name,
        '--ttl',
        '20s',
        '--allow-short-ttl',
        '--expiry-margin',
        '0s',
        '--timeout',
        '120s',
        '-o',
        'json',
      ],
      { kubeconfig },
    );
    expect(r.exitCode).toBe(0);
    const { backup: ref } = itemOf(r);
    const expiration = Date.parse(ref.expiration);
    await sleep(Math.max(0, expiration - Date.now()) + 1500);
    // Velero collects every hour: the Backup is still there, Completed, and expired.
    expect((await veleroBackup(ref.name))?.status?.phase).toBe('Completed');
    expect(await gate('vt-expiry', name, '0s')).toMatch(/^expired /);
    // A restart lists every Backup, so garbage collection looks at this one now: a
    // DeleteBackupRequest, Deleting, then gone (and its data with it).
    await restart();
    await eventually(async () => !(await veleroBackup(ref.name)), 60_000, 'Velero to collect the expired backup');
    expect(await velero.store.keys(`velero/backups/${ref.name}/`)).toEqual([]);
    expect(await gate('vt-expiry', name, '0s')).toBe('Velero backup missing');
  });

  it('velero backup delete: the gate stops counting the moment the DeleteBackupRequest exists', async () => {
    const [name] = (await app('vt-delete')) as [string];
    const r = await backup(['-n', 'vt-delete', name, '--timeout', '120s']);
    expect(r.exitCode).toBe(0);
    const { backup: ref } = itemOf(r);
    expect(await gate('vt-delete', name)).toBe('counts');
    // With the server stopped, the request waits: the Backup is still Completed, its data whole.
    await velero.stopServer();
    try {
      const d = await velero.cli(['backup', 'delete', ref.name, '--confirm']);
      expect(d.exitCode).toBe(0);
      expect((await veleroBackup(ref.name))?.status?.phase).toBe('Completed');
      expect(await gate('vt-delete', name)).toMatch(/^being deleted: DeleteBackupRequest \S+ \(New\)$/);
      expect((await planned('vt-delete', name)).action).toBe('retake');
    } finally {
      await velero.startServer();
    }
    await eventually(async () => !(await veleroBackup(ref.name)), 60_000, 'Velero to delete the backup');
    expect(await gate('vt-delete', name)).toBe('Velero backup missing');
  });

  it('a Backup deleted with kubectl and re-created by sync is judged by what it is; one whose data is gone is removed', async () => {
    const [name] = (await app('vt-sync')) as [string];
    const r = await backup(['-n', 'vt-sync', name, '--timeout', '120s']);
    expect(r.exitCode).toBe(0);
    const { backup: ref } = itemOf(r);
    const before = await veleroBackup(ref.name);
    await kube.delete(upstream.veleroBackups, ref.name, velero.namespace);
    expect(await gate('vt-sync', name)).toBe('Velero backup missing');
    // Velero's sync puts the record back from the store: a new object (uid), the same backup.
    // It runs when the server starts and then every minute (fixed in v1.18): a restart shows it now.
    await restart();
    const synced = await eventually(
      async () => {
        const b = await veleroBackup(ref.name);
        return b && b.metadata.uid !== before?.metadata.uid && b;
      },
      60_000,
      'Velero sync to re-create the Backup',
    );
    expect(synced.status?.phase).toBe('Completed');
    expect(await gate('vt-sync', name)).toBe('counts');
    // Its data gone from the store: the record says Completed until sync removes it.
    for (const key of await velero.store.keys(`velero/backups/${ref.name}/`)) await velero.store.remove(key);
    await restart();
    await eventually(async () => !(await veleroBackup(ref.name)), 60_000, 'Velero sync to remove the orphan');
    expect(await gate('vt-sync', name)).toBe('Velero backup missing');
  });

  it('Queued backups are shown while waited for; a --timeout that runs out names how many still queue', async () => {
    const names = await app('vt-queue', { count: 4 });
    const [first, second] = names as [string, string];
    // Two snapshots are never taken (within the operator's 10m csiSnapshotTimeout): Velero works
    // on those two backups, as many as it runs at once here, and the others wait their turn.
    world.sim.setFaults({ stalledSnapshots: new Set([`vt-queue/${first}`, `vt-queue/${second}`]) });
    try {
      // On a terminal, as a user watches it: the progress line is redrawn at every change.
      const command = `${join(distBin, 'kubectl-vw')} backup -n vt-queue --all --ttl 8760h --timeout 20s`;
      const r = await execa('script', ['-qefc', command, '/dev/null'], {
        reject: false,
        env: { KUBECONFIG: kubeconfig, NO_COLOR: '1', COLUMNS: '250' },
      });
      expect(r.exitCode).toBe(4);
      // Each redraw (carriage return, erase line) read as a line of its own.
      const err = unwrapped(
        String(r.stdout)
          .split(`\r${String.fromCharCode(27)}[2K`)
          .join('\n'),
      );
      expect(err).toMatch(/Velero: (\w+ \d+ {2})*Queued [123]/);
      const told =
        /some backups did not finish within --timeout \((\d) Velero backups? still queued, (\d) in progress/.exec(err);
      expect(told).not.toBeNull();
      const [queued, inProgress] = [Number(told?.[1]), Number(told?.[2])];
      expect(queued).toBeGreaterThan(0);
      // Every backup not finished is told, the two stalled ones at least: the other two may have
      // been queued ahead of them and finished (Velero's queue follows the order it got them in).
      const timedOut = err.match(/TIMED OUT/g)?.length ?? 0;
      expect(queued + inProgress).toBe(timedOut);
      expect(timedOut).toBeGreaterThanOrEqual(2);
    } finally {
      world.sim.setFaults({ stalledSnapshots: new Set() });
    }
    // Once the driver answers, the same command waits for them, queue and all.
    const again = await vw(['backup', '-n', 'vt-queue', '--all', '--ttl', '8760h', '--timeout', '120s'], {
      kubeconfig,
    });
    expect(again.exitCode).toBe(0);
  });

  it('volumes not captured (0 of N): a Completed backup that snapshotted none of its volumes does not count', async () => {
    // A volume Velero cannot snapshot (not CSI): it skips it without a word and says Completed.
    const [name] = (await app('vt-volumes', { volumeSource: 'hostPath' })) as [string];
    const r = await backup(['-n', 'vt-volumes', name, '--timeout', '120s']);
    expect(r.exitCode).toBe(1);
    const item = itemOf(r);
    expect(item).toMatchObject({ phase: 'Succeeded', outcome: 'volumes-not-captured', safe: false });
    expect(item.backup.phase).toBe('Completed');
    expect(item.message).toMatch(/^volumes not captured \(0 of 1\)/);
    expect((await veleroBackup(item.backup.name))?.status?.csiVolumeSnapshotsAttempted ?? 0).toBe(0);
    expect(await gate('vt-volumes', name)).toMatch(/^volumes not captured \(0 of 1\)/);
  });
});
