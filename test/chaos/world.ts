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
import { type FaultProxy, startFaultProxy } from '../support/fault-proxy';
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
  seeded: SandboxSummary;
  /** The test's own client: hand edits and invariant checks, never through a proxy. */
  kube: Kube;
  /** The proxy every run of the schedule goes through (faults and the record of writes). */
  proxy: FaultProxy;
  /** A second proxy for the concurrent run, so each run's writes are told apart. */
  second: FaultProxy;
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
}

export async function startChaosWorld(
  apps: number,
  log: (line: string) => void,
  opts: ChaosWorldOptions = {},
): Promise<ChaosWorld> {
  const world = await startWorld({ log, sim: { log: () => {}, healthIntervalMs: opts.healthIntervalMs } });
  const stack: (() => Promise<unknown>)[] = [() => world.stop()];
  const stop = async () => {
    for (const fn of stack.reverse()) await fn().catch(() => undefined);
  };
  try {
    const cp = world.controlPlane;
    if (!cp) throw new Error('chaos needs a control plane of its own');
    const helm = join(cp.binDir, 'helm');
    const seeded = await seedSandbox(world.kubeconfig, {
      apps,
      namespaces: 2,
      notBackupCapableEvery: 5,
      helmBin: helm,
      odooUrl: world.odoo.url,
    });
    const kube = Kube.fromFile(world.kubeconfig, { userAgent: chaosUserAgent });
    stack.push(async () => kube.close());
    const [proxy, second] = await Promise.all([startFaultProxy(world.kubeconfig), startFaultProxy(world.kubeconfig)]);
    stack.push(
      () => proxy.stop(),
      () => second.stop(),
    );
    const handPaused = await pauseByHand(kube, seeded);
    const handSuspended = await suspendByHand(kube, seeded);
    const sentinels = await plantSentinels(kube, seeded);
    const releaseObjects = await releaseManifest(world.kubeconfig, helm);
    return { world, seeded, kube, proxy, second, helm, releaseObjects, handPaused, handSuspended, sentinels, stop };
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
