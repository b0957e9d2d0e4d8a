import { isConflict, isInvalid, isNotFound, type KubeObject } from '../kube';
import { fluxFinalizer, upstream } from '../kinds';
import type { Controller, Presence } from './context';
import { draw } from './timing';

// Flux's helm-controller, for the one thing the procedure depends on: a deleted HelmRelease goes
// only once helm-controller has uninstalled its release and removed its finalizer. While Flux is
// not installed (the bundle's helm-controller Deployment gone, as after step 5), nothing removes
// it: the HelmRelease stays Terminating for ever, as it does in a real cluster.

export function fluxController(namespaces: (string | undefined)[], installed: Presence): Controller {
  const due = new Map<string, number>();
  const reported = new Set<string>();
  return {
    name: 'flux-helm-controller',
    userAgent: 'helm-controller/v1.3.0',
    watches: [
      {
        resource: upstream.helmReleases,
        namespaces,
        predicate: (type, obj) => type !== 'DELETED' && !!obj.metadata.deletionTimestamp,
      },
    ],
    async reconcile(ctx, namespace, name) {
      const key = `${namespace}/${name}`;
      const hr = await ctx.kube.find<KubeObject>(upstream.helmReleases, name, namespace);
      const finalizers = hr?.metadata.finalizers ?? [];
      if (!hr?.metadata.deletionTimestamp || !finalizers.includes(fluxFinalizer)) {
        due.delete(key);
        reported.delete(key);
        return undefined;
      }
      if (!installed()) {
        if (!reported.has(key)) ctx.log(`helmrelease ${key}: Flux is not installed, ${fluxFinalizer} stays`);
        reported.add(key);
        return undefined;
      }
      reported.delete(key);
      let at = due.get(key);
      if (at === undefined) {
        at = Date.now() + draw(ctx.timing.fluxFinalizerDelayMs);
        due.set(key, at);
      }
      if (at > Date.now()) return { requeueAfterMs: at - Date.now() };
      ctx.guard();
      try {
        await ctx.kube.jsonPatch(upstream.helmReleases, name, namespace, [
          { op: 'test', path: '/metadata/finalizers', value: finalizers },
          { op: 'replace', path: '/metadata/finalizers', value: finalizers.filter((f) => f !== fluxFinalizer) },
        ]);
      } catch (err) {
        // Someone else changed the finalizers meanwhile (a failed test is a 422): look again.
        if (isInvalid(err) || isConflict(err)) return { requeueAfterMs: 0 };
        if (isNotFound(err)) return undefined;
        throw err;
      }
      due.delete(key);
      ctx.log(`helmrelease ${key}: release uninstalled, ${fluxFinalizer} removed`);
      return undefined;
    },
  };
}
