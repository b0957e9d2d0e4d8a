import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KubeTarget } from './config';

/** The kubeconfig a subprocess gets: exactly the resolved target, one context, nothing else. */
export function targetKubeconfig(target: KubeTarget): Record<string, unknown> {
  const exported = JSON.parse(target.kubeConfig.exportConfig()) as {
    clusters: unknown[];
    users: { name: string; user: Record<string, unknown> }[];
    contexts: { name: string; context: Record<string, unknown> }[];
  };
  const { groups, uid } = target.impersonate;
  const users = exported.users.map((u) => ({
    ...u,
    user: {
      ...u.user,
      ...(groups.length ? { 'as-groups': groups } : {}),
      ...(uid ? { 'as-uid': uid } : {}),
    },
  }));
  const contexts = exported.contexts.map((c) => ({ ...c, context: { ...c.context, namespace: target.namespace } }));
  return {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: exported.clusters,
    users,
    contexts,
    'current-context': target.context,
  };
}

/**
 * Runs body with a private kubeconfig file of the target (mode 0600 in a 0700 directory),
 * removed afterwards whatever happens: a subprocess then acts on exactly the server, with exactly
 * the credentials and impersonation, that the API client used.
 */
export async function withTargetKubeconfig<T>(target: KubeTarget, body: (path: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'kubectl-vw-'));
  const path = join(dir, 'kubeconfig');
  try {
    await writeFile(path, JSON.stringify(targetKubeconfig(target), null, 2), { mode: 0o600 });
    return await body(path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
