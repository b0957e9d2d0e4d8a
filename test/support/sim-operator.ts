import { KubeClient } from '../../lib/kube/client';
import { resolveKubeTarget } from '../../lib/kube/config';
import { objectKey, observe } from '../../lib/kube/watch';
import { operatorNamespace, veleroNamespace } from '../../lib/operator/names';
import { applicationInstanceController } from './sim-operator/application-instances';
import { clusterController } from './sim-operator/clusters';
import { type Controller, defaultFaults, type SimContext, type SimFaults, splitKey } from './sim-operator/context';
import { OperatorDeploymentStatus } from './sim-operator/deployment';
import { operationController } from './sim-operator/operations';
import { WorkQueue } from './sim-operator/queue';
import { volumeController } from './sim-operator/volumes';

export type { BackupFailure, SimFaults } from './sim-operator/context';
export { catalogSource } from './sim-operator/application-instances';
export { instanceLabel, snapshotDriver, veleroBackupName } from './sim-operator/operations';

/**
 * A simulated vworkspace-operator: the reconcilers operator-api.md describes, driven by watches
 * (list + watch through lib/kube/watch, a keyed work queue per kind) against the real test
 * control plane. It does what the plugins rely on the operator doing, and nothing they do.
 *
 *   const sim = new SimOperator({ kubeconfig, namespaces: [ns] });
 *   await sim.start();   // resolves once every watch has listed
 *   ...
 *   await sim.stop();
 */

export type SimController = 'applicationInstances' | 'operations' | 'clusters' | 'volumes';

export interface SimOperatorOptions {
  kubeconfig: string;
  /** Namespaces to reconcile; undefined means all. */
  namespaces?: string[];
  /** Odoo's URL when a Cluster's spec.odoo.url is empty. */
  odooUrl?: string;
  /** Where Clusters and the operator Deployment live (default vworkspace-system); handled only when in scope. */
  clusterNamespace?: string;
  veleroNamespace?: string;
  log?: (line: string) => void;
  /** Keep Deployment vworkspace-operator's status in step with the sim (default true). */
  manageDeployment?: boolean;
  /**
   * Behave like the operator's pod: once the Deployment has been seen, its deletion (helm
   * uninstall) or a scale to 0 stops reconciling until it is back (default true; needs
   * manageDeployment).
   */
  followDeployment?: boolean;
  /**
   * Which reconcilers run (default all). 'volumes' stands in for the PV controller: a PV whose
   * claim (in scope) is deleted becomes Released (Retain) or is deleted (Delete).
   */
  controllers?: SimController[];
  faults?: Partial<SimFaults>;
  /** How often a Cluster's Odoo health is re-checked (default 10 s). */
  healthIntervalMs?: number;
  /** Timeout of each Odoo call (default 5 s). */
  odooTimeoutMs?: number;
  /** Backoff of the decommission retries (default 500 ms doubling to 5 s). */
  decommissionBackoff?: { initialMs: number; maxMs: number };
}

/** Thrown inside reconcilers once the sim stops, so nothing is written afterwards. */
class SimStopped extends Error {
  constructor() {
    super('simulated operator stopped');
  }
}

interface Running {
  abort: AbortController;
  queues: WorkQueue[];
  known: Set<string>[];
}

interface Process {
  abort: AbortController;
  client: KubeClient;
  deployment?: OperatorDeploymentStatus;
  controllers?: Running;
  /** True once the Deployment was seen: from then on its absence means "not running". */
  deploymentSeen: boolean;
  transitions: Promise<void>;
  /** Set first thing by stop() and crash(): no transition may start reconciling again. */
  stopping: boolean;
}

const envLog =
  process.env.VW_SIM_LOG === '1' ? (line: string) => process.stderr.write(`[sim-operator] ${line}\n`) : () => {};

export class SimOperator {
  /** Runtime-switchable faults; after changing them in place, call kick() (setFaults does). */
  readonly faults: SimFaults;
  private readonly opts: SimOperatorOptions;
  private readonly log: (line: string) => void;
  private proc?: Process;

  constructor(opts: SimOperatorOptions) {
    this.opts = opts;
    this.log = opts.log ?? envLog;
    this.faults = { ...defaultFaults(), ...opts.faults };
  }

  get clusterNamespace() {
    return this.opts.clusterNamespace ?? operatorNamespace;
  }

  /** Whether the sim is started (not stopped, not crashed). */
  get started() {
    return this.proc !== undefined;
  }

  /** Whether the reconcilers are running (false while dormant because the Deployment is gone). */
  get reconciling() {
    return this.proc?.controllers !== undefined;
  }

  private inScope(namespace: string) {
    return !this.opts.namespaces || this.opts.namespaces.includes(namespace);
  }

  private buildControllers(): Controller[] {
    const wanted = new Set<SimController>(
      this.opts.controllers ?? ['applicationInstances', 'operations', 'clusters', 'volumes'],
    );
    const namespaces = this.opts.namespaces ?? [undefined];
    const list: Controller[] = [];
    if (wanted.has('applicationInstances')) list.push(applicationInstanceController(namespaces));
    if (wanted.has('operations')) list.push(operationController(namespaces));
    if (wanted.has('clusters') && this.inScope(this.clusterNamespace))
      list.push(clusterController(this.clusterNamespace));
    if (wanted.has('volumes')) list.push(volumeController((ns) => this.inScope(ns), namespaces));
    return list;
  }

  async start(): Promise<void> {
    if (this.proc) throw new Error('simulated operator already started');
    const client = new KubeClient(resolveKubeTarget({ kubeconfig: this.opts.kubeconfig }, process.env), {
      maxConnections: 8,
      userAgent: 'vworkspace-operator-sim',
    });
    const proc: Process = {
      abort: new AbortController(),
      client,
      deploymentSeen: false,
      transitions: Promise.resolve(),
      stopping: false,
    };
    this.proc = proc;
    try {
      if ((this.opts.manageDeployment ?? true) && this.inScope(this.clusterNamespace)) {
        proc.deployment = new OperatorDeploymentStatus(client, this.clusterNamespace, this.log);
        const follow = this.opts.followDeployment ?? true;
        let initial = true;
        let scaledDown = false;
        await proc.deployment.watch(proc.abort.signal, (p) => {
          if (p.present) proc.deploymentSeen = true;
          scaledDown = p.present && p.replicas === 0;
          if (initial || !follow || !proc.deploymentSeen) return;
          const wanted = p.present && p.replicas > 0;
          if (wanted !== (proc.controllers !== undefined)) this.transition(proc, wanted);
        });
        initial = false;
        // Started against a Deployment scaled to 0, the operator is not running either.
        if (follow && scaledDown) {
          this.log('operator Deployment scaled to 0: started, not reconciling');
          await proc.deployment.setRunning(false);
          return;
        }
      }
      await this.startControllers(proc);
      await proc.deployment?.setRunning(true);
      this.log(`started (namespaces: ${this.opts.namespaces?.join(', ') ?? 'all'})`);
    } catch (err) {
      proc.abort.abort();
      await this.stopControllers(proc, false);
      client.close();
      this.proc = undefined;
      throw err;
    }
  }

  /** Going dormant or waking with the Deployment, one transition at a time. */
  private transition(proc: Process, run: boolean) {
    proc.transitions = proc.transitions
      .then(async () => {
        if (proc.stopping || proc.abort.signal.aborted) return;
        if (run && !proc.controllers) {
          this.log('operator Deployment is back: reconciling again');
          await this.startControllers(proc);
          await proc.deployment?.setRunning(true);
        } else if (!run && proc.controllers) {
          this.log('operator Deployment gone or scaled to 0: no longer reconciling');
          await this.stopControllers(proc, false);
          await proc.deployment?.setRunning(false);
        }
      })
      .catch((err) => this.log(`transition failed: ${(err as Error).message}`));
  }

  private async startControllers(proc: Process) {
    const abort = new AbortController();
    const parent = proc.abort.signal;
    parent.addEventListener('abort', () => abort.abort(), { once: true });
    const ctx: SimContext = {
      client: proc.client,
      signal: abort.signal,
      faults: this.faults,
      log: this.log,
      odooUrl: this.opts.odooUrl,
      veleroNamespace: this.opts.veleroNamespace ?? veleroNamespace,
      odooTimeoutMs: this.opts.odooTimeoutMs ?? 5_000,
      healthIntervalMs: this.opts.healthIntervalMs ?? 10_000,
      decommissionBackoff: this.opts.decommissionBackoff ?? { initialMs: 500, maxMs: 5_000 },
      guard: () => {
        if (abort.signal.aborted) throw new SimStopped();
      },
    };
    const running: Running = { abort, queues: [], known: [] };
    proc.controllers = running;
    const listed: Promise<void>[] = [];
    for (const controller of this.buildControllers()) {
      const known = new Set<string>();
      const queue = new WorkQueue(
        async (key) => {
          if (abort.signal.aborted) return;
          const [namespace, name] = splitKey(key);
          try {
            return await controller.reconcile(ctx, namespace, name);
          } catch (err) {
            if (err instanceof SimStopped || abort.signal.aborted) return;
            throw err;
          }
        },
        { onError: (key, err) => this.log(`${controller.name} ${key}: ${(err as Error).message}`) },
      );
      running.queues.push(queue);
      running.known.push(known);
      for (const source of controller.watches) {
        for (const namespace of source.namespaces) {
          const keyOf = source.keyOf ?? objectKey;
          listed.push(
            new Promise<void>((resolve, reject) => {
              observe(proc.client, source.resource, {
                namespace,
                fieldSelector: source.fieldSelector,
                signal: abort.signal,
                onList: (items) => {
                  for (const obj of items) {
                    const key = keyOf(obj);
                    if (key === undefined) continue;
                    known.add(key);
                    queue.add(key);
                  }
                  resolve();
                },
                onEvent: (type, obj) => {
                  const key = keyOf(obj);
                  if (key === undefined) return;
                  if (type === 'DELETED') known.delete(key);
                  else known.add(key);
                  queue.add(key);
                },
                onError: (err) =>
                  this.log(`${controller.name} watch of ${source.resource.plural}: ${(err as Error).message}`),
              }).then(resolve, (err) => {
                this.log(`${controller.name} watch of ${source.resource.plural} ended: ${(err as Error).message}`);
                reject(err);
              });
            }),
          );
        }
      }
    }
    await Promise.all(listed);
  }

  /** graceful: let reconciles in flight finish their writes; otherwise they stop at their next write. */
  private async stopControllers(proc: Process, graceful: boolean) {
    const running = proc.controllers;
    if (!running) return;
    proc.controllers = undefined;
    if (!graceful) running.abort.abort();
    const drained = Promise.all(running.queues.map((q) => q.shutdown()));
    if (graceful) {
      // A reconcile waiting on a slow Odoo is cut off after a while, as a pod's grace period would.
      const timer = setTimeout(() => running.abort.abort(), 5_000);
      await drained;
      clearTimeout(timer);
      running.abort.abort();
    } else {
      await drained;
    }
  }

  /** Stops cleanly: reconciles in flight finish, then the watches end and the Deployment shows 0 available. */
  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    proc.stopping = true;
    await proc.transitions;
    await this.stopControllers(proc, true);
    proc.abort.abort();
    await proc.deployment?.setRunning(false);
    proc.client.close();
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
    await this.stopControllers(proc, false);
    await proc.deployment?.setRunning(false);
    proc.client.close();
    this.log('crashed');
  }

  /** Starts again after a stop or crash (crashing first if still running): everything is relisted. */
  async restart(): Promise<void> {
    if (this.proc) await this.crash();
    await this.start();
  }

  /** Changes faults and re-runs every reconcile, so a lifted hang or a new delay takes effect. */
  setFaults(faults: Partial<SimFaults>) {
    Object.assign(this.faults, faults);
    this.kick();
  }

  /** Re-runs the reconcile of every object the sim knows about. */
  kick() {
    const running = this.proc?.controllers;
    if (!running) return;
    running.queues.forEach((q, i) => {
      for (const key of running.known[i] ?? []) q.add(key);
    });
  }

  /** Resolves when no reconcile is queued or running (timed requeues aside). */
  async idle(): Promise<void> {
    for (;;) {
      const queues = this.proc?.controllers?.queues ?? [];
      await Promise.all(queues.map((q) => q.whenIdle()));
      if (queues.every((q) => q.idle)) return;
    }
  }
}
