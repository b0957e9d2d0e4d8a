import { KubeClient } from '../kube/client';
import { type KubeTarget, resolveKubeTarget } from '../kube/config';
import { type GlobalArgs, requestTimeoutMs } from './flags';
import { type IO, processIO } from './io';

/** What a command handler needs, built lazily from its flags so --help never connects. */
export interface Session {
  io: IO;
  target: KubeTarget;
  client: KubeClient;
}

export function openSession(args: GlobalArgs, opts: { concurrency?: number } = {}): Session {
  const io = processIO({ verbose: args.verbose });
  const target = resolveKubeTarget({
    kubeconfig: args.kubeconfig,
    context: args.context,
    cluster: args.cluster,
    user: args.user,
    namespace: args.namespace,
  });
  const client = new KubeClient(target, {
    requestTimeoutMs: requestTimeoutMs(args),
    maxConnections: opts.concurrency ?? 16,
  });
  if (io.verbose) {
    client.onRequest = (e) => {
      if (e.status !== 200) io.err(`${e.method} ${e.path} -> ${e.status || 'connection error'} (attempt ${e.attempt})`);
    };
  }
  return { io, target, client };
}
