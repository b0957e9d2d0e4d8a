import { randomBytes } from 'node:crypto';
import { execa } from 'execa';
import { installOperatorChart } from '../support/chart';
import { kinds, operatorNamespace } from '../support/contract';
import type { KubeObject } from '../support/kube';
import { core } from '../support/kinds';
import { ensureCluster, sandboxClusterName } from '../support/sandbox';
import { type FaultRecord, type Injector, isPaused } from './faults';
import { leaseResource, lockName, lockNamespace } from './lease-watch';
import { aliveAt, holdersOf, type Run, running } from './runs';
import type { Fault } from './schedule';

// Faults of meaning: nothing breaks, but what the run checked is no longer what it acts on, or
// what it is told to act on is not what the user confirmed. The shell names another cluster, the
// kubeconfig switches context, the operator is installed again under the same names, a capability
// changes, someone resumes between step 3's check and its act, the lock is taken away by hand, a
// backup that Velero calls PartiallyFailed is called Succeeded, a TTL is just over the margin.

type Of<K extends Fault['kind']> = Extract<Fault, { kind: K }>;

/** The first pass's faults that take effect when a run starts rather than at a moment. */
const startKinds = new Set<Fault['kind']>(['helm-env', 'ttl-near-margin', 'resume-window']);
export const selfManaged = new Set<Fault['kind']>([
  'concurrent',
  'context-switch',
  'reinstall',
  'capability-flip',
  'lock-lost',
  'partial-succeeded',
  'storage-location',
]);

const waitMs = 60_000;
const handReleaseAfterMs = 3_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class Meaning {
  private resumeWindow?: { fault: Of<'resume-window'>; record: FaultRecord };
  private handHolder?: string;

  constructor(private readonly injector: Injector) {}

  private get ctx() {
    return this.injector.ctx;
  }

  isStartFault(f: Fault): boolean {
    return startKinds.has(f.kind);
  }

  /** Faults that take effect for the runs to come rather than at a moment: true when this is one. */
  atStart(f: Fault, record: FaultRecord): boolean {
    if (!startKinds.has(f.kind)) return false;
    if (f.kind === 'helm-env') {
      const elsewhere = this.ctx.decoy.url;
      this.injector.env = {
        HELM_KUBEAPISERVER: elsewhere,
        HELM_KUBETOKEN: 'a-token-for-another-cluster',
        HELM_KUBEINSECURE_SKIP_TLS_VERIFY: 'true',
        HELM_KUBEASUSER: 'someone-else',
        HELM_NAMESPACE: 'elsewhere',
        HELM_KUBECONTEXT: 'elsewhere',
        HELM_DRIVER: 'configmap',
      };
      // Met only if helm ran: some run under these variables deleted in the operator's namespace.
      record.confirm = () =>
        this.ctx
          .runs()
          .some(
            (r) =>
              r.env.HELM_KUBEAPISERVER === elsewhere &&
              r.proxy.requests.some(
                (q) => q.method === 'DELETE' && q.path.includes(`/namespaces/${operatorNamespace}/`),
              ),
          );
    } else if (f.kind === 'ttl-near-margin') {
      const ttl = `24h0m${f.overMarginSeconds}s`;
      this.injector.ttl = ttl;
      record.confirm = () =>
        this.ctx
          .runs()
          .some((r) =>
            r.proxy.requests.some(
              (q) => q.method === 'POST' && q.path.endsWith('/operations') && q.body?.includes(ttl),
            ),
          );
    } else if (f.kind === 'resume-window') {
      this.resumeWindow = { fault: f, record };
      return true;
    }
    record.injected = true;
    record.hit = true;
    return true;
  }

  /** A run of the procedure starts: a resume placed before its nth read of the Clusters in step 3. */
  onRunStart(run: Run) {
    const w = this.resumeWindow;
    if (!w || w.record.injected || run.label.startsWith('concurrent') || this.injector.isCleared) return;
    let reads = 0;
    const inStep3 = () => run.args[0] === 'decommission' || run.stderr.includes('== Step 3');
    run.proxy.addRule({
      method: 'GET',
      path: new RegExp(`/namespaces/${operatorNamespace}/clusters$`),
      match: () => inStep3() && ++reads === w.fault.read,
      times: 1,
      action: {
        before: async () => {
          await this.resumeAll();
          w.record.injected = true;
          w.record.hit = running(run);
        },
      },
    });
  }

  /** What `kubectl vw resume --all` undoes (kubectl vw's own pauses), done by hand. */
  private async resumeAll() {
    const { kube } = this.ctx.cw;
    for (const a of await this.injector.liveApps()) {
      if (!a.metadata.annotations?.['kubectl-vw.vworkspace.io/paused-at']) continue;
      await kube
        .mergePatch(kinds.applicationInstances, a.metadata.name, a.metadata.namespace, {
          metadata: {
            annotations: { 'apps.vworkspace.io/reconcile': null, 'kubectl-vw.vworkspace.io/paused-at': null },
          },
        })
        .catch(() => undefined);
      this.injector.recordEdit('resume', `${a.metadata.namespace}/${a.metadata.name}`);
    }
  }

  async inject(f: Fault, record: FaultRecord): Promise<boolean> {
    switch (f.kind) {
      case 'concurrent':
        return this.concurrent(f, record);
      case 'context-switch':
        return this.contextSwitch(record);
      case 'reinstall':
        return this.reinstall(f, record);
      case 'capability-flip':
        return this.flip(f, record);
      case 'lock-lost':
        return this.loseLock(f, record);
      case 'partial-succeeded':
        this.ctx.cw.world.sim.setFaults({ backupOutcome: 'partial', partialAsSucceeded: true });
        record.hit = this.injector.active();
        return true;
      default:
        throw new Error(`not a fault of meaning: ${f.kind}`);
    }
  }

  /** The current run, once it holds the lock (as the checker's watch of the Lease shows). */
  /** The run at work, or the next one if the steps are between two commands (none after 5 s). */
  async nextRun(): Promise<Run | undefined> {
    const deadline = Date.now() + 5_000;
    while (!this.ctx.current() && Date.now() < deadline && !this.injector.isCleared) await sleep(50);
    return this.injector.isCleared ? undefined : this.ctx.current();
  }

  private async holding(): Promise<Run | undefined> {
    const run = await this.nextRun();
    if (!run) return undefined;
    const held = await this.ctx.lease.waitFor((h) => !!h && holdersOf(run).has(h), Math.min(waitMs, 20_000));
    return held && running(run) && !this.injector.isCleared ? run : undefined;
  }

  private async concurrent(f: Of<'concurrent'>, record: FaultRecord): Promise<boolean> {
    const first = (await this.holding()) ?? this.ctx.current();
    if (!first || !running(first) || this.injector.isCleared) return false;
    record.hit = true;
    const second = await this.ctx.startConcurrent(f.command);
    // Contended only if the second run met the lock while the first held it.
    record.confirm = () => {
      const mine = holdersOf(first);
      return second.proxy.requests.some((q) => {
        if (!q.path.endsWith(`/leases/${lockName}`)) return false;
        const t = q.time.getTime();
        const holder = this.ctx.lease.at(t).holder;
        return !!holder && mine.has(holder) && aliveAt(first, t);
      });
    };
    return true;
  }

  private async contextSwitch(record: FaultRecord): Promise<boolean> {
    const run = this.ctx.current();
    if (!run || !running(run)) return false;
    // A run resolves its target once, as it starts: a switch before its first request (a slow
    // start on a loaded machine) is a run started on the other context, which is the user's choice.
    const deadline = Date.now() + 5_000;
    while (!run.proxy.requests.length && running(run) && Date.now() < deadline) await sleep(50);
    if (!run.proxy.requests.length || !running(run)) return false;
    const at = Date.now();
    await execa('kubectl', ['--kubeconfig', run.kubeconfig, 'config', 'use-context', 'elsewhere']);
    record.hit = running(run);
    // Met only if the run went on working after the switch.
    record.confirm = () => run.proxy.requests.some((q) => q.time.getTime() > at + 100);
    return true;
  }

  /** Waits for step 1 to be done: every ApplicationInstance paused (false if it never is, or faults were cleared). */
  async allPaused(): Promise<boolean> {
    const { cw } = this.ctx;
    const deadline = Date.now() + waitMs;
    while (!this.injector.isCleared && Date.now() < deadline) {
      const apps = await cw.kube.list(kinds.applicationInstances).catch(() => undefined);
      if (apps?.items.length && apps.items.every(isPaused)) return true;
      await sleep(100);
    }
    return false;
  }

  /** Waits until no Cluster is left (step 3 done) while the CRDs stand; false if that does not come. */
  async clusterGone(): Promise<boolean> {
    const { cw } = this.ctx;
    const deadline = Date.now() + waitMs;
    while (!this.injector.isCleared && Date.now() < deadline) {
      const crd = await cw.kube.find(core.customResourceDefinitions, 'clusters.ops.vworkspace.io');
      if (!crd) return false;
      const clusters = await cw.kube.list(kinds.clusters, { namespace: operatorNamespace }).catch(() => undefined);
      if (clusters && clusters.items.length === 0) return true;
      await sleep(100);
    }
    return false;
  }

  private async reinstall(f: Of<'reinstall'>, record: FaultRecord): Promise<boolean> {
    const { cw } = this.ctx;
    if (!(await this.clusterGone())) return false;
    record.hit = this.injector.active();
    this.injector.recordEdit('reinstall', `${operatorNamespace}/${sandboxClusterName}`);
    // The Cluster first: a release installed before its Cluster exists could be uninstalled by
    // step 5 in between (its gate saw no Cluster), leaving a Cluster no operator will ever drain.
    await ensureCluster(cw.kube, { odooUrl: cw.world.odoo.url });
    await installOperatorChart(cw.world.kubeconfig, { helmBin: cw.helm, odooUrl: cw.world.odoo.url });
    if (f.removedByHand) await this.removeByHand();
    return true;
  }

  /** The new Cluster, once registered, deleted with its finalizers dropped: the operator never calls Odoo. */
  private async removeByHand() {
    const { kube } = this.ctx.cw;
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && !this.injector.isCleared) {
      const c = await kube.find(kinds.clusters, sandboxClusterName, operatorNamespace);
      if ((c?.status as { clusterID?: string } | undefined)?.clusterID) break;
      await sleep(100);
    }
    this.injector.recordEdit('cluster removed by hand', `${operatorNamespace}/${sandboxClusterName}`);
    await kube.mergePatch(kinds.clusters, sandboxClusterName, operatorNamespace, { metadata: { finalizers: null } });
    await kube.delete(kinds.clusters, sandboxClusterName, operatorNamespace).catch(() => undefined);
  }

  private async flip(f: Of<'capability-flip'>, record: FaultRecord): Promise<boolean> {
    const apps = await this.injector.liveApps();
    const capable = (a: KubeObject) => (a.spec as { backup?: { capable?: boolean } })?.backup?.capable !== false;
    const candidates = apps.filter((a) => capable(a) !== f.to);
    if (!candidates.length) return false;
    const a = this.ctx.rng.pick(candidates);
    record.hit = this.injector.active();
    await this.ctx.cw.kube.mergePatch(kinds.applicationInstances, a.metadata.name, a.metadata.namespace, {
      spec: { backup: { capable: f.to } },
    });
    this.injector.recordEdit(`capability-flip to ${f.to}`, `${a.metadata.namespace}/${a.metadata.name}`);
    return true;
  }

  /** Another holder written into the Lease by hand while a run holds it; given up again a little later. */
  private async loseLock(f: Of<'lock-lost'>, record: FaultRecord): Promise<boolean> {
    const run = await this.holding();
    if (!run) return false;
    await sleep(f.afterMs);
    const { kube } = this.ctx.cw;
    const lease = await kube.find(leaseResource, lockName, lockNamespace);
    const holder = (lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity;
    if (!lease || !holder || !holdersOf(run).has(holder) || !running(run) || this.injector.isCleared) return false;
    const hand = `elsewhere.example/1/${randomBytes(4).toString('hex')}/PurgeResult`;
    this.injector.handHolders.add(hand);
    await kube.replace(leaseResource, {
      ...lease,
      spec: {
        ...(lease.spec as object),
        holderIdentity: hand,
        renewTime: new Date().toISOString().replace('Z', '000Z'),
      },
    });
    this.handHolder = hand;
    record.hit = running(run);
    this.injector.recordEdit('lock-lost', hand);
    this.injector.later(handReleaseAfterMs, () => void this.releaseHand());
    return true;
  }

  /** The hand holder lets go, as a run does when it ends (client-go's ReleaseOnCancel). */
  private async releaseHand() {
    const hand = this.handHolder;
    if (!hand) return;
    this.handHolder = undefined;
    const { kube } = this.ctx.cw;
    const lease = await kube.find(leaseResource, lockName, lockNamespace).catch(() => undefined);
    if ((lease?.spec as { holderIdentity?: string } | undefined)?.holderIdentity !== hand || !lease) return;
    await kube
      .replace(leaseResource, {
        ...lease,
        spec: { ...(lease.spec as object), holderIdentity: undefined, leaseDurationSeconds: 1 },
      })
      .catch(() => undefined);
  }

  /** Waits until a backup is in flight (as the checker's watch sees it); false if none comes. */
  async backupInFlight(): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    while (!this.injector.isCleared && Date.now() < deadline) {
      if (this.ctx.observer.backupsInFlight() > 0) return true;
      await sleep(100);
    }
    return false;
  }

  async clear() {
    this.resumeWindow = undefined;
    this.ctx.cw.world.sim.setFaults({ backupOutcome: 'succeed', partialAsSucceeded: false });
    await this.releaseHand();
  }
}
