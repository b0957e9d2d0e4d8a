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

const held = new Set<HeldLock>();
let signalsHooked = false;
/** Ctrl-C must not leave the lock held for a minute: release it, then exit as interrupted. */
function releaseOnSignals() {
  if (signalsHooked) return;
  signalsHooked = true;
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      void Promise.allSettled([...held].map((l) => l.release())).then(() => process.exit(sig === 'SIGINT' ? 130 : 143));
    });
  }
}

export interface HeldLock {
  holder: string;
  release(): Promise<void>;
}

const microTime = (d = new Date()) => d.toISOString().replace(/\.(\d{3})Z$/, '.$1000Z');

/** A holder on this machine whose process is gone left its lock behind when it crashed. */
function holderIsDeadLocalProcess(holder: string): boolean {
  const [host, pid] = holder.split('/');
  if (host !== hostname() || !pid || Number(pid) === process.pid) return false;
  try {
    process.kill(Number(pid), 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

function expired(lease: LeaseObject, now = Date.now()): boolean {
  const holder = lease.spec?.holderIdentity;
  if (!holder) return true;
  const renew = lease.spec?.renewTime ? Date.parse(lease.spec.renewTime) : 0;
  return now > renew + (lease.spec?.leaseDurationSeconds ?? leaseSeconds) * 1000 || holderIsDeadLocalProcess(holder);
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
    const lock: HeldLock = {
      holder,
      release: async () => {
        held.delete(lock);
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
    held.add(lock);
    releaseOnSignals();
    return lock;
  }
  throw new PreflightError(
    `could not take the lock Lease ${namespace}/${lockLeaseName}: it kept changing`,
    'try again',
  );
}
