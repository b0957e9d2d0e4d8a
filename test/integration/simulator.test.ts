import { afterAll, beforeAll, describe, expect, test } from '@jest/globals';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import yaml from 'js-yaml';
import {
  chartDeployments,
  helm as helmCli,
  installOperatorChart,
  operatorDeploymentName,
  uninstallOperatorChart,
} from '../support/chart';
import {
  bootstrapCredentialLabel,
  bootstrapCredentialLabelValue,
  bootstrapCredentialSecret,
  clusterFinalizer,
  helmReleaseName,
  kinds,
  operatorCrds,
  operatorNamespace,
  pauseAnnotation,
  veleroNamespace,
} from '../support/contract';
import { type FakeOdoo, startFakeOdoo } from '../support/fake-odoo';
import { core, fluxFinalizer, helmOwnership, parseGoDuration, upstream } from '../support/kinds';
import type { KubeObject } from '../support/kube';
import {
  adminKubeconfig,
  createTestNamespace,
  deleteNamespace,
  kubectl,
  kubectlOk,
  toolsBinDir,
} from '../support/kube-env';
import {
  cleanupSeeded,
  clientFor,
  ensureVeleroLocation,
  seedApps,
  seedSandbox,
  startWorld,
  type World,
  type WorldClient,
} from '../support/sandbox';
import { ensureSandboxFaults } from '../support/sandbox-faults';
import { operationNamespaceLabel, SimOperator, snapshotDriver, timingProfiles } from '../support/sim-operator';
import { deleteRequestFor } from '../support/sim-operator/velero';
import { History, until } from '../support/wait';

// The simulated world is what every plugin test runs against, so each behaviour the contract
// gives the operator, and each part Velero, Flux and the kubelet play, is proven here, observed
// through the real kubectl or a watch of our own rather than through the sim.

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
    namespace?: string;
    uid: string;
    resourceVersion: string;
    generation?: number;
    deletionTimestamp?: string;
    finalizers?: string[];
    ownerReferences?: { kind: string; name: string; controller?: boolean }[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    managedFields?: { manager: string; subresource?: string }[];
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
const condition = (o: { status?: { conditions?: Condition[] } } | undefined, type: string) =>
  o?.status?.conditions?.find((c) => c.type === type);

/** kubectl get until `ok` holds, or fail with the last object seen. */
async function getUntil(args: string[], ok: (o: Obj | undefined) => boolean, what: string, timeoutMs = 30_000) {
  let last: Obj | undefined;
  try {
    return await until(
      async () => {
        last = await tryGet(args);
        return ok(last) ? { last } : undefined;
      },
      what,
      { timeoutMs, intervalMs: 200 },
    ).then((r) => r.last);
  } catch {
    throw new Error(
      `timed out waiting for ${what}; last seen: ${JSON.stringify(last?.status ?? last?.metadata ?? last)}`,
    );
  }
}

const waitFor = async (args: string[], jsonpath: string, timeout = '30s') => {
  await kubectlOk(['wait', ...args, `--for=jsonpath=${jsonpath}`, `--timeout=${timeout}`], { timeoutMs: 60_000 });
};
const waitGone = async (args: string[], timeout = '30s') => {
  await kubectlOk(['wait', '--for=delete', ...args, `--timeout=${timeout}`], { timeoutMs: 60_000 });
};

const unavailable = '{.status.conditions[?(@.type=="Available")].status}=False';

const operation = (
  ns: string,
  app: string,
  name: string,
  storageLocation: string,
  opts: { snapshotVolumes?: boolean; ttl?: string; type?: 'Backup' | 'Restore' | 'Upgrade' } = {},
) => ({
  apiVersion: 'ops.vworkspace.io/v1alpha1',
  kind: 'Operation',
  metadata: { name, namespace: ns },
  spec: {
    targetRef: { apiVersion: 'apps.vworkspace.io/v1alpha1', kind: 'ApplicationInstance', name: app },
    type: opts.type ?? 'Backup',
    engine: 'velero',
    parameters: {
      storageLocation,
      snapshotVolumes: opts.snapshotVolumes ?? true,
      csiSnapshotClassName: 'csi-rbd',
      ttl: opts.ttl ?? '8760h',
    },
  },
});

const apply = (obj: object) => kubectlOk(['apply', '-f', '-'], { input: obj });

/** A log sink that tests can wait on. */
function logSink(prefix: string) {
  const lines: string[] = [];
  const log = (line: string) => {
    lines.push(line);
    if (process.env.VW_SIM_LOG === '1') process.stderr.write(`[${prefix}] ${line}\n`);
  };
  const logged = (re: RegExp, what: string, timeoutMs = 30_000) =>
    until(() => lines.find((l) => re.test(l)), what, { timeoutMs });
  return { lines, log, logged };
}

/** etcd revisions: what the API server wrote later has a larger resourceVersion. */
const rv = (o: { metadata: { resourceVersion?: string } }) => Number(o.metadata.resourceVersion);

describe('simulated operator (realistic latency)', () => {
  let kubeconfig: string;
  let kube: WorldClient;
  let odoo: FakeOdoo;
  let appsNs: string;
  let opsNs: string;
  let systemNs: string;
  let sim: SimOperator;
  let backups: History;
  let operations: History;
  const sink = logSink('sim');
  // Locations of this file's own: other files may make the shared one Unavailable.
  const location = `sim-test-${randomBytes(3).toString('hex')}`;
  const offline = `sim-offline-${randomBytes(3).toString('hex')}`;

  beforeAll(async () => {
    kubeconfig = adminKubeconfig();
    kube = clientFor(kubeconfig);
    [odoo, appsNs, opsNs, systemNs] = await Promise.all([
      startFakeOdoo(),
      createTestNamespace('sim-apps'),
      createTestNamespace('sim-ops'),
      createTestNamespace('sim-system'),
    ]);
    await ensureVeleroLocation(kube, { name: location });
    await ensureVeleroLocation(kube, { name: offline, phase: 'Unavailable' });
    await seedApps(kube, appsNs, 3, { prefix: 'app', volumes: 0, notBackupCapableEvery: 0 });
    await seedApps(kube, opsNs, 5, { prefix: 'svc', notBackupCapableEvery: 5 });
    backups = new History(kube, upstream.veleroBackups, {
      namespace: veleroNamespace,
      labelSelector: `${operationNamespaceLabel}=${opsNs}`,
    });
    operations = new History(kube, kinds.operations, { namespace: opsNs });
    await Promise.all([backups.start(), operations.start()]);
    sim = new SimOperator({
      kubeconfig,
      namespaces: [appsNs, opsNs, systemNs],
      clusterNamespace: systemNs,
      odooUrl: odoo.url,
      log: sink.log,
      // Realistic latency (the default), with a small backoff cap and short Odoo timeout.
      timing: { backoff: { baseMs: 100, maxMs: 1_000 } },
      odooTimeoutMs: 1_500,
      healthIntervalMs: 60_000,
    });
    await sim.start();
  });

  afterAll(async () => {
    try {
      await sim?.stop();
      backups?.stop();
      operations?.stop();
      // Clusters keep their namespace Terminating until their finalizers go: clear what is left.
      for (const c of (await kube.list(kinds.clusters, { namespace: systemNs })).items) {
        await kube
          .mergePatch(kinds.clusters, c.metadata.name, systemNs, { metadata: { finalizers: null } })
          .catch(() => undefined);
      }
      await Promise.all([appsNs, opsNs].map((ns) => cleanupSeeded(kube, ns)));
      await kube.deleteIfExists(upstream.backupStorageLocations, location, veleroNamespace).catch(() => undefined);
      await kube.deleteIfExists(upstream.backupStorageLocations, offline, veleroNamespace).catch(() => undefined);
      await Promise.all([appsNs, opsNs, systemNs].filter(Boolean).map((ns) => deleteNamespace(ns, { wait: true })));
    } finally {
      await odoo?.stop();
      kube?.close();
    }
  });

  test('is realistic by default: jittered reconciles, late conditions, exponential backoff capped at 1000 s', () => {
    const defaults = new SimOperator({ kubeconfig }).timing;
    expect(defaults).toEqual(timingProfiles.realistic);
    expect(defaults.reconcileLatencyMs[0]).toBeGreaterThanOrEqual(100);
    expect(defaults.conditionDelayMs).toEqual([200, 1500]);
    expect(defaults.veleroPhaseDelayMs).toEqual([200, 800]);
    expect(defaults.backoff).toEqual({ baseMs: 5, maxMs: 1_000_000 });
    expect(sim.timing.backoff).toEqual({ baseMs: 100, maxMs: 1_000 });
    expect(sim.timing.conditionDelayMs).toEqual([200, 1500]);
  });

  describe('ApplicationInstance', () => {
    test("keeps a HelmRelease of the same name in step, owned by the instance and held by Flux's finalizer", async () => {
      const hr = await getUntil(['helmrelease', 'app-1', '-n', appsNs], Boolean, 'HelmRelease app-1');
      const ai = await getUntil(
        ['applicationinstance', 'app-1', '-n', appsNs],
        (o) => !!o?.status?.helmReleaseRef,
        'helmReleaseRef',
      );
      expect(ai?.status?.helmReleaseRef).toEqual({ name: 'app-1' });
      expect(hr?.spec.chart.spec).toMatchObject({
        chart: ai?.spec.catalogRef.name,
        version: ai?.spec.catalogRef.version,
      });
      expect(hr?.spec.values).toEqual(ai?.spec.values);
      expect(hr?.spec.interval).toBeTruthy();
      expect(hr?.metadata.finalizers).toEqual([fluxFinalizer]);
      expect(hr?.metadata.ownerReferences).toEqual([
        expect.objectContaining({ kind: 'ApplicationInstance', name: 'app-1', controller: true }),
      ]);
      // Never paused: no Suspended condition at all.
      expect(condition(ai, 'Suspended')).toBeUndefined();
    });

    test('pause annotation → Suspended True/ReconcilePaused, written late; removal → False/ReconcileResumed', async () => {
      const annotated = Date.now();
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
      // The operator's condition writes come after its latency and the condition delay (>= 200 ms).
      expect(Date.now() - annotated).toBeGreaterThanOrEqual(200);
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
      const hr = await getUntil(
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
      const hr3 = await getUntil(
        ['helmrelease', 'app-3', '-n', appsNs],
        (o) => o?.spec.chart.spec.version === '9.9.9',
        'app-3 version 9.9.9',
      );
      expect(hr3?.spec.values.replicas).toBe(3);
      expect(hr3?.spec.suspend).toBe(true);
      // app-2's change was written before app-3's and the sim has nothing left to do.
      await sim.idle();
      const hr2 = await getJson(['helmrelease', 'app-2', '-n', appsNs]);
      expect(hr2.spec.values.replicas).toBe(1);
    });

    test('deleting a paused instance keeps its HelmRelease; deleting an unpaused one lets GC and Flux remove it', async () => {
      await kubectlOk(['delete', 'applicationinstance', 'app-2', 'app-3', '-n', appsNs, '--wait=true']);
      await waitGone(['helmrelease/app-3', '-n', appsNs], '60s');
      const kept = await getJson(['helmrelease', 'app-2', '-n', appsNs]);
      expect(kept.metadata.deletionTimestamp).toBeUndefined();
      expect(kept.spec.values.replicas).toBe(1);
    });
  });

  describe('Operation (Backup) and Velero', () => {
    test('Pending → Running → Succeeded only once the Velero Backup went New → InProgress → WaitingForPluginOperations → Finalizing → Completed', async () => {
      await apply(operation(opsNs, 'svc-1', 'svc-1-final-backup', location));
      await waitFor(['operation/svc-1-final-backup', '-n', opsNs], '{.status.phase}=Succeeded');
      const op = await getJson(['operation', 'svc-1-final-backup', '-n', opsNs]);
      expect(op.status).toMatchObject({
        phase: 'Succeeded',
        reason: 'BackupCompleted',
        backupRef: { namespace: veleroNamespace, name: expect.stringContaining(`${opsNs}-svc-1-final-backup`) },
      });
      expect(Date.parse(op.status?.startTime)).toBeLessThanOrEqual(Date.parse(op.status?.completionTime));
      expect(operations.sequence(opsNs, 'svc-1-final-backup', (o) => (o.status as any)?.phase)).toEqual([
        undefined,
        'Pending',
        'Running',
        'Succeeded',
      ]);

      const name = op.status?.backupRef.name as string;
      const backup = await getJson(['backups.velero.io', name, '-n', veleroNamespace]);
      expect(backup.spec).toMatchObject({
        storageLocation: location,
        ttl: '8760h',
        snapshotVolumes: true,
        includedNamespaces: [opsNs],
      });
      // Every phase Velero went through, as a watch saw them.
      expect(backups.sequence(veleroNamespace, name, (b) => (b.status as any)?.phase)).toEqual([
        undefined,
        'Queued',
        'ReadyToStart',
        'InProgress',
        'WaitingForPluginOperations',
        'Finalizing',
        'Completed',
      ]);
      // Velero sets the expiration when the backup starts: start + ttl, already while InProgress.
      const inProgress = backups
        .of(veleroNamespace, name)
        .find((s) => (s.object.status as any)?.phase === 'InProgress');
      const started = inProgress?.object.status as {
        startTimestamp: string;
        expiration: string;
        completionTimestamp?: string;
      };
      expect(Date.parse(started.expiration) - Date.parse(started.startTimestamp)).toBe(parseGoDuration('8760h'));
      expect(started.completionTimestamp).toBeUndefined();
      expect(backup.status?.expiration).toBe(started.expiration);
      expect(Date.parse(backup.status?.completionTimestamp)).toBeGreaterThanOrEqual(Date.parse(started.startTimestamp));
      // The Operation finished after Velero completed, not before.
      const completed = backups.of(veleroNamespace, name).find((s) => (s.object.status as any)?.phase === 'Completed');
      expect(rv(op)).toBeGreaterThan(rv(completed?.object as KubeObject));
      // Each Velero step took its jittered while (at least the profile's minimum each).
      const seen = backups.of(veleroNamespace, name).filter((s) => s.type !== 'DELETED');
      const first = seen[0]?.at ?? 0;
      const last = completed?.at ?? 0;
      expect(last - first).toBeGreaterThanOrEqual(4 * timingProfiles.realistic.veleroPhaseDelayMs[0] - 100);

      // svc-1 was seeded with 2 PVCs: both have a retained VolumeSnapshotContent, counted in the status.
      expect(backup.status).toMatchObject({ csiVolumeSnapshotsAttempted: 2, csiVolumeSnapshotsCompleted: 2 });
      const list = JSON.parse(
        await kubectlOk(['get', 'volumesnapshotcontents', '-l', `velero.io/backup-name=${name}`, '-o', 'json']),
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

    test('an application without backup capability fails with BackupNotSupported, before any Velero Backup', async () => {
      await apply(operation(opsNs, 'svc-5', 'svc-5-final-backup', location));
      await waitFor(['operation/svc-5-final-backup', '-n', opsNs], '{.status.phase}=Failed');
      const op = await getJson(['operation', 'svc-5-final-backup', '-n', opsNs]);
      expect(op.status).toMatchObject({ phase: 'Failed', reason: 'BackupNotSupported' });
      expect(op.status?.backupRef).toBeUndefined();
      expect(operations.sequence(opsNs, 'svc-5-final-backup', (o) => (o.status as any)?.phase)).toEqual([
        undefined,
        'Pending',
        'Failed',
      ]);
    });

    test('a missing target fails with TargetNotFound', async () => {
      await apply(operation(opsNs, 'nope', 'nope-final-backup', location));
      await waitFor(['operation/nope-final-backup', '-n', opsNs], '{.status.reason}=TargetNotFound');
    });

    test('an Unavailable location: the Velero Backup ends FailedValidation (with validationErrors), the Operation Failed', async () => {
      await apply(operation(opsNs, 'svc-1', 'svc-1-offline', offline));
      await waitFor(['operation/svc-1-offline', '-n', opsNs], '{.status.phase}=Failed');
      const op = await getJson(['operation', 'svc-1-offline', '-n', opsNs]);
      expect(op.status?.reason).toBe('BackupFailedValidation');
      const name = op.status?.backupRef.name;
      const backup = await getJson(['backups.velero.io', name, '-n', veleroNamespace]);
      expect(backups.sequence(veleroNamespace, name, (b) => (b.status as any)?.phase)).toEqual([
        undefined,
        'Queued',
        'ReadyToStart',
        'FailedValidation',
      ]);
      expect(backup.status?.validationErrors).toEqual([
        `backup can't be created because BackupStorageLocation ${offline} is in Unavailable status.`,
      ]);
      expect(backup.status?.startTimestamp).toBeUndefined();
      expect(op.status?.message).toContain('Unavailable');
    });

    test('a missing location fails validation too', async () => {
      await apply(operation(opsNs, 'svc-1', 'svc-1-nowhere', 'no-such-location'));
      await waitFor(['operation/svc-1-nowhere', '-n', opsNs], '{.status.phase}=Failed');
      const op = await getJson(['operation', 'svc-1-nowhere', '-n', opsNs]);
      expect(op.status?.reason).toBe('BackupFailedValidation');
      const backup = await getJson(['backups.velero.io', op.status?.backupRef.name, '-n', veleroNamespace]);
      expect(backup.status?.phase).toBe('FailedValidation');
      expect(backup.status?.validationErrors?.[0]).toContain('"no-such-location" not found');
    });

    test('injected failures: Velero ends Failed, or PartiallyFailed through FinalizingPartiallyFailed; the Operation Failed with their reason', async () => {
      sim.setFaults({
        failBackups: new Map<string, any>([
          ['svc-2', 'VeleroBackupFailed'],
          [
            `${opsNs}/svc-3`,
            { reason: 'VolumeSnapshotFailed', veleroPhase: 'PartiallyFailed', message: 'one snapshot timed out' },
          ],
        ]),
      });
      try {
        await apply(operation(opsNs, 'svc-2', 'svc-2-final-backup', location));
        await apply(operation(opsNs, 'svc-3', 'svc-3-final-backup', location));
        await waitFor(['operation/svc-2-final-backup', '-n', opsNs], '{.status.phase}=Failed');
        await waitFor(['operation/svc-3-final-backup', '-n', opsNs], '{.status.phase}=Failed');
      } finally {
        sim.setFaults({ failBackups: new Map() });
      }
      const op2 = await getJson(['operation', 'svc-2-final-backup', '-n', opsNs]);
      const op3 = await getJson(['operation', 'svc-3-final-backup', '-n', opsNs]);
      expect(op2.status?.reason).toBe('VeleroBackupFailed');
      expect(op3.status?.reason).toBe('VolumeSnapshotFailed');
      const phases = (op: Obj) =>
        backups.sequence(veleroNamespace, op.status?.backupRef.name, (b) => (b.status as any)?.phase);
      expect(phases(op2)).toEqual([undefined, 'Queued', 'ReadyToStart', 'InProgress', 'Failed']);
      expect(phases(op3)).toEqual([
        undefined,
        'Queued',
        'ReadyToStart',
        'InProgress',
        'WaitingForPluginOperationsPartiallyFailed',
        'FinalizingPartiallyFailed',
        'PartiallyFailed',
      ]);
      const b2 = await getJson(['backups.velero.io', op2.status?.backupRef.name, '-n', veleroNamespace]);
      const b3 = await getJson(['backups.velero.io', op3.status?.backupRef.name, '-n', veleroNamespace]);
      expect(b2.status).toMatchObject({ phase: 'Failed', errors: 1, failureReason: 'VeleroBackupFailed' });
      expect(b3.status).toMatchObject({ phase: 'PartiallyFailed', errors: 1, failureReason: 'one snapshot timed out' });
      expect(b3.status?.csiVolumeSnapshotsCompleted).toBeLessThan(b3.status?.csiVolumeSnapshotsAttempted);
    });

    test('partialAsSucceeded: the operator marks the Operation Succeeded while its Velero Backup is PartiallyFailed', async () => {
      sim.setFaults({ backupOutcome: 'partial', partialAsSucceeded: true });
      try {
        await apply(operation(opsNs, 'svc-4', 'svc-4-buggy', location, { snapshotVolumes: false }));
        await waitFor(['operation/svc-4-buggy', '-n', opsNs], '{.status.phase}=Succeeded');
      } finally {
        sim.setFaults({ backupOutcome: 'succeed', partialAsSucceeded: false });
      }
      const op = await getJson(['operation', 'svc-4-buggy', '-n', opsNs]);
      expect(op.status?.reason).toBe('BackupCompleted');
      const backup = await getJson(['backups.velero.io', op.status?.backupRef.name, '-n', veleroNamespace]);
      expect(backup.status?.phase).toBe('PartiallyFailed');
      expect(backups.sequence(veleroNamespace, backup.metadata.name, (b) => (b.status as any)?.phase)).toEqual([
        undefined,
        'Queued',
        'ReadyToStart',
        'InProgress',
        'FinalizingPartiallyFailed',
        'PartiallyFailed',
      ]);
    });

    test('without the bug, a PartiallyFailed Velero Backup fails the Operation', async () => {
      sim.setFaults({ backupOutcome: 'partial' });
      try {
        await apply(operation(opsNs, 'svc-4', 'svc-4-partial', location, { snapshotVolumes: false }));
        await waitFor(['operation/svc-4-partial', '-n', opsNs], '{.status.phase}=Failed');
      } finally {
        sim.setFaults({ backupOutcome: 'succeed' });
      }
      const op = await getJson(['operation', 'svc-4-partial', '-n', opsNs]);
      expect(op.status?.reason).toBe('VeleroBackupPartiallyFailed');
    });

    test('a hung backup stays Running (its Velero Backup InProgress) until the fault is lifted', async () => {
      sim.setFaults({ hangBackups: new Set(['svc-4']) });
      let name = '';
      try {
        await apply(operation(opsNs, 'svc-4', 'svc-4-final-backup', location));
        await waitFor(['operation/svc-4-final-backup', '-n', opsNs], '{.status.phase}=Running');
        name = (await getJson(['operation', 'svc-4-final-backup', '-n', opsNs])).status?.backupRef.name;
        await sink.logged(new RegExp(`velero backup velero/${name}: hanging`), 'Velero hanging on the backup');
        await sim.idle();
        expect((await getJson(['operation', 'svc-4-final-backup', '-n', opsNs])).status?.phase).toBe('Running');
        expect((await getJson(['backups.velero.io', name, '-n', veleroNamespace])).status?.phase).toBe('InProgress');
      } finally {
        sim.setFaults({ hangBackups: new Set() });
      }
      await waitFor(['operation/svc-4-final-backup', '-n', opsNs], '{.status.phase}=Succeeded');
      expect((await getJson(['backups.velero.io', name, '-n', veleroNamespace])).status?.phase).toBe('Completed');
    });

    test('an Operation made again after deletion gets a Velero Backup of its own', async () => {
      const old = (await getJson(['operation', 'svc-2-final-backup', '-n', opsNs])).status?.backupRef.name;
      await kubectlOk(['delete', 'operation', 'svc-2-final-backup', '-n', opsNs, '--wait=true']);
      await apply(operation(opsNs, 'svc-2', 'svc-2-final-backup', location));
      await waitFor(['operation/svc-2-final-backup', '-n', opsNs], '{.status.phase}=Succeeded');
      const again = (await getJson(['operation', 'svc-2-final-backup', '-n', opsNs])).status?.backupRef.name;
      expect(again).not.toBe(old);
    });

    test('expiry: an expired Backup stays Completed until garbage collection runs (hourly); then a DeleteBackupRequest, Deleting, gone with its snapshots', async () => {
      await apply(operation(opsNs, 'svc-1', 'svc-1-short', location, { ttl: '4s' }));
      await waitFor(['operation/svc-1-short', '-n', opsNs], '{.status.phase}=Succeeded');
      const name = (await getJson(['operation', 'svc-1-short', '-n', opsNs])).status?.backupRef.name;
      const expiresAt = Date.parse(
        (await getJson(['backups.velero.io', name, '-n', veleroNamespace])).status?.expiration,
      );
      await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now()) + 1500));
      expect((await getJson(['backups.velero.io', name, '-n', veleroNamespace])).status?.phase).toBe('Completed');
      // Garbage collection's next run, now (as --garbage-collection-frequency=1s would have it).
      const hourly = sim.timing.veleroGcFrequencyMs;
      sim.timing.veleroGcFrequencyMs = 1_000;
      try {
        sim.kick();
        await waitGone([`backups.velero.io/${name}`, '-n', veleroNamespace], '60s');
      } finally {
        sim.timing.veleroGcFrequencyMs = hourly;
      }
      const requests = JSON.parse(
        await kubectlOk([
          'get',
          'deletebackuprequests',
          '-n',
          veleroNamespace,
          '-l',
          `velero.io/backup-name=${name}`,
          '-o',
          'json',
        ]),
      ).items;
      expect(requests.map((r: Obj) => [r.spec.backupName, r.status?.phase])).toEqual([[name, 'Processed']]);
      const seen = backups.sequence(veleroNamespace, name, (b) => (b.status as any)?.phase);
      expect(seen.slice(-2)).toEqual(['Completed', 'Deleting']);
      expect(backups.of(veleroNamespace, name).at(-1)?.type).toBe('DELETED');
      const deleting = backups.of(veleroNamespace, name).find((s) => (s.object.status as any)?.phase === 'Deleting');
      const expiration = (deleting?.object.status as { expiration?: string } | undefined)?.expiration ?? '';
      expect(deleting?.at).toBeGreaterThanOrEqual(Date.parse(expiration));
      const vscs = await kubectlOk([
        'get',
        'volumesnapshotcontents',
        '-l',
        `velero.io/backup-name=${name}`,
        '-o',
        'name',
      ]);
      expect(vscs.trim()).toBe('');
      // The Operation's record stays; it is the operator's, not Velero's.
      expect((await getJson(['operation', 'svc-1-short', '-n', opsNs])).status?.phase).toBe('Succeeded');
    });

    test('as Velero v1.18: deletion by DeleteBackupRequest (refused while the location is Unavailable), sync from the store, a location lost mid-run', async () => {
      const phase = async (name: string) =>
        (await tryGet(['backups.velero.io', name, '-n', veleroNamespace]))?.status?.phase as string | undefined;
      const setLocation = async (to: 'Available' | 'Unavailable') => {
        sim.setFaults({ storageLocationPhases: new Map([[location, to]]) });
        await waitFor([`backupstoragelocations.velero.io/${location}`, '-n', veleroNamespace], `{.status.phase}=${to}`);
      };
      const backupOf = async (op: string, ttl = '8760h') => {
        await apply(operation(opsNs, 'svc-3', op, location, { ttl }));
        await waitFor([`operation/${op}`, '-n', opsNs], '{.status.phase}=Succeeded');
        return (await getJson(['operation', op, '-n', opsNs])).status?.backupRef.name as string;
      };
      const requestDeletion = async (name: string) => {
        const b = await getJson(['backups.velero.io', name, '-n', veleroNamespace]);
        return (
          await kube.create(
            upstream.deleteBackupRequests,
            deleteRequestFor(b as unknown as KubeObject),
            veleroNamespace,
          )
        ).metadata.name;
      };
      // velero backup delete while the location is Unavailable: refused, the Backup stays.
      const kept = await backupOf('svc-3-kept');
      await setLocation('Unavailable');
      try {
        const refused = await requestDeletion(kept);
        await waitFor(
          [`deletebackuprequests.velero.io/${refused}`, '-n', veleroNamespace],
          '{.status.phase}=Processed',
        );
        const r = await getJson(['deletebackuprequests.velero.io', refused, '-n', veleroNamespace]);
        expect(r.status?.errors?.join(' ')).toMatch(/Unavailable/);
        expect(await phase(kept)).toBe('Completed');
      } finally {
        await setLocation('Available');
      }
      await requestDeletion(kept);
      await waitGone([`backups.velero.io/${kept}`, '-n', veleroNamespace]);
      // Sync: a Backup deleted with kubectl comes back from the store; one whose data is gone goes.
      const synced = await backupOf('svc-3-synced');
      const uid = (await getJson(['backups.velero.io', synced, '-n', veleroNamespace])).metadata.uid;
      await kubectlOk(['delete', 'backups.velero.io', synced, '-n', veleroNamespace]);
      const minute = sim.timing.veleroSyncPeriodMs;
      sim.timing.veleroSyncPeriodMs = 500;
      try {
        sim.kick();
        const back = await getUntil(
          ['backups.velero.io', synced, '-n', veleroNamespace],
          (o) => !!o && o.metadata.uid !== uid,
          'the Backup synced back',
        );
        expect(back?.status?.phase).toBe('Completed');
        sim.objectStore.delete(`${veleroNamespace}/${synced}`);
        await waitGone([`backups.velero.io/${synced}`, '-n', veleroNamespace]);
      } finally {
        sim.timing.veleroSyncPeriodMs = minute;
      }
      // The location lost while a backup runs: it cannot upload, and fails.
      sim.setFaults({ hangBackups: new Set(['svc-3']) });
      await apply(operation(opsNs, 'svc-3', 'svc-3-lost', location));
      const lost = await until(
        async () => (await tryGet(['operation', 'svc-3-lost', '-n', opsNs]))?.status?.backupRef?.name as string,
        'the Velero Backup',
      );
      await waitFor([`backups.velero.io/${lost}`, '-n', veleroNamespace], '{.status.phase}=InProgress');
      sim.setFaults({ hangBackups: new Set(), storageLocationPhases: new Map([[location, 'Unavailable']]) });
      try {
        await waitFor([`backups.velero.io/${lost}`, '-n', veleroNamespace], '{.status.phase}=Failed');
        const b = await getJson(['backups.velero.io', lost, '-n', veleroNamespace]);
        expect(b.status?.failureReason).toMatch(/error uploading backup/);
      } finally {
        await setLocation('Available');
      }
    });

    test.each(['Restore', 'Upgrade'] as const)(
      'a %s runs to Succeeded without touching Velero, whatever it targets',
      async (type) => {
        const name = `svc-2-${type.toLowerCase()}`;
        // A Restore may target another application than its name says (or one not there yet).
        await apply(operation(opsNs, 'svc-3', name, location, { type }));
        await waitFor([`operation/${name}`, '-n', opsNs], '{.status.phase}=Succeeded');
        const op = await getJson(['operation', name, '-n', opsNs]);
        expect(op.status).toMatchObject({ phase: 'Succeeded', reason: `${type}Completed` });
        expect(op.status?.backupRef).toBeUndefined();
        expect(operations.sequence(opsNs, name, (o) => (o.status as any)?.phase)).toEqual([
          undefined,
          'Pending',
          'Running',
          'Succeeded',
        ]);
        const made = await kubectlOk([
          'get',
          'backups.velero.io',
          '-n',
          veleroNamespace,
          '-l',
          `ops.vworkspace.io/operation=${name}`,
          '-o',
          'name',
        ]);
        expect(made.trim()).toBe('');
      },
    );
  });

  describe('Flux', () => {
    const fluxDeployment = () =>
      kubectlOk([
        'create',
        'deployment',
        'helm-controller',
        '-n',
        systemNs,
        '--image=ghcr.io/fluxcd/helm-controller:v1.3.0',
      ]);

    test('removes its finalizer from deleted HelmReleases while installed; once Flux is gone they stay Terminating', async () => {
      await fluxDeployment();
      await until(() => sim.fluxInstalled, 'Flux seen installed');
      await seedApps(kube, appsNs, 2, { prefix: 'flux', volumes: 0, notBackupCapableEvery: 0 });
      await getUntil(['helmrelease', 'flux-1', '-n', appsNs], Boolean, 'HelmRelease flux-1');
      await getUntil(['helmrelease', 'flux-2', '-n', appsNs], Boolean, 'HelmRelease flux-2');

      // Installed: the GC deletes the HelmRelease of a deleted instance, Flux lets it go.
      await kubectlOk(['delete', 'applicationinstance', 'flux-1', '-n', appsNs]);
      await waitGone(['helmrelease/flux-1', '-n', appsNs], '60s');

      // Uninstalled (helm uninstall takes helm-controller): nothing removes the finalizer.
      await kubectlOk(['delete', 'deployment', 'helm-controller', '-n', systemNs, '--wait=true']);
      await until(() => !sim.fluxInstalled, 'Flux seen gone');
      await kubectlOk(['delete', 'applicationinstance', 'flux-2', '-n', appsNs]);
      await sink.logged(
        new RegExp(`helmrelease ${appsNs}/flux-2: Flux is not installed, ${fluxFinalizer} stays`),
        'the Flux stand-in declining',
        60_000,
      );
      await sim.idle();
      const stuck = await getJson(['helmrelease', 'flux-2', '-n', appsNs]);
      expect(stuck.metadata.deletionTimestamp).toBeTruthy();
      expect(stuck.metadata.finalizers).toEqual([fluxFinalizer]);

      // Flux back: the Terminating HelmRelease goes.
      await fluxDeployment();
      await waitGone(['helmrelease/flux-2', '-n', appsNs], '60s');
    });
  });

  describe('Deployments (the kubelet and deployment controller stand-in)', () => {
    test(`the operator's Deployment (${operatorDeploymentName} by default) shows the sim running, stopped, and back`, async () => {
      expect(sim.operatorDeployment).toBe(operatorDeploymentName);
      expect(operatorDeploymentName).not.toBe('vworkspace-operator');
      await kubectlOk(['create', 'deployment', operatorDeploymentName, '-n', systemNs, '--image=operator:test']);
      await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], '{.status.availableReplicas}=1');
      await waitFor(
        [`deployment/${operatorDeploymentName}`, '-n', systemNs],
        '{.status.conditions[?(@.type=="Available")].status}=True',
      );
      await sim.stop();
      try {
        // availableReplicas 0 is omitted from a Deployment's status (omitempty): read the condition.
        await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], unavailable);
        expect(
          (await getJson(['deployment', operatorDeploymentName, '-n', systemNs])).status?.availableReplicas ?? 0,
        ).toBe(0);
      } finally {
        await sim.start();
      }
      await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], '{.status.availableReplicas}=1');
    });

    test("a Deployment of the operator's release is rolled out; one of no release is left alone", async () => {
      await apply({
        apiVersion: 'apps/v1',
        kind: 'Deployment',
        metadata: {
          name: 'cert-manager',
          namespace: systemNs,
          annotations: {
            [helmOwnership.releaseNameAnnotation]: helmReleaseName,
            [helmOwnership.releaseNamespaceAnnotation]: systemNs,
          },
        },
        spec: {
          selector: { matchLabels: { app: 'cert-manager' } },
          template: {
            metadata: { labels: { app: 'cert-manager' } },
            spec: { containers: [{ name: 'c', image: 'quay.io/jetstack/cert-manager-controller:v1.18.2' }] },
          },
        },
      });
      await kubectlOk(['create', 'deployment', 'unrelated', '-n', systemNs, '--image=busybox']);
      await waitFor(['deployment/cert-manager', '-n', systemNs], '{.status.availableReplicas}=1');
      await sim.idle();
      expect((await getJson(['deployment', 'unrelated', '-n', systemNs])).status ?? {}).not.toHaveProperty(
        'availableReplicas',
      );
      await kubectlOk(['delete', 'deployment', 'cert-manager', 'unrelated', '-n', systemNs]);
    });

    test('helm uninstall (the Deployment going) stops the operator; reinstalling brings it back', async () => {
      await kubectlOk(['delete', 'deployment', operatorDeploymentName, '-n', systemNs, '--wait=true']);
      await until(() => !sim.reconciling, 'the operator dormant');
      // Nothing reconciles now: an instance made meanwhile gets no HelmRelease.
      await seedApps(kube, appsNs, 1, { prefix: 'late', volumes: 0 });
      expect(await tryGet(['helmrelease', 'late-1', '-n', appsNs])).toBeUndefined();
      await kubectlOk(['create', 'deployment', operatorDeploymentName, '-n', systemNs, '--image=operator:test']);
      await getUntil(['helmrelease', 'late-1', '-n', appsNs], Boolean, 'HelmRelease late-1 after reinstall');
      await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], '{.status.availableReplicas}=1');
    });

    test('scaled to 0 the operator does not reconcile; scaled back it does', async () => {
      await kubectlOk(['scale', 'deployment', operatorDeploymentName, '-n', systemNs, '--replicas=0']);
      await until(() => !sim.reconciling, 'the operator dormant');
      await kubectlOk(['scale', 'deployment', operatorDeploymentName, '-n', systemNs, '--replicas=1']);
      await until(() => sim.reconciling, 'the operator back');
      await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], '{.status.availableReplicas}=1');
    });
  });

  describe('Cluster', () => {
    const createCluster = (name: string, extra: { finalizers?: string[] } = {}) =>
      apply({
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name, namespace: systemNs, ...extra },
        spec: { odoo: { url: odoo.url } },
      });
    /** Registered, and the registration's follow-up reconciles done (so a test may change Odoo next). */
    const registered = async (name: string) => {
      const c = await getUntil(
        ['cluster', name, '-n', systemNs],
        (o) =>
          !!o?.metadata.finalizers?.includes(clusterFinalizer) &&
          !!o.status?.clusterID &&
          condition(o, 'OdooReachable')?.status === 'True',
        `cluster ${name} registered`,
      );
      await sim.idle();
      return c as Obj;
    };
    const stuckWith = (name: string, message: RegExp) =>
      getUntil(
        ['cluster', name, '-n', systemNs],
        (o) =>
          condition(o, 'Decommissioning')?.reason === 'OdooUnreachable' &&
          message.test(condition(o, 'Decommissioning')?.message ?? ''),
        `Decommissioning=False/OdooUnreachable matching ${message}`,
      ) as Promise<Obj>;
    const forceRemove = (name: string) =>
      kubectlOk(['patch', 'cluster', name, '-n', systemNs, '--type=merge', '-p', '{"metadata":{"finalizers":null}}']);
    let clusters: History;

    beforeAll(async () => {
      clusters = new History(kube, kinds.clusters, { namespace: systemNs });
      await clusters.start();
    });
    afterAll(() => clusters?.stop());

    test('registers: finalizer, clusterID, Registered and OdooReachable, as vworkspace-operator', async () => {
      await createCluster('cluster-a');
      const c = await registered('cluster-a');
      expect(c.metadata.finalizers).toEqual([clusterFinalizer]);
      expect(c.status?.clusterID).toMatch(/^[0-9a-f-]{36}$/);
      expect(condition(c, 'Registered')).toMatchObject({ status: 'True' });
      expect(odoo.calls.filter((x) => x.path === '/api/agent/health').map((x) => x.userAgent)).toContain(
        'vworkspace-operator/v0.1.0',
      );
      const withFields = JSON.parse(
        await kubectlOk(['get', 'cluster', 'cluster-a', '-n', systemNs, '-o', 'json', '--show-managed-fields']),
      ) as Obj;
      expect(withFields.metadata.managedFields?.map((f) => f.manager)).toContain('vworkspace-operator');
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
      expect(calls[0]?.userAgent).toBe('vworkspace-operator/v0.1.0');
      expect(odoo.decommissioned()).toContain(id);
      // The contract gives only the failure reason: no Decommissioning=True was ever written.
      const decommissioning = clusters.sequence(systemNs, 'cluster-a', (o) =>
        condition(o as unknown as Obj, 'Decommissioning'),
      );
      expect(decommissioning).toEqual([undefined]);
    });

    test("another finalizer on the Cluster survives the operator's, and holds the Cluster after it", async () => {
      await createCluster('cluster-f', { finalizers: ['example.com/keep'] });
      await registered('cluster-f');
      await kubectlOk(['delete', 'cluster', 'cluster-f', '-n', systemNs, '--wait=false']);
      const held = await getUntil(
        ['cluster', 'cluster-f', '-n', systemNs],
        (o) => !!o && !o.metadata.finalizers?.includes(clusterFinalizer),
        "the operator's finalizer removed",
      );
      expect(held?.metadata.finalizers).toEqual(['example.com/keep']);
      expect(held?.metadata.deletionTimestamp).toBeTruthy();
      await forceRemove('cluster-f');
      await waitGone(['cluster/cluster-f', '-n', systemNs]);
    });

    test('Odoo down keeps the finalizer (Decommissioning False/OdooUnreachable); Odoo back drains it', async () => {
      await createCluster('cluster-b');
      const id = (await registered('cluster-b')).status?.clusterID as string;
      await odoo.setMode('down');
      try {
        await kubectlOk(['delete', 'cluster', 'cluster-b', '-n', systemNs, '--wait=false']);
        const stuck = await stuckWith('cluster-b', /ECONNREFUSED/);
        expect(condition(stuck, 'Decommissioning')?.status).toBe('False');
        expect(condition(stuck, 'OdooReachable')?.status).toBe('False');
        expect(stuck.metadata.finalizers).toContain(clusterFinalizer);

        // 503s are as good as down.
        await odoo.setMode('failing');
        const failing = await stuckWith('cluster-b', /HTTP 503/);
        expect(failing.metadata.finalizers).toContain(clusterFinalizer);
        expect(odoo.decommissioned()).not.toContain(id);
      } finally {
        await odoo.setMode('up');
      }
      await waitGone(['cluster/cluster-b', '-n', systemNs]);
      expect(odoo.decommissioned()).toContain(id);
    });

    test.each([
      ['unauthorized', 401, {}],
      ['rejecting', 409, { status: 409 }],
      ['rejecting', 404, { status: 404 }],
    ] as const)(
      'Odoo answering %s (%i) keeps the finalizer; an acknowledgement later drains it',
      async (mode, status, opts) => {
        const name = `cluster-${status}`;
        await createCluster(name);
        const id = (await registered(name)).status?.clusterID as string;
        await odoo.setMode(mode, opts);
        try {
          const before = odoo.decommissionCalls().length;
          await kubectlOk(['delete', 'cluster', name, '-n', systemNs, '--wait=false']);
          const stuck = await stuckWith(name, new RegExp(`HTTP ${status}`));
          expect(stuck.metadata.finalizers).toContain(clusterFinalizer);
          // Retried (with backoff), and still held.
          await until(() => odoo.decommissionCalls().length - before >= 2, 'a retry');
          expect((await getJson(['cluster', name, '-n', systemNs])).metadata.finalizers).toContain(clusterFinalizer);
          expect(
            odoo
              .decommissionCalls()
              .slice(before)
              .every((c) => c.status === status),
          ).toBe(true);
          // Odoo answered the decommission: a refusal is not "unreachable" (only rejecting
          // answers the health check too; unauthorized refuses that as well).
          if (mode === 'rejecting') expect(condition(stuck, 'OdooReachable')?.status).toBe('True');
        } finally {
          await odoo.setMode('up');
        }
        await waitGone([`cluster/${name}`, '-n', systemNs]);
        expect(odoo.decommissioned()).toContain(id);
      },
    );

    test('a Cluster deleted before the operator registered it goes at once, and Odoo hears nothing', async () => {
      sim.setFaults({ registration: 'withheld' });
      try {
        const before = odoo.decommissionCalls().length;
        await createCluster('cluster-early');
        await sink.logged(/cluster cluster-early: registration withheld/, 'the withheld registration');
        const c = await getJson(['cluster', 'cluster-early', '-n', systemNs]);
        expect(c.metadata.finalizers).toBeUndefined();
        expect(c.status).toBeUndefined();
        await kubectlOk(['delete', 'cluster', 'cluster-early', '-n', systemNs, '--wait=true', '--timeout=30s']);
        await sim.idle();
        expect(odoo.decommissionCalls().length).toBe(before);
      } finally {
        sim.setFaults({ registration: 'normal' });
      }
    });

    test('a Cluster with the finalizer but no clusterID: Odoo refuses the empty clusterID (400), the finalizer stays', async () => {
      sim.setFaults({ registration: 'finalizerOnly' });
      try {
        await createCluster('cluster-noid');
        const c = await getUntil(
          ['cluster', 'cluster-noid', '-n', systemNs],
          (o) => !!o?.metadata.finalizers?.includes(clusterFinalizer) && !!condition(o, 'OdooReachable'),
          'finalizer without registration',
        );
        expect(c?.status?.clusterID).toBeUndefined();
        expect(condition(c, 'Registered')).toBeUndefined();
        const before = odoo.decommissionCalls().length;
        await kubectlOk(['delete', 'cluster', 'cluster-noid', '-n', systemNs, '--wait=false']);
        const stuck = await stuckWith('cluster-noid', /HTTP 400/);
        expect(stuck.metadata.finalizers).toContain(clusterFinalizer);
        expect(odoo.decommissionCalls()[before]?.body).toEqual({ clusterID: '' });
        expect(odoo.decommissioned()).not.toContain('');
      } finally {
        sim.setFaults({ registration: 'normal' });
      }
      // The procedure's second way out: force-remove the finalizer.
      await forceRemove('cluster-noid');
      await waitGone(['cluster/cluster-noid', '-n', systemNs]);
    });

    test('a slow Odoo: an answer within the timeout drains; a later one times out and keeps the finalizer', async () => {
      await createCluster('cluster-slow');
      const id = (await registered('cluster-slow')).status?.clusterID as string;
      await odoo.setMode('slow', { delayMs: 600 });
      try {
        const started = Date.now();
        await kubectlOk(['delete', 'cluster', 'cluster-slow', '-n', systemNs, '--wait=true', '--timeout=30s'], {
          timeoutMs: 40_000,
        });
        expect(Date.now() - started).toBeGreaterThanOrEqual(600);
        expect(odoo.decommissioned()).toContain(id);

        await createCluster('cluster-slower');
        await odoo.setMode('up');
        await registered('cluster-slower');
        await odoo.setMode('slow', { delayMs: 3_000 });
        await kubectlOk(['delete', 'cluster', 'cluster-slower', '-n', systemNs, '--wait=false']);
        const stuck = await stuckWith('cluster-slower', /no answer within 1500 ms/);
        expect(stuck.metadata.finalizers).toContain(clusterFinalizer);
      } finally {
        await odoo.setMode('up');
      }
      await waitGone(['cluster/cluster-slower', '-n', systemNs]);
    });
  });

  describe("volumes (the PV controller's part)", () => {
    test('a deleted claim releases a Retain PV and deletes a Delete PV', async () => {
      const [app] = await seedApps(kube, opsNs, 1, { prefix: 'vol', startIndex: 3, volumes: 2 });
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
      await waitGone([`pv/${deleted}`]);
    });
  });

  describe('crash and restart', () => {
    test('work created while the operator is down is done after it restarts', async () => {
      await sim.crash();
      try {
        await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], unavailable);
        await apply(operation(opsNs, 'svc-2', 'svc-2-after-crash', location));
        await kubectlOk([
          'annotate',
          'applicationinstance',
          'app-1',
          '-n',
          appsNs,
          `${pauseAnnotation}=disabled`,
          '--overwrite',
        ]);
        // Nothing runs: no status can have been written.
        expect((await getJson(['operation', 'svc-2-after-crash', '-n', opsNs])).status).toBeUndefined();
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
      await waitFor([`deployment/${operatorDeploymentName}`, '-n', systemNs], '{.status.availableReplicas}=1');
    });
  });
});

describe('failed reconciles back off per key (controller-runtime: base × 2^n, capped)', () => {
  test('the decommission retries against a failing Odoo are spaced 100, 200, 400, 800, 800 ms', async () => {
    const kubeconfig = adminKubeconfig();
    const kube = clientFor(kubeconfig);
    const odoo = await startFakeOdoo();
    const ns = await createTestNamespace('sim-backoff');
    const sim = new SimOperator({
      kubeconfig,
      namespaces: [ns],
      clusterNamespace: ns,
      odooUrl: odoo.url,
      // No latency noise: the gaps are the backoff.
      latency: 'fast',
      timing: { backoff: { baseMs: 100, maxMs: 800 } },
      healthIntervalMs: 600_000,
    });
    await sim.start();
    try {
      await apply({
        apiVersion: 'ops.vworkspace.io/v1alpha1',
        kind: 'Cluster',
        metadata: { name: 'cluster-backoff', namespace: ns },
        spec: { odoo: { url: odoo.url } },
      });
      await getUntil(['cluster', 'cluster-backoff', '-n', ns], (o) => !!o?.status?.clusterID, 'registered');
      await odoo.setMode('failing');
      await kubectlOk(['delete', 'cluster', 'cluster-backoff', '-n', ns, '--wait=false']);
      await until(() => odoo.decommissionCalls().length >= 6, 'six decommission attempts', { timeoutMs: 20_000 });
      const times = odoo.decommissionCalls().map((c) => c.time.getTime());
      const gaps = times.slice(1, 6).map((t, i) => t - (times[i] as number));
      const expected = [100, 200, 400, 800, 800];
      // Never sooner than the backoff; and short of the next doubling (for the last two, short of
      // the uncapped 1600 ms), with room for a loaded machine.
      gaps.forEach((gap, i) => {
        const want = expected[i] as number;
        expect(gap).toBeGreaterThanOrEqual(want - 5);
        expect(gap).toBeLessThan(want + Math.max(want, 400));
      });
      expect((await getJson(['cluster', 'cluster-backoff', '-n', ns])).metadata.finalizers).toContain(clusterFinalizer);
      await odoo.setMode('up');
      await waitGone(['cluster/cluster-backoff', '-n', ns]);
    } finally {
      await sim.stop();
      await odoo.stop();
      await kube
        .mergePatch(kinds.clusters, 'cluster-backoff', ns, { metadata: { finalizers: null } })
        .catch(() => undefined);
      kube.close();
      await deleteNamespace(ns, { wait: true });
    }
  });
});

describe('sandbox fault switches (a ConfigMap a user flips with kubectl)', () => {
  let world: World;
  let kube: WorldClient;
  let ns: string;
  const location = `sim-faults-${randomBytes(3).toString('hex')}`;
  const patch = (data: Record<string, string>) =>
    kubectlOk(['-n', ns, 'patch', 'configmap', 'sandbox-faults', '--type', 'merge', '-p', JSON.stringify({ data })]);

  beforeAll(async () => {
    kube = clientFor(adminKubeconfig());
    ns = await createTestNamespace('sim-faults');
    await ensureVeleroLocation(kube, { name: location });
    await seedApps(kube, ns, 1, { prefix: 'fa', volumes: 0, notBackupCapableEvery: 0 });
    world = await startWorld({
      velero: 'simulated',
      kubeconfig: adminKubeconfig(),
      sim: { namespaces: [ns], clusterNamespace: ns, latency: 'fast' },
      faultsConfigMap: { namespace: ns, storageLocation: location },
    });
    await ensureSandboxFaults(kube, { namespace: ns });
  });

  afterAll(async () => {
    await world?.stop();
    await cleanupSeeded(kube, ns);
    await kube.deleteIfExists(upstream.backupStorageLocations, location, veleroNamespace).catch(() => undefined);
    await deleteNamespace(ns, { wait: true });
    kube.close();
  });

  test('the ConfigMap starts with the defaults', async () => {
    const cm = await getJson(['configmap', 'sandbox-faults', '-n', ns]);
    expect((cm as unknown as { data: Record<string, string> }).data).toEqual({
      odoo: 'up',
      backups: 'succeed',
      storageLocation: 'Available',
    });
  });

  test.each(['down', 'failing', 'slow', 'up'] as const)('odoo: %s is obeyed by the fake Odoo', async (mode) => {
    await patch({ odoo: mode });
    await until(() => world.odoo.mode === mode, `the fake Odoo ${mode}`, { timeoutMs: 3_000 });
    const answer = await fetch(`${world.odoo.url}/api/agent/health`).then(
      (r) => r.status,
      (e: Error & { cause?: { code?: string } }) => e.cause?.code,
    );
    expect(answer).toBe({ down: 'ECONNREFUSED', failing: 503, slow: 200, up: 200 }[mode]);
  });

  test.each([
    ['fail', 'Failed', 'Failed'],
    ['partial', 'PartiallyFailed', 'Failed'],
    ['succeed', 'Completed', 'Succeeded'],
  ] as const)('backups: %s makes Velero end %s (the Operation %s)', async (outcome, veleroPhase, opPhase) => {
    await patch({ backups: outcome });
    await until(() => world.sim.faults.backupOutcome === outcome, `backups ${outcome} applied`, { timeoutMs: 3_000 });
    const name = `fa-1-${outcome}`;
    await apply(operation(ns, 'fa-1', name, location, { snapshotVolumes: false }));
    await waitFor([`operation/${name}`, '-n', ns], `{.status.phase}=${opPhase}`);
    const op = await getJson(['operation', name, '-n', ns]);
    const backup = await getJson(['backups.velero.io', op.status?.backupRef.name, '-n', veleroNamespace]);
    expect(backup.status?.phase).toBe(veleroPhase);
  });

  test('backups: hang keeps Velero InProgress until switched back', async () => {
    await patch({ backups: 'hang' });
    await until(() => world.sim.faults.backupOutcome === 'hang', 'backups hang applied', { timeoutMs: 3_000 });
    await apply(operation(ns, 'fa-1', 'fa-1-hang', location, { snapshotVolumes: false }));
    await waitFor(['operation/fa-1-hang', '-n', ns], '{.status.phase}=Running');
    const name = (await getJson(['operation', 'fa-1-hang', '-n', ns])).status?.backupRef.name;
    await waitFor([`backups.velero.io/${name}`, '-n', veleroNamespace], '{.status.phase}=InProgress');
    await world.sim.idle();
    expect((await getJson(['operation', 'fa-1-hang', '-n', ns])).status?.phase).toBe('Running');
    await patch({ backups: 'succeed' });
    await waitFor(['operation/fa-1-hang', '-n', ns], '{.status.phase}=Succeeded');
  });

  test.each(['Unavailable', 'Available'] as const)(
    'storageLocation: %s is what Velero reports for the location',
    async (phase) => {
      await patch({ storageLocation: phase });
      await waitFor(
        [`backupstoragelocations.velero.io/${location}`, '-n', veleroNamespace],
        `{.status.phase}=${phase}`,
      );
    },
  );

  test('an unknown value is ignored, the last one stays', async () => {
    await patch({ odoo: 'sideways' });
    await patch({ odoo: 'down' });
    await until(() => world.odoo.mode === 'down', 'the fake Odoo down', { timeoutMs: 3_000 });
    await patch({ odoo: 'up' });
    await until(() => world.odoo.mode === 'up', 'the fake Odoo up', { timeoutMs: 3_000 });
  });
});

describe('the stand-in chart and the world around it (a control plane of its own)', () => {
  let world: World;
  let kube: WorldClient;
  const helm = () => ({ helmBin: join(toolsBinDir(), 'helm'), helmHome: join(world.controlPlane?.dir ?? '', 'helm') });
  const sink = logSink('chart-world');

  beforeAll(async () => {
    world = await startWorld({ log: sink.log, velero: 'simulated' });
    kube = clientFor(world.kubeconfig);
  }, 120_000);

  afterAll(async () => {
    kube?.close();
    await world?.stop();
  });

  const onCluster = (args: string[]) => kubectlOk(['--kubeconfig', world.kubeconfig, ...args]);

  test("installs the procedure's bundle: operator, Flux, cert-manager, external-secrets, Velero, the credential Secret, the CRDs adopted and kept", async () => {
    await seedSandbox(world.kubeconfig, { apps: 2, namespaces: 1, odooUrl: world.odoo.url, ...helm() });
    const deployments = await kube.list(core.deployments, { namespace: operatorNamespace });
    expect(deployments.items.map((d) => d.metadata.name).sort()).toEqual([...chartDeployments].sort());
    expect(deployments.items.map((d) => d.metadata.name)).not.toContain('vworkspace-operator');
    for (const d of deployments.items) {
      expect(d.metadata.annotations).toMatchObject({
        [helmOwnership.releaseNameAnnotation]: helmReleaseName,
        [helmOwnership.releaseNamespaceAnnotation]: operatorNamespace,
      });
    }
    // No kubelet: the stand-in reports every one of them available.
    await until(async () => {
      const { items } = await kube.list(core.deployments, { namespace: operatorNamespace });
      return items.every((d) => (d.status as { availableReplicas?: number } | undefined)?.availableReplicas === 1);
    }, 'every bundled Deployment available');
    const sa = await kube.get(core.serviceAccounts, operatorDeploymentName, operatorNamespace);
    expect(sa.metadata.annotations?.[helmOwnership.releaseNameAnnotation]).toBe(helmReleaseName);
    const secret = await kube.get(core.secrets, bootstrapCredentialSecret, operatorNamespace);
    expect(secret.metadata.labels?.[bootstrapCredentialLabel]).toBe(bootstrapCredentialLabelValue);
    expect(secret.metadata.annotations?.[helmOwnership.resourcePolicyAnnotation]).toBe('keep');
    for (const name of operatorCrds) {
      const crd = await kube.get(core.customResourceDefinitions, name);
      expect(crd.metadata.annotations).toMatchObject({
        [helmOwnership.releaseNameAnnotation]: helmReleaseName,
        [helmOwnership.resourcePolicyAnnotation]: 'keep',
      });
    }
    const manifest = await onCluster(['get', 'secret', '-n', operatorNamespace, '-l', 'owner=helm', '-o', 'name']);
    expect(manifest).toContain('sh.helm.release.v1.vworkspace-app-operator.v1');
  });

  test('helm uninstall with keepCrds=true: the operator and Flux stop, the CRDs and the credential stay, a deleted HelmRelease is held', async () => {
    await until(
      () => world.sim.reconciling && world.sim.fluxInstalled && world.sim.veleroInstalled,
      'the bundle running',
    );
    const [ai] = (await kube.list(kinds.applicationInstances, { namespace: 'tenant-01' })).items;
    const app = ai?.metadata.name as string;
    await getUntil(
      ['--kubeconfig', world.kubeconfig, 'helmrelease', app, '-n', 'tenant-01'],
      Boolean,
      'its HelmRelease',
    );
    await uninstallOperatorChart(world.kubeconfig, helm());
    await until(
      () => !world.sim.reconciling && !world.sim.fluxInstalled && !world.sim.veleroInstalled,
      'the bundle gone',
    );
    for (const name of operatorCrds) expect(await kube.find(core.customResourceDefinitions, name)).toBeDefined();
    expect(await kube.find(core.secrets, bootstrapCredentialSecret, operatorNamespace)).toBeDefined();
    expect((await kube.list(core.deployments, { namespace: operatorNamespace })).items).toEqual([]);
    // Flux is gone: the orphaned HelmRelease of a deleted instance stays Terminating.
    await kube.delete(kinds.applicationInstances, app, 'tenant-01');
    await sink.logged(
      new RegExp(`helmrelease tenant-01/${app}: Flux is not installed`),
      'the held HelmRelease',
      60_000,
    );
    const hr = await kube.get(upstream.helmReleases, app, 'tenant-01');
    expect(hr.metadata.deletionTimestamp).toBeTruthy();
    expect(hr.metadata.finalizers).toEqual([fluxFinalizer]);
  });

  test('reinstalled with keepCrds=false: Flux lets the held HelmRelease go; helm uninstall then deletes the CRDs and every CR', async () => {
    await installOperatorChart(world.kubeconfig, { ...helm(), odooUrl: world.odoo.url, keepCrds: false });
    await until(() => world.sim.reconciling && world.sim.fluxInstalled, 'the bundle back');
    await until(
      async () => (await kube.list(upstream.helmReleases, { namespace: 'tenant-01' })).items.length === 1,
      'the held HelmRelease gone',
      { timeoutMs: 60_000 },
    );
    // helm decides what to keep from the release's manifest (adoption leaves the live objects'
    // old annotation in place): no CRD in it is kept now.
    const manifest = yaml.loadAll(
      await helmCli(world.kubeconfig, ['get', 'manifest', helmReleaseName, '-n', operatorNamespace], helm()),
    ) as (KubeObject | null)[];
    const crds = manifest.filter((o): o is KubeObject => o?.kind === 'CustomResourceDefinition');
    expect(crds.map((c) => c.metadata.name).sort()).toEqual([...operatorCrds].sort());
    for (const crd of crds) expect(crd.metadata.annotations?.[helmOwnership.resourcePolicyAnnotation]).toBeUndefined();
    // Step 3 first, or the Cluster's finalizer would hold its CRD once the operator is gone.
    await onCluster(['delete', 'cluster', '--all', '-n', operatorNamespace, '--wait=true', '--timeout=60s']);
    expect((await kube.list(kinds.applicationInstances)).items).toHaveLength(1);
    await uninstallOperatorChart(world.kubeconfig, helm());
    for (const name of operatorCrds) expect(await kube.find(core.customResourceDefinitions, name)).toBeUndefined();
    // The credential Secret is kept whatever keepCrds says.
    expect(await kube.find(core.secrets, bootstrapCredentialSecret, operatorNamespace)).toBeDefined();
  });
});
