import { readFileSync } from 'node:fs';
import { UsageError } from '../errors';
import { ApiError } from '../kube/api-error';
import type { KubeClient } from '../kube/client';
import { requireNamespace } from '../preflight';
import { resources } from '../operator/names';
import { type ApplicationInstance, applicationInstanceSchema, parseObject } from '../operator/schemas';

/** Which ApplicationInstances a command acts on, as the user asked for them. */
export interface Selection {
  names: string[];
  namespace: string;
  /** Every namespace (-A, or --all). */
  allNamespaces: boolean;
  selector?: string;
}

export interface SelectionArgs {
  names?: string[];
  all?: boolean;
  'all-namespaces'?: boolean;
  selector?: string;
  filename?: string;
}

/** Accepts `name`, `applicationinstance/name`, `applicationinstance.apps.vworkspace.io/name`, `ai/name`. */
export function parseTargetName(text: string): string {
  const slash = text.lastIndexOf('/');
  if (slash < 0) return text;
  const kind = text.slice(0, slash).toLowerCase();
  const known = [
    'applicationinstance',
    'applicationinstances',
    'ai',
    'applicationinstance.apps.vworkspace.io',
    'applicationinstances.apps.vworkspace.io',
  ];
  if (!known.includes(kind)) {
    throw new UsageError(
      `"${text}" is not an ApplicationInstance`,
      'names look like NAME or applicationinstance.apps.vworkspace.io/NAME',
    );
  }
  return text.slice(slash + 1);
}

export function readNamesFile(filename: string, stdin: () => string = () => readFileSync(0, 'utf8')): string[] {
  const text = filename === '-' ? stdin() : readFileSync(filename, 'utf8');
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map(parseTargetName);
}

/**
 * --all alone means every instance in every namespace (the procedure's loops use -A); with an
 * explicit -n it keeps kubectl's meaning, every instance in that namespace.
 */
export function selectionFromArgs(args: SelectionArgs, defaultNamespace: string, namespaceExplicit = false): Selection {
  const names = [...(args.names ?? []).map(parseTargetName)];
  if (args.filename) names.push(...readNamesFile(args.filename));
  const allNamespaces = Boolean(args['all-namespaces'] || (args.all && !namespaceExplicit));
  const everyInNamespace = Boolean(args.all && namespaceExplicit);
  if (args.all && names.length) throw new UsageError('--all and names cannot be combined', 'pass names, or --all');
  if (!names.length && !allNamespaces && !everyInNamespace && !args.selector && !args.filename) {
    throw new UsageError('no ApplicationInstances selected', 'pass names, -l SELECTOR, -A (every namespace) or --all');
  }
  if (args.filename && !names.length)
    throw new UsageError(`no names read from ${args.filename === '-' ? 'stdin' : args.filename}`);
  return { names: [...new Set(names)], namespace: defaultNamespace, allNamespaces, selector: args.selector };
}

function slimInstance(ai: ApplicationInstance): ApplicationInstance {
  const { name, namespace, resourceVersion, annotations, labels } = ai.metadata;
  return {
    metadata: { name, namespace, resourceVersion, annotations, labels },
    spec: { backup: ai.spec.backup },
    status: { helmReleaseRef: ai.status?.helmReleaseRef, conditions: ai.status?.conditions },
  };
}

export interface SelectedInstances {
  instances: ApplicationInstance[];
  /** Objects that exist but do not fit the operator's schema: reported, never acted on. */
  invalid: { name: string; error: string }[];
}

/**
 * Lists what a selection names. Named objects that do not exist are an error before anything
 * changes: a misspelt name must never turn into "nothing to do". With -A, a bare name must be
 * unique across namespaces.
 */
export async function selectInstances(client: KubeClient, sel: Selection): Promise<SelectedInstances> {
  if (!sel.allNamespaces) await requireNamespace(client, sel.namespace);
  const invalid: SelectedInstances['invalid'] = [];
  const instances: ApplicationInstance[] = [];
  const wanted = new Set(sel.names);
  try {
    for await (const raw of client.listItems(resources.applicationInstances, {
      namespace: sel.allNamespaces ? undefined : sel.namespace,
      labelSelector: sel.selector,
    })) {
      if (wanted.size && !wanted.has(raw.metadata.name)) continue;
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
  if (wanted.size) {
    const found = new Map<string, string[]>();
    for (const i of instances)
      found.set(i.metadata.name, [...(found.get(i.metadata.name) ?? []), i.metadata.namespace ?? '']);
    for (const inv of invalid) found.set(inv.name.split('/').pop() ?? inv.name, ['?']);
    const missing = sel.names.filter((n) => !found.has(n));
    if (missing.length) {
      const where = sel.allNamespaces ? 'any namespace' : `namespace ${sel.namespace}`;
      throw new UsageError(
        `ApplicationInstance${missing.length > 1 ? 's' : ''} not found in ${where}${sel.selector ? ` matching ${sel.selector}` : ''}: ${missing.join(', ')}`,
        'nothing was changed; check the names with: kubectl get applicationinstances -A',
      );
    }
    const ambiguous = [...found].filter(([, nss]) => nss.length > 1);
    if (ambiguous.length) {
      throw new UsageError(
        `ambiguous name${ambiguous.length > 1 ? 's' : ''} across namespaces: ${ambiguous.map(([n, nss]) => `${n} (in ${nss.join(', ')})`).join('; ')}`,
        'pass -n NAMESPACE instead of -A',
      );
    }
  }
  return { instances, invalid };
}
