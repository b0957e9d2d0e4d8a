import type { Deps } from '../deps';
import { core } from '../kube/resources';
import { resources } from '../operator/names';
import { commandName, type VwCommand } from './command';
import { flagTable } from './program';

// kubectl (1.26+) completes plugin arguments by running `kubectl_complete-vw ARGS... ''`, which
// comes here as `kubectl-vw __complete ARGS...` (lib/cli/invocation.ts); the answer is one
// candidate per line and a cobra directive last.
const noFileCompletion = 4;
/** cobra's ShellCompDirectiveDefault: the shell completes file names. */
const fileCompletion = 0;
const fileFlags = new Set(['--plan', '--plan-out']);

/** Whether the word being completed is a file: a plan file, for plan show or --plan/--plan-out. */
export function completesFile(words: string[]): boolean {
  const before = words.slice(0, -1);
  if (fileFlags.has(before.at(-1) ?? '')) return true;
  const current = words.at(-1) ?? '';
  return (
    before[0] === 'plan' &&
    before[1] === 'show' &&
    !current.startsWith('-') &&
    !before.slice(2).some((w) => !w.startsWith('-'))
  );
}

/** The value given to a flag earlier on the line, as `--flag value` or `--flag=value`. */
function flagValue(words: string[], ...names: string[]): string | undefined {
  for (let i = 0; i < words.length; i++) {
    const w = words[i] as string;
    if (names.includes(w) && i + 1 < words.length) return words[i + 1];
    const eq = w.indexOf('=');
    if (eq > 0 && names.includes(w.slice(0, eq))) return w.slice(eq + 1);
  }
  return undefined;
}

// Which objects a step's positional names are, for completing them from the cluster.
const namesByStep: Record<string, 'instances' | 'clusters'> = {
  pause: 'instances',
  resume: 'instances',
  backup: 'instances',
  decommission: 'clusters',
};

export async function completions(words: string[], commands: VwCommand[], deps: Deps): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const name = before[0];
  if (!name)
    return commands
      .filter((c) => c.describe)
      .map((c) => `${commandName(c)}\t${c.describe}`)
      .filter((c) => c.startsWith(current));
  const step = commands.find((c) => commandName(c) === name);
  if (!step) return [];
  if (step.nested) return nestedCompletions(words, step.nested, deps);
  const table = flagTable(step);
  const eq = current.indexOf('=');
  if (current.startsWith('-') && eq > 0) {
    // --output=js: complete the value, keeping the flag in the word as the shell expects.
    const flag = current.slice(0, eq);
    const key = table.valueFlags.get(flag);
    return (key ? (table.choices[key] ?? []) : []).map((v) => `${flag}=${v}`).filter((c) => c.startsWith(current));
  }
  if (current.startsWith('-')) return table.flags.filter((f) => f.startsWith(current));
  const previous = before.at(-1) ?? '';
  const valueKey = table.valueFlags.get(previous);
  if (valueKey && table.choices[valueKey]) return table.choices[valueKey].filter((v) => v.startsWith(current));
  if (valueKey && !['namespace', 'context'].includes(valueKey)) return [];
  if (name === 'plan') return before.length === 1 ? ['show'].filter((v) => v.startsWith(current)) : [];
  return namesFromCluster(name, before, current, valueKey, deps);
}

/**
 * `kubectl vw rbac COMMAND ...`: the commands first, then that command's flags and values plus
 * rbac's own, as if COMMAND were typed alone.
 */
function nestedCompletions(words: string[], nested: NonNullable<VwCommand['nested']>, deps: Deps) {
  const current = words.at(-1) ?? '';
  const target = words.length > 2 ? nested.targets[words[1] as string] : undefined;
  if (!target) {
    if (words.length > 2) return Promise.resolve([]);
    return Promise.resolve(
      Object.entries(nested.targets)
        .map(([name, c]) => `${name}\t${c.describe}`)
        .filter((c) => c.startsWith(current)),
    );
  }
  const merged: VwCommand = { ...target, builder: (y) => nested.flags(target.builder(y)) };
  return completions(words.slice(1), [merged], deps);
}

/**
 * Contexts, namespaces and object names: the only candidates that need the kubeconfig and the
 * client, so only they load them (flags and steps complete without).
 */
async function namesFromCluster(
  name: string,
  before: string[],
  current: string,
  valueKey: string | undefined,
  deps: Deps,
): Promise<string[]> {
  const [{ resolveKubeTarget }, { KubeClient }] = await Promise.all([
    import('../kube/config'),
    import('../kube/client'),
  ]);
  const target = (() => {
    try {
      return resolveKubeTarget(
        {
          kubeconfig: flagValue(before, '--kubeconfig'),
          context: valueKey === 'context' ? undefined : flagValue(before, '--context'),
          requestTimeoutMs: 5000,
        },
        deps.env.vars,
      );
    } catch {
      return undefined;
    }
  })();
  if (!target) return [];
  if (valueKey === 'context')
    return target.kubeConfig
      .getContexts()
      .map((c) => c.name)
      .filter((n) => n.startsWith(current));
  const client = new KubeClient(target, { maxAttempts: 1 });
  try {
    if (valueKey === 'namespace') {
      const { items } = await client.list(core.namespaces, { metadataOnly: true });
      return items.map((n) => n.metadata.name).filter((n) => n.startsWith(current));
    }
    const kind = namesByStep[name];
    if (!kind) return [];
    const namespace =
      flagValue(before, '-n', '--namespace') ?? (kind === 'clusters' ? 'vworkspace-system' : target.namespace);
    const { items } = await client.list(kind === 'clusters' ? resources.clusters : resources.applicationInstances, {
      namespace,
      metadataOnly: true,
    });
    return items.map((i) => i.metadata.name).filter((n) => n.startsWith(current));
  } catch {
    return [];
  } finally {
    client.close();
  }
}

/** kubectl_complete-vw: prints one candidate per line, then cobra's directive. */
export async function printCompletions(words: string[], commands: VwCommand[], deps: Deps): Promise<number> {
  const list = await completions(words, commands, deps).catch(() => []);
  for (const c of list) deps.io.out(c);
  deps.io.out(`:${completesFile(words) ? fileCompletion : noFileCompletion}`);
  return 0;
}
