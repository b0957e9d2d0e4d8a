import type { Environment, IO, Session } from '../deps';
import { KubeClient } from '../kube/client';
import { type ConnectionFlags, resolveKubeTarget } from '../kube/config';
import { toolFieldManager } from '../operator/names';

/** The process's connection: the flags resolved against the kubeconfig, and a client for it. */
export function connect(
  flags: ConnectionFlags,
  opts: { concurrency?: number; interrupt?: AbortSignal },
  env: Environment,
  io: IO,
): Session {
  const target = resolveKubeTarget(flags, env.vars);
  const client = new KubeClient(target, {
    maxConnections: opts.concurrency ?? 16,
    fieldManager: toolFieldManager,
    interrupt: opts.interrupt,
  });
  if (io.verbose) {
    client.onRequest((e) => {
      if (e.status !== 200) io.err(`${e.method} ${e.path} -> ${e.status || 'connection error'} (attempt ${e.attempt})`);
    });
  }
  return { target, client };
}
