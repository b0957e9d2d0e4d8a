import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import yaml from 'js-yaml';
import { helmReleaseName, operatorNamespace } from '../contract';
import { helmOwnership } from '../kinds';

// What every test run installs into the cluster, with the real kubectl and the admin kubeconfig.

export interface KubectlRun {
  kubeconfig: string;
  /** kubectl's discovery cache, kept in the run's temp dir so ~/.kube/cache is left alone. */
  cacheDir: string;
}

async function kubectl(run: KubectlRun, args: string[], input?: string): Promise<string> {
  const result = await execa('kubectl', ['--kubeconfig', run.kubeconfig, ...args], {
    reject: false,
    env: { KUBECACHEDIR: run.cacheDir },
    ...(input === undefined ? { stdin: 'ignore' as const } : { input }),
  });
  if (result.exitCode !== 0) {
    throw new Error(`kubectl ${args.join(' ')} failed (exit ${result.exitCode}):\n${result.stderr || result.stdout}`);
  }
  return result.stdout;
}

export const restrictedUser = 'vw-restricted';
export const readonlyRole = 'vw-test-readonly';

const read = ['get', 'list', 'watch'];

/**
 * The restricted user may read everything the suite looks at and change nothing, so tests can
 * check that a mutation is refused (and reported as such) before anything is touched.
 */
const readonlyRbac = {
  apiVersion: 'v1',
  kind: 'List',
  items: [
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRole',
      metadata: { name: readonlyRole },
      rules: [
        {
          apiGroups: [
            'apps.vworkspace.io',
            'ops.vworkspace.io',
            'helm.toolkit.fluxcd.io',
            'velero.io',
            'snapshot.storage.k8s.io',
          ],
          resources: ['*'],
          verbs: read,
        },
        { apiGroups: ['apiextensions.k8s.io'], resources: ['customresourcedefinitions'], verbs: read },
        {
          apiGroups: [''],
          resources: [
            'namespaces',
            'pods',
            'persistentvolumeclaims',
            'persistentvolumes',
            'secrets',
            'configmaps',
            'serviceaccounts',
            'services',
            'events',
          ],
          verbs: read,
        },
        { apiGroups: ['apps'], resources: ['deployments', 'statefulsets', 'replicasets'], verbs: read },
        { apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: read },
        { apiGroups: ['events.k8s.io'], resources: ['events'], verbs: read },
        { apiGroups: ['storage.k8s.io'], resources: ['storageclasses'], verbs: read },
        {
          apiGroups: ['authorization.k8s.io'],
          resources: ['selfsubjectaccessreviews', 'selfsubjectrulesreviews'],
          verbs: ['create'],
        },
      ],
    },
    {
      apiVersion: 'rbac.authorization.k8s.io/v1',
      kind: 'ClusterRoleBinding',
      metadata: { name: readonlyRole },
      roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'ClusterRole', name: readonlyRole },
      subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'User', name: restrictedUser }],
    },
  ],
};

export async function installReadonlyRbac(run: KubectlRun): Promise<void> {
  await kubectl(run, ['apply', '--server-side', '--field-manager=vw-test', '-f', '-'], JSON.stringify(readonlyRbac));
}

/**
 * The CRDs of a directory as helm would have left them had the operator's release installed them:
 * labelled managed-by Helm and annotated with the release, so that a later `helm install` of the
 * chart (which renders the same CRDs) adopts them instead of refusing to touch objects it does
 * not own.
 */
function helmOwnedCrds(dir: string): object[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => {
      const crd = yaml.load(readFileSync(join(dir, f), 'utf8')) as {
        metadata: { labels?: Record<string, string>; annotations?: Record<string, string> };
      };
      crd.metadata.labels = { ...crd.metadata.labels, [helmOwnership.managedByLabel]: helmOwnership.managedByValue };
      crd.metadata.annotations = {
        ...crd.metadata.annotations,
        [helmOwnership.releaseNameAnnotation]: helmReleaseName,
        [helmOwnership.releaseNamespaceAnnotation]: operatorNamespace,
      };
      return crd;
    });
}

/**
 * Applies every CRD in the given directories (server-side: the Flux CRD is too big for the
 * last-applied annotation) and waits until the API server serves each of them. Those in
 * `helmOwned` carry the operator release's ownership metadata (see helmOwnedCrds).
 */
export async function installCrds(run: KubectlRun, dirs: string[], helmOwned: string[] = []): Promise<string[]> {
  const owned = helmOwned.flatMap(helmOwnedCrds);
  const applied = await kubectl(
    run,
    [
      'apply',
      '--server-side',
      '--force-conflicts',
      '--field-manager=vw-test',
      ...dirs.flatMap((d) => ['-f', d]),
      ...(owned.length ? ['-f', '-'] : []),
      '-o',
      'name',
    ],
    owned.length ? JSON.stringify({ apiVersion: 'v1', kind: 'List', items: owned }) : undefined,
  );
  const names = applied
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
  await kubectl(run, ['wait', '--for=condition=Established', '--timeout=60s', ...names]);
  return names.map((n) => n.replace(/^customresourcedefinition\.apiextensions\.k8s\.io\//, ''));
}
