import { existsSync } from 'node:fs';
import { KubeConfig } from '@kubernetes/client-node';
import { UsageError } from '../errors';

/** The kubectl flags that choose a cluster, as every plugin accepts them. */
export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
}

/** Where a command will act: the resolved kubeconfig, context, cluster and namespace. */
export interface KubeTarget {
  kubeConfig: KubeConfig;
  context: string;
  cluster: string;
  server: string;
  namespace: string;
  /** True when -n was given (kubectl's "explicit namespace"). */
  namespaceExplicit: boolean;
}

function kubeconfigSource(flags: KubeFlags): string {
  if (flags.kubeconfig) return flags.kubeconfig;
  return process.env.KUBECONFIG ? `KUBECONFIG=${process.env.KUBECONFIG}` : '~/.kube/config';
}

function loadKubeConfig(flags: KubeFlags): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig) {
      if (!existsSync(flags.kubeconfig)) {
        throw new UsageError(`kubeconfig ${flags.kubeconfig} does not exist`, 'pass an existing file to --kubeconfig');
      }
      kc.loadFromFile(flags.kubeconfig);
    } else {
      // Merges every file in KUBECONFIG (path-list separated), like kubectl.
      kc.loadFromDefault({}, true);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as Error).message.split('\n')[0];
    throw new UsageError(
      `cannot load kubeconfig (${kubeconfigSource(flags)}): ${reason}`,
      'check the file with: kubectl config view',
    );
  }
  return kc;
}

export function resolveKubeTarget(flags: KubeFlags): KubeTarget {
  const kc = loadKubeConfig(flags);
  const contextName = flags.context ?? kc.getCurrentContext();
  const context = contextName ? kc.getContextObject(contextName) : null;
  if (flags.context && !context) {
    const known = kc.getContexts().map((c) => c.name);
    throw new UsageError(
      `context "${flags.context}" not found in kubeconfig (${kubeconfigSource(flags)})`,
      known.length ? `known contexts: ${known.join(', ')}` : 'the kubeconfig has no contexts',
    );
  }
  if (!context) {
    throw new UsageError(
      `no current context in kubeconfig (${kubeconfigSource(flags)})`,
      'pass --context, or run: kubectl config use-context NAME',
    );
  }
  const clusterName = flags.cluster ?? context.cluster;
  const userName = flags.user ?? context.user;
  const cluster = kc.getCluster(clusterName);
  if (!cluster) {
    throw new UsageError(`cluster "${clusterName}" not found in kubeconfig`, 'check --cluster or the context');
  }
  if (flags.user && !kc.getUser(flags.user)) {
    throw new UsageError(`user "${flags.user}" not found in kubeconfig`, 'check --user');
  }
  // Make the chosen context current (with any --cluster/--user override) so auth follows it.
  const effective = `${context.name}`;
  kc.contexts = kc.contexts.map((c) => (c.name === effective ? { ...c, cluster: clusterName, user: userName } : c));
  kc.setCurrentContext(effective);
  return {
    kubeConfig: kc,
    context: effective,
    cluster: clusterName,
    server: cluster.server,
    namespace: flags.namespace ?? context.namespace ?? 'default',
    namespaceExplicit: flags.namespace !== undefined,
  };
}
