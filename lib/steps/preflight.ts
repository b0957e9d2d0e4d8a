import { PreflightError, UsageError } from '../errors';
import { type AccessCheck, deniedAccess, describeAccess } from '../kube/access';
import { isForbidden, isNotFound } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import { core } from '../kube/resources';
import { operatorCrds } from '../operator/names';

/** One check before a step: what was found, and the command that fixes it when it fails. */
export interface PreflightCheck {
  name: string;
  ok: boolean;
  detail: string;
  /** The command that fixes it. */
  fix?: string;
  /** Passed, but with something the user should know (a storage location Unavailable). */
  warning?: string;
}

const who = (client: KubeClient) => client.target.impersonate.user ?? client.target.user ?? 'the current user';
const rbacHint = 'kubectl vw rbac COMMAND [its flags] prints the Roles and ClusterRoles it needs, to review and apply';

/** A read of the CRDs, the first thing every command does: a 403 is one clear line, not a raw error. */
async function findCrd(client: KubeClient, name: string) {
  try {
    return await client.find(core.crds, name);
  } catch (err) {
    if (!isForbidden(err)) throw err;
    throw new PreflightError(
      `${who(client)} may not get customresourcedefinitions.apiextensions.k8s.io (context ${client.target.context}): every command reads the operator's CRDs first; nothing was changed`,
      rbacHint,
    );
  }
}

/** The CRDs may be read (whether or not they are there: purge and status also run once they are gone). */
export async function requireOperatorCrdsReadable(client: KubeClient) {
  await findCrd(client, operatorCrds[0]);
}

/** The operator's CRDs must exist, else nothing this suite does makes sense on this cluster. */
export async function requireOperatorCrds(client: KubeClient, crds: readonly string[] = operatorCrds) {
  const missing: string[] = [];
  await Promise.all(
    crds.map(async (name) => {
      if (!(await findCrd(client, name))) missing.push(name);
    }),
  );
  if (missing.length) {
    throw new PreflightError(
      `vworkspace-operator CRDs not found in context ${client.target.context}: is the operator installed? (missing: ${missing.sort().join(', ')})`,
      'check the context (--context), or list CRDs with: kubectl get crd | grep vworkspace',
    );
  }
}

/** Checks, before any change, that the caller may do everything the command needs. */
export async function requireAccess(client: KubeClient, checks: AccessCheck[]) {
  const denied = await deniedAccess(client, checks);
  if (denied.length) {
    throw new PreflightError(
      `${who(client)} may not ${denied.map(describeAccess).join('; ')} (context ${client.target.context}); nothing was changed`,
      rbacHint,
    );
  }
}

/** An explicitly named namespace must exist: a misspelt -n must not look like "nothing to do". */
export async function requireNamespace(client: KubeClient, namespace: string) {
  try {
    await client.get(core.namespaces, namespace);
  } catch (err) {
    if (isNotFound(err)) {
      throw new UsageError(
        `namespace "${namespace}" not found in context ${client.target.context}`,
        'check -n; list them with: kubectl get namespaces',
      );
    }
    // A user allowed to work in a namespace may still not get namespaces: that is not a refusal.
    if (!isForbidden(err)) throw err;
  }
}
