import type { KubeClient } from '../../lib/kube/client';
import { eventually } from './plugins';

// A cluster's own admission policy refusing one object, as real clusters have them: the API server
// answers 422 for that object and lets every other through. Tests use it to make one object fail.

const admission = { group: 'admissionregistration.k8s.io', version: 'v1', namespaced: false };
const policies = { ...admission, plural: 'validatingadmissionpolicies', kind: 'ValidatingAdmissionPolicy' };
const bindings = {
  ...admission,
  plural: 'validatingadmissionpolicybindings',
  kind: 'ValidatingAdmissionPolicyBinding',
};

export interface DenyOptions {
  name: string;
  /** The operations the policy judges: UPDATE, DELETE... */
  operations: string[];
  /** CEL: true lets the request through. */
  expression: string;
  message: string;
  /** Only in this namespace. */
  namespace?: string;
  /** What it judges (default ApplicationInstances). */
  rule?: { apiGroups: string[]; resources: string[] };
  /** A server-side dry run of the refused request: resolves true once it is refused (422), false while allowed. */
  refused: () => Promise<boolean>;
}

const is422 = (err: unknown) => (err as { status?: number }).status === 422;

/** Resolves true if the dry run is refused with 422, false if it goes through. */
export const refusedWith422 = (dryRun: () => Promise<unknown>) =>
  dryRun().then(
    () => false,
    (err) => {
      if (is422(err)) return true;
      throw err;
    },
  );

/** Creates the policy and its binding, waits until it is enforced; returns what lifts it (and waits). */
export async function denyByPolicy(client: KubeClient, o: DenyOptions): Promise<() => Promise<void>> {
  await client.create(policies, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicy',
    metadata: { name: o.name },
    spec: {
      failurePolicy: 'Fail',
      matchConstraints: {
        resourceRules: [
          {
            apiGroups: o.rule?.apiGroups ?? ['apps.vworkspace.io'],
            apiVersions: ['*'],
            operations: o.operations,
            resources: o.rule?.resources ?? ['applicationinstances'],
          },
        ],
      },
      validations: [{ expression: o.expression, message: o.message }],
    },
  });
  const matchResources = o.namespace
    ? { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': o.namespace } } }
    : undefined;
  await client.create(bindings, {
    apiVersion: 'admissionregistration.k8s.io/v1',
    kind: 'ValidatingAdmissionPolicyBinding',
    metadata: { name: o.name },
    spec: { policyName: o.name, validationActions: ['Deny'], ...(matchResources ? { matchResources } : {}) },
  });
  // Policies take effect a moment after they are created (and go a moment after they are deleted).
  await eventually(o.refused, 30_000, `the admission policy ${o.name}`);
  return async () => {
    await client.delete(bindings, o.name).catch(() => undefined);
    await client.delete(policies, o.name).catch(() => undefined);
    await eventually(async () => !(await o.refused()), 30_000, `the admission policy ${o.name} to go`);
  };
}
