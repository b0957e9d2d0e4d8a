import { type ApplicationInstance, kinds, type Operation, pauseAnnotation, pauseValue } from '../support/contract';
import { Informer, type Kube, type KubeObject } from '../support/kube';
import { upstream } from '../support/kinds';

// What the chaos checker knows of the cluster's history, from its own watches: when each
// application was paused, every backup Operation ever created (kept after it is deleted), the
// Velero Backups now, and, at the moment an application started to go, whether it then had a
// final backup that counts. Ordering is by resourceVersion (etcd's revision), not by clocks.

const marginMs = 24 * 3600_000;

interface OperationRecord {
  createdRv: number;
  last: Operation;
  gone: boolean;
}

export interface Verdict {
  app: string;
  counted: boolean;
  why: string;
}

const rvOf = (o: KubeObject) => Number(o.metadata.resourceVersion ?? 0);
const keyOf = (o: { metadata: { namespace?: string; name: string } }) => `${o.metadata.namespace}/${o.metadata.name}`;

export class Observer {
  private readonly abort = new AbortController();
  private readonly pausedRv = new Map<string, number>();
  private readonly ops = new Map<string, OperationRecord>();
  private readonly apps: Informer<ApplicationInstance & KubeObject>;
  private readonly operations: Informer<Operation & KubeObject>;
  private readonly velero: Informer;
  private readonly lastApp = new Map<string, ApplicationInstance>();
  /** Per application key, the verdict when its deletion was first seen. */
  readonly verdicts = new Map<string, Verdict>();
  /** Backups started while another backup of the same application was in flight or counted. */
  readonly duplicates: string[] = [];
  readonly errors: string[] = [];

  constructor(kube: Kube) {
    const opts = { signal: this.abort.signal, onError: (e: unknown) => this.errors.push(String(e)) };
    this.apps = new Informer<ApplicationInstance & KubeObject>(kube, kinds.applicationInstances, opts).on((type, obj) =>
      this.onApp(type, obj),
    );
    this.operations = new Informer<Operation & KubeObject>(kube, kinds.operations, opts).on((type, obj) =>
      this.onOperation(type, obj),
    );
    this.velero = new Informer(kube, upstream.veleroBackups, opts);
  }

  async start() {
    await Promise.all([this.velero.start(), this.operations.start(), this.apps.start()]);
  }

  stop() {
    this.abort.abort();
  }

  private onApp(type: string, app: ApplicationInstance & KubeObject) {
    const key = keyOf(app);
    if (type !== 'DELETED') this.lastApp.set(key, app);
    const paused = app.metadata.annotations?.[pauseAnnotation] === pauseValue;
    if (type !== 'DELETED') {
      if (paused && !this.pausedRv.has(key)) this.pausedRv.set(key, rvOf(app));
      if (!paused) this.pausedRv.delete(key);
    }
    if ((type === 'DELETED' || app.metadata.deletionTimestamp) && !this.verdicts.has(key)) {
      this.verdicts.set(key, { app: key, ...this.judge(key) });
    }
    if (type === 'ADDED' && !app.metadata.deletionTimestamp) this.verdicts.delete(key);
  }

  private onOperation(type: string, op: Operation & KubeObject) {
    const key = keyOf(op);
    const known = this.ops.get(key);
    if (type === 'ADDED' && (!known || known.gone)) {
      this.checkDuplicate(op);
      this.ops.set(key, { createdRv: rvOf(op), last: op, gone: false });
      return;
    }
    if (known) {
      known.last = op;
      known.gone = type === 'DELETED' || !!op.metadata.deletionTimestamp;
    }
  }

  private backupsOf(app: string): OperationRecord[] {
    return [...this.ops.values()].filter(
      (r) =>
        r.last.spec?.type === 'Backup' &&
        r.last.spec.targetRef?.kind === 'ApplicationInstance' &&
        `${r.last.metadata.namespace}/${r.last.spec.targetRef.name}` === app,
    );
  }

  private checkDuplicate(op: Operation & KubeObject) {
    if (op.spec?.type !== 'Backup') return;
    const app = `${op.metadata.namespace}/${op.spec.targetRef?.name}`;
    for (const other of this.backupsOf(app)) {
      if (other.gone) continue;
      const phase = other.last.status?.phase;
      const name = keyOf(other.last);
      if (phase !== 'Succeeded' && phase !== 'Failed')
        this.duplicates.push(`${keyOf(op)} created while ${name} (${phase ?? 'no phase yet'}) was in flight`);
      else if (phase === 'Succeeded' && this.counts(app, other).counted)
        this.duplicates.push(`${keyOf(op)} created while ${name} counted`);
    }
  }

  private counts(app: string, r: OperationRecord): { counted: boolean; why: string } {
    const name = keyOf(r.last);
    const paused = this.pausedRv.get(app);
    if (r.last.status?.phase !== 'Succeeded')
      return { counted: false, why: `${name} ${r.last.status?.phase ?? 'pending'}` };
    if (r.last.spec.engine && r.last.spec.engine !== 'velero') return { counted: false, why: `${name} not by velero` };
    if (paused === undefined || r.createdRv < paused)
      return { counted: false, why: `${name} started before the pause` };
    const ref = r.last.status?.backupRef;
    const backup = ref && this.velero.get(`${ref.namespace}/${ref.name}`);
    if (!backup) return { counted: false, why: `${name}: its Velero Backup is gone` };
    const status = backup.status as { phase?: string; expiration?: string } | undefined;
    if (status?.phase !== 'Completed') return { counted: false, why: `${name}: Velero ${status?.phase ?? 'New'}` };
    if (status.expiration && Date.parse(status.expiration) < Date.now() + marginMs)
      return { counted: false, why: `${name}: expires ${status.expiration}` };
    return { counted: true, why: `${name} counts` };
  }

  /** Whether an application has, right now, a final backup that counts (or can have none). */
  judge(app: string): { counted: boolean; why: string } {
    const spec = this.lastApp.get(app)?.spec;
    if (spec?.backup?.capable === false) return { counted: true, why: 'not backup-capable' };
    const reasons: string[] = [];
    for (const r of this.backupsOf(app)) {
      if (r.last.status?.phase === 'Failed' && r.last.status.reason === 'BackupNotSupported')
        return { counted: true, why: 'BackupNotSupported' };
      const c = this.counts(app, r);
      if (c.counted) return c;
      reasons.push(c.why);
    }
    return { counted: false, why: reasons.join('; ') || 'no backup Operation' };
  }

  /** Applications that exist now (not deleting). */
  liveApps(): string[] {
    return this.apps
      .list()
      .filter((a) => !a.metadata.deletionTimestamp)
      .map(keyOf);
  }
}
