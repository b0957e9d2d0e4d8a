import yaml from 'js-yaml';
import type { Grants, Rule } from '../../steps/needs';
import type { IO } from '../io';

/** Who the bindings grant the roles to. */
export interface Subject {
  kind: 'ServiceAccount' | 'User' | 'Group';
  name: string;
  /** A ServiceAccount's namespace. */
  namespace?: string;
}

const rbacGroup = 'rbac.authorization.k8s.io';
const rbacApiVersion = `${rbacGroup}/v1`;
const labels = { 'app.kubernetes.io/managed-by': 'kubectl-vw' };

const subjectOf = (s: Subject) =>
  s.kind === 'ServiceAccount'
    ? { kind: s.kind, name: s.name, namespace: s.namespace }
    : { apiGroup: rbacGroup, kind: s.kind, name: s.name };

const bindingName = (role: string, s: Subject) =>
  `${role}:${s.kind === 'ServiceAccount' ? `${s.namespace}:` : ''}${s.name}`.toLowerCase();

const policyRules = (rules: Rule[]) =>
  rules.map((r) => ({ apiGroups: [r.apiGroup], resources: [r.resource], verbs: r.verbs }));

/** The ClusterRole, the Roles (one per namespace) and, with a subject, their bindings, as API objects. */
export function rbacObjects(grants: Grants, name: string, subject?: Subject): Record<string, unknown>[] {
  const objects: Record<string, unknown>[] = [];
  const bind = (kind: 'ClusterRoleBinding' | 'RoleBinding', roleKind: string, namespace?: string) =>
    subject &&
    objects.push({
      apiVersion: rbacApiVersion,
      kind,
      metadata: { name: bindingName(name, subject), ...(namespace ? { namespace } : {}), labels },
      roleRef: { apiGroup: rbacGroup, kind: roleKind, name },
      subjects: [subjectOf(subject)],
    });
  if (grants.cluster.length) {
    objects.push({
      apiVersion: rbacApiVersion,
      kind: 'ClusterRole',
      metadata: { name, labels },
      rules: policyRules(grants.cluster),
    });
    bind('ClusterRoleBinding', 'ClusterRole');
  }
  for (const [namespace, rules] of grants.namespaces) {
    objects.push({
      apiVersion: rbacApiVersion,
      kind: 'Role',
      metadata: { name, namespace, labels },
      rules: policyRules(rules),
    });
    bind('RoleBinding', 'Role', namespace);
  }
  return objects;
}

const flow = (xs: string[]) => `[${xs.map((x) => JSON.stringify(x)).join(', ')}]`;

/** One document, its rules written by hand so each carries a comment saying why it is needed. */
function documentYaml(obj: Record<string, unknown>, rules: Rule[] | undefined): string {
  const { rules: _, ...rest } = obj;
  const head = yaml.dump(rest, { lineWidth: -1, noRefs: true }).trimEnd();
  if (!rules) return head;
  const body = rules.flatMap((r) => [
    `  # ${r.why.join('; ')}`,
    `  - apiGroups: ${flow([r.apiGroup])}`,
    `    resources: ${flow([r.resource])}`,
    `    verbs: ${flow(r.verbs)}`,
  ]);
  return [head, 'rules:', ...body].join('\n');
}

/** YAML to review and `kubectl apply -f -`, or a List as JSON. */
export function printRbac(
  io: IO,
  format: 'yaml' | 'json',
  header: string[],
  grants: Grants,
  name: string,
  subject?: Subject,
) {
  const objects = rbacObjects(grants, name, subject);
  if (format === 'json') {
    io.out(JSON.stringify({ apiVersion: 'v1', kind: 'List', items: objects }, null, 2));
    return;
  }
  const rulesOf = (o: Record<string, unknown>) => {
    const meta = o.metadata as { namespace?: string };
    if (o.kind === 'ClusterRole') return grants.cluster;
    if (o.kind === 'Role') return grants.namespaces.get(meta.namespace ?? '');
    return undefined;
  };
  const docs = objects.map((o) => documentYaml(o, rulesOf(o)));
  io.out([...header.map((h) => `# ${h}`), ...docs.flatMap((d) => ['---', d])].join('\n'));
}
