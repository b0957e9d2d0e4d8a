import { isNotFound } from '../../../lib/kube/api-error';
import type { KubeClient } from '../../../lib/kube/client';
import { core, type KubeObject } from '../../../lib/kube/resources';
import { observe } from '../../../lib/kube/watch';
import { operatorDeployment } from '../../../lib/operator/names';
import { metaTime } from './conditions';

// There is no kubelet nor deployment controller in the test control plane, so the operator's
// Deployment status is written here: available while the sim runs, unavailable once it stops or
// crashes. That status is how the plugins tell whether "the operator is running" (step 3 can only
// drain with a running operator).

interface DeploymentObject extends KubeObject {
  spec?: { replicas?: number };
  status?: {
    observedGeneration?: number;
    replicas?: number;
    readyReplicas?: number;
    availableReplicas?: number;
    conditions?: { type: string; status: string }[];
  };
}

export interface DeploymentPresence {
  present: boolean;
  /** spec.replicas (1 when unset), 0 when absent. */
  replicas: number;
}

function desiredStatus(d: DeploymentObject, running: boolean) {
  const replicas = d.spec?.replicas ?? 1;
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
      up > 0
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
        message: `ReplicaSet "${operatorDeployment}" has successfully progressed.`,
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

/** Mirrors the sim's state into Deployment vworkspace-operator's status, and reports its presence. */
export class OperatorDeploymentStatus {
  private running = false;
  private last?: DeploymentObject;
  private writes: Promise<void> = Promise.resolve();

  constructor(
    private readonly client: KubeClient,
    readonly namespace: string,
    private readonly log: (line: string) => void,
  ) {}

  /** Watches the Deployment until the signal aborts; resolves once the first list is in. */
  watch(signal: AbortSignal, onPresence: (p: DeploymentPresence) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let listed = false;
      const seen = (d: DeploymentObject | undefined) => {
        this.last = d;
        onPresence({ present: !!d, replicas: d ? (d.spec?.replicas ?? 1) : 0 });
        if (d) this.sync();
      };
      observe(this.client, core.deployments, {
        namespace: this.namespace,
        fieldSelector: `metadata.name=${operatorDeployment}`,
        signal,
        onList: (items) => {
          seen(items[0] as DeploymentObject | undefined);
          if (!listed) resolve();
          listed = true;
        },
        onEvent: (type, obj) => seen(type === 'DELETED' ? undefined : (obj as DeploymentObject)),
        onError: (err) => this.log(`deployment watch: ${(err as Error).message}`),
      }).catch((err) => {
        if (!listed) reject(err);
        else this.log(`deployment watch ended: ${(err as Error).message}`);
      });
    });
  }

  /** Sets whether the operator counts as running, and writes that into the status. */
  setRunning(running: boolean): Promise<void> {
    this.running = running;
    return this.sync();
  }

  private sync(): Promise<void> {
    this.writes = this.writes
      .then(() => this.write())
      .catch((err) => this.log(`deployment status: ${(err as Error).message}`));
    return this.writes;
  }

  private async write() {
    const d =
      this.last ?? (await this.client.find<DeploymentObject>(core.deployments, operatorDeployment, this.namespace));
    if (!d) return;
    const want = desiredStatus(d, this.running);
    if (inStep(d, want)) return;
    try {
      this.last = await this.client.mergePatch<DeploymentObject>(
        core.deployments,
        operatorDeployment,
        this.namespace,
        { status: want },
        { subresource: 'status' },
      );
      this.log(
        `deployment ${this.namespace}/${operatorDeployment}: ${want.availableReplicas}/${want.replicas} available`,
      );
    } catch (err) {
      if (!isNotFound(err)) throw err;
    }
  }
}
