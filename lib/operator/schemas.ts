// A namespace import lets the bundler leave out what is unused (zod's 50 locales among it).
import * as z from 'zod';

// zod schemas for what the suite reads from the operator's kinds. They are loose (passthrough)
// on fields the suite does not use, strict on the ones it decides by: an object that does not
// parse is reported as such, never guessed at.

export const conditionSchema = z.object({
  type: z.string(),
  status: z.enum(['True', 'False', 'Unknown']),
  reason: z.string().optional(),
  message: z.string().optional(),
  lastTransitionTime: z.string().optional(),
  observedGeneration: z.number().optional(),
});
export type Condition = z.infer<typeof conditionSchema>;

const metadataSchema = z
  .object({
    name: z.string(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    resourceVersion: z.string().optional(),
    generation: z.number().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
    deletionTimestamp: z.string().optional(),
    creationTimestamp: z.string().optional(),
  })
  .passthrough();

export const applicationInstanceSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: metadataSchema,
    spec: z
      .object({
        catalogRef: z.object({ name: z.string(), version: z.string().optional() }).passthrough().optional(),
        values: z.unknown().optional(),
        backup: z.object({ capable: z.boolean().optional() }).passthrough().optional(),
      })
      .passthrough()
      .default({}),
    status: z
      .object({
        conditions: z.array(conditionSchema).optional(),
        helmReleaseRef: z.object({ name: z.string() }).passthrough().optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type ApplicationInstance = z.infer<typeof applicationInstanceSchema>;

export const operationPhases = ['Pending', 'Running', 'Succeeded', 'Failed'] as const;
export type OperationPhase = (typeof operationPhases)[number];

export const operationSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: metadataSchema,
    spec: z
      .object({
        targetRef: z.object({ apiVersion: z.string(), kind: z.string(), name: z.string() }),
        type: z.enum(['Backup', 'Restore', 'Upgrade']),
        engine: z.string().optional(),
        parameters: z
          .object({
            storageLocation: z.string().optional(),
            snapshotVolumes: z.boolean().optional(),
            csiSnapshotClassName: z.string().optional(),
            ttl: z.string().optional(),
          })
          .passthrough()
          .optional(),
      })
      .passthrough(),
    status: z
      .object({
        phase: z.enum(operationPhases).optional(),
        reason: z.string().optional(),
        message: z.string().optional(),
        startTime: z.string().optional(),
        completionTime: z.string().optional(),
        backupRef: z.object({ namespace: z.string(), name: z.string() }).optional(),
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type Operation = z.infer<typeof operationSchema>;

export const clusterSchema = z
  .object({
    apiVersion: z.string().optional(),
    kind: z.string().optional(),
    metadata: metadataSchema,
    spec: z
      .object({ odoo: z.object({ url: z.string() }).passthrough().optional() })
      .passthrough()
      .default({}),
    status: z
      .object({ clusterID: z.string().optional(), conditions: z.array(conditionSchema).optional() })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type Cluster = z.infer<typeof clusterSchema>;

export const helmReleaseSchema = z
  .object({
    metadata: metadataSchema,
    spec: z.object({ suspend: z.boolean().optional() }).passthrough().default({}),
  })
  .passthrough();
export type HelmRelease = z.infer<typeof helmReleaseSchema>;

const labelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z
      .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() }))
      .optional(),
  })
  .passthrough();
export type LabelSelector = z.infer<typeof labelSelectorSchema>;

/** Velero's status counts (velero.io/v1 BackupStatus, v1.18): a missing one is Velero's omitempty 0. */
const count = z.number().int().optional();

export const veleroBackupSchema = z
  .object({
    metadata: metadataSchema,
    spec: z
      .object({
        storageLocation: z.string().optional(),
        ttl: z.string().optional(),
        includedNamespaces: z.array(z.string()).optional(),
        excludedNamespaces: z.array(z.string()).optional(),
        labelSelector: labelSelectorSchema.nullish(),
        orLabelSelectors: z.array(labelSelectorSchema).nullish(),
        snapshotVolumes: z.boolean().nullish(),
        defaultVolumesToFsBackup: z.boolean().nullish(),
      })
      .passthrough()
      .default({}),
    status: z
      .object({
        phase: z.string().optional(),
        expiration: z.string().optional(),
        startTimestamp: z.string().optional(),
        completionTimestamp: z.string().optional(),
        queuePosition: count,
        validationErrors: z.array(z.string()).nullish(),
        failureReason: z.string().optional(),
        errors: count,
        volumeSnapshotsAttempted: count,
        volumeSnapshotsCompleted: count,
        csiVolumeSnapshotsAttempted: count,
        csiVolumeSnapshotsCompleted: count,
        backupItemOperationsAttempted: count,
        backupItemOperationsCompleted: count,
        backupItemOperationsFailed: count,
      })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type VeleroBackup = z.infer<typeof veleroBackupSchema>;

/** A request to Velero to delete a Backup (velero backup delete, or its garbage collection). */
export const deleteBackupRequestSchema = z
  .object({
    metadata: metadataSchema,
    spec: z.object({ backupName: z.string() }).passthrough(),
    status: z
      .object({ phase: z.string().optional(), errors: z.array(z.string()).nullish() })
      .passthrough()
      .optional(),
  })
  .passthrough();
export type DeleteBackupRequest = z.infer<typeof deleteBackupRequestSchema>;

/** What judging needs of a PersistentVolumeClaim: where it is, its labels, whether it is bound. */
export const claimSchema = z
  .object({
    metadata: metadataSchema,
    spec: z.object({ volumeName: z.string().optional() }).passthrough().default({}),
    status: z.object({ phase: z.string().optional() }).passthrough().optional(),
  })
  .passthrough();
export type Claim = z.infer<typeof claimSchema>;

export type ParseResult<T> = { ok: true; value: T } | { ok: false; name: string; error: string };

/** Parses an object, keeping its name for the report when it does not fit the schema. */
export function parseObject<T>(schema: z.ZodType<T>, raw: unknown): ParseResult<T> {
  const r = schema.safeParse(raw);
  if (r.success) return { ok: true, value: r.data };
  const meta = (raw as { metadata?: { namespace?: string; name?: string } })?.metadata;
  const name = meta ? `${meta.namespace ? `${meta.namespace}/` : ''}${meta.name}` : '<unnamed>';
  const issue = r.error.issues[0];
  return { ok: false, name, error: issue ? `${issue.path.join('.')}: ${issue.message}` : 'does not parse' };
}

export const findCondition = (conditions: Condition[] | undefined, type: string) =>
  conditions?.find((c) => c.type === type);
