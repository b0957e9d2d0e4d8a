import yaml from 'js-yaml';
import { UsageError } from '../errors';
import { ApiError } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import { requireNamespaceName } from '../kube/namespace-name';
import type { KubeObject } from '../kube/resources';
import { markerFields } from './markers';
import { requireNamespace } from './preflight';
import { resources } from '../operator/names';
import { type ApplicationInstance, applicationInstanceSchema, parseObject } from '../operator/schemas';

/** One named target: a name, with the namespace when the line gave one. */
export interface TargetName {
  namespace?: string;
  name: string;
}

/** Which ApplicationInstances a command acts on, as the user asked for them. */
export interface Selection {
  names: TargetName[];
  namespace: string;
  /** Every namespace (-A, or --all). */
  allNamespaces: boolean;
  selector?: string;
}

/** The selection flags as given, before the kubeconfig says what the default namespace is. */
export interface SelectionInput {
  names: string[];
  all: boolean;
  allNamespaces: boolean;
  selector?: string;
  /** Read names from this file, or "-" for stdin. */
  filename?: string;
  /** With no names, selector, -A or --all: every instance in every namespace (backup), or refuse. */
  emptyMeansAll?: boolean;
}

const instanceKinds = new Set([
  'applicationinstance',
  'applicationinstances',
  'ai',
  'applicationinstance.apps.vworkspace.io',
  'applicationinstances.apps.vworkspace.io',
]);

/**
 * Accepts `name`, `KIND/name` (`kubectl get -o name` prints applicationinstance.apps.vworkspace.io/name),
 * `namespace/name` and `namespace/KIND/name`, so names can be chained across namespaces.
 */
export function parseTargetName(text: string): TargetName {
  const parts = text.split('/');
  const bad = () =>
    new UsageError(
      `"${text}" is not an ApplicationInstance name`,
      'names look like NAME, NAMESPACE/NAME or applicationinstance.apps.vworkspace.io/NAME',
    );
  if (parts.some((p) => !p) || parts.length > 3) throw bad();
  const [a, b, c] = parts as [string, string?, string?];
  if (parts.length === 1) return { name: a };
  if (parts.length === 3) {
    if (!instanceKinds.has((b as string).toLowerCase())) throw bad();
    return { namespace: requireNamespaceName(a), name: c as string };
  }
  if (instanceKinds.has(a.toLowerCase())) return { name: b as string };
  if (a.includes('.')) throw bad(); // some other kind.group/name
  return { namespace: requireNamespaceName(a), name: b as string };
}

/**
 * What -f reads: names, one per line (`kubectl get -o name`, NAMESPACE/NAME), or whole -o json|yaml
 * documents (any kubectl vw command's, a `kubectl get` List or object), taking each application's
 * namespace with its name. A name never holds ':' or '{', so a document cannot pass for names.
 */
export function parseNamesText(text: string): TargetName[] {
  if (looksLikeDocument(text)) return namesInDocuments(text);
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map(parseTargetName);
}

const looksLikeDocument = (text: string) => /^\s*[{[]/.test(text) || /^(---|[\w.-]+:)/m.test(text);

function loadDocuments(text: string): unknown[] {
  try {
    return /^\s*[{[]/.test(text) ? [JSON.parse(text)] : yaml.loadAll(text);
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    throw new UsageError(
      `cannot read the names: not a JSON or YAML document (${reason})`,
      'give -f the -o json|yaml of a kubectl vw or kubectl get command, or names one per line',
    );
  }
}

type Item = {
  kind?: string;
  name?: string;
  namespace?: string;
  application?: string;
  metadata?: { name?: string; namespace?: string };
  spec?: { targetRef?: { kind?: string; name?: string } };
  items?: unknown;
};

/** The application an item names: an ApplicationInstance, a backup record's, an Operation's target. */
function applicationOf(item: Item): TargetName | undefined {
  const namespace = item.namespace ?? item.metadata?.namespace;
  const name =
    item.application ??
    (item.kind === 'ApplicationInstance' ? (item.name ?? item.metadata?.name) : undefined) ??
    (item.kind === 'Operation' && item.spec?.targetRef?.kind === 'ApplicationInstance'
      ? item.spec.targetRef.name
      : undefined);
  if (typeof name !== 'string' || !name) return undefined;
  return typeof namespace === 'string' && namespace ? { namespace: requireNamespaceName(namespace), name } : { name };
}

function namesInDocuments(text: string): TargetName[] {
  const out: TargetName[] = [];
  const visit = (doc: unknown) => {
    if (!doc || typeof doc !== 'object') return;
    if (Array.isArray(doc)) return doc.forEach(visit);
    const item = doc as Item;
    if (Array.isArray(item.items)) return item.items.forEach(visit);
    const target = applicationOf(item);
    if (target) out.push(target);
  };
  loadDocuments(text).forEach(visit);
  return out;
}

export const targetKey = (t: TargetName) => (t.namespace ? `${t.namespace}/${t.name}` : t.name);

/**
 * --all alone means every instance in every namespace (the procedure's loops use -A); with an
 * explicit -n it keeps kubectl's meaning, every instance in that namespace.
 */
export function resolveSelection(
  input: SelectionInput,
  fromFile: TargetName[],
  defaultNamespace: string,
  namespaceExplicit: boolean,
): Selection {
  const names = [...input.names.map(parseTargetName), ...fromFile];
  if (input.all && names.length) throw new UsageError('--all and names cannot be combined', 'pass names, or --all');
  const nothing = !names.length && !input.all && !input.allNamespaces && !input.selector && !input.filename;
  if (nothing && !input.emptyMeansAll) {
    throw new UsageError('no ApplicationInstances selected', 'pass names, -l SELECTOR, -A (every namespace) or --all');
  }
  if (input.filename && !names.length)
    throw new UsageError(`no names read from ${input.filename === '-' ? 'stdin' : input.filename}`);
  const allNamespaces = input.allNamespaces || (input.all && !namespaceExplicit) || nothing;
  const unique = new Map(names.map((n) => [targetKey(n), n]));
  return { names: [...unique.values()], namespace: defaultNamespace, allNamespaces, selector: input.selector };
}

/** Does the selection reach beyond its namespace (-A, or a name qualified with another namespace)? */
export const selectionScope = (sel: Selection): string | undefined =>
  sel.allNamespaces || sel.names.some((n) => n.namespace && n.namespace !== sel.namespace) ? undefined : sel.namespace;

function slimInstance(ai: ApplicationInstance): ApplicationInstance {
  const { name, namespace, uid, resourceVersion, annotations, labels, creationTimestamp } = ai.metadata;
  const managedFields = markerFields(ai as KubeObject);
  return {
    metadata: { name, namespace, uid, resourceVersion, annotations, labels, creationTimestamp, managedFields },
    spec: { backup: ai.spec.backup },
    status: { helmReleaseRef: ai.status?.helmReleaseRef, conditions: ai.status?.conditions },
  };
}

export interface SelectedInstances {
  instances: ApplicationInstance[];
  /** Objects that exist but do not fit the operator's schema: reported, never acted on. */
  invalid: { name: string; error: string }[];
}

/** Which listed instances a named target matches: a qualified name exactly, a bare one by name. */
function matcher(sel: Selection) {
  if (!sel.names.length) return () => true;
  const qualified = new Set(sel.names.filter((n) => n.namespace).map(targetKey));
  const bare = new Set(sel.names.filter((n) => !n.namespace).map((n) => n.name));
  return (ns: string, name: string) =>
    qualified.has(`${ns}/${name}`) || (bare.has(name) && (sel.allNamespaces || ns === sel.namespace));
}

/** Named objects that do not exist are an error before anything changes; with -A a bare name must be unique. */
function checkNamesFound(sel: Selection, found: { namespace: string; name: string }[]) {
  const where = new Map<string, string[]>();
  for (const f of found) {
    where.set(`${f.namespace}/${f.name}`, [f.namespace]);
    where.set(f.name, [...(where.get(f.name) ?? []), f.namespace]);
  }
  const missing = sel.names.filter((n) => !where.has(n.namespace ? targetKey(n) : n.name)).map(targetKey);
  if (missing.length) {
    const scope = sel.allNamespaces ? 'any namespace' : `namespace ${sel.namespace}`;
    throw new UsageError(
      `ApplicationInstance${missing.length > 1 ? 's' : ''} not found in ${scope}${sel.selector ? ` matching ${sel.selector}` : ''}: ${missing.join(', ')}`,
      'nothing was changed; check the names with: kubectl get applicationinstances -A',
    );
  }
  const ambiguous = sel.names
    .filter((n) => !n.namespace && (where.get(n.name)?.length ?? 0) > 1)
    .map((n) => `${n.name} (in ${where.get(n.name)?.join(', ')})`);
  if (ambiguous.length) {
    throw new UsageError(
      `ambiguous name${ambiguous.length > 1 ? 's' : ''} across namespaces: ${ambiguous.join('; ')}`,
      'pass -n NAMESPACE, or name them as NAMESPACE/NAME',
    );
  }
}

/**
 * Lists what a selection names. Named objects that do not exist are an error before anything
 * changes: a misspelt name must never turn into "nothing to do".
 */
export async function selectInstances(client: KubeClient, sel: Selection): Promise<SelectedInstances> {
  const scope = selectionScope(sel);
  if (scope) await requireNamespace(client, scope);
  const invalid: SelectedInstances['invalid'] = [];
  const instances: ApplicationInstance[] = [];
  const found: { namespace: string; name: string }[] = [];
  const wanted = matcher(sel);
  try {
    for await (const raw of client.listItems(resources.applicationInstances, {
      namespace: scope,
      labelSelector: sel.selector,
    })) {
      const ns = raw.metadata.namespace ?? '';
      if (!wanted(ns, raw.metadata.name)) continue;
      found.push({ namespace: ns, name: raw.metadata.name });
      const parsed = parseObject(applicationInstanceSchema, raw);
      // Keep only what the steps read, so memory follows the page size, not every object's spec.
      if (parsed.ok) instances.push(slimInstance(parsed.value));
      else invalid.push({ name: parsed.name, error: parsed.error });
    }
  } catch (err) {
    if (err instanceof ApiError && err.status === 400 && sel.selector) {
      throw new UsageError(`invalid selector "${sel.selector}": ${err.message}`);
    }
    throw err;
  }
  if (sel.names.length) checkNamesFound(sel, found);
  return { instances, invalid };
}
