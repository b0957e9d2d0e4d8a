import { bundleDeployments, operatorDeploymentName } from './chart';
import { helmReleaseName, operatorNamespace, veleroNamespace as contractVeleroNamespace } from './contract';
import { Informer, Kube, type KubeObject, objectKey } from './kube';
import { core } from './kinds';
import { applicationInstanceController } from './sim-operator/application-instances';
import { clusterController } from './sim-operator/clusters';
import { csiDriverController } from './sim-operator/csi-driver';
import {
  type Controller,
  defaultFaults,
  type SimContext,
  type SimFaults,
  SimStopped,
  splitKey,
} from './sim-operator/context';
import {
  type DeploymentObject,
  deploymentController,
  replicasOf,
  writeDeploymentStatus,
} from './sim-operator/deployment';
import { fluxController } from './sim-operator/flux';
import { operationController } from './sim-operator/operations';
import { WorkQueue } from './sim-operator/queue';
import { draw, type LatencyProfile, resolveTiming, type SimTiming } from './sim-operator/timing';
import {
  deletionController,
  type SimObjectStore,
  storageLocationController,
  syncController,
  veleroController,
} from './sim-operator/velero';
import { volumeController } from './sim-operator/volumes';

export type {
  BackupFailure,
  BackupOutcome,
  Registration,
  SimFaults,
} from './sim-operator/context';
export { catalogSource } from './sim-operator/application-instances';
export { healthPath } from './sim-operator/clusters';
export {
  instanceLabel,
  operationAnnotation,
  operationNamespaceLabel,
  snapshotDriver,
  veleroBackupName,
} from './sim-operator/operations';
export { type LatencyProfile, type SimTiming, timingProfiles } from './sim-operator/timing';

/**
 * A simulated vworkspace-operator and the world it lives in, driven by watches (list + watch, a
 * keyed work queue per controller with controller-runtime's backoff) against the real test
 * control plane:
 *
 * - the operator's reconcilers (operator-api.md): ApplicationInstances (HelmReleases, the pause
 *   condition), Operations, Clusters. They run while the operator's Deployment is there and
 *   scaled up (followDeployment), as the operator's pod would.
 * - the world's stand-ins: Velero (its Backup phase machine, garbage collection, location
 *   validation), Flux's helm-controller (its HelmRelease finalizer), the kubelet and deployment
 *   controller (Deployment status of the release's controllers and of the operator), the PV
 *   controller. Velero and Flux act only while their Deployments are installed (once seen).
 *
 * Every step takes a jittered while by default (latency 'realistic').
 *
 *   const sim = new SimOperator({ kubeconfig, namespaces: [ns] });
 *   await sim.start();   // resolves once every watch has listed
 *   ...
 *   await sim.stop();
 */

export type SimController =
  | 'applicationInstances'
  | 'operations'
  | 'clusters'
  | 'volumes'
  | 'velero'
  | 'flux'
  | 'deployments'
  | 'csiDriver';

export const allControllers: SimController[] = [
  'applicationInstances',
  'operations',
  'clusters',
  'volumes',
  'velero',
  'flux',
  'deployments',
  'csiDriver',
];

/** With a real Velero: every controller but the simulated Velero's. */
export const realVeleroControllers: SimController[] = allControllers.filter((c) => c !== 'velero');

export interface SimOperatorOptions {
  kubeconfig: string;
  /** Namespaces to reconcile; undefined means all. */
  namespaces?: string[];
  /** Odoo's URL when a Cluster's spec.odoo.url is empty. */
  odooUrl?: string;
  /** Where Clusters and the release's Deployments live (default vworkspace-system); handled only when in scope. */
  clusterNamespace?: string;
  /** Where Velero keeps its Backups and locations (default velero). */
  veleroNamespace?: string;
  log?: (line: string) => void;
  /** The operator's own Deployment (default: the stand-in chart's, chart.ts operatorDeploymentName). */
  operatorDeployment?: string;
  /** Flux's helm-controller Deployment (default: the chart's); once seen, Flux runs only while it is there. */
  fluxDeployment?: string;
  /** Velero's Deployment (default: the chart's); once seen, Velero runs only while it is there. */
  veleroDeployment?: string;
  /** The helm release whose Deployments the kubelet stand-in rolls out (default vworkspace-app-operator). */
  release?: string;
  /** Write the Deployments' status as the kubelet would (default true). */
  manageDeployment?: boolean;
  /**
   * Behave like the operator's pod: once its Deployment has been seen, its deletion (helm
   * uninstall) or a scale to 0 stops reconciling until it is back (default true).
   */
  followDeployment?: boolean;
  /** The CSI driver the storage driver stand-in serves (default rbd.csi.ceph.com, the seeded volumes'). */
  csiDriver?: string;
  /**
   * The csiSnapshotTimeout on the Velero Backups the operator makes (default 10m0s; while
   * faults.backupOutcome is partial, 15s, so that a snapshot the driver never takes ends the
   * backup PartiallyFailed soon).
   */
  csiSnapshotTimeout?: string;
  /** Which controllers run (default all). */
  controllers?: SimController[];
  faults?: Partial<SimFaults>;
  /** 'realistic' (default): every step takes a jittered while; 'fast': next to none. */
  latency?: LatencyProfile;
  /** Overrides of the latency profile's values, e.g. { backoff: { baseMs: 50, maxMs: 1000 } }. */
  timing?: Partial<SimTiming>;
  /** How often a Cluster's Odoo health is re-checked (default 10 s). */
  healthIntervalMs?: number;
  /** Timeout of each Odoo call (default 5 s). */
  odooTimeoutMs?: number;
  /** Deprecated: timing.backoff ({ baseMs: initialMs, maxMs }). */
  decommissionBackoff?: { initialMs: number; maxMs: number };
  /** The operator's User-Agent, on its API requests and its Odoo calls (default vworkspace-operator/v0.1.0). */
  userAgent?: string;
}

interface Group {
  abort: AbortController;
  controllers: Controller[];
  queues: WorkQueue[];
  known: Set<string>[];
}

interface Process {
  abort: AbortController;
  kubes: Map<string, Kube>;
  /** The kubelet's client, for the operator Deployment's status on stop and crash. */
  kubelet: Kube;
  operator?: Group;
  world?: Group;
  /** Deployments of the cluster namespace, by name, once listed. */
  deployments?: Informer<DeploymentObject>;
  /** Bundle Deployments seen at least once: from then on their absence means "not installed". */
  seen: Set<string>;
  transitions: Promise<void>;
  /** Set first thing by stop() and crash(): no transition may start reconciling again. */
  stopping: boolean;
}

const envLog =
  process.env.VW_SIM_LOG === '1' ? (line: string) => process.stderr.write(`[sim-operator] ${line}\n`) : () => {};

export const operatorUserAgent = 'vworkspace-operator/v0.1.0';

export class SimOperator {
  /** Runtime-switchable faults; after changing them in place, call kick() (setFaults does). */
  readonly faults: SimFaults;
  readonly timing: SimTiming;
  /**
   * What the simulated Velero wrote to object storage (its finished Backups): outlives a crash or
   * restart, as a bucket would. A test removes an entry to play data lost from the store.
   */
  readonly objectStore: SimObjectStore = new Map();
  private readonly opts: SimOperatorOptions;
  private readonly log: (line: string) => void;
  private proc?: Process;

  constructor(opts: SimOperatorOptions) {
    this.opts = opts;
    this.log = opts.log ?? envLog;
    this.faults = { ...defaultFaults(), ...opts.faults };
    const legacy = opts.decommissionBackoff;
    this.timing = resolveTiming(opts.latency, {
      ...(legacy ? { backoff: { baseMs: legacy.initialMs, maxMs: legacy.maxMs } } : {}),
      ...opts.timing,
    });
  }

  get clusterNamespace() {
    return this.opts.clusterNamespace ?? operatorNamespace;
  }

  get veleroNamespace() {
    return this.opts.veleroNamespace ?? contractVeleroNamespace;
  }

  get operatorDeployment() {
    return this.opts.operatorDeployment ?? operatorDeploymentName;
  }

  /** Whether the sim is started (not stopped, not crashed). */
  get started() {
    return this.proc !== undefined;
  }

  /** Whether the operator's reconcilers are running (false while dormant because its Deployment is gone). */
  get reconciling() {
    return this.proc?.operator !== undefined;
  }

  /** Whether Flux runs (its Deployment there, or never seen). */
  get fluxInstalled() {
    return this.installed(this.opts.fluxDeployment ?? bundleDeployments.helmController);
  }

  /** Whether Velero runs (its Deployment there, or never seen). */
  get veleroInstalled() {
    return this.installed(this.opts.veleroDeployment ?? bundleDeployments.velero);
  }

  private installed(deployment: string): boolean {
    const proc = this.proc;
    if (!proc?.deployments || !proc.seen.has(deployment)) return true;
    const d = proc.deployments.get(`${this.clusterNamespace}/${deployment}`);
    return !!d && !d.metadata.deletionTimestamp && replicasOf(d) > 0;
  }

  private inScope(namespace: string | undefined) {
    if (namespace === undefined) return !this.opts.namespaces;
    return !this.opts.namespaces || this.opts.namespaces.includes(namespace);
  }

  private wanted() {
    return new Set<SimController>(this.opts.controllers ?? allControllers);
  }

  private operatorControllers(): Controller[] {
    const wanted = this.wanted();
    const namespaces = this.opts.namespaces ?? [undefined];
    const list: Controller[] = [];
    if (wanted.has('applicationInstances')) list.push(applicationInstanceController(namespaces));
    if (wanted.has('operations')) list.push(operationController(namespaces, this.veleroNamespace));
    if (wanted.has('clusters') && this.inScope(this.clusterNamespace))
      list.push(clusterController(this.clusterNamespace));
    return list;
  }

  private worldControllers(): Controller[] {
    const wanted = this.wanted();
    const namespaces = this.opts.namespaces ?? [undefined];
    const list: Controller[] = [];
    if (wanted.has('volumes')) list.push(volumeController((ns) => this.inScope(ns), namespaces));
    if (wanted.has('velero')) {
      const installed = () => this.veleroInstalled;
      list.push(veleroController(this.veleroNamespace, installed, this.objectStore));
      list.push(deletionController(this.veleroNamespace, installed, this.objectStore));
      list.push(syncController(this.veleroNamespace, installed, this.objectStore));
      list.push(storageLocationController(this.veleroNamespace, installed));
    }
    if (wanted.has('flux')) list.push(fluxController(namespaces, () => this.fluxInstalled));
    if (wanted.has('csiDriver')) list.push(csiDriverController(this.opts.csiDriver));
    if (wanted.has('deployments') && this.managesDeployments) {
      list.push(
        deploymentController({
          namespace: this.clusterNamespace,
          operatorDeployment: this.operatorDeployment,
          release: this.opts.release ?? helmReleaseName,
          operatorRunning: () => this.reconciling,
        }),
      );
    }
    return list;
  }

  private get managesDeployments() {
    return (this.opts.manageDeployment ?? true) && this.inScope(this.clusterNamespace);
  }

  private kubeFor(proc: Process, userAgent: string): Kube {
    let kube = proc.kubes.get(userAgent);
    if (!kube) {
      kube = Kube.fromFile(this.opts.kubeconfig, { userAgent, maxSockets: 8 });
      proc.kubes.set(userAgent, kube);
    }
    return kube;
  }

  async start(): Promise<void> {
    if (this.proc) throw new Error('simulated operator already started');
    const proc: Process = {
      abort: new AbortController(),
      kubes: new Map(),
      kubelet: Kube.fromFile(this.opts.kubeconfig, { userAgent: 'kubelet/v1.32.0 (linux/amd64) kubernetes/sim' }),
      seen: new Set(),
      transitions: Promise.resolve(),
      stopping: false,
    };
    this.proc = proc;
    try {
      let runOperator = true;
      if (this.managesDeployments) {
        const informer = new Informer<DeploymentObject>(this.kubeFor(proc, operatorUserAgent), core.deployments, {
          namespace: this.clusterNamespace,
          signal: proc.abort.signal,
          onError: (err) => this.log(`deployment watch: ${(err as Error).message}`),
        });
        proc.deployments = informer;
        informer.on((type, d) => this.deploymentChanged(proc, type, d));
        await informer.start();
        for (const d of informer.list()) proc.seen.add(d.metadata.name);
        // Started against a Deployment scaled to 0, the operator is not running either.
        const mine = informer.get(`${this.clusterNamespace}/${this.operatorDeployment}`);
        if ((this.opts.followDeployment ?? true) && mine && replicasOf(mine) === 0) {
          this.log('operator Deployment scaled to 0: started, not reconciling');
          runOperator = false;
        }
      }
      proc.world = await this.startGroup(proc, this.worldControllers());
      if (runOperator) proc.operator = await this.startGroup(proc, this.operatorControllers());
      await this.syncOperatorDeployment(proc);
      this.log(`started (namespaces: ${this.opts.namespaces?.join(', ') ?? 'all'})`);
    } catch (err) {
      proc.abort.abort();
      await this.stopGroups(proc, false);
      this.closeClients(proc);
      this.proc = undefined;
      throw err;
    }
  }

  private deploymentChanged(proc: Process, type: string, d: KubeObject) {
    const name = d.metadata.name;
    if (type !== 'DELETED') proc.seen.add(name);
    if (!proc.world && !proc.operator) return; // still starting: start() decides
    const flux = this.opts.fluxDeployment ?? bundleDeployments.helmController;
    const velero = this.opts.veleroDeployment ?? bundleDeployments.velero;
    if (name === flux) this.kickGroup(proc.world, 'flux-helm-controller');
    if (name === velero) {
      this.kickGroup(proc.world, 'velero');
      this.kickGroup(proc.world, 'backupstoragelocations');
    }
    if (name === this.operatorDeployment && (this.opts.followDeployment ?? true)) {
      const present = type !== 'DELETED' && !d.metadata.deletionTimestamp;
      const wanted = present && replicasOf(d as DeploymentObject) > 0;
      if (wanted !== (proc.operator !== undefined)) this.transition(proc, wanted);
    }
  }

  /** The operator Deployment's status, straight from the kubelet (at start, stop and crash). */
  private async syncOperatorDeployment(proc: Process) {
    if (!proc.deployments) return;
    const d = proc.deployments.get(`${this.clusterNamespace}/${this.operatorDeployment}`);
    if (!d) return;
    const fresh = await proc.kubelet.find<DeploymentObject>(core.deployments, d.metadata.name, d.metadata.namespace);
    if (fresh) await writeDeploymentStatus(proc.kubelet, fresh, proc.operator !== undefined && !proc.stopping);
  }

  /** Going dormant or waking with the Deployment, one transition at a time. */
  private transition(proc: Process, run: boolean) {
    proc.transitions = proc.transitions
      .then(async () => {
        if (proc.stopping || proc.abort.signal.aborted) return;
        if (run && !proc.operator) {
          this.log('operator Deployment is back: reconciling again');
          proc.operator = await this.startGroup(proc, this.operatorControllers());
        } else if (!run && proc.operator) {
          this.log('operator Deployment gone or scaled to 0: no longer reconciling');
          const group = proc.operator;
          proc.operator = undefined;
          await this.stopGroup(group, false);
        }
        this.kickGroup(proc.world, 'deployments');
      })
      .catch((err) => this.log(`transition failed: ${(err as Error).message}`));
  }

  private async startGroup(proc: Process, controllers: Controller[]): Promise<Group> {
    const abort = new AbortController();
    const parent = proc.abort.signal;
    if (parent.aborted) abort.abort();
    else parent.addEventListener('abort', () => abort.abort(), { once: true });
    const group: Group = { abort, controllers, queues: [], known: [] };
    const listed: Promise<void>[] = [];
    for (const controller of controllers) {
      const userAgent = controller.userAgent ?? this.opts.userAgent ?? operatorUserAgent;
      const kube = this.kubeFor(proc, userAgent);
      const ctx: SimContext = {
        kube,
        signal: abort.signal,
        faults: this.faults,
        timing: this.timing,
        log: this.log,
        odooUrl: this.opts.odooUrl,
        veleroNamespace: this.veleroNamespace,
        clusterNamespace: this.clusterNamespace,
        csiSnapshotTimeout: this.opts.csiSnapshotTimeout ?? '10m0s',
        odooTimeoutMs: this.opts.odooTimeoutMs ?? 5_000,
        healthIntervalMs: this.opts.healthIntervalMs ?? 10_000,
        userAgent,
        inScope: (ns) => this.inScope(ns),
        guard: () => {
          if (abort.signal.aborted) throw new SimStopped();
        },
      };
      const known = new Set<string>();
      const queue = new WorkQueue(
        async (key) => {
          if (abort.signal.aborted) return undefined;
          const [namespace, name] = splitKey(key);
          try {
            return await controller.reconcile(ctx, namespace, name);
          } catch (err) {
            if (err instanceof SimStopped || abort.signal.aborted) return undefined;
            throw err;
          }
        },
        {
          latency: () => draw(this.timing.reconcileLatencyMs),
          backoff: this.timing.backoff,
          onError: (key, err, retryInMs) =>
            this.log(`${controller.name} ${key}: ${(err as Error).message} (retry in ${Math.round(retryInMs)} ms)`),
        },
      );
      group.queues.push(queue);
      group.known.push(known);
      const informers: Informer[] = [];
      controller.watches.forEach((source, index) => {
        for (const namespace of source.namespaces) {
          const keyOf = source.keyOf ?? objectKey;
          const informer = new Informer(kube, source.resource, {
            namespace,
            fieldSelector: source.fieldSelector,
            labelSelector: source.labelSelector,
            signal: abort.signal,
            onError: (err) =>
              this.log(`${controller.name} watch of ${source.resource.plural}: ${(err as Error).message}`),
          });
          informer.on((type, obj, old) => {
            const key = keyOf(obj);
            if (key === undefined) return;
            if (type === 'DELETED' && index === 0) known.delete(key);
            else known.add(key);
            if (source.predicate && !source.predicate(type, obj, old)) return;
            queue.add(key);
          });
          informers.push(informer);
          listed.push(informer.start());
        }
      });
      controller.started?.(informers);
    }
    try {
      await Promise.all(listed);
    } catch (err) {
      await this.stopGroup(group, false);
      throw err;
    }
    return group;
  }

  /** graceful: let reconciles in flight finish their writes; otherwise they stop at their next write. */
  private async stopGroup(group: Group, graceful: boolean) {
    if (!graceful) group.abort.abort();
    const drained = Promise.all(group.queues.map((q) => q.shutdown()));
    if (graceful) {
      // A reconcile waiting on a slow Odoo is cut off after a while, as a pod's grace period would.
      const timer = setTimeout(() => group.abort.abort(), 5_000);
      await drained;
      clearTimeout(timer);
      group.abort.abort();
    } else {
      await drained;
    }
  }

  private async stopGroups(proc: Process, graceful: boolean) {
    const { operator, world } = proc;
    proc.operator = undefined;
    proc.world = undefined;
    if (operator) await this.stopGroup(operator, graceful);
    if (world) await this.stopGroup(world, graceful);
  }

  private closeClients(proc: Process) {
    for (const kube of proc.kubes.values()) kube.close();
    proc.kubelet.close();
  }

  /** Stops cleanly: reconciles in flight finish, then the watches end and the Deployment shows 0 available. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    proc.stopping = true;
    await proc.transitions;
    await this.stopGroups(proc, true);
    proc.abort.abort();
    await this.syncOperatorDeployment(proc).catch((err) => this.log(`deployment status: ${(err as Error).message}`));
    this.closeClients(proc);
    this.log('stopped');
  }

  /**
   * Dies abruptly: every watch and reconcile is cut where it is (nothing more is written by
   * them) and state is left as it is; only the Deployment's status shows the pod gone, as the
   * kubelet would report it.
   */
  async crash(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    proc.stopping = true;
    proc.abort.abort();
    await this.stopGroups(proc, false);
    await this.syncOperatorDeployment(proc).catch((err) => this.log(`deployment status: ${(err as Error).message}`));
    this.closeClients(proc);
    this.log('crashed');
  }

  /** Starts again after a stop or crash (crashing first if still running): everything is relisted. */
  async restart(): Promise<void> {
    if (this.proc) await this.crash();
    await this.start();
  }

  /** Changes faults and re-runs every reconcile, so a lifted hang or a new outcome takes effect. */
  setFaults(faults: Partial<SimFaults>) {
    Object.assign(this.faults, faults);
    this.kick();
  }

  private kickGroup(group: Group | undefined, controller?: string) {
    if (!group) return;
    group.queues.forEach((q, i) => {
      if (controller && group.controllers[i]?.name !== controller) return;
      for (const key of group.known[i] ?? []) q.add(key);
    });
  }

  /** Re-runs the reconcile of every object the sim knows about. */
  kick() {
    this.kickGroup(this.proc?.operator);
    this.kickGroup(this.proc?.world);
  }

  /** Resolves when no reconcile is queued or running (timed requeues aside). */
  async idle(): Promise<void> {
    for (;;) {
      const queues = [...(this.proc?.operator?.queues ?? []), ...(this.proc?.world?.queues ?? [])];
      await Promise.all(queues.map((q) => q.whenIdle()));
      if (queues.every((q) => q.idle)) return;
    }
  }
}
