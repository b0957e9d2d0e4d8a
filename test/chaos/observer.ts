import {
  type ApplicationInstance,
  kinds,
  type Operation,
  operatorNamespace,
  pauseAnnotation,
  pauseValue,
} from '../support/contract';
import { Informer, type Kube, type KubeObject } from '../support/kube';
import { core, upstream } from '../support/kinds';

// What the chaos checker knows of the cluster's history, from its own watches: when each
// application was paused, every backup Operation ever created (kept after it is deleted), the
// Velero Backups now, the Clusters and the CRD of the applications, and, at the moment an
// application started to go (deleted alone, with its namespace, or with its CRD), whether it then
// had a final backup that counts. Ordering is by resourceVersion (etcd's revision), not by clocks.

/** kubectl vw's default --expiry-margin; a backup that expires within it does not count. */
const marginMs = 24 * 3600_000;
/**
 * The checker judges a moment apart from the product: an expiry this close to the margin is
 * borderline, neither a violation of the gate (it counts for deletions) nor a verdict to hold
 * status to.
 */
const marginSlackMs = 3_000;
const appsCrd = 'applicationinstances.apps.vworkspace.io';
export const finalBackupLabel = 'kubectl-vw.vworkspace.io/final-backup';

interface OperationRecord {
  createdRv: number;
  last: Operation;
  gone: boolean;
}

export interface Verdict {
  app: string;
  counted: boolean;
  why: string;
  /** How it went: alone, with its namespace, or with the CRD. */
  how: 'deleted' | 'with its namespace' | 'with the CRD';
  at: number;
}

/** What stood when a Cluster's deletion was first seen (step 3's act). */
export interface ClusterDeletion {
  cluster: string;
  uid?: string;
  at: number;
  /** Live applications then not paused, and those without a final backup that counts. */
  unpaused: string[];
  uncounted: string[];
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
  private readonly clusters: Informer;
  private readonly crds: Informer;
  private readonly namespaces: Informer;
  private readonly lastApp = new Map<string, ApplicationInstance>();
  private readonly createdAt = new Map<string, number>();
  /** Per application key, the verdict when its going was first seen. */
  readonly verdicts = new Map<string, Verdict>();
  /** Backups started while another backup of the same application was in flight or counted. */
  readonly duplicates: string[] = [];
  readonly finalBackupsCreated: string[] = [];
  readonly clusterDeletions: ClusterDeletion[] = [];
  /** When the operator's namespace held a Cluster (deleting or not), as seen: [at, present]. */
  readonly clusterPresence: { at: number; present: boolean }[] = [];
  /** Errors of the checker's own (a handler that threw): these fail the schedule. */
  readonly errors: string[] = [];
  /** Watch failures it recovered from by listing again (a frozen API server, a CRD deleted). */
  readonly gaps: string[] = [];

  constructor(kube: Kube) {
    const opts = (what: string) => ({
      signal: this.abort.signal,
      onError: (e: unknown) => (isHandlerError(e) ? this.errors : this.gaps).push(`${what}: ${String(e)}`),
    });
    const guard =
      <A extends unknown[]>(fn: (...a: A) => void) =>
      (...a: A) => {
        try {
          fn(...a);
        } catch (err) {
          throw new HandlerError(err);
        }
      };
    this.apps = new Informer<ApplicationInstance & KubeObject>(kube, kinds.applicationInstances, opts('apps')).on(
      guard((type, obj) => this.onApp(type, obj)),
    );
    this.operations = new Informer<Operation & KubeObject>(kube, kinds.operations, opts('operations')).on(
      guard((type, obj) => this.onOperation(type, obj)),
    );
    this.velero = new Informer(kube, upstream.veleroBackups, opts('velero'));
    this.clusters = new Informer(kube, kinds.clusters, { ...opts('clusters'), namespace: operatorNamespace }).on(
      guard((type, obj) => this.onCluster(type, obj)),
    );
    this.crds = new Informer(kube, core.customResourceDefinitions, {
      ...opts('crds'),
      fieldSelector: `metadata.name=${appsCrd}`,
    }).on(guard((type, obj) => this.onCrd(type, obj)));
    this.namespaces = new Informer(kube, core.namespaces, opts('namespaces')).on(
      guard((type, obj) => this.onNamespace(type, obj)),
    );
  }

  async start() {
    await Promise.all([this.velero.start(), this.operations.start(), this.apps.start()]);
    await Promise.all([this.clusters.start(), this.crds.start(), this.namespaces.start()]);
  }

  stop() {
    this.abort.abort();
  }

  private onApp(type: string, app: ApplicationInstance & KubeObject) {
    const key = keyOf(app);
    if (type !== 'DELETED') this.lastApp.set(key, app);
    if (type === 'ADDED' && !app.metadata.deletionTimestamp) this.createdAt.set(key, Date.now());
    const paused = app.metadata.annotations?.[pauseAnnotation] === pauseValue;
    if (type !== 'DELETED') {
      if (paused && !this.pausedRv.has(key)) this.pausedRv.set(key, rvOf(app));
      if (!paused) this.pausedRv.delete(key);
    }
    if (type === 'DELETED' || app.metadata.deletionTimestamp) this.going(key, 'deleted');
    if (type === 'ADDED' && !app.metadata.deletionTimestamp) this.verdicts.delete(key);
  }

  /** An application starts to go: judged once, at the first sign of it. */
  private going(key: string, how: Verdict['how']) {
    if (!this.verdicts.has(key)) this.verdicts.set(key, { app: key, ...this.judge(key), how, at: Date.now() });
  }

  private onCrd(type: string, crd: KubeObject) {
    if (type !== 'DELETED' && !crd.metadata.deletionTimestamp) return;
    for (const app of this.apps.list()) this.going(keyOf(app), 'with the CRD');
  }

  private onNamespace(type: string, ns: KubeObject) {
    if (type !== 'DELETED' && !ns.metadata.deletionTimestamp) return;
    for (const app of this.apps.list())
      if (app.metadata.namespace === ns.metadata.name) this.going(keyOf(app), 'with its namespace');
  }

  /** The clusterID of the last Cluster the operator registered, as seen: the one a report must speak of. */
  lastClusterId?: string;

  private onCluster(type: string, cluster: KubeObject) {
    const id = (cluster.status as { clusterID?: string } | undefined)?.clusterID;
    if (id && type !== 'DELETED') this.lastClusterId = id;
    const present = this.clusters.list().length > 0;
    if (this.clusterPresence.at(-1)?.present !== present) this.clusterPresence.push({ at: Date.now(), present });
    if (type === 'DELETED' || !cluster.metadata.deletionTimestamp) return;
    if (this.clusterDeletions.some((d) => d.uid === cluster.metadata.uid)) return;
    const live = this.liveApps();
    this.clusterDeletions.push({
      cluster: keyOf(cluster),
      uid: cluster.metadata.uid,
      at: Date.now(),
      unpaused: live.filter((a) => !this.pausedRv.has(a)),
      uncounted: live.filter((a) => !this.judge(a).counted).map((a) => `${a} (${this.judge(a).why})`),
    });
  }

  private onOperation(type: string, op: Operation & KubeObject) {
    const key = keyOf(op);
    const known = this.ops.get(key);
    if (type === 'ADDED' && (!known || known.gone)) {
      this.checkDuplicate(op);
      if (op.spec?.type === 'Backup' && op.metadata.labels?.[finalBackupLabel] === 'true')
        this.finalBackupsCreated.push(keyOf(op));
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
      else if (phase === 'Succeeded' && this.counts(app, other).counted && !this.counts(app, other).borderline)
        this.duplicates.push(`${keyOf(op)} created while ${name} counted`);
    }
  }

  private counts(app: string, r: OperationRecord): Judgement {
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
    const left = Date.parse(status.expiration ?? '') - Date.now() - marginMs;
    if (!(left >= -marginSlackMs))
      return { counted: false, why: `${name}: expires ${status.expiration ?? 'at no known time'}` };
    return { counted: true, why: `${name} counts`, borderline: left < marginSlackMs };
  }

  /**
   * Whether an application has, right now, a final backup that counts, or is exempt: the operator
   * said BackupNotSupported and its spec still says it cannot be backed up.
   */
  judge(app: string): Judgement {
    const incapable = this.lastApp.get(app)?.spec?.backup?.capable === false;
    const reasons: string[] = [];
    for (const r of this.backupsOf(app)) {
      if (r.last.status?.phase === 'Failed' && r.last.status.reason === 'BackupNotSupported' && incapable)
        return { counted: true, why: 'BackupNotSupported' };
      const c = this.counts(app, r);
      if (c.counted) return c;
      reasons.push(c.why);
    }
    return { counted: false, why: reasons.join('; ') || 'no backup Operation' };
  }

  /** Backup Operations created and not yet Succeeded or Failed. */
  backupsInFlight(): number {
    return [...this.ops.values()].filter(
      (r) => !r.gone && r.last.spec?.type === 'Backup' && !['Succeeded', 'Failed'].includes(r.last.status?.phase ?? ''),
    ).length;
  }

  /** Applications that exist now (not deleting). */
  liveApps(): string[] {
    return this.apps
      .list()
      .filter((a) => !a.metadata.deletionTimestamp)
      .map(keyOf);
  }

  /** When the checker first saw the application (undefined: before it started watching). */
  createdWhen(app: string): number | undefined {
    return this.createdAt.get(app);
  }

  /** Whether a Cluster stood in the operator's namespace at t (deleting or not), as the checker saw it. */
  clusterAt(t: number): boolean {
    let present = true;
    for (const p of this.clusterPresence) if (p.at <= t) present = p.present;
    return present;
  }
}

export interface Judgement {
  counted: boolean;
  why: string;
  /** Its expiry is within a few seconds of the margin: the product may have judged it either way. */
  borderline?: boolean;
}

class HandlerError extends Error {
  constructor(inner: unknown) {
    super(`the checker's handler threw: ${(inner as Error)?.stack ?? inner}`);
  }
}

const isHandlerError = (e: unknown) => e instanceof HandlerError;
