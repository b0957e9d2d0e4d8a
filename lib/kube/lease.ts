import { hostname } from 'node:os';
import { PreflightError } from '../errors';
import { isAlreadyExists, isConflict, isNotFound } from './api-error';
import type { KubeClient } from './client';
import { core, type KubeObject } from './resources';

export const lockLeaseName = 'kubectl-vw';
const leaseSeconds = 60;

interface LeaseObject extends KubeObject {
  spec?: { holderIdentity?: string; leaseDurationSeconds?: number; renewTime?: string; acquireTime?: string };
}

export interface HeldLock {
  holder: string;
  release(): Promise<void>;
}

const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

function expired(lease: LeaseObject, now = Date.now()): boolean {
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
  return !lease.spec?.holderIdentity || now > renew + (lease.spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
}

/**
 * Two mutating runs must never overlap: a Lease in the operator namespace names the holder and is
 * renewed while the run lasts; a crashed run's lease expires after 60 s. Writes use the lease's
 * resourceVersion, so two runs racing for it cannot both win.
 */
export async function acquireLock(
  client: KubeClient,
  namespace: string,
  purpose: string,
): Promise<HeldLock | undefined> {
  const holder = `${hostname()}/${process.pid}/${purpose}`;
  const spec = () => ({ holderIdentity: holder, leaseDurationSeconds: leaseSeconds, renewTime: microTime() });
  for (let attempt = 0; attempt < 5; attempt++) {
    let lease = await client.find<LeaseObject>(core.leases, lockLeaseName, namespace).catch((err) => {
      // No operator namespace: the operator is gone, and so is anything a lock would protect.
      if (isNotFound(err)) return undefined;
      throw err;
    });
    try {
      if (!lease) {
        lease = await client.create<LeaseObject>(
          core.leases,
          {
            apiVersion: 'coordination.k8s.io/v1',
            kind: 'Lease',
            metadata: { name: lockLeaseName, namespace },
            spec: { ...spec(), acquireTime: microTime() },
          },
          namespace,
        );
      } else if (expired(lease)) {
        lease = await client.replace<LeaseObject>(core.leases, {
          ...lease,
          spec: { ...lease.spec, ...spec(), acquireTime: microTime() },
        });
      } else {
        const since = lease.spec?.acquireTime ?? lease.spec?.renewTime ?? 'unknown';
        throw new PreflightError(
          `another kubectl vw run holds the lock (Lease ${namespace}/${lockLeaseName}, holder ${lease.spec?.holderIdentity}, since ${since})`,
          `wait for it to finish; a crashed run's lock expires ${leaseSeconds}s after its last renewal`,
        );
      }
    } catch (err) {
      if (isNotFound(err)) return undefined; // namespace vanished between read and write
      if (isConflict(err) || isAlreadyExists(err)) continue; // someone else moved first: look again
      throw err;
    }
    let current = lease;
    const timer = setInterval(
      () => {
        client
          .replace<LeaseObject>(core.leases, { ...current, spec: { ...current.spec, renewTime: microTime() } })
          .then((l) => {
            current = l;
          })
          .catch(() => undefined);
      },
      (leaseSeconds / 3) * 1000,
    );
    timer.unref();
    return {
      holder,
      release: async () => {
        clearInterval(timer);
        await client
          .update<LeaseObject>(core.leases, lockLeaseName, namespace, (l) =>
            l.spec?.holderIdentity === holder
              ? { ...l, spec: { ...l.spec, holderIdentity: undefined, renewTime: undefined } }
              : undefined,
          )
          .catch(() => undefined);
      },
    };
  }
  throw new PreflightError(
    `could not take the lock Lease ${namespace}/${lockLeaseName}: it kept changing`,
    'try again',
  );
}
