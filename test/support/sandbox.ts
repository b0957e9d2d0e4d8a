import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chartDir, installOperatorChart } from './chart';
import {
  apiVersionOf,
  defaultStorageLocation,
  helmReleaseName,
  kinds,
  operatorNamespace,
  pauseAnnotation,
  pauseValue,
  type Resource,
  veleroNamespace,
} from './contract';
import type { ControlPlane } from './control-plane';
import { type FakeOdoo, startFakeOdoo } from './fake-odoo';
import { isAlreadyExists, Kube, type KubeObject } from './kube';
import { core, fluxFinalizer, metaTime, upstream } from './kinds';
import {
  ensureSandboxFaults,
  sandboxFaultsName,
  sandboxFaultsNamespace,
  type SandboxFaultsWatch,
  watchSandboxFaults,
} from './sandbox-faults';
import { realVeleroControllers, SimOperator, type SimOperatorOptions } from './sim-operator';
import { type RealVelero, type RealVeleroOptions, startRealVelero } from './velero';
import { csiDriverName } from './sim-operator/csi-driver';
import { instanceLabel, operationNamespaceLabel } from './sim-operator/operations';

export { chartDir, installOperatorChart };

// Seeds a cluster with what an installation of vworkspace-operator looks like before the
// uninstall procedure: the operator's helm release, its Cluster CR, Velero's storage location, a
// snapshot class and applications with volumes. Used by `npm run sandbox` and by integration
// tests (seedApps into a fresh namespace, then a SimOperator scoped to it).

/** On seeded PVs: the namespace of their claim, so a test can clean up the cluster-scoped PVs. */
export const seedNamespaceLabel = 'vworkspace.io/seed-namespace';

export const sandboxClusterName = 'cluster-sandbox-1';
export const snapshotClassName = 'csi-rbd';
export const storageClassName = 'csi-rbd';
/** The CSI driver the seeded PVs and the VolumeSnapshotClass name (the simulator plays it: sim-operator/csi-driver.ts). */
export const volumeDriver = csiDriverName;

/** The test world's client (kube.ts), as seeding and tests use it. */
export type WorldClient = Kube;

export const clientFor = (kubeconfig: string): WorldClient =>
  Kube.fromFile(kubeconfig, { maxSockets: 16, userAgent: 'vworkspace-sandbox/v0.1.0' });

/** At most `limit` of `fn` at a time, results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, index: number) => Promise<R>) {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    for (let i = next++; i < items.length; i = next++) out[i] = await fn(items[i] as T, i);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

/** create, where "already exists" counts as done: seeding twice changes nothing. */
async function ensure(client: WorldClient, r: Resource, obj: KubeObject): Promise<boolean> {
  try {
    await client.create(r, obj, obj.metadata.namespace);
    return true;
  } catch (err) {
    if (isAlreadyExists(err)) return false;
    throw err;
  }
}

export async function ensureNamespace(client: WorldClient, name: string, labels?: Record<string, string>) {
  await ensure(client, core.namespaces, { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels } });
}

/**
 * Velero's namespace and a BackupStorageLocation in the given phase, as the simulated Velero's
 * validation leaves it (Velero's CRD has no status subresource). A location a real Velero serves
 * (one with an s3Url: startRealVelero made it) is left to that Velero: its phase is its to write.
 */
export async function ensureVeleroLocation(
  client: WorldClient,
  opts: { name?: string; phase?: 'Available' | 'Unavailable'; bucket?: string } = {},
) {
  const name = opts.name ?? defaultStorageLocation;
  await ensureNamespace(client, veleroNamespace);
  const existing = await client.find(upstream.backupStorageLocations, name, veleroNamespace);
  if ((existing?.spec as { config?: { s3Url?: string } } | undefined)?.config?.s3Url) return;
  await ensure(client, upstream.backupStorageLocations, {
    apiVersion: apiVersionOf(upstream.backupStorageLocations),
    kind: upstream.backupStorageLocations.kind,
    metadata: { name, namespace: veleroNamespace },
    spec: {
      provider: 'aws',
      default: name === defaultStorageLocation,
      objectStorage: { bucket: opts.bucket ?? 'vworkspace-backups', prefix: 'velero' },
      config: { region: 'eu-west-1' },
    },
  });
  await client.mergePatch(upstream.backupStorageLocations, name, veleroNamespace, {
    status: { phase: opts.phase ?? 'Available', lastValidationTime: metaTime() },
  });
}

/** The StorageClass the seeded PVs name and the VolumeSnapshotClass the final backups use. */
export async function ensureStorageClasses(client: WorldClient) {
  await ensure(client, core.storageClasses, {
    apiVersion: 'storage.k8s.io/v1',
    kind: 'StorageClass',
    metadata: { name: storageClassName },
    provisioner: volumeDriver,
    reclaimPolicy: 'Delete',
    volumeBindingMode: 'Immediate',
  });
  await ensure(client, upstream.volumeSnapshotClasses, {
    apiVersion: 'snapshot.storage.k8s.io/v1',
    kind: 'VolumeSnapshotClass',
    metadata: { name: snapshotClassName, labels: { 'velero.io/csi-volumesnapshot-class': 'true' } },
    driver: volumeDriver,
    deletionPolicy: 'Retain',
  });
}

/** A Cluster CR as a user creates it; the operator registers it (finalizer, clusterID). */
export async function ensureCluster(client: WorldClient, opts: { name?: string; namespace?: string; odooUrl: string }) {
  const namespace = opts.namespace ?? operatorNamespace;
  await ensureNamespace(client, namespace);
  await ensure(client, kinds.clusters, {
    apiVersion: apiVersionOf(kinds.clusters),
    kind: kinds.clusters.kind,
    metadata: { name: opts.name ?? sandboxClusterName, namespace },
    spec: { odoo: { url: opts.odooUrl } },
  });
}

const catalog = [
  { name: 'odoo', version: '17.0.3' },
  { name: 'nextcloud', version: '29.0.1' },
  { name: 'gitea', version: '1.22.0' },
  { name: 'mattermost', version: '9.8.0' },
  { name: 'keycloak', version: '24.0.4' },
  { name: 'wordpress', version: '6.5.3' },
];

export interface SeedAppsOptions {
  /** Name prefix; apps are `<prefix>-<n>` (default: the catalog entry's name). */
  prefix?: string;
  /** First index (default 1), so several calls into one namespace do not collide. */
  startIndex?: number;
  /** Every n-th app (by index) has spec.backup.capable false; 0 = none (default 5). */
  notBackupCapableEvery?: number;
  /** PVCs per app, alternating 1 and 2 when 'mixed' (default), none when 0. */
  volumes?: number | 'mixed';
  /**
   * What backs the PVs: csi (default: the driver the VolumeSnapshotClass names, so Velero's CSI
   * path snapshots them) or hostPath (a volume Velero cannot snapshot, which it skips silently).
   */
  volumeSource?: 'csi' | 'hostPath';
  /** Seed the apps already paused (step 1 done). */
  paused?: boolean;
  labels?: Record<string, string>;
  concurrency?: number;
}

export interface SeededVolume {
  pvc: string;
  pv: string;
  size: string;
  reclaimPolicy: 'Retain' | 'Delete';
}

export interface SeededApp {
  namespace: string;
  name: string;
  backupCapable: boolean;
  volumes: SeededVolume[];
}

/**
 * One app's PVs and PVCs, bound to each other as the PV controller would leave them (claimRef on
 * the PV, volumeName on the PVC, both phase Bound); some PVs Retain, others Delete.
 */
async function seedVolumes(
  client: WorldClient,
  namespace: string,
  app: string,
  count: number,
  index: number,
  source: 'csi' | 'hostPath',
): Promise<SeededVolume[]> {
  const volumes: SeededVolume[] = [];
  for (let v = 0; v < count; v++) {
    const role = v === 0 ? 'data' : 'logs';
    const pvc = `${app}-${role}`;
    const pv = `pv-${namespace}-${pvc}`.slice(0, 253);
    const size = v === 0 ? '5Gi' : '1Gi';
    const reclaimPolicy = (index + v) % 3 === 0 ? 'Delete' : 'Retain';
    const csi = source === 'csi';
    const labels = { [instanceLabel]: app, 'app.kubernetes.io/part-of': 'vworkspace', [seedNamespaceLabel]: namespace };
    await ensure(client, core.persistentVolumes, {
      apiVersion: 'v1',
      kind: 'PersistentVolume',
      metadata: { name: pv, labels },
      spec: {
        capacity: { storage: size },
        accessModes: ['ReadWriteOnce'],
        persistentVolumeReclaimPolicy: reclaimPolicy,
        storageClassName,
        volumeMode: 'Filesystem',
        claimRef: { apiVersion: 'v1', kind: 'PersistentVolumeClaim', namespace, name: pvc },
        ...(csi
          ? { csi: { driver: volumeDriver, volumeHandle: `vol-${randomUUID()}`, fsType: 'ext4' } }
          : { hostPath: { path: `/srv/vworkspace/${namespace}/${pvc}`, type: 'DirectoryOrCreate' } }),
      },
    });
    await ensure(client, core.persistentVolumeClaims, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: pvc, namespace, labels },
      spec: {
        accessModes: ['ReadWriteOnce'],
        resources: { requests: { storage: size } },
        storageClassName,
        volumeMode: 'Filesystem',
        volumeName: pv,
      },
    });
    // No PV controller runs here: write the phases it would. Nor do the pvc-/pv-protection
    // controllers, which let an unused claim go at once; their finalizers would otherwise keep a
    // deleted namespace Terminating for ever.
    const unprotected = { metadata: { finalizers: null } };
    await client.mergePatch(core.persistentVolumes, pv, undefined, unprotected);
    await client.mergePatch(core.persistentVolumeClaims, pvc, namespace, unprotected);
    await client.patchStatus(core.persistentVolumes, pv, undefined, { phase: 'Bound' });
    await client.patchStatus(core.persistentVolumeClaims, pvc, namespace, {
      phase: 'Bound',
      accessModes: ['ReadWriteOnce'],
      capacity: { storage: size },
    });
    volumes.push({ pvc, pv, size, reclaimPolicy });
  }
  return volumes;
}

/** Seeds `count` ApplicationInstances (with PVCs bound to PVs) into an existing namespace. */
export async function seedApps(
  client: WorldClient,
  namespace: string,
  count: number,
  opts: SeedAppsOptions = {},
): Promise<SeededApp[]> {
  const start = opts.startIndex ?? 1;
  const every = opts.notBackupCapableEvery ?? 5;
  const indexes = Array.from({ length: count }, (_, i) => start + i);
  return mapLimit(indexes, opts.concurrency ?? 8, async (index) => {
    const entry = catalog[(index - 1) % catalog.length] ?? catalog[0]!;
    const name = `${opts.prefix ?? entry.name}-${index}`;
    const backupCapable = !(every > 0 && index % every === 0);
    const volumeCount = opts.volumes === undefined || opts.volumes === 'mixed' ? 1 + (index % 2) : opts.volumes;
    await ensure(client, kinds.applicationInstances, {
      apiVersion: apiVersionOf(kinds.applicationInstances),
      kind: kinds.applicationInstances.kind,
      metadata: {
        name,
        namespace,
        // The instance label too: the operator's Velero Backup of the application selects by it.
        labels: { 'app.kubernetes.io/name': entry.name, [instanceLabel]: name, ...opts.labels },
        ...(opts.paused ? { annotations: { [pauseAnnotation]: pauseValue } } : {}),
      },
      spec: {
        catalogRef: { name: entry.name, version: entry.version },
        values: {
          replicas: 1,
          persistence: { enabled: volumeCount > 0, size: '5Gi' },
          ingress: { host: `${name}.${namespace}.example.test` },
        },
        backup: { capable: backupCapable },
      },
    });
    const volumes = await seedVolumes(client, namespace, name, volumeCount, index, opts.volumeSource ?? 'csi');
    return { namespace, name, backupCapable, volumes };
  });
}

/**
 * Removes what seeding and the sim leave outside a test namespace for it (its PVs, and the
 * VolumeSnapshotContents and Velero Backups of its Operations), and lets go of the Flux
 * finalizers of its HelmReleases (no Flux runs once the sim is stopped; a namespace holding one
 * would stay Terminating for ever). Call before deleting the namespace.
 */
export async function cleanupSeeded(client: WorldClient, namespace: string) {
  const del = async (r: Resource, labelSelector: string, ns?: string) => {
    const { items } = await client.list(r, { labelSelector, namespace: ns });
    await mapLimit(items, 8, async (o) => {
      await client
        .mergePatch(r, o.metadata.name, o.metadata.namespace, { metadata: { finalizers: null } })
        .catch(() => undefined);
      await client.delete(r, o.metadata.name, o.metadata.namespace).catch(() => undefined);
    });
  };
  const releaseFlux = async () => {
    const { items } = await client.list(upstream.helmReleases, { namespace });
    await mapLimit(
      items.filter((hr) => hr.metadata.finalizers?.includes(fluxFinalizer)),
      8,
      async (hr) => {
        const rest = (hr.metadata.finalizers ?? []).filter((f) => f !== fluxFinalizer);
        await client
          .mergePatch(upstream.helmReleases, hr.metadata.name, namespace, {
            metadata: { finalizers: rest.length ? rest : null },
          })
          .catch(() => undefined);
      },
    );
  };
  await Promise.all([
    del(core.persistentVolumes, `${seedNamespaceLabel}=${namespace}`),
    del(upstream.volumeSnapshotContents, `${operationNamespaceLabel}=${namespace}`),
    del(upstream.veleroBackups, `${operationNamespaceLabel}=${namespace}`, veleroNamespace),
    releaseFlux(),
  ]);
}

export interface SandboxOptions {
  /** ApplicationInstances in all (default 36). */
  apps?: number;
  /** Namespaces they are spread over (default 6). */
  namespaces?: number;
  /** Every n-th app is not backup-capable (default 5). */
  notBackupCapableEvery?: number;
  helmBin: string;
  odooUrl: string;
  helmHome?: string;
  /** Create the sandbox-faults ConfigMap with its defaults (default true). */
  faultsConfigMap?: boolean;
}

export interface SandboxSummary {
  release: string;
  cluster: string;
  namespaces: string[];
  apps: SeededApp[];
  storageLocation: string;
  snapshotClass: string;
  /** `<namespace>/<name>` of the fault switches, when created. */
  faults?: string;
}

export const sandboxNamespace = (i: number) => `tenant-${String(i).padStart(2, '0')}`;

/** Seeds a whole installation; running it again changes nothing that is there already. */
export async function seedSandbox(kubeconfig: string, opts: SandboxOptions): Promise<SandboxSummary> {
  const client = clientFor(kubeconfig);
  try {
    const appCount = opts.apps ?? 36;
    const nsCount = Math.max(1, opts.namespaces ?? 6);
    await ensureNamespace(client, operatorNamespace);
    const withFaults = opts.faultsConfigMap ?? true;
    await Promise.all([
      installOperatorChart(kubeconfig, { helmBin: opts.helmBin, odooUrl: opts.odooUrl, helmHome: opts.helmHome }),
      ensureVeleroLocation(client),
      ensureStorageClasses(client),
      withFaults ? ensureSandboxFaults(client) : undefined,
    ]);
    await ensureCluster(client, { odooUrl: opts.odooUrl });
    const namespaces = Array.from({ length: nsCount }, (_, i) => sandboxNamespace(i + 1));
    await Promise.all(namespaces.map((ns) => ensureNamespace(client, ns, { 'vworkspace.io/tenant': 'true' })));
    // Apps in blocks of consecutive indexes, so each namespace holds a mix of catalog apps;
    // indexes stay global so names are unique across namespaces.
    const per = Math.ceil(appCount / nsCount);
    const apps = (
      await mapLimit(namespaces, 2, (ns, i) =>
        seedApps(client, ns, Math.max(0, Math.min(per, appCount - i * per)), {
          startIndex: i * per + 1,
          notBackupCapableEvery: opts.notBackupCapableEvery,
        }),
      )
    ).flat();
    return {
      release: `${operatorNamespace}/${helmReleaseName}`,
      cluster: `${operatorNamespace}/${sandboxClusterName}`,
      namespaces,
      apps,
      storageLocation: `${veleroNamespace}/${defaultStorageLocation}`,
      snapshotClass: snapshotClassName,
      ...(withFaults ? { faults: `${sandboxFaultsNamespace}/${sandboxFaultsName}` } : {}),
    };
  } finally {
    client.close();
  }
}

export interface World {
  kubeconfig: string;
  odoo: FakeOdoo;
  sim: SimOperator;
  /** The sandbox-faults ConfigMap watch (unless turned off). */
  faults?: SandboxFaultsWatch;
  /** The real Velero (velero server, its object store, the snapshot-controller); absent with the simulated one. */
  velero?: RealVelero;
  /** Present when startWorld started the control plane. */
  controlPlane?: Pick<ControlPlane, 'adminKubeconfig' | 'binDir' | 'dir' | 'signal' | 'stop'>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  /** Use this cluster; without it a control plane is started. */
  kubeconfig?: string;
  log?: (line: string) => void;
  /** Passed to the SimOperator (kubeconfig and odooUrl are filled in); latency 'realistic' unless set. */
  sim?: Omit<SimOperatorOptions, 'kubeconfig'>;
  /**
   * Obey the sandbox-faults ConfigMap (default true: sandbox-faults in default, its
   * storageLocation switching aws-primary); false to ignore it.
   */
  faultsConfigMap?: boolean | { namespace?: string; name?: string; storageLocation?: string };
  /**
   * Which Velero plays Velero (default real: velero server out of cluster, see velero.ts; its
   * options may be given). `simulated` is the simulator's stand-in (sim-operator/velero.ts), for
   * the fault campaign and benchmarks, where speed matters more than Velero's own behaviour.
   */
  velero?: 'real' | 'simulated' | Partial<Omit<RealVeleroOptions, 'kubeconfig'>>;
  /** The build script's targets if a binary is missing (default all; the sandbox and demo: `demo`). */
  buildTargets?: string[];
  /** Runs once the fake Odoo listens and before the simulated operator starts (a snapshot's Cluster told Odoo's URL). */
  beforeSim?: (kubeconfig: string, odoo: FakeOdoo) => Promise<void>;
}

/** The real Velero for a world: bin and work dirs from its control plane (or the test run's). */
async function startWorldVelero(
  opts: WorldOptions,
  kubeconfig: string,
  controlPlane: World['controlPlane'],
  stack: (() => Promise<void>)[],
): Promise<RealVelero> {
  const given = typeof opts.velero === 'object' ? opts.velero : {};
  const binDir = given.binDir ?? controlPlane?.binDir ?? process.env.VW_TEST_BIN_DIR;
  if (!binDir) throw new Error('the real Velero needs the tools bin dir (scripts/build-tools.sh): none is known');
  let dir = given.dir;
  if (!dir) {
    dir = await mkdtemp(join(controlPlane?.dir ?? tmpdir(), 'velero-'));
    if (!controlPlane) {
      const made = dir;
      stack.push(async () => rmSync(made, { recursive: true, force: true }));
    }
  }
  // Two at a time, as an installation with many applications would run it: with Velero's default
  // of one, v1.18 starts each queued backup only at its queue's one-minute recheck (README, "The
  // test world"). Backups of one namespace still run one after another.
  const velero = await startRealVelero({ log: opts.log, concurrentBackups: 2, ...given, binDir, dir, kubeconfig });
  stack.push(() => velero.stop());
  return velero;
}

/** A control plane (started here or given), the real Velero, a fake Odoo and the simulated operator. */
export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const stack: (() => Promise<void>)[] = [];
  const stop = async () => {
    for (const fn of stack.reverse()) await fn().catch((err) => opts.log?.(`stopping: ${(err as Error).message}`));
    stack.length = 0;
  };
  try {
    let kubeconfig = opts.kubeconfig;
    let controlPlane: World['controlPlane'];
    if (!kubeconfig) {
      const { startControlPlane } = await import('./control-plane');
      const cp = await startControlPlane({ log: opts.log, buildTargets: opts.buildTargets });
      stack.push(() => cp.stop());
      controlPlane = cp;
      kubeconfig = cp.adminKubeconfig;
    }
    const real = opts.velero !== 'simulated';
    const velero = real ? await startWorldVelero(opts, kubeconfig, controlPlane, stack) : undefined;
    const odoo = await startFakeOdoo();
    stack.push(() => odoo.stop());
    await opts.beforeSim?.(kubeconfig, odoo);
    const sim = new SimOperator({
      log: opts.log,
      ...(real ? { controllers: realVeleroControllers } : {}),
      ...opts.sim,
      // With the real Velero the simulator never plays it, whatever controllers a test names.
      ...(real && opts.sim?.controllers ? { controllers: opts.sim.controllers.filter((c) => c !== 'velero') } : {}),
      // The simulated Velero configured as the real one here is (--concurrent-backups=2).
      ...(real ? {} : { timing: { veleroConcurrentBackups: 2, ...opts.sim?.timing } }),
      kubeconfig,
      odooUrl: opts.sim?.odooUrl ?? odoo.url,
    });
    await sim.start();
    stack.push(() => sim.stop());
    let faults: SandboxFaultsWatch | undefined;
    if (opts.faultsConfigMap !== false) {
      const where = typeof opts.faultsConfigMap === 'object' ? opts.faultsConfigMap : {};
      const kube = clientFor(kubeconfig);
      stack.push(async () => kube.close());
      faults = await watchSandboxFaults({ kube, odoo, sim, store: velero?.store, log: opts.log, ...where });
      const watch = faults;
      stack.push(async () => watch.stop());
    }
    return { kubeconfig, odoo, sim, faults, velero, controlPlane, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
