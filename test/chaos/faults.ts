import { kinds, pauseAnnotation, pauseValue, veleroNamespace } from '../support/contract';
import type { FaultRule, RuleHandle } from '../support/fault-proxy';
import { type KubeObject, isNotFound } from '../support/kube';
import { core, upstream } from '../support/kinds';
import { sandboxFaultsName, sandboxFaultsNamespace } from '../support/sandbox-faults';
import type { Decoy } from './decoy';
import type { LeaseTimeline } from './lease-watch';
import { Meaning, selfManaged } from './meaning';
import type { Observer } from './observer';
import type { Rng } from './random';
import { kill, type Run, running } from './runs';
import type { Fault } from './schedule';
import type { ChaosWorld } from './world';

// Puts a schedule's faults into the world at their moments, and takes them all out again: what a
// user does between the failed run and the next (Odoo back, the stuck finalizer removed by hand).
// Each fault's record says whether it was injected and whether it hit: it happened while a run
// was at work (and, for some, only if the run then met it: a rule that applied, a second run that
// really contended for the lock, a helm that really ran under the shell's HELM_* variables).

export const holdFinalizer = 'chaos.example.com/hold';
export const touchedAnnotation = 'chaos.example.com/touched';

export interface HandEdit {
  at: number;
  edit: string;
  /** The application touched or made, `namespace/name`. */
  target?: string;
}

export interface FaultContext {
  cw: ChaosWorld;
  rng: Rng;
  lease: LeaseTimeline;
  observer: Observer;
  decoy: Decoy;
  /** The run in progress, if any. */
  current(): Run | undefined;
  /** Every run so far. */
  runs(): Run[];
  /** Starts a second run alongside. */
  startConcurrent(command: Extract<Fault, { kind: 'concurrent' }>['command']): Promise<Run>;
}

export interface FaultRecord {
  fault: Fault;
  injected: boolean;
  /** Injected while a run was at work (and, where it says so, met by it). */
  hit: boolean;
  /** Decided once every run has ended: did the run meet the fault? */
  confirm?: () => boolean;
}

const writeMethods = /^(POST|PUT|PATCH|DELETE)$/;

export class Injector {
  /** API fault rules in force, given to every run's proxy as it starts. */
  readonly rules = new Set<FaultRule>();
  /** Variables added to the environment of every run started while in force (a fault of meaning). */
  env: Record<string, string> = {};
  /** The first pass's --ttl, when a fault sets it. */
  ttl?: string;
  readonly handEdits: HandEdit[] = [];
  /** Holder identities written into the Lease by hand. */
  readonly handHolders = new Set<string>();
  readonly records: FaultRecord[] = [];
  readonly meaning: Meaning;
  private readonly handles = new Map<FaultRule, RuleHandle[]>();
  private timers: NodeJS.Timeout[] = [];
  private frozen = false;
  private cleared = false;

  constructor(readonly ctx: FaultContext) {
    this.meaning = new Meaning(this);
  }

  get injected(): number {
    return this.records.filter((r) => r.injected).length;
  }

  /** The faults of the first run's start (its environment, its TTL): in force before it starts. */
  prepare(faults: Fault[]) {
    for (const fault of faults) {
      const record: FaultRecord = { fault, injected: false, hit: false };
      this.records.push(record);
      this.meaning.atStart(fault, record);
    }
  }

  /** Arms the other faults, each at its moment from now (the first run has just started). */
  arm() {
    for (const record of this.records) {
      const { fault } = record;
      if (this.meaning.isStartFault(fault)) continue;
      this.timers.push(
        setTimeout(() => {
          this.inject(fault, record).catch((err) => {
            if (!this.cleared) console.error(`chaos: injecting ${fault.kind}: ${(err as Error).stack ?? err}`);
          });
        }, fault.atMs),
      );
    }
  }

  /** A new run: the rules in force go to its proxy, and faults placed at a request of its own get their hook. */
  onRunStart(run: Run) {
    for (const rule of this.rules) this.track(rule, run.proxy.addRule(rule));
    this.meaning.onRunStart(run);
  }

  /** Whether a run is at work now. */
  active(): boolean {
    const run = this.ctx.current();
    return !!run && running(run);
  }

  later(ms: number, fn: () => void) {
    this.timers.push(setTimeout(fn, ms));
  }

  get isCleared() {
    return this.cleared;
  }

  private track(rule: FaultRule, handle: RuleHandle) {
    this.handles.set(rule, [...(this.handles.get(rule) ?? []), handle]);
  }

  private async inject(f: Fault, record: FaultRecord): Promise<void> {
    if (this.cleared) return;
    const active = this.active();
    const done = await this.injectNow(f, record);
    record.injected = done;
    if (!selfManaged.has(f.kind)) record.hit ||= done && active;
  }

  private async injectNow(f: Fault, record: FaultRecord): Promise<boolean> {
    const { cw } = this.ctx;
    switch (f.kind) {
      case 'kill': {
        // Between two commands of the steps there is no run for a moment: the next is killed.
        const run = await this.meaning.nextRun();
        return !!run && kill(run, f.signal);
      }
      case 'api':
      case 'hang':
        return this.addRule(f, record);
      case 'freeze':
        cw.controlPlane.signal('kube-apiserver', 'SIGSTOP');
        this.frozen = true;
        this.later(f.forMs, () => this.thaw());
        return true;
      case 'odoo':
        return this.switchFault({ odoo: f.mode });
      case 'backups':
        return this.switchFault({ backups: f.outcome });
      case 'storage-location':
        if (f.midBackup && !(await this.meaning.backupInFlight())) return false;
        record.hit = this.active();
        return this.switchFault({ storageLocation: 'Unavailable' });
      case 'stuck-finalizer':
        return this.hold(f.on);
      case 'hand-edit':
        if (f.afterStep3 && !(await this.meaning.clusterGone())) return false;
        if (f.afterPause && !(await this.meaning.allPaused())) return false;
        return this.handEdit(f.edit);
      default:
        return this.meaning.inject(f, record);
    }
  }

  private addRule(f: Extract<Fault, { kind: 'api' | 'hang' }>, record: FaultRecord): boolean {
    const rule: FaultRule = {
      action: f.kind === 'hang' ? { hang: true } : f.action,
      probability: f.probability,
      ...(f.writesOnly ? { method: writeMethods } : {}),
    };
    this.rules.add(rule);
    const run = this.ctx.current();
    if (run && running(run)) this.track(rule, run.proxy.addRule(rule));
    // Hit only if some request of a run met it.
    record.confirm = () => (this.handles.get(rule) ?? []).some((h) => h.applied > 0);
    this.later(f.forMs, () => {
      this.rules.delete(rule);
      for (const h of this.handles.get(rule) ?? []) h.remove();
    });
    return true;
  }

  private thaw() {
    if (!this.frozen) return;
    this.frozen = false;
    this.ctx.cw.controlPlane.signal('kube-apiserver', 'SIGCONT');
  }

  async switchFault(data: Record<string, string>): Promise<boolean> {
    await this.ctx.cw.kube.mergePatch(core.configMaps, sandboxFaultsName, sandboxFaultsNamespace, { data });
    return true;
  }

  /** A finalizer of someone else's on the Cluster or an application; none can be added to what is being deleted. */
  private async hold(on: 'cluster' | 'application'): Promise<boolean> {
    const { kube } = this.ctx.cw;
    const resource = on === 'cluster' ? kinds.clusters : kinds.applicationInstances;
    const items = (await kube.list(resource).catch(() => ({ items: [] as KubeObject[] }))).items.filter(
      (o) => !o.metadata.deletionTimestamp,
    );
    if (!items.length) return false;
    const target = this.ctx.rng.pick(items);
    await kube.jsonPatch(resource, target.metadata.name, target.metadata.namespace, [
      { op: 'test', path: '/metadata/resourceVersion', value: target.metadata.resourceVersion },
      { op: 'add', path: '/metadata/finalizers', value: [...(target.metadata.finalizers ?? []), holdFinalizer] },
    ]);
    return true;
  }

  recordEdit(edit: string, target?: string) {
    this.handEdits.push({ at: Date.now(), edit, target });
    return true;
  }

  async liveApps(): Promise<KubeObject[]> {
    const { kube } = this.ctx.cw;
    const all = await kube.list(kinds.applicationInstances).catch(() => ({ items: [] as KubeObject[] }));
    return all.items.filter((a) => !a.metadata.deletionTimestamp);
  }

  private async handEdit(edit: Extract<Fault, { kind: 'hand-edit' }>['edit']): Promise<boolean> {
    const { kube, seeded } = this.ctx.cw;
    const apps = await this.liveApps();
    switch (edit) {
      case 'annotate': {
        if (!apps.length) return false;
        const a = this.ctx.rng.pick(apps);
        await kube.mergePatch(kinds.applicationInstances, a.metadata.name, a.metadata.namespace, {
          metadata: { annotations: { [touchedAnnotation]: 'by hand' } },
        });
        return this.recordEdit(edit, `${a.metadata.namespace}/${a.metadata.name}`);
      }
      case 'delete-application': {
        if (!apps.length) return false;
        const a = this.ctx.rng.pick(apps);
        await kube.delete(kinds.applicationInstances, a.metadata.name, a.metadata.namespace);
        return this.recordEdit(edit, `${a.metadata.namespace}/${a.metadata.name}`);
      }
      case 'delete-velero-backup': {
        const backups = (await kube.list(upstream.veleroBackups, { namespace: veleroNamespace })).items.filter(
          (b) => !b.metadata.name.startsWith('nightly-'),
        );
        if (!backups.length) return false;
        const b = this.ctx.rng.pick(backups);
        await kube.delete(upstream.veleroBackups, b.metadata.name, veleroNamespace).catch((e) => {
          if (!isNotFound(e)) throw e;
        });
        return this.recordEdit(edit, `${veleroNamespace}/${b.metadata.name}`);
      }
      case 'new-application': {
        // Only while the operator can still pause and back it up: a latecomer after step 3 has no way through.
        const clusters = (await kube.list(kinds.clusters).catch(() => ({ items: [] as KubeObject[] }))).items;
        if (!clusters.length || clusters.some((c) => c.metadata.deletionTimestamp)) return false;
        const namespace = seeded.namespaces[0] as string;
        const name = `latecomer-${this.handEdits.length + 1}`;
        await kube.create(kinds.applicationInstances, {
          apiVersion: 'apps.vworkspace.io/v1alpha1',
          kind: 'ApplicationInstance',
          metadata: { name, namespace },
          spec: { catalogRef: { name: 'odoo', version: '17.0.3' } },
        });
        return this.recordEdit(edit, `${namespace}/${name}`);
      }
    }
  }

  /** Every fault out: timers stopped, the API server thawed, switches back, held finalizers removed. */
  async clear(): Promise<void> {
    this.cleared = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    for (const rule of this.rules) for (const h of this.handles.get(rule) ?? []) h.remove();
    this.rules.clear();
    this.env = {};
    this.ttl = undefined;
    this.thaw();
    await this.switchFault({ odoo: 'up', backups: 'succeed', storageLocation: 'Available' });
    await this.meaning.clear();
    await this.release();
  }

  /** After every run has ended: which faults the runs really met. */
  settle() {
    for (const r of this.records) if (r.confirm && r.hit) r.hit = r.confirm();
  }

  private async release() {
    for (let attempt = 0; attempt < 10 && (await this.releaseOnce()); attempt++);
  }

  /** Removes the held finalizers it finds; true when some removal lost a race and must be tried again. */
  private async releaseOnce(): Promise<boolean> {
    const { kube } = this.ctx.cw;
    let again = false;
    for (const resource of [kinds.clusters, kinds.applicationInstances]) {
      const items = (await kube.list(resource).catch(() => ({ items: [] as KubeObject[] }))).items;
      for (const o of items) {
        const finalizers = o.metadata.finalizers ?? [];
        if (!finalizers.includes(holdFinalizer)) continue;
        await kube
          .jsonPatch(resource, o.metadata.name, o.metadata.namespace, [
            { op: 'test', path: '/metadata/finalizers', value: finalizers },
            { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((x) => x !== holdFinalizer) },
          ])
          .catch((err) => {
            if (!isNotFound(err)) again = true;
          });
      }
    }
    return again;
  }
}

export const isPaused = (o: KubeObject) => o.metadata.annotations?.[pauseAnnotation] === pauseValue;
