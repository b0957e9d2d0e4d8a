import { existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';
// The kubeconfig module alone, not the package's index (its generated API clients, informers,
// watch and exec machinery): kubectl vw talks REST itself and needs only loading and auth.
import { KubeConfig } from '@kubernetes/client-node/dist/config.js';
import type { Cluster, Context, User } from '@kubernetes/client-node/dist/config_types.js';
import { UsageError } from '../errors';
import { requireNamespaceName } from './namespace-name';
import { proxyFor } from './proxy';

/**
 * The flags that choose a cluster and who talks to it, as kubectl's genericclioptions.ConfigFlags
 * has them. Every plugin accepts all of them.
 */
export interface ConnectionFlags {
  kubeconfig?: string;
  context?: string;
  cluster?: string;
  user?: string;
  namespace?: string;
  server?: string;
  token?: string;
  certificateAuthority?: string;
  clientCertificate?: string;
  clientKey?: string;
  insecureSkipTlsVerify?: boolean;
  tlsServerName?: string;
  as?: string;
  asGroups?: string[];
  asUid?: string;
  /** Per request; 0 means none (kubectl's --request-timeout). */
  requestTimeoutMs?: number;
}

/** Who the requests act as, when someone else is impersonated (--as, --as-group, --as-uid). */
export interface Impersonation {
  user?: string;
  groups: string[];
  uid?: string;
}

/** Where a command will act: the resolved kubeconfig, context, cluster and namespace. */
export interface KubeTarget {
  /** A kubeconfig of exactly one context, with every override applied: what the client and helm use. */
  kubeConfig: KubeConfig;
  context: string;
  cluster: string;
  user: string;
  server: string;
  namespace: string;
  /** True when -n was given (kubectl's "explicit namespace"). */
  namespaceExplicit: boolean;
  impersonate: Impersonation;
  requestTimeoutMs: number;
  /**
   * The proxy every request goes through, resolved once with the rest of the target: the
   * kubeconfig's proxy-url, else the environment's (HTTPS_PROXY, NO_PROXY) as client-go reads it.
   */
  proxy?: string;
  /** The proxy came from the kubeconfig's proxy-url (not the environment). */
  proxyFromKubeconfig: boolean;
}

function kubeconfigSource(flags: ConnectionFlags, env: Readonly<Record<string, string | undefined>>): string {
  if (flags.kubeconfig) return flags.kubeconfig;
  return env.KUBECONFIG ? `KUBECONFIG=${env.KUBECONFIG}` : '~/.kube/config';
}

/** kubectl's merge of several files: the first file to define a name (and a current context) wins. */
function mergeFirstWins(into: KubeConfig, from: KubeConfig) {
  const names = <T extends { name: string }>(xs: T[]) => new Set(xs.map((x) => x.name));
  const [clusters, users, contexts] = [names(into.clusters), names(into.users), names(into.contexts)];
  into.clusters = [...into.clusters, ...from.clusters.filter((c) => !clusters.has(c.name))];
  into.users = [...into.users, ...from.users.filter((u) => !users.has(u.name))];
  into.contexts = [...into.contexts, ...from.contexts.filter((c) => !contexts.has(c.name))];
  if (!into.currentContext) into.currentContext = from.currentContext;
}

function loadKubeConfig(flags: ConnectionFlags, env: Readonly<Record<string, string | undefined>>): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (flags.kubeconfig) {
      if (!existsSync(flags.kubeconfig)) {
        throw new UsageError(`kubeconfig ${flags.kubeconfig} does not exist`, 'pass an existing file to --kubeconfig');
      }
      kc.loadFromFile(flags.kubeconfig);
      return kc;
    }
    // Every file in KUBECONFIG, as kubectl merges them; files that do not exist are skipped.
    const files = env.KUBECONFIG
      ? env.KUBECONFIG.split(delimiter).filter(Boolean)
      : env.HOME
        ? [join(env.HOME, '.kube', 'config')]
        : [];
    for (const file of files.filter((f) => existsSync(f))) {
      const one = new KubeConfig();
      one.loadFromFile(file);
      mergeFirstWins(kc, one);
    }
  } catch (err) {
    if (err instanceof UsageError) throw err;
    const reason = (err as Error).message.split('\n')[0];
    throw new UsageError(
      `cannot load kubeconfig (${kubeconfigSource(flags, env)}): ${reason}`,
      'check the file with: kubectl config view',
    );
  }
  return kc;
}

function chooseContext(kc: KubeConfig, flags: ConnectionFlags, source: string): Context {
  const name = flags.context || kc.getCurrentContext();
  const context = name ? kc.getContextObject(name) : null;
  if (context) return context;
  if (flags.context) {
    const known = kc.getContexts().map((c) => c.name);
    throw new UsageError(
      `context "${flags.context}" not found in kubeconfig (${source})`,
      known.length ? `known contexts: ${known.join(', ')}` : 'the kubeconfig has no contexts',
    );
  }
  // No context at all is fine when --server says where to go (kubectl does the same).
  if (flags.server) return { name: 'vw-flags', cluster: 'vw-flags', user: 'vw-flags' };
  throw new UsageError(
    `no current context in kubeconfig (${source})`,
    'pass --context, or run: kubectl config use-context NAME',
  );
}

/** The context's cluster with --cluster, --server and the TLS flags applied. */
function effectiveCluster(kc: KubeConfig, flags: ConnectionFlags, context: Context): Cluster {
  const name = flags.cluster || context.cluster;
  const found = kc.getCluster(name);
  if (!found && !flags.server) {
    throw new UsageError(`cluster "${name}" not found in kubeconfig`, 'check --cluster or the context');
  }
  const base: Cluster = found ?? { name, server: '', skipTLSVerify: false };
  const insecure = flags.insecureSkipTlsVerify ?? base.skipTLSVerify;
  return {
    ...base,
    server: flags.server || base.server,
    tlsServerName: flags.tlsServerName || base.tlsServerName,
    skipTLSVerify: insecure,
    // As client-go: a root CA and --insecure-skip-tls-verify do not go together.
    caData: insecure || flags.certificateAuthority ? undefined : base.caData,
    caFile: insecure ? undefined : flags.certificateAuthority || base.caFile,
  };
}

/** The context's user with --user, --token and the client certificate flags applied. */
function effectiveUser(kc: KubeConfig, flags: ConnectionFlags, context: Context): User {
  const name = flags.user || context.user;
  const found = kc.getUser(name);
  if (flags.user && !found) throw new UsageError(`user "${flags.user}" not found in kubeconfig`, 'check --user');
  const base: User = found ?? { name };
  const certGiven = Boolean(flags.clientCertificate || flags.clientKey);
  return {
    ...base,
    token: flags.token || base.token,
    certFile: flags.clientCertificate || (certGiven ? undefined : base.certFile),
    certData: certGiven ? undefined : base.certData,
    keyFile: flags.clientKey || (certGiven ? undefined : base.keyFile),
    keyData: certGiven ? undefined : base.keyData,
    impersonateUser: flags.as || base.impersonateUser,
  };
}

/**
 * Resolves the flags against the kubeconfig into one context, one cluster and one user, exactly
 * as kubectl would: everything the client does, and anything run on its behalf (helm), uses this.
 */
export function resolveKubeTarget(
  flags: ConnectionFlags,
  env: Readonly<Record<string, string | undefined>>,
): KubeTarget {
  const kc = loadKubeConfig(flags, env);
  const source = kubeconfigSource(flags, env);
  const context = chooseContext(kc, flags, source);
  const cluster = effectiveCluster(kc, flags, context);
  const user = effectiveUser(kc, flags, context);
  if (!cluster.server) throw new UsageError(`cluster "${cluster.name}" has no server`, 'pass --server');
  // -n "" (an empty shell variable) means what it means to kubectl: the context's namespace.
  const namespace = flags.namespace || context.namespace || 'default';
  if (flags.namespace) requireNamespaceName(flags.namespace);
  const resolved = new KubeConfig();
  resolved.loadFromOptions({
    clusters: [cluster],
    users: [user],
    contexts: [{ ...context, cluster: cluster.name, user: user.name }],
    currentContext: context.name,
  });
  return {
    kubeConfig: resolved,
    context: context.name,
    cluster: cluster.name,
    user: user.name,
    server: cluster.server,
    namespace,
    // Given, even empty: `--all -n "$NS"` with NS unset stays in one namespace, as with kubectl.
    namespaceExplicit: flags.namespace !== undefined,
    impersonate: { user: user.impersonateUser || undefined, groups: flags.asGroups ?? [], uid: flags.asUid },
    requestTimeoutMs: flags.requestTimeoutMs ?? 0,
    proxy: proxyFor(cluster.server, cluster.proxyUrl, env),
    proxyFromKubeconfig: Boolean(cluster.proxyUrl),
  };
}
