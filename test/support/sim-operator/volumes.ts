import { isNotFound, type KubeObject } from '../kube';
import { core } from '../kinds';
import type { Controller, SimContext } from './context';

// Not the operator's job, but no PV controller runs in the test control plane: this plays the
// part of kube-controller-manager's persistentvolume-binder for claims that go away, so "what
// persists after uninstall" (PVs with reclaimPolicy Retain stay Released, Delete ones go) can be
// observed. Only PVs whose claim is in the sim's namespaces are touched.

interface PvObject extends KubeObject {
  spec?: { claimRef?: { namespace?: string; name?: string; uid?: string }; persistentVolumeReclaimPolicy?: string };
  status?: { phase?: string };
}

export function volumeController(
  inScope: (namespace: string) => boolean,
  namespaces: (string | undefined)[],
): Controller {
  return {
    name: 'persistentvolumes',
    userAgent: 'kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/persistent-volume-binder',
    watches: [
      {
        resource: core.persistentVolumes,
        namespaces: [undefined],
        keyOf: (pv) => {
          const claimNs = (pv as PvObject).spec?.claimRef?.namespace;
          return claimNs && inScope(claimNs) ? `/${pv.metadata.name}` : undefined;
        },
      },
      // A claim's events (its deletion above all) re-run the reconcile of the PV it is bound to.
      {
        resource: core.persistentVolumeClaims,
        namespaces,
        keyOf: (pvc) => {
          const volume = (pvc.spec as { volumeName?: string } | undefined)?.volumeName;
          return volume ? `/${volume}` : undefined;
        },
      },
    ],
    async reconcile(ctx: SimContext, _namespace, name) {
      const pv = await ctx.kube.find<PvObject>(core.persistentVolumes, name);
      const claim = pv?.spec?.claimRef;
      if (!pv || !claim?.namespace || !claim.name || !inScope(claim.namespace) || pv.metadata.deletionTimestamp)
        return undefined;
      if (pv.status?.phase !== 'Bound') return undefined;
      const pvc = await ctx.kube.find(core.persistentVolumeClaims, claim.name, claim.namespace);
      if (pvc && (!claim.uid || pvc.metadata.uid === claim.uid)) return undefined;
      ctx.guard();
      if (pv.spec?.persistentVolumeReclaimPolicy === 'Delete') {
        try {
          await ctx.kube.delete(core.persistentVolumes, name);
          ctx.log(`persistentvolume ${name}: claim gone, reclaimPolicy Delete: deleted`);
        } catch (err) {
          if (!isNotFound(err)) throw err;
        }
        return undefined;
      }
      await ctx.kube.patchStatus(core.persistentVolumes, name, undefined, { phase: 'Released' });
      ctx.log(
        `persistentvolume ${name}: claim gone, reclaimPolicy ${pv.spec?.persistentVolumeReclaimPolicy ?? 'Retain'}: Released`,
      );
      return undefined;
    },
  };
}
