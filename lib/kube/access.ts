import type { KubeClient } from './client';

export interface AccessCheck {
  verb: string;
  group: string;
  resource: string;
  namespace?: string;
  subresource?: string;
}

export const describeAccess = (c: AccessCheck) =>
  `${c.verb} ${c.resource}${c.subresource ? `/${c.subresource}` : ''}${c.group ? `.${c.group}` : ''}${
    c.namespace ? ` in namespace ${c.namespace}` : ' (all namespaces)'
  }`;

/** Asks the API server (SelfSubjectAccessReview) which of these the caller may not do. */
export async function deniedAccess(client: KubeClient, checks: AccessCheck[]): Promise<AccessCheck[]> {
  const answers = await Promise.all(
    checks.map((c) =>
      client.request<{ status?: { allowed?: boolean } }>(
        'POST',
        '/apis/authorization.k8s.io/v1/selfsubjectaccessreviews',
        {
          body: {
            apiVersion: 'authorization.k8s.io/v1',
            kind: 'SelfSubjectAccessReview',
            spec: { resourceAttributes: { ...c } },
          },
        },
      ),
    ),
  );
  return checks.filter((_, i) => !answers[i]?.status?.allowed);
}
