import { UsageError } from '../errors';

/** A DNS-1123 label, as namespace names must be: nothing else can name (or widen) a scope. */
const dns1123Label = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

// Apart from lib/kube/config.ts so that flag parsing can check -n without loading the kubeconfig
// machinery (@kubernetes/client-node), which only a command that connects needs.
export function requireNamespaceName(name: string): string {
  if (name.length > 63 || !dns1123Label.test(name)) {
    throw new UsageError(
      `invalid namespace "${name}": a namespace is a DNS-1123 label (lower-case letters, digits and '-', at most 63)`,
      'check -n; list them with: kubectl get namespaces',
    );
  }
  return name;
}
