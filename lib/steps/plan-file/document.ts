import { createHash } from 'node:crypto';
// A namespace import lets the bundler leave out what is unused (zod's locales among it).
import * as z from 'zod';

// The UninstallPlan document (README "Change approval"): what `kubectl vw uninstall --plan-out`
// writes, `plan show` prints, and `uninstall --plan` runs exactly, or refuses.

export const planApiVersion = 'kubectl-vw/v1';
export const planKind = 'UninstallPlan';

/** The options a plan is made with; a run of the plan takes them from it, never from its own flags. */
export const planOptionsSchema = z.object({
  ttl: z.string().nullable(),
  skipBackup: z.boolean(),
  storageLocation: z.string(),
  suspendHelmReleases: z.boolean(),
  deleteApps: z.boolean(),
  deleteCrds: z.boolean(),
  deleteNamespace: z.boolean(),
  /** CRDs of the release besides the operator's that helm uninstall may delete (--delete-release-crds). */
  deleteReleaseCrds: z.array(z.string()),
  /** A Go duration: a final backup expiring sooner than this does not count. */
  expiryMargin: z.string(),
  /** Where Velero runs: final backups are judged by its Backups there. */
  veleroNamespace: z.string(),
  allowShortTtl: z.boolean(),
});
export type PlanOptions = z.infer<typeof planOptionsSchema>;

const backupActions = [
  'create',
  'keep',
  'adopt',
  'retry',
  'retake',
  'conflict',
  'name-too-long',
  'failed',
  'unpaused',
  'skip',
  'none',
] as const;

/** An application's final backup: the action step 2 takes, and the Operation (by uid) it stands on. */
export const plannedBackupSchema = z.object({
  action: z.enum(backupActions),
  /** The Operation created, or the one that stands. */
  operation: z.string(),
  /** Where the final backup stood when planned (README "What counts as a final backup"). */
  state: z.string(),
  /** Why it stands so: the judgement of the backup that stands. */
  detail: z.string().optional(),
  note: z.string().optional(),
  operationUID: z.string().optional(),
  /** The Velero Backup that counts, for `keep`. */
  veleroBackup: z.object({ name: z.string(), uid: z.string().optional(), expires: z.string().optional() }).optional(),
  /** The digest of the plan whose run created that Operation. */
  plan: z.string().optional(),
});
export type PlannedBackup = z.infer<typeof plannedBackupSchema>;

export const plannedApplicationSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  /** Step 1: pause, forget (a stale marker cleared), or none (already paused). */
  pause: z.string(),
  pauseNote: z.string().optional(),
  finalBackup: plannedBackupSchema,
  /** Step 4 (--delete-apps) deletes it. */
  delete: z.boolean(),
});
export type PlannedApplication = z.infer<typeof plannedApplicationSchema>;

export const plannedObjectSchema = z.object({
  namespace: z.string().optional(),
  name: z.string(),
  uid: z.string(),
  action: z.string().optional(),
  plan: z.string().optional(),
});
export type PlannedObject = z.infer<typeof plannedObjectSchema>;

export const plannedClusterSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  uid: z.string(),
  clusterID: z.string().nullable(),
  /** delete: step 3 deletes it; follow: it is being deleted, step 3 follows its finalizer. */
  action: z.enum(['delete', 'follow']),
});
export type PlannedCluster = z.infer<typeof plannedClusterSchema>;

export const plannedReleaseSchema = z.object({
  namespace: z.string(),
  name: z.string(),
  revision: z.number(),
  /** The uid of the revision's storage object: the revision, by identity. */
  storageUID: z.string().nullable(),
  chart: z.string(),
  status: z.string(),
  driver: z.string(),
  /** What helm uninstall deletes, and what it keeps (helm.sh/resource-policy: keep), as Kind/[namespace/]name. */
  deletes: z.array(z.string()),
  keeps: z.array(z.string()),
});
export type PlannedRelease = z.infer<typeof plannedReleaseSchema>;

export const planActionsSchema = z.object({
  applications: z.array(plannedApplicationSchema),
  helmReleases: z.array(plannedObjectSchema),
  cluster: plannedClusterSchema.nullable(),
  /** Operations step 4 deletes (--delete-apps). */
  operations: z.array(plannedObjectSchema),
  release: plannedReleaseSchema.nullable(),
  crds: z.array(plannedObjectSchema),
  namespace: plannedObjectSchema.nullable(),
});
export type PlanActions = z.infer<typeof planActionsSchema>;

export const planTargetSchema = z.object({
  server: z.string(),
  caSHA256: z.string().nullable(),
  kubeSystemUID: z.string(),
  context: z.string(),
  cluster: z.object({ uid: z.string(), clusterID: z.string().nullable() }).nullable(),
});

export const uninstallPlanSchema = z.object({
  apiVersion: z.literal(planApiVersion),
  kind: z.literal(planKind),
  metadata: z.object({ createdAt: z.string(), createdBy: z.string(), tool: z.string() }),
  target: planTargetSchema,
  options: planOptionsSchema,
  /** Where each step stood when the plan was made. */
  steps: z.array(z.object({ step: z.number(), name: z.string(), state: z.string() })),
  actions: planActionsSchema,
  /** What persists afterwards, as the procedure's table has it, with this cluster's facts at planning time. */
  persists: z.array(
    z.object({ resource: z.string(), persists: z.string(), here: z.array(z.string()), purge: z.string() }),
  ),
  /** What will stop the run, foreseen: a conflict, a failed backup, Odoo unreachable. */
  warnings: z.array(z.string()),
  digest: z.string(),
});
export type UninstallPlan = z.infer<typeof uninstallPlanSchema>;

/** Keys sorted at every level, no whitespace: one text per content, however the file was formatted. */
export function canonical(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object')
      return Object.fromEntries(
        Object.keys(v as Record<string, unknown>)
          .filter((k) => (v as Record<string, unknown>)[k] !== undefined)
          .sort()
          .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
      );
    return v;
  };
  return JSON.stringify(sort(value));
}

/** SHA-256 of the canonical form of everything but the digest itself. */
export function digestOf(doc: Record<string, unknown>): string {
  const { digest: _d, ...content } = doc;
  return `sha256:${createHash('sha256').update(canonical(content)).digest('hex')}`;
}
