import { type Kube, type KubeObject, isNotFound } from '../kube';
import { core, helmOwnership, metaTime } from '../kinds';
import type { Controller } from './context';
import { draw } from './timing';

// No kubelet, no deployment controller and no scheduler run in the test control plane: this
// plays their part for the Deployments of the operator's release. The bundled controllers
// (Flux, cert-manager, external-secrets, Velero) are reported available once rolled out; the
// operator's own Deployment is available exactly while the simulated operator runs, which is how
// a client tells whether "the operator is running".

export interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string }[];
  };
}

export const replicasOf = (d: DeploymentObject) => d.spec?.replicas ?? 1;

function desiredStatus(d: DeploymentObject, running: boolean) {
  const replicas = replicasOf(d);
  const up = running && replicas > 0 ? replicas : 0;
  const now = metaTime();
  return {
    observedGeneration: d.metadata.generation,
    replicas,
    updatedReplicas: replicas,
    readyReplicas: up,
    availableReplicas: up,
    unavailableReplicas: replicas - up,
    conditions: [
      up > 0 || replicas === 0
        ? {
            type: 'Available',
            status: 'True',
            reason: 'MinimumReplicasAvailable',
            message: 'Deployment has minimum availability.',
            lastUpdateTime: now,
            lastTransitionTime: now,
          }
        : {
            type: 'Available',
            status: 'False',
            reason: 'MinimumReplicasUnavailable',
            message: 'Deployment does not have minimum availability.',
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
      {
        type: 'Progressing',
        status: 'True',
        reason: 'NewReplicaSetAvailable',
        message: `ReplicaSet "${d.metadata.name}-5d8f7c9b4" has successfully progressed.`,
        lastUpdateTime: now,
        lastTransitionTime: now,
      },
    ],
  };
}

const inStep = (d: DeploymentObject, want: ReturnType<typeof desiredStatus>) => {
  const s = d.status ?? {};
  const available = s.conditions?.find((c) => c.type === 'Available')?.status;
  return (
    s.observedGeneration === want.observedGeneration &&
    s.replicas === want.replicas &&
    (s.readyReplicas ?? 0) === want.readyReplicas &&
    (s.availableReplicas ?? 0) === want.availableReplicas &&
    available === want.conditions[0]?.status
  );
};

/**
 * Writes a Deployment's status as the deployment controller and kubelet would: `running` pods,
 * or none. Returns whether anything was written.
 */
export async function writeDeploymentStatus(kube: Kube, d: DeploymentObject, running: boolean): Promise<boolean> {
  const want = desiredStatus(d, running);
  if (inStep(d, want)) return false;
  try {
    await kube.patchStatus(core.deployments, d.metadata.name, d.metadata.namespace, want);
    return true;
  } catch (err) {
    if (isNotFound(err)) return false;
    throw err;
  }
}

export const ownedByRelease = (d: KubeObject, release: string, namespace: string) =>
  d.metadata.annotations?.[helmOwnership.releaseNameAnnotation] === release &&
  d.metadata.annotations?.[helmOwnership.releaseNamespaceAnnotation] === namespace;

export function deploymentController(opts: {
  namespace: string;
  operatorDeployment: string;
  release: string;
  operatorRunning: () => boolean;
}): Controller {
  const due = new Map<string, number>();
  return {
    name: 'deployments',
    userAgent: 'kube-controller-manager/v1.32.0 (linux/amd64) kubernetes/deployment-controller',
    watches: [
      {
        resource: core.deployments,
        namespaces: [opts.namespace],
        // Its own status writes are not news.
        predicate: (type, obj, old) =>
          type === 'ADDED' ||
          (type === 'MODIFIED' &&
            (obj.metadata.generation !== old?.metadata.generation ||
              JSON.stringify(obj.metadata.annotations) !== JSON.stringify(old?.metadata.annotations))),
      },
    ],
    async reconcile(ctx, namespace, name) {
      const d = await ctx.kube.find<DeploymentObject>(core.deployments, name, namespace);
      if (!d || d.metadata.deletionTimestamp) {
        due.delete(name);
        return undefined;
      }
      let running: boolean;
      if (name === opts.operatorDeployment) running = opts.operatorRunning();
      else if (ownedByRelease(d, opts.release, opts.namespace)) {
        // A rollout takes a moment.
        const k = `${name}@${d.metadata.generation}`;
        let at = due.get(k);
        if (at === undefined) {
          at = Date.now() + draw(ctx.timing.rolloutDelayMs);
          due.set(k, at);
        }
        if (at > Date.now()) return { requeueAfterMs: at - Date.now() };
        running = true;
      } else return undefined;
      ctx.guard();
      if (await writeDeploymentStatus(ctx.kube, d, running)) {
        const n = running ? replicasOf(d) : 0;
        ctx.log(`deployment ${namespace}/${name}: ${n}/${replicasOf(d)} available`);
      }
      return undefined;
    },
  };
}
