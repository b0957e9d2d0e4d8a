import type { KubeClient } from './client';

/** The user the API server sees (authentication.k8s.io/v1 SelfSubjectReview), or what the kubeconfig says. */
export interface Caller {
  username: string;
  uid?: string;
  groups: string[];
  /** False when the API server could not be asked: the name is then the kubeconfig's, unverified. */
  verified: boolean;
}

interface SelfSubjectReview {
  status?: { userInfo?: { username?: string; uid?: string; groups?: string[] } };
}

/** Asks the API server who this client is: the name it authorises, not the kubeconfig's label. */
export async function whoAmI(client: KubeClient): Promise<Caller> {
  try {
    const review = await client.request<SelfSubjectReview>(
      'POST',
      '/apis/authentication.k8s.io/v1/selfsubjectreviews',
      { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' } },
    );
    const info = review?.status?.userInfo;
    if (info?.username) return { username: info.username, uid: info.uid, groups: info.groups ?? [], verified: true };
  } catch {
    // An API server older than 1.28, or one that does not allow it: fall back to the kubeconfig.
  }
  const t = client.target;
  return { username: t.impersonate.user ?? t.user, groups: t.impersonate.groups, verified: false };
}
