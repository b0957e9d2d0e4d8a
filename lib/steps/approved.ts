import type { KubeObject } from '../kube/resources';
import type { Refusal } from './act';

/**
 * An approved plan, as the gates of the acts see it while a run executes it (kubectl vw uninstall
 * --plan): each judgement is added to a gate's own, on the same fresh read, at the moment of the
 * act. Identity is the uid: an object the plan does not name is never touched.
 */
export interface ApprovedPlan {
  digest: string;
  /** Objects a run of this plan creates carry this annotation (its final-backup Operations). */
  annotation: Record<string, string>;
  /** Every ApplicationInstance read is one the plan names. */
  instances(items: KubeObject[]): Refusal | undefined;
  /** Every Operation read is one the plan names, or one a run of it created. */
  operations(items: KubeObject[]): Refusal | undefined;
  /** The Operation a retry deletes is an application's final backup the plan names, or one its run created. */
  finalBackup(op: KubeObject | undefined): Refusal | undefined;
  /** The Cluster is the very one the plan deletes. */
  cluster(c: KubeObject | undefined): Refusal | undefined;
  /** The release is at the revision the plan uninstalls. */
  release(r: { version: number; storageUid?: string } | undefined): Refusal | undefined;
  crds(items: KubeObject[]): Refusal | undefined;
  namespace(ns: KubeObject | undefined): Refusal | undefined;
}
