import yargs, { type CommandModule } from 'yargs';
import { KubeClient } from '../../lib/kube/client';
import { resolveKubeTarget } from '../../lib/kube/config';
import { core } from '../../lib/kube/resources';
import { resources } from '../../lib/operator/names';

// kubectl (1.26+) completes plugin arguments by running `kubectl_complete-vw ARGS... ''`, which
// comes here as `kubectl-vw __complete ARGS...` (lib/cli/invocation.ts); the answer is one
// candidate per line and a cobra directive last.
const noFileCompletion = 4;

type Step = CommandModule<any, any>;

/** What yargs keeps about a command's options (yargs 17 returns it from getOptions(), untyped). */
interface ParserOptions {
  key: Record<string, boolean>;
  alias: Record<string, string[]>;
  boolean: string[];
  choices: Record<string, readonly string[]>;
  hiddenOptions: string[];
}

/** A step's flags, read from its own yargs builder so completion cannot drift from the parser. */
interface FlagTable {
  flags: string[];
  /** Every spelling (--output, -o) of a flag that takes a value, to its canonical key. */
  valueFlags: Map<string, string>;
  choices: Record<string, readonly string[]>;
}

const spell = (key: string) => (key.length === 1 ? `-${key}` : `--${key}`);
const stepName = (step: Step) => String(step.command).split(' ')[0] as string;

function flagTable(step: Step): FlagTable {
  const y = yargs([]);
  const built = typeof step.builder === 'function' ? step.builder(y) : y.options(step.builder ?? {});
  const o = (built as unknown as { getOptions(): ParserOptions }).getOptions();
  const positionals = new Set([...String(step.command).matchAll(/[[<]([\w-]+)(?:\.\.)?[\]>]/g)].map((m) => m[1]));
  const aliases = new Set(Object.values(o.alias).flat());
  const hidden = new Set(o.hiddenOptions);
  const flags: string[] = [];
  const valueFlags = new Map<string, string>();
  for (const key of Object.keys(o.key)) {
    if (positionals.has(key) || aliases.has(key) || hidden.has(key)) continue;
    const spellings = [key, ...(o.alias[key] ?? [])].map(spell);
    flags.push(...spellings);
    if (!o.boolean.includes(key)) for (const s of spellings) valueFlags.set(s, key);
  }
  return { flags, valueFlags, choices: o.choices };
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

export async function completions(words: string[], commands: Step[]): Promise<string[]> {
  const current = words.at(-1) ?? '';
  const before = words.slice(0, -1);
  const name = before[0];
  if (!name)
    return commands
      .filter((c) => c.describe)
      .map((c) => `${stepName(c)}\t${c.describe}`)
      .filter((c) => c.startsWith(current));
  const step = commands.find((c) => stepName(c) === name);
  if (!step) return [];
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
  const target = (() => {
    try {
      return resolveKubeTarget({
        kubeconfig: flagValue(before, '--kubeconfig'),
        context: valueKey === 'context' ? undefined : flagValue(before, '--context'),
      });
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
  const client = new KubeClient(target, { requestTimeoutMs: 5000, maxAttempts: 1 });
  try {
    if (valueKey === 'namespace') {
      const { items } = await client.list(core.namespaces);
      return items.map((n) => n.metadata.name).filter((n) => n.startsWith(current));
    }
    const kind = namesByStep[name];
    if (!kind) return [];
    const namespace =
      flagValue(before, '-n', '--namespace') ?? (kind === 'clusters' ? 'vworkspace-system' : target.namespace);
    const { items } = await client.list(kind === 'clusters' ? resources.clusters : resources.applicationInstances, {
      namespace,
    });
    return items.map((i) => i.metadata.name).filter((n) => n.startsWith(current));
  } catch {
    return [];
  } finally {
    client.close();
  }
}

/** kubectl_complete-vw: prints one candidate per line, then cobra's directive. */
export async function printCompletions(words: string[], commands: Step[]) {
  const list = await completions(words, commands).catch(() => []);
  process.stdout.write(`${list.join('\n')}${list.length ? '\n' : ''}:${noFileCompletion}\n`);
}
