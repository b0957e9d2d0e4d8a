import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type Seen, startForwardProxy } from './forward-proxy';
import { kubectlOk } from '../support/kube-env';
import { clientFor, type WorldClient } from '../support/sandbox';
import { type RunResult, vw } from './plugins';

// Least privilege, end to end: a ServiceAccount bound to exactly what `kubectl vw rbac` prints for
// a command, and one more per rule, each with that one verb taken away. Every run goes through a
// proxy that passes the ServiceAccount's own token on and records who wrote what.

export const lpNamespace = 'vw-least-privilege';

interface PolicyRule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}

interface RbacObject {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: PolicyRule[];
  roleRef?: { name: string };
  subjects?: { kind: string; name: string; namespace?: string }[];
}

/** One verb of one rule: what a removal case takes away. */
export interface Removal {
  kind: string;
  namespace?: string;
  group: string;
  resource: string;
  verb: string;
}

export class LeastPrivilege {
  private constructor(
    private readonly adminKubeconfig: string,
    private readonly kube: WorldClient,
    private readonly proxy: Awaited<ReturnType<typeof startForwardProxy>>,
    private readonly ca: string,
  ) {}

  /** pki: the control plane's (its CA, and the API server's serving pair the proxy serves with). */
  static async start(adminKubeconfig: string, pki: string) {
    await kubectlOk(['create', 'namespace', lpNamespace], { kubeconfig: adminKubeconfig }).catch(() => undefined);
    const proxy = await startForwardProxy(adminKubeconfig, undefined, {
      passCredentials: true,
      tls: { cert: join(pki, 'apiserver.crt'), key: join(pki, 'apiserver.key') },
    });
    return new LeastPrivilege(adminKubeconfig, clientFor(adminKubeconfig), proxy, join(pki, 'ca.crt'));
  }

  async stop() {
    this.kube.close();
    await this.proxy.stop();
  }

  /** What `kubectl vw rbac ARGS` prints (as JSON) for ServiceAccount NAME, asked as the admin. */
  async printed(args: string[], name: string): Promise<RbacObject[]> {
    const r = await vw(
      ['rbac', ...args, '--serviceaccount', `${lpNamespace}:${name}`, '--role-name', name, '-o', 'json'],
      {
        kubeconfig: this.adminKubeconfig,
      },
    );
    if (r.exitCode !== 0) throw new Error(`kubectl vw rbac ${args.join(' ')} exited ${r.exitCode}: ${r.stderr}`);
    return JSON.parse(r.stdout).items;
  }

  /** Every verb of every rule the objects grant. */
  static removals(objects: RbacObject[]): Removal[] {
    return objects.flatMap((o) =>
      (o.rules ?? []).flatMap((rule) =>
        rule.verbs.map((verb) => ({
          kind: o.kind,
          namespace: o.metadata.namespace,
          group: rule.apiGroups[0] ?? '',
          resource: rule.resources[0] ?? '',
          verb,
        })),
      ),
    );
  }

  /** The objects renamed for another subject, with one verb taken away. */
  static variant(objects: RbacObject[], from: string, to: string, removal?: Removal): RbacObject[] {
    return objects.map((o) => {
      const copy = JSON.parse(JSON.stringify(o).replaceAll(from, to)) as RbacObject;
      if (removal && o.kind === removal.kind && o.metadata.namespace === removal.namespace)
        copy.rules = (copy.rules ?? [])
          .map((r) =>
            r.apiGroups[0] === removal.group && r.resources[0] === removal.resource
              ? { ...r, verbs: r.verbs.filter((v) => v !== removal.verb) }
              : r,
          )
          .filter((r) => r.verbs.length);
      return copy;
    });
  }

  /**
   * Creates ServiceAccounts and binds each to its objects; returns a kubeconfig per account,
   * through the proxy with the account's own token. Waits until RBAC grants what it should.
   */
  async grant(
    accounts: { name: string; objects: RbacObject[] }[],
  ): Promise<Map<string, { kubeconfig: string; token: string }>> {
    const items = [
      ...accounts.map((a) => ({
        apiVersion: 'v1',
        kind: 'ServiceAccount',
        metadata: { name: a.name, namespace: lpNamespace },
      })),
      ...accounts.flatMap((a) => a.objects.map((o) => ({ apiVersion: 'rbac.authorization.k8s.io/v1', ...o }))),
    ];
    await kubectlOk(['apply', '-f', '-'], {
      kubeconfig: this.adminKubeconfig,
      input: { apiVersion: 'v1', kind: 'List', items },
    });
    const out = new Map<string, { kubeconfig: string; token: string }>();
    for (const a of accounts) {
      const tr = await this.kube.request<{ status: { token: string } }>(
        'POST',
        `/api/v1/namespaces/${lpNamespace}/serviceaccounts/${a.name}/token`,
        { body: { apiVersion: 'authentication.k8s.io/v1', kind: 'TokenRequest', spec: { expirationSeconds: 7200 } } },
      );
      const token = tr.status.token;
      const kubeconfig = join(tmpdir(), `vw-lp-${a.name}.kubeconfig`);
      const server = (await this.proxyServer()) as string;
      writeFileSync(
        kubeconfig,
        `apiVersion: v1\nkind: Config\nclusters:\n- name: lp\n  cluster:\n    server: ${server}\n    certificate-authority: ${this.ca}\nusers:\n- name: ${a.name}\n  user:\n    token: ${token}\ncontexts:\n- name: lp\n  context: {cluster: lp, user: ${a.name}, namespace: default}\ncurrent-context: lp\n`,
      );
      out.set(a.name, { kubeconfig, token });
    }
    await Promise.all(accounts.map((a) => this.bound(a.name, a.objects)));
    return out;
  }

  private async proxyServer() {
    const text = (await import('node:fs')).readFileSync(this.proxy.kubeconfig, 'utf8');
    return /server: (\S+)/.exec(text)?.[1];
  }

  /** RBAC's caches have the bindings: a SubjectAccessReview for one verb each object grants says yes. */
  private async bound(name: string, objects: RbacObject[]) {
    const user = `system:serviceaccount:${lpNamespace}:${name}`;
    const probes = objects.filter((o) => o.rules?.[0]?.verbs[0]);
    for (let attempt = 0; attempt < 100; attempt++) {
      const answers = await Promise.all(
        probes.map((o) => {
          const rule = o.rules?.[0] as PolicyRule;
          return this.kube.request<{ status: { allowed?: boolean } }>(
            'POST',
            '/apis/authorization.k8s.io/v1/subjectaccessreviews',
            {
              body: {
                apiVersion: 'authorization.k8s.io/v1',
                kind: 'SubjectAccessReview',
                spec: {
                  user,
                  groups: ['system:serviceaccounts', `system:serviceaccounts:${lpNamespace}`, 'system:authenticated'],
                  resourceAttributes: {
                    verb: rule.verbs[0],
                    group: rule.apiGroups[0],
                    resource: rule.resources[0],
                    namespace: o.metadata.namespace,
                  },
                },
              },
            },
          );
        }),
      );
      if (answers.every((a) => a.status.allowed)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`RBAC never granted ${user} what it was bound to`);
  }

  /** What a run as this account sent the API server, by its token. */
  requestsOf(token: string, from = 0): Seen[] {
    return this.proxy.log.slice(from).filter((s) => s.token === token);
  }

  get logLength() {
    return this.proxy.log.length;
  }
}

/** A request that changes something: anything but reads and access reviews (questions, not changes). */
export const isWrite = (s: Seen) => s.method !== 'GET' && !s.path.startsWith('/apis/authorization.k8s.io/');

export type { RunResult };
