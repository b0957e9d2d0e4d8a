import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { KubeClient } from './client';
import type { KubeTarget } from './config';
import { core } from './resources';

/**
 * Which cluster a run talks to, by what identifies it rather than by a context's name: the
 * server, the CA it is trusted by, and the uid of its kube-system namespace (made once, when the
 * cluster was, and never again: the cluster's de facto identity).
 */
export interface ClusterIdentity {
  server: string;
  /** SHA-256 (hex) of the CA the client trusts; null when it trusts the system's roots or verifies nothing. */
  caSHA256: string | null;
  /** The uid of namespace kube-system; "unknown" when it could not be read. */
  kubeSystemUID: string;
  /** The kubeconfig context, for people only: names are not identities. */
  context: string;
}

/** The CA's bytes as the kubeconfig gives them (inline or a file), hashed; line endings do not count. */
export function caDigest(target: KubeTarget): string | null {
  const cluster = target.kubeConfig.getCurrentCluster();
  if (!cluster || cluster.skipTLSVerify) return null;
  let pem: string | undefined;
  if (cluster.caData) pem = Buffer.from(cluster.caData, 'base64').toString('utf8');
  else if (cluster.caFile) pem = readFileSync(cluster.caFile, 'utf8');
  if (!pem) return null;
  return createHash('sha256').update(pem.replace(/\r\n/g, '\n').trim()).digest('hex');
}

/** Reads the target's identity; an unreadable kube-system uid is "unknown", never guessed. */
export async function readClusterIdentity(client: KubeClient): Promise<ClusterIdentity> {
  const target = client.target;
  const ns = await client.find(core.namespaces, 'kube-system').catch(() => undefined);
  return {
    server: target.server,
    caSHA256: caDigest(target),
    kubeSystemUID: ns?.metadata.uid ?? 'unknown',
    context: target.context,
  };
}

/** What differs between two identities, in words; empty when they are the same cluster. */
export function identityDifferences(planned: ClusterIdentity, here: ClusterIdentity): string[] {
  const out: string[] = [];
  if (planned.kubeSystemUID !== here.kubeSystemUID)
    out.push(`kube-system uid ${here.kubeSystemUID} here, ${planned.kubeSystemUID} in the plan`);
  if (planned.server !== here.server) out.push(`server ${here.server} here, ${planned.server} in the plan`);
  if (planned.caSHA256 !== here.caSHA256)
    out.push(`CA sha256 ${here.caSHA256 ?? 'none'} here, ${planned.caSHA256 ?? 'none'} in the plan`);
  return out;
}
