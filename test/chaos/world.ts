import { join } from 'node:path';
import yaml from 'js-yaml';
import { helm as runHelm } from '../support/chart';
import {
  helmReleaseName,
  kinds,
  operatorNamespace,
  pauseAnnotation,
  pauseValue,
  veleroNamespace,
} from '../support/contract';
import { type ControlPlane, startControlPlane } from '../support/control-plane';
import type { FakeOdoo } from '../support/fake-odoo';
import { Kube, type KubeObject } from '../support/kube';
import { core, metaTime, upstream } from '../support/kinds';
import { type SandboxSummary, seedSandbox, startWorld, type World } from '../support/sandbox';
import { until } from '../support/wait';

// One schedule's world: a fresh control plane with the simulated operator, fake Odoo and a seeded
// installation, plus what a real cluster has that the tool must leave alone: applications paused
// by hand, HelmReleases suspended by hand, a ConfigMap per tenant namespace and a Velero Backup
// that kubectl vw did not take. Every schedule starts from the same state, so one replays alone.

export const chaosUserAgent = 'chaos-hand/v1';

export interface Sentinel {
  resource: typeof core.configMaps | typeof upstream.veleroBackups;
  namespace: string;
  name: string;
  resourceVersion: string;
}

export interface ChaosWorld {
  world: World;
  /** Its own control plane: the campaign freezes its API server. */
  controlPlane: ControlPlane;
  seeded: SandboxSummary;
  /** The test's own client: hand edits and invariant checks, never through a proxy. */
  kube: Kube;
  helm: string;
  /** `plural/name` of every namespaced object the helm release holds (what purge's plan names). */
  releaseObjects: Set<string>;
  handPaused: string[];
  handSuspended: string[];
  sentinels: Sentinel[];
  stop(): Promise<void>;
}

const key = (o: { metadata: { namespace?: string; name: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;

export interface ChaosWorldOptions {
  /** How often the simulated operator checks Odoo's health. */
  healthIntervalMs?: number;
  /** Seed every world from scratch instead of starting a copy of the first one seeded (slower). */
  fresh?: boolean;
}

/** What a seeded world is, beside its cluster: kept with the snapshot its copies start from. */
type Seeding = Pick<ChaosWorld, 'seeded' | 'releaseObjects' | 'handPaused' | 'handSuspended' | 'sentinels'>;

/**
 * Seeds a world on the control plane: the installation, and what the tool must leave alone (paused
 * and suspended by hand, ConfigMaps and a Velero Backup of others).
 */
async function seedWorld(world: World, kube: Kube, apps: number, helm: string): Promise<Seeding> {
  const seeded = await seedSandbox(world.kubeconfig, {
    apps,
    namespaces: 2,
    notBackupCapableEvery: 5,
    helmBin: helm,
    odooUrl: world.odoo.url,
  });
  const handPaused = await pauseByHand(kube, seeded);
  const handSuspended = await suspendByHand(kube, seeded);
  const sentinels = await plantSentinels(kube, seeded);
  const releaseObjects = await releaseManifest(world.kubeconfig, helm);
  return { seeded, releaseObjects, handPaused, handSuspended, sentinels };
}

/** The Cluster registered, the operator's Deployments rolled out: an installation as a user finds it. */
async function settled(kube: Kube) {
  await until(async () => {
    const clusters = (await kube.list(kinds.clusters, { namespace: operatorNamespace })).items;
    return clusters.every((c) => (c.status as { clusterID?: string } | undefined)?.clusterID) || undefined;
  }, 'the Cluster registered');
}

const snapshots = new Map<number, Promise<{ dir: string; seeding: Seeding }>>();

/**
 * A world seeded once per campaign and snapshotted (etcd's data and the PKI, its processes
 * stopped): each schedule's world starts a copy, with its own ports, fake Odoo and simulated
 * operator, instead of installing CRDs and seeding again. Same cluster, a few seconds cheaper.
 */
function snapshotOf(apps: number, opts: ChaosWorldOptions): Promise<{ dir: string; seeding: Seeding }> {
  let s = snapshots.get(apps);
  if (!s) {
    s = (async () => {
      const cp = await startControlPlane({});
      const world = await startWorld({ kubeconfig: cp.adminKubeconfig, velero: 'simulated', sim: simOptions(opts) });
      const kube = Kube.fromFile(world.kubeconfig, { userAgent: chaosUserAgent });
      try {
        const seeding = await seedWorld(world, kube, apps, join(cp.binDir, 'helm'));
        await settled(kube);
        kube.close();
        await world.stop();
        return { dir: await cp.snapshot(), seeding };
      } catch (err) {
        kube.close();
        await world.stop().catch(() => undefined);
        await cp.stop();
        throw err;
      }
    })();
    snapshots.set(apps, s);
  }
  return s;
}

const simOptions = (opts: ChaosWorldOptions) => ({ log: () => {}, healthIntervalMs: opts.healthIntervalMs });

/** The snapshot's Cluster names the snapshot's Odoo: this world's is elsewhere. */
async function pointAtOdoo(kubeconfig: string, odoo: FakeOdoo) {
  const kube = Kube.fromFile(kubeconfig, { userAgent: chaosUserAgent });
  try {
    for (const c of (await kube.list(kinds.clusters, { namespace: operatorNamespace })).items)
      await kube.mergePatch(kinds.clusters, c.metadata.name, operatorNamespace, { spec: { odoo: { url: odoo.url } } });
  } finally {
    kube.close();
  }
}

export async function startChaosWorld(
  apps: number,
  log: (line: string) => void,
  opts: ChaosWorldOptions = {},
): Promise<ChaosWorld> {
  const snapshot = opts.fresh ? undefined : await snapshotOf(apps, opts);
  const controlPlane = await startControlPlane({ log, from: snapshot?.dir });
  const stack: (() => Promise<unknown>)[] = [() => controlPlane.stop()];
  const stop = async () => {
    for (const fn of stack.reverse()) await fn().catch(() => undefined);
  };
  try {
    // The simulated Velero: the campaign runs hundreds of worlds, where its speed matters more than
    // Velero's own pace (test/integration/velero.test.ts holds the product to the real one).
    const world = await startWorld({
      kubeconfig: controlPlane.adminKubeconfig,
      velero: 'simulated',
      log,
      sim: simOptions(opts),
      beforeSim: snapshot ? pointAtOdoo : undefined,
    });
    stack.push(() => world.stop());
    const kube = Kube.fromFile(world.kubeconfig, { userAgent: chaosUserAgent });
    stack.push(async () => kube.close());
    const helm = join(controlPlane.binDir, 'helm');
    const seeding = snapshot?.seeding ?? (await seedWorld(world, kube, apps, helm));
    await settled(kube);
    return { world, controlPlane, kube, helm, ...seeding, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** What the release holds, as `helm get manifest` renders it. */
async function releaseManifest(kubeconfig: string, helmBin: string): Promise<Set<string>> {
  const manifest = await runHelm(kubeconfig, ['get', 'manifest', helmReleaseName, '-n', operatorNamespace], {
    helmBin,
  });
  const out = new Set<string>();
  for (const doc of yaml.loadAll(manifest) as ({ kind?: string; metadata?: { name?: string } } | null)[])
    if (doc?.kind && doc.metadata?.name) out.add(`${doc.kind.toLowerCase()}s/${doc.metadata.name}`);
  return out;
}

/** The first application of each namespace paused by hand, as an operator on call would. */
async function pauseByHand(kube: Kube, seeded: SandboxSummary): Promise<string[]> {
  const firsts = seeded.namespaces.map((ns) => seeded.apps.find((a) => a.namespace === ns)).filter((a) => !!a);
  for (const a of firsts)
    await kube.mergePatch(kinds.applicationInstances, a.name, a.namespace, {
      metadata: { annotations: { [pauseAnnotation]: pauseValue } },
    });
  return firsts.map((a) => `${a.namespace}/${a.name}`);
}

/** The last application's HelmRelease in each namespace suspended by hand (once the operator made it). */
async function suspendByHand(kube: Kube, seeded: SandboxSummary): Promise<string[]> {
  const lasts = seeded.namespaces.map((ns) => seeded.apps.filter((a) => a.namespace === ns).pop()).filter((a) => !!a);
  const out: string[] = [];
  for (const a of lasts) {
    const hr = await until(
      () => kube.find(upstream.helmReleases, a.name, a.namespace),
      `the HelmRelease of ${a.namespace}/${a.name}`,
    );
    await kube.mergePatch(upstream.helmReleases, hr.metadata.name, a.namespace, { spec: { suspend: true } });
    out.push(key(hr as KubeObject & { metadata: { name: string } }));
  }
  return out;
}

async function plantSentinels(kube: Kube, seeded: SandboxSummary): Promise<Sentinel[]> {
  const out: Sentinel[] = [];
  for (const ns of seeded.namespaces) {
    const cm = await kube.create(core.configMaps, {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'chaos-sentinel', namespace: ns },
      data: { owner: 'someone else' },
    });
    out.push({ resource: core.configMaps, namespace: ns, name: 'chaos-sentinel', resourceVersion: rv(cm) });
  }
  // Velero's Backup has no status subresource: its status is written with the object.
  const done = await kube.create(upstream.veleroBackups, {
    apiVersion: 'velero.io/v1',
    kind: 'Backup',
    metadata: { name: 'nightly-chaos-sentinel', namespace: veleroNamespace },
    spec: { includedNamespaces: seeded.namespaces, storageLocation: 'aws-primary', ttl: '720h0m0s' },
    status: {
      phase: 'Completed',
      startTimestamp: metaTime(),
      completionTimestamp: metaTime(),
      expiration: metaTime(Date.now() + 720 * 3600_000),
    },
  });
  out.push({
    resource: upstream.veleroBackups,
    namespace: veleroNamespace,
    name: done.metadata.name,
    resourceVersion: rv(done),
  });
  return out;
}

const rv = (o: KubeObject) => String(o.metadata.resourceVersion);
