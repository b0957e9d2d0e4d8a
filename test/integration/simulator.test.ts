import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../../lib/kube/client';
import { clusterFinalizer, pauseAnnotation, resources, veleroNamespace } from '../../lib/operator/names';
import { type FakeOdoo, startFakeOdoo } from '../support/fake-odoo';
import { adminKubeconfig, createTestNamespace, deleteNamespace, kubectl, kubectlOk } from '../support/kube-env';
import { cleanupSeeded, clientFor, ensureVeleroLocation, seedApps } from '../support/sandbox';
import { SimOperator, snapshotDriver, veleroBackupName } from '../support/sim-operator';

// The simulated operator is what every plugin test runs against, so each behaviour operator-api.md
// gives the operator is proven here, observed through the real kubectl rather than our own client.

interface Condition {
  type: string;
  status: string;
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}
interface Obj {
  metadata: {
    name: string;
    resourceVersion: string;
    generation?: number;
    finalizers?: string[];
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    labels?: Record<string, string>;
  };
  spec: Record<string, any>;
  status?: Record<string, any> & { conditions?: Condition[] };
}

const getJson = async (args: string[]): Promise<Obj> => JSON.parse(await kubectlOk(['get', ...args, '-o', 'json']));
const tryGet = async (args: string[]): Promise<Obj | undefined> => {
  const r = await kubectl(['get', ...args, '-o', 'json']);
  if (r.exitCode !== 0) {
    if (/NotFound|not found/.test(r.stderr)) return undefined;
    throw new Error(r.stderr);
  }
  return JSON.parse(r.stdout);
};
const condition = (o: Obj | undefined, type: string) => o?.status?.conditions?.find((c) => c.type === type);

/** Tests may poll (the operator may not): kubectl get until `ok` holds, or fail with the last object seen. */
async function until(
  args: string[],
  ok: (o: Obj | undefined) => boolean,
  what: string,
  timeoutMs = 30_000,
): Promise<Obj | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: Obj | undefined;
  for (;;) {
    last = await tryGet(args);
    if (ok(last)) return last;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; last seen: ${JSON.stringify(last?.status ?? last)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const waitFor = async (args: string[], jsonpath: string, timeout = '30s') => {
  await kubectlOk(['wait', ...args, `--for=jsonpath=${jsonpath}`, `--timeout=${timeout}`], { timeoutMs: 60_000 });
};

const unavailable = '{.status.conditions[?(@.type=="Available")].status}=False';

const finalBackup = (
  ns: string,
  app: string,
  name: string,
  storageLocation: string,
  snapshotVolumes = true,
  ttl = '8760h',
) => ({
  apiVersion: 'ops.vworkspace.io/v1alpha1',
  kind: 'Operation',
  metadata: { name, namespace: ns },
  spec: {
    targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: app },
    type: 'Backup',
    engine: 'velero',
    parameters: { storageLocation, snapshotVolumes, csiSnapshotClassName: 'csi-rbd', ttl },
  },
});

describe('simulated operator', () => {
  let kubeconfig: string;
  let client: KubeClient;
  let odoo: FakeOdoo;
  let appsNs: string;
  let opsNs: string;
  let systemNs: string;
  let sim: SimOperator;
  // A location of this file's own: other files may make the shared one Unavailable.
  const location = `sim-test-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    client = clientFor(kubeconfig);
    [odoo, appsNs, opsNs, systemNs] = await Promise.all([
      startFakeOdoo(),
      createTestNamespace('sim-apps'),
      createTestNamespace('sim-ops'),
      createTestNamespace('sim-system'),
    ]);
    await ensureVeleroLocation(client, { name: location });
    await seedApps(client, appsNs, 3, { prefix: 'app', volumes: 0, notBackupCapableEvery: 0 });
    await seedApps(client, opsNs, 5, { prefix: 'svc', notBackupCapableEvery: 5 });
    sim = new SimOperator({
      kubeconfig,
      namespaces: [appsNs, opsNs, systemNs],
      clusterNamespace: systemNs,
      odooUrl: odoo.url,
      decommissionBackoff: { initialMs: 200, maxMs: 1_000 },
    });
    await sim.start();
  });

  afterAll(async () => {
    try {
      await sim?.stop();
      // Clusters keep their namespace Terminating until their finalizer goes: clear what is left.
      for (const c of (await client.list(resources.clusters, { namespace: systemNs })).items) {
        await client
          .mergePatch(resources.clusters, c.metadata.name, systemNs, { metadata: { finalizers: null } })
          .catch(() => undefined);
      }
      await Promise.all([appsNs, opsNs].map((ns) => cleanupSeeded(client, ns)));
      await client.delete(resources.backupStorageLocations, location, veleroNamespace).catch(() => undefined);
      await Promise.all([appsNs, opsNs, systemNs].filter(Boolean).map((ns) => deleteNamespace(ns, { wait: true })));
    } finally {
      await odoo?.stop();
      client?.close();
    }
  });

  describe('ApplicationInstance', () => {
    test('keeps a HelmRelease of the same name in step, owned by the instance', async () => {
      const hr = await until(['helmrelease', 'app-1', '-n', appsNs], Boolean, 'HelmRelease app-1');
      const ai = await getJson(['applicationinstance', 'app-1', '-n', appsNs]);
      expect(ai.status?.helmReleaseRef).toEqual({ name: 'app-1' });
      expect(hr?.spec.chart.spec).toMatchObject({
        chart: ai.spec.catalogRef.name,
        version: ai.spec.catalogRef.version,
      });
      expect(hr?.spec.values).toEqual(ai.spec.values);
      expect(hr?.spec.interval).toBeTruthy();
      expect(hr?.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ApplicationInstance', name: 'app-1', controller: true }),
      ]);
      // Never paused: no Suspended condition at all.
      expect(condition(ai, 'Suspended')).toBeUndefined();
    });

    test('pause annotation → Suspended True/ReconcilePaused; removal → False/ReconcileResumed', async () => {
      await kubectlOk([
        'annotate',
        'applicationinstance',
        'app-1',
        '-n',
        appsNs,
        `${pauseAnnotation}=disabled`,
        '--overwrite',
      ]);
      await waitFor(
        ['applicationinstance/app-1', '-n', appsNs],
        '{.status.conditions[?(@.type=="Suspended")].reason}=ReconcilePaused',
      );
      const paused = await getJson(['applicationinstance', 'app-1', '-n', appsNs]);
      const c = condition(paused, 'Suspended');
      expect(c).toMatchObject({
        status: 'True',
        reason: 'ReconcilePaused',
        observedGeneration: paused.metadata.generation,
      });
      expect(Date.parse(c?.lastTransitionTime ?? '')).not.toBeNaN();
      expect(c?.message).toBeTruthy();
      // Once Suspended=True is reported, the HelmRelease no longer depends on the instance.
      expect((await getJson(['helmrelease', 'app-1', '-n', appsNs])).metadata.ownerReferences ?? []).toEqual([]);

      await kubectlOk(['annotate', 'applicationinstance', 'app-1', '-n', appsNs, `${pauseAnnotation}-`]);
      await waitFor(
        ['applicationinstance/app-1', '-n', appsNs],
        '{.status.conditions[?(@.type=="Suspended")].reason}=ReconcileResumed',
      );
      const resumed = condition(await getJson(['applicationinstance', 'app-1', '-n', appsNs]), 'Suspended');
      expect(resumed).toMatchObject({ status: 'False', reason: 'ReconcileResumed' });
      expect(resumed?.lastTransitionTime).toBeTruthy();
      const hr = await until(
        ['helmrelease', 'app-1', '-n', appsNs],
        (o) => (o?.metadata.ownerReferences ?? []).length === 1,
        'ownerReference back',
      );
      expect(hr?.metadata.ownerReferences?.[0]).toMatchObject({ name: 'app-1', controller: true });
    });

    test('a spec change reaches the HelmRelease of an unpaused instance, not of a paused one', async () => {
      await kubectlOk(['annotate', 'applicationinstance', 'app-2', '-n', appsNs, `${pauseAnnotation}=disabled`]);
      await waitFor(
        ['applicationinstance/app-2', '-n', appsNs],
        '{.status.conditions[?(@.type=="Suspended")].status}=True',
      );
      // Flux's (or the user's) suspend is not the operator's to touch.
      await kubectlOk([
        'patch',
        'helmrelease',
        'app-3',
        '-n',
        appsNs,
        '--type=merge',
        '-p',
        '{"spec":{"suspend":true}}',
      ]);

      await kubectlOk([
        'patch',
        'applicationinstance',
        'app-2',
        '-n',
        appsNs,
        '--type=merge',
        '-p',
        '{"spec":{"values":{"replicas":5}}}',
      ]);
      await kubectlOk([
        'patch',
        'applicationinstance',
        'app-3',
        '-n',
        appsNs,
        '--type=merge',
        '-p',
        '{"spec":{"catalogRef":{"version":"9.9.9"},"values":{"replicas":3}}}',
      ]);
      const hr3 = await until(
        ['helmrelease', 'app-3', '-n', appsNs],
        (o) => o?.spec.chart.spec.version === '9.9.9',
        'app-3 version 9.9.9',
      );
      expect(hr3?.spec.values.replicas).toBe(3);
      expect(hr3?.spec.suspend).toBe(true);
      // app-2's change was written before app-3's, so the sim has seen it by now.
      await sim.idle();
      const hr2 = await getJson(['helmrelease', 'app-2', '-n', appsNs]);
      expect(hr2.spec.values.replicas).toBe(1);
    });

    test('deleting a paused instance keeps its HelmRelease; deleting an unpaused one lets GC remove it', async () => {
      await until(
        ['applicationinstance', 'app-2', '-n', appsNs],
        (o) => condition(o, 'Suspended')?.status === 'True',
        'app-2 paused',
      );
      await kubectlOk(['delete', 'applicationinstance', 'app-2', 'app-3', '-n', appsNs, '--wait=true']);
      await kubectlOk(['wait', '--for=delete', 'helmrelease/app-3', '-n', appsNs, '--timeout=60s'], {
        timeoutMs: 70_000,
      });
      const kept = await getJson(['helmrelease', 'app-2', '-n', appsNs]);
      expect(kept.spec.values.replicas).toBe(1);
    });
  });

  describe('Operation (Backup)', () => {
    test('Pending → Running → Succeeded, with a Completed Velero Backup in backupRef and retained CSI snapshots', async () => {
      sim.setFaults({ phaseDelayMs: 300 });
      // Every state the Operation passes through, as kubectl's own watch sees it.
      const watch = kubectl(
        [
          'get',
          'operations',
          '-n',
          opsNs,
          '--field-selector',
          'metadata.name=svc-1-final-backup',
          '-w',
          '-o',
          'jsonpath={.status.phase}{"\\n"}',
          '--request-timeout=5s',
        ],
        { timeoutMs: 30_000 },
      );
      await new Promise((r) => setTimeout(r, 500));
      try {
        await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-1', 'svc-1-final-backup', location) });
        await waitFor(['operation/svc-1-final-backup', '-n', opsNs], '{.status.phase}=Succeeded');
      } finally {
        sim.setFaults({ phaseDelayMs: 0 });
      }
      const op = await getJson(['operation', 'svc-1-final-backup', '-n', opsNs]);
      expect(op.status).toMatchObject({
        phase: 'Succeeded',
        backupRef: { namespace: veleroNamespace, name: veleroBackupName(opsNs, 'svc-1-final-backup') },
      });
      expect(Date.parse(op.status?.startTime)).toBeLessThanOrEqual(Date.parse(op.status?.completionTime));

      const backup = await getJson(['backups.velero.io', op.status?.backupRef.name, '-n', veleroNamespace]);
      expect(backup.spec).toMatchObject({
        storageLocation: location,
        ttl: '8760h',
        snapshotVolumes: true,
        includedNamespaces: [opsNs],
      });
      expect(backup.status?.phase).toBe('Completed');
      const year = Date.parse(backup.status?.expiration) - Date.now();
      expect(year).toBeGreaterThan(364 * 24 * 3600_000);
      expect(year).toBeLessThan(366 * 24 * 3600_000);
      expect(backup.status?.completionTimestamp).toBeTruthy();

      // svc-1 was seeded with 2 PVCs: both have a retained VolumeSnapshotContent.
      const list = JSON.parse(
        await kubectlOk([
          'get',
          'volumesnapshotcontents',
          '-l',
          `velero.io/backup-name=${backup.metadata.name}`,
          '-o',
          'json',
        ]),
      ) as { items: Obj[] };
      expect(list.items).toHaveLength(2);
      for (const vsc of list.items) {
        expect(vsc.spec).toMatchObject({
          deletionPolicy: 'Retain',
          driver: snapshotDriver,
          volumeSnapshotClassName: 'csi-rbd',
          volumeSnapshotRef: { namespace: opsNs },
        });
        expect(vsc.spec.source.snapshotHandle).toBeTruthy();
        expect(vsc.status).toMatchObject({ readyToUse: true });
      }

      const phases = (await watch).stdout.split('\n').filter(Boolean);
      const order = ['Pending', 'Running', 'Succeeded'].map((p) => phases.indexOf(p));
      expect(order.every((i) => i >= 0)).toBe(true);
      expect(order).toEqual([...order].sort((a, b) => a - b));
    });

    test('a finished Operation is never run again', async () => {
      const before = await getJson(['operation', 'svc-1-final-backup', '-n', opsNs]);
      sim.kick();
      await sim.idle();
      await sim.restart();
      await sim.idle();
      const after = await getJson(['operation', 'svc-1-final-backup', '-n', opsNs]);
      expect(after.metadata.resourceVersion).toBe(before.metadata.resourceVersion);
    });

    test('an application without backup capability fails with BackupNotSupported', async () => {
      await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-5', 'svc-5-final-backup', location) });
      await waitFor(['operation/svc-5-final-backup', '-n', opsNs], '{.status.phase}=Failed');
      const op = await getJson(['operation', 'svc-5-final-backup', '-n', opsNs]);
      expect(op.status).toMatchObject({ phase: 'Failed', reason: 'BackupNotSupported' });
      expect(op.status?.backupRef).toBeUndefined();
    });

    test('a missing target fails with TargetNotFound', async () => {
      await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'nope', 'nope-final-backup', location) });
      await waitFor(['operation/nope-final-backup', '-n', opsNs], '{.status.reason}=TargetNotFound');
    });

    test('injected failures end Failed with their reason and a Failed or PartiallyFailed Velero Backup', async () => {
      sim.faults.failBackups.set('svc-2', 'VeleroBackupFailed');
      sim.faults.failBackups.set(`${opsNs}/svc-3`, { reason: 'VolumeSnapshotFailed', veleroPhase: 'PartiallyFailed' });
      try {
        await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-2', 'svc-2-final-backup', location) });
        await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-3', 'svc-3-final-backup', location) });
        await waitFor(['operation/svc-2-final-backup', '-n', opsNs], '{.status.phase}=Failed');
        await waitFor(['operation/svc-3-final-backup', '-n', opsNs], '{.status.phase}=Failed');
      } finally {
        sim.faults.failBackups.clear();
      }
      const op2 = await getJson(['operation', 'svc-2-final-backup', '-n', opsNs]);
      const op3 = await getJson(['operation', 'svc-3-final-backup', '-n', opsNs]);
      expect(op2.status?.reason).toBe('VeleroBackupFailed');
      expect(op3.status?.reason).toBe('VolumeSnapshotFailed');
      const b2 = await getJson(['backups.velero.io', op2.status?.backupRef.name, '-n', veleroNamespace]);
      const b3 = await getJson(['backups.velero.io', op3.status?.backupRef.name, '-n', veleroNamespace]);
      expect(b2.status?.phase).toBe('Failed');
      expect(b3.status?.phase).toBe('PartiallyFailed');
    });

    test('a hung backup stays Running until the fault is lifted', async () => {
      sim.setFaults({ hangBackups: new Set(['svc-4']) });
      try {
        await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-4', 'svc-4-final-backup', location) });
        await waitFor(['operation/svc-4-final-backup', '-n', opsNs], '{.status.phase}=Running');
        await new Promise((r) => setTimeout(r, 1_500));
        const op = await getJson(['operation', 'svc-4-final-backup', '-n', opsNs]);
        expect(op.status?.phase).toBe('Running');
        const backup = await getJson([
          'backups.velero.io',
          veleroBackupName(opsNs, 'svc-4-final-backup'),
          '-n',
          veleroNamespace,
        ]);
        expect(backup.status?.phase).toBe('InProgress');
      } finally {
        sim.setFaults({ hangBackups: new Set() });
      }
      await waitFor(['operation/svc-4-final-backup', '-n', opsNs], '{.status.phase}=Succeeded');
      const backup = await getJson([
        'backups.velero.io',
        veleroBackupName(opsNs, 'svc-4-final-backup'),
        '-n',
        veleroNamespace,
      ]);
      expect(backup.status?.phase).toBe('Completed');
    });

    test('a missing BackupStorageLocation fails validation, as Velero does', async () => {
      await kubectlOk(['apply', '-f', '-'], {
        input: finalBackup(opsNs, 'svc-1', 'svc-1-nowhere', 'no-such-location'),
      });
      await waitFor(['operation/svc-1-nowhere', '-n', opsNs], '{.status.phase}=Failed');
      const op = await getJson(['operation', 'svc-1-nowhere', '-n', opsNs]);
      expect(op.status?.reason).toBe('BackupFailedValidation');
      const backup = await getJson(['backups.velero.io', op.status?.backupRef.name, '-n', veleroNamespace]);
      expect(backup.status?.phase).toBe('FailedValidation');
    });
  });

  describe('Cluster', () => {
    const createCluster = (name: string) =>
      kubectlOk(['apply', '-f', '-'], {
        input: {
          apiVersion: 'ops.vworkspace.io/v1alpha1',
          kind: 'Cluster',
          metadata: { name, namespace: systemNs },
          spec: { odoo: { url: odoo.url } },
        },
      });
    const registered = (name: string) =>
      until(
        ['cluster', name, '-n', systemNs],
        (o) =>
          !!o?.metadata.finalizers?.includes(clusterFinalizer) &&
          !!o.status?.clusterID &&
          condition(o, 'OdooReachable')?.status === 'True',
        `cluster ${name} registered`,
      ) as Promise<Obj>;

    test('registers: finalizer, clusterID, Registered and OdooReachable', async () => {
      await createCluster('cluster-a');
      const c = await registered('cluster-a');
      expect(c.metadata.finalizers).toEqual([clusterFinalizer]);
      expect(c.status?.clusterID).toMatch(/^[0-9a-f-]{36}$/);
      expect(condition(c, 'Registered')).toMatchObject({ status: 'True' });
      expect(odoo.calls.some((x) => x.path === '/api/agent/health')).toBe(true);
    });

    test('deletion with Odoo up: one decommission call with the clusterID, then the Cluster is gone', async () => {
      const id = (await registered('cluster-a')).status?.clusterID;
      const before = odoo.decommissionCalls().length;
      await kubectlOk(['delete', 'cluster', 'cluster-a', '-n', systemNs, '--wait=true', '--timeout=30s'], {
        timeoutMs: 40_000,
      });
      expect(await tryGet(['cluster', 'cluster-a', '-n', systemNs])).toBeUndefined();
      const calls = odoo.decommissionCalls().slice(before);
      expect(calls).toHaveLength(1);
      expect(calls[0]?.body).toEqual({ clusterID: id });
      expect(odoo.decommissioned()).toContain(id);
    });

    test('Odoo down keeps the finalizer (Decommissioning False/OdooUnreachable); Odoo back drains it', async () => {
      await createCluster('cluster-b');
      const id = (await registered('cluster-b')).status?.clusterID as string;
      await odoo.setMode('down');
      try {
        await kubectlOk(['delete', 'cluster', 'cluster-b', '-n', systemNs, '--wait=false']);
        const stuck = await until(
          ['cluster', 'cluster-b', '-n', systemNs],
          (o) => condition(o, 'Decommissioning')?.reason === 'OdooUnreachable',
          'Decommissioning=False/OdooUnreachable',
        );
        expect(condition(stuck, 'Decommissioning')).toMatchObject({
          status: 'False',
          message: expect.stringMatching(/ECONNREFUSED/),
        });
        expect(condition(stuck, 'OdooReachable')?.status).toBe('False');
        expect(stuck?.metadata.finalizers).toContain(clusterFinalizer);
        // Retried with backoff, and still blocked a while later.
        await new Promise((r) => setTimeout(r, 1_500));
        expect((await getJson(['cluster', 'cluster-b', '-n', systemNs])).metadata.finalizers).toContain(
          clusterFinalizer,
        );

        // 503s are as good as down.
        await odoo.setMode('failing');
        await until(
          ['cluster', 'cluster-b', '-n', systemNs],
          (o) => /503/.test(condition(o, 'Decommissioning')?.message ?? ''),
          '503 reported',
        );
        expect(odoo.decommissioned()).not.toContain(id);
      } finally {
        await odoo.setMode('up');
      }
      await kubectlOk(['wait', '--for=delete', 'cluster/cluster-b', '-n', systemNs, '--timeout=30s'], {
        timeoutMs: 40_000,
      });
      expect(odoo.decommissioned()).toContain(id);
    });

    test('the operator Deployment shows the sim running, stopped, and back', async () => {
      await kubectlOk([
        'create',
        'deployment',
        'vworkspace-operator',
        '-n',
        systemNs,
        '--image=vworkspace/operator:test',
      ]);
      await waitFor(['deployment/vworkspace-operator', '-n', systemNs], '{.status.availableReplicas}=1');
      await waitFor(
        ['deployment/vworkspace-operator', '-n', systemNs],
        '{.status.conditions[?(@.type=="Available")].status}=True',
      );
      await sim.stop();
      try {
        // availableReplicas 0 is omitted from a Deployment's status (omitempty): read the condition.
        await waitFor(['deployment/vworkspace-operator', '-n', systemNs], unavailable);
        expect(
          (await getJson(['deployment', 'vworkspace-operator', '-n', systemNs])).status?.availableReplicas ?? 0,
        ).toBe(0);
      } finally {
        await sim.start();
      }
      await waitFor(['deployment/vworkspace-operator', '-n', systemNs], '{.status.availableReplicas}=1');
    });

    test('helm uninstall (the Deployment going) stops the operator; reinstalling brings it back', async () => {
      await waitFor(['deployment/vworkspace-operator', '-n', systemNs], '{.status.availableReplicas}=1');
      await kubectlOk(['delete', 'deployment', 'vworkspace-operator', '-n', systemNs, '--wait=true']);
      await until(['deployment', 'vworkspace-operator', '-n', systemNs], (o) => o === undefined, 'deployment gone');
      await new Promise((r) => setTimeout(r, 300));
      expect(sim.reconciling).toBe(false);
      await seedApps(client, appsNs, 1, { prefix: 'late', volumes: 0 });
      await new Promise((r) => setTimeout(r, 1_000));
      expect(await tryGet(['helmrelease', 'late-1', '-n', appsNs])).toBeUndefined();
      await kubectlOk([
        'create',
        'deployment',
        'vworkspace-operator',
        '-n',
        systemNs,
        '--image=vworkspace/operator:test',
      ]);
      await until(['helmrelease', 'late-1', '-n', appsNs], Boolean, 'HelmRelease late-1 after reinstall');
      await waitFor(['deployment/vworkspace-operator', '-n', systemNs], '{.status.availableReplicas}=1');
    });
  });

  describe("volumes (the PV controller's part)", () => {
    test('a deleted claim releases a Retain PV and deletes a Delete PV', async () => {
      const [app] = await seedApps(client, opsNs, 1, { prefix: 'vol', startIndex: 3, volumes: 2 });
      const volumes = app?.volumes ?? [];
      expect(volumes.map((v) => v.reclaimPolicy).sort()).toEqual(['Delete', 'Retain']);
      for (const v of volumes) {
        const pv = await getJson(['pv', v.pv]);
        expect(pv.status?.phase).toBe('Bound');
        expect(pv.spec.claimRef).toMatchObject({ namespace: opsNs, name: v.pvc });
        expect((await getJson(['pvc', v.pvc, '-n', opsNs])).spec.volumeName).toBe(v.pv);
      }
      await kubectlOk(['delete', 'pvc', ...volumes.map((v) => v.pvc), '-n', opsNs, '--wait=true', '--timeout=30s'], {
        timeoutMs: 40_000,
      });
      const retained = volumes.find((v) => v.reclaimPolicy === 'Retain')?.pv as string;
      const deleted = volumes.find((v) => v.reclaimPolicy === 'Delete')?.pv as string;
      await waitFor([`pv/${retained}`], '{.status.phase}=Released');
      await kubectlOk(['wait', '--for=delete', `pv/${deleted}`, '--timeout=30s'], { timeoutMs: 40_000 });
    });
  });

  describe('crash and restart', () => {
    test('work created while the operator is down is done after it restarts', async () => {
      await sim.crash();
      try {
        await waitFor(['deployment/vworkspace-operator', '-n', systemNs], unavailable);
        await kubectlOk(['apply', '-f', '-'], { input: finalBackup(opsNs, 'svc-2', 'svc-2-after-crash', location) });
        await kubectlOk([
          'annotate',
          'applicationinstance',
          'app-1',
          '-n',
          appsNs,
          `${pauseAnnotation}=disabled`,
          '--overwrite',
        ]);
        await new Promise((r) => setTimeout(r, 1_000));
        expect((await getJson(['operation', 'svc-2-after-crash', '-n', opsNs])).status?.phase).toBeUndefined();
        expect(condition(await getJson(['applicationinstance', 'app-1', '-n', appsNs]), 'Suspended')?.status).toBe(
          'False',
        );
      } finally {
        await sim.restart();
      }
      await waitFor(['operation/svc-2-after-crash', '-n', opsNs], '{.status.phase}=Succeeded');
      await waitFor(
        ['applicationinstance/app-1', '-n', appsNs],
        '{.status.conditions[?(@.type=="Suspended")].reason}=ReconcilePaused',
      );
      await waitFor(['deployment/vworkspace-operator', '-n', systemNs], '{.status.availableReplicas}=1');
    });
  });
});
