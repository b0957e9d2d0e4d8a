import { randomUUID } from 'node:crypto';
import { type KubeObject, isNotFound } from '../kube';
import { core, upstream } from '../kinds';
import { type Controller, faultFor, type SimContext } from './context';
import { instanceLabel } from './operations';
import { draw } from './timing';
import { quantityBytes } from './velero';

// The storage driver's part of CSI snapshots, the one piece of Velero's volume path that cannot
// run here: what the csi-snapshotter sidecar does with the driver behind it. The real
// snapshot-controller (external-snapshotter) makes a VolumeSnapshotContent for each VolumeSnapshot
// Velero creates; this takes the snapshot (writes the content's status: snapshotHandle,
// readyToUse, creationTime, restoreSize) and, when a content is deleted, lets it go (the
// sidecar's finalizer). Only contents of its driver are touched.
//
// Faults: a snapshot of an application in faults.stalledSnapshots, or of any application while
// backups are to hang or end partial, is never taken, so Velero waits for it until the Backup's
// csiSnapshotTimeout and then ends PartiallyFailed.

/** The CSI driver the seeded PersistentVolumes, StorageClass and VolumeSnapshotClass name. */
export const csiDriverName = 'rbd.csi.ceph.com';

const contentFinalizer = 'snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection';
const beingCreated = 'snapshot.storage.kubernetes.io/volumesnapshot-being-created';

interface ContentObject extends KubeObject {
  spec?: {
    driver?: string;
    source?: { volumeHandle?: string; snapshotHandle?: string };
    volumeSnapshotRef?: { namespace?: string; name?: string };
  };
  status?: { snapshotHandle?: string; readyToUse?: boolean };
}

interface SnapshotObject extends KubeObject {
  spec?: { source?: { persistentVolumeClaimName?: string } };
}

interface ClaimObject extends KubeObject {
  spec?: { resources?: { requests?: { storage?: string } } };
}

/** The claim a content's VolumeSnapshot was taken of, if it can still be found. */
async function claimOf(ctx: SimContext, content: ContentObject): Promise<ClaimObject | undefined> {
  const ref = content.spec?.volumeSnapshotRef;
  if (!ref?.namespace || !ref.name) return undefined;
  const vs = await ctx.kube.find<SnapshotObject>(upstream.volumeSnapshots, ref.name, ref.namespace);
  const pvc = vs?.spec?.source?.persistentVolumeClaimName;
  return pvc ? ctx.kube.find<ClaimObject>(core.persistentVolumeClaims, pvc, ref.namespace) : undefined;
}

function stalled(ctx: SimContext, content: ContentObject, claim: ClaimObject | undefined): boolean {
  if (ctx.faults.backupOutcome === 'hang' || ctx.faults.backupOutcome === 'partial') return true;
  const ns = content.spec?.volumeSnapshotRef?.namespace ?? '';
  const app = claim?.metadata.labels?.[instanceLabel];
  return app !== undefined && faultFor(ctx.faults.stalledSnapshots, ns, app) !== undefined;
}

export function csiDriverController(driver = csiDriverName): Controller {
  const due = new Map<string, number>();
  return {
    name: 'csi-driver',
    userAgent: 'csi-snapshotter/v8.7.0 (linux/amd64) kubernetes/sim',
    watches: [
      {
        resource: upstream.volumeSnapshotContents,
        namespaces: [undefined],
        keyOf: (o) => ((o as ContentObject).spec?.driver === driver ? `/${o.metadata.name}` : undefined),
      },
    ],
    async reconcile(ctx, _namespace, name) {
      const content = await ctx.kube.find<ContentObject>(upstream.volumeSnapshotContents, name);
      if (!content || content.spec?.driver !== driver) {
        due.delete(name);
        return undefined;
      }
      if (content.metadata.deletionTimestamp) {
        const finalizers = content.metadata.finalizers ?? [];
        if (!finalizers.includes(contentFinalizer)) return undefined;
        ctx.guard();
        await ctx.kube.mergePatch(upstream.volumeSnapshotContents, name, undefined, {
          metadata: {
            resourceVersion: content.metadata.resourceVersion,
            finalizers: finalizers.filter((f) => f !== contentFinalizer),
          },
        });
        ctx.log(`volumesnapshotcontent ${name}: deleted by the driver, finalizer removed`);
        return undefined;
      }
      // Only a dynamically provisioned content not yet taken: the snapshot-controller's request.
      if (!content.spec?.source?.volumeHandle || content.status?.snapshotHandle) return undefined;
      const claim = await claimOf(ctx, content);
      if (stalled(ctx, content, claim)) {
        ctx.log(`volumesnapshotcontent ${name}: the driver does not answer (fault)`);
        return undefined; // a change of faults kicks every key
      }
      let at = due.get(name);
      if (at === undefined) {
        at = Date.now() + draw(ctx.timing.veleroPhaseDelayMs);
        due.set(name, at);
      }
      if (at > Date.now()) return { requeueAfterMs: at - Date.now() };
      ctx.guard();
      try {
        await ctx.kube.patchStatus(upstream.volumeSnapshotContents, name, undefined, {
          snapshotHandle: `snap-${randomUUID()}`,
          readyToUse: true,
          // int64 nanoseconds since the epoch, as the sidecar writes it.
          creationTime: Date.now() * 1_000_000,
          restoreSize: quantityBytes(claim?.spec?.resources?.requests?.storage),
        });
        if (content.metadata.annotations?.[beingCreated]) {
          await ctx.kube.mergePatch(upstream.volumeSnapshotContents, name, undefined, {
            metadata: { annotations: { [beingCreated]: null } },
          });
        }
      } catch (err) {
        if (isNotFound(err)) return undefined;
        throw err;
      }
      due.delete(name);
      ctx.log(`volumesnapshotcontent ${name}: snapshot taken, ready to use`);
      return undefined;
    },
  };
}
