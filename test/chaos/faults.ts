import { kinds, pauseAnnotation, pauseValue, veleroNamespace } from '../support/contract';
import type { FaultRule } from '../support/fault-proxy';
import { type KubeObject, isNotFound } from '../support/kube';
import { core, upstream } from '../support/kinds';
import { sandboxFaultsName, sandboxFaultsNamespace } from '../support/sandbox-faults';
import type { Rng } from './random';
import { kill, type Run, running } from './runs';
import type { Fault } from './schedule';
import type { ChaosWorld } from './world';

// Puts a schedule's faults into the world at their moments, and takes them all out again: what a
// user does between the failed run and the next (Odoo back, the stuck finalizer removed by hand).

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
  /** The run in progress, if any. */
  current(): Run | undefined;
  /** Starts a second run alongside. */
  startConcurrent(command: Extract<Fault, { kind: 'concurrent' }>['command']): Promise<void>;
}

const writeMethods = /^(POST|PUT|PATCH|DELETE)$/;

export class Injector {
  /** API fault rules in force, given to every run's proxy as it starts. */
  readonly rules = new Set<FaultRule>();
  readonly handEdits: HandEdit[] = [];
  injected = 0;
  private timers: NodeJS.Timeout[] = [];
  private frozen = false;

  constructor(private readonly ctx: FaultContext) {}

  /** Arms the faults, each at its moment from now. */
  arm(faults: Fault[]) {
    for (const f of faults)
      this.timers.push(
        setTimeout(() => {
          this.inject(f).then(
            (done) => {
              if (done) this.injected++;
            },
            (err) => this.ctx.cw.world.faults && console.error(`chaos: injecting ${f.kind}: ${err}`),
          );
        }, f.atMs),
      );
  }

  private later(ms: number, fn: () => void) {
    this.timers.push(setTimeout(fn, ms));
  }

  private async inject(f: Fault): Promise<boolean> {
    const { cw } = this.ctx;
    switch (f.kind) {
      case 'kill': {
        const run = this.ctx.current();
        return !!run && kill(run, f.signal);
      }
      case 'api': {
        const rule: FaultRule = {
          action: f.action,
          probability: f.probability,
          ...(f.writesOnly ? { method: writeMethods } : {}),
        };
        this.rules.add(rule);
        const run = this.ctx.current();
        const handle = run && running(run) ? run.proxy.addRule(rule) : undefined;
        this.later(f.forMs, () => {
          this.rules.delete(rule);
          handle?.remove();
        });
        return true;
      }
      case 'freeze':
        cw.world.controlPlane?.signal('kube-apiserver', 'SIGSTOP');
        this.frozen = true;
        this.later(f.forMs, () => this.thaw());
        return true;
      case 'odoo':
        return this.switchFault({ odoo: f.mode });
      case 'backups':
        return this.switchFault({ backups: f.outcome });
      case 'storage-location':
        return this.switchFault({ storageLocation: 'Unavailable' });
      case 'stuck-finalizer':
        return this.hold(f.on);
      case 'concurrent':
        await this.ctx.startConcurrent(f.command);
        return true;
      case 'hand-edit':
        return this.handEdit(f.edit);
    }
  }

  private thaw() {
    if (!this.frozen) return;
    this.frozen = false;
    this.ctx.cw.world.controlPlane?.signal('kube-apiserver', 'SIGCONT');
  }

  private async switchFault(data: Record<string, string>): Promise<boolean> {
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

  private async handEdit(edit: Extract<Fault, { kind: 'hand-edit' }>['edit']): Promise<boolean> {
    const { kube, seeded } = this.ctx.cw;
    const apps = (
      await kube.list(kinds.applicationInstances).catch(() => ({ items: [] as KubeObject[] }))
    ).items.filter((a) => !a.metadata.deletionTimestamp);
    const record = (target?: string) => {
      this.handEdits.push({ at: Date.now(), edit, target });
      return true;
    };
    switch (edit) {
      case 'annotate': {
        if (!apps.length) return false;
        const a = this.ctx.rng.pick(apps);
        await kube.mergePatch(kinds.applicationInstances, a.metadata.name, a.metadata.namespace, {
          metadata: { annotations: { [touchedAnnotation]: 'by hand' } },
        });
        return record(`${a.metadata.namespace}/${a.metadata.name}`);
      }
      case 'delete-application': {
        if (!apps.length) return false;
        const a = this.ctx.rng.pick(apps);
        await kube.delete(kinds.applicationInstances, a.metadata.name, a.metadata.namespace);
        return record(`${a.metadata.namespace}/${a.metadata.name}`);
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
        return record(`${veleroNamespace}/${b.metadata.name}`);
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
        return record(`${namespace}/${name}`);
      }
    }
  }

  /** Every fault out: timers stopped, the API server thawed, switches back, held finalizers removed. */
  async clear(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    this.rules.clear();
    this.thaw();
    await this.switchFault({ odoo: 'up', backups: 'succeed', storageLocation: 'Available' });
    await this.release();
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
